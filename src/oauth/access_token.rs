//! RFC 9068 JWT access tokens: the claims Tollgate puts in them.

use crate::keys::Audience;
use serde::{Deserialize, Serialize};

/// The JOSE `typ` of an RFC 9068 access token (§2.1).
pub const TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user, or for a token obtained without a user, the client (RFC 9068 §2.2).
    pub sub: String,
    /// The resource indicators of the request, exactly as sent (RFC 9068 §3).
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A configured user's extra claims (never one of the above: the configuration is
    /// checked for that).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl AccessTokenClaims {
    /// Claims for a token issued now (`iat`) that lives `ttl_secs`, with a fresh `jti`.
    pub fn issue(
        issuer: &str,
        subject: &str,
        client_id: &str,
        audience: Vec<String>,
        scope: Option<String>,
        iat: i64,
        ttl_secs: i64,
    ) -> Self {
        AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
            aud: Audience::from_list(audience),
            exp: iat.saturating_add(ttl_secs),
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: client_id.to_owned(),
            scope,
            extra: serde_json::Map::new(),
        }
    }
}
