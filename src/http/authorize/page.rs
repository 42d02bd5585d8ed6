//! The HTML pages of the authorization endpoint, rendered with askama (autoescaped: client
//! names and redirect URIs are client input): the consent page, shown on `GET` and shown
//! again after a recoverable mistake (a wrong password, an expired form), and the error page
//! for requests that cannot continue.

use super::super::html::render;
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::consent;
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issuer::Issuer;
use crate::oauth::pkce;
use crate::oauth::redirect_uri;
use crate::oauth::resource::{self, Resource};
use crate::oauth::scope::{self, Scope};
use crate::state::App;
use crate::store::{AuthorizationRequest, StoreError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;
use url::Url;

/// A requested scope as the consent page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeView {
    pub name: String,
    /// What it lets the client do, when a declared resource (or the server itself) says.
    pub description: Option<String>,
    /// On a step-up: no earlier grant of the client carried it.
    pub new: bool,
    /// Declared optional: the user may untick it (checklist SCP-3).
    pub optional: bool,
}

/// A resource (MCP server) the tokens will be for, with what that means.
#[derive(Debug, Clone)]
pub struct ResourceView {
    pub url: Vec<String>,
    pub explanation: String,
}

/// A user who may approve.
#[derive(Debug, Clone)]
pub struct UserView {
    pub subject: String,
    pub name: String,
    pub has_password: bool,
}

/// The client as the page presents it.
#[derive(Debug, Clone)]
pub struct ClientView {
    /// Its `client_name`, or a phrase saying it gave none.
    pub name: String,
    pub named: bool,
    pub logo: Option<String>,
    /// Where it registered from, in a sentence.
    pub registered: String,
    /// For a metadata document client, the host that published the document (CIMD §6.4).
    pub document_host: Option<String>,
}

/// One line of the collapsed "request details" panel.
#[derive(Debug, Clone)]
pub struct Detail {
    pub label: &'static str,
    pub value: Vec<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub issuer: String,
    pub action: String,
    /// Why the page is shown again (a wrong password, an expired form), inline.
    pub notice: Option<String>,
    pub client: ClientView,
    pub scopes: Vec<ScopeView>,
    /// Whether this request asks for more than the client was granted before.
    pub step_up: bool,
    pub resources: Vec<ResourceView>,
    pub redirect_host: String,
    pub loopback_redirect: bool,
    /// The private-use scheme (RFC 8252 §7.1) of a redirect to an application on this
    /// computer, such as `cursor`.
    pub app_scheme: Option<String>,
    pub users: Vec<UserView>,
    /// Whether any user has a password, so that the page needs the field.
    pub ask_password: bool,
    /// The user chosen when the page opens.
    pub selected_user: String,
    pub request_id: String,
    pub csrf_token: String,
    pub details: Vec<Detail>,
    /// This request's flow in the developer console, when it is on.
    pub flow_url: Option<String>,
}

/// Splits a URL (or any long token) after its separators, so that the page can offer a
/// line break there (`<wbr>`) rather than in the middle of a word.
pub fn breakable(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        // Never between the two slashes of `://`.
        if matches!(c, '/' | '?' | '&' | '#' | '=') && chars.peek() != Some(&c) {
            parts.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// "5 minutes", "30 days": a lifetime for people.
pub fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = match secs {
        s if s % 86_400 == 0 && s >= 86_400 => (s / 86_400, "day"),
        s if s % 3600 == 0 && s >= 3600 => (s / 3600, "hour"),
        s if s % 60 == 0 && s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn client_view(client: &Client) -> ClientView {
    let named = client.metadata.client_name.is_some();
    let registered = match client.source {
        ClientSource::Dynamic => "It registered itself with this server (dynamic client \
                                  registration, RFC 7591): anyone can do that, so its name \
                                  is its own claim."
            .to_owned(),
        ClientSource::Declared => "It is declared in this server's configuration.".to_owned(),
        ClientSource::Cli => "It was added with tollgate clients add.".to_owned(),
        // CIMD §6.4: for a metadata document client, who published it.
        ClientSource::Document => format!(
            "This client describes itself in a document published by {}. Tollgate has not \
             verified who runs that site.",
            redirect_uri::display_host(&client.client_id)
        ),
    };
    ClientView {
        name: client
            .metadata
            .client_name
            .clone()
            .unwrap_or_else(|| "An application without a name".to_owned()),
        named,
        logo: client
            .metadata
            .logo_uri
            .clone()
            .filter(|uri| uri.starts_with("https://")),
        registered,
        document_host: (client.source == ClientSource::Document)
            .then(|| redirect_uri::display_host(&client.client_id)),
    }
}

/// The scopes of a request, described and, on a step-up, marked.
pub fn scope_views(
    scope: &Scope,
    resources: &[String],
    configured: &[Resource],
    granted_before: &[String],
) -> Vec<ScopeView> {
    let new = consent::new_scopes(scope.iter(), granted_before);
    scope
        .iter()
        .map(|name| {
            let info = resource::scope_info(name, resources, configured);
            ScopeView {
                name: name.to_owned(),
                description: info
                    .description
                    .or_else(|| scope::server_scope_description(name).map(str::to_owned)),
                new: new.contains(&name),
                optional: info.optional,
            }
        })
        .collect()
}

/// Each resource with a sentence on what it is.
pub fn resource_views(app: &App, resources: &[String]) -> Vec<ResourceView> {
    resources
        .iter()
        .map(|url| {
            let declared = app
                .config
                .resources
                .iter()
                .any(|r| resource::equivalent(&r.url, url));
            let explanation = if url == &app.default_audience && !declared {
                "The application named no MCP server (no resource parameter, RFC 8707), so \
                 its tokens are for this authorization server's default audience."
                    .to_owned()
            } else if declared {
                "An MCP server declared in this server's configuration. The tokens work \
                 there and nowhere else (their audience)."
                    .to_owned()
            } else {
                "The MCP server at this address. The tokens work there and nowhere else \
                 (their audience)."
                    .to_owned()
            };
            ResourceView {
                url: breakable(url),
                explanation,
            }
        })
        .collect()
}

pub fn user_views(app: &App) -> Vec<UserView> {
    app.users
        .all()
        .map(|u| UserView {
            subject: u.subject.clone(),
            name: u.display_name().to_owned(),
            has_password: app.users.needs_password(&u.subject),
        })
        .collect()
}

/// Builds the consent page of a pending request.
pub async fn consent_page(
    app: &App,
    client: &Client,
    pending: &AuthorizationRequest,
    csrf_token: &str,
    selected_user: Option<&str>,
    notice: Option<String>,
) -> Result<ConsentPage, StoreError> {
    let scope = Scope::from_stored(&pending.scope);
    let granted_before = app.store.granted_scopes(&client.client_id).await?;
    let scopes = scope_views(
        &scope,
        &pending.resources,
        &app.config.resources,
        &granted_before,
    );
    let app_scheme = match redirect_uri::destination(&pending.redirect_uri) {
        Some(redirect_uri::Destination::App { scheme }) => Some(scheme.to_owned()),
        _ => None,
    };
    let is_user = |subject: &str| app.user(subject).is_some();
    let selected_user = consent::preselected_user(
        selected_user,
        client.policy.user.as_deref(),
        app.config.consent.user.as_deref(),
        is_user,
    )
    .to_owned();
    let view = client_view(client);
    let mut lifetimes = format!(
        "access token {}",
        human_duration(app.config.access_token_ttl)
    );
    if client
        .metadata
        .grant_types
        .iter()
        .any(|g| g.as_str() == "refresh_token")
    {
        lifetimes.push_str(&format!(
            ", refresh token {}",
            human_duration(app.config.refresh_token_ttl)
        ));
    }
    let details = vec![
        Detail {
            label: "Client ID",
            value: breakable(&client.client_id),
        },
        Detail {
            label: "Registered",
            value: vec![format!("{} ({})", client.source.as_str(), view.registered)],
        },
        Detail {
            label: "Redirect URI",
            value: breakable(&pending.redirect_uri),
        },
        Detail {
            label: "Resource",
            value: breakable(&pending.resources.join(" ")),
        },
        Detail {
            label: "Scope",
            value: vec![if pending.scope.is_empty() {
                "(none)".to_owned()
            } else {
                pending.scope.clone()
            }],
        },
        Detail {
            label: "PKCE",
            value: vec![format!("{} (code challenge received)", pkce::S256)],
        },
        Detail {
            label: "State",
            value: breakable(pending.state.as_deref().unwrap_or("(none sent)")),
        },
        Detail {
            label: "Token lifetimes",
            value: vec![lifetimes],
        },
    ];
    Ok(ConsentPage {
        issuer: app.issuer.as_str().to_owned(),
        action: format!("{}{}", app.issuer.path(), endpoints::AUTHORIZE),
        notice,
        client: view,
        step_up: scopes.iter().any(|s| s.new),
        scopes,
        resources: resource_views(app, &pending.resources),
        redirect_host: match app_scheme {
            Some(_) => "an application on this computer".to_owned(),
            None => redirect_uri::display_host(&pending.redirect_uri),
        },
        loopback_redirect: redirect_uri::is_loopback(&pending.redirect_uri),
        app_scheme,
        ask_password: app
            .users
            .all()
            .any(|u| app.users.needs_password(&u.subject)),
        users: user_views(app),
        selected_user,
        request_id: pending.id.clone(),
        csrf_token: csrf_token.to_owned(),
        details,
        flow_url: (app.console.as_ref())
            .zip(pending.flow_id.as_deref())
            .map(|(console, flow)| console.flow_url(flow)),
    })
}

/// The kind of dead end, which gives the error page its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadEnd {
    /// The request itself: unknown client, bad parameters.
    Request,
    /// A submitted form that cannot be used: CSRF, already used.
    Form,
    /// The server failed.
    Server,
    /// Not now: a rate limit, or the database cannot be reached (`Retry-After` says when).
    Wait,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    issuer: &'a str,
    heading: String,
    /// The client the request came from, when it is known.
    client_name: Option<String>,
    error: &'a str,
    description: &'a str,
    advice: &'static str,
    /// The error response for the client, offered as a link rather than sent automatically
    /// (see `refuse_before_consent`), and the host it leads to.
    back_to_client: Option<(Vec<String>, String, String)>,
    /// This request's event in the developer console, when it is on.
    event_url: Option<String>,
}

/// The heading of an error page: what happened, in words, by kind of error.
pub fn heading(kind: DeadEnd, code: ErrorCode) -> &'static str {
    match (kind, code) {
        (DeadEnd::Server, _) | (_, ErrorCode::ServerError) => "Something went wrong in Tollgate",
        (DeadEnd::Form, _) => "This form can no longer be used",
        (DeadEnd::Wait, _) => "Not right now: wait a moment",
        (_, ErrorCode::TemporarilyUnavailable) => "Too many attempts: wait a moment",
        (_, ErrorCode::InvalidClient) => "Tollgate does not know this application",
        (_, ErrorCode::AccessDenied) => "Access was refused",
        (_, ErrorCode::InvalidScope) => "The application asked for scopes it cannot have",
        (_, ErrorCode::InvalidTarget) => "The application asked for an unknown MCP server",
        (_, ErrorCode::UnauthorizedClient | ErrorCode::UnsupportedResponseType) => {
            "This application may not sign in this way"
        }
        (_, ErrorCode::InteractionRequired) => "This request needs you to approve it",
        _ => "The application's sign-in request is not valid",
    }
}

fn advice(kind: DeadEnd) -> &'static str {
    match kind {
        DeadEnd::Server => "Try again in a moment; the server's log has the details.",
        DeadEnd::Wait => {
            "Nothing went wrong with your request. Wait a moment, then start again from the \
             application; the message above says how long."
        }
        DeadEnd::Form => {
            "Nothing was decided. Go back to the application and start the sign-in again: \
             it opens a new form."
        }
        DeadEnd::Request => {
            "Tollgate did not send you back to the application, because it could not verify \
             the request well enough to do so safely (OAuth 2.1 §4.1.2.1). If you develop \
             the application, the message above says what to change; otherwise start again \
             from the application."
        }
    }
}

pub fn error_page(
    issuer: &Issuer,
    status: StatusCode,
    kind: DeadEnd,
    error: &OAuthError,
    client_name: Option<String>,
    event_url: Option<String>,
) -> Response {
    let kind = if status.is_server_error() && kind != DeadEnd::Wait {
        DeadEnd::Server
    } else {
        kind
    };
    render(
        &ErrorPage {
            issuer: issuer.as_str(),
            heading: heading(kind, error.code).to_owned(),
            client_name,
            error: error.code.as_str(),
            description: &error.description,
            advice: advice(kind),
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
    client: &Client,
    error: &OAuthError,
    back: Option<&Url>,
    event_url: Option<String>,
) -> Response {
    let back_to_client = back.map(|url| {
        (
            breakable(url.as_str()),
            url.as_str().to_owned(),
            url.host_str().unwrap_or_default().to_owned(),
        )
    });
    render(
        &ErrorPage {
            issuer: issuer.as_str(),
            heading: heading(DeadEnd::Request, error.code).to_owned(),
            client_name: client.metadata.client_name.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_break_after_their_separators_and_nowhere_else() {
        assert_eq!(
            breakable("http://127.0.0.1:8000/mcp?a=b&c"),
            ["http://", "127.0.0.1:8000/", "mcp?", "a=", "b&", "c"]
        );
        assert_eq!(breakable("").len(), 0);
        assert_eq!(breakable("abc"), ["abc"]);
    }

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(human_duration(Duration::from_secs(30 * 86_400)), "30 days");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(61)), "61 seconds");
    }
}
