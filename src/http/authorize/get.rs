//! `GET /authorize`: validate the request, then show the consent page.

use super::page;
use super::{
    Approval, PageError, REQUEST_TTL_SECS, browser, check_user_policy, issue_code,
    refuse_before_consent, render_error,
};
use crate::config::ConsentMode;
use crate::http::PeerIp;
use crate::http::html::render;
use crate::oauth::authorize::{self, Policy, Rejection, ValidRequest};
use crate::oauth::client::Client;
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::EventType;
use crate::oauth::params::Params;
use crate::oauth::rules;
use crate::secret::Secret;
use crate::services::clients::ClientError;
use crate::services::events;
use crate::state::{App, AppState};
use crate::store::AuthorizationRequest;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

pub async fn authorize(
    State(app): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    match show_consent(&app, peer, &headers, &params).await {
        Ok(response) => response,
        Err(error) => render_error(&app, error).await,
    }
}

async fn show_consent(
    app: &App,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, PageError> {
    // Each authorization request starts a flow: the event log follows it through the
    // consent, the code, the tokens and every refresh.
    let flow_id = uuid::Uuid::now_v7().to_string();
    events::set_flow(&flow_id);
    events::detail("parameters", params.to_json());
    let client_id = params
        .get("client_id")
        .map_err(PageError::bad_request)?
        .ok_or_else(|| {
            PageError::bad_request(OAuthError::invalid_request(
                "client_id is missing from the authorization request (OAuth 2.1 §4.1.1)",
            ))
        })?;
    events::set_client(client_id);
    let client = match app.clients.find(client_id).await {
        Ok(client) => client,
        Err(ClientError::Unknown) => {
            let hint = app.clients.unknown_client_hint(client_id);
            let advice = match &hint {
                // It looks like a metadata document URL: registering is not what is missing.
                Some(hint) => format!(": {hint}"),
                None => format!(
                    "; register it first (POST {}) or use the client_id the registration \
                     returned",
                    app.issuer.endpoint(endpoints::REGISTER)
                ),
            };
            return Err(PageError::bad_request(
                OAuthError::invalid_client(format!(
                    "no client with client_id '{client_id}' is registered here{advice}"
                ))
                .rule(&rules::AZ_5)
                .hint(hint),
            ));
        }
        Err(ClientError::Document(error)) => return Err(PageError::bad_request(error)),
        Err(ClientError::Store(error)) => return Err(error.into()),
    };
    let policy = Policy {
        resources: &app.config.resources,
        default_audience: &app.default_audience,
        client_scopes: &client.policy.allowed_scopes,
        redirect_schemes: app.config.registration.redirect_schemes,
    };
    let request = match authorize::validate(params, &client.metadata, &policy) {
        Ok(request) => request,
        Err(Rejection::ShowPage(error)) => return Err(PageError::bad_request(error)),
        Err(Rejection::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            tracing::debug!(client_id, error = %error, "authorization request refused");
            return Ok(refuse_before_consent(
                &app.issuer,
                &client,
                &redirect_uri,
                state.as_deref(),
                &error,
            ));
        }
    };

    let mode = client.policy.consent.unwrap_or(app.config.consent.mode);
    let refuse = |error: OAuthError| {
        Ok(refuse_before_consent(
            &app.issuer,
            &client,
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
        ))
    };
    match mode {
        ConsentMode::Deny => refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "denied without asking: this server's consent mode for the client is 'deny'",
        )),
        ConsentMode::Auto => {
            let subject = match authorize::auto_approver(
                &client.client_id,
                request.login_hint.as_deref(),
                client.policy.user.as_deref(),
                app.config.consent.user.as_deref(),
                |subject| app.user(subject).is_some(),
            ) {
                Ok(subject) => subject,
                Err(error) => {
                    tracing::warn!(client_id, error = %error, "automatic consent refused");
                    return refuse(error);
                }
            };
            if let Err(error) = check_user_policy(app, subject, &request.scope.to_string()) {
                events::set_user(subject);
                return refuse(error);
            }
            let approval = Approval {
                client_id: &client.client_id,
                subject,
                redirect_uri: &request.redirect_uri,
                state: request.state.as_deref(),
                code_challenge: request.code_challenge.as_str(),
                scope: &request.scope.to_string(),
                resources: &request.resources,
                nonce: request.nonce.as_deref(),
                flow_id: &flow_id,
            };
            events::set_user(subject);
            events::step(EventType::ConsentApproved, |event| {
                event.description = Some(format!(
                    "approved without asking as '{subject}' (consent mode 'auto')"
                ));
            });
            issue_code(app, approval, StatusCode::FOUND).await
        }
        ConsentMode::Prompt if request.prompt_none => refuse(OAuthError::new(
            ErrorCode::InteractionRequired,
            "prompt=none was requested, but this request needs the user to approve it on the \
             consent page (consent mode 'prompt')",
        )),
        ConsentMode::Prompt => {
            limit_pending(app, peer)?;
            consent_page(app, headers, &client, request, &flow_id).await
        }
    }
}

/// Each consent page stores its request until the user decides or it expires
/// (`REQUEST_TTL_SECS`): one source may store `limits.authorizations_per_minute` of them.
fn limit_pending(app: &App, peer: Option<IpAddr>) -> Result<(), PageError> {
    let Some(ip) = peer else {
        return Ok(());
    };
    app.authorization_limiter
        .check(&ip)
        .map_err(|retry_after| PageError::Retry {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            error: OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "too many authorization requests from {ip}: this server stores at most {} \
                     waiting for consent per address per minute (limits.\
                     authorizations_per_minute); try again in {retry_after} s",
                    app.config.limits.authorizations_per_minute
                ),
            )
            .hint(Some(
                "each consent page keeps its request stored until it is decided or expires; \
                 a client that opens consent pages in a loop should stop and reuse one, and a \
                 test that needs more should raise limits.authorizations_per_minute (0: no \
                 limit) or use consent mode 'auto'"
                    .to_owned(),
            )),
        })
}

/// Stores the pending request and shows the consent page.
async fn consent_page(
    app: &App,
    headers: &HeaderMap,
    client: &Client,
    request: ValidRequest,
    flow_id: &str,
) -> Result<Response, PageError> {
    let csrf_token = Secret::generate();
    let (browser, set_cookie) = browser::read_or_create(headers, &app.issuer);
    let pending = AuthorizationRequest {
        id: uuid::Uuid::new_v4().to_string(),
        csrf_digest: csrf_token.digest(),
        browser_digest: browser.digest(),
        client_id: client.client_id.clone(),
        redirect_uri: request.redirect_uri,
        state: request.state,
        code_challenge: request.code_challenge.as_str().to_owned(),
        scope: request.scope.to_string(),
        resources: request.resources.clone(),
        nonce: request.nonce,
        expires_at: app.now() + REQUEST_TTL_SECS,
        flow_id: Some(flow_id.to_owned()),
    };
    app.store.insert_authorization_request(&pending).await?;
    events::step(EventType::ConsentShown, |event| {
        event.detail("redirect_uri", pending.redirect_uri.as_str());
        event.detail("scope", pending.scope.as_str());
        event.detail("resources", pending.resources.as_slice());
    });

    let page = page::consent_page(
        app,
        client,
        &pending,
        csrf_token.expose(),
        request.login_hint.as_deref(),
        None,
    )
    .await?;
    let mut response = render(&page, StatusCode::OK);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response.into_response())
}
