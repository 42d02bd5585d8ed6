//! The console's pages about what the server holds: clients (with their registration
//! metadata), users, signing keys, resources. Never a secret: no client secret or its
//! digest, no password or its hash, no private key (the views carry none of them).

use super::view::{ClientCard, Frame, Time, consent_label};
use crate::http::error::ApiError;
use crate::http::html::render;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage<'a> {
    frame: Frame<'a>,
    clients: Vec<ClientCard>,
    registration_open: bool,
}

pub async fn clients(State(app): State<AppState>) -> Result<Response, ApiError> {
    let frame = Frame::new(&app, "clients");
    let mut clients: Vec<ClientCard> = app
        .store
        .all_clients()
        .await?
        .iter()
        .map(|client| ClientCard::new(client, &frame))
        .collect();
    // Newest first: the client a developer just registered is at the top.
    clients.reverse();
    let page = ClientsPage {
        frame,
        clients,
        registration_open: app.config.registration.open,
    };
    Ok(render(&page, StatusCode::OK))
}

struct UserRow {
    subject: String,
    name: Option<String>,
    has_password: bool,
    /// The extra claims: name and value (a string as it is, anything else as JSON).
    claims: Vec<(String, String)>,
    /// Who automatic consent approves as.
    approves: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage<'a> {
    frame: Frame<'a>,
    users: Vec<UserRow>,
    consent_mode: &'static str,
}

pub async fn users(State(app): State<AppState>) -> Result<Response, ApiError> {
    let approver = app
        .config
        .consent
        .user
        .as_deref()
        .unwrap_or(crate::oauth::consent::DEFAULT_USER);
    let users = app
        .users
        .all()
        .map(|user| UserRow {
            subject: user.subject.clone(),
            name: user.name.clone(),
            has_password: app.users.needs_password(&user.subject),
            claims: user
                .claims
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), value)
                })
                .collect(),
            approves: user.subject == approver,
        })
        .collect();
    let page = UsersPage {
        frame: Frame::new(&app, "users"),
        users,
        consent_mode: consent_label(app.config.consent.mode),
    };
    Ok(render(&page, StatusCode::OK))
}

struct KeyRow {
    kid: String,
    /// `active`, `published` (retired, still in the JWKS), `retired` (no longer
    /// published) or `inactive`.
    state: &'static str,
    /// Whether this server signs with it now.
    signing: bool,
    created: Time,
    retired: Option<Time>,
    /// When a retired key leaves the JWKS.
    leaves: Option<Time>,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage<'a> {
    frame: Frame<'a>,
    keys: Vec<KeyRow>,
    grace: String,
    jwks_url: String,
}

pub async fn keys(State(app): State<AppState>) -> Result<Response, ApiError> {
    let now = app.now();
    let grace_period = app.config.key_grace_period();
    let grace = i64::try_from(grace_period.as_secs()).unwrap_or(i64::MAX);
    let signing = app.keys.current().active.kid().to_owned();
    // The stored keys hold private keys: only ids and dates leave this function.
    let keys = app
        .store
        .all_keys()
        .await?
        .into_iter()
        .map(|key| {
            let leaves = key.retired_at.map(|r| r.saturating_add(grace));
            KeyRow {
                state: match (key.active, leaves) {
                    (true, _) => "active",
                    (false, Some(leaves)) if leaves > now => "published",
                    (false, Some(_)) => "retired",
                    (false, None) => "inactive",
                },
                signing: key.kid == signing,
                created: Time::from_seconds(key.created_at),
                retired: key.retired_at.map(Time::from_seconds),
                leaves: leaves.map(Time::from_seconds),
                kid: key.kid,
            }
        })
        .collect();
    let page = KeysPage {
        frame: Frame::new(&app, "keys"),
        keys,
        grace: crate::config::duration::format(&grace_period),
        jwks_url: app.issuer.endpoint(crate::oauth::endpoints::JWKS),
    };
    Ok(render(&page, StatusCode::OK))
}

struct ResourceRow {
    url: String,
    scopes: Vec<String>,
    default_scopes: Vec<String>,
    default_audience: bool,
}

#[derive(Template)]
#[template(path = "console/resources.html")]
struct ResourcesPage<'a> {
    frame: Frame<'a>,
    resources: Vec<ResourceRow>,
    default_audience: &'a str,
}

pub async fn resources(State(app): State<AppState>) -> Result<Response, ApiError> {
    let resources = app
        .config
        .resources
        .iter()
        .map(|resource| ResourceRow {
            url: resource.url.clone(),
            scopes: resource.scope_names().map(str::to_owned).collect(),
            default_scopes: resource.default_scopes.clone(),
            default_audience: resource.url == app.default_audience,
        })
        .collect();
    let page = ResourcesPage {
        frame: Frame::new(&app, "resources"),
        resources,
        default_audience: &app.default_audience,
    };
    Ok(render(&page, StatusCode::OK))
}
