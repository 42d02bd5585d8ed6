//! The challenge (CH-1 to CH-5): a request without a token must get 401 with a `Bearer`
//! challenge (RFC 6750 §3) that names the metadata (RFC 9728 §5.1) and the scope (MCP
//! 2025-11-25+ Scope Selection Strategy), and carries no error code (RFC 6750 §3.1).

use super::http::Answer;
use super::mcp::{Auth, Era, Session};
use super::report::sanitize;
use super::{CheckId, Ctx, Outcome, Profile, Results};
use crate::oauth::www_authenticate::{self, Challenge};

/// What the challenge told a client.
pub(super) struct Challenged {
    /// The `Bearer` challenge of the 401, if there was one.
    pub bearer: Option<Challenge>,
    /// Its single `scope`, if it has one.
    pub scope: Option<String>,
}

/// Statuses that mean "this request did not reach the authorization layer in a shape the
/// server understands", after which the other era's first request is tried.
const NOT_UNDERSTOOD: [u16; 5] = [400, 404, 405, 406, 415];

pub(super) async fn run(ctx: &Ctx<'_>, out: &mut Results) -> Challenged {
    let none = Challenged {
        bearer: None,
        scope: None,
    };
    let Some(answer) = unauthenticated(ctx, out).await else {
        let why = "there is no 401 to read (CH-1)";
        for check in [
            CheckId::BearerChallenge,
            CheckId::ResourceMetadataParam,
            CheckId::NoErrorWithoutToken,
            CheckId::ChallengeScope,
        ] {
            out.record(check, Outcome::Skip(why.to_owned()));
        }
        return none;
    };
    let bearer = match answer.challenges() {
        Ok(challenges) => match www_authenticate::bearer(&challenges) {
            Some(bearer) => {
                out.record(
                    CheckId::BearerChallenge,
                    Outcome::Pass(format!("the 401 has {}", evidence(&answer))),
                );
                bearer.clone()
            }
            None if challenges.is_empty() => {
                let why = "the 401 has no WWW-Authenticate field (RFC 6750 §3: MUST)";
                out.record(CheckId::BearerChallenge, Outcome::Fail(why.to_owned()));
                return skip_rest(out, none);
            }
            None => {
                let schemes: Vec<String> =
                    challenges.iter().map(|c| sanitize(&c.scheme, 40)).collect();
                let why = format!(
                    "the 401 challenges with {} but not Bearer",
                    schemes.join(", ")
                );
                out.record(CheckId::BearerChallenge, Outcome::Fail(why));
                return skip_rest(out, none);
            }
        },
        Err(why) => {
            let why = format!(
                "the WWW-Authenticate of the 401 does not parse: {}",
                sanitize(&why, 300)
            );
            out.record(CheckId::BearerChallenge, Outcome::Fail(why));
            return skip_rest(out, none);
        }
    };

    out.record(CheckId::ResourceMetadataParam, resource_metadata(&bearer));
    out.record(
        CheckId::NoErrorWithoutToken,
        match bearer.param("error") {
            None => Outcome::Pass("no error parameter".to_owned()),
            Some(error) => Outcome::Fail(format!(
                "error=\"{}\" although the request had no token: RFC 6750 §3.1 says such a \
                 challenge SHOULD NOT carry an error code",
                sanitize(error, 100)
            )),
        },
    );
    let scopes: Vec<&str> = bearer.all("scope").collect();
    let scope = match scopes.as_slice() {
        [one] if !one.trim().is_empty() => {
            Some(one.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        _ => None,
    };
    out.record(
        CheckId::ChallengeScope,
        challenge_scope(ctx.profile, &scopes),
    );
    Challenged {
        bearer: Some(bearer),
        scope,
    }
}

fn skip_rest(out: &mut Results, none: Challenged) -> Challenged {
    let why = "there is no Bearer challenge to read (CH-2)";
    for check in [
        CheckId::ResourceMetadataParam,
        CheckId::NoErrorWithoutToken,
        CheckId::ChallengeScope,
    ] {
        out.record(check, Outcome::Skip(why.to_owned()));
    }
    none
}

/// CH-1: the profile's first request without a token, then (if the server did not
/// understand it) the other era's; if one is answered with success, `tools/list` too: a
/// server may leave the handshake open, and authorization is per request.
async fn unauthenticated(ctx: &Ctx<'_>, out: &mut Results) -> Option<Answer> {
    let (first, second) = if ctx.profile.is_modern() {
        (Era::Modern, Era::Legacy)
    } else {
        (Era::Legacy, Era::Modern)
    };
    let version = if ctx.profile.is_modern() {
        Profile::V2025_11_25.as_str()
    } else {
        ctx.profile.as_str()
    };
    let mut tried = Vec::new();
    for era in [first, second] {
        let sent = match era {
            Era::Modern => "server/discover".to_owned(),
            Era::Legacy => format!("initialize ({version})"),
        };
        let answer = match ctx.mcp.opening(era, version, Auth::None).await {
            Ok(answer) => answer,
            Err(why) => {
                out.record(
                    CheckId::Unauthenticated,
                    Outcome::Fail(format!("{sent} without a token: {why}")),
                );
                return None;
            }
        };
        tried.push(format!("{sent} answered {}", answer.describe()));
        if answer.status == 401 {
            out.record(
                CheckId::Unauthenticated,
                Outcome::Pass(format!(
                    "{sent} without Authorization answered {}",
                    answer.describe()
                )),
            );
            return Some(answer);
        }
        if answer.is_success() {
            return open_handshake(ctx, out, era, &answer, &sent).await;
        }
        if !NOT_UNDERSTOOD.contains(&answer.status) {
            break;
        }
    }
    out.record(
        CheckId::Unauthenticated,
        Outcome::Fail(format!(
            "without a token, {}; MCP Error Handling: 401 when authorization is required",
            tried.join("; ")
        )),
    );
    None
}

/// The opening request succeeded without a token: `tools/list` must still be refused.
async fn open_handshake(
    ctx: &Ctx<'_>,
    out: &mut Results,
    era: Era,
    opened: &Answer,
    sent: &str,
) -> Option<Answer> {
    let session = Session {
        era,
        version: (opened.message.as_ref())
            .and_then(|m| m["result"]["protocolVersion"].as_str())
            .map_or_else(|| ctx.profile.as_str().to_owned(), |v| sanitize(v, 40)),
        id: (opened.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let listed = ctx.mcp.request(&session, "tools/list", Auth::None).await;
    match listed {
        Ok(answer) if answer.status == 401 => {
            out.record(
                CheckId::Unauthenticated,
                Outcome::Pass(format!(
                    "{sent} without a token answered {} (the handshake is open), and tools/list \
                     answered {}",
                    opened.status,
                    answer.describe()
                )),
            );
            Some(answer)
        }
        Ok(answer) => {
            out.record(
                CheckId::Unauthenticated,
                Outcome::Fail(format!(
                    "without a token, {sent} answered {} and tools/list {}: the server does not \
                     require authorization",
                    opened.status,
                    answer.describe()
                )),
            );
            None
        }
        Err(why) => {
            let why = format!(
                "{sent} without a token answered {}; tools/list: {why}",
                opened.status
            );
            out.record(CheckId::Unauthenticated, Outcome::Fail(why));
            None
        }
    }
}

fn evidence(answer: &Answer) -> String {
    let fields: Vec<String> = (answer.headers.get_all("www-authenticate").iter())
        .map(|v| sanitize(&String::from_utf8_lossy(v.as_bytes()), 300))
        .collect();
    format!("WWW-Authenticate: {}", fields.join(" | "))
}

/// CH-3: `resource_metadata`, an absolute URL (RFC 9728 §5.1). Whether it serves the
/// metadata is CH-6's question.
fn resource_metadata(bearer: &Challenge) -> Outcome {
    match bearer.param("resource_metadata") {
        None => Outcome::Fail(
            "the Bearer challenge has no resource_metadata: clients that rely on it (all of \
             2025-06-18, and every later one first) cannot find the authorization server"
                .to_owned(),
        ),
        Some(value) => match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                Outcome::Pass(format!("resource_metadata=\"{}\"", sanitize(value, 300)))
            }
            _ => Outcome::Fail(format!(
                "resource_metadata=\"{}\" is not an absolute http(s) URL",
                sanitize(value, 300)
            )),
        },
    }
}

/// CH-5: one `scope` (RFC 6750 §3: "MUST NOT appear more than once"), not empty, and from
/// 2026-07-28 without `offline_access` (Refresh Tokens: SHOULD NOT).
fn challenge_scope(profile: Profile, scopes: &[&str]) -> Outcome {
    match scopes {
        [] => Outcome::Fail(
            "the challenge names no scope; clients then ask for every scope of scopes_supported"
                .to_owned(),
        ),
        [one] if one.trim().is_empty() => Outcome::Fail("scope=\"\" names no scope".to_owned()),
        [one] if profile.is_modern() && one.split_whitespace().any(|s| s == "offline_access") => {
            Outcome::Fail(format!(
                "scope=\"{}\" includes offline_access, which MCP servers SHOULD NOT ask for \
                 (refresh tokens are not a resource requirement)",
                sanitize(one, 200)
            ))
        }
        [one] => Outcome::Pass(format!("scope=\"{}\"", sanitize(one, 200))),
        many => Outcome::Fail(format!(
            "scope appears {} times; RFC 6750 §3: it MUST NOT appear more than once",
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> Challenge {
        www_authenticate::parse([value]).unwrap().remove(0)
    }

    #[test]
    fn rfc_9728_5_1_resource_metadata_must_be_an_absolute_url() {
        let ok = bearer(
            r#"Bearer resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp""#,
        );
        assert!(matches!(resource_metadata(&ok), Outcome::Pass(_)));
        let relative =
            bearer(r#"Bearer resource_metadata="/.well-known/oauth-protected-resource""#);
        assert!(matches!(resource_metadata(&relative), Outcome::Fail(_)));
        assert!(matches!(
            resource_metadata(&bearer("Bearer")),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn rfc_6750_3_scope_once_and_mcp_2026_07_28_without_offline_access() {
        assert!(matches!(
            challenge_scope(Profile::LATEST, &["mcp:tools"]),
            Outcome::Pass(_)
        ));
        assert!(matches!(
            challenge_scope(Profile::LATEST, &["a", "b"]),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            challenge_scope(Profile::LATEST, &[]),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            challenge_scope(Profile::LATEST, &["mcp:tools offline_access"]),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            challenge_scope(Profile::V2025_11_25, &["mcp:tools offline_access"]),
            Outcome::Pass(_)
        ));
    }
}
