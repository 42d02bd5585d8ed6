//! A `private_key_jwt` client's side: key pairs of each algorithm Tollgate verifies (RS256,
//! PS256, ES256, EdDSA), their public JWKs and PEM, and client assertions signed with them
//! (RFC 7523 §3), made with jsonwebtoken as a client library would.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's key pair.
pub struct ClientKey {
    pub alg: &'static str,
    pub kid: String,
    encoding: EncodingKey,
    /// The public JWK, with `kid`.
    pub jwk: Value,
    /// The public key as `-----BEGIN PUBLIC KEY-----` PEM.
    pub pem: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// One RSA key for the whole test run: generating one takes a moment.
fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap())
}

impl ClientKey {
    /// An RSA-2048 key for RS256 or PS256.
    pub fn rsa(alg: &'static str) -> ClientKey {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePublicKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa_key();
        let public = key.to_public_key();
        let kid = format!("rsa-{}", uuid::Uuid::new_v4().simple());
        ClientKey {
            alg,
            encoding: EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()),
            jwk: json!({"kty": "RSA", "kid": kid, "n": b64(&public.n().to_bytes_be()),
                        "e": b64(&public.e().to_bytes_be())}),
            pem: public
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap(),
            kid,
        }
    }

    /// A P-256 key for ES256.
    pub fn ec() -> ClientKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let spki = pair.public_key().as_der().unwrap();
        let kid = format!("ec-{}", uuid::Uuid::new_v4().simple());
        ClientKey {
            alg: "ES256",
            encoding: EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]),
                        "y": b64(&point[33..])}),
            pem: pem(spki.as_ref()),
            kid,
        }
    }

    /// An Ed25519 key for EdDSA.
    pub fn ed25519() -> ClientKey {
        let pair = Ed25519KeyPair::generate().unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let kid = format!("ed-{}", uuid::Uuid::new_v4().simple());
        ClientKey {
            alg: "EdDSA",
            encoding: EncodingKey::from_ed_der(pair.to_pkcs8().unwrap().as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                        "x": b64(pair.public_key().as_ref())}),
            pem: pem(spki.as_ref()),
            kid,
        }
    }

    /// A JWK Set of this key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    /// A JWT with `claims`, signed with this key (header `alg`, `kid`, `typ: JWT`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(claims, Some(&self.kid))
    }

    /// Like [`ClientKey::sign`], with `kid` (or none) in the header.
    pub fn sign_with_header(&self, claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(self.alg.parse::<Algorithm>().unwrap());
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A good assertion of `client_id` for `aud` at `now`: expiring in a minute, with a
    /// fresh `jti`.
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64) -> String {
        self.sign(&claims(client_id, aud, now))
    }
}

/// The claims of a good assertion (RFC 7523 §3, OpenID Connect Core §9).
pub fn claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}
