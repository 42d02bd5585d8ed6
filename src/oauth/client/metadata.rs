//! The metadata Tollgate keeps for a client (RFC 7591 §2) and how it authenticates.

use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const CODE: &str = "code";
/// OpenID Connect Registration §2 `application_type` of an app on the user's device.
pub const NATIVE: &str = "native";

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: sends only `client_id`.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OpenID Connect Core §9);
    /// the server holds only the public keys (`jwks` or `jwks_uri`).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::None,
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(name: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn is_confidential(self) -> bool {
        self != AuthMethod::None
    }

    /// Whether the server issues (and checks) a shared secret for this method.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata Tollgate keeps for a client and returns from registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// The client's public keys, inline (RFC 7591 §2 `jwks`, a JWK Set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys (RFC 7591 §2 `jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm its client assertions use, if it registered one (OpenID Connect
    /// Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
}

impl ClientMetadata {
    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }

    /// Refuses a grant type the client did not register (RFC 6749 §5.2 `unauthorized_client`).
    pub fn require_grant(&self, grant_type: GrantType) -> Result<(), OAuthError> {
        if self.allows_grant(grant_type) {
            return Ok(());
        }
        Err(OAuthError::unauthorized_client(format!(
            "this client did not register the {grant_type} grant; its grant_types are {:?}",
            self.grant_type_names()
        ))
        .rule(&crate::oauth::rules::TK_11)
        .compared(self.grant_type_names().join(" "), grant_type.as_str()))
    }

    /// The registered grant types by name, as a client sent them (for error messages).
    pub fn grant_type_names(&self) -> Vec<&'static str> {
        self.grant_types.iter().map(|g| g.as_str()).collect()
    }

    /// The client type (OAuth 2.1 §2.1): confidential when it authenticates with a secret
    /// and is not a native app. A native app's secret, even a per-instance one from dynamic
    /// registration, may still be checked when presented, but it never makes the app
    /// confidential: the AS "MUST NOT rely on public client authentication for the purpose
    /// of identifying the client" (OAuth 2.1 §2.1; §8.1; RFC 8252 §8.5; checklist SEC-4).
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method.is_confidential()
            && self.application_type.as_deref() != Some(NATIVE)
    }
}
