//! The public keys a `private_key_jwt` client authenticates with (RFC 7591 §2 `jwks` and
//! `jwks_uri`; RFC 7517 JWK Sets), what this server accepts of them, and a PEM public key
//! (from a configuration file or `tollgate clients add --jwks`) as a JWK.
//!
//! Accepted keys, one per signature algorithm this server verifies: RSA of at least 2048
//! bits (RS256, PS256), EC on P-256 (ES256), OKP Ed25519 (EdDSA). Symmetric keys and
//! private key material are refused: a JWK Set that holds a private key was published by
//! mistake, and the client should know before anyone else does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The signature algorithms client assertions may use (RFC 7518 §3, RFC 8037 §3.1).
pub static ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// More keys than this in one set is not a client's key set.
pub const MAX_KEYS: usize = 20;

/// RSA moduli below this are refused (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_BITS: usize = 2048;

/// JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The algorithms a key may verify, or why it is not a key this server accepts.
pub fn algorithms_of(key: &Value) -> Result<&'static [&'static str], String> {
    let object = key
        .as_object()
        .ok_or_else(|| format!("a key must be a JSON object, not {key}"))?;
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        return Err(format!(
            "a key holds private key material ('{private}'): publish only public keys, and \
             replace this key, which is no longer private"
        ));
    }
    let text = |name: &str| object.get(name).and_then(Value::as_str);
    let member = |name: &str| {
        text(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("a {} key needs '{name}'", text("kty").unwrap_or("?")))
    };
    let algorithms: &'static [&'static str] = match text("kty") {
        Some("RSA") => {
            let n = decode(member("n")?, "n")?;
            decode(member("e")?, "e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "an RSA key of {bits} bits is too short; use at least {MIN_RSA_BITS} bits \
                     (RFC 7518 §3.3)"
                ));
            }
            &ALGORITHMS[..2]
        }
        Some("EC") => {
            if text("crv") != Some("P-256") {
                return Err(format!(
                    "an EC key must be on curve P-256 (ES256), not {}",
                    text("crv").unwrap_or("(none)")
                ));
            }
            for coordinate in ["x", "y"] {
                if decode(member(coordinate)?, coordinate)?.len() != 32 {
                    return Err(format!("a P-256 key's '{coordinate}' is 32 bytes"));
                }
            }
            &ALGORITHMS[2..3]
        }
        Some("OKP") => {
            if text("crv") != Some("Ed25519") {
                return Err(format!(
                    "an OKP key must be on curve Ed25519 (EdDSA), not {}",
                    text("crv").unwrap_or("(none)")
                ));
            }
            if decode(member("x")?, "x")?.len() != 32 {
                return Err("an Ed25519 key's 'x' is 32 bytes".to_owned());
            }
            &ALGORITHMS[3..]
        }
        Some("oct") => {
            return Err(
                "a symmetric ('oct') key is a shared secret, not a public key; private_key_jwt \
                 needs an RSA, EC P-256 or Ed25519 public key"
                    .to_owned(),
            );
        }
        Some(other) => return Err(format!("key type '{other}' is not RSA, EC or OKP")),
        None => return Err("a key needs 'kty'".to_owned()),
    };
    if let Some(usage) = object.get("use") {
        if usage != "sig" {
            return Err(format!(
                "a key for client assertions is for signatures ('use': 'sig'), not {usage}"
            ));
        }
    }
    match object.get("alg") {
        None => Ok(algorithms),
        Some(Value::String(alg)) => match algorithms.iter().find(|a| **a == alg) {
            Some(one) => Ok(std::slice::from_ref(one)),
            None => Err(format!(
                "a key's 'alg' '{alg}' is not one of {} for its key type",
                algorithms.join(", ")
            )),
        },
        Some(alg) => Err(format!(
            "a key's 'alg' {alg} is not one of {} for its key type",
            algorithms.join(", ")
        )),
    }
}

fn decode(value: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("'{name}' is not base64url without padding (RFC 7515 §2)"))
}

/// Checks a client's JWK Set: an object with a non-empty `keys` array whose every key this
/// server accepts. Returns why not.
pub fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: an object with a 'keys' array (RFC 7517 §5)")?;
    if keys.is_empty() {
        return Err("jwks has no keys".to_owned());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("jwks has {} keys; at most {MAX_KEYS}", keys.len()));
    }
    for (i, key) in keys.iter().enumerate() {
        algorithms_of(key).map_err(|why| format!("jwks key {i}: {why}"))?;
    }
    Ok(())
}

/// A public key in PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo, RFC 5280
/// §4.1.2.7) as a JWK: RSA, EC P-256 or Ed25519.
pub fn jwk_from_pem(pem: &str) -> Result<Value, String> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::pkcs8::der::Decode;
    use rsa::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
    use rsa::traits::PublicKeyParts;
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

    if pem.contains("PRIVATE KEY") {
        return Err(
            "this is a private key: give the public key (openssl pkey -pubout), and keep the \
             private key to the client"
                .to_owned(),
        );
    }
    let document = rsa::pkcs8::Document::from_pem(pem.trim())
        .map_err(|e| format!("not a PEM public key ({e})"))?
        .1;
    let spki = SubjectPublicKeyInfoRef::from_der(document.as_bytes())
        .map_err(|e| format!("not a SubjectPublicKeyInfo ('BEGIN PUBLIC KEY') ({e})"))?;
    let bits = spki.subject_public_key.raw_bytes();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwk = match spki.algorithm.oid {
        RSA => {
            let key = rsa::RsaPublicKey::from_public_key_der(document.as_bytes())
                .map_err(|e| format!("not an RSA public key ({e})"))?;
            json!({"kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())})
        }
        EC => {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| "an EC key without its curve".to_owned())?;
            if curve != P256 || bits.len() != 65 || bits[0] != 4 {
                return Err("an EC key must be an uncompressed P-256 key (ES256)".to_owned());
            }
            json!({"kty": "EC", "crv": "P-256", "x": b64(&bits[1..33]), "y": b64(&bits[33..])})
        }
        ED25519 if bits.len() == 32 => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(bits)}),
        other => {
            return Err(format!(
                "a public key of type {other} is not RSA, EC P-256 or Ed25519"
            ));
        }
    };
    algorithms_of(&jwk)?;
    Ok(jwk)
}

/// A JWK Set of one key.
pub fn set_of(key: Value) -> Value {
    let mut set = Map::new();
    set.insert("keys".to_owned(), Value::Array(vec![key]));
    Value::Object(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7517 Appendix A.1's EC key and RFC 8037 §A.2's Ed25519 key.
    const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rsa_n(bits: usize) -> String {
        URL_SAFE_NO_PAD.encode(vec![0xC5; bits / 8])
    }

    #[test]
    fn accepted_keys_and_their_algorithms() {
        let rsa = json!({"kty": "RSA", "n": rsa_n(2048), "e": "AQAB"});
        assert_eq!(algorithms_of(&rsa).unwrap(), ["RS256", "PS256"]);
        let ec = json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "use": "sig"});
        assert_eq!(algorithms_of(&ec).unwrap(), ["ES256"]);
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X});
        assert_eq!(algorithms_of(&ed).unwrap(), ["EdDSA"]);
        let ps = json!({"kty": "RSA", "n": rsa_n(3072), "e": "AQAB", "alg": "PS256"});
        assert_eq!(algorithms_of(&ps).unwrap(), ["PS256"]);
        assert!(check_jwks(&json!({"keys": [rsa, ec, ed]})).is_ok());
    }

    #[test]
    fn refused_keys_say_why() {
        for (key, why) in [
            (
                json!({"kty": "RSA", "n": rsa_n(1024), "e": "AQAB"}),
                "1024 bits is too short",
            ),
            (
                json!({"kty": "EC", "crv": "P-384", "x": EC_X, "y": EC_Y}),
                "P-256",
            ),
            (json!({"kty": "OKP", "crv": "X25519", "x": ED_X}), "Ed25519"),
            (
                json!({"kty": "oct", "k": "c2VjcmV0"}),
                "private key material ('k')",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "d": "x"}),
                "'d'",
            ),
            (
                json!({"kty": "RSA", "n": rsa_n(2048), "e": "AQAB", "alg": "HS256"}),
                "'alg'",
            ),
            (
                json!({"kty": "RSA", "n": rsa_n(2048), "e": "AQAB", "use": "enc"}),
                "signatures",
            ),
            (json!({"kty": "RSA", "e": "AQAB"}), "needs 'n'"),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "!!", "y": EC_Y}),
                "base64url",
            ),
            (json!({"n": "x"}), "needs 'kty'"),
        ] {
            let error = algorithms_of(&key).unwrap_err();
            assert!(error.contains(why), "{key}: {error}");
        }
        for (set, why) in [
            (json!([]), "a 'keys' array"),
            (json!({"keys": []}), "no keys"),
            (json!({"keys": [{"kty": "oct", "k": "x"}]}), "jwks key 0"),
        ] {
            let error = check_jwks(&set).unwrap_err();
            assert!(error.contains(why), "{set}: {error}");
        }
    }

    #[test]
    fn pem_public_keys_become_jwks() {
        // RFC 8410 §10.1's Ed25519 public key.
        let ed = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        let jwk = jwk_from_pem(ed).unwrap();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["x"], "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE");
        let error =
            jwk_from_pem("-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----")
                .unwrap_err();
        assert!(error.contains("private key"), "{error}");
        assert!(jwk_from_pem("not a key").is_err());
        assert_eq!(set_of(jwk.clone())["keys"][0], jwk);
    }
}
