//! Grant types (RFC 6749 §1.3, OAuth 2.1 §4): what a client registers (RFC 7591 §2
//! `grant_types`) and what a token request names (`grant_type`).

use super::error::{ErrorCode, OAuthError};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8628 §3.4.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// RFC 8693 §2.1.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// RFC 7523 §2.1, here for identity assertions (ID-JAG, draft-ietf-oauth-identity-
    /// assertion-authz-grant §4.4).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
}

impl GrantType {
    /// Every grant type Tollgate supports, in the order the metadata advertises them.
    pub const SUPPORTED: [GrantType; 6] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
        GrantType::JwtBearer,
    ];

    /// The registered name (RFC 6749 §4, RFC 7591 §2).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    }

    /// The supported grant type with this name.
    pub fn parse(name: &str) -> Option<GrantType> {
        Self::SUPPORTED.into_iter().find(|g| g.as_str() == name)
    }

    /// The grant type a token request names (OAuth 2.1 §3.2.2), or
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    pub fn requested(name: &str) -> Result<GrantType, OAuthError> {
        Self::parse(name).ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{name}' is not supported; supported: {}",
                    Self::supported_names().join(", ")
                ),
            )
            .rule(&super::rules::TK_11)
        })
    }

    /// Whether only a client that can keep a secret may use it: client credentials (OAuth
    /// 2.1 §4.2), token exchange (the exchanging party acts on its own authority) and the
    /// identity assertion grant (draft-ietf-oauth-identity-assertion-authz-grant §8.1, MCP
    /// Enterprise-Managed Authorization §7.7: "client authentication MUST be enforced").
    pub fn needs_confidential_client(self) -> bool {
        matches!(
            self,
            GrantType::ClientCredentials | GrantType::TokenExchange | GrantType::JwtBearer
        )
    }

    /// The names of every supported grant type, for error messages and the metadata.
    pub fn supported_names() -> Vec<&'static str> {
        Self::SUPPORTED.iter().map(|g| g.as_str()).collect()
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for grant in GrantType::SUPPORTED {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
            assert_eq!(
                serde_json::to_value(grant).unwrap(),
                serde_json::json!(grant.as_str())
            );
        }
        assert_eq!(GrantType::parse("implicit"), None);
        assert_eq!(GrantType::parse("Authorization_Code"), None);
    }
}
