//! Authorization server metadata (RFC 8414 §2) and its OpenID Connect Discovery twin. Built
//! once at start-up from the issuer and the route constants; fields that would be empty
//! arrays are omitted (RFC 8414 §3.2, checklist MD-16), and only what works is advertised.

use super::access_token::SIGNING_ALG;
use super::client::{AuthMethod, jwks};
use super::endpoints;
use super::grant_type::GrantType;
use super::id_jag;
use super::issuer::Issuer;
use super::pkce::S256;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 8628 §4.
    pub device_authorization_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint: String,
    /// Introspection needs a confidential caller, so `none` is not offered.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 8414 §2: the JWS algorithms of `private_key_jwt` client assertions, at each
    /// endpoint that takes them.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// CIMD §5: URL client ids are accepted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207: every authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// Draft-ietf-oauth-identity-assertion-authz-grant §7.2 and MCP Enterprise-Managed
    /// Authorization §6: the MCP authorization server accepts ID-JAGs. Only when an IdP is
    /// trusted, and never the list of trusted issuers (§8.4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_grant_profiles_supported: Vec<&'static str>,
    /// Draft §7.1: the IdP issues ID-JAGs by token exchange.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identity_chaining_requested_token_types_supported: Vec<&'static str>,
    /// OpenID Connect Discovery §3 requires these three in `openid-configuration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<&'static str>>,
}

/// What the running configuration supports, as far as metadata is concerned.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub registration_open: bool,
    pub client_id_metadata_documents: bool,
    pub scopes: Vec<String>,
    /// `[[token_exchange]]` rules or `[[id_jag.issue]]` rules exist.
    pub token_exchange: bool,
    /// `[[id_jag.issue]]` rules exist (the IdP role).
    pub issues_id_jags: bool,
    /// `[[id_jag.trust]]` entries exist (the MCP authorization server role).
    pub accepts_id_jags: bool,
}

impl Features {
    /// The grant types the token endpoint serves with this configuration: token exchange
    /// only with rules for it, the JWT bearer grant only with a trusted IdP (draft §7.2:
    /// "MUST also include `urn:ietf:params:oauth:grant-type:jwt-bearer`").
    pub fn grant_types(&self) -> Vec<&'static str> {
        GrantType::SUPPORTED
            .into_iter()
            .filter(|grant| match grant {
                GrantType::TokenExchange => self.token_exchange,
                GrantType::JwtBearer => self.accepts_id_jags,
                _ => true,
            })
            .map(GrantType::as_str)
            .collect()
    }
}

impl Metadata {
    /// The RFC 8414 document.
    pub fn oauth(issuer: &Issuer, features: &Features) -> Self {
        let auth_methods: Vec<&'static str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        Metadata {
            issuer: issuer.as_str().to_owned(),
            authorization_endpoint: issuer.endpoint(endpoints::AUTHORIZE),
            token_endpoint: issuer.endpoint(endpoints::TOKEN),
            jwks_uri: issuer.endpoint(endpoints::JWKS),
            device_authorization_endpoint: issuer.endpoint(endpoints::DEVICE_AUTHORIZATION),
            registration_endpoint: features
                .registration_open
                .then(|| issuer.endpoint(endpoints::REGISTER)),
            revocation_endpoint: issuer.endpoint(endpoints::REVOKE),
            revocation_endpoint_auth_methods_supported: auth_methods.clone(),
            introspection_endpoint: issuer.endpoint(endpoints::INTROSPECT),
            introspection_endpoint_auth_methods_supported: auth_methods
                .iter()
                .copied()
                .filter(|m| *m != AuthMethod::None.as_str())
                .collect(),
            scopes_supported: features.scopes.clone(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: features.grant_types(),
            token_endpoint_auth_methods_supported: auth_methods,
            token_endpoint_auth_signing_alg_values_supported: jwks::ALGORITHMS.to_vec(),
            revocation_endpoint_auth_signing_alg_values_supported: jwks::ALGORITHMS.to_vec(),
            introspection_endpoint_auth_signing_alg_values_supported: jwks::ALGORITHMS.to_vec(),
            code_challenge_methods_supported: vec![S256],
            client_id_metadata_document_supported: features.client_id_metadata_documents,
            authorization_response_iss_parameter_supported: true,
            authorization_grant_profiles_supported: if features.accepts_id_jags {
                vec![id_jag::GRANT_PROFILE]
            } else {
                Vec::new()
            },
            identity_chaining_requested_token_types_supported: if features.issues_id_jags {
                vec![id_jag::TOKEN_TYPE]
            } else {
                Vec::new()
            },
            subject_types_supported: None,
            id_token_signing_alg_values_supported: None,
        }
    }

    /// The OpenID Connect Discovery document: the same, plus the members OIDC requires
    /// (the TS SDK parses documents from `openid-configuration` URLs with the OIDC schema).
    pub fn openid(issuer: &Issuer, features: &Features) -> Self {
        Metadata {
            subject_types_supported: Some(vec!["public"]),
            id_token_signing_alg_values_supported: Some(vec![SIGNING_ALG]),
            ..Self::oauth(issuer, features)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer_and_empty_lists_are_omitted() {
        let issuer = Issuer::parse("http://127.0.0.1:9000/t1", false).unwrap();
        let doc = serde_json::to_value(Metadata::oauth(&issuer, &Features::default())).unwrap();
        assert_eq!(doc["issuer"], "http://127.0.0.1:9000/t1");
        assert_eq!(
            doc["authorization_endpoint"],
            "http://127.0.0.1:9000/t1/authorize"
        );
        assert!(doc.get("scopes_supported").is_none());
        assert!(doc.get("registration_endpoint").is_none());
        assert!(doc.get("subject_types_supported").is_none());
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!([
                "none",
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        for endpoint in ["token", "revocation", "introspection"] {
            assert_eq!(
                doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
                serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"]),
                "{endpoint}"
            );
        }
        assert_eq!(
            doc["device_authorization_endpoint"],
            "http://127.0.0.1:9000/t1/device_authorization"
        );
        assert!(doc.get("authorization_grant_profiles_supported").is_none());
        let grants = doc["grant_types_supported"].to_string();
        assert!(
            grants.contains("device_code") && !grants.contains("jwt-bearer"),
            "{grants}"
        );
        let openid = serde_json::to_value(Metadata::openid(&issuer, &Features::default())).unwrap();
        assert_eq!(openid["subject_types_supported"][0], "public");
    }

    #[test]
    fn opt_5_id_jag_roles_are_advertised_only_when_configured() {
        let issuer = Issuer::parse("http://127.0.0.1:9000", false).unwrap();
        let features = Features {
            token_exchange: true,
            issues_id_jags: true,
            accepts_id_jags: true,
            ..Features::default()
        };
        let doc = serde_json::to_value(Metadata::oauth(&issuer, &features)).unwrap();
        assert_eq!(
            doc["authorization_grant_profiles_supported"],
            serde_json::json!([id_jag::GRANT_PROFILE])
        );
        assert_eq!(
            doc["identity_chaining_requested_token_types_supported"],
            serde_json::json!([id_jag::TOKEN_TYPE])
        );
        let grants = doc["grant_types_supported"].to_string();
        assert!(grants.contains("jwt-bearer") && grants.contains("token-exchange"));
    }
}
