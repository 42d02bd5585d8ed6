//! Signing keys: RSA-2048, published as a JWKS, used to sign RFC 9068 access tokens and
//! OpenID Connect ID tokens. Keeping them in the database (and rotating them there) is
//! `crate::services::signing_keys`; this module holds them in memory.
//!
//! `rsa` generates keys and reads their PEM (once per key at load time, never on a request
//! path, so the RUSTSEC-2023-0071 timing issue in its private-key operations is not
//! reachable). Signing uses an aws-lc `RsaKeyPair` parsed once and held here; verifying uses
//! jsonwebtoken with the same backend.

pub mod client;
pub mod forge;
mod jwt;

pub use jwt::JwtError;

use crate::oauth::access_token::SIGNING_ALG;
use crate::secret::{base64url, sha256};
use aws_lc_rs::signature::RsaKeyPair;
use bytes::Bytes;
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use std::sync::{Arc, RwLock};

const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key '{kid}' cannot be read: {reason}")]
    Unreadable { kid: String, reason: String },
    #[error("generating an RSA key failed: {0}")]
    Generate(String),
    #[error("no active signing key in the database")]
    NoActiveKey,
    #[error("signing failed")]
    Sign,
}

/// A public key as published in the JWKS (RFC 7517 §4, RFC 7518 §6.3.1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl PublicJwk {
    fn rsa(n: &[u8], e: &[u8]) -> Self {
        let n = base64url(n);
        let e = base64url(e);
        PublicJwk {
            kty: "RSA",
            use_: "sig",
            alg: SIGNING_ALG,
            kid: thumbprint(&n, &e),
            n,
            e,
        }
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    base64url(&sha256(canonical.as_bytes()))
}

/// A private key ready to sign with.
pub struct SigningKey {
    pub jwk: PublicJwk,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let unreadable = |reason: String| KeyError::Unreadable {
            kid: "?".to_owned(),
            reason,
        };
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| unreadable(e.to_string()))?;
        let der = key.to_pkcs8_der().map_err(|e| unreadable(e.to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| unreadable(e.to_string()))?;
        let jwk = PublicJwk::rsa(&key.n().to_bytes_be(), &key.e().to_bytes_be());
        Ok(SigningKey { jwk, pair })
    }

    /// Generates a new RSA-2048 key and returns it with its PKCS#8 PEM. Slow (tens to
    /// hundreds of milliseconds): call it on a blocking thread, never on a request path.
    pub fn generate() -> Result<(Self, String), KeyError> {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let signing = Self::from_pem(&pem)?;
        Ok((signing, pem.to_string()))
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    /// Signs a JWT with this key (header `alg`, `typ` and `kid`).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        jwt::sign(self, typ, claims)
    }
}

/// The keys in use at one moment: the active signing key and every published public key.
#[derive(Debug)]
pub struct KeySet {
    pub active: SigningKey,
    /// When the active key was made (unix seconds), for automatic rotation.
    pub active_since: i64,
    pub published: Vec<PublicJwk>,
    /// The JWKS document, serialised once.
    pub jwks_json: Bytes,
    decoding: Vec<(String, DecodingKey)>,
}

/// A key as kept: its PEM, and whether and since when it is the active one.
#[derive(Debug, Clone, Copy)]
pub struct KeyRecord<'a> {
    pub kid: &'a str,
    pub private_key_pem: &'a str,
    pub active: bool,
    pub created_at: i64,
}

impl KeySet {
    /// The set of these keys (newest first); exactly one must be active.
    pub fn from_records<'a>(
        keys: impl IntoIterator<Item = KeyRecord<'a>>,
    ) -> Result<Self, KeyError> {
        let mut active = None;
        let mut active_since = 0;
        let mut published = Vec::new();
        for record in keys {
            let key = SigningKey::from_pem(record.private_key_pem).map_err(|e| match e {
                KeyError::Unreadable { reason, .. } => KeyError::Unreadable {
                    kid: record.kid.to_owned(),
                    reason,
                },
                other => other,
            })?;
            published.push(key.jwk.clone());
            if record.active {
                active = Some(key);
                active_since = record.created_at;
            }
        }
        let active = active.ok_or(KeyError::NoActiveKey)?;
        let mut decoding = Vec::with_capacity(published.len());
        for jwk in &published {
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| {
                KeyError::Unreadable {
                    kid: jwk.kid.clone(),
                    reason: e.to_string(),
                }
            })?;
            decoding.push((jwk.kid.clone(), key));
        }
        let jwks_json = serde_json::to_vec(&serde_json::json!({ "keys": published }))
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .into();
        Ok(KeySet {
            active,
            active_since,
            published,
            jwks_json,
            decoding,
        })
    }

    fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key)
    }
}

/// The key set shared by all requests. Swapped as a whole when keys change, so a request
/// always sees one consistent set.
#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        KeyRing {
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// Swaps in a new key set; requests in flight keep the one they started with.
    pub fn replace(&self, set: KeySet) {
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        // A poisoned lock only means a writer panicked while swapping an `Arc`; the value
        // inside is still a complete key set.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Signs a JWT with the active key.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        self.current().active.sign(typ, claims)
    }

    /// Verifies a JWT this server signed (signature with a published key, and `iss`) and
    /// returns its claims. The caller checks `exp` against its clock.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, JwtError> {
        let set = self.current();
        jwt::verify(token, issuer, |kid| set.decoding_key(kid))
    }
}

impl KeyRing {
    /// Like [`KeyRing::verify`], for a JWT whose JOSE `typ` must be `typ` (RFC 8725 §3.11:
    /// explicit typing keeps one kind of token from passing for another).
    pub fn verify_typed<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        typ: &str,
    ) -> Result<T, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if header.typ.as_deref() != Some(typ) {
            return Err(JwtError::Invalid(format!(
                "its typ is {:?}, not '{typ}'",
                header.typ.unwrap_or_default()
            )));
        }
        self.verify(token, issuer)
    }
}

/// RSA key generation takes tens to hundreds of milliseconds: never on an async worker.
pub async fn generate_off_thread() -> Result<(SigningKey, String), KeyError> {
    tokio::task::spawn_blocking(SigningKey::generate)
        .await
        .map_err(|e| KeyError::Generate(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7638_section_3_1_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6\
                 tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v\
                 -65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q\
                 NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8aw\
                 apJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
