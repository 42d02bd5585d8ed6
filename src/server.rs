//! Starting and stopping a server. The listener is bound first, so port 0 works and the
//! issuer can be derived from the real address before anything else is built.

use crate::clock::{Clock, ServerClock, SystemClock};
use crate::config::{Config, ConsentMode};
use crate::http::serve::{self, ConnectionLimits};
use crate::oauth::client::ClientSource;
use crate::oauth::issuer::{InvalidIssuer, Issuer};
use crate::services::declarations::{self, Applied, DeclarationError};
use crate::services::signing_keys::{self, SigningKeyError};
use crate::services::sweeper::Sweeper;
use crate::services::wal_checkpointer;
use crate::state::{App, AppState};
use crate::store::{ServerSetting, Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Issuer(#[from] InvalidIssuer),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot load the signing keys: {0}")]
    Keys(#[from] SigningKeyError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot apply the configured clients: {0}")]
    Declarations(#[from] DeclarationError),
}

/// A bound, ready server: the database is migrated and the keys are loaded.
pub struct Server {
    listener: TcpListener,
    /// The default tenant.
    app: AppState,
    /// The other tenants (`[[tenants]]`), in the order declared.
    tenants: Vec<AppState>,
}

/// Options for [`Server::start`] beyond the configuration.
#[derive(Default)]
pub struct Launch {
    /// A listener bound by the caller; otherwise `config.bind` is bound.
    pub listener: Option<TcpListener>,
    /// The clock; the system clock by default.
    pub clock: Option<Arc<dyn Clock>>,
}

impl Server {
    /// Binds `config.bind` and prepares everything. Equivalent to
    /// `Server::start(config, Launch::default())`.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        Self::start(config, Launch::default()).await
    }

    pub async fn start(config: Config, launch: Launch) -> Result<Self, StartError> {
        let listener = match launch.listener {
            Some(listener) => listener,
            None => TcpListener::bind(config.bind)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.bind,
                    source,
                })?,
        };
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let issuer = match &config.issuer {
            Some(issuer) => Issuer::parse(issuer, config.allow_insecure_issuer)?,
            None => Issuer::parse(&default_issuer(addr), false)?,
        };
        let mut problems: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
        // The listener may have been bound by the caller, elsewhere than `config.bind`.
        if config.cimd.allow_http_loopback {
            if let Some(why) = crate::config::validate::loopback_only_problem(addr) {
                problems.push(format!("cimd.allow_http_loopback: {why}"));
            }
        }
        if addr != config.bind {
            if let Some(why) = crate::config::validate::console_problem(&config, addr) {
                problems.push(format!("console.password: {why}"));
            }
        }
        if !problems.is_empty() {
            problems.dedup();
            return Err(StartError::Config(problems.join("; ")));
        }
        let base_clock = launch.clock.unwrap_or_else(|| Arc::new(SystemClock));
        // Each tenant (issue 17) is an issuer of its own: its own App, store, keys and
        // clock, served under its path beside the default tenant.
        let tenant_configs: Vec<Config> =
            config.tenants.iter().map(|t| config.effective(t)).collect();
        let allow_insecure_issuer = config.allow_insecure_issuer;
        let app = open_app(config, issuer.clone(), Arc::clone(&base_clock), addr).await?;
        let mut tenants = Vec::with_capacity(tenant_configs.len());
        for tenant_config in tenant_configs {
            let tenant_issuer = Issuer::parse(
                &format!("{}{}", issuer.as_str(), tenant_config.tenant_path()),
                allow_insecure_issuer,
            )?;
            tenants
                .push(open_app(tenant_config, tenant_issuer, Arc::clone(&base_clock), addr).await?);
        }
        Ok(Server {
            listener,
            app,
            tenants,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn issuer(&self) -> &str {
        self.app.issuer.as_str()
    }

    /// The shared state, for callers that embed the server (tests, the fixture).
    pub fn app(&self) -> AppState {
        Arc::clone(&self.app)
    }

    /// The other tenants (`[[tenants]]`), in the order declared.
    pub fn tenants(&self) -> &[AppState] {
        &self.tenants
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let apps: Vec<AppState> = std::iter::once(Arc::clone(&self.app))
            .chain(self.tenants.iter().cloned())
            .collect();
        let router = crate::http::tenants_router(&apps);
        let mut background = Vec::new();
        for app in &apps {
            background.push(tokio::spawn(maintain_keys(Arc::clone(app))));
            background.push(tokio::spawn(sweep(Arc::clone(app))));
            background.push(tokio::spawn(wal_checkpointer::run(app.store.clone())));
            let app = Arc::clone(app);
            tokio::spawn(async move { app.users.hash_clear_passwords().await });
        }
        let closing = apps.clone();
        let shutdown = async move {
            shutdown.await;
            // Graceful shutdown waits for every response to end, event streams included.
            for app in &closing {
                app.closing.send_replace(true);
            }
        };
        let limits = ConnectionLimits {
            header_read_timeout: self.app.config.limits.header_read_timeout,
            max_connections: max_connections(self.app.config.limits.max_connections),
        };
        let result = serve::serve(self.listener, router, limits, shutdown).await;
        for task in background {
            task.abort();
        }
        for app in &apps {
            app.events.flush().await;
            app.store.close().await;
        }
        result
    }
}

/// Opens the store of one tenant (the default one or another), loads its keys, applies its
/// declarations and builds its [`App`].
async fn open_app(
    config: Config,
    issuer: Issuer,
    base_clock: Arc<dyn Clock>,
    addr: SocketAddr,
) -> Result<AppState, StartError> {
    // The control API moves this clock forward; everything reads it.
    let clock = Arc::new(ServerClock::new(base_clock));
    let tenant = config.tenant.as_ref().map(|t| t.name.as_str());
    let store = Store::connect_tenant(&config.database_url, tenant).await?;
    store.migrate().await?;
    // For `tollgate token`, `tollgate keys` and `tollgate device`, which may run with
    // nothing but the database URL.
    let grace = config.key_grace_period().as_secs().to_string();
    let reload = config.keys.reload_interval.as_millis().to_string();
    let subjects: Vec<String> = config.all_users().into_iter().map(|u| u.subject).collect();
    let users = serde_json::to_string(&subjects).unwrap_or_default();
    for (setting, value) in [
        (ServerSetting::Issuer, issuer.as_str()),
        (ServerSetting::KeyGracePeriod, &grace),
        (ServerSetting::KeyReloadInterval, &reload),
        (ServerSetting::Users, &users),
    ] {
        store
            .record_server_setting(setting, value, clock.now())
            .await?;
    }
    let keys = signing_keys::load_or_create(&store, clock.now(), config.key_grace_period()).await?;
    let (applied, secret_check) = declarations::apply(&store, &config, clock.now()).await?;
    if applied != Applied::default() {
        tracing::info!(
            written = applied.written,
            removed = applied.removed,
            "applied the clients of the configuration"
        );
    }
    warn_about_undeclared_approvers(&store, &config).await?;
    // Argon2 verifications of declared secrets run after start-up (see `services::declarations`).
    let declared_secrets = secret_check.spawn(store.clone());
    let app = Arc::new(App::new(
        config,
        issuer,
        store,
        keys,
        clock,
        declared_secrets,
        addr,
    ));
    Ok(app)
}

/// Warns about clients added with `tollgate clients add --approve-as` (checked then against
/// the users that command was given) whose user this server does not declare: their
/// automatic approvals are refused (`oauth::authorize::auto_approver`), and the log should
/// say so before the first one is. Declared clients need no such check: `validate` refuses
/// to start with one.
async fn warn_about_undeclared_approvers(store: &Store, config: &Config) -> Result<(), StoreError> {
    let users = config.all_users();
    for client in store.clients_from(ClientSource::Cli).await? {
        let Some(user) = &client.policy.user else {
            continue;
        };
        let auto = client.policy.consent.unwrap_or(config.consent.mode) == ConsentMode::Auto;
        if auto && !users.iter().any(|u| &u.subject == user) {
            tracing::warn!(
                "client '{}' approves automatically as '{user}', but this server declares no \
                 user '{user}': its authorization requests will be refused until the user is \
                 declared",
                client.client_id
            );
        }
    }
    Ok(())
}

/// Keeps the key ring current: picks up rotations made by other instances or the CLI,
/// drops keys whose grace period ended, and rotates when the active key is older than
/// `keys.rotate_every`. Failures are logged and retried at the next tick.
async fn maintain_keys(app: AppState) {
    let config = &app.config;
    let grace = config.key_grace_period();
    let mut ticks =
        tokio::time::interval(config.keys.reload_interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = app.now();
        if let Some(every) = config.keys.rotate_every {
            let current = app.keys.current();
            let age = now - current.active_since;
            if age >= i64::try_from(every.as_secs()).unwrap_or(i64::MAX) {
                match signing_keys::rotate(&app.keys, &app.store, now).await {
                    Ok(Some(kid)) => {
                        tracing::info!(%kid, "rotated the signing key (keys.rotate_every)");
                        app.events.record(signing_keys::rotation_event(
                            current.active.kid(),
                            &kid,
                            "keys.rotate_every",
                            app.events.now_ms(),
                        ));
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(%error, "automatic key rotation failed"),
                }
            }
        }
        if let Err(error) = signing_keys::reload(&app.keys, &app.store, now, grace).await {
            tracing::error!(%error, "reloading the signing keys failed");
        }
    }
}

/// Runs the sweeper (`services::sweeper`) every `sweep.interval`, the first time one
/// interval after start.
async fn sweep(app: AppState) {
    let sweeper = Sweeper::new(
        app.store.clone(),
        app.config.sweep.clone(),
        app.config.events.retention,
    );
    let mut ticks = tokio::time::interval(app.config.sweep.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let swept = sweeper.sweep(app.now(), app.events.now_ms()).await;
        if swept.rows() > 0 {
            tracing::debug!(?swept, "swept expired rows");
        }
        if let Some(size) = swept.wal_truncated_from {
            tracing::info!(
                wal_bytes = size,
                "checkpointed and truncated the SQLite write-ahead log (sweep.wal_checkpoint_mib)"
            );
        }
    }
}

/// The configured connection limit, or (0) one below the open-file limit, which is raised
/// to its hard limit first where the system allows: the database, the log and the files
/// the server opens keep 128 descriptors.
fn max_connections(configured: usize) -> usize {
    let open_files = raise_open_file_limit();
    if configured > 0 {
        return configured;
    }
    let auto = open_files
        .map(|limit| usize::try_from(limit.saturating_sub(128)).unwrap_or(usize::MAX))
        .unwrap_or(896)
        .clamp(16, 10_000);
    tracing::debug!(max_connections = auto, open_files, "connection limit");
    auto
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), Some(hard)) = (limit.current, limit.maximum) else {
        // Unlimited: nothing to raise.
        return limit.current;
    };
    if current >= hard {
        return Some(current);
    }
    let raised = rustix::process::Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = current, to = hard, "raised the open-file limit");
            Some(hard)
        }
        Err(error) => {
            tracing::debug!(%error, "cannot raise the open-file limit");
            Some(current)
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Without a configured issuer, the server is its own issuer at the address it bound. A
/// wildcard bind address is not something a client can reach, so it becomes 127.0.0.1.
pub fn default_issuer(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}
