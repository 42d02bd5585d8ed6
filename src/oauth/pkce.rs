//! PKCE (RFC 7636), S256 only: OAuth 2.1 §4.1.1 lets a server refuse `plain`, and MCP clients
//! must use S256 (checklist AZ-6..AZ-9, TK-3, TK-4).

use super::error::OAuthError;
use super::rules;
use crate::secret::{base64url, sha256};
use subtle::ConstantTimeEq;

/// The only method Tollgate supports, and the one value it advertises in
/// `code_challenge_methods_supported`.
pub const S256: &str = "S256";

/// A validated S256 code challenge as received at the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks `code_challenge` and `code_challenge_method` from an authorization request.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, OAuthError> {
        let challenge = challenge.ok_or_else(|| {
            OAuthError::invalid_request(
                "code_challenge is required: every client must use PKCE with \
                 code_challenge_method=S256 (OAuth 2.1 §4.1.1, RFC 7636 §4.3)",
            )
            .rule(&rules::AZ_6)
        })?;
        Self::check_method(challenge, method).map_err(|error| error.rule(&rules::AZ_7))?;
        // BASE64URL(SHA-256(verifier)) without padding is always 43 characters.
        if challenge.len() != 43 || !challenge.bytes().all(is_base64url) {
            return Err(OAuthError::invalid_request(format!(
                "code_challenge must be the unpadded base64url encoding of a SHA-256 digest \
                 (43 characters of A-Z a-z 0-9 - _); got {} characters (RFC 7636 §4.2)",
                challenge.len()
            )));
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    fn check_method(challenge: &str, method: Option<&str>) -> Result<(), OAuthError> {
        // A plain challenge is the verifier itself: 43 to 128 characters that are not
        // necessarily a digest's 43.
        let plain_hint = || {
            Some(format!(
                "this looks like a 'plain' PKCE challenge (the verifier itself, {} \
                 characters). MCP clients must use S256: send code_challenge = \
                 BASE64URL(SHA256(code_verifier)) and code_challenge_method=S256",
                challenge.len()
            ))
        };
        match method {
            Some(S256) => Ok(()),
            None => Err(OAuthError::invalid_request(
                "code_challenge_method is missing, which means 'plain' (RFC 7636 §4.3); \
                 only S256 is supported: send code_challenge_method=S256",
            )
            .compared(S256, "(none: plain)")
            .hint(plain_hint())),
            Some("plain") => Err(OAuthError::invalid_request(
                "code_challenge_method=plain is not supported; use S256 \
                 (OAuth 2.1 §4.1.1, MCP authorization: clients MUST use S256)",
            )
            .compared(S256, "plain")
            .hint(plain_hint())),
            Some(other) => Err(OAuthError::invalid_request(format!(
                "code_challenge_method '{other}' is not supported; the only supported method is S256"
            ))
            .compared(S256, other)),
        }
    }

    /// Wraps a challenge that was validated before it was stored.
    pub fn from_stored(challenge: String) -> Self {
        CodeChallenge(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Verifies a `code_verifier` from the token request (RFC 7636 §4.6).
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), OAuthError> {
        let verifier = verifier.ok_or_else(|| {
            OAuthError::invalid_request(
                "code_verifier is required: this code was issued for a PKCE request \
                 (OAuth 2.1 §4.1.3)",
            )
            .rule(&rules::TK_4)
        })?;
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
            return Err(OAuthError::invalid_grant(format!(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ \
                 (RFC 7636 §4.1); got {} characters",
                verifier.len()
            ))
            .rule(&rules::TK_3));
        }
        let computed = base64url(&sha256(verifier.as_bytes()));
        if bool::from(computed.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge sent to the authorization \
                 endpoint: BASE64URL(SHA256(code_verifier)) must equal code_challenge \
                 (RFC 7636 §4.6)",
            )
            .rule(&rules::TK_3)
            .compared(self.0.clone(), computed))
        }
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector_verifies() {
        let challenge = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        assert_eq!(challenge.verify(Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn oauth_2_1_example_pair_verifies() {
        let challenge = CodeChallenge::from_request(
            Some("6fdkQaPm51l13DSukcAH3Mdx7_ntecHYd1vi3n0hMZY"),
            Some("S256"),
        )
        .unwrap();
        let verifier = "3641a2d12d66101249cdf7a79c000c1f8c05d2aafcf14bf146497bed";
        assert_eq!(challenge.verify(Some(verifier)), Ok(()));
    }

    #[test]
    fn another_verifier_is_invalid_grant() {
        let challenge = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        let err = challenge
            .verify(Some("aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidGrant);
    }

    #[test]
    fn verifier_syntax_is_enforced() {
        let challenge = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+", &VERIFIER[..42]),
        ] {
            assert_eq!(
                challenge.verify(Some(&bad)).unwrap_err().code,
                ErrorCode::InvalidGrant
            );
        }
        assert_eq!(
            challenge.verify(None).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn plain_missing_and_unknown_methods_are_invalid_request() {
        for method in [None, Some("plain"), Some("S512")] {
            let err = CodeChallenge::from_request(Some(CHALLENGE), method).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{method:?}");
        }
        let err = CodeChallenge::from_request(None, Some("S256")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_challenge_that_is_not_a_digest_is_refused() {
        let err = CodeChallenge::from_request(Some("short"), Some("S256")).unwrap_err();
        assert!(err.description.contains("43 characters"));
    }
}
