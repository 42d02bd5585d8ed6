//! Grants and what follows from them: an approval by one user for one client becomes an
//! authorization code, then access and refresh tokens, all of one family that is revoked
//! together (OAuth 2.1 §4.1.3, §4.3.1).

/// An authorization code with the grant it belongs to.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub redirect_uri: String,
    pub code_challenge: String,
    /// OpenID Connect `nonce` from the authorization request.
    pub nonce: Option<String>,
    /// When the user approved (OIDC `auth_time`).
    pub approved_at: i64,
    pub expires_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A refresh token with the grant it belongs to.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An issued access token as recorded.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    pub client_id: String,
    pub grant_id: Option<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub grant_revoked_at: Option<i64>,
}

impl AccessTokenRecord {
    /// Unexpired and revoked neither directly nor through its grant.
    pub fn is_active(&self, now: i64) -> bool {
        self.expires_at > now && self.revoked_at.is_none() && self.grant_revoked_at.is_none()
    }
}
