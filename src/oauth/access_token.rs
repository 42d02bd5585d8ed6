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
