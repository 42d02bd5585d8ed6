//! The official Rust MCP SDK's client (rmcp, feature `auth`) completes the MCP authorization
//! flow against Tollgate and the example MCP server, using only rmcp's own OAuth API:
//!
//! 1. an unauthenticated connect gets the MCP server's 401 and its challenge
//!    (`ClientInitializeError::auth_challenge`);
//! 2. `OAuthState::start_authorization` follows the challenge to the protected resource
//!    metadata and Tollgate's metadata, registers a client dynamically and builds the
//!    authorization URL (PKCE S256, RFC 8707 `resource`);
//! 3. a scripted browser approves on Tollgate's consent page as `dev` and reads the 303
//!    redirect back (nothing listens at the redirect URI);
//! 4. `handle_callback_url` checks `state` and the RFC 9207 `iss`, and redeems the code;
//! 5. an `AuthClient` transport lists the tools and calls `whoami`;
//! 6. `AuthorizationManager::refresh_token` refreshes (Tollgate rotates the refresh token),
//!    and `whoami` works again, on the same connection and on a new one.
//!
//! Run against a running stack: `DEMO_MCP_URL=http://localhost:8000/mcp tollgate-e2e-rmcp-client`
//! (scripts/client-matrix.sh starts the stack through scripts/demo.sh). Exits non-zero, with the
//! step that failed, when anything is not as expected.

use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceError, ServiceExt};
use std::sync::Arc;
use url::Url;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Nothing listens here: the scripted browser reads the redirect instead of following it.
const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";
const CLIENT_NAME: &str = "Tollgate client matrix (rmcp)";
const USER: &str = "dev";
const SCOPE: &str = "mcp:tools";

/// Fails the run with a message when `condition` does not hold.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

#[tokio::main]
async fn main() {
    let mcp_url = match std::env::var("DEMO_MCP_URL") {
        Ok(url) => url,
        Err(_) => {
            eprintln!(
                "rmcp client: DEMO_MCP_URL is not set; run it through scripts/client-matrix.sh rust"
            );
            std::process::exit(2);
        }
    };
    match run(&mcp_url).await {
        Ok(()) => println!("rmcp client: the whole flow passed"),
        Err(error) => {
            eprintln!("rmcp client: FAILED: {error}");
            std::process::exit(1);
        }
    }
}

/// Prints one finished step.
fn ok(step: &str) {
    println!("ok - {step}");
}

async fn run(mcp_url: &str) -> Result<()> {
    // 1. The real connection, unauthenticated: the MCP server's 401 starts the flow.
    let challenge = match connect(reqwest::Client::new(), mcp_url).await {
        Ok(_) => return Err("the MCP server accepted a connection without a token".into()),
        Err(error) => error
            .auth_challenge()
            .map(str::to_string)
            .ok_or_else(|| format!("connect failed without an auth challenge: {error}"))?,
    };
    let origin = Url::parse(mcp_url)?.origin().ascii_serialization();
    let metadata_url = format!("{origin}/.well-known/oauth-protected-resource/mcp");
    ensure!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "the challenge names the protected resource metadata {metadata_url}: {challenge}"
    );
    ensure!(
        challenge.contains(&format!("scope=\"{SCOPE}\"")),
        "the challenge asks for {SCOPE}: {challenge}"
    );
    ok("connect without a token: 401 with a challenge naming the resource metadata");

    // 2. Discovery from the challenge, dynamic registration, the authorization URL. `None`
    //    keeps rmcp's own HTTP client, with its address filter (loopback is allowed because
    //    the MCP server's URL is on loopback).
    let mut oauth = OAuthState::new(mcp_url, None).await?;
    oauth
        .start_authorization(
            AuthorizationRequest::new(REDIRECT_URI)
                .with_client_name(CLIENT_NAME)
                .with_challenge(challenge),
        )
        .await?;
    let (client_id, no_tokens) = oauth.get_credentials().await?;
    ensure!(no_tokens.is_none(), "no tokens before consent");
    let authorization_url = Url::parse(&oauth.get_authorization_url().await?)?;
    let query = |name: &str| query_value(&authorization_url, name);
    ensure!(
        query("client_id").as_deref() == Some(client_id.as_str()),
        "the authorization URL carries the registered client_id {client_id}: {authorization_url}"
    );
    ensure!(
        query("resource").as_deref() == Some(mcp_url),
        "RFC 8707 resource is the MCP server's URL: {authorization_url}"
    );
    ensure!(
        query("scope").is_some_and(|scope| scope.split(' ').any(|s| s == SCOPE)),
        "the scope of the challenge is asked for: {authorization_url}"
    );
    ensure!(
        query("code_challenge_method").as_deref() == Some("S256")
            && query("code_challenge").is_some(),
        "PKCE S256: {authorization_url}"
    );
    ensure!(
        query("redirect_uri").as_deref() == Some(REDIRECT_URI),
        "the redirect URI is {REDIRECT_URI}: {authorization_url}"
    );
    ok(&format!(
        "discovery and dynamic registration (client {client_id}); authorization URL with PKCE S256 and resource"
    ));

    // 3. Consent, as a browser gives it.
    let callback = approve_in_browser(&authorization_url).await?;
    ensure!(
        callback.as_str().starts_with(&format!("{REDIRECT_URI}?")),
        "the browser is sent back to {REDIRECT_URI}: {callback}"
    );
    ensure!(
        query_value(&callback, "code").is_some() && query_value(&callback, "iss").is_some(),
        "the redirect carries a code and the RFC 9207 iss: {callback}"
    );
    ok(&format!(
        "consent approved as {USER}; redirected back with a code"
    ));

    // 4. rmcp checks state and iss and redeems the code (PKCE verifier, resource).
    oauth.handle_callback_url(callback.as_str()).await?;
    let manager = oauth
        .into_authorization_manager()
        .ok_or("rmcp is not in the authorized state after the code exchange")?;
    let (_, tokens) = manager.get_credentials().await?;
    let first = Tokens::of(tokens.ok_or("no tokens after the code exchange")?)?;
    ok("code exchanged for an access token and a refresh token");

    // 5. Tools, with the token. The transport asks the manager for the token on every request.
    let authorized = AuthClient::new(reqwest::Client::new(), manager);
    let manager = Arc::clone(&authorized.auth_manager);
    let client = connect(authorized.clone(), mcp_url).await?;
    let tools = client.peer().list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    ensure!(
        names.contains(&"whoami"),
        "tools/list has whoami: {names:?}"
    );
    let me = whoami(&client).await?;
    // rmcp's default scope selection asks for the challenge's scope and every scope of the
    // protected resource metadata (SEP-2350 accumulation): here "mcp:tools mcp:admin".
    let granted = me["scope"].as_str().unwrap_or_default();
    ensure!(
        me["sub"] == USER
            && me["client_id"] == client_id.as_str()
            && granted.split(' ').any(|scope| scope == SCOPE),
        "whoami is {USER}, the registered client, with {SCOPE} granted: {me}"
    );
    ok(&format!("tools/list {names:?}; tools/call whoami: {me}"));

    // 6. Refresh through rmcp's API; the transport reads the token for every request.
    manager.lock().await.refresh_token().await?;
    let (_, tokens) = manager.lock().await.get_credentials().await?;
    let second = Tokens::of(tokens.ok_or("no tokens after the refresh")?)?;
    ensure!(
        second.access != first.access,
        "the refresh gave a new access token"
    );
    ensure!(
        second.refresh != first.refresh,
        "the refresh token rotated (Tollgate issues a new one on every refresh)"
    );
    let me = whoami(&client).await?;
    ensure!(
        me["sub"] == USER,
        "whoami after the refresh, same connection: {me}"
    );
    client.cancel().await?;
    let client = connect(authorized, mcp_url).await?;
    let me = whoami(&client).await?;
    ensure!(
        me["sub"] == USER,
        "whoami after the refresh, new connection: {me}"
    );
    client.cancel().await?;
    ok("refresh_token(): new access token, rotated refresh token; whoami works again");
    Ok(())
}

fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

struct Tokens {
    access: String,
    refresh: String,
}

impl Tokens {
    fn of(response: rmcp::transport::auth::OAuthTokenResponse) -> Result<Self> {
        use oauth2::TokenResponse;
        Ok(Self {
            access: response.access_token().secret().clone(),
            refresh: response
                .refresh_token()
                .ok_or("Tollgate issued no refresh token")?
                .secret()
                .clone(),
        })
    }
}

async fn connect<C>(
    http: C,
    mcp_url: &str,
) -> std::result::Result<
    RunningService<RoleClient, ClientConfig>,
    rmcp::service::ClientInitializeError,
>
where
    C: rmcp::transport::streamable_http_client::StreamableHttpClient + Send + Sync + 'static,
{
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(mcp_url),
    );
    ClientConfig::default().serve(transport).await
}

/// `tools/call whoami`, its JSON result.
async fn whoami(client: &RunningService<RoleClient, ClientConfig>) -> Result<serde_json::Value> {
    let result = client
        .peer()
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .map_err(|e: ServiceError| format!("tools/call whoami: {e}"))?;
    ensure!(result.is_error != Some(true), "whoami failed: {result:?}");
    let text = result
        .content
        .first()
        .and_then(|content| content.as_text())
        .map(|text| text.text.clone())
        .ok_or_else(|| format!("whoami returned no text: {result:?}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// What a person's browser does with the authorization URL: loads Tollgate's consent page
/// (keeping its cookie), approves as `dev`, and returns the URL of the 303 redirect back to
/// the client without following it.
async fn approve_in_browser(authorization_url: &Url) -> Result<Url> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = browser.get(authorization_url.as_str()).send().await?;
    let status = page.status();
    let cookie = page
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with("tollgate-browser="))
        .map(str::to_string);
    let html = page.text().await?;
    ensure!(
        status == 200,
        "the consent page answers 200, not {status}:\n{html}"
    );
    let cookie = cookie.ok_or("the consent page sets the tollgate-browser cookie")?;
    let action = form_action(&html).ok_or("the consent page has a POST form")?;
    ensure!(
        tags(&html, "input")
            .any(|tag| tag.contains("name=\"user\"")
                && attribute(tag, "value").as_deref() == Some(USER)),
        "the consent page offers the user {USER}"
    );
    let request_id =
        input_value(&html, "request_id", "hidden").ok_or("no request_id on the consent page")?;
    let csrf_token =
        input_value(&html, "csrf_token", "hidden").ok_or("no csrf_token on the consent page")?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request_id", &request_id)
        .append_pair("csrf_token", &csrf_token)
        .append_pair("user", USER)
        .append_pair("decision", "approve")
        .finish();
    let decision = browser
        .post(authorization_url.join(&action)?)
        .header(reqwest::header::COOKIE, cookie)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await?;
    let status = decision.status();
    let location = decision
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    ensure!(
        status == 303,
        "the decision is answered with 303, not {status}: {}",
        decision.text().await.unwrap_or_default()
    );
    Ok(Url::parse(&location.ok_or("the 303 has no Location")?)?)
}

/// The `action` of the page's `<form method="post">`, HTML entities decoded.
fn form_action(html: &str) -> Option<String> {
    tags(html, "form")
        .find(|tag| tag.to_ascii_lowercase().contains("method=\"post\""))
        .and_then(|tag| attribute(tag, "action"))
}

/// The `value` of `<input type="TYPE" name="NAME" value="…">`.
fn input_value(html: &str, name: &str, kind: &str) -> Option<String> {
    tags(html, "input")
        .find(|tag| {
            tag.contains(&format!("name=\"{name}\"")) && tag.contains(&format!("type=\"{kind}\""))
        })
        .and_then(|tag| attribute(tag, "value"))
}

/// Every `<NAME …>` start tag in `html`.
fn tags<'a>(html: &'a str, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}");
    let found: Vec<&str> = html
        .match_indices(open.as_str())
        .filter_map(|(at, _)| {
            let rest = &html[at..];
            let after = rest[open.len()..].chars().next()?;
            if !after.is_whitespace() && after != '>' {
                return None;
            }
            rest.find('>').map(|end| &rest[..=end])
        })
        .collect();
    found.into_iter()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(decode_html(&tag[start..end]))
}

fn decode_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
