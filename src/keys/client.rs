//! Verifying a client assertion's signature with the client's public keys (RFC 7523 §3
//! item 9; RFC 7515 §5.2), through jsonwebtoken and its aws-lc backend. Which keys are
//! the client's, and what the claims must say, is decided elsewhere.

use crate::oauth::client::jwks;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashSet;
use std::str::FromStr;

/// Why no key of the client verifies an assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The set has no key with the header's `kid`, or none for its `alg`.
    #[error("{0}")]
    NoKey(String),
    /// A key was there, and the signature does not verify with it.
    #[error("{0}")]
    Invalid(String),
}

/// Verifies `token` (a compact JWS whose header says `alg` and maybe `kid`) with the keys
/// of `jwks` that fit: the one with that `kid`, or without a `kid`, every key of the set
/// that can verify `alg`. Claims are not checked here.
pub fn verify(
    token: &str,
    alg: &str,
    kid: Option<&str>,
    jwks: &Value,
) -> Result<(), SignatureError> {
    let algorithm = Algorithm::from_str(alg)
        .map_err(|_| SignatureError::NoKey(format!("'{alg}' is not a JWS algorithm")))?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let candidates: Vec<&Value> = keys
        .iter()
        .filter(|key| match kid {
            Some(kid) => key.get("kid").and_then(Value::as_str) == Some(kid),
            None => true,
        })
        .collect();
    if candidates.is_empty() {
        let kids: Vec<&str> = keys
            .iter()
            .filter_map(|k| k.get("kid").and_then(Value::as_str))
            .collect();
        return Err(SignatureError::NoKey(format!(
            "the client's keys have no key with 'kid' '{}' (their kids: {})",
            kid.unwrap_or_default(),
            if kids.is_empty() {
                "none".to_owned()
            } else {
                kids.join(", ")
            }
        )));
    }
    let usable: Vec<&Value> = candidates
        .into_iter()
        .filter(|key| jwks::algorithms_of(key).is_ok_and(|algs| algs.contains(&alg)))
        .collect();
    if usable.is_empty() {
        return Err(SignatureError::NoKey(format!(
            "none of the client's keys{} can verify '{alg}' (RSA keys verify RS256 and PS256, \
             P-256 keys ES256, Ed25519 keys EdDSA)",
            kid.map(|kid| format!(" with 'kid' '{kid}'"))
                .unwrap_or_default()
        )));
    }
    let mut validation = Validation::new(algorithm);
    // Claims are the caller's to check, each with its own refusal.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let mut last = String::new();
    for key in usable {
        let decoding = serde_json::from_value::<Jwk>(key.clone())
            .map_err(|e| e.to_string())
            .and_then(|jwk| DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string()));
        match decoding {
            Ok(decoding) => {
                match jsonwebtoken::decode::<serde_json::Map<String, Value>>(
                    token,
                    &decoding,
                    &validation,
                ) {
                    Ok(_) => return Ok(()),
                    Err(error) => last = error.to_string(),
                }
            }
            Err(error) => last = format!("a key cannot be used ({error})"),
        }
    }
    Err(SignatureError::Invalid(format!(
        "the signature does not verify with the client's {}key{} ({last})",
        kid.map(|kid| format!("'{kid}' ")).unwrap_or_default(),
        if kid.is_some() { "" } else { "s" }
    )))
}
