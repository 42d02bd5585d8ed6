//! JWTs made wrong on purpose, for testing that resource servers refuse them (the defects
//! of `crate::services::tokens::Defect`): no signature at all, an HMAC keyed with the RSA
//! public key, a signature with one bit flipped. Never used for a token Tollgate hands out
//! to a client.

use super::{KeyError, SigningKey};
use crate::secret::base64url;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde::Serialize;

/// How the RSA public key is written when a confused verifier uses it as an HMAC secret
/// (RFC 8725 §2.1, §3.1): the forms in which a resource server typically holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyForm {
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo), with its final newline.
    SpkiPem,
    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1), with its final newline.
    Pkcs1Pem,
    /// The DER bytes of the SubjectPublicKeyInfo.
    SpkiDer,
}

impl PublicKeyForm {
    pub const ALL: [PublicKeyForm; 3] = [
        PublicKeyForm::SpkiPem,
        PublicKeyForm::Pkcs1Pem,
        PublicKeyForm::SpkiDer,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            PublicKeyForm::SpkiPem => "the public key as SPKI PEM",
            PublicKeyForm::Pkcs1Pem => "the public key as PKCS#1 PEM",
            PublicKeyForm::SpkiDer => "the public key as SPKI DER",
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

impl SigningKey {
    /// The public half of this key, written as `form`.
    pub fn public_key_bytes(&self, form: PublicKeyForm) -> Result<Vec<u8>, KeyError> {
        let unreadable = |reason: String| KeyError::Unreadable {
            kid: self.kid().to_owned(),
            reason,
        };
        let number = |b64: &str| {
            URL_SAFE_NO_PAD
                .decode(b64)
                .map(|bytes| rsa::BigUint::from_bytes_be(&bytes))
                .map_err(|e| unreadable(e.to_string()))
        };
        let key = rsa::RsaPublicKey::new(number(&self.jwk.n)?, number(&self.jwk.e)?)
            .map_err(|e| unreadable(e.to_string()))?;
        Ok(match form {
            PublicKeyForm::SpkiPem => key
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| unreadable(e.to_string()))?
                .into_bytes(),
            PublicKeyForm::Pkcs1Pem => key
                .to_pkcs1_pem(LineEnding::LF)
                .map_err(|e| unreadable(e.to_string()))?
                .into_bytes(),
            PublicKeyForm::SpkiDer => key
                .to_public_key_der()
                .map_err(|e| unreadable(e.to_string()))?
                .into_vec(),
        })
    }
}

fn signing_input<T: Serialize>(header: &Header<'_>, claims: &T) -> Result<String, KeyError> {
    let header = serde_json::to_vec(header).map_err(|_| KeyError::Sign)?;
    let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
    Ok(format!("{}.{}", base64url(&header), base64url(&claims)))
}

/// An Unsecured JWS (RFC 7515 Appendix A.5): `alg` `none` and an empty signature, with
/// the `kid` of a real key so that only the algorithm is wrong. RFC 9068 §4: the resource
/// server "MUST reject any JWT in which the value of "alg" is "none"".
pub fn unsigned<T: Serialize>(typ: &str, kid: &str, claims: &T) -> Result<String, KeyError> {
    let header = Header {
        alg: "none",
        typ,
        kid,
    };
    Ok(format!("{}.", signing_input(&header, claims)?))
}

/// HS256 keyed with `secret`, here the RSA public key: the algorithm-confusion attack on
/// verifiers that take the algorithm from the token (RFC 8725 §2.1; §3.1: "each key MUST
/// be used with exactly one algorithm").
pub fn hs256<T: Serialize>(
    secret: &[u8],
    typ: &str,
    kid: &str,
    claims: &T,
) -> Result<String, KeyError> {
    let header = Header {
        alg: "HS256",
        typ,
        kid,
    };
    let input = signing_input(&header, claims)?;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    Ok(format!("{input}.{}", base64url(tag.as_ref())))
}

/// `token` with one bit of its signature flipped (in the middle, so that no base64
/// padding bits are involved). `None` if it is not a signed compact JWS.
pub fn tamper(token: &str) -> Option<String> {
    let (input, signature) = token.rsplit_once('.')?;
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let middle = bytes.len() / 2;
    *bytes.get_mut(middle)? ^= 0x01;
    Some(format!("{input}.{}", base64url(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn header(token: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(token)[0]).unwrap()).unwrap()
    }

    #[test]
    fn rfc_7515_a_5_unsecured_jws_has_alg_none_and_an_empty_signature() {
        let token = unsigned("at+jwt", "k1", &json!({"sub": "alice"})).unwrap();
        assert_eq!(parts(&token).len(), 3);
        assert_eq!(parts(&token)[2], "");
        assert_eq!(
            header(&token),
            json!({"alg": "none", "typ": "at+jwt", "kid": "k1"})
        );
    }

    #[test]
    fn rfc_8725_3_1_hs256_with_a_public_key_verifies_as_hmac_of_those_bytes() {
        let token = hs256(b"-----BEGIN PUBLIC KEY-----\n", "at+jwt", "k1", &json!({})).unwrap();
        assert_eq!(header(&token)["alg"], "HS256");
        let (input, signature) = token.rsplit_once('.').unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"-----BEGIN PUBLIC KEY-----\n");
        let tag = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(hmac::verify(&key, input.as_bytes(), &tag).is_ok());
    }

    #[test]
    fn a_tampered_signature_differs_in_one_bit_and_keeps_its_length() {
        let token = "a.b.AAAAAAAAAAAAAAAA";
        let tampered = tamper(token).unwrap();
        assert_ne!(tampered, token);
        assert_eq!(tampered.len(), token.len());
        assert_eq!(tamper(&tampered).unwrap(), token);
        assert_eq!(tamper("a.b."), None);
    }
}
