//! An in-process Tollgate for other crates' tests (the `testing` feature).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tollgate::testing::TestServer;
//! use tollgate::config::DeclaredClient;
//!
//! let server = TestServer::builder()
//!     .user("alice")
//!     .client(DeclaredClient::public("my-client", &["http://127.0.0.1:8765/callback"]))
//!     .auto_approve("alice")
//!     .spawn()
//!     .await?;
//! let token = server.mint_access_token("alice", "http://127.0.0.1:3000/mcp", "mcp:tools").await?;
//! # Ok(()) }
//! ```
//!
//! Each server listens on `127.0.0.1:0` with its own in-memory database and its own
//! signing key, so any number run at once in one process; dropping one stops it. A resource
//! server's tests check tokens with [`TestServer::verify_access_token`] (or
//! [`verify_access_token`], given the JWKS it fetched).
//!
//! The control operations of the control API (move the clock, revoke or expire tokens,
//! rotate the key, reset, faults) are methods of [`TestServer`] too (`testing/control.rs`).
//!
//! Several issuers in one server (issue 17): [`TestServerBuilder::tenant`] declares a tenant
//! with settings of its own, and [`TestServer::tenant`] gives it as a `TestServer` whose
//! issuer is `http://127.0.0.1:<port>/t/<name>`, with its own keys, users, clients and
//! store.
//!
//! Tollgate's own black-box tests (`tests/api`) run on this fixture too, with the options
//! they need: a database of their own ([`TestServerBuilder::database_url`]), a
//! [`ManualClock`](crate::clock::ManualClock) ([`TestServerBuilder::clock`]), an issuer
//! with a path and a listener they bound.

mod control;
mod verify;

pub use crate::config::FaultSpec;
pub use crate::services::check::{CheckError, CheckOptions, CheckResult, Profile, Report, Status};
pub use crate::services::faults::{FaultStatus, Refused};
pub use crate::store::{TokenOwner, TokensChanged};
pub use verify::{
    VerifyError, verify_access_token, verify_access_token_at, verify_id_token, verify_id_token_at,
};

use crate::clock::Clock;
use crate::config::{Config, ConsentMode, DeclaredClient, User};
use crate::oauth::endpoints;
use crate::oauth::resource::Resource;
use crate::server::{Launch, Server, StartError};
use crate::services::check::{self, Authority, EventSource};
pub use crate::services::tokens::MintError;
use crate::services::tokens::StandaloneToken;
use crate::state::AppState;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running Tollgate; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    issuer: String,
    app: AppState,
    /// The other tenants (issue 17), by name.
    tenants: Vec<(String, AppState)>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Configures a [`TestServer`].
pub struct TestServerBuilder {
    config: Config,
    clock: Option<Arc<dyn Clock>>,
    listener: Option<TcpListener>,
    issuer_path: Option<String>,
}

impl TestServer {
    /// A server with the `dev` user, open registration, the consent page and any resource.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            config: Config {
                database_url: "sqlite::memory:".to_owned(),
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..Config::default()
            },
            clock: None,
            listener: None,
            issuer_path: None,
        }
    }

    /// The tenant `name` (declared with [`TestServerBuilder::tenant`]) as a server of its
    /// own: its issuer (`http://127.0.0.1:<port>/t/<name>`), JWKS, tokens and control
    /// operations. It is a view: the server runs while the `TestServer` that spawned it
    /// lives, and dropping the view stops nothing.
    pub fn tenant(&self, name: &str) -> Option<TestServer> {
        let (_, app) = self.tenants.iter().find(|(n, _)| n == name)?;
        Some(TestServer {
            addr: self.addr,
            issuer: app.issuer.as_str().to_owned(),
            app: Arc::clone(app),
            tenants: Vec::new(),
            shutdown: None,
            task: None,
        })
    }

    /// The issuer identifier, `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The RFC 8414 metadata URL.
    pub fn metadata_url(&self) -> String {
        self.url(endpoints::OAUTH_METADATA)
    }

    pub fn authorization_url(&self) -> String {
        self.url(endpoints::AUTHORIZE)
    }

    pub fn token_url(&self) -> String {
        self.url(endpoints::TOKEN)
    }

    pub fn jwks_url(&self) -> String {
        self.url(endpoints::JWKS)
    }

    pub fn registration_url(&self) -> String {
        self.url(endpoints::REGISTER)
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.issuer)
    }

    /// The JWKS, as served at [`TestServer::jwks_url`].
    pub fn jwks(&self) -> Value {
        serde_json::from_slice(&self.app.keys.current().jwks_json).unwrap_or(Value::Null)
    }

    /// An access token for `subject` and the resource `audience` with space-separated
    /// `scope`, signed with the server's key and known to its introspection, exactly like
    /// one from a real flow (client id `tollgate-test`). A scope beyond the subject's scope
    /// policy (`[[users]] scopes`) is refused with `MintError::Refused`, as a flow would
    /// refuse it; [`TestServer::mint_access_token_beyond_policy`] mints it anyway.
    pub async fn mint_access_token(
        &self,
        subject: &str,
        audience: &str,
        scope: &str,
    ) -> Result<String, MintError> {
        let token = Self::standalone(&self.app, subject, audience, scope);
        self.app.tokens.check_user_policy(&token)?;
        self.app
            .tokens
            .mint_recorded(&self.app.store, &token, self.app.now())
            .await
    }

    /// [`TestServer::mint_access_token`] without the subject's scope policy: a token no
    /// flow would issue, for testing that an MCP server checks the scope itself.
    pub async fn mint_access_token_beyond_policy(
        &self,
        subject: &str,
        audience: &str,
        scope: &str,
    ) -> Result<String, MintError> {
        let token = Self::standalone(&self.app, subject, audience, scope);
        self.app
            .tokens
            .mint_recorded(&self.app.store, &token, self.app.now())
            .await
    }

    fn standalone(
        app: &crate::state::App,
        subject: &str,
        audience: &str,
        scope: &str,
    ) -> StandaloneToken {
        StandaloneToken {
            subject: subject.to_owned(),
            client_id: "tollgate-test".to_owned(),
            audience: vec![audience.to_owned()],
            scope: (!scope.is_empty()).then(|| scope.to_owned()),
            lifetime: app.tokens.access_ttl(),
            extra_claims: serde_json::Map::new(),
            defects: Vec::new(),
        }
    }

    /// The RFC 9728 protected resource metadata an MCP server at `resource` would publish
    /// to name this server, for testing MCP servers and clients.
    pub fn protected_resource_metadata(&self, resource: &str, scopes: &[&str]) -> Value {
        let mut metadata = json!({
            "resource": resource,
            "authorization_servers": [self.issuer],
            "bearer_methods_supported": ["header"],
        });
        if !scopes.is_empty() {
            metadata["scopes_supported"] = json!(scopes);
        }
        metadata
    }

    /// Runs `tollgate check` against the MCP server at `url`, which must trust this server
    /// (its metadata names [`TestServer::issuer`], it verifies tokens with this server's
    /// JWKS): the latest MCP revision's rules, the challenge's scope. An MCP server's own
    /// tests assert that it passes:
    ///
    /// ```no_run
    /// # async fn example(server: tollgate::testing::TestServer) {
    /// let report = server.check("http://127.0.0.1:3000/mcp").await.unwrap();
    /// assert!(report.passed(), "{report}");
    /// # }
    /// ```
    pub async fn check(&self, url: &str) -> Result<Report, CheckError> {
        self.check_with(url, &CheckOptions::default()).await
    }

    /// [`TestServer::check`] with another profile, scope, subject or timeout.
    pub async fn check_with(
        &self,
        url: &str,
        options: &CheckOptions,
    ) -> Result<Report, CheckError> {
        let authority = Authority {
            issuer: &self.issuer,
            tokens: &self.app.tokens,
            store: &self.app.store,
            clock: self.app.clock.as_ref(),
            lifetime: self.app.tokens.access_ttl(),
            events: if self.app.events.is_on() {
                EventSource::InProcess(&self.app.events)
            } else {
                EventSource::Off
            },
        };
        check::run(url, options, &authority).await
    }

    /// Verifies an access token as a resource server at `audience` must (see
    /// [`verify_access_token`]), with this server's JWKS and issuer, at this server's time.
    /// Returns the claims.
    pub fn verify_access_token(&self, token: &str, audience: &str) -> Result<Value, VerifyError> {
        verify_access_token_at(&self.jwks(), &self.issuer, token, audience, self.app.now())
    }

    /// Verifies an ID token as the client `client_id` must (see [`verify_id_token`]), at
    /// this server's time. Returns the claims.
    pub fn verify_id_token(&self, token: &str, client_id: &str) -> Result<Value, VerifyError> {
        verify_id_token_at(&self.jwks(), &self.issuer, token, client_id, self.app.now())
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop().await;
    }

    /// Stops the server, waits for it, and says how serving ended: an error if it failed
    /// (or its task panicked) instead of stopping cleanly.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestServerBuilder {
    /// Adds a user for the consent page (besides `dev`).
    pub fn user(self, subject: &str) -> Self {
        self.user_with(User::named(subject))
    }

    /// Adds a user with a name, password or extra claims.
    pub fn user_with(mut self, user: User) -> Self {
        self.config.users.push(user);
        self
    }

    /// Adds a pre-registered client.
    pub fn client(mut self, client: DeclaredClient) -> Self {
        self.config.clients.push(client);
        self
    }

    /// Approves every authorization at once as `subject` (no consent page), unless
    /// `login_hint` names another user.
    pub fn auto_approve(mut self, subject: &str) -> Self {
        if subject != crate::config::DEFAULT_USER
            && !self.config.users.iter().any(|u| u.subject == subject)
        {
            self.config.users.push(User::named(subject));
        }
        self.config.consent.mode = ConsentMode::Auto;
        self.config.consent.user = Some(subject.to_owned());
        self
    }

    /// Denies every authorization at once, to test clients' error paths.
    pub fn deny_all(mut self) -> Self {
        self.config.consent.mode = ConsentMode::Deny;
        self
    }

    /// Declares a resource (MCP server) and its scopes; once any is declared, others are
    /// refused.
    pub fn resource(mut self, url: &str, scopes: &[&str]) -> Self {
        self.config
            .resources
            .push(Resource::with_scopes(url, scopes));
        self
    }

    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.access_token_ttl = ttl;
        self
    }

    /// Declares a fault (`[[faults]]`), in force from the start and after every reset.
    pub fn fault(mut self, fault: FaultSpec) -> Self {
        self.config.faults.push(fault);
        self
    }

    /// Any other setting.
    pub fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Keeps the data in this database (`sqlite://PATH` or `postgres://...`) instead of a
    /// fresh in-memory one: to restart a server on the same data, or to run on PostgreSQL.
    pub fn database_url(mut self, url: &str) -> Self {
        self.config.database_url = url.to_owned();
        self
    }

    /// Runs on `clock` instead of the system time, such as a
    /// [`ManualClock`](crate::clock::ManualClock) kept by the test to expire codes and
    /// tokens without waiting.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Gives the issuer a path, such as `/tenant-1`: the issuer becomes
    /// `http://127.0.0.1:<port>/tenant-1` (RFC 8414 §3.1 places the metadata accordingly).
    pub fn issuer_path(mut self, path: &str) -> Self {
        self.issuer_path = Some(path.to_owned());
        self
    }

    /// Adds a tenant (`[[tenants]]`, issue 17) named `name`, served under `/t/<name>`
    /// with an issuer of its own: `settings` receives a configuration with the defaults
    /// (its process settings, such as `bind` or `database_url`, are the server's and are
    /// ignored). [`TestServer::tenant`] gives it once started.
    pub fn tenant(mut self, name: &str, settings: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::default();
        settings(&mut config);
        self.config
            .tenants
            .push(crate::config::TenantConfig::new(name, config));
        self
    }

    /// Serves on a listener the caller bound, instead of binding `127.0.0.1:0` (the
    /// configuration's `bind`).
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Starts the server; it is ready when this returns.
    pub async fn spawn(mut self) -> Result<TestServer, StartError> {
        let bind = self.config.bind;
        let listener = match self.listener {
            Some(listener) => listener,
            None => TcpListener::bind(bind)
                .await
                .map_err(|source| StartError::Bind { addr: bind, source })?,
        };
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        if let Some(path) = &self.issuer_path {
            self.config.issuer = Some(format!("{}{path}", crate::server::default_issuer(addr)));
        }
        let server = Server::start(
            self.config,
            Launch {
                listener: Some(listener),
                clock: self.clock,
            },
        )
        .await?;
        let issuer = server.issuer().to_owned();
        let app = server.app();
        let tenants = server
            .tenants()
            .iter()
            .filter_map(|app| {
                let name = app.config.tenant.as_ref()?.name.clone();
                Some((name, Arc::clone(app)))
            })
            .collect();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run_until(async {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            issuer,
            app,
            tenants,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}
