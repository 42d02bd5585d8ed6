//! Compact JWS signing with a pre-parsed key, and verification through jsonwebtoken.

use super::{KeyError, SigningKey};
use crate::oauth::access_token::SIGNING_ALG;
use crate::secret::base64url;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

pub(super) fn sign<T: Serialize>(
    key: &SigningKey,
    typ: &str,
    claims: &T,
) -> Result<String, KeyError> {
    let header = Header {
        alg: SIGNING_ALG,
        typ,
        kid: key.kid(),
    };
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::Sign)?;
    let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
    let mut token = base64url(&header);
    token.push('.');
    token.push_str(&base64url(&claims));
    let mut signature = vec![0u8; key.pair.public_modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            token.as_bytes(),
            &mut signature,
        )
        .map_err(|_| KeyError::Sign)?;
    token.push('.');
    token.push_str(&base64url(&signature));
    Ok(token)
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token was not signed by a key this server publishes")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

pub(super) fn verify<'k, T: serde::de::DeserializeOwned>(
    token: &str,
    issuer: &str,
    key_for: impl Fn(&str) -> Option<&'k DecodingKey>,
) -> Result<T, JwtError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
    let kid = header.kid.ok_or(JwtError::UnknownKey)?;
    let key = key_for(&kid).ok_or(JwtError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    // Time is the caller's to check, with the server's clock (tests move it).
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<T>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| JwtError::Invalid(e.to_string()))
}
