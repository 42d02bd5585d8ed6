//! `POST /authorize`: the user's decision on the consent page.

use super::{
    Approval, PageError, REQUEST_TTL_SECS, browser, check_user_policy, issue_code, page,
    redirect_error, render_error,
};
use crate::http::html::render;
use crate::oauth::consent;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::{EventType, Outcome};
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::secret::{Secret, token_digest};
use crate::services::events;
use crate::services::throttle::Attempted;
use crate::state::{App, AppState};
use crate::store::AuthorizationRequest;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

pub async fn decide(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(&body);
    match record_decision(&app, &headers, &form).await {
        Ok(response) => response,
        Err(error) => {
            // The refusal belongs to the flow of the form, when the form names one.
            if let Ok(Some(id)) = form.get("request_id") {
                if let Ok(Some(pending)) = app.store.authorization_request(id).await {
                    follow(&pending);
                }
            }
            render_error(&app, error).await
        }
    }
}

/// Puts the request event into the pending request's flow.
fn follow(pending: &AuthorizationRequest) {
    events::set_client(&pending.client_id);
    if let Some(flow) = &pending.flow_id {
        events::set_flow(flow);
    }
}

enum Decision<'a> {
    Approve {
        subject: &'a str,
    },
    /// Denying needs no password; the user chosen on the page, if any, is who denied.
    Deny {
        subject: Option<&'a str>,
    },
}

async fn record_decision(
    app: &App,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Response, PageError> {
    let field = |name: &str| -> Result<&str, PageError> {
        form.get(name)
            .map_err(PageError::bad_request)?
            .ok_or_else(|| {
                PageError::bad_request(OAuthError::invalid_request(format!(
                    "the consent form is missing '{name}'; submit the form Tollgate showed"
                )))
            })
    };
    let request_id = field("request_id")?;
    let csrf_token = field("csrf_token")?;
    let Some(browser) = browser::read(headers, &app.issuer) else {
        return Err(forbidden(
            "the consent form came without its browser cookie: submit it from the browser \
             that opened it, with cookies enabled (CSRF protection)",
        ));
    };
    let (csrf_digest, browser_digest) = (token_digest(csrf_token), browser.digest());
    let now = app.now();
    let decision = match field("decision")? {
        "approve" => {
            let subject = field("user")?;
            if app.user(subject).is_none() {
                return Err(PageError::bad_request(OAuthError::invalid_request(
                    format!("'{subject}' is not a user of this server"),
                )));
            }
            // With a password to check, the form is verified first (issue 20, item 3):
            // otherwise anyone could make the server run argon2 (19 MiB, milliseconds)
            // without a form, and use the page as a password oracle. The request is only read
            // here; it is taken below, once, so a user who mistyped the password can try
            // again. Without a password, taking it below verifies the form alone, and the
            // read would be one more round trip to the database per approval (issue 18).
            if app.users.needs_password(subject) {
                let pending = app.store.authorization_request(request_id).await?;
                if !pending.as_ref().is_some_and(|pending| {
                    pending.expires_at > now
                        && digests_match(&pending.csrf_digest, &csrf_digest)
                        && digests_match(&pending.browser_digest, &browser_digest)
                }) {
                    let again = Again::expired(request_id, csrf_token, Some(subject));
                    if let Some(page) = show_again(app, headers, again).await? {
                        return Ok(page);
                    }
                    return Err(why_unusable(app, request_id, now).await?);
                }
                if let Err(error) = check_password(app, subject, form).await {
                    // A wrong password is a mistake to correct, not a dead end: the same form
                    // again, with the message, as long as it is this browser's form.
                    let PageError::Shown { status, error } = error else {
                        return Err(error);
                    };
                    let again = Again {
                        request_id,
                        csrf_token,
                        subject: Some(subject),
                        notice: error.description.to_string(),
                        status,
                    };
                    events::reject(&error);
                    return match show_again(app, headers, again).await? {
                        Some(page) => Ok(page),
                        None => Err(PageError::Shown { status, error }),
                    };
                }
            }
            Decision::Approve { subject }
        }
        "deny" => Decision::Deny {
            subject: form
                .get("user")
                .ok()
                .flatten()
                .filter(|subject| app.user(subject).is_some()),
        },
        other => {
            return Err(PageError::bad_request(OAuthError::invalid_request(
                format!("decision must be 'approve' or 'deny', not '{other}'"),
            )));
        }
    };
    let Some(request) = app
        .store
        .take_authorization_request(request_id, &csrf_digest, &browser_digest, now)
        .await?
    else {
        let again = Again::expired(request_id, csrf_token, form.get("user").ok().flatten());
        if let Some(page) = show_again(app, headers, again).await? {
            return Ok(page);
        }
        return Err(why_unusable(app, request_id, now).await?);
    };

    follow(&request);
    let flow_id = request.flow_id.clone().unwrap_or_default();
    match decision {
        Decision::Deny { subject } => {
            tracing::info!(client_id = %request.client_id, "the user denied a request");
            if let Some(subject) = subject {
                events::set_user(subject);
            }
            events::step(EventType::ConsentDenied, |event| {
                event.outcome = Outcome::Rejected;
                event.error = Some(ErrorCode::AccessDenied.as_str().to_owned());
                event.description = Some("the user denied the request".to_owned());
            });
            let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            Ok(redirect_error(
                &app.issuer,
                &request.redirect_uri,
                request.state.as_deref(),
                &error,
                StatusCode::SEE_OTHER,
            ))
        }
        Decision::Approve { subject } => {
            events::set_user(subject);
            // SCP-3: the optional scopes the user unticked are left out of the grant.
            let kept = form.all("scope").map_err(PageError::bad_request)?;
            let (scope, left_out) = consent::approved_scope(
                &Scope::from_stored(&request.scope),
                &request.resources,
                &app.config.resources,
                &kept,
            );
            let scope = scope.to_string();
            if let Err(error) = check_user_policy(app, subject, &scope) {
                tracing::info!(client_id = %request.client_id, "refused by the user's scope policy");
                return Ok(redirect_error(
                    &app.issuer,
                    &request.redirect_uri,
                    request.state.as_deref(),
                    &error,
                    StatusCode::SEE_OTHER,
                ));
            }
            events::step(EventType::ConsentApproved, |event| {
                if !left_out.is_empty() {
                    event.description = Some(format!(
                        "approved without the optional scopes {} the user unticked (SCP-3)",
                        left_out.join(" ")
                    ));
                    event.detail("left_out", left_out.as_slice());
                }
            });
            let approval = Approval {
                client_id: &request.client_id,
                subject,
                redirect_uri: &request.redirect_uri,
                state: request.state.as_deref(),
                code_challenge: &request.code_challenge,
                scope: &scope,
                resources: &request.resources,
                nonce: request.nonce.as_deref(),
                flow_id: &flow_id,
            };
            issue_code(app, approval, StatusCode::SEE_OTHER).await
        }
    }
}

/// A user with a password must give it; wrong guesses are throttled like client secrets.
/// Checked before the form is used up, so the user can go back and try again.
pub(crate) async fn check_password(
    app: &App,
    subject: &str,
    form: &Params,
) -> Result<(), PageError> {
    if !app.users.needs_password(subject) {
        return Ok(());
    }
    let attempt = app
        .client_auth_throttle
        .attempt(Attempted::UserPassword(subject))
        .map_err(|retry_after| PageError::Shown {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!("too many wrong passwords for '{subject}'; try again in {retry_after} s"),
            ),
        })?;
    let password = form
        .get("password")
        .map_err(PageError::bad_request)?
        .unwrap_or_default();
    if app.users.verify_password(subject, password).await {
        attempt.succeeded();
        return Ok(());
    }
    Err(PageError::Shown {
        status: StatusCode::FORBIDDEN,
        error: OAuthError::new(
            ErrorCode::AccessDenied,
            format!("wrong password for '{subject}': type it again"),
        ),
    })
}

/// Compares two digests in constant time.
fn digests_match(stored: &str, presented: &str) -> bool {
    stored.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// Explains why a consent form could not be used.
async fn why_unusable(app: &App, request_id: &str, now: i64) -> Result<PageError, PageError> {
    Ok(match app.store.authorization_request(request_id).await? {
        Some(pending) if pending.expires_at > now => forbidden(
            "this consent form does not belong to this browser session (the CSRF token or the \
             browser cookie does not match); start again from the application",
        ),
        _ => PageError::Form {
            status: StatusCode::BAD_REQUEST,
            error: OAuthError::invalid_request(
                "this consent form has expired or was already submitted; start again from the \
                 application",
            ),
        },
    })
}

fn forbidden(description: &'static str) -> PageError {
    PageError::Form {
        status: StatusCode::FORBIDDEN,
        error: OAuthError::invalid_request(description),
    }
}

/// What the page says when an expired form comes back.
const EXPIRED: &str = "This form had expired (a form lasts 10 minutes), so nothing was \
                       decided. Here it is again: check the request and decide.";

/// A consent form to show again, and why.
struct Again<'a> {
    request_id: &'a str,
    csrf_token: &'a str,
    subject: Option<&'a str>,
    notice: String,
    status: StatusCode,
}

impl<'a> Again<'a> {
    /// An expired form of this browser is shown again, renewed, rather than refused.
    fn expired(request_id: &'a str, csrf_token: &'a str, subject: Option<&'a str>) -> Self {
        Again {
            request_id,
            csrf_token,
            subject,
            notice: EXPIRED.to_owned(),
            status: StatusCode::OK,
        }
    }
}

/// Shows the consent page of a pending request again, with a message: only for the browser
/// the form was made for (its cookie and its CSRF token both match), so that this never
/// shows anyone else's request. A form that expired meanwhile is renewed: a new request id,
/// a new CSRF token and a new lifetime, the same authorization request. `None` when the
/// form is not this browser's or is gone (used, or the client deleted).
async fn show_again(
    app: &App,
    headers: &HeaderMap,
    again: Again<'_>,
) -> Result<Option<Response>, PageError> {
    let Some(browser) = browser::read(headers, &app.issuer) else {
        return Ok(None);
    };
    let Some(pending) = app.store.authorization_request(again.request_id).await? else {
        return Ok(None);
    };
    if !digests_match(&pending.csrf_digest, &token_digest(again.csrf_token))
        || !digests_match(&pending.browser_digest, &browser.digest())
    {
        return Ok(None);
    }
    let Ok(client) = app.clients.find(&pending.client_id).await else {
        return Ok(None);
    };
    follow(&pending);
    let now = app.now();
    let renewed_token;
    let (pending, csrf_token) = if pending.expires_at <= now {
        let token = Secret::generate();
        let renewed = AuthorizationRequest {
            id: uuid::Uuid::new_v4().to_string(),
            csrf_digest: token.digest(),
            expires_at: now + REQUEST_TTL_SECS,
            ..pending
        };
        app.store.insert_authorization_request(&renewed).await?;
        events::step(EventType::ConsentShown, |event| {
            event.description = Some("an expired consent form, shown again renewed".to_owned());
            event.detail("redirect_uri", renewed.redirect_uri.as_str());
            event.detail("scope", renewed.scope.as_str());
            event.detail("resources", renewed.resources.as_slice());
        });
        renewed_token = token;
        (renewed, renewed_token.expose())
    } else {
        (pending, again.csrf_token)
    };
    let page = page::consent_page(
        app,
        &client,
        &pending,
        csrf_token,
        again.subject,
        Some(again.notice),
    )
    .await?;
    Ok(Some(render(&page, again.status)))
}
