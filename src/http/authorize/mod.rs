//! The authorization endpoint: `GET` validates the request and shows the consent page,
//! `POST` records the user's decision and sends the browser back to the client.

pub(crate) mod browser;
mod get;
pub(crate) mod page;
mod post;

pub use get::authorize;
pub(crate) use post::check_password;
pub use post::decide;

use crate::http::error::{InternalFailure, internal_failure};
use crate::keys::KeyError;
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::grant::CODE_LIFETIME_SECS;
use crate::oauth::issuer::Issuer;
use crate::oauth::redirect_uri;
use crate::oauth::scope::Scope;
use crate::secret::Secret;
use crate::services::events;
use crate::state::App;
use crate::store::{NewCode, NewGrant, StoreError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

/// Pending consent requests live this long.
const REQUEST_TTL_SECS: i64 = 10 * 60;

/// An error that must be shown to the user rather than sent to the client.
#[derive(Debug)]
pub enum PageError {
    Shown {
        status: StatusCode,
        error: OAuthError,
    },
    /// Shown with `Retry-After`: a rate limit, or the database is unavailable.
    Retry {
        status: StatusCode,
        retry_after: u64,
        error: OAuthError,
    },
    /// A submitted form that cannot be used (another browser session, already used): the
    /// request may be fine, the form is not.
    Form {
        status: StatusCode,
        error: OAuthError,
    },
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl PageError {
    pub fn bad_request(error: OAuthError) -> Self {
        PageError::Shown {
            status: StatusCode::BAD_REQUEST,
            error,
        }
    }
}

// Deliberately no blanket conversion: an `OAuthError` must never become a 500 by `?`.
impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError::Internal(Box::new(error))
    }
}

impl From<KeyError> for PageError {
    fn from(error: KeyError) -> Self {
        PageError::Internal(Box::new(error))
    }
}

/// Renders a page error, naming the client when the request got as far as knowing it.
pub async fn render_error(app: &App, error: PageError) -> Response {
    let client_name = match events::client() {
        Some(client_id) => match app.store.client(&client_id).await {
            Ok(client) => client.and_then(|c| c.metadata.client_name),
            Err(_) => None,
        },
        None => None,
    };
    render_error_named(&app.issuer, error, client_name)
}

/// Renders a page error without looking anything up.
pub fn render_error_named(
    issuer: &Issuer,
    error: PageError,
    client_name: Option<String>,
) -> Response {
    let (status, kind, error, retry_after) = match error {
        PageError::Shown { status, error } => (status, page::DeadEnd::Request, error, None),
        PageError::Form { status, error } => (status, page::DeadEnd::Form, error, None),
        PageError::Retry {
            status,
            retry_after,
            error,
        } => (status, page::DeadEnd::Wait, error, Some(retry_after)),
        PageError::Internal(cause) => match internal_failure(cause.as_ref()) {
            InternalFailure::Unavailable { error, retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                page::DeadEnd::Wait,
                error,
                Some(retry_after),
            ),
            InternalFailure::Other(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                page::DeadEnd::Server,
                error,
                None,
            ),
        },
    };
    let event_url = events::reject(&error);
    let mut response = page::error_page(issuer, status, kind, &error, client_name, event_url);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The URL that sends the browser back to the client with response parameters, `state` and
/// RFC 9207 `iss` (checklist AZ-11, AZ-20). `None` only if the registered redirect URI does
/// not parse, which registration rules out.
fn client_redirect_url(
    issuer: &Issuer,
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer.as_str());
    }
    Some(url)
}

/// A redirect back to the client (see `client_redirect_url`). `status` is 302 from `GET`
/// and 303 from the consent `POST` (OAuth 2.1 §7.5.4: never 307 after a form post).
pub fn redirect_to_client(
    issuer: &Issuer,
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    status: StatusCode,
) -> Response {
    let location = client_redirect_url(issuer, redirect_uri, params, state)
        .and_then(|url| HeaderValue::from_str(url.as_str()).ok());
    let Some(location) = location else {
        // Registered redirect URIs were validated as absolute URLs, so this is unreachable;
        // refuse rather than redirect somewhere unverified.
        return render_error_named(
            issuer,
            PageError::bad_request(OAuthError::invalid_request(
                "the redirect URI cannot be parsed",
            )),
            None,
        );
    };
    (status, [(header::LOCATION, location)]).into_response()
}

/// An approved request, from the consent form or from `auto` consent.
pub(super) struct Approval<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub code_challenge: &'a str,
    pub scope: &'a str,
    pub resources: &'a [String],
    pub nonce: Option<&'a str>,
    pub flow_id: &'a str,
}

/// Refuses an approval whose scope is beyond the approving user's policy (checklist SCP-2):
/// `access_denied`, sent to the client like a denial.
fn check_user_policy(app: &App, subject: &str, scope: &str) -> Result<(), OAuthError> {
    match app.user(subject) {
        Some(user) => user.check_scope(&Scope::from_stored(scope)),
        None => Ok(()),
    }
}

/// Records the grant and its authorization code and redirects to the client with the code.
pub(super) async fn issue_code(
    app: &App,
    approval: Approval<'_>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let now = app.now();
    let code = Secret::generate();
    let grant = NewGrant {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: approval.client_id.to_owned(),
        subject: approval.subject.to_owned(),
        scope: approval.scope.to_owned(),
        resources: approval.resources.to_vec(),
        created_at: now,
        flow_id: Some(approval.flow_id.to_owned()),
    };
    let new_code = NewCode {
        code_digest: code.digest(),
        redirect_uri: approval.redirect_uri.to_owned(),
        code_challenge: approval.code_challenge.to_owned(),
        nonce: approval.nonce.map(str::to_owned),
        expires_at: now + CODE_LIFETIME_SECS,
    };
    app.store.insert_grant_with_code(&grant, &new_code).await?;
    tracing::info!(client_id = %grant.client_id, subject = %grant.subject, "authorized");
    events::step(EventType::CodeIssued, |event| {
        event.detail("redirect_uri", approval.redirect_uri);
        event.detail("scope", approval.scope);
        event.detail("resources", approval.resources);
        event.detail("expires_at", new_code.expires_at);
    });
    Ok(redirect_to_client(
        &app.issuer,
        approval.redirect_uri,
        &[("code", code.expose())],
        approval.state,
        status,
    ))
}

/// Sends an OAuth error back to a verified redirect URI.
pub fn redirect_error(
    issuer: &Issuer,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    status: StatusCode,
) -> Response {
    let description = error.wire_description();
    let error_uri = events::reject(error);
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", description.as_str()),
    ];
    // RFC 6749 §4.1.2.1: a page about the error, for the developer.
    if let Some(uri) = &error_uri {
        params.push(("error_uri", uri));
    }
    redirect_to_client(issuer, redirect_uri, &params, state, status)
}

/// Refuses a request before anyone has seen the consent page. OAuth 2.1 §7.12.2 (checklist
/// AZ-23): an error must not turn the server into an open redirector, and anyone can
/// register a client with any `https` redirect URI. So the browser is sent back at once only
/// to redirect URIs the server trusts: loopback ones (the user's own machine, RFC 8252) and
/// those of clients the operator declared. For the rest the error page explains the refusal
/// and offers the way back as a link the user may choose to follow.
pub fn refuse_before_consent(
    issuer: &Issuer,
    client: &Client,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
) -> Response {
    let trusted = redirect_uri::is_loopback(redirect_uri)
        || matches!(client.source, ClientSource::Declared | ClientSource::Cli);
    if trusted {
        return redirect_error(issuer, redirect_uri, state, error, StatusCode::FOUND);
    }
    let description = error.wire_description();
    let event_url = events::reject(error);
    let back = client_redirect_url(
        issuer,
        redirect_uri,
        &[
            ("error", error.code.as_str()),
            ("error_description", &description),
        ],
        state,
    );
    page::untrusted_redirect_error_page(issuer, client, error, back.as_ref(), event_url)
}
