//! The HTML pages of the authorization endpoint, rendered with askama (autoescaped: client
//! names and redirect URIs are client input).

use super::super::html::render;
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Issuer;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use url::Url;

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub issuer: &'a str,
    pub action: String,
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// The host that published the client's metadata document, for URL client ids.
    pub client_host: Option<String>,
    pub redirect_uri: &'a str,
    pub redirect_host: String,
    pub loopback_redirect: bool,
    /// The private-use scheme (RFC 8252 §7.1) of a redirect to an application on this
    /// computer, such as `cursor`.
    pub app_scheme: Option<&'a str>,
    pub scopes: Vec<ScopeView>,
    pub resources: &'a [String],
    /// (subject, display name) of every user who may approve.
    pub users: Vec<(&'a str, &'a str)>,
    /// The user chosen when the page opens (`login_hint`, else `dev`).
    pub selected_user: &'a str,
    /// Whether any user has a password, so the page needs a password field.
    pub ask_password: bool,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    /// This request's flow in the developer console, when it is on.
    pub flow_url: Option<String>,
}

/// One requested scope on the consent page: its description from the resource's declared
/// tree, and whether the user may untick it (checklist SCP-3).
pub struct ScopeView {
    pub name: String,
    pub description: Option<String>,
    pub optional: bool,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    issuer: &'a str,
    error: &'a str,
    description: &'a str,
    advice: &'static str,
    /// The error response for the client, offered as a link rather than sent automatically
    /// (see `refuse_before_consent`), and the host it leads to.
    back_to_client: Option<(&'a str, &'a str)>,
    /// This request's event in the developer console, when it is on.
    event_url: Option<String>,
}

pub fn error_page(
    issuer: &Issuer,
    status: StatusCode,
    error: &OAuthError,
    event_url: Option<String>,
) -> Response {
    let advice = if status.is_server_error() {
        "Try again in a moment; the server's log has the details."
    } else {
        "Tollgate did not send you back to the application, because it could not verify the \
         request well enough to do so safely (OAuth 2.1 §4.1.2.1). Start again from the \
         application. If this keeps happening, the application sends a request the server \
         does not accept, and the message above says what to change."
    };
    render(
        &ErrorPage {
            issuer: issuer.as_str(),
            error: error.code.as_str(),
            description: &error.description,
            advice,
            back_to_client: None,
            event_url,
        },
        status,
    )
}

/// The page for an error that would be sent to a redirect URI the server does not trust:
/// the user sees the error and the host, and decides whether to go there.
pub fn untrusted_redirect_error_page(
    issuer: &Issuer,
    error: &OAuthError,
    back: Option<&Url>,
    event_url: Option<String>,
) -> Response {
    let back_to_client = back.map(|url| (url.as_str(), url.host_str().unwrap_or_default()));
    render(
        &ErrorPage {
            issuer: issuer.as_str(),
            error: error.code.as_str(),
            description: &error.description,
            advice: "Tollgate did not send you back to the application automatically: the \
                     application registered itself, and its redirect URI is not on this \
                     machine, so the server cannot vouch for it (OAuth 2.1 §7.12.2). Go back \
                     only if you trust that site.",
            back_to_client,
            event_url,
        },
        StatusCode::BAD_REQUEST,
    )
}
