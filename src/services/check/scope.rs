//! Scope (CH-23, CH-24): a valid token without the scope the server asks for gets 403 with
//! `error="insufficient_scope"` and the scope to ask for (MCP Error Handling: 403 for
//! "Invalid scopes or insufficient permissions"; 2025-11-25+ Runtime Insufficient Scope
//! Errors; RFC 6750 §3.1), and a token with that scope then works (Step-Up Authorization
//! Flow). Which operation needs which scope cannot be known from outside: if a token
//! without any scope may list the tools, no 403 is to be seen and both are skipped.

use super::http::Answer;
use super::mcp::{Auth, Session};
use super::refusals::{tool_names, untestable};
use super::report::sanitize;
use super::{CheckId, Ctx, Level, Outcome, Results};

pub(super) async fn run(
    ctx: &Ctx<'_>,
    out: &mut Results,
    session: Option<&Session>,
    scope: Option<&str>,
) {
    let Some(session) = session else {
        out.record(CheckId::InsufficientScope, Outcome::Skip(untestable()));
        out.record(CheckId::StepUp, Outcome::Skip(untestable()));
        return;
    };
    let challenged = insufficient(ctx, out, session, scope).await;
    let Some(challenged) = challenged else {
        return;
    };
    let outcome = match ctx.mint(Some(&challenged), &[]).await {
        Err(why) => Outcome::Fail(why),
        Ok(token) => match ctx
            .mcp
            .request(session, "tools/list", Auth::Bearer(&token.token))
            .await
        {
            Ok(answer) if tool_names(&answer).is_some() => Outcome::Pass(format!(
                "a token with scope \"{}\": tools/list answered {}",
                sanitize(&challenged, 200),
                answer.status
            )),
            Ok(answer) => Outcome::Fail(format!(
                "a token with the challenged scope \"{}\": tools/list answered {}; the scope the \
                 challenge names must be enough for the operation",
                sanitize(&challenged, 200),
                answer.describe()
            )),
            Err(why) => Outcome::Fail(why),
        },
    };
    out.record(CheckId::StepUp, outcome);
}

/// CH-23; returns the challenged scope for CH-24, after recording CH-24 itself when there
/// is none to try.
async fn insufficient(
    ctx: &Ctx<'_>,
    out: &mut Results,
    session: &Session,
    scope: Option<&str>,
) -> Option<String> {
    let skip_step_up = |out: &mut Results, why: &str| {
        out.record(CheckId::StepUp, Outcome::Skip(why.to_owned()));
    };
    let wanted = scope.map_or_else(
        || "none".to_owned(),
        |s| format!("\"{}\"", sanitize(s, 200)),
    );
    let answer = match ctx.mint(None, &[]).await {
        Ok(token) => {
            ctx.mcp
                .request(session, "tools/list", Auth::Bearer(&token.token))
                .await
        }
        Err(why) => Err(why),
    };
    let answer: Answer = match answer {
        Ok(answer) => answer,
        Err(why) => {
            out.record(CheckId::InsufficientScope, Outcome::Fail(why));
            skip_step_up(out, "there is no 403 challenge (CH-23)");
            return None;
        }
    };
    let prefix = format!(
        "a valid token without any scope (the valid one has {wanted}): tools/list answered"
    );
    if answer.is_success() {
        let why = format!(
            "{prefix} {}: no operation asked for a scope, so there is no 403 to see",
            answer.status
        );
        out.record(CheckId::InsufficientScope, Outcome::Skip(why));
        skip_step_up(out, "there is no 403 challenge (CH-23)");
        return None;
    }
    if answer.status != 403 {
        let why = if answer.status == 401 {
            "; the token is valid, it only lacks scope: MCP asks for 403 with \
             error=\"insufficient_scope\" (a 401 sends clients back to the same authorization)"
        } else {
            "; MCP asks for 403 with error=\"insufficient_scope\""
        };
        out.record(
            CheckId::InsufficientScope,
            Outcome::Fail(format!("{prefix} {}{why}", answer.describe())),
        );
        skip_step_up(out, "there is no 403 challenge (CH-23)");
        return None;
    }
    let bearer = answer.bearer();
    let error = bearer.as_ref().and_then(|b| b.param("error"));
    let challenged = (bearer.as_ref())
        .and_then(|b| b.param("scope"))
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty());
    let detail = format!("{prefix} {}", answer.describe());
    match (error, &challenged) {
        (Some("insufficient_scope"), Some(_)) => {
            out.record(CheckId::InsufficientScope, Outcome::Pass(detail));
        }
        (error, _) => {
            let mut missing = Vec::new();
            if error != Some("insufficient_scope") {
                missing.push("error=\"insufficient_scope\"");
            }
            if challenged.is_none() {
                missing.push("the scope to ask for");
            }
            // 403 is the MUST of the error table; the challenge's content is a SHOULD.
            out.record(
                CheckId::InsufficientScope,
                Outcome::FailAt(
                    Level::Recommended,
                    format!("{detail}; missing {}", missing.join(" and ")),
                ),
            );
        }
    }
    if challenged.is_none() {
        skip_step_up(out, "the 403 names no scope to ask for (CH-23)");
    }
    challenged
}
