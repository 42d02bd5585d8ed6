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
//! signing key, so any number run at once in one process; dropping one stops it.

use crate::config::{Config, ConsentMode, DeclaredClient, User};
use crate::keys::KeyError;
use crate::oauth::access_token::{AccessTokenClaims, TYP};
use crate::oauth::endpoints;
use crate::oauth::resource::Resource;
use crate::server::{Launch, Server, StartError};
use crate::state::AppState;
use crate::store::{NewAccessToken, StoreError};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running Tollgate; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    issuer: String,
    app: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Configures a [`TestServer`].
pub struct TestServerBuilder {
    config: Config,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
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
        }
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
    /// one from a real flow (client id `tollgate-test`).
    pub async fn mint_access_token(
        &self,
        subject: &str,
        audience: &str,
        scope: &str,
    ) -> Result<String, MintError> {
        let now = self.app.now();
        let ttl = i64::try_from(self.app.config.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
        let mut claims = AccessTokenClaims::issue(
            &self.issuer,
            subject,
            "tollgate-test",
            vec![audience.to_owned()],
            (!scope.is_empty()).then(|| scope.to_owned()),
            now,
            ttl,
        );
        if let Some(user) = self.app.user(subject) {
            claims.extra = user.claims.clone();
        }
        let token = self.app.keys.sign(TYP, &claims)?;
        let record = NewAccessToken {
            jti: claims.jti,
            client_id: claims.client_id,
            expires_at: claims.exp,
        };
        self.app
            .store
            .insert_access_token(&record, None, now)
            .await?;
        Ok(token)
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

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
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

    /// Any other setting.
    pub fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Starts the server; it is ready when this returns.
    pub async fn spawn(self) -> Result<TestServer, StartError> {
        let listener = TcpListener::bind(self.config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.config.bind,
            source,
        })?;
        let server = Server::start(
            self.config,
            Launch {
                listener: Some(listener),
                clock: None,
            },
        )
        .await?;
        let issuer = server.issuer().to_owned();
        let app = server.app();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run_until(async {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            issuer,
            app,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}
