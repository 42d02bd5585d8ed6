//! A valid token works (CH-12), and every token with one defect is refused with 401 (MCP
//! Token Handling: "Invalid or expired tokens MUST receive a HTTP 401 response"; RFC 9068
//! §4; OAuth 2.1 §5.1, §5.2). Each refusal is sent as `tools/list` in the session the
//! valid token opened, so that only the token differs; if the valid token is refused, no
//! refusal proves anything and they are skipped (the conformance suite's "untestable").

use super::http::Answer;
use super::mcp::{Auth, ConnectError, Session};
use super::report::sanitize;
use super::{CheckId, Ctx, EventSource, Outcome, Results};
use crate::keys::forge::PublicKeyForm;
use crate::oauth::event::EventType;
use crate::services::tokens::Defect;
use crate::store::EventFilter;

/// Not a JWT at all.
const GARBAGE_TOKEN: &str = "tollgate-check-this-is-not-a-token";

/// CH-12: the handshake and `tools/list` with a valid token. Returns the session and how
/// it was negotiated, or why there is none.
pub(super) async fn valid(
    ctx: &Ctx<'_>,
    out: &mut Results,
    scope: Option<&str>,
) -> Result<(Session, String), String> {
    let token = match ctx.mint(scope, &[]).await {
        Ok(token) => token.token,
        Err(why) => {
            out.record(CheckId::ValidToken, Outcome::Fail(why.clone()));
            return Err(why);
        }
    };
    let scope_note = match scope {
        Some(scope) => format!(
            "a token for {} with scope \"{}\"",
            ctx.url,
            sanitize(scope, 200)
        ),
        None => format!("a token for {} without scope", ctx.url),
    };
    let (session, how) = match ctx.mcp.connect(ctx.profile, &token).await {
        Ok(connected) => connected,
        Err(ConnectError::Refused(why) | ConnectError::Failed(why)) => {
            out.record(
                CheckId::ValidToken,
                Outcome::Fail(format!("with {scope_note}: {why}")),
            );
            return Err(why);
        }
    };
    match ctx
        .mcp
        .request(&session, "tools/list", Auth::Bearer(&token))
        .await
    {
        Ok(answer) => match tool_names(&answer) {
            Some(names) => {
                out.record(
                    CheckId::ValidToken,
                    Outcome::Pass(format!(
                        "with {scope_note}: {how}; tools/list answered {} tools ({})",
                        names.len(),
                        sanitize(&names.join(", "), 200)
                    )),
                );
                Ok((session, how))
            }
            None => {
                let why = format!("{how}, but tools/list answered {}", list_failure(&answer));
                out.record(
                    CheckId::ValidToken,
                    Outcome::Fail(format!("with {scope_note}: {why}")),
                );
                Err(why)
            }
        },
        Err(why) => {
            let why = format!("{how}, but tools/list: {why}");
            out.record(
                CheckId::ValidToken,
                Outcome::Fail(format!("with {scope_note}: {why}")),
            );
            Err(why)
        }
    }
}

/// The tool names of a successful `tools/list`.
pub(super) fn tool_names(answer: &Answer) -> Option<Vec<String>> {
    if !answer.is_success() {
        return None;
    }
    let tools = answer
        .message
        .as_ref()?
        .get("result")?
        .get("tools")?
        .as_array()?;
    Some(
        tools
            .iter()
            .filter_map(|t| t["name"].as_str())
            .map(str::to_owned)
            .collect(),
    )
}

fn list_failure(answer: &Answer) -> String {
    match answer.message.as_ref().and_then(|m| m.get("error")) {
        Some(error) => format!(
            "{} with the JSON-RPC error {}",
            answer.status,
            sanitize(&error.to_string(), 200)
        ),
        None if answer.is_success() => format!("{} without a JSON-RPC response", answer.status),
        None => answer.describe(),
    }
}

/// The refusal checks and the defects each sends.
fn plan() -> Vec<(CheckId, Vec<Defect>)> {
    let mut plan = vec![
        (CheckId::Expired, vec![Defect::Expired]),
        (CheckId::NotYetValid, vec![Defect::NotYetValid]),
        (
            CheckId::WrongAudience,
            vec![Defect::WrongAudience, Defect::SiblingAudience],
        ),
        (CheckId::WrongIssuer, vec![Defect::WrongIssuer]),
        (CheckId::UnknownKey, vec![Defect::UnknownKey]),
        (CheckId::TamperedSignature, vec![Defect::TamperedSignature]),
        (CheckId::AlgNone, vec![Defect::AlgNone]),
    ];
    let forms = PublicKeyForm::ALL.map(Defect::Hs256PublicKey);
    plan.push((CheckId::Hs256, forms.to_vec()));
    plan.push((CheckId::WrongType, vec![Defect::WrongType]));
    plan
}

fn describe(defect: Defect) -> String {
    match defect {
        Defect::Expired => "expired 10 minutes ago".to_owned(),
        Defect::NotYetValid => "valid only in 10 minutes (nbf)".to_owned(),
        Defect::WrongAudience => "aud of another origin".to_owned(),
        Defect::SiblingAudience => "aud of another resource on this origin".to_owned(),
        Defect::WrongIssuer => "another iss".to_owned(),
        Defect::UnknownKey => "a kid not in the JWKS".to_owned(),
        Defect::TamperedSignature => "one signature bit flipped".to_owned(),
        Defect::AlgNone => "alg none, no signature".to_owned(),
        Defect::Hs256PublicKey(form) => format!("HS256 keyed with {}", form.describe()),
        Defect::WrongType => "typ JWT".to_owned(),
    }
}

pub(super) async fn run(
    ctx: &Ctx<'_>,
    out: &mut Results,
    session: Option<&Session>,
    scope: Option<&str>,
) {
    let mut checks: Vec<CheckId> = plan().into_iter().map(|(c, _)| c).collect();
    checks.extend([
        CheckId::InvalidTokenError,
        CheckId::QueryToken,
        CheckId::Revoked,
    ]);
    let Some(session) = session else {
        for check in checks {
            out.record(check, Outcome::Skip(untestable()));
        }
        return;
    };
    out.record(CheckId::InvalidTokenError, garbage(ctx, session).await);
    for (check, defects) in plan() {
        let mut lines = Vec::new();
        let mut refused_all = true;
        for defect in defects {
            let (refused, line) = match ctx.mint(scope, &[defect]).await {
                Ok(token) => refusal(
                    ctx.mcp
                        .request(session, "tools/list", Auth::Bearer(&token.token))
                        .await,
                ),
                Err(why) => (false, why),
            };
            refused_all &= refused;
            lines.push(format!("{}: {line}", describe(defect)));
        }
        let detail = lines.join("; ");
        out.record(
            check,
            if refused_all {
                Outcome::Pass(detail)
            } else {
                Outcome::Fail(detail)
            },
        );
    }
    out.record(CheckId::QueryToken, query(ctx, session, scope).await);
    out.record(CheckId::Revoked, revoked(ctx, session, scope).await);
}

pub(super) fn untestable() -> String {
    "untestable: the valid token did not work (CH-12), so a refusal would prove nothing".to_owned()
}

/// Whether the answer is a 401, and the evidence.
fn refusal(answer: Result<Answer, String>) -> (bool, String) {
    match answer {
        Ok(answer) if answer.status == 401 => (true, format!("refused, {}", answer.describe())),
        Ok(answer) if answer.is_success() => (
            false,
            format!("accepted: tools/list answered {}", answer.describe()),
        ),
        Ok(answer) => (
            false,
            format!("answered {} instead of 401", answer.describe()),
        ),
        Err(why) => (false, why),
    }
}

/// CH-11: a 401 with `error="invalid_token"` (RFC 6750 §3.1; RFC 9068 §4: "MUST include
/// the error code invalid_token").
async fn garbage(ctx: &Ctx<'_>, session: &Session) -> Outcome {
    let answer = ctx
        .mcp
        .request(session, "tools/list", Auth::Bearer(GARBAGE_TOKEN))
        .await;
    let error = answer
        .as_ref()
        .ok()
        .and_then(Answer::bearer)
        .and_then(|b| b.param("error").map(str::to_owned));
    match refusal(answer) {
        (true, line) if error.as_deref() == Some("invalid_token") => {
            Outcome::Pass(format!("Bearer {GARBAGE_TOKEN}: {line}"))
        }
        (true, line) => Outcome::FailAt(
            super::Level::Recommended,
            format!("Bearer {GARBAGE_TOKEN}: {line}, without error=\"invalid_token\""),
        ),
        (false, line) => Outcome::Fail(format!("Bearer {GARBAGE_TOKEN}: {line}")),
    }
}

/// CH-21: OAuth 2.1 §5.1, "resource servers MUST ignore access tokens in a URI query
/// parameter": with the valid token only in the query, the request is unauthenticated.
async fn query(ctx: &Ctx<'_>, session: &Session, scope: Option<&str>) -> Outcome {
    let token = match ctx.mint(scope, &[]).await {
        Ok(token) => token.token,
        Err(why) => return Outcome::Fail(why),
    };
    let (refused, line) = refusal(
        ctx.mcp
            .request(session, "tools/list", Auth::Query(&token))
            .await,
    );
    let detail = format!("a valid token as ?access_token= and no Authorization header: {line}");
    if refused {
        Outcome::Pass(detail)
    } else {
        Outcome::Fail(detail)
    }
}

/// CH-30: a token revoked at Tollgate. A server that introspects learns `active: false`
/// (RFC 7662 §2.2) and must refuse it; one that validates JWTs itself cannot know, which
/// Tollgate's event log tells apart (every introspection is a `token.introspect` event).
async fn revoked(ctx: &Ctx<'_>, session: &Session, scope: Option<&str>) -> Outcome {
    let token = match ctx.mint(scope, &[]).await {
        Ok(token) => token,
        Err(why) => return Outcome::Fail(why),
    };
    let now = ctx.authority.clock.now();
    if let Err(e) = ctx
        .authority
        .store
        .revoke_access_token(&token.jti, now)
        .await
    {
        return Outcome::Fail(format!("Tollgate could not revoke the token: {e}"));
    }
    let (refused, line) = refusal(
        ctx.mcp
            .request(session, "tools/list", Auth::Bearer(&token.token))
            .await,
    );
    if refused {
        return Outcome::Pass(format!("a token revoked at Tollgate: {line}"));
    }
    match introspections(ctx).await {
        Err(why) => Outcome::Skip(format!(
            "the revoked token was not refused ({line}), and {why}"
        )),
        Ok(callers) if callers.is_empty() => Outcome::Skip(format!(
            "the server does not introspect (no token.introspect event since the check began), \
             so it cannot see a revocation: a revoked JWT stays valid until it expires ({line})"
        )),
        Ok(callers) => Outcome::Fail(format!(
            "the server introspects (token.introspect by {}), yet the revoked token was not \
             refused: {line}",
            sanitize(&callers.join(", "), 200)
        )),
    }
}

/// The clients that introspected since the check began.
async fn introspections(ctx: &Ctx<'_>) -> Result<Vec<String>, String> {
    match ctx.authority.events {
        EventSource::Off => {
            return Err(
                "this Tollgate records no events (events.enabled = false), so whether \
                        the server introspects cannot be seen"
                    .to_owned(),
            );
        }
        EventSource::InProcess(log) => log.flush().await,
        EventSource::Database => {}
    }
    let filter = EventFilter {
        since_ms: Some(ctx.started_ms),
        limit: 1000,
        ..EventFilter::default()
    };
    let events = (ctx.authority.store.events(&filter).await)
        .map_err(|e| format!("the event log cannot be read: {e}"))?;
    let mut callers: Vec<String> = events
        .into_iter()
        .filter(|e| e.kind == EventType::Introspection)
        .map(|e| {
            e.client_id
                .unwrap_or_else(|| "an unauthenticated caller".to_owned())
        })
        .collect();
    callers.sort();
    callers.dedup();
    Ok(callers)
}
