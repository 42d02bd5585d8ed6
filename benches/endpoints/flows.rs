//! The OAuth requests the bench sends: registration, `client_credentials`, and the
//! authorization-code round trip with automatic consent or through the consent form.

use crate::load::{Request, client};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const RESOURCE: &str = "http://127.0.0.1:8000/mcp";
pub const CALLBACK: &str = "http://127.0.0.1:53682/callback";
// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub async fn register(
    http: &reqwest::Client,
    issuer: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = http
        .post(format!("{issuer}/register"))
        .json(&body)
        .send()
        .await
        .expect("register");
    assert!(response.status().is_success(), "registration refused");
    response.json().await.expect("registration response")
}

pub fn machine_body() -> serde_json::Value {
    serde_json::json!({
        "grant_types": ["client_credentials"], "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic"
    })
}

pub fn public_body() -> serde_json::Value {
    serde_json::json!({
        "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]
    })
}

/// A confidential client for `client_credentials`, and the request that uses it.
pub async fn client_credentials(issuer: &str) -> Request {
    let machine = register(&client(), issuer, machine_body()).await;
    let url = format!("{issuer}/token");
    let id = machine["client_id"].as_str().expect("client_id").to_owned();
    let secret = machine["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    Arc::new(move |c: &reqwest::Client| {
        c.post(&url)
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("resource", RESOURCE)])
    })
}

pub async fn public_client(issuer: &str) -> String {
    let public = register(&client(), issuer, public_body()).await;
    public["client_id"].as_str().expect("client_id").to_owned()
}

pub fn authorize_request(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
) -> reqwest::RequestBuilder {
    http.get(format!("{issuer}/authorize")).query(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "bench"),
        ("resource", RESOURCE),
    ])
}

pub fn redeem_request(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    code: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{issuer}/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("resource", RESOURCE),
    ])
}

/// The code in a redirect to the client's callback.
pub fn code_of(response: &reqwest::Response) -> Option<String> {
    let location = response.headers().get("location")?.to_str().ok()?;
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// One round trip with automatic consent: authorize (302 with a code), then the token
/// request. `None` if a step failed.
pub async fn auto_round_trip(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
) -> Option<Duration> {
    let started = Instant::now();
    let response = authorize_request(http, issuer, client_id)
        .send()
        .await
        .ok()?;
    let code = code_of(&response)?;
    let token = redeem_request(http, issuer, client_id, &code)
        .send()
        .await
        .ok()?;
    token.status().is_success().then(|| started.elapsed())
}

/// One round trip through the consent page, as a browser and its user do it: GET /authorize
/// (the page, with its request id and CSRF token in hidden fields and a cookie binding them to
/// the browser), POST /authorize approving as `user` (303 with a code), then the token
/// request. `http` must keep cookies.
pub async fn form_round_trip(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    user: &str,
    password: Option<&str>,
) -> Option<Duration> {
    let started = Instant::now();
    let page = authorize_request(http, issuer, client_id)
        .send()
        .await
        .ok()?;
    if !page.status().is_success() {
        return None;
    }
    let html = page.text().await.ok()?;
    let request_id = hidden_field(&html, "request_id")?;
    let csrf_token = hidden_field(&html, "csrf_token")?;
    let mut fields = vec![
        ("request_id", request_id.as_str()),
        ("csrf_token", csrf_token.as_str()),
        ("user", user),
        ("decision", "approve"),
    ];
    fields.extend(password.map(|password| ("password", password)));
    let decision = http
        .post(format!("{issuer}/authorize"))
        .form(&fields)
        .send()
        .await
        .ok()?;
    let code = code_of(&decision)?;
    let token = redeem_request(http, issuer, client_id, &code)
        .send()
        .await
        .ok()?;
    token.status().is_success().then(|| started.elapsed())
}

fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}
