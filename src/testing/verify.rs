//! Verifying Tollgate's JWTs against a published JWKS, the way a resource server (access
//! tokens, RFC 9068 §4) or a client (ID tokens, OpenID Connect Core §3.1.3.7) must.
//!
//! Deliberately independent of the server's own signing code: the expected header values
//! are written out here from the RFCs, so a server that started to sign differently fails
//! the tests instead of agreeing with itself.

use crate::clock::{Clock, SystemClock};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// RFC 9068 §2.1: the `typ` of a JWT access token.
const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` Tollgate gives ID tokens, so that one is never taken for an access token.
const ID_TOKEN_TYP: &str = "JWT";
/// RFC 9068 §2.2: claims every JWT access token carries, beyond `iss`, `aud`, `exp`, `sub`.
const ACCESS_TOKEN_CLAIMS: [&str; 3] = ["client_id", "iat", "jti"];

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a JWT: {0}")]
    Malformed(String),
    #[error("the JWKS is not a JWK Set: {0}")]
    BadJwks(String),
    #[error("signed with {0}, not RS256")]
    WrongAlgorithm(String),
    #[error("typ is {found:?}, expected '{expected}'")]
    WrongType {
        found: Option<String>,
        expected: &'static str,
    },
    #[error("no key in the JWKS has kid {0:?}")]
    UnknownKey(Option<String>),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the issuer is not the expected one")]
    WrongIssuer,
    #[error("the audience does not include the expected one")]
    WrongAudience,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("the required claim '{0}' is missing")]
    MissingClaim(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Verifies a JWT access token as a resource server must (RFC 9068 §4): `typ` `at+jwt`,
/// RS256 with a key of `jwks` (a JWK Set as served at the `jwks_uri`), the issuer exactly
/// `issuer`, `audience` among its `aud`, not expired now, and the claims RFC 9068 §2.2
/// requires. Returns the claims.
pub fn verify_access_token(
    jwks: &Value,
    issuer: &str,
    token: &str,
    audience: &str,
) -> Result<Value, VerifyError> {
    verify_access_token_at(jwks, issuer, token, audience, SystemClock.now())
}

/// [`verify_access_token`] at `now` (seconds since the epoch) instead of the system time,
/// for a server that runs on a test clock.
pub fn verify_access_token_at(
    jwks: &Value,
    issuer: &str,
    token: &str,
    audience: &str,
    now: i64,
) -> Result<Value, VerifyError> {
    let claims = verify(jwks, ACCESS_TOKEN_TYP, issuer, token, audience, now)?;
    for claim in ACCESS_TOKEN_CLAIMS {
        if claims.get(claim).is_none_or(Value::is_null) {
            return Err(VerifyError::MissingClaim(claim.to_owned()));
        }
    }
    Ok(claims)
}

/// Verifies an ID token as a client must (OpenID Connect Core §3.1.3.7): RS256 with a key
/// of `jwks`, the issuer exactly `issuer`, `client_id` among its `aud`, not expired now;
/// and Tollgate's `typ` `JWT`, so that an access token cannot pass for one. Returns the
/// claims.
pub fn verify_id_token(
    jwks: &Value,
    issuer: &str,
    token: &str,
    client_id: &str,
) -> Result<Value, VerifyError> {
    verify_id_token_at(jwks, issuer, token, client_id, SystemClock.now())
}

/// [`verify_id_token`] at `now` instead of the system time.
pub fn verify_id_token_at(
    jwks: &Value,
    issuer: &str,
    token: &str,
    client_id: &str,
    now: i64,
) -> Result<Value, VerifyError> {
    verify(jwks, ID_TOKEN_TYP, issuer, token, client_id, now)
}

fn verify(
    jwks: &Value,
    typ: &'static str,
    issuer: &str,
    token: &str,
    audience: &str,
    now: i64,
) -> Result<Value, VerifyError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    // Before any key is looked at: the algorithm is fixed, never taken from the token.
    if header.alg != Algorithm::RS256 {
        return Err(VerifyError::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(VerifyError::WrongType {
            found: header.typ,
            expected: typ,
        });
    }
    let set: JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|e| VerifyError::BadJwks(e.to_string()))?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| set.find(kid))
        .ok_or_else(|| VerifyError::UnknownKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| VerifyError::BadJwks(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    // Time is checked below, against `now` and without leeway.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| match e.into_kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
            jsonwebtoken::errors::ErrorKind::InvalidAudience => VerifyError::WrongAudience,
            jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(claim) => {
                VerifyError::MissingClaim(claim)
            }
            other => VerifyError::Invalid(format!("{other:?}")),
        })?
        .claims;
    // RFC 7519 §4.1.4: the current time MUST be before `exp`.
    match claims["exp"].as_i64() {
        Some(exp) if now < exp => {}
        Some(_) => return Err(VerifyError::Expired),
        None => return Err(VerifyError::Invalid("exp is not a number".to_owned())),
    }
    if let Some(nbf) = claims.get("nbf") {
        if nbf.as_i64().is_none_or(|nbf| nbf > now) {
            return Err(VerifyError::NotYetValid);
        }
    }
    Ok(claims)
}
