//! Client assertions (`private_key_jwt`: RFC 7521 §4.2, RFC 7523 §2.2 and §3, OpenID
//! Connect Core §9): a client authenticates by sending a JWT it signed with its private key.
//! This module reads an assertion without trusting it (to find the client it claims to be)
//! and checks its header and claims; the signature is checked with the client's keys
//! elsewhere (`keys::client`), and the `jti` against every use before (the store).
//!
//! Every refusal is `invalid_client` (RFC 7521 §4.2.1, RFC 7523 §3.2) and says which check
//! failed, with the rule and the values compared.

use super::error::OAuthError;
use super::rules;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live, from now to its `exp`. RFC 7523 §3 lets the server
/// refuse an `exp` too far in the future; its `jti` is remembered until then.
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// How far a client's clock may run ahead of this server's, for `nbf` and `iat`.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// An assertion longer than this is not a client assertion.
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// A `jti` longer than this is refused: it is stored until the assertion expires.
pub const MAX_JTI_CHARS: usize = 256;

/// A client assertion as sent, read but not yet verified.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The compact JWS, to verify.
    pub token: String,
    /// The JOSE header's `alg`.
    pub alg: String,
    /// The JOSE header's `kid`, if any.
    pub kid: Option<String>,
    claims: serde_json::Map<String, Value>,
}

/// What a verified assertion leaves to remember: its `jti` until its `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    pub expires_at: i64,
}

fn refuse(rule: &'static rules::Rule, why: impl Into<String>) -> OAuthError {
    let why = why.into();
    OAuthError::invalid_client(format!(
        "the client assertion was refused: {why} ({}, {})",
        rule.id, rule.source
    ))
    .rule(rule)
}

impl Assertion {
    /// Reads `client_assertion` (with its `client_assertion_type`) without verifying it:
    /// one compact JWS (RFC 7515 §7.1) whose header and claims are JSON objects.
    pub fn read(assertion_type: Option<&str>, token: &str) -> Result<Assertion, OAuthError> {
        match assertion_type {
            Some(ASSERTION_TYPE) => {}
            Some(other) => {
                return Err(refuse(
                    &rules::CA_1,
                    format!(
                        "client_assertion_type is '{other}'; this server takes \
                         '{ASSERTION_TYPE}' (private_key_jwt)"
                    ),
                )
                .compared(ASSERTION_TYPE, other));
            }
            None => {
                return Err(refuse(
                    &rules::CA_1,
                    format!(
                        "client_assertion_type is missing; send '{ASSERTION_TYPE}' with the \
                         client_assertion"
                    ),
                ));
            }
        }
        if token.len() > MAX_ASSERTION_BYTES {
            return Err(refuse(
                &rules::CA_1,
                format!("it is longer than {MAX_ASSERTION_BYTES} bytes"),
            ));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, _signature] = parts.as_slice() else {
            return Err(refuse(
                &rules::CA_1,
                format!(
                    "it is not a signed JWT: a compact JWS has three base64url parts separated \
                     by dots, and this has {} (RFC 7515 §7.1)",
                    parts.len()
                ),
            ));
        };
        let object =
            |part: &str, what: &str| -> Result<serde_json::Map<String, Value>, OAuthError> {
                let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
                    refuse(
                        &rules::CA_1,
                        format!("its {what} is not base64url (RFC 7515 §2)"),
                    )
                })?;
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(object)) => Ok(object),
                    _ => Err(refuse(
                        &rules::CA_1,
                        format!("its {what} is not a JSON object"),
                    )),
                }
            };
        let header = object(header, "header")?;
        let claims = object(claims, "claims")?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(refuse(&rules::CA_6, "its header has no 'alg'")),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(other) => {
                return Err(refuse(
                    &rules::CA_6,
                    format!("its header's 'kid' must be a string, not {other}"),
                ));
            }
        };
        Ok(Assertion {
            token: token.to_owned(),
            alg,
            kid,
            claims,
        })
    }

    /// The client the assertion claims to come from: its `sub` (RFC 7523 §3: the
    /// client_id), which must also be its `iss`. Unverified until the signature is.
    pub fn client_id(&self) -> Result<&str, OAuthError> {
        let sub = self.string("sub").ok_or_else(|| {
            refuse(
                &rules::CA_2,
                "'sub' is missing or not a string; it must be the client_id",
            )
        })?;
        match self.claims.get("iss") {
            Some(Value::String(iss)) if iss == sub => Ok(sub),
            Some(Value::String(iss)) => Err(refuse(
                &rules::CA_2,
                format!(
                    "'iss' is '{iss}' but 'sub' is '{sub}'; both must be the client_id (OpenID \
                     Connect Core §9)"
                ),
            )
            .compared(sub, iss.as_str())),
            _ => Err(refuse(
                &rules::CA_2,
                "'iss' is missing or not a string; it must be the client_id",
            )),
        }
    }

    /// Whether the header's `alg` is one this server verifies, and the one the client
    /// registered, if it registered one.
    pub fn check_algorithm(&self, registered: Option<&str>) -> Result<(), OAuthError> {
        let supported = super::client::jwks::ALGORITHMS;
        if !supported.contains(&self.alg.as_str()) {
            let why = match self.alg.as_str() {
                "none" => "an unsigned JWT proves nothing".to_owned(),
                alg if alg.starts_with("HS") => {
                    "an HMAC needs a shared secret, which is client_secret_jwt, not \
                     private_key_jwt"
                        .to_owned()
                }
                _ => "it is not an algorithm this server verifies".to_owned(),
            };
            return Err(refuse(
                &rules::CA_6,
                format!(
                    "'alg' is '{}': {why}; use {}",
                    self.alg,
                    supported.join(", ")
                ),
            )
            .compared(supported.join(" "), self.alg.as_str()));
        }
        match registered {
            Some(registered) if registered != self.alg => Err(refuse(
                &rules::CA_6,
                format!(
                    "'alg' is '{}', but the client registered \
                     token_endpoint_auth_signing_alg '{registered}'",
                    self.alg
                ),
            )
            .compared(registered, self.alg.as_str())),
            _ => Ok(()),
        }
    }

    /// Checks the claims of a verified assertion of `client_id` at `now`: `aud` names one
    /// of `audiences` (this server's issuer, or the URL of the endpoint it was sent to),
    /// `exp` is present, in the future and at most [`MAX_LIFETIME_SECS`] ahead, `nbf` and
    /// `iat` are not in the future, and `jti` is present (RFC 7523 §3; OpenID Connect Core
    /// §9 requires `jti`).
    pub fn check_claims(
        &self,
        client_id: &str,
        audiences: &[&str],
        now: i64,
    ) -> Result<Accepted, OAuthError> {
        // iss and sub were compared with each other when the client was looked up by sub.
        if self.string("sub") != Some(client_id) {
            return Err(refuse(&rules::CA_2, "'sub' is not the client_id")
                .compared(client_id, self.string("sub").unwrap_or_default()));
        }
        let sent: Vec<&str> = match self.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !sent.iter().any(|aud| audiences.contains(aud)) {
            let what = if sent.is_empty() {
                "'aud' is missing".to_owned()
            } else {
                format!("'aud' is {}", quoted(&sent))
            };
            return Err(refuse(
                &rules::CA_3,
                format!(
                    "{what}; it must name this server: {} (compared as strings)",
                    quoted(audiences)
                ),
            )
            .compared(audiences.join(" "), sent.join(" ")));
        }
        let exp = self.time("exp")?.ok_or_else(|| {
            refuse(
                &rules::CA_4,
                "'exp' is missing; an assertion must expire (RFC 7523 §3)",
            )
        })?;
        if exp <= now {
            return Err(refuse(
                &rules::CA_4,
                format!(
                    "it expired {} s ago ('exp' {exp}); make a new assertion for every request",
                    now - exp
                ),
            )
            .compared(format!("exp > {now}"), exp.to_string()));
        }
        if exp - now > MAX_LIFETIME_SECS {
            return Err(refuse(
                &rules::CA_4,
                format!(
                    "'exp' is {} s from now; this server takes assertions that expire within \
                     {MAX_LIFETIME_SECS} s",
                    exp - now
                ),
            )
            .compared(
                format!("exp <= {}", now + MAX_LIFETIME_SECS),
                exp.to_string(),
            ));
        }
        for claim in ["nbf", "iat"] {
            if let Some(at) = self.time(claim)? {
                if at > now + CLOCK_SKEW_SECS {
                    return Err(refuse(
                        &rules::CA_4,
                        format!(
                            "'{claim}' is {} s in the future by this server's clock; is the \
                             client's clock right?",
                            at - now
                        ),
                    )
                    .compared(
                        format!("{claim} <= {}", now + CLOCK_SKEW_SECS),
                        at.to_string(),
                    ));
                }
            }
        }
        let jti = match self.claims.get("jti") {
            Some(Value::String(jti)) if jti.chars().any(char::is_control) => {
                return Err(refuse(&rules::CA_5, "'jti' contains a control character"));
            }
            Some(Value::String(jti)) if !jti.is_empty() && jti.chars().count() <= MAX_JTI_CHARS => {
                jti.clone()
            }
            Some(Value::String(jti)) if !jti.is_empty() => {
                return Err(refuse(
                    &rules::CA_5,
                    format!("'jti' is longer than {MAX_JTI_CHARS} characters"),
                ));
            }
            _ => {
                return Err(refuse(
                    &rules::CA_5,
                    "'jti' is missing; each assertion needs a unique id, which this server \
                     accepts once (OpenID Connect Core §9)",
                ));
            }
        };
        Ok(Accepted {
            jti,
            expires_at: exp,
        })
    }

    fn string(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }

    /// A NumericDate claim (RFC 7519 §2): seconds, fractions allowed and cut off.
    fn time(&self, claim: &str) -> Result<Option<i64>, OAuthError> {
        match self.claims.get(claim) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| {
                    refuse(
                        &rules::CA_4,
                        format!("'{claim}' must be a number of seconds, not {value}"),
                    )
                }),
        }
    }
}

/// A second use of an assertion's `jti`.
pub fn replayed(jti: &str) -> OAuthError {
    refuse(
        &rules::CA_5,
        format!(
            "its 'jti' '{jti}' was used before; each assertion is accepted once, so make a new \
             one (with a new jti) for every request"
        ),
    )
}

/// An assertion that none of the client's keys verifies, and why.
pub fn bad_signature(why: impl Into<String>) -> OAuthError {
    refuse(&rules::CA_6, why)
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;
    const ISSUER: &str = "https://as.example";
    const TOKEN_URL: &str = "https://as.example/token";

    fn jwt(header: Value, claims: Value) -> String {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    fn claims() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": TOKEN_URL, "exp": NOW + 60, "iat": NOW,
               "jti": "j1"})
    }

    fn read(claims: Value) -> Assertion {
        Assertion::read(
            Some(ASSERTION_TYPE),
            &jwt(json!({"alg": "ES256", "kid": "k1"}), claims),
        )
        .unwrap()
    }

    fn refused(result: Result<Accepted, OAuthError>) -> (String, String) {
        let error = result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidClient);
        (
            error.rule_id().unwrap().to_owned(),
            error.description.into_owned(),
        )
    }

    #[test]
    fn a_good_assertion_is_accepted_for_the_issuer_or_the_endpoint() {
        let assertion = read(claims());
        assert_eq!(assertion.client_id().unwrap(), "c1");
        assert_eq!(
            (assertion.alg.as_str(), assertion.kid.as_deref()),
            ("ES256", Some("k1"))
        );
        assert_eq!(
            assertion
                .check_claims("c1", &[ISSUER, TOKEN_URL], NOW)
                .unwrap(),
            Accepted {
                jti: "j1".into(),
                expires_at: NOW + 60
            }
        );
        let mut to_issuer = claims();
        to_issuer["aud"] = json!(["https://other.example", ISSUER]);
        assert!(
            read(to_issuer)
                .check_claims("c1", &[ISSUER, TOKEN_URL], NOW)
                .is_ok()
        );
    }

    #[test]
    fn ca_1_the_assertion_type_and_form() {
        for (kind, token, why) in [
            (None, "a.b.c", "client_assertion_type is missing"),
            (Some("urn:x"), "a.b.c", "client_assertion_type is 'urn:x'"),
            (Some(ASSERTION_TYPE), "a.b", "three base64url parts"),
            (Some(ASSERTION_TYPE), "!.b.c", "header is not base64url"),
            (
                Some(ASSERTION_TYPE),
                "W10.W10.c",
                "header is not a JSON object",
            ),
        ] {
            let error = Assertion::read(kind, token).unwrap_err();
            assert_eq!(error.rule_id(), Some("CA-1"), "{why}");
            assert!(error.description.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn ca_2_iss_and_sub_are_the_client() {
        let mut other = claims();
        other["iss"] = json!("c2");
        let error = read(other).client_id().unwrap_err();
        assert!(
            error
                .description
                .contains("'iss' is 'c2' but 'sub' is 'c1'"),
            "{error}"
        );
        let mut missing = claims();
        missing.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            read(missing).client_id().unwrap_err().rule_id(),
            Some("CA-2")
        );
    }

    #[test]
    fn ca_3_to_5_each_refusal_names_its_check() {
        let audiences = [ISSUER, TOKEN_URL];
        for (change, rule, why) in [
            (
                json!({"aud": "https://evil.example/token"}),
                "CA-3",
                "'aud' is 'https://evil.example/token'",
            ),
            (json!({"aud": null}), "CA-3", "'aud' is missing"),
            (json!({"exp": null}), "CA-4", "'exp' is missing"),
            (json!({"exp": NOW}), "CA-4", "expired 0 s ago"),
            (
                json!({"exp": NOW + MAX_LIFETIME_SECS + 1}),
                "CA-4",
                "expire within",
            ),
            (json!({"exp": "soon"}), "CA-4", "a number of seconds"),
            (
                json!({"iat": NOW + 120}),
                "CA-4",
                "'iat' is 120 s in the future",
            ),
            (
                json!({"nbf": NOW + 61}),
                "CA-4",
                "'nbf' is 61 s in the future",
            ),
            (json!({"jti": null}), "CA-5", "'jti' is missing"),
            (json!({"jti": ""}), "CA-5", "'jti' is missing"),
            (
                json!({"jti": "x".repeat(MAX_JTI_CHARS + 1)}),
                "CA-5",
                "longer than",
            ),
            (json!({"jti": "a\u{0}b"}), "CA-5", "control character"),
        ] {
            let mut claims = claims();
            for (name, value) in change.as_object().unwrap() {
                if value.is_null() {
                    claims.as_object_mut().unwrap().remove(name);
                } else {
                    claims[name] = value.clone();
                }
            }
            let (got, description) = refused(read(claims).check_claims("c1", &audiences, NOW));
            assert_eq!(got, rule, "{description}");
            assert!(description.contains(why), "{why}: {description}");
        }
        // nbf and iat within the allowed skew, and fractional times, are fine.
        let mut skewed = claims();
        skewed["iat"] = json!(NOW + CLOCK_SKEW_SECS);
        skewed["exp"] = json!(NOW as f64 + 30.5);
        assert!(read(skewed).check_claims("c1", &audiences, NOW).is_ok());
    }

    #[test]
    fn ca_6_algorithms() {
        let assertion = read(claims());
        assert!(assertion.check_algorithm(None).is_ok());
        assert!(assertion.check_algorithm(Some("ES256")).is_ok());
        let error = assertion.check_algorithm(Some("RS256")).unwrap_err();
        assert!(error.description.contains("registered"), "{error}");
        for (alg, why) in [
            ("none", "unsigned"),
            ("HS256", "client_secret_jwt"),
            ("ES512", "not an algorithm"),
        ] {
            let assertion =
                Assertion::read(Some(ASSERTION_TYPE), &jwt(json!({"alg": alg}), claims())).unwrap();
            let error = assertion.check_algorithm(None).unwrap_err();
            assert_eq!(error.rule_id(), Some("CA-6"));
            assert!(error.description.contains(why), "{alg}: {error}");
        }
        assert!(replayed("j1").description.contains("'j1' was used before"));
    }
}
