//! Finding the authorization server (CH-27, CH-25): from the metadata's
//! `authorization_servers` to Tollgate's RFC 8414 document, as MCP clients of 2025-06-18
//! and later do, and from the MCP server's origin, as clients of 2025-03-26 did.

use super::report::sanitize;
use super::{CheckId, Ctx, Outcome, Results};
use serde_json::Value;

const AS_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
const OIDC_WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The metadata URLs a client tries for `issuer`, in the order of MCP Authorization Server
/// Metadata Discovery (RFC 8414 §3.1 path insertion, then OpenID Connect).
fn as_metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}{AS_WELL_KNOWN}"),
            format!("{origin}{OIDC_WELL_KNOWN}"),
        ]
    } else {
        vec![
            format!("{origin}{AS_WELL_KNOWN}{path}"),
            format!("{origin}{OIDC_WELL_KNOWN}{path}"),
            format!("{origin}{path}{OIDC_WELL_KNOWN}"),
        ]
    }
}

/// CH-27: from the entry naming Tollgate, the RFC 8414 document, whose `issuer` must be
/// that entry (RFC 8414 §3.3). Returns the document, for CH-25.
pub(super) async fn tollgate(ctx: &Ctx<'_>, out: &mut Results) -> Option<Value> {
    if !out.passed(CheckId::AuthorizationServers) {
        let why = "no entry of authorization_servers names this Tollgate (CH-9)";
        out.record(CheckId::AsDiscovery, Outcome::Skip(why.to_owned()));
        return None;
    }
    let issuer = ctx.authority.issuer;
    let mut tried = Vec::new();
    for url in as_metadata_urls(issuer) {
        let answer = match ctx.http.get(&url, &[]).await {
            Ok(answer) if answer.status == 200 => answer,
            Ok(answer) => {
                tried.push(format!("GET {url} answered {}", answer.describe()));
                continue;
            }
            Err(why) => {
                tried.push(format!("GET {url}: {why}"));
                continue;
            }
        };
        let document = answer.json().filter(Value::is_object);
        let found = document.as_ref().and_then(|d| d["issuer"].as_str());
        let outcome = match found {
            Some(found) if found == issuer => {
                Outcome::Pass(format!("GET {url} answered 200 with issuer {issuer}"))
            }
            Some(found) => Outcome::Fail(format!(
                "GET {url} answered issuer \"{}\", not {issuer} (RFC 8414 §3.3)",
                sanitize(found, 200)
            )),
            None => Outcome::Fail(format!("GET {url} answered 200 without an issuer")),
        };
        out.record(CheckId::AsDiscovery, outcome);
        return document;
    }
    out.record(
        CheckId::AsDiscovery,
        Outcome::Fail(format!("no metadata for {issuer}: {}", tried.join("; "))),
    );
    None
}

/// CH-25: 2025-03-26 clients look for the authorization server's metadata at the MCP
/// server's origin (2025-03-26 Authorization §Server Metadata Discovery): a redirect to
/// Tollgate's, or a copy naming Tollgate's endpoints, lets them find it.
pub(super) async fn legacy(ctx: &Ctx<'_>, out: &mut Results, tollgate: Option<&Value>) {
    if !ctx.wanted(CheckId::LegacyMetadata) {
        return;
    }
    let url = format!("{}{AS_WELL_KNOWN}", ctx.origin);
    let header = [("mcp-protocol-version", "2025-03-26")];
    let answer = match ctx.http.get(&url, &header).await {
        Ok(answer) => answer,
        Err(why) => {
            out.record(
                CheckId::LegacyMetadata,
                Outcome::Fail(format!("GET {url}: {why}")),
            );
            return;
        }
    };
    let issuer = ctx.authority.issuer;
    let hint = format!(
        "redirect it to {}",
        as_metadata_urls(issuer)
            .first()
            .map_or(issuer, String::as_str)
    );
    let outcome = match answer.status {
        300..=399 => {
            let location = (answer.headers.get("location"))
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url::Url::parse(&url).ok()?.join(l).ok());
            match location {
                Some(to) => match ctx.http.get(to.as_str(), &header).await {
                    Ok(then) if then.json().is_some_and(|d| d["issuer"] == issuer) => {
                        Outcome::Pass(format!("GET {url} redirects to {to}, Tollgate's metadata"))
                    }
                    Ok(then) => Outcome::Fail(format!(
                        "GET {url} redirects to {to}, which answered {} without issuer {issuer}",
                        then.describe()
                    )),
                    Err(why) => Outcome::Fail(format!("GET {url} redirects to {to}: {why}")),
                },
                None => Outcome::Fail(format!(
                    "GET {url} answered {} without a usable Location",
                    answer.status
                )),
            }
        }
        200 => {
            let served = answer.json().unwrap_or_default();
            let same = |field: &str| {
                tollgate.is_some_and(|t| t[field].is_string() && t[field] == served[field])
            };
            if served["issuer"] == issuer
                || (same("authorization_endpoint") && same("token_endpoint"))
            {
                Outcome::Pass(format!(
                    "GET {url} serves metadata naming Tollgate's endpoints"
                ))
            } else {
                Outcome::Fail(format!(
                    "GET {url} serves metadata that does not lead to Tollgate; {hint}"
                ))
            }
        }
        _ => Outcome::Fail(format!(
            "GET {url} answered {}: 2025-03-26 clients find no authorization server; {hint}",
            answer.describe()
        )),
    };
    out.record(CheckId::LegacyMetadata, outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8414_3_1_and_oidc_urls_in_the_mcp_order() {
        assert_eq!(
            as_metadata_urls("http://127.0.0.1:9000"),
            [
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server",
                "http://127.0.0.1:9000/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            as_metadata_urls("https://auth.example.com/tenant1"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }
}
