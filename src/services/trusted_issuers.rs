//! The identity providers whose ID-JAGs this server accepts (`[[id_jag.trust]]`), and the
//! verification of an ID-JAG's JWS with the IdP's published keys (draft-ietf-oauth-identity-
//! assertion-authz-grant §4.4.1: "MUST verify the JWS signature using a trusted key for the
//! issuing IdP"; MCP Enterprise-Managed Authorization §7.4.1: "MUST NOT accept `alg: none`").
//! Each IdP's JWKS is fetched when first needed and again for a key id not seen yet, at most
//! every few seconds, so made-up key ids cannot make this server hammer the IdP.

use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::id_jag::{self, IdJagClaims, TrustedIssuer};
use crate::oauth::rules;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The algorithms an ID-JAG may be signed with (an allow-list, so never `none`).
const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
const REFETCH_AFTER: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct TrustedIssuers {
    entries: Vec<Entry>,
    http: reqwest::Client,
}

struct Entry {
    trusted: TrustedIssuer,
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("issuer", &self.trusted.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

fn refused(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_grant(description).rule(&rules::JAG_3)
}

impl TrustedIssuers {
    pub fn new(trusted: &[TrustedIssuer]) -> Self {
        TrustedIssuers {
            entries: trusted
                .iter()
                .map(|trusted| Entry {
                    trusted: trusted.clone(),
                    keys: Mutex::default(),
                })
                .collect(),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Verifies an ID-JAG's type, issuer and signature and returns its claims; the caller
    /// checks audience, client and time (`oauth::id_jag::check_claims`).
    pub async fn verify(
        &self,
        assertion: &str,
        own_issuer: &str,
    ) -> Result<IdJagClaims, OAuthError> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
            refused(format!(
                "the assertion is not a signed JWT ({e}); send the ID-JAG the IdP issued"
            ))
        })?;
        if !id_jag::is_id_jag_typ(header.typ.as_deref()) {
            return Err(refused(format!(
                "the assertion's typ is {:?}, not '{}': only ID-JAGs are accepted here \
                 (draft-ietf-oauth-identity-assertion-authz-grant §3.1)",
                header.typ.as_deref().unwrap_or("absent"),
                id_jag::TYP
            ))
            .compared(id_jag::TYP, header.typ.unwrap_or_default()));
        }
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused(format!(
                "the assertion is signed with {:?}; accepted: RS256, ES256",
                header.alg
            )));
        }
        let issuer = unverified_issuer(assertion)
            .ok_or_else(|| refused("the assertion has no iss claim (draft §3.1: REQUIRED)"))?;
        if issuer == own_issuer {
            return Err(refused(
                "the assertion was issued by this server itself, which must not accept its \
                 own ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant §8.3)",
            ));
        }
        let Some(entry) = self.entries.iter().find(|e| e.trusted.issuer == issuer) else {
            return Err(refused(format!(
                "'{issuer}' is not an identity provider this server trusts: add it to \
                 [[id_jag.trust]]"
            )));
        };
        let kid = header
            .kid
            .ok_or_else(|| refused("the assertion names no signing key (kid)"))?;
        let key = self.key(entry, &kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer]);
        validation.validate_aud = false;
        // Time is checked with the server's clock (check_claims), which tests move.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        jsonwebtoken::decode::<IdJagClaims>(assertion, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                refused(format!(
                    "the assertion does not verify with the keys of '{issuer}': {e} (sub, aud, \
                     client_id, jti, iat and exp are required, draft §3.1)"
                ))
            })
    }

    async fn key(&self, entry: &Entry, kid: &str) -> Result<DecodingKey, OAuthError> {
        let mut keys = entry.keys.lock().await;
        let stale = keys.fetched.is_none_or(|at| at.elapsed() > REFETCH_AFTER);
        if !keys.by_kid.contains_key(kid) && stale {
            keys.fetched = Some(Instant::now());
            let url = entry.trusted.jwks_url();
            let jwks: JwkSet = async {
                let response = self.http.get(&url).send().await?;
                response.error_for_status()?.json().await
            }
            .await
            .map_err(|e| {
                OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    format!(
                        "the keys of '{}' cannot be fetched from {url}: {e}",
                        entry.trusted.issuer
                    ),
                )
                .rule(&rules::JAG_3)
            })?;
            keys.by_kid = jwks
                .keys
                .iter()
                .filter_map(|jwk| {
                    Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))
                })
                .collect();
        }
        keys.by_kid.get(kid).cloned().ok_or_else(|| {
            refused(format!(
                "the assertion's key '{kid}' is not in the JWKS of '{}'",
                entry.trusted.issuer
            ))
        })
    }
}

/// The `iss` of a JWT before its signature is checked: needed to know whose keys to check
/// it with. Nothing else is read from the unverified payload.
fn unverified_issuer(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}
