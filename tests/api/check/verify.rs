//! How the test resource server checks a token: everything RFC 9068 §4 and RFC 7519 ask
//! for, written out by hand so that each [`Flaw`] can leave out exactly one rule.

use super::server::{Flaw, Rs};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto;
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::Value;
use std::collections::HashMap;

/// The authorization server's keys as the resource server holds them: by `kid`, and the
/// public key as PEM (what a confused verifier feeds to HMAC).
pub struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    pem: Vec<u8>,
}

impl Keys {
    pub fn from_jwks(jwks: &Value) -> Keys {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        let by_kid = (set.keys.iter())
            .map(|jwk| {
                let kid = jwk.common.key_id.clone().unwrap();
                (kid, DecodingKey::from_jwk(jwk).unwrap())
            })
            .collect();
        let number = |member: &str| {
            let bytes = URL_SAFE_NO_PAD
                .decode(jwks["keys"][0][member].as_str().unwrap())
                .unwrap();
            rsa::BigUint::from_bytes_be(&bytes)
        };
        let key = rsa::RsaPublicKey::new(number("n"), number("e")).unwrap();
        let pem = key.to_public_key_pem(LineEnding::LF).unwrap().into_bytes();
        Keys { by_kid, pem }
    }
}

fn part(text: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The claims of `token` if this server accepts it.
pub(super) async fn verify(rs: &Rs, token: &str) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("not a JWT".into());
    };
    let (header, claims) = (part(header)?, part(payload)?);
    let flaw = rs.flaw;
    // RFC 9068 §4: typ at+jwt.
    if header["typ"] != "at+jwt" && flaw != Flaw::AcceptsWrongTyp {
        return Err("typ".into());
    }
    let message = format!("{}.{}", parts[0], parts[1]);
    let kid = header["kid"].as_str().unwrap_or_default();
    let signed = match header["alg"].as_str() {
        // RFC 9068 §4: the keys of the authorization server, RS256.
        Some("RS256") => match rs.keys.by_kid.get(kid) {
            Some(key) => crypto::verify(signature, message.as_bytes(), key, Algorithm::RS256)
                .map_err(|e| e.to_string())?,
            None => flaw == Flaw::AcceptsUnknownKid,
        },
        // RFC 8725 §2.1: the algorithm from the token, the RSA key as an HMAC secret.
        Some("HS256") if flaw == Flaw::AcceptsHs256 => {
            let key = DecodingKey::from_secret(&rs.keys.pem);
            crypto::verify(signature, message.as_bytes(), &key, Algorithm::HS256)
                .map_err(|e| e.to_string())?
        }
        Some("none") => flaw == Flaw::AcceptsAlgNone,
        _ => false,
    };
    if !signed {
        return Err("signature".into());
    }
    if claims["iss"] != rs.issuer.as_str() && flaw != Flaw::AcceptsWrongIssuer {
        return Err("iss".into());
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let audience_ok = match flaw {
        Flaw::SkipsAudience => true,
        Flaw::AudiencePrefix => audiences.iter().any(|a| a.starts_with(&rs.url)),
        _ => audiences.contains(&rs.url.as_str()),
    };
    if !audience_ok {
        return Err("aud".into());
    }
    // RFC 7519 §4.1.4, §4.1.5, with 60 s of leeway.
    let now = tollgate::clock::Clock::now(&tollgate::clock::SystemClock);
    let exp = claims["exp"].as_i64().ok_or("exp")?;
    if now >= exp + 60 && flaw != Flaw::AcceptsExpired {
        return Err("exp".into());
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
        if nbf > now + 60 && flaw != Flaw::AcceptsNotYetValid {
            return Err("nbf".into());
        }
    }
    if let Some(introspection) = &rs.introspection {
        let answer: Value = (rs.http.post(&introspection.url))
            .basic_auth(&introspection.client_id, Some(&introspection.secret))
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if answer["active"] != true && flaw != Flaw::IgnoresRevocation {
            return Err("inactive".into());
        }
    }
    Ok(claims)
}
