//! Throughput and latency of the hot endpoints, measured over real HTTP on loopback:
//! `cargo bench --bench endpoints [-- SECONDS]`. Prints figures; asserts nothing.
//!
//! The server runs in this process on a temporary SQLite file and the load comes from 8
//! concurrent connections in the same process, so client and server share the machine's
//! cores: the figures are a floor for what a separate load generator would see.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tollgate::{Config, Launch, Server};

const CONNECTIONS: usize = 8;
const RESOURCE: &str = "http://127.0.0.1:8000/mcp";
const CALLBACK: &str = "http://127.0.0.1:53682/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

type Request = Arc<dyn Fn(reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// Runs `request` from `CONNECTIONS` workers for `duration`; prints rate and percentiles and
/// returns the rate.
async fn load(name: &str, duration: Duration, request: Request) -> f64 {
    let deadline = Instant::now() + duration;
    let mut workers = JoinSet::new();
    for _ in 0..CONNECTIONS {
        let request = Arc::clone(&request);
        workers.spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while Instant::now() < deadline {
                let started = Instant::now();
                match request(client.clone()).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(started.elapsed());
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        });
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for (mut worker, failed) in workers.join_all().await {
        latencies.append(&mut worker);
        failures += failed;
    }
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rate = latencies.len() as f64 / duration.as_secs_f64();
    println!(
        "{name:<42} {rate:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   failures {failures}",
        percentile(0.50),
        percentile(0.99),
    );
    rate
}

/// A server on a temporary SQLite file, with the event log on or off; returns its issuer.
async fn start(dir: &std::path::Path, name: &str, events: bool) -> String {
    let mut config = Config {
        database_url: format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        bind: "127.0.0.1:0".parse().expect("address"),
        ..Config::default()
    };
    config.registration.per_minute = 0;
    config.consent.mode = tollgate::config::ConsentMode::Auto;
    config.events.enabled = events;
    let server = Server::start(config, Launch::default())
        .await
        .expect("server");
    let issuer = server.issuer().to_owned();
    tokio::spawn(server.run_until(std::future::pending()));
    issuer
}

async fn register(
    http: &reqwest::Client,
    issuer: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    http.post(format!("{issuer}/register"))
        .json(&body)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration response")
}

/// `client_credentials` requests against `issuer` for `duration`; returns the rate.
async fn token_load(http: &reqwest::Client, issuer: &str, name: &str, duration: Duration) -> f64 {
    let machine = register(
        http,
        issuer,
        serde_json::json!({
            "grant_types": ["client_credentials"], "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }),
    )
    .await;
    let url = format!("{issuer}/token");
    let id = machine["client_id"].as_str().expect("client_id").to_owned();
    let secret = machine["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    load(
        name,
        duration,
        Arc::new(move |c| {
            c.post(&url)
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials"), ("resource", RESOURCE)])
        }),
    )
    .await
}

/// One authorization-code round trip, as an auto-approving server does it: authorize (302
/// with a code), then the token request.
async fn code_round_trip(http: &reqwest::Client, issuer: &str, client_id: &str) -> Duration {
    let started = Instant::now();
    let response = http
        .get(format!("{issuer}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .expect("authorize");
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let code = url::Url::parse(&location)
        .expect("redirect")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let token = http
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("token");
    assert!(token.status().is_success(), "token request failed");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let seconds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("temporary directory");
    let issuer = start(dir.path(), "bench", true).await;

    // No redirects: the round trip reads the code from the authorization response.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let public = register(
        &http,
        &issuer,
        serde_json::json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;

    println!("Tollgate endpoints, {CONNECTIONS} connections, {seconds} s each, in-process load");
    let url = format!("{issuer}/.well-known/oauth-authorization-server");
    load("GET metadata", duration, Arc::new(move |c| c.get(&url))).await;
    let url = format!("{issuer}/jwks.json");
    load("GET jwks", duration, Arc::new(move |c| c.get(&url))).await;
    token_load(
        &http,
        &issuer,
        "POST token (client_credentials, RS256)",
        duration,
    )
    .await;

    let client_id = public["client_id"].as_str().expect("client_id");
    let mut trips = Vec::new();
    for _ in 0..200 {
        trips.push(code_round_trip(&http, &issuer, client_id).await);
    }
    trips.sort();
    println!(
        "{:<42} p50 {:.2} ms   p99 {:.2} ms   (200 sequential round trips, auto consent)",
        "authorize + token (code flow)",
        trips[100].as_secs_f64() * 1000.0,
        trips[198].as_secs_f64() * 1000.0
    );

    // The event log's cost on the token endpoint (issue 12: at most 5 %): the same load on a
    // server with events off and one with events on, alternating, twice each. Both servers
    // start here, empty, so neither carries the tables the phases above filled.
    let quiet = start(dir.path(), "events-off", false).await;
    let logged = start(dir.path(), "events-on", true).await;
    let mut off = Vec::new();
    let mut on = Vec::new();
    for round in 1..=2 {
        off.push(
            token_load(
                &http,
                &quiet,
                &format!("POST token, events off (round {round})"),
                duration,
            )
            .await,
        );
        on.push(
            token_load(
                &http,
                &logged,
                &format!("POST token, events on (round {round})"),
                duration,
            )
            .await,
        );
    }
    let (off, on) = (off.iter().sum::<f64>() / 2.0, on.iter().sum::<f64>() / 2.0);
    println!(
        "{:<42} {:>9.1} % ({on:.0} req/s on, {off:.0} req/s off)",
        "events on vs off, token endpoint",
        (on - off) / off * 100.0
    );
}
