//! OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6): issued by the code flow when the
//! granted scope includes `openid`, so the OpenID discovery document advertises only what
//! works. The audience is the client, not an MCP server; MCP servers get access tokens.

use super::access_token::Audience;
use serde::{Deserialize, Serialize};

/// The JOSE `typ` of an ID token (OIDC Core does not register one; `JWT` is customary).
pub const TYP: &str = "JWT";

#[derive(Debug, Clone, Serialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client the token is for (OIDC Core §2: `aud` contains its `client_id`).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the user approved the request.
    pub auth_time: i64,
    /// Echoed from the authorization request (OIDC Core §3.1.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// A configured user's extra claims (`email`, `name`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An ID token presented back to this server, as a token exchange's subject token (draft-
/// ietf-oauth-identity-assertion-authz-grant §4.3.3): what the exchange needs of it.
#[derive(Debug, Clone, Deserialize)]
pub struct PresentedIdToken {
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    #[serde(default)]
    pub auth_time: Option<i64>,
}
