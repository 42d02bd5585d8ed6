//! `POST /device_authorization` (RFC 8628 §3.1, §3.2): a client that registered the device
//! grant, public or confidential, authenticated as at the token endpoint, gets a device code
//! to poll with and a user code for its user, for the resources and scope it asked for, by
//! the rules of the authorization endpoint (RFC 8707, RFC 6749 §3.3).

use crate::http::client_auth;
use crate::http::error::ApiError;
use crate::http::form::OAuthForm;
use crate::oauth::device::{self, DeviceGrant, DeviceStatus};
use crate::oauth::endpoints;
use crate::oauth::grant_type::GrantType;
use crate::oauth::resource;
use crate::oauth::scope::{self, Scope};
use crate::secret::{Secret, random_bytes};
use crate::services::events;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

/// RFC 8628 §3.2.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorizationResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

/// Tries at making a user code that no live authorization has (collisions among 20^8 codes
/// are rare; three in a row mean something else is wrong).
const USER_CODE_TRIES: usize = 3;

pub async fn device_authorization(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(params): OAuthForm,
) -> Result<Json<DeviceAuthorizationResponse>, ApiError> {
    let client =
        client_auth::authenticate(&app, &headers, &params, endpoints::DEVICE_AUTHORIZATION).await?;
    client.metadata.require_grant(GrantType::DeviceCode)?;
    // Each device authorization is a flow: the event log follows it through the page, the
    // polls and the tokens.
    let flow_id = uuid::Uuid::now_v7().to_string();
    events::set_flow(&flow_id);
    let resources = resource::resolve_requested(
        params.all("resource")?,
        &app.config.resources,
        &app.default_audience,
    )?;
    let scope = match params.get("scope")? {
        Some(requested) => Scope::parse(Some(requested))?,
        None => resource::default_scope(
            &resources,
            &app.config.resources,
            &client.policy.allowed_scopes,
        ),
    };
    resource::check_scope(&scope, &resources, &app.config.resources)?;
    scope::check_client_allows(&scope, &client.policy.allowed_scopes)?;
    let now = app.now();
    let device_code = Secret::generate();
    let mut grant = DeviceGrant {
        device_code_digest: device_code.digest(),
        user_code: String::new(),
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        resources,
        created_at: now,
        expires_at: now.saturating_add(app.config.device.lifetime_secs()),
        interval: app.config.device.interval_secs(),
        last_poll_at: None,
        status: DeviceStatus::Pending,
        subject: None,
        decided_at: None,
        flow_id: Some(flow_id),
    };
    let mut stored = false;
    for _ in 0..USER_CODE_TRIES {
        let Some(user_code) = device::user_code_from(random_bytes::<32>()) else {
            continue;
        };
        grant.user_code = user_code;
        if app.store.insert_device_authorization(&grant).await? {
            stored = true;
            break;
        }
    }
    if !stored {
        return Err(ApiError::Internal(
            "no unused user code could be made for a device authorization".into(),
        ));
    }
    events::detail("scope", grant.scope.as_str());
    events::detail("resources", grant.resources.as_slice());
    events::detail("expires_at", grant.expires_at);
    let user_code = device::display_user_code(&grant.user_code);
    let verification_uri = app.issuer.endpoint(endpoints::DEVICE);
    Ok(Json(DeviceAuthorizationResponse {
        device_code: device_code.expose().to_owned(),
        // RFC 8628 §3.3.1: the complete URI carries the code, for a QR code or a link.
        verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
        user_code,
        verification_uri,
        expires_in: grant.expires_at - now,
        interval: grant.interval,
    }))
}
