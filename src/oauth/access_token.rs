//! RFC 9068 JWT access tokens: the claims Tollgate puts in them.

use serde::{Deserialize, Serialize};

/// The JOSE `typ` of an RFC 9068 access token (§2.1).
pub const TYP: &str = "at+jwt";

/// The JWS algorithm of every token Tollgate signs (RFC 9068 §2.1 requires RS256 support).
pub const SIGNING_ALG: &str = "RS256";

/// The `aud` claim: a single string when there is one audience (the common case, and what
/// most resource-server libraries expect), an array otherwise (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }

    pub fn to_list(&self) -> Vec<String> {
        match self {
            Audience::One(one) => vec![one.clone()],
            Audience::Many(many) => many.clone(),
        }
    }
}

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
    /// The current actor of a delegated token, prior actors nested (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
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
            jti: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.to_owned(),
            scope,
            act: None,
            extra: serde_json::Map::new(),
        }
    }
}
