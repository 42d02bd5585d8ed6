//! `tollgate check URL` (issue 13): proves that an MCP server enforces authorization the
//! way the MCP revision of the chosen profile asks, by talking to it as a client would
//! and by sending it the wrong tokens only its authorization server can mint. One file per
//! family of checks:
//!
//! - `challenge.rs`: the 401 without a token and its `WWW-Authenticate` (CH-1 to CH-5);
//! - `metadata.rs`: the RFC 9728 metadata (CH-6 to CH-10);
//! - `discovery.rs`: Tollgate's RFC 8414 document, reached from that metadata (CH-27), and
//!   the origin's metadata URL that 2025-03-26 clients use (CH-25);
//! - `refusals.rs`: a valid token works (CH-12), each wrong one gets 401 (CH-11, CH-13,
//!   CH-14, CH-16 to CH-21, CH-28 to CH-30);
//! - `scope.rs`: 403 `insufficient_scope` and step-up (CH-23, CH-24).
//!
//! `catalogue.rs` names the checks and says how much each revision asks for them, `mcp.rs`
//! speaks Streamable HTTP in either era, `http.rs` keeps the server under test from hanging
//! or flooding the checker. Nothing the server answers can make the checker panic.

mod catalogue;
mod challenge;
mod discovery;
mod http;
mod mcp;
mod metadata;
mod refusals;
mod report;
mod scope;

pub use catalogue::{Applies, CheckId, Family, Level, Profile};
pub use report::{CheckResult, Report, Status, sanitize};

use super::events::EventLog;
use super::tokens::{Defect, Minted, StandaloneToken, TokenIssuer};
use crate::clock::Clock;
use crate::config::DEFAULT_USER;
use crate::store::Store;
use http::Http;
use mcp::Mcp;
use std::time::Duration;

/// The `client_id` of the tokens the checker mints.
pub const CHECK_CLIENT_ID: &str = "tollgate-check";

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub profile: Profile,
    /// The scope a valid token carries; `None`: what the challenge asks for, else every
    /// scope of `scopes_supported`.
    pub scope: Option<String>,
    /// The `sub` of the tokens.
    pub subject: String,
    /// The deadline of each exchange with the server.
    pub timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            profile: Profile::LATEST,
            scope: None,
            subject: DEFAULT_USER.to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The Tollgate whose tokens the server trusts: its issuer, its token issuer and store
/// (to mint and revoke), and where its event log can be read (to see introspections).
pub struct Authority<'a> {
    pub issuer: &'a str,
    pub tokens: &'a TokenIssuer,
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    /// How long the valid tokens live.
    pub lifetime: Duration,
    pub events: EventSource<'a>,
}

/// Where the introspections the server makes show up.
pub enum EventSource<'a> {
    /// The server runs in this process: flush its log, then read the store.
    InProcess(&'a EventLog),
    /// Another process writes the log to the shared database.
    Database,
    /// The server records no events (`events.enabled = false`).
    Off,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("'{0}' is not an http or https URL with a host")]
    BadUrl(String),
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
}

/// The outcome of one check, before the profile says how much it counts.
#[derive(Debug)]
enum Outcome {
    Pass(String),
    Fail(String),
    /// A failure whose weight the evidence decides (a MUST-one-of met another way).
    FailAt(Level, String),
    Skip(String),
}

/// What is shared by every family: the target, the client, the authority.
struct Ctx<'a> {
    /// The MCP server's URL, exactly as given: the `aud` of the tokens and the
    /// `resource` its metadata must name.
    url: &'a str,
    /// Its scheme, host and port.
    origin: String,
    profile: Profile,
    http: &'a Http,
    mcp: &'a Mcp<'a>,
    authority: &'a Authority<'a>,
    options: &'a CheckOptions,
    /// When the run started, by the authority's clock, in milliseconds.
    started_ms: i64,
}

impl Ctx<'_> {
    /// Whether the profile asks for `check` at all (requests for the others are saved).
    fn wanted(&self, check: CheckId) -> bool {
        matches!(check.applies(self.profile), Applies::Yes(_))
    }

    /// A token for this server, `scope` and `defects`, minted as `tollgate token` does.
    async fn mint(&self, scope: Option<&str>, defects: &[Defect]) -> Result<Minted, String> {
        let token = StandaloneToken {
            subject: self.options.subject.clone(),
            client_id: CHECK_CLIENT_ID.to_owned(),
            audience: vec![self.url.to_owned()],
            scope: scope.filter(|s| !s.is_empty()).map(str::to_owned),
            lifetime: self.authority.lifetime,
            extra_claims: serde_json::Map::new(),
            defects: defects.to_vec(),
        };
        let now = self.authority.clock.now();
        (self.authority.tokens)
            .mint_standalone(self.authority.store, &token, now)
            .await
            .map_err(|e| format!("Tollgate could not mint the token: {e}"))
    }
}

/// The outcomes so far.
#[derive(Default)]
struct Results {
    outcomes: Vec<(CheckId, Outcome)>,
}

impl Results {
    fn record(&mut self, check: CheckId, outcome: Outcome) {
        self.outcomes.retain(|(c, _)| *c != check);
        self.outcomes.push((check, outcome));
    }

    fn passed(&self, check: CheckId) -> bool {
        (self.outcomes.iter()).any(|(c, o)| *c == check && matches!(o, Outcome::Pass(_)))
    }

    /// Makes a recorded failure of `check` count as a recommendation only.
    fn demote(&mut self, check: CheckId) {
        for (c, outcome) in &mut self.outcomes {
            if *c == check {
                if let Outcome::Fail(detail) = outcome {
                    *outcome = Outcome::FailAt(Level::Recommended, std::mem::take(detail));
                }
            }
        }
    }
}

/// Runs every check against the MCP server at `url`.
pub async fn run(
    url: &str,
    options: &CheckOptions,
    authority: &Authority<'_>,
) -> Result<Report, CheckError> {
    let parsed = url::Url::parse(url).map_err(|_| CheckError::BadUrl(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(CheckError::BadUrl(url.to_owned()));
    }
    let http = Http::new(options.timeout).map_err(|e| CheckError::Client(e.to_string()))?;
    let mcp = Mcp::new(&http, url);
    let ctx = Ctx {
        url,
        origin: parsed.origin().ascii_serialization(),
        profile: options.profile,
        http: &http,
        mcp: &mcp,
        authority,
        options,
        started_ms: authority.clock.now_millis(),
    };
    let mut out = Results::default();

    let challenged = challenge::run(&ctx, &mut out).await;
    let found = metadata::run(&ctx, &mut out, challenged.bearer.as_ref()).await;
    // MCP 2025-11-25+ Protected Resource Metadata Discovery Requirements: the header *or*
    // a well-known URI; with the metadata at a well-known URI, a missing
    // resource_metadata only costs the clients that rely on it.
    if options.profile != Profile::V2025_06_18 && found.at_well_known {
        out.demote(CheckId::ResourceMetadataParam);
    }
    if found.from_header {
        out.demote(CheckId::PrmWellKnown);
    }
    // --scope, else the challenge's (clients take it first), else scopes_supported
    // (Scope Selection Strategy).
    let scope =
        options.scope.clone().or(challenged.scope).or_else(|| {
            (!found.scopes_supported.is_empty()).then(|| found.scopes_supported.join(" "))
        });
    let session = refusals::valid(&ctx, &mut out, scope.as_deref()).await;
    let protocol = match &session {
        Ok((_, how)) => how.clone(),
        Err(why) => format!("no handshake with a valid token succeeded: {why}"),
    };
    let session = session.ok().map(|(session, _)| session);
    refusals::run(&ctx, &mut out, session.as_ref(), scope.as_deref()).await;
    scope::run(&ctx, &mut out, session.as_ref(), scope.as_deref()).await;
    if let Some(session) = &session {
        if let Ok(token) = ctx.mint(scope.as_deref(), &[]).await {
            mcp.close(session, &token.token).await;
        }
    }
    Ok(assemble(&ctx, out, protocol))
}

/// The report: every check in order, each weighed by the profile.
fn assemble(ctx: &Ctx<'_>, mut out: Results, protocol: String) -> Report {
    let checks = CheckId::ALL
        .iter()
        .map(|&check| {
            let applies = check.applies(ctx.profile);
            let outcome = (out.outcomes.iter().position(|(c, _)| *c == check))
                .map(|at| out.outcomes.swap_remove(at).1)
                .unwrap_or_else(|| Outcome::Skip("not run".to_owned()));
            let (status, required, detail) = match (applies, outcome) {
                (Applies::No(why), _) => (Status::Skip, false, why.to_owned()),
                (Applies::Yes(level), Outcome::Pass(detail)) => {
                    (Status::Pass, level == Level::Required, detail)
                }
                (Applies::Yes(level), Outcome::Fail(detail)) => {
                    (Status::Fail, level == Level::Required, detail)
                }
                (Applies::Yes(level), Outcome::FailAt(at, detail)) => {
                    let required = level == Level::Required && at == Level::Required;
                    (Status::Fail, required, detail)
                }
                (Applies::Yes(level), Outcome::Skip(detail)) => {
                    (Status::Skip, level == Level::Required, detail)
                }
            };
            CheckResult {
                check,
                status,
                required,
                spec: check.spec(ctx.profile),
                detail,
            }
        })
        .collect();
    Report {
        target: ctx.url.to_owned(),
        profile: ctx.profile,
        issuer: ctx.authority.issuer.to_owned(),
        protocol,
        checks,
    }
}
