//! Recognising a token presented to the revocation or introspection endpoint: an access
//! token is a JWT this server signed and recorded; a refresh token is an opaque value found
//! by its digest. Anything else is unknown, which both endpoints answer without an error.

use crate::keys::KeyRing;
use crate::oauth::access_token::AccessTokenClaims;
use crate::oauth::grant::{AccessTokenRecord, RefreshGrant};
use crate::secret::token_digest;
use crate::store::{Store, StoreError};

pub enum PresentedToken {
    Access {
        claims: AccessTokenClaims,
        record: AccessTokenRecord,
    },
    Refresh(RefreshGrant),
    /// An access token this server signed that has expired: treated as unknown, but the
    /// event log says why.
    Expired(AccessTokenClaims),
    /// Not issued here, malformed or forgotten.
    Unknown,
}

impl PresentedToken {
    /// Finds a token. The `token_type_hint` is not needed: the two kinds cannot be
    /// confused (RFC 7009 §2.1 lets a server search all types).
    pub async fn find(
        token: &str,
        keys: &KeyRing,
        issuer: &str,
        store: &Store,
        now: i64,
    ) -> Result<PresentedToken, StoreError> {
        if token.split('.').count() == 3 {
            let claims = match keys.verify::<AccessTokenClaims>(token, issuer) {
                Ok(claims) if claims.exp > now => claims,
                Ok(claims) => return Ok(PresentedToken::Expired(claims)),
                Err(_) => return Ok(PresentedToken::Unknown),
            };
            return Ok(match store.access_token(&claims.jti).await? {
                Some(record) => PresentedToken::Access { claims, record },
                None => PresentedToken::Unknown,
            });
        }
        Ok(match store.refresh_grant(&token_digest(token)).await? {
            Some(grant) => PresentedToken::Refresh(grant),
            None => PresentedToken::Unknown,
        })
    }

    /// What kind of token it is, for the event log.
    pub fn kind(&self) -> &'static str {
        match self {
            PresentedToken::Access { .. } => "access_token",
            PresentedToken::Refresh(_) => "refresh_token",
            PresentedToken::Expired(_) => "expired_access_token",
            PresentedToken::Unknown => "unknown",
        }
    }

    /// The flow the token belongs to, if the store knows one.
    pub fn flow(&self) -> Option<&str> {
        match self {
            PresentedToken::Access { record, .. } => record.flow_id.as_deref(),
            PresentedToken::Refresh(grant) => grant.flow_id.as_deref(),
            PresentedToken::Expired(_) | PresentedToken::Unknown => None,
        }
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            PresentedToken::Access { record, .. } => Some(&record.client_id),
            PresentedToken::Refresh(grant) => Some(&grant.client_id),
            PresentedToken::Expired(_) | PresentedToken::Unknown => None,
        }
    }
}
