//! The verification page (RFC 8628 §3.3; checklist DEV-1, DEV-4). `GET /device` asks for the
//! user code, or, given one (typed, or in `verification_uri_complete`), shows what the device
//! asks for with the code itself to compare (§3.3.1, §5.4: the user confirms the code on the
//! device is this one). `POST /device` records the decision under the consent page's rules:
//! the form's CSRF token and the browser cookie must both match, users with a password give
//! it. Wrong codes are counted per source address and refused once too many (§5.1).

use crate::http::authorize::page::{
    ClientView, ResourceView, ScopeView, UserView, client_view, resource_views, scope_views,
    user_views,
};
use crate::http::authorize::{PageError, browser, check_password, render_error};
use crate::http::client_ip;
use crate::http::html::render;
use crate::oauth::device::{self, DeviceGrant, DeviceStatus};
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::{EventType, Outcome};
use crate::oauth::params::Params;
use crate::oauth::rules;
use crate::oauth::scope::Scope;
use crate::secret::{Secret, token_digest};
use crate::services::events;
use crate::services::throttle::Attempted;
use crate::state::{App, AppState};
use crate::store::{DeviceDecision, PageBinding};
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    issuer: &'a str,
    action: String,
    /// Why the last code was not accepted.
    error: Option<String>,
    /// The code as typed, to type again.
    typed: String,
    confirm: Option<Confirm>,
    /// The decision, once made.
    done: Option<&'static str>,
}

struct Confirm {
    user_code: String,
    client: ClientView,
    client_id: String,
    scopes: Vec<ScopeView>,
    step_up: bool,
    resources: Vec<ResourceView>,
    users: Vec<UserView>,
    ask_password: bool,
    selected_user: String,
    csrf_token: String,
    flow_url: Option<String>,
}

impl<'a> DevicePage<'a> {
    fn new(app: &'a App) -> Self {
        DevicePage {
            issuer: app.issuer.as_str(),
            action: format!("{}{}", app.issuer.path(), endpoints::DEVICE),
            error: None,
            typed: String::new(),
            confirm: None,
            done: None,
        }
    }
}

/// `GET /device[?user_code=...]`.
pub async fn verify(State(app): State<AppState>, request: Request) -> Response {
    let source = client_ip(&request)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let params = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
    let typed = match params.get("user_code") {
        Ok(Some(typed)) => typed,
        Ok(None) => return render(&DevicePage::new(&app), StatusCode::OK),
        Err(error) => return render_error(&app, PageError::bad_request(error)).await,
    };
    match confirm_page(&app, request.headers(), typed, &source).await {
        Ok(response) => response,
        Err(error) => render_error(&app, error).await,
    }
}

async fn confirm_page(
    app: &App,
    headers: &HeaderMap,
    typed: &str,
    source: &str,
) -> Result<Response, PageError> {
    let attempt = app
        .user_code_throttle
        .attempt(Attempted::UserCode(source))
        .map_err(|retry_after| PageError::Shown {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "too many wrong user codes from this address; try again in {retry_after} s \
                     (RFC 8628 §5.1)"
                ),
            )
            .rule(&rules::DEV_1),
        })?;
    let now = app.now();
    let found = match device::normalize_user_code(typed) {
        Some(code) => app.store.device_grant_by_user_code(&code).await?,
        None => None,
    };
    let grant = match found {
        Some(grant) if grant.status == DeviceStatus::Pending && grant.expires_at > now => grant,
        other => {
            // The attempt stays counted: an unknown, used or expired code is a wrong guess.
            let why = match other {
                None => {
                    "That is not a code Tollgate gave out. Check the code on your device and type it again."
                }
                Some(grant) if grant.expires_at <= now => {
                    "That code has expired. Start again on your device."
                }
                Some(_) => "That code was already used. Start again on your device if you need to.",
            };
            events::reject(&OAuthError::invalid_request(why).rule(&rules::DEV_1));
            let page = DevicePage {
                error: Some(why.to_owned()),
                typed: typed.chars().take(20).collect(),
                ..DevicePage::new(app)
            };
            return Ok(render(&page, StatusCode::BAD_REQUEST));
        }
    };
    attempt.succeeded();
    follow(&grant);
    let csrf_token = Secret::generate();
    let (browser, set_cookie) = browser::read_or_create(headers, &app.issuer);
    let binding = PageBinding {
        csrf_digest: &csrf_token.digest(),
        browser_digest: &browser.digest(),
    };
    app.store
        .bind_device_page(&grant.user_code, binding, now)
        .await?;
    events::step(EventType::ConsentShown, |event| {
        event.detail("scope", grant.scope.as_str());
        event.detail("resources", grant.resources.as_slice());
    });
    let Some(client) = app.store.client(&grant.client_id).await? else {
        return Err(PageError::bad_request(OAuthError::invalid_client(
            "the client that started this sign-in no longer exists",
        )));
    };
    let granted_before = app.store.granted_scopes(&grant.client_id).await?;
    let scopes = scope_views(
        &Scope::from_stored(&grant.scope),
        &grant.resources,
        &app.config.resources,
        &granted_before,
    );
    let page = DevicePage {
        confirm: Some(Confirm {
            user_code: device::display_user_code(&grant.user_code),
            client: client_view(&client),
            client_id: grant.client_id.clone(),
            step_up: scopes.iter().any(|s| s.new),
            scopes,
            resources: resource_views(app, &grant.resources),
            users: user_views(app),
            ask_password: app
                .users
                .all()
                .any(|u| app.users.needs_password(&u.subject)),
            selected_user: crate::oauth::consent::preselected_user(
                None,
                client.policy.user.as_deref(),
                app.config.consent.user.as_deref(),
                |subject| app.user(subject).is_some(),
            )
            .to_owned(),
            csrf_token: csrf_token.expose().to_owned(),
            flow_url: (app.console.as_ref())
                .zip(grant.flow_id.as_deref())
                .map(|(console, flow)| console.flow_url(flow)),
        }),
        ..DevicePage::new(app)
    };
    let mut response = render(&page, StatusCode::OK);
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn follow(grant: &DeviceGrant) {
    events::set_client(&grant.client_id);
    if let Some(flow) = &grant.flow_id {
        events::set_flow(flow);
    }
}

/// `POST /device`: the user's decision.
pub async fn decide(State(app): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, crate::http::error::BODY_LIMIT_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let form = Params::parse(&body);
    match record_decision(&app, &parts.headers, &form).await {
        Ok(response) => response,
        Err(error) => render_error(&app, error).await,
    }
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
                    "the verification form is missing '{name}'; submit the form Tollgate showed"
                )))
            })
    };
    let user_code = device::normalize_user_code(field("user_code")?).ok_or_else(|| {
        PageError::bad_request(OAuthError::invalid_request("user_code is not a user code"))
    })?;
    let csrf_token = field("csrf_token")?;
    let forbidden = |why: &'static str| PageError::Form {
        status: StatusCode::FORBIDDEN,
        error: OAuthError::invalid_request(why).rule(&rules::DEV_4),
    };
    let Some(browser) = browser::read(headers, &app.issuer) else {
        return Err(forbidden(
            "the verification form came without its browser cookie: submit it from the \
             browser that opened it, with cookies enabled (CSRF protection)",
        ));
    };
    let now = app.now();
    let (csrf_digest, browser_digest) = (token_digest(csrf_token), browser.digest());
    let binding = PageBinding {
        csrf_digest: &csrf_digest,
        browser_digest: &browser_digest,
    };
    let decision = match field("decision")? {
        "approve" => {
            let subject = field("user")?;
            if app.user(subject).is_none() {
                return Err(PageError::bad_request(OAuthError::invalid_request(
                    format!("'{subject}' is not a user of this server"),
                )));
            }
            // The form before the password, as on the consent page (issue 20, item 3).
            if !app
                .store
                .device_page_matches(&user_code, binding, now)
                .await?
            {
                return Err(why_undecidable(app, &user_code, now, forbidden).await?);
            }
            check_password(app, subject, form).await?;
            DeviceDecision::Approve { subject }
        }
        "deny" => DeviceDecision::Deny,
        other => {
            return Err(PageError::bad_request(OAuthError::invalid_request(
                format!("decision must be 'approve' or 'deny', not '{other}'"),
            )));
        }
    };
    let Some(grant) = app
        .store
        .decide_device(&user_code, Some(binding), decision, now)
        .await?
    else {
        return Err(why_undecidable(app, &user_code, now, forbidden).await?);
    };
    follow(&grant);
    let done = match decision {
        DeviceDecision::Approve { subject } => {
            events::set_user(subject);
            events::step(EventType::ConsentApproved, |_| {});
            "You approved the request. Go back to your device: it is signed in within a few seconds."
        }
        DeviceDecision::Deny => {
            events::step(EventType::ConsentDenied, |event| {
                event.outcome = Outcome::Rejected;
                event.error = Some(ErrorCode::AccessDenied.as_str().to_owned());
                event.description = Some("the user denied the device's request".to_owned());
            });
            "You denied the request. The device is told so the next time it asks."
        }
    };
    tracing::info!(client_id = %grant.client_id, "device authorization decided");
    let page = DevicePage {
        done: Some(done),
        ..DevicePage::new(app)
    };
    Ok(render(&page, StatusCode::OK))
}

/// Explains why a verification form could not decide the authorization it names.
async fn why_undecidable(
    app: &App,
    user_code: &str,
    now: i64,
    forbidden: impl Fn(&'static str) -> PageError,
) -> Result<PageError, PageError> {
    Ok(
        match app.store.device_grant_by_user_code(user_code).await? {
            Some(grant) if grant.status == DeviceStatus::Pending && grant.expires_at > now => {
                follow(&grant);
                forbidden(
                    "this verification form does not belong to this browser session (the CSRF \
                 token or the browser cookie does not match); open the page again",
                )
            }
            _ => PageError::Form {
                status: StatusCode::BAD_REQUEST,
                error: OAuthError::invalid_request(
                    "this code has expired or was already decided; start again on the device",
                ),
            },
        },
    )
}
