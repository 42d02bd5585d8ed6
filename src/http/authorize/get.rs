//! `GET /authorize`: validate the request, then show the consent page.

use super::page::{ConsentPage, ScopeView};
use super::{
    Approval, PageError, REQUEST_TTL_SECS, browser, check_user_policy, issue_code,
    refuse_before_consent, render_error,
};
use crate::config::{ConsentMode, DEFAULT_USER};
use crate::http::html::render;
use crate::oauth::authorize::{self, Policy, Rejection, ValidRequest};
use crate::oauth::client::Client;
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::EventType;
use crate::oauth::params::Params;
use crate::oauth::redirect_uri;
use crate::oauth::resource;
use crate::oauth::rules;
use crate::secret::Secret;
use crate::services::clients::ClientError;
use crate::services::events;
use crate::state::{App, AppState};
use crate::store::AuthorizationRequest;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn authorize(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    match show_consent(&app, &headers, &params).await {
        Ok(response) => response,
        Err(error) => render_error(&app.issuer, error),
    }
}

async fn show_consent(
    app: &App,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, PageError> {
    // Each authorization request starts a flow: the event log follows it through the
    // consent, the code, the tokens and every refresh.
    let flow_id = uuid::Uuid::new_v4().to_string();
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
        ConsentMode::Prompt => consent_page(app, headers, &client, request, &flow_id).await,
    }
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
    let scopes = request.scope.clone();
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

    let app_scheme = match redirect_uri::destination(&pending.redirect_uri) {
        Some(redirect_uri::Destination::App { scheme }) => Some(scheme),
        _ => None,
    };
    let page = ConsentPage {
        issuer: app.issuer.as_str(),
        action: format!("{}{}", app.issuer.path(), endpoints::AUTHORIZE),
        client_name: client
            .metadata
            .client_name
            .as_deref()
            .unwrap_or(&client.client_id),
        client_id: &client.client_id,
        // CIMD §6.4: for a metadata document client, who published it.
        client_host: app
            .clients
            .is_document_client(&client.client_id)
            .then(|| redirect_uri::display_host(&client.client_id)),
        redirect_uri: &pending.redirect_uri,
        redirect_host: match app_scheme {
            Some(_) => "an application on this computer".to_owned(),
            None => redirect_uri::display_host(&pending.redirect_uri),
        },
        loopback_redirect: redirect_uri::is_loopback(&pending.redirect_uri),
        app_scheme,
        scopes: scopes
            .iter()
            .map(|name| {
                let info = resource::scope_info(name, &pending.resources, &app.config.resources);
                ScopeView {
                    name: name.to_owned(),
                    description: info.description,
                    optional: info.optional,
                }
            })
            .collect(),
        resources: &pending.resources,
        users: app
            .users
            .all()
            .map(|u| (u.subject.as_str(), u.display_name()))
            .collect(),
        selected_user: request
            .login_hint
            .as_deref()
            .filter(|hint| app.user(hint).is_some())
            .unwrap_or(DEFAULT_USER),
        ask_password: app
            .users
            .all()
            .any(|u| app.users.needs_password(&u.subject)),
        request_id: &pending.id,
        csrf_token: csrf_token.expose(),
        flow_url: app
            .console
            .as_ref()
            .map(|console| console.flow_url(flow_id)),
    };
    let mut response = render(&page, StatusCode::OK);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response.into_response())
}
