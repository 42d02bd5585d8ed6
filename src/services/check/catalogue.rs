//! Every check `tollgate check` runs: its id (`CH-n`, as in the research note
//! `rs-checks.md` §2; CH-27 to CH-30 extend that table), the conformance-style slug, the
//! title, the spec text it rests on, and how much each MCP revision asks for it.

/// The MCP revision whose rules the checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Profile {
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Profile {
    pub const ALL: [Profile; 3] = [
        Profile::V2025_06_18,
        Profile::V2025_11_25,
        Profile::V2026_07_28,
    ];
    pub const LATEST: Profile = Profile::V2026_07_28;

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::V2025_06_18 => "2025-06-18",
            Profile::V2025_11_25 => "2025-11-25",
            Profile::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(text: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// 2026-07-28 removed `initialize` and sessions: every request carries its version
    /// (`basic/versioning.mdx`, "Modern").
    pub fn is_modern(self) -> bool {
        self >= Profile::V2026_07_28
    }

    /// The revision's authorization page, and (from 2026-07-28, where the page was split)
    /// its discovery and security pages.
    fn auth(self) -> String {
        format!("MCP {} Authorization", self.as_str())
    }

    fn discovery(self) -> String {
        match self {
            Profile::V2026_07_28 => "MCP 2026-07-28 Authorization Server Discovery".to_owned(),
            _ => self.auth(),
        }
    }

    fn security(self) -> String {
        match self {
            Profile::V2026_07_28 => {
                "MCP 2026-07-28 Authorization Security Considerations".to_owned()
            }
            _ => self.auth(),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a revision asks for a check: a failed required check fails the run, a failed
/// recommended one (a SHOULD) is reported but does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Required,
    Recommended,
}

/// Whether a revision asks for a check at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Yes(Level),
    /// Not part of this revision; the reason is the skip's.
    No(&'static str),
}

/// The families of checks, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Challenge,
    Metadata,
    Discovery,
    Access,
    Refusals,
    Scope,
    Legacy,
}

impl Family {
    pub fn title(self) -> &'static str {
        match self {
            Family::Challenge => "Challenge",
            Family::Metadata => "Protected resource metadata",
            Family::Discovery => "Discovery",
            Family::Access => "A valid token works",
            Family::Refusals => "Tokens that must be refused",
            Family::Scope => "Scope",
            Family::Legacy => "2025-03-26 clients",
        }
    }
}

macro_rules! checks {
    ($($name:ident = $id:literal, $slug:literal, $family:ident, $title:literal;)*) => {
        /// One check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CheckId { $($name),* }

        impl CheckId {
            /// Every check, in report order.
            pub const ALL: &[CheckId] = &[$(CheckId::$name),*];

            /// The stable id, `CH-n`.
            pub fn id(self) -> &'static str {
                match self { $(CheckId::$name => $id),* }
            }

            /// The name in the style of the MCP conformance suite's server-auth scenarios.
            pub fn slug(self) -> &'static str {
                match self { $(CheckId::$name => $slug),* }
            }

            pub fn family(self) -> Family {
                match self { $(CheckId::$name => Family::$family),* }
            }

            pub fn title(self) -> &'static str {
                match self { $(CheckId::$name => $title),* }
            }
        }
    };
}

checks! {
    Unauthenticated = "CH-1", "auth-401-response", Challenge,
        "A request without a token is refused with 401";
    BearerChallenge = "CH-2", "auth-www-authenticate-header", Challenge,
        "The 401 carries a WWW-Authenticate Bearer challenge";
    ResourceMetadataParam = "CH-3", "auth-resource-metadata-param", Challenge,
        "The challenge names the metadata (resource_metadata)";
    NoErrorWithoutToken = "CH-4", "auth-www-authenticate-no-error-without-credentials", Challenge,
        "No error code in the challenge to a request without a token";
    ChallengeScope = "CH-5", "auth-www-authenticate-scope", Challenge,
        "The challenge names the scope to ask for";
    PrmServed = "CH-6", "auth-prm-discovery", Metadata,
        "The protected resource metadata is served";
    PrmWellKnown = "CH-7", "auth-prm-well-known-location", Metadata,
        "The metadata is at the well-known URL";
    PrmResource = "CH-8", "auth-prm-resource", Metadata,
        "resource is the MCP server's URL, character for character";
    AuthorizationServers = "CH-9", "auth-prm-authorization-servers", Metadata,
        "authorization_servers names this Tollgate's issuer exactly";
    ScopesSupported = "CH-10", "auth-prm-scopes-supported", Metadata,
        "scopes_supported is present and consistent with the challenge";
    AsDiscovery = "CH-27", "auth-as-metadata-discovery", Discovery,
        "Discovery from the metadata reaches Tollgate's RFC 8414 document";
    ValidToken = "CH-12", "auth-valid-audience-token-accepted", Access,
        "A valid token works: the handshake and tools/list succeed";
    InvalidTokenError = "CH-11", "auth-invalid-token-rejected", Refusals,
        "A token that is not one gets 401 with error=\"invalid_token\"";
    Expired = "CH-13", "auth-expired-token-rejected", Refusals,
        "An expired token is refused with 401";
    NotYetValid = "CH-28", "auth-not-yet-valid-token-rejected", Refusals,
        "A token not valid yet (nbf ahead) is refused with 401";
    WrongAudience = "CH-14", "auth-wrong-audience-token-rejected", Refusals,
        "A token for another resource is refused with 401, on another origin and on this one";
    WrongIssuer = "CH-16", "auth-wrong-issuer-token-rejected", Refusals,
        "A token from another issuer is refused with 401";
    UnknownKey = "CH-17", "auth-untrusted-token-rejected", Refusals,
        "A token signed by a key not in the JWKS (unknown kid) is refused with 401";
    TamperedSignature = "CH-29", "auth-tampered-signature-token-rejected", Refusals,
        "A token with a tampered signature is refused with 401";
    AlgNone = "CH-18", "auth-alg-none-token-rejected", Refusals,
        "An unsigned token (alg none) is refused with 401";
    Hs256 = "CH-19", "auth-hs256-confusion-token-rejected", Refusals,
        "An HS256 token keyed with the RSA public key is refused with 401";
    WrongType = "CH-20", "auth-wrong-typ-token-rejected", Refusals,
        "A JWT whose typ is not at+jwt is refused with 401";
    QueryToken = "CH-21", "auth-query-token-ignored", Refusals,
        "A token in the query string is ignored (401)";
    Revoked = "CH-30", "auth-revoked-token-rejected", Refusals,
        "A revoked token is refused with 401 when the server introspects";
    InsufficientScope = "CH-23", "step-up-403-response", Scope,
        "A token without the scope gets 403 insufficient_scope naming the scope";
    StepUp = "CH-24", "step-up-success-after-escalation", Scope,
        "A token with the challenged scope then works (step-up)";
    LegacyMetadata = "CH-25", "auth-legacy-origin-as-metadata", Legacy,
        "The authorization server metadata URL at the MCP server's origin leads to Tollgate";
}

impl CheckId {
    /// How much `profile` asks for this check.
    pub fn applies(self, profile: Profile) -> Applies {
        use Level::{Recommended, Required};
        use Profile::*;
        match (self, profile) {
            (CheckId::NoErrorWithoutToken, _) | (CheckId::ScopesSupported, _) => {
                Applies::Yes(Recommended)
            }
            (CheckId::ChallengeScope, V2025_06_18) => Applies::No(
                "2025-06-18 does not ask for a scope in the 401 challenge (RFC 6750 §3 makes it \
                 OPTIONAL); 2025-11-25 made it a SHOULD",
            ),
            (CheckId::ChallengeScope, _) => Applies::Yes(Recommended),
            (CheckId::StepUp, V2025_06_18) => Applies::Yes(Recommended),
            (CheckId::LegacyMetadata, V2026_07_28) => Applies::No(
                "2026-07-28 has no initialize, so 2025-03-26 clients are not part of it; for a \
                 server that also speaks an older revision, check with --profile 2025-11-25",
            ),
            (CheckId::LegacyMetadata, _) => Applies::Yes(Recommended),
            _ => Applies::Yes(Required),
        }
    }

    /// The normative text the check rests on, in `profile`'s words where the MCP pages
    /// differ between revisions.
    pub fn spec(self, profile: Profile) -> String {
        let auth = profile.auth();
        let discovery = profile.discovery();
        let handling = format!("{auth} §Token Handling");
        match self {
            CheckId::Unauthenticated => format!("{auth} §Error Handling (401); RFC 6750 §3"),
            CheckId::BearerChallenge => "RFC 6750 §3; RFC 9110 §11.6.1, §15.5.2".to_owned(),
            CheckId::ResourceMetadataParam => match profile {
                Profile::V2025_06_18 => {
                    format!("{auth} §Authorization Server Location; RFC 9728 §5.1")
                }
                _ => format!(
                    "{discovery} §Protected Resource Metadata Discovery Requirements; RFC 9728 §5.1"
                ),
            },
            CheckId::NoErrorWithoutToken => "RFC 6750 §3.1".to_owned(),
            CheckId::ChallengeScope => match profile {
                Profile::V2026_07_28 => {
                    format!("{auth} §Scope Selection Strategy, §Refresh Tokens; RFC 6750 §3")
                }
                _ => format!("{auth} §Scope Selection Strategy; RFC 6750 §3"),
            },
            CheckId::PrmServed => {
                format!("{discovery} §Authorization Server Location; RFC 9728 §3, §3.2")
            }
            CheckId::PrmWellKnown => match profile {
                Profile::V2025_06_18 => "RFC 9728 §3, §3.1".to_owned(),
                _ => format!(
                    "{discovery} §Protected Resource Metadata Discovery Requirements; RFC 9728 §3.1"
                ),
            },
            CheckId::PrmResource => "RFC 9728 §3.3".to_owned(),
            CheckId::AuthorizationServers => {
                format!("{discovery} §Authorization Server Location; RFC 9728 §2")
            }
            CheckId::ScopesSupported => match profile {
                Profile::V2026_07_28 => format!(
                    "RFC 9728 §2; {auth} §Scope Selection Strategy, §Refresh Tokens; OAuth 2.1 §5.1"
                ),
                _ => format!("RFC 9728 §2; {auth} §Scope Selection Strategy; OAuth 2.1 §5.1"),
            },
            CheckId::AsDiscovery => {
                format!("{discovery} §Authorization Server Metadata Discovery; RFC 8414 §3, §3.3")
            }
            CheckId::ValidToken => {
                let transport = match profile {
                    Profile::V2026_07_28 => "MCP 2026-07-28 Streamable HTTP, server/discover",
                    Profile::V2025_11_25 => "MCP 2025-11-25 Transports, Lifecycle",
                    Profile::V2025_06_18 => "MCP 2025-06-18 Transports, Lifecycle",
                };
                format!("{handling}; OAuth 2.1 §5.2; {transport}")
            }
            CheckId::InvalidTokenError => format!("{handling}; RFC 6750 §3.1; RFC 9068 §4"),
            CheckId::Expired => format!("{handling}; RFC 9068 §4 (exp); OAuth 2.1 §5.2"),
            CheckId::NotYetValid => format!("{handling}; RFC 7519 §4.1.5 (nbf); OAuth 2.1 §5.2"),
            CheckId::WrongAudience => format!(
                "{handling}; {} §Token Audience Binding and Validation; RFC 8707 §2; RFC 9068 §4",
                profile.security()
            ),
            CheckId::WrongIssuer => format!("{handling}; RFC 9068 §4 (iss)"),
            CheckId::UnknownKey => {
                format!("{handling}; RFC 9068 §4 (keys of the authorization server)")
            }
            CheckId::TamperedSignature => format!("{handling}; RFC 9068 §4; RFC 7515 §5.2"),
            CheckId::AlgNone => format!("{handling}; RFC 9068 §4 (alg none); RFC 8725 §3.1"),
            CheckId::Hs256 => format!("{handling}; RFC 8725 §2.1, §3.1; RFC 9068 §4"),
            CheckId::WrongType => format!("{handling}; RFC 9068 §2.1, §4 (typ); RFC 8725 §3.11"),
            CheckId::QueryToken => {
                format!("OAuth 2.1 §5.1; {auth} §Token Requirements; RFC 6750 §2.3")
            }
            CheckId::Revoked => format!("{handling}; RFC 7662 §2.2; RFC 6750 §3.1"),
            CheckId::InsufficientScope => match profile {
                Profile::V2025_06_18 => format!("{auth} §Error Handling (403); RFC 6750 §3.1"),
                _ => format!("{auth} §Runtime Insufficient Scope Errors; RFC 6750 §3.1"),
            },
            CheckId::StepUp => match profile {
                Profile::V2025_06_18 => "RFC 6750 §3.1 (scope)".to_owned(),
                _ => format!("{auth} §Step-Up Authorization Flow; RFC 6750 §3.1"),
            },
            CheckId::LegacyMetadata => {
                "MCP 2025-03-26 Authorization §Server Metadata Discovery; RFC 8414 §3".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_slugs_are_unique() {
        let mut ids: Vec<&str> = CheckId::ALL.iter().map(|c| c.id()).collect();
        let mut slugs: Vec<&str> = CheckId::ALL.iter().map(|c| c.slug()).collect();
        ids.sort_unstable();
        ids.dedup();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(ids.len(), CheckId::ALL.len());
        assert_eq!(slugs.len(), CheckId::ALL.len());
    }

    #[test]
    fn report_order_keeps_families_together() {
        let families: Vec<Family> = CheckId::ALL.iter().map(|c| c.family()).collect();
        let mut seen: Vec<Family> = families.clone();
        seen.dedup();
        let mut unique = seen.clone();
        unique.sort_by_key(|f| *f as u8);
        unique.dedup();
        assert_eq!(seen.len(), unique.len(), "{families:?}");
    }

    #[test]
    fn the_revisions_differ_where_the_spec_does() {
        // MCP 2025-11-25 §Protected Resource Metadata Discovery Requirements added the
        // challenge's scope (SHOULD); 2025-06-18 does not ask for it.
        assert!(matches!(
            CheckId::ChallengeScope.applies(Profile::V2025_06_18),
            Applies::No(_)
        ));
        assert_eq!(
            CheckId::ChallengeScope.applies(Profile::V2026_07_28),
            Applies::Yes(Level::Recommended)
        );
        // Every token refusal is a MUST in every revision (Token Handling).
        for profile in Profile::ALL {
            assert_eq!(
                CheckId::AlgNone.applies(profile),
                Applies::Yes(Level::Required)
            );
        }
        assert!(
            CheckId::ResourceMetadataParam
                .spec(Profile::V2026_07_28)
                .contains("Authorization Server Discovery")
        );
        assert_eq!(Profile::parse("2025-11-25"), Some(Profile::V2025_11_25));
        assert_eq!(Profile::parse("2025-03-26"), None);
    }
}
