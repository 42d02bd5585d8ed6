//! Starts a real Tollgate (`tollgate::testing`'s fixture) on 127.0.0.1:0 with its own
//! database and a manual clock, and drives it over HTTP; plus what the tests talk to
//! besides: `tollgate serve` processes, metadata-document servers (`documents`), and RFC
//! 7592 management requests (`management`).

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tollgate::Config;
use tollgate::clock::{Clock, ManualClock};
use tollgate::testing::{TestServer, TestServerBuilder, VerifyError};

mod control;
mod documents;
mod events;
mod grants;
pub mod keys;
mod management;

pub use documents::{Answer, ChunkedServer, DocumentServer, example_document};
pub use events::{stable, time_ms, types};
pub use grants::*;
pub use management::client_information;

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CALLBACK: &str = "http://127.0.0.1:53682/callback";
pub const RESOURCE: &str = "http://127.0.0.1:8000/mcp";
/// The resource-server client `TestAppBuilder::with_resource_server` declares.
pub const RESOURCE_SERVER: &str = "resource-server";
const RESOURCE_SERVER_SECRET: &str = "resource-server-secret";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates, for each named `async fn test(backend: Backend)`, one test per backend:
/// `sqlite::test` always, `postgres::test` when `TOLLGATE_TEST_POSTGRES_URL` was set at
/// build time (otherwise it is listed as ignored with the reason).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(tollgate_postgres_tests),
                    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
                )]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn new(backend: Backend) -> Arc<TestDb> {
        Arc::new(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
                TestDb {
                    url,
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TOLLGATE_TEST_POSTGRES_URL").expect(
                    "TOLLGATE_TEST_POSTGRES_URL must name a PostgreSQL database to create test \
                     databases from, e.g. postgres://postgres@127.0.0.1:5432/test",
                );
                let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = admin_connection(&admin_url).await;
                sqlx::Executor::execute(
                    &mut admin,
                    sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
                )
                .await
                .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
        })
    }
}

async fn admin_connection(admin_url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL test server at {admin_url}: {e}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async context; a short-lived runtime on its own thread
            // drops the database.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut admin = admin_connection(&admin_url).await;
                    let _ = sqlx::Executor::execute(
                        &mut admin,
                        sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
                    )
                    .await;
                });
            })
            .join();
        }
    }
}

/// A Tollgate for one test: `tollgate::testing::TestServer` (the fixture other crates use)
/// on its own database and a manual clock, driven over HTTP.
pub struct TestApp {
    pub addr: SocketAddr,
    pub issuer: String,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    /// The in-process server; `None` when attached to a `tollgate serve` process. Stops
    /// when dropped.
    server: Option<TestServer>,
    /// Kept so the database outlives the server (declared after it, so dropped after it).
    _db: Arc<TestDb>,
}

pub struct TestAppBuilder {
    backend: Backend,
    server: TestServerBuilder,
    db: Option<Arc<TestDb>>,
    listener: Option<TcpListener>,
}

impl TestAppBuilder {
    pub fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        self.server = self.server.config(change);
        self
    }

    /// Runs on an existing database (to test restarts).
    pub fn on_db(mut self, db: Arc<TestDb>) -> Self {
        self.db = Some(db);
        self
    }

    /// Starts from a configuration file, as `tollgate serve --config FILE` would (the test
    /// still chooses the database and the address, so the file's are replaced).
    pub fn config_file(self, path: &std::path::Path) -> Self {
        let file = Config::from_file(path).unwrap();
        self.config(|config| {
            *config = Config {
                issuer: None,
                ..file
            }
        })
    }

    /// Declares a resource server (`introspection = true`) that may introspect every
    /// client's tokens; `TestApp::resource_server` gives its credentials. Call it after
    /// `config_file`, which replaces the whole configuration.
    pub fn with_resource_server(self) -> Self {
        self.config(|c| {
            c.clients
                .push(tollgate::config::DeclaredClient::resource_server(
                    RESOURCE_SERVER,
                    RESOURCE_SERVER_SECRET,
                ));
        })
    }

    /// Serves on a listener bound before, so that another server's configuration can name
    /// this one's issuer (`http://` + its address) before it starts.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Adds a tenant (issue 17) under `/t/<name>`; `settings` starts from the defaults.
    /// `TestApp::tenant` drives it once started.
    pub fn tenant(mut self, name: &str, settings: impl FnOnce(&mut Config)) -> Self {
        self.server = self.server.tenant(name, settings);
        self
    }

    /// Gives the issuer a path, such as "/t1".
    pub fn issuer_path(mut self, path: &str) -> Self {
        self.server = self.server.issuer_path(path);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = match self.db {
            Some(db) => db,
            None => TestDb::new(self.backend).await,
        };
        // Bound here, not from the configuration, whose `bind` a configuration file sets.
        let listener = match self.listener {
            Some(listener) => listener,
            None => TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let clock = ManualClock::new();
        let server = self
            .server
            .database_url(&db.url)
            .clock(clock.clone())
            .listener(listener)
            .spawn()
            .await
            .unwrap();
        TestApp {
            addr: server.addr(),
            issuer: server.issuer().to_owned(),
            clock,
            http: client(),
            server: Some(server),
            _db: db,
        }
    }
}

/// A client that keeps cookies (the consent form needs its browser cookie) and does not
/// follow redirects, so each `Location` can be inspected.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .no_proxy()
        .build()
        .unwrap()
}

#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub body: Value,
}

/// The hidden fields of a consent page.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    pub request_id: String,
    pub csrf_token: String,
    pub html: String,
}

/// The query of a redirect back to the client, in order, with duplicates kept.
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: url::Url,
    pub params: Vec<(String, String)>,
}

/// Where a URL leads, everything but the query: scheme, user information, host, port, path
/// and fragment.
type Target = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u16>,
    String,
    Option<String>,
);

fn redirect_target(url: &url::Url) -> Target {
    (
        url.scheme().to_owned(),
        url.username().to_owned(),
        url.password().map(str::to_owned),
        url.host_str().map(str::to_owned),
        url.port_or_known_default(),
        url.path().to_owned(),
        url.fragment().map(str::to_owned),
    )
}

impl Callback {
    pub fn from_response(response: &reqwest::Response) -> Callback {
        let location = response
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no Location header; status {}", response.status()))
            .to_str()
            .unwrap();
        Callback::from_url(url::Url::parse(location).unwrap())
    }

    /// The redirect to `url` (a link on a page, say).
    pub fn from_url(url: url::Url) -> Callback {
        let params = url.query_pairs().into_owned().collect();
        Callback { url, params }
    }

    /// Asserts that the redirect goes to exactly `redirect_uri`: the same scheme, host,
    /// port and path, no user information and no fragment (a prefix match would let
    /// `CALLBACK` + "X", another port or path through); and that it carries exactly the
    /// parameters `names`, each once, in any order (nothing missing, nothing extra).
    pub fn assert_redirects_to(&self, redirect_uri: &str, names: &[&str]) {
        assert_eq!(
            redirect_target(&self.url),
            redirect_target(&url::Url::parse(redirect_uri).unwrap()),
            "redirected to {}, expected {redirect_uri}",
            self.url
        );
        let mut sent: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        sent.sort_unstable();
        let mut names = names.to_vec();
        names.sort_unstable();
        assert_eq!(sent, names, "the parameters of {}", self.url);
    }

    /// The single value of a parameter; panics if it is missing or repeated.
    pub fn one(&self, name: &str) -> String {
        let values: Vec<&String> = self
            .params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values.len(), 1, "{name} in {:?}", self.params);
        values[0].clone()
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            server: TestServer::builder(),
            db: None,
            listener: None,
        }
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        Self::builder(backend).spawn().await
    }

    /// Drives a `tollgate serve` process (on `db`) with the same helpers. Its clock is its
    /// own: `clock` moves nothing there.
    pub fn attached(process: &ServeProcess, db: Arc<TestDb>) -> TestApp {
        TestApp {
            addr: process.addr,
            issuer: process.base.clone(),
            clock: ManualClock::new(),
            http: client(),
            server: None,
            _db: db,
        }
    }

    /// The tenant `name` (see `TestAppBuilder::tenant`), driven with the same helpers: its
    /// issuer is `http://<addr>/t/<name>`; the clock is the server's. It is a view: the
    /// server runs while `self` lives.
    pub fn tenant(&self, name: &str) -> TestApp {
        let tenant = self
            .fixture()
            .tenant(name)
            .unwrap_or_else(|| panic!("no tenant {name}"));
        TestApp {
            addr: self.addr,
            issuer: tenant.issuer().to_owned(),
            clock: self.clock.clone(),
            http: client(),
            server: Some(tenant),
            _db: Arc::clone(&self._db),
        }
    }

    /// Stops the server and waits until it has shut down; it must stop cleanly.
    pub async fn stop(self) {
        if let Some(server) = self.server {
            server.stop().await.unwrap();
        }
    }

    /// The database this server uses, for running the `tollgate` command on it.
    /// The in-process fixture, as other crates' tests hold it.
    pub fn fixture(&self) -> &TestServer {
        self.server
            .as_ref()
            .expect("attached to a `tollgate serve` process, not the fixture")
    }

    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub async fn metadata(&self) -> Value {
        self.http
            .get(format!(
                "http://{}/.well-known/oauth-authorization-server",
                self.addr
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn register(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/register"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a client from metadata and returns it; the registration must succeed.
    pub async fn register_ok(&self, body: &Value) -> RegisteredClient {
        let response = self.register(body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        RegisteredClient {
            client_id: body["client_id"].as_str().unwrap().to_owned(),
            client_secret: body["client_secret"].as_str().map(str::to_owned),
            body,
        }
    }

    /// A public client like the MCP SDKs register.
    pub async fn public_client(&self) -> RegisteredClient {
        self.register_ok(&json!({
            "client_name": "Test MCP Client",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        }))
        .await
    }

    /// The resource server of `TestAppBuilder::with_resource_server`.
    pub fn resource_server(&self) -> RegisteredClient {
        RegisteredClient {
            client_id: RESOURCE_SERVER.to_owned(),
            client_secret: Some(RESOURCE_SERVER_SECRET.to_owned()),
            body: Value::Null,
        }
    }

    /// A confidential client with the given token endpoint authentication method.
    pub async fn confidential_client(&self, method: &str) -> RegisteredClient {
        self.register_ok(&json!({
            "client_name": "Confidential Client",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": method
        }))
        .await
    }

    /// The standard authorization request parameters for `client`, with `changes` applied:
    /// a pair replaces the parameter of that name, `("name", "")` removes it, and
    /// `("+name", value)` adds another one.
    pub fn authorize_params(
        &self,
        client_id: &str,
        changes: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "st1"),
            ("resource", RESOURCE),
            ("scope", "mcp:tools"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in changes {
            if let Some(extra) = name.strip_prefix('+') {
                params.push((extra.to_owned(), (*value).to_owned()));
            } else {
                params.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    params.push(((*name).to_owned(), (*value).to_owned()));
                }
            }
        }
        params
    }

    pub async fn get_authorize(&self, params: &[(String, String)]) -> reqwest::Response {
        self.http
            .get(self.url("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Loads the consent page for a request that must be valid.
    pub async fn consent_form(&self, params: &[(String, String)]) -> ConsentForm {
        let response = self.get_authorize(params).await;
        assert_eq!(response.status(), StatusCode::OK, "consent page expected");
        let html = response.text().await.unwrap();
        ConsentForm {
            request_id: hidden_field(&html, "request_id"),
            csrf_token: hidden_field(&html, "csrf_token"),
            html,
        }
    }

    /// Submits a consent decision as the browser would.
    pub async fn decide(
        &self,
        form: &ConsentForm,
        decision: &str,
        user: &str,
    ) -> reqwest::Response {
        self.submit_consent(form, decision, user, None).await
    }

    /// Approves `form` as `dev` from another browser: one without the page's cookie, as a
    /// cross-site request would come (CSRF).
    pub async fn approve_from_another_browser(&self, form: &ConsentForm) -> reqwest::Response {
        client()
            .post(self.url("/authorize"))
            .form(&[
                ("request_id", form.request_id.as_str()),
                ("csrf_token", form.csrf_token.as_str()),
                ("user", "dev"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Approves as a user who has a password, giving `password`.
    pub async fn approve_with_password(
        &self,
        form: &ConsentForm,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        self.submit_consent(form, "approve", user, Some(password))
            .await
    }

    async fn submit_consent(
        &self,
        form: &ConsentForm,
        decision: &str,
        user: &str,
        password: Option<&str>,
    ) -> reqwest::Response {
        let mut fields = vec![
            ("request_id", form.request_id.as_str()),
            ("csrf_token", form.csrf_token.as_str()),
            ("user", user),
            ("decision", decision),
        ];
        fields.extend(password.map(|password| ("password", password)));
        self.http
            .post(self.url("/authorize"))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// Runs the authorization request and approves it as `dev`; returns the callback,
    /// which must go to exactly the redirect URI of the request (when it named one).
    pub async fn approve(&self, client_id: &str, changes: &[(&str, &str)]) -> Callback {
        let params = self.authorize_params(client_id, changes);
        let form = self.consent_form(&params).await;
        let response = self.decide(&form, "approve", "dev").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let callback = Callback::from_response(&response);
        let redirect_uri = params.iter().find(|(k, _)| k == "redirect_uri");
        if let Some((_, redirect_uri)) = redirect_uri {
            assert_eq!(
                redirect_target(&callback.url),
                redirect_target(&url::Url::parse(redirect_uri).unwrap()),
                "the code goes to the redirect URI of the request, {redirect_uri}"
            );
        }
        callback
    }

    /// An authorization code for `client` (standard request, approved as `dev`).
    pub async fn code(&self, client_id: &str) -> String {
        self.approve(client_id, &[]).await.one("code")
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Redeems `code` for the public `client` with the standard parameters.
    pub async fn redeem(&self, client_id: &str, code: &str) -> reqwest::Response {
        let standard = [("redirect_uri", CALLBACK), ("resource", RESOURCE)];
        self.exchange(client_id, code, &standard).await
    }

    /// An authorization-code request of a public client with the RFC 7636 Appendix B
    /// verifier, plus `extra` parameters.
    pub async fn exchange(
        &self,
        client_id: &str,
        code: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// A full flow for a public client; returns the token response body.
    pub async fn tokens(&self, client_id: &str) -> Value {
        self.tokens_with(client_id, &[]).await
    }

    /// A full flow with `changes` to the standard authorization request (approved as
    /// `dev`); returns the token response body.
    pub async fn tokens_with(&self, client_id: &str, changes: &[(&str, &str)]) -> Value {
        let code = self.approve(client_id, changes).await.one("code");
        self.redeemed(client_id, &code).await
    }

    /// Redeems `code` (see `redeem`), which must succeed; returns the token response body.
    pub async fn redeemed(&self, client_id: &str, code: &str) -> Value {
        let response = self.redeem(client_id, code).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A client_credentials request with HTTP Basic authentication.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: Option<&str>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.http
            .post(self.url("/token"))
            .basic_auth(client_id, secret)
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    pub async fn jwks(&self) -> Value {
        self.http
            .get(self.url("/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Verifies an access token for `audience` as a resource server would, against the
    /// JWKS served now and at the test clock's time (`tollgate::testing`'s verifier);
    /// returns the claims.
    pub async fn verify_access_token(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Value, VerifyError> {
        let jwks = self.jwks().await;
        tollgate::testing::verify_access_token_at(
            &jwks,
            &self.issuer,
            token,
            audience,
            self.clock.now(),
        )
    }

    /// Verifies an ID token for `client_id` as a client would, against the JWKS served now;
    /// returns the claims.
    pub async fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<Value, VerifyError> {
        let jwks = self.jwks().await;
        tollgate::testing::verify_id_token_at(
            &jwks,
            &self.issuer,
            token,
            client_id,
            self.clock.now(),
        )
    }
}

/// Asserts an HTML error page that does not redirect (AZ-5, AZ-23: what cannot be
/// verified is never sent anywhere) and returns its text.
pub async fn assert_error_page(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get("location").is_none(),
        "must not redirect"
    );
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    response.text().await.unwrap()
}

/// An error redirect's `error_uri` (RFC 6749 §4.1.2.1) is the refusal's event in the
/// developer console, which is on for these loopback servers.
pub fn assert_console_link(app: &TestApp, callback: &Callback) {
    let error_uri = callback.one("error_uri");
    assert!(
        error_uri.starts_with(&format!("{}/_tollgate/events/", app.issuer)),
        "{error_uri}"
    );
}

/// A page's text as a reader sees it: without the `<wbr>` line-break hints in URLs.
pub fn visible(html: &str) -> String {
    html.replace("<wbr>", "")
}

/// The user whose radio button is checked on a consent page.
pub fn checked_user(html: &str) -> Option<String> {
    html.split(r#"<input type="radio" name="user" value=""#)
        .skip(1)
        .find(|rest| {
            rest.split('>')
                .next()
                .is_some_and(|tag| tag.contains(" checked"))
        })
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

/// Reads `<input type="hidden" name="NAME" value="VALUE">` from a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name} in the page"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Asserts an RFC 6749 error body and returns its description.
/// Exactly one success; every other request got `400 invalid_grant`. Returns the success.
pub fn exactly_one_success(results: Vec<(StatusCode, Value)>) -> Value {
    let (winners, losers): (Vec<_>, Vec<_>) = results
        .into_iter()
        .partition(|(status, _)| *status == StatusCode::OK);
    assert_eq!(winners.len(), 1, "winners: {winners:?}, losers: {losers:?}");
    for (status, body) in &losers {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    winners.into_iter().next().unwrap().1
}

pub async fn assert_oauth_error(
    response: reqwest::Response,
    status: StatusCode,
    error: &str,
) -> String {
    assert_eq!(
        response.status(),
        status,
        "status for expected error {error}"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !description.is_empty(),
        "error_description must say what was wrong"
    );
    description
}

/// The payload of a JWT, without verifying it.
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The JOSE header of a JWT.
pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

impl TestApp {
    /// Introspects `token` with a confidential client's credentials (the resource server's
    /// to see every client's tokens).
    pub async fn introspect(&self, caller: &RegisteredClient, token: &str) -> Value {
        let response = self
            .http
            .post(self.url("/introspect"))
            .basic_auth(&caller.client_id, caller.client_secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Revokes `token` as the public client `client_id`.
    pub async fn revoke(&self, client_id: &str, token: &str) -> reqwest::Response {
        self.revoke_with(client_id, token, &[]).await
    }

    /// A revocation request by a public client, with `extra` parameters.
    pub async fn revoke_with(
        &self,
        client_id: &str,
        token: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("token", token), ("client_id", client_id)];
        form.extend_from_slice(extra);
        self.http
            .post(self.url("/revoke"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// The events the event log holds for `client_id`, oldest first (the events API, which
    /// stores what was recorded before it answers).
    pub async fn events_of(&self, client_id: &str) -> Vec<Value> {
        let response = self
            .http
            .get(self.url("/_tollgate/events"))
            .query(&[("client", client_id), ("limit", "1000")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["events"].as_array().unwrap().clone()
    }

    /// The events of `client_id` of type `kind`.
    pub async fn events_of_type(&self, client_id: &str, kind: &str) -> Vec<Value> {
        self.events_of(client_id)
            .await
            .into_iter()
            .filter(|event| event["type"] == kind)
            .collect()
    }
}

/// Polls `check` until it returns true, at most for `limit`; panics with `what` otherwise.
pub async fn eventually<F, Fut>(what: &str, limit: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Runs the `tollgate` binary and returns its stdout; it must succeed.
pub fn tollgate(args: &[&str]) -> String {
    let output = run_tollgate(args, &[]);
    assert!(
        output.status.success(),
        "tollgate {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the `tollgate` binary with extra environment variables (and none of the caller's
/// TOLLGATE_* settings).
pub fn run_tollgate(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    tollgate_command(args, env).output().unwrap()
}

/// Like [`run_tollgate`], with `input` on standard input.
pub fn run_tollgate_with_input(
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = tollgate_command(args, env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn tollgate_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    command
}

/// A `tollgate serve` process on 127.0.0.1:0, killed when dropped.
pub struct ServeProcess {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub addr: SocketAddr,
    child: tokio::process::Child,
}

impl ServeProcess {
    /// Starts `tollgate serve --bind 127.0.0.1:0 ARGS` with `env` (and none of the caller's
    /// TOLLGATE_* settings) and waits, at most 30 s, for its "listening" line.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        Self::spawn(args, env, std::process::Stdio::inherit()).await
    }

    /// Like [`ServeProcess::start`], keeping the log (stderr, `RUST_LOG=warn`) for
    /// [`ServeProcess::stop_with_log`].
    pub async fn start_with_log(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        Self::spawn(args, env, std::process::Stdio::piped()).await
    }

    /// Stops the process and returns what it logged (started with `start_with_log`).
    pub async fn stop_with_log(mut self) -> String {
        use tokio::io::AsyncReadExt;
        self.child.kill().await.unwrap();
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut log).await.unwrap();
        }
        log
    }

    async fn spawn(
        args: &[&str],
        env: &[(&str, &str)],
        stderr: std::process::Stdio,
    ) -> ServeProcess {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
        for (name, _) in std::env::vars() {
            if name.starts_with("TOLLGATE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            BufReader::new(stdout).lines().next_line().await
        })
        .await
        .expect("tollgate did not start within 30 s")
        .unwrap()
        .expect("tollgate exited before listening");
        // "tollgate listening on 127.0.0.1:PORT with issuer ..."
        let addr: SocketAddr = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        ServeProcess {
            base: format!("http://{addr}"),
            addr,
            child,
        }
    }

    /// The process id, to read its memory in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Stops the process and waits for it to exit.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// The exact-redirect check refuses what a prefix match let through.
#[test]
fn assert_redirects_to_refuses_near_misses() {
    let check = |location: &str| {
        let callback = Callback::from_url(url::Url::parse(location).unwrap());
        std::panic::catch_unwind(|| {
            callback.assert_redirects_to(CALLBACK, &["code", "state", "iss"]);
        })
        .is_ok()
    };
    assert!(check(&format!("{CALLBACK}?code=c&iss=i&state=s")));
    for near_miss in [
        format!("{CALLBACK}X?code=c&state=s&iss=i"),
        format!("{CALLBACK}/x?code=c&state=s&iss=i"),
        "http://127.0.0.1:53683/callback?code=c&state=s&iss=i".to_owned(),
        "https://127.0.0.1:53682/callback?code=c&state=s&iss=i".to_owned(),
        "http://localhost:53682/callback?code=c&state=s&iss=i".to_owned(),
        "http://u@127.0.0.1:53682/callback?code=c&state=s&iss=i".to_owned(),
        format!("{CALLBACK}?code=c&state=s&iss=i#f"),
        format!("{CALLBACK}?code=c&state=s"),
        format!("{CALLBACK}?code=c&state=s&iss=i&iss=j"),
        format!("{CALLBACK}?code=c&state=s&iss=i&error=e"),
    ] {
        assert!(!check(&near_miss), "{near_miss} was accepted");
    }
}
