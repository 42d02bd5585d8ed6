//! Everything a request handler needs, in one value passed through axum's `State`. Nothing
//! is global, so several servers can run in one process (the test fixture relies on it).

use crate::clock::{Clock, ServerClock};
use crate::config::{Config, User};
use crate::keys::KeyRing;
use crate::oauth::endpoints;
use crate::oauth::issuer::Issuer;
use crate::oauth::metadata::{Features, Metadata};
use crate::oauth::resource;
use crate::secret::{Secret, digest_matches};
use crate::services::cimd::{DocumentFetcher, Limit};
use crate::services::client_keys::ClientKeys;
use crate::services::clients::Clients;
use crate::services::control::Control;
use crate::services::declarations::SecretsChecked;
use crate::services::events::EventLog;
use crate::services::faults::FaultTable;
use crate::services::throttle::{FailureThrottle, RateLimiter};
use crate::services::tokens::TokenIssuer;
use crate::services::trusted_issuers::TrustedIssuers;
use crate::services::users::Users;
use crate::store::Store;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;

pub type AppState = Arc<App>;

#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub issuer: Issuer,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    /// The server's clock: the system's (or a test's) plus what the control API moved it.
    pub clock: Arc<ServerClock>,
    /// `dev` plus the configured users.
    pub users: Arc<Users>,
    /// Makes every token the server issues.
    pub tokens: TokenIssuer,
    /// The audience of tokens requested without a `resource`.
    pub default_audience: String,
    /// The metadata documents, serialised once (they never change while running).
    pub oauth_metadata: Bytes,
    pub openid_metadata: Bytes,
    /// Open registration per address (DCR-9), shared with metadata-document fetches.
    pub registration_limiter: Arc<RateLimiter>,
    /// Consent requests stored per client IP (`limits.authorizations_per_minute`).
    pub authorization_limiter: RateLimiter,
    pub client_auth_throttle: FailureThrottle,
    /// Wrong user codes on the device verification page (RFC 8628 §5.1).
    pub user_code_throttle: FailureThrottle,
    /// The keys of the identity providers whose ID-JAGs are accepted.
    pub trusted_issuers: TrustedIssuers,
    /// Finds clients, registered or described by a metadata document.
    pub clients: Clients,
    /// The public keys of `private_key_jwt` clients, inline or from their `jwks_uri`.
    pub client_keys: ClientKeys,
    /// Whether the stored secrets of declared clients have been checked against the
    /// configuration since start-up (`crate::services::declarations`).
    pub declared_secrets: SecretsChecked,
    /// The event log.
    pub events: Arc<EventLog>,
    /// The faults in force (issue 14): declared, and added through the control API.
    pub faults: Arc<FaultTable>,
    /// The developer console, when it is on.
    pub console: Option<Console>,
    /// The digest of `control.token`, which lets peers beyond loopback use the control API.
    pub control_token: Option<String>,
    /// Set once the server is shutting down: long-lived responses (event streams) end, so
    /// that an open console does not keep the server from stopping.
    pub closing: tokio::sync::watch::Sender<bool>,
}

/// Where the developer console is and who may open it.
#[derive(Debug)]
pub struct Console {
    /// `{issuer}/_tollgate`, without a trailing slash.
    pub base: String,
    /// The digest of `console.password`; `None`: no password asked.
    password_digest: Option<String>,
}

impl Console {
    fn new(issuer: &Issuer, password: Option<&Secret>) -> Self {
        Console {
            base: issuer.endpoint(endpoints::CONSOLE),
            password_digest: password.map(Secret::digest),
        }
    }

    /// The console's page of an event.
    pub fn event_url(&self, id: &str) -> String {
        format!("{}/events/{id}", self.base)
    }

    /// The console's page of a flow.
    pub fn flow_url(&self, flow: &str) -> String {
        format!("{}/flows/{flow}", self.base)
    }

    /// Whether `password` opens the console (always, when none is configured).
    pub fn admits(&self, password: Option<&str>) -> bool {
        match (&self.password_digest, password) {
            (None, _) => true,
            (Some(digest), Some(password)) => digest_matches(password, digest),
            (Some(_), None) => false,
        }
    }

    pub fn needs_password(&self) -> bool {
        self.password_digest.is_some()
    }
}

impl App {
    pub fn new(
        mut config: Config,
        issuer: Issuer,
        store: Store,
        keys: KeyRing,
        clock: Arc<ServerClock>,
        declared_secrets: SecretsChecked,
        listening_on: SocketAddr,
    ) -> Self {
        let faults = Arc::new(FaultTable::new(config.declared_faults()));
        let registration_limiter =
            Arc::new(RateLimiter::per_minute(config.registration.per_minute));
        let cimd = config.cimd.enabled.then(|| {
            DocumentFetcher::new(
                &config.cimd,
                config.registration.redirect_schemes,
                Arc::clone(&faults),
                Limit {
                    limiter: Arc::clone(&registration_limiter),
                    per_minute: config.registration.per_minute,
                },
            )
        });
        let shared_clock: Arc<dyn Clock> = clock.clone();
        let events = Arc::new(if config.events.enabled {
            EventLog::start(
                store.clone(),
                Arc::clone(&shared_clock),
                config.events.buffer,
            )
        } else {
            EventLog::off(Arc::clone(&shared_clock))
        });
        let console = config
            .console
            .is_on(listening_on)
            .then(|| Console::new(&issuer, config.console.password.as_ref()));
        let users = Arc::new(Users::new(config.all_users()));
        let keys = Arc::new(keys);
        // Secrets given in clear stay only where they are needed: passwords in `users`
        // (hashed soon after start), client secrets in the database (hashed by `declarations`,
        // which keeps its own copy until it has checked the stored hashes).
        for user in &mut config.users {
            user.password = None;
        }
        for client in &mut config.clients {
            client.secret = None;
        }
        let control_token = config.control.token.take().map(|token| token.digest());
        let features = Features {
            registration_open: config.registration.open,
            client_id_metadata_documents: cimd.is_some(),
            scopes: configured_scopes(&config),
            token_exchange: !config.token_exchange.is_empty() || !config.id_jag.issue.is_empty(),
            issues_id_jags: !config.id_jag.issue.is_empty(),
            accepts_id_jags: !config.id_jag.trust.is_empty(),
        };
        let oauth_metadata = serialise(&Metadata::oauth(&issuer, &features));
        let openid_metadata = serialise(&Metadata::openid(&issuer, &features));
        let default_audience = resource::default_audience(&config.resources, issuer.as_str());
        let clients = Clients::new(
            store.clone(),
            shared_clock,
            cimd,
            config.cimd.allow_http_loopback,
        );
        let tokens = TokenIssuer::new(
            issuer.as_str(),
            Arc::clone(&keys),
            Arc::clone(&users),
            config.access_token_ttl,
            config.refresh_token_ttl,
            Arc::clone(&faults),
        );
        let authorization_limiter =
            RateLimiter::per_minute(config.limits.authorizations_per_minute);
        let client_auth_throttle =
            FailureThrottle::per_minute(config.client_auth_failures_per_minute);
        let client_keys = ClientKeys::new(&config.cimd);
        let user_code_throttle =
            FailureThrottle::per_minute(config.device.user_code_failures_per_minute);
        let trusted_issuers = TrustedIssuers::new(&config.id_jag.trust);
        App {
            users,
            config,
            issuer,
            store,
            keys,
            tokens,
            clock,
            default_audience,
            oauth_metadata,
            openid_metadata,
            registration_limiter,
            authorization_limiter,
            client_auth_throttle,
            user_code_throttle,
            trusted_issuers,
            clients,
            client_keys,
            declared_secrets,
            events,
            faults,
            console,
            control_token,
            closing: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Whether the server is shutting down.
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The control operations on this server (issue 14).
    pub fn control(&self) -> Control<'_> {
        Control {
            store: &self.store,
            keys: &self.keys,
            clock: &self.clock,
            faults: &self.faults,
            events: &self.events,
            clients: &self.clients,
            key_grace: self.config.key_grace_period(),
        }
    }

    pub fn user(&self, subject: &str) -> Option<&User> {
        self.users.get(subject)
    }
}

/// Every scope of every configured resource, for `scopes_supported`.
fn configured_scopes(config: &Config) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in config.resources.iter().flat_map(|r| r.scope_names()) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

fn serialise(metadata: &Metadata) -> Bytes {
    // A struct of strings and string lists always serialises.
    serde_json::to_vec(metadata).unwrap_or_default().into()
}
