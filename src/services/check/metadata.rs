//! The protected resource metadata (RFC 9728, CH-6 to CH-10), fetched as a client would:
//! without a token, without following redirects (RFC 9728 §3.2 asks for 200). What a
//! client does next, find the authorization server, is [`super::discovery`].

use super::discovery;
use super::http::content_type;
use super::report::sanitize;
use super::{CheckId, Ctx, Outcome, Profile, Results};
use crate::oauth::www_authenticate::Challenge;
use serde_json::Value;

const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What the metadata told the checker.
pub(super) struct Found {
    /// The metadata is served at the URL of the challenge's `resource_metadata`.
    pub from_header: bool,
    /// The metadata is served at a well-known URL the profile lets clients try.
    pub at_well_known: bool,
    pub scopes_supported: Vec<String>,
}

/// One metadata URL and what it served: a JSON object, or why not.
struct Fetched {
    url: String,
    document: Result<Value, String>,
}

impl Fetched {
    fn ok(&self) -> bool {
        self.document.is_ok()
    }

    fn evidence(&self) -> String {
        match &self.document {
            Ok(_) => format!("GET {} answered 200 with a JSON object", self.url),
            Err(why) => format!("GET {}: {why}", self.url),
        }
    }
}

/// RFC 9728 §3.1: the well-known string between the host and the path; a terminating `/`
/// after the host is removed first.
fn path_inserted(origin: &str, url: &url::Url, well_known: &str) -> String {
    let path = url.path();
    let path = if path == "/" { "" } else { path };
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{origin}{well_known}{path}{query}")
}

pub(super) async fn run(ctx: &Ctx<'_>, out: &mut Results, bearer: Option<&Challenge>) -> Found {
    let target = url::Url::parse(ctx.url).ok();
    let path_url = target
        .as_ref()
        .map(|url| path_inserted(&ctx.origin, url, PRM_WELL_KNOWN))
        .unwrap_or_default();
    let root_url = format!("{}{PRM_WELL_KNOWN}", ctx.origin);
    let header_url = bearer
        .and_then(|b| b.param("resource_metadata"))
        .filter(|v| url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        .map(str::to_owned);

    let header = match &header_url {
        Some(url) => Some(fetch_prm(ctx, url).await),
        None => None,
    };
    let path = fetch_prm(ctx, &path_url).await;
    let root = if root_url == path_url {
        None
    } else {
        Some(fetch_prm(ctx, &root_url).await)
    };
    // Root is a fallback only from 2025-11-25 (Protected Resource Metadata Discovery
    // Requirements: "At the root").
    let root_allowed = ctx.profile != Profile::V2025_06_18;
    let usable_root = root.as_ref().filter(|_| root_allowed);

    // CH-6: the document a client takes first: the challenge's URL, else the well-known
    // ones in the order clients try them.
    let first_choice = header.as_ref().unwrap_or(&path);
    let served = if first_choice.ok() || header.is_some() {
        Some(first_choice)
    } else {
        usable_root.filter(|r| r.ok())
    };
    out.record(
        CheckId::PrmServed,
        match served {
            Some(fetched) if fetched.ok() => Outcome::Pass(fetched.evidence()),
            Some(fetched) => Outcome::Fail(fetched.evidence()),
            None => Outcome::Fail(format!(
                "no metadata: {}{}",
                path.evidence(),
                usable_root
                    .map(|r| format!("; {}", r.evidence()))
                    .unwrap_or_default()
            )),
        },
    );

    // CH-7: at the well-known URL of RFC 9728 §3, or (2025-11-25+) at the root.
    let root_ok = usable_root.is_some_and(Fetched::ok);
    out.record(
        CheckId::PrmWellKnown,
        if path.ok() {
            Outcome::Pass(path.evidence())
        } else if root_ok {
            Outcome::Pass(format!(
                "at the root, {root_url} (MCP allows it; the RFC 9728 §3 URL {path_url} does not \
                 serve it: {})",
                path.document.as_ref().err().map_or("", String::as_str)
            ))
        } else {
            Outcome::Fail(match &root {
                Some(root) => format!("{}; {}", path.evidence(), root.evidence()),
                None => path.evidence(),
            })
        },
    );

    // The content checks read the first document a client could get at all.
    let candidates = [header.as_ref(), Some(&path), usable_root];
    let used = candidates.into_iter().flatten().find(|f| f.ok());
    let via_root_only = used.is_some_and(|u| u.url == root_url) && header.is_none();
    let document = used.and_then(|u| u.document.as_ref().ok());
    let found = Found {
        from_header: header.as_ref().is_some_and(Fetched::ok),
        at_well_known: path.ok() || root_ok,
        scopes_supported: document.map(scopes_supported).unwrap_or_default(),
    };
    let Some(document) = document else {
        let why = "there is no metadata to read (CH-6)";
        for check in [
            CheckId::PrmResource,
            CheckId::AuthorizationServers,
            CheckId::ScopesSupported,
            CheckId::AsDiscovery,
        ] {
            out.record(check, Outcome::Skip(why.to_owned()));
        }
        discovery::legacy(ctx, out, None).await;
        return found;
    };
    let source = used.map(|u| u.url.as_str()).unwrap_or_default();
    out.record(
        CheckId::PrmResource,
        resource(ctx, document, source, via_root_only),
    );
    out.record(
        CheckId::AuthorizationServers,
        authorization_servers(ctx, document),
    );
    out.record(
        CheckId::ScopesSupported,
        scopes_consistent(ctx, document, bearer),
    );
    let tollgate = discovery::tollgate(ctx, out).await;
    discovery::legacy(ctx, out, tollgate.as_ref()).await;
    found
}

async fn fetch_prm(ctx: &Ctx<'_>, url: &str) -> Fetched {
    let document = match ctx.http.get(url, &[]).await {
        Err(why) => Err(why),
        Ok(answer) if answer.status != 200 => Err(match answer.headers.get("location") {
            Some(to) => format!(
                "answered {} to {}: RFC 9728 §3.2 asks for 200, and clients do not follow",
                answer.status,
                sanitize(&String::from_utf8_lossy(to.as_bytes()), 300)
            ),
            None => format!("answered {}", answer.describe()),
        }),
        Ok(answer) => match content_type(&answer.headers).as_deref() {
            Some("application/json") => match answer.json() {
                Some(document) if document.is_object() => Ok(document),
                _ => Err("answered 200, but the body is not a JSON object".to_owned()),
            },
            other => Err(format!(
                "answered 200 with Content-Type {}, not application/json (RFC 9728 §3.2)",
                sanitize(other.unwrap_or("(none)"), 100)
            )),
        },
    };
    Fetched {
        url: url.to_owned(),
        document,
    }
}

/// CH-8, RFC 9728 §3.3: `resource` identical to the URL the client used (for metadata at
/// the root, which MCP allows, the origin is what RFC 9728 §3.3 expects).
fn resource(ctx: &Ctx<'_>, document: &Value, source: &str, via_root_only: bool) -> Outcome {
    let Some(resource) = document.get("resource") else {
        return Outcome::Fail(format!("the metadata at {source} has no resource"));
    };
    let Some(resource) = resource.as_str() else {
        return Outcome::Fail(format!("resource at {source} is not a string"));
    };
    if resource == ctx.url || (via_root_only && resource == ctx.origin) {
        return Outcome::Pass(format!(
            "resource is \"{}\" (from {source})",
            sanitize(resource, 300)
        ));
    }
    let similar = resource
        .trim_end_matches('/')
        .eq_ignore_ascii_case(ctx.url.trim_end_matches('/'));
    Outcome::Fail(format!(
        "resource is \"{}\" (from {source}), but the client used \"{}\"{}",
        sanitize(resource, 300),
        ctx.url,
        if similar {
            "; they differ only in a trailing slash or in case, and RFC 9728 §3.3 compares \
             character for character: clients refuse this metadata"
        } else {
            "; clients refuse metadata for another resource (RFC 9728 §3.3)"
        }
    ))
}

/// CH-9: `authorization_servers` (MUST, at least one) names this Tollgate's issuer exactly,
/// which is what a client compares the AS metadata's `issuer` with (RFC 8414 §3.3).
fn authorization_servers(ctx: &Ctx<'_>, document: &Value) -> Outcome {
    let issuer = ctx.authority.issuer;
    let Some(entries) = document.get("authorization_servers") else {
        return Outcome::Fail("the metadata has no authorization_servers".to_owned());
    };
    let entries: Option<Vec<&str>> = entries
        .as_array()
        .and_then(|a| a.iter().map(Value::as_str).collect());
    let entries = match entries {
        Some(entries) if !entries.is_empty() => entries,
        _ => {
            return Outcome::Fail(
                "authorization_servers is not a non-empty array of strings".to_owned(),
            );
        }
    };
    let listed = sanitize(&entries.join(", "), 300);
    if entries.contains(&issuer) {
        return Outcome::Pass(format!(
            "authorization_servers [{listed}] contains {issuer}"
        ));
    }
    let near = entries.iter().find(|e| {
        e.trim_end_matches('/')
            .eq_ignore_ascii_case(issuer.trim_end_matches('/'))
    });
    Outcome::Fail(format!(
        "authorization_servers [{listed}] does not contain this Tollgate's issuer {issuer}{}",
        match near {
            Some(near) => format!(
                "; \"{}\" differs only in a trailing slash or in case, and clients compare it with \
                 the metadata's issuer character for character",
                sanitize(near, 200)
            ),
            None => String::new(),
        }
    ))
}

fn scopes_supported(document: &Value) -> Vec<String> {
    (document["scopes_supported"]
        .as_array()
        .into_iter()
        .flatten())
    .filter_map(Value::as_str)
    .map(str::to_owned)
    .collect()
}

/// CH-10: `scopes_supported` present and not empty (RFC 9728 §2: RECOMMENDED), sharing a
/// scope with the challenge (Scope Selection Strategy: "SHOULD strive for consistency"),
/// without `offline_access` (2026-07-28, Refresh Tokens), and no `query` bearer method
/// (OAuth 2.1 §5.1).
fn scopes_consistent(ctx: &Ctx<'_>, document: &Value, bearer: Option<&Challenge>) -> Outcome {
    let listed = match document.get("scopes_supported").and_then(Value::as_array) {
        None => return Outcome::Fail("the metadata has no scopes_supported array".to_owned()),
        Some(list) if list.is_empty() => {
            return Outcome::Fail(
                "scopes_supported is [] (RFC 9728 §2: omit empty values)".to_owned(),
            );
        }
        Some(list) => list,
    };
    let scopes: Option<Vec<&str>> = listed.iter().map(Value::as_str).collect();
    let Some(scopes) = scopes else {
        return Outcome::Fail("scopes_supported holds something other than strings".to_owned());
    };
    let shown = sanitize(&scopes.join(" "), 300);
    if ctx.profile.is_modern() && scopes.contains(&"offline_access") {
        return Outcome::Fail(format!(
            "scopes_supported [{shown}] lists offline_access, which MCP servers SHOULD NOT"
        ));
    }
    let methods = document["bearer_methods_supported"].as_array();
    if methods.is_some_and(|m| m.iter().any(|v| v == "query")) {
        return Outcome::Fail(
            "bearer_methods_supported lists query, which OAuth 2.1 §5.1 forbids".to_owned(),
        );
    }
    let challenged: Vec<&str> = (bearer.and_then(|b| b.param("scope")).unwrap_or_default())
        .split_whitespace()
        .collect();
    if !challenged.is_empty() && !challenged.iter().any(|s| scopes.contains(s)) {
        return Outcome::Fail(format!(
            "the challenge asks for \"{}\", none of which is in scopes_supported [{shown}]",
            sanitize(&challenged.join(" "), 200)
        ));
    }
    Outcome::Pass(format!("scopes_supported [{shown}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9728_3_1_the_well_known_string_goes_before_the_path() {
        let at = |url: &str| {
            let parsed = url::Url::parse(url).unwrap();
            path_inserted(
                &parsed.origin().ascii_serialization(),
                &parsed,
                PRM_WELL_KNOWN,
            )
        };
        assert_eq!(
            at("https://example.com/public/mcp"),
            "https://example.com/.well-known/oauth-protected-resource/public/mcp"
        );
        assert_eq!(
            at("http://127.0.0.1:8000/"),
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            at("http://h/mcp?tenant=1"),
            "http://h/.well-known/oauth-protected-resource/mcp?tenant=1"
        );
    }
}
