//! Resource indicators (RFC 8707): which MCP servers a token is for. The requested string
//! becomes the access token's `aud` exactly as sent (RFC 9068 §3), so a resource server can
//! compare `aud` with its own canonical URL.

use super::error::OAuthError;
use super::scope::{SERVER_SCOPES, Scope};
use super::{hints, rules};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use url::Url;

/// An MCP server (OAuth resource server) tokens may be issued for. Written as just its URL
/// or as a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Its canonical URL, the `aud` of its tokens.
    pub url: String,
    /// The scopes it understands, as a tree of colon paths (each covers the ones below
    /// it); empty means any scope. Each is a name, or a table with a description for the
    /// consent page and whether the user may leave it out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<DeclaredScope>,
    /// The scope granted when a request for it names none (RFC 6749 §3.3 "pre-defined
    /// default value"); empty: such a request gets no scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_scopes: Vec<String>,
    /// Used as the audience when a request names no resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// What each scope lets a client do, in words for the consent page
    /// (`scope_descriptions = { "mcp:tools" = "Use the tools" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scope_descriptions: BTreeMap<String, String>,
}

/// One scope of a resource's tree: `"mcp:tools"`, or
/// `{ name = "mcp:tools:weather", description = "...", optional = true }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ScopeEntry", into = "ScopeEntry")]
pub struct DeclaredScope {
    pub name: String,
    /// What it lets a client do, in words for the consent page.
    pub description: Option<String>,
    /// The user may untick it on the consent page; the grant then goes without it.
    pub optional: bool,
}

impl DeclaredScope {
    pub fn named(name: &str) -> Self {
        DeclaredScope {
            name: name.to_owned(),
            description: None,
            optional: false,
        }
    }
}

/// How a declared scope is written: a bare name or a table.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ScopeEntry {
    Name(String),
    Table {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        optional: bool,
    },
}

impl From<ScopeEntry> for DeclaredScope {
    fn from(entry: ScopeEntry) -> Self {
        match entry {
            ScopeEntry::Name(name) => DeclaredScope::named(&name),
            ScopeEntry::Table {
                name,
                description,
                optional,
            } => DeclaredScope {
                name,
                description,
                optional,
            },
        }
    }
}

impl From<DeclaredScope> for ScopeEntry {
    fn from(scope: DeclaredScope) -> Self {
        if scope.description.is_none() && !scope.optional {
            return ScopeEntry::Name(scope.name);
        }
        ScopeEntry::Table {
            name: scope.name,
            description: scope.description,
            optional: scope.optional,
        }
    }
}

impl Resource {
    /// A resource with these scopes, no default scopes, and not the default audience.
    pub fn with_scopes(url: &str, scopes: &[&str]) -> Self {
        Resource {
            url: url.to_owned(),
            scopes: scopes.iter().map(|s| DeclaredScope::named(s)).collect(),
            default_scopes: Vec::new(),
            default: false,
            scope_descriptions: BTreeMap::new(),
        }
    }

    /// The names of its scopes.
    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(|s| s.name.as_str())
    }
}

/// What the consent page says about one requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The description declared for exactly this scope by a requested resource.
    pub description: Option<String>,
    /// Whether the user may untick it: an optional declared scope covers it.
    pub optional: bool,
}

/// What the requested resources declare about `scope` (one token).
pub fn scope_info(scope: &str, resources: &[String], configured: &[Resource]) -> ScopeInfo {
    let declared: Vec<&DeclaredScope> = configured
        .iter()
        .filter(|c| resources.iter().any(|r| equivalent(&c.url, r)))
        .flat_map(|c| c.scopes.iter())
        .collect();
    ScopeInfo {
        // The tree's description, else the `scope_descriptions` shorthand.
        description: declared
            .iter()
            .find(|d| d.name == scope && d.description.is_some())
            .and_then(|d| d.description.clone())
            .or_else(|| scope_description(scope, resources, configured).map(str::to_owned)),
        optional: declared
            .iter()
            .any(|d| d.optional && super::scope::covers(&d.name, scope)),
    }
}

impl From<String> for Resource {
    fn from(url: String) -> Self {
        Resource::with_scopes(&url, &[])
    }
}

/// Validates the `resource` values of an authorization request and returns the audience of
/// the grant: the requested resources, or the default audience when none was requested
/// (RFC 9068 §3 requires a default; RFC 8707 §2.1 lets the server choose it).
pub fn resolve_requested<'a>(
    requested: impl IntoIterator<Item = &'a str>,
    configured: &[Resource],
    default_audience: &str,
) -> Result<Vec<String>, OAuthError> {
    let mut resources: Vec<String> = Vec::new();
    for value in requested {
        check_syntax(value)?;
        if !configured.is_empty() && !configured.iter().any(|r| equivalent(&r.url, value)) {
            let names = configured
                .iter()
                .map(|r| format!("'{}'", r.url))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(OAuthError::invalid_target(format!(
                "resource '{value}' is not a resource this server issues tokens for; \
                 configured resources: {names} (RFC 8707 §2)"
            ))
            .rule(&rules::AZ_15)
            .compared(names, value)
            .hint(hints::uri_near_miss(
                configured.iter().map(|r| r.url.as_str()),
                value,
            )));
        }
        if !resources.iter().any(|r| r == value) {
            resources.push(value.to_owned());
        }
    }
    if resources.is_empty() {
        resources.push(default_audience.to_owned());
    }
    Ok(resources)
}

/// The audience used when a request names no resource: the resource configured as the
/// default, else the only configured resource, else the issuer itself.
pub fn default_audience(configured: &[Resource], issuer: &str) -> String {
    configured
        .iter()
        .find(|r| r.default)
        .or(match configured {
            [only] => Some(only),
            _ => None,
        })
        .map_or_else(|| issuer.to_owned(), |r| r.url.clone())
}

/// RFC 8707 §2.2: a token request may name a subset of the resources of the grant; the
/// token is then for those only.
pub fn narrow<'a>(
    requested: impl IntoIterator<Item = &'a str>,
    granted: &[String],
) -> Result<Vec<String>, OAuthError> {
    let mut audience: Vec<String> = Vec::new();
    for value in requested {
        check_syntax(value)?;
        let Some(granted_value) = granted.iter().find(|g| equivalent(g, value)) else {
            let names = granted
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint =
                hints::uri_near_miss(granted.iter().map(String::as_str), value).map(|hint| {
                    format!(
                        "the resource is spelled differently at the token endpoint than in \
                         the authorization request: {hint}"
                    )
                });
            return Err(OAuthError::invalid_target(format!(
                "resource '{value}' was not part of the authorization; this grant is for \
                 {names} (RFC 8707 §2.2: a token request may only narrow the resources)"
            ))
            .rule(&rules::TK_8)
            .compared(names, value)
            .hint(hint));
        };
        if !audience.contains(granted_value) {
            audience.push(granted_value.clone());
        }
    }
    if audience.is_empty() {
        audience = granted.to_vec();
    }
    Ok(audience)
}

/// The scopes a request for these resources may ask for, or `None` when any scope is
/// acceptable (no resource among them has configured scopes).
pub fn allowed_scopes(resources: &[String], configured: &[Resource]) -> Option<Scope> {
    let mut allowed: Vec<&str> = Vec::new();
    for resource in resources {
        let Some(config) = configured.iter().find(|c| equivalent(&c.url, resource)) else {
            continue;
        };
        allowed.extend(config.scope_names());
    }
    if allowed.is_empty() {
        return None;
    }
    allowed.extend(SERVER_SCOPES);
    Some(Scope::from_stored(&allowed.join(" ")))
}

/// The scope of a request that names none: the default scopes of the requested resources
/// (RFC 6749 §3.3), less any the client may not ask for (`client_scopes`, empty: any).
pub fn default_scope(
    resources: &[String],
    configured: &[Resource],
    client_scopes: &[String],
) -> Scope {
    let mut defaults: Vec<&str> = Vec::new();
    for resource in resources {
        if let Some(config) = configured.iter().find(|c| equivalent(&c.url, resource)) {
            defaults.extend(config.default_scopes.iter().map(String::as_str));
        }
    }
    defaults.retain(|scope| {
        client_scopes.is_empty() || client_scopes.iter().any(|c| super::scope::covers(c, scope))
    });
    // Scope::parse removes the duplicates two resources' defaults may share.
    Scope::parse(Some(&defaults.join(" "))).unwrap_or_default()
}

/// Refuses scopes that no requested resource offers (covers: `mcp:tools` offers
/// `mcp:tools:weather`), when the resources have configured scopes (RFC 6749 §4.1.2.1
/// `invalid_scope`).
pub fn check_scope(
    scope: &Scope,
    resources: &[String],
    configured: &[Resource],
) -> Result<(), OAuthError> {
    let Some(allowed) = allowed_scopes(resources, configured) else {
        return Ok(());
    };
    let unknown: Vec<&str> = scope.not_covered_by(&allowed).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(OAuthError::invalid_scope(format!(
        "scope {} is not offered by {}; available scopes: {allowed}",
        unknown.join(" "),
        resources.join(", ")
    ))
    .rule(&rules::AZ_17)
    .compared(allowed.to_string(), scope.to_string())
    .hint(Some(format!(
        "ask only for scopes the resource offers ({allowed}); the MCP server's protected \
         resource metadata (scopes_supported) and its 401 challenge name them"
    ))))
}

fn check_syntax(value: &str) -> Result<(), OAuthError> {
    if value.contains('#') {
        return Err(OAuthError::invalid_target(format!(
            "resource '{value}' contains a fragment; RFC 8707 §2 forbids one"
        ))
        .rule(&rules::AZ_15));
    }
    match Url::parse(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(OAuthError::invalid_target(format!(
            "resource '{value}' is not an absolute URI; RFC 8707 §2 requires one, for MCP the \
             canonical URL of the MCP server such as 'https://mcp.example.com/mcp'"
        ))
        .rule(&rules::AZ_15)),
    }
}

/// Two resource strings name the same resource when they are equal after case-folding the
/// scheme and host and treating an empty path and "/" alike (MCP Canonical Server URI; the TS
/// SDK sends `new URL(resource).href`, which appends "/" to a bare origin).
pub fn equivalent(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The description a declared resource gives `scope`, from the first of `resources` that
/// describes it.
pub fn scope_description<'a>(
    scope: &str,
    resources: &[String],
    configured: &'a [Resource],
) -> Option<&'a str> {
    resources
        .iter()
        .filter_map(|url| configured.iter().find(|r| equivalent(&r.url, url)))
        .find_map(|r| r.scope_descriptions.get(scope))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn configured(urls: &[&str]) -> Vec<Resource> {
        urls.iter().map(|u| Resource::with_scopes(u, &[])).collect()
    }

    #[test]
    fn malformed_resources_are_invalid_target() {
        for bad in ["mcp.example.com", "http://127.0.0.1:8000/mcp#x", "/mcp"] {
            let err = resolve_requested([bad], &[], "http://as").unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn any_absolute_resource_is_accepted_without_configuration() {
        let got = resolve_requested(["http://127.0.0.1:8000/mcp"], &[], "http://as").unwrap();
        assert_eq!(got, ["http://127.0.0.1:8000/mcp"]);
    }

    #[test]
    fn configured_resources_are_an_allowlist() {
        let config = configured(&["http://127.0.0.1:8000/mcp"]);
        assert!(resolve_requested(["http://127.0.0.1:8001/x"], &config, "d").is_err());
        // Case-folded host, and the requested spelling is kept for `aud`.
        let got = resolve_requested(["HTTP://127.0.0.1:8000/mcp"], &config, "d").unwrap();
        assert_eq!(got, ["HTTP://127.0.0.1:8000/mcp"]);
    }

    #[test]
    fn default_audience_rules() {
        assert_eq!(default_audience(&[], "http://as"), "http://as");
        assert_eq!(
            default_audience(&configured(&["https://a"]), "x"),
            "https://a"
        );
        let mut two = configured(&["https://a", "https://b"]);
        assert_eq!(default_audience(&two, "x"), "x");
        two[1].default = true;
        assert_eq!(default_audience(&two, "x"), "https://b");
    }

    #[test]
    fn token_requests_may_only_narrow() {
        let granted = vec!["https://a/mcp".to_owned(), "https://b/mcp".to_owned()];
        assert_eq!(
            narrow(["https://b/mcp"], &granted).unwrap(),
            ["https://b/mcp"]
        );
        assert_eq!(narrow(std::iter::empty(), &granted).unwrap(), granted);
        let err = narrow(["https://c/mcp"], &granted).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn scp_1_a_resource_offers_the_scopes_below_its_tree() {
        let config = vec![Resource::with_scopes(
            "https://a/mcp",
            &["mcp:tools", "mcp:exec:*"],
        )];
        let aud = vec!["https://a/mcp".to_owned()];
        let ok = Scope::parse(Some("mcp:tools:weather mcp:exec:run offline_access")).unwrap();
        assert_eq!(check_scope(&ok, &aud, &config), Ok(()));
        let err = check_scope(&Scope::parse(Some("mcp:exec")).unwrap(), &aud, &config).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
        assert!(err.description.starts_with("scope mcp:exec is not offered"));
    }

    #[test]
    fn scopes_are_names_or_tables() {
        let resource: Resource = toml::from_str(
            r#"
            url = "https://a/mcp"
            scopes = ["mcp:tools", { name = "mcp:tools:weather", description = "Weather", optional = true }]
            "#,
        )
        .unwrap();
        assert_eq!(resource.scopes[0], DeclaredScope::named("mcp:tools"));
        assert_eq!(resource.scopes[1].description.as_deref(), Some("Weather"));
        assert!(resource.scopes[1].optional);
        let aud = vec!["https://a/mcp".to_owned()];
        let configured = std::slice::from_ref(&resource);
        let weather = scope_info("mcp:tools:weather", &aud, configured);
        assert_eq!(weather.description.as_deref(), Some("Weather"));
        assert!(weather.optional);
        // Below an optional scope is optional too; the description is only for the exact
        // scope; and another resource's declarations say nothing.
        let below = scope_info("mcp:tools:weather:read", &aud, configured);
        assert_eq!((below.description, below.optional), (None, true));
        assert!(!scope_info("mcp:tools", &aud, configured).optional);
        assert!(!scope_info("mcp:tools:weather", &["https://b".to_owned()], configured).optional);
    }

    #[test]
    fn trailing_slash_on_an_origin_is_equivalent() {
        assert!(equivalent(
            "https://mcp.example.com",
            "https://mcp.example.com/"
        ));
        assert!(!equivalent(
            "https://mcp.example.com/mcp",
            "https://mcp.example.com/mcp/"
        ));
    }

    #[test]
    fn declared_resources_describe_their_scopes() {
        let mut described = Resource::with_scopes("http://127.0.0.1:8000/mcp", &["mcp:tools"]);
        described
            .scope_descriptions
            .insert("mcp:tools".to_owned(), "Use the tools".to_owned());
        let configured = [
            Resource::from("http://other.example/mcp".to_owned()),
            described,
        ];
        let requested = ["http://127.0.0.1:8000/mcp".to_owned()];
        assert_eq!(
            scope_description("mcp:tools", &requested, &configured),
            Some("Use the tools")
        );
        assert_eq!(
            scope_description("mcp:admin", &requested, &configured),
            None
        );
        let elsewhere = ["http://other.example/mcp".to_owned()];
        assert_eq!(
            scope_description("mcp:tools", &elsewhere, &configured),
            None
        );
    }
}
