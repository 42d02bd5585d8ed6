//! The HTTP surface: routing, the layers around each group of endpoints, and the response
//! shapes. Handlers are thin: they parse, call the rules in `oauth` and the `store`, and
//! shape the answer.

pub mod authorize;
pub mod client_auth;
pub mod client_config;
mod console;
mod control;
mod device;
pub mod discovery;
pub mod error;
mod faults;
pub mod form;
mod html;
pub mod introspect;
pub mod jwks;
mod observe;
pub mod register;
pub mod revoke;
pub mod serve;
pub mod token;

use crate::oauth::endpoints;
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// Liveness and database check for orchestrators (`tollgate healthcheck`), at the host root.
pub const HEALTH: &str = endpoints::HEALTH;

/// Builds the whole application: every route of the issuer, each with its layers.
pub fn router(app: AppState) -> Router {
    // Endpoints that browser-based MCP clients (the MCP Inspector) call from JavaScript:
    // CORS for any origin, since none of them use cookies (checklist MD-20).
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(3600));

    // Responses that carry credentials must not be cached (OAuth 2.1 §3.2.3, RFC 7591 §3.2.1).
    let no_store = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));

    // Closing registration stops new registrations only: clients registered while it was
    // open keep managing themselves with their registration access tokens (RFC 7592).
    let mut credentials = Router::new()
        .route(endpoints::TOKEN, post(token::token))
        .route(endpoints::REVOKE, post(revoke::revoke))
        .route(endpoints::INTROSPECT, post(introspect::introspect))
        .route(
            endpoints::DEVICE_AUTHORIZATION,
            post(device::device_authorization),
        )
        .route(
            endpoints::CLIENT_CONFIGURATION,
            get(client_config::read)
                .put(client_config::update)
                .delete(client_config::delete),
        );
    if app.config.registration.open {
        credentials = credentials.route(endpoints::REGISTER, post(register::register));
    }
    // Injected faults (issue 14) act inside each endpoint's own layers, so that an injected
    // error carries the endpoint's CORS and cache headers.
    let faults = axum::middleware::from_fn_with_state(app.clone(), faults::deliver);
    let credentials = credentials.layer(faults.clone()).layer(no_store.clone());

    let public = Router::new()
        .route(endpoints::JWKS, get(jwks::jwks))
        .layer(faults.clone());

    // The authorization endpoint: no CORS (OAuth 2.1 §3.1), never framed (RFC 6749 §10.13,
    // checklist AZ-22), never cached, and no Referer leaking the request to other sites;
    // images only over https (a client's logo on the consent page).
    let authorization = Router::new()
        .route(
            endpoints::AUTHORIZE,
            get(authorize::authorize).post(authorize::decide),
        )
        .layer(faults.clone())
        // The device verification page: the same rules as the consent page.
        .route(endpoints::DEVICE, get(device::verify).post(device::decide))
        .layer(no_store)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src https:; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));

    let mut issuer_routes = credentials
        .merge(public)
        .layer(cors.clone())
        .merge(authorization);
    if app.console.is_some() {
        issuer_routes = issuer_routes.merge(console::router(&app));
    }
    if app.config.control.enabled {
        issuer_routes = issuer_routes.merge(control::router(&app));
    }
    // The metadata documents sit at the host root (RFC 8414 §3.1 inserts the well-known
    // string before the issuer's path); the endpoints sit under the issuer's path.
    let issuer_path = app.issuer.path().to_owned();
    let discovery = discovery::router(&issuer_path).layer(faults).layer(cors);
    let routes = if issuer_path.is_empty() {
        issuer_routes.merge(discovery)
    } else {
        Router::new()
            .nest(&issuer_path, issuer_routes)
            .merge(discovery)
    };

    let service: Router = routes
        .route(HEALTH, get(health))
        .fallback(not_found)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            error::BODY_LIMIT_BYTES,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            observe::observe,
        ))
        .with_state(app);
    // Outside every route, as the fallback of an otherwise empty router: a layer added to
    // `routes` would wrap each route from inside, and see a 405 before axum adds `Allow`.
    Router::new()
        .fallback_service(service)
        .layer(axum::middleware::map_response(
            error::explain_framework_errors,
        ))
}

/// Serves several tenants (issue 17) on one listener: `apps[0]` is the default tenant, the
/// others are served under their issuer's path. Each tenant has a whole router of its own
/// (its layers, its event scope, its fallback), and a request goes to the one whose
/// issuer it names: by its path under the issuer, or by the RFC 8414 §3.1 path-inserted
/// (`/.well-known/oauth-authorization-server/t/acme`) and OpenID (`/t/acme/.well-known/
/// openid-configuration`, under the path anyway) metadata URLs. Everything else is the
/// default tenant's, so a single-tenant server is exactly [`router`].
pub fn tenants_router(apps: &[AppState]) -> Router {
    let mut routers = apps
        .iter()
        .map(|app| (app.issuer.path().to_owned(), router(app.clone())));
    let Some((_, default)) = routers.next() else {
        return Router::new().fallback(not_found);
    };
    let tenants: std::sync::Arc<[(String, Router)]> = routers.collect();
    if tenants.is_empty() {
        return default;
    }
    let dispatch = tower::service_fn(move |request: Request| {
        let path = request.uri().path();
        let chosen = tenants
            .iter()
            .find(|(issuer_path, _)| names_issuer(issuer_path, path))
            .map_or(&default, |(_, router)| router)
            .clone();
        async move { tower::ServiceExt::oneshot(chosen, request).await }
    });
    Router::new().fallback_service(dispatch)
}

/// Whether a request for `path` is for the issuer whose path is `issuer_path` (not empty).
fn names_issuer(issuer_path: &str, path: &str) -> bool {
    let under = path
        .strip_prefix(issuer_path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    under
        || [endpoints::OAUTH_METADATA, endpoints::OPENID_CONFIGURATION]
            .iter()
            .any(|known| path.strip_prefix(known) == Some(issuer_path))
}

/// 200 when the server can reach its database, 503 otherwise.
async fn health(axum::extract::State(app): axum::extract::State<AppState>) -> impl IntoResponse {
    let (status, body) = match app.store.ping().await {
        Ok(()) => (StatusCode::OK, r#"{"status":"ok"}"#),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"the database does not answer"}"#,
            )
        }
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"not_found","error_description":"no such endpoint; the metadata document lists them"}"#,
    )
}

/// The peer address of a request as an extractor; `None` when the server was started
/// without connection info.
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

/// The peer address of a request, when the server was started with connection info.
pub(crate) fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::names_issuer;

    #[test]
    fn a_request_goes_to_the_tenant_whose_issuer_it_names() {
        for path in [
            "/t/acme",
            "/t/acme/token",
            "/t/acme/_tollgate/api/clock",
            "/t/acme/.well-known/openid-configuration",
            // RFC 8414 §3.1 and OpenID path insertion (MD-2, MD-9).
            "/.well-known/oauth-authorization-server/t/acme",
            "/.well-known/openid-configuration/t/acme",
        ] {
            assert!(names_issuer("/t/acme", path), "{path}");
        }
        for path in [
            "/token",
            "/t/acme-eu/token",
            "/t/acmetoken",
            "/t",
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/t/acme/x",
            "/.well-known/oauth-authorization-server/t/acme-eu",
            "/x/t/acme/token",
        ] {
            assert!(!names_issuer("/t/acme", path), "{path}");
        }
    }
}
