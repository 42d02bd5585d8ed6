//! Grants and what follows from them: an approval by one user for one client becomes an
//! authorization code, then access and refresh tokens, all of one family that is revoked
//! together (OAuth 2.1 §4.1.3, §4.3.1). The rules for spending a code or a refresh token
//! are here; the store spends them atomically.

use super::error::OAuthError;
use super::event::format_time;
use super::pkce::CodeChallenge;
use super::resource::{self, Resource};
use super::scope::{Scope, check_client_allows};
use super::{hints, rules};

/// Why a grant's single-use credential cannot be spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Refuse the request; nothing else changes.
    Refuse(OAuthError),
    /// A replay of a spent credential: refuse, and revoke the grant with every token of its
    /// family (OAuth 2.1 §4.1.3 for codes, §4.3.1 for refresh tokens).
    RevokeFamily(OAuthError),
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Refusal::Refuse(error)
    }
}

/// An authorization code with the grant it belongs to.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub redirect_uri: String,
    pub code_challenge: String,
    /// OpenID Connect `nonce` from the authorization request.
    pub nonce: Option<String>,
    /// When the user approved (OIDC `auth_time`).
    pub approved_at: i64,
    pub expires_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The flow the authorization started (the event log follows it).
    pub flow_id: Option<String>,
}

impl CodeGrant {
    /// Checks a token request that redeems this code (OAuth 2.1 §4.1.3; checklist TK-3..TK-8).
    /// Checks that do not prove possession come first: a request that fails them must not be
    /// able to revoke someone else's tokens by replaying their code. A code presented again
    /// by its own client with its verifier is a replay, and its grant is revoked.
    pub fn check_redemption(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: i64,
    ) -> Result<(), Refusal> {
        if self.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client (OAuth 2.1 §4.1.3)",
            )
            .rule(&rules::TK_6)
            .compared(self.client_id.as_str(), client_id)
            .into());
        }
        if let Some(redirect_uri) = redirect_uri {
            if redirect_uri != self.redirect_uri {
                return Err(OAuthError::invalid_grant(format!(
                    "redirect_uri '{redirect_uri}' differs from the one in the authorization \
                     request, '{}' (OAuth 2.1 §10.2)",
                    self.redirect_uri
                ))
                .rule(&rules::TK_7)
                .compared(self.redirect_uri.as_str(), redirect_uri)
                .hint(hints::uri_near_miss(
                    [self.redirect_uri.as_str()],
                    redirect_uri,
                ))
                .into());
            }
        }
        CodeChallenge::from_stored(self.code_challenge.clone()).verify(code_verifier)?;
        if let Some(redeemed_at) = self.redeemed_at {
            return Err(Refusal::RevokeFamily(replayed_code().hint(Some(format!(
                "this code was first redeemed at {}, {} before this request: a client must \
                 redeem a code once. Does it retry the token request after a timeout, or run \
                 the redirect handler twice?",
                format_time(redeemed_at.saturating_mul(1000)),
                hints::span(now - redeemed_at)
            )))));
        }
        if self.revoked_at.is_some() {
            return Err(OAuthError::invalid_grant(
                "the authorization behind this code was revoked",
            )
            .rule(&rules::TK_5)
            .into());
        }
        if self.expires_at <= now {
            let issued = self.expires_at - CODE_LIFETIME_SECS;
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired; codes live 60 seconds, so redeem it right \
                 after the redirect",
            )
            .rule(&rules::AZ_12)
            .hint(Some(format!(
                "this code was issued {} before this request and expired {} ago: redeem the \
                 code as soon as the redirect arrives",
                hints::span(now - issued),
                hints::span(now - self.expires_at)
            )))
            .into());
        }
        Ok(())
    }
}

/// A code that was redeemed before: the tokens issued for it are revoked.
pub fn replayed_code() -> OAuthError {
    OAuthError::invalid_grant(
        "this authorization code was already used; a code is single-use, so the tokens issued \
         for it have been revoked (OAuth 2.1 §4.1.3)",
    )
    .rule(&rules::TK_5)
}

/// How long authorization codes live (the checklist asks for at most a minute; OAuth 2.1
/// §4.1.2 recommends at most ten).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// A refresh token that was used before: its family is revoked.
pub fn reused_refresh_token() -> OAuthError {
    OAuthError::invalid_grant(
        "this refresh token was already used; refresh tokens rotate on every use, so its whole \
         grant has been revoked as a precaution (OAuth 2.1 §4.3.1)",
    )
    .rule(&rules::TK_16)
}

/// A refresh token with the grant it belongs to.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub grant_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The flow the authorization started.
    pub flow_id: Option<String>,
}

impl RefreshGrant {
    /// Checks a token request that uses this refresh token (OAuth 2.1 §4.3.1; checklist
    /// TK-16..TK-18). Every use rotates it, so a second use is a reuse: the family goes.
    pub fn check_use(&self, client_id: &str, now: i64) -> Result<(), Refusal> {
        if self.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client (OAuth 2.1 §4.3.1)",
            )
            .rule(&rules::TK_17)
            .compared(self.client_id.as_str(), client_id)
            .into());
        }
        if self.revoked_at.is_some() {
            return Err(
                OAuthError::invalid_grant("the refresh token's grant has been revoked").into(),
            );
        }
        if let Some(rotated_at) = self.rotated_at {
            return Err(Refusal::RevokeFamily(reused_refresh_token().hint(Some(
                format!(
                    "this refresh token was first used at {}, {} before this request, which is \
                     the second use: every refresh returns a new refresh token, and the old one \
                     must be thrown away. If two parts of a client refresh at once, let one \
                     refresh and share the result",
                    format_time(rotated_at.saturating_mul(1000)),
                    hints::span(now - rotated_at)
                ),
            ))));
        }
        if self.expires_at <= now {
            return Err(OAuthError::invalid_grant("the refresh token has expired").into());
        }
        Ok(())
    }

    /// Whether this refresh token can still be used (RFC 7662 `active`).
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.rotated_at.is_none() && self.expires_at > now
    }

    /// The scope a refresh asks for: the grant's scope when the request names none, else a
    /// subset of it; a refresh cannot add scope (OAuth 2.1 §4.3.1). The flag says whether
    /// the client named the scope.
    pub fn requested_scope(&self, requested: Scope) -> Result<(Scope, bool), OAuthError> {
        let granted = Scope::from_stored(&self.scope);
        if requested.is_empty() {
            return Ok((granted, false));
        }
        if requested.is_subset_of(&granted) {
            return Ok((requested, true));
        }
        let extra: Vec<&str> = requested.missing_from(&granted).collect();
        Err(OAuthError::invalid_scope(format!(
            "a refresh cannot add scope: {} was not granted (granted: '{granted}'; OAuth 2.1 \
             §4.3.1)",
            extra.join(" ")
        ))
        .rule(&rules::TK_17)
        .compared(granted.to_string(), requested.to_string())
        .hint(Some(
            "to get more scope, send the user through a new authorization (step-up); a \
             refresh only keeps or narrows what was approved"
                .to_owned(),
        )))
    }
}

/// The part of a refreshed grant's `scope` that the resources and the client's allowed
/// scopes still offer: the configuration may have changed since consent (an edited file, a
/// restart), and a refresh issues only what it would still allow today. A scope the client
/// asked for explicitly must still be offered (the usual `invalid_scope`); a grant's own
/// scope that is no longer offered is dropped, and the response's `scope` says so (OAuth 2.1
/// §3.2.3), unless nothing is left.
pub fn still_allowed(
    scope: Scope,
    explicit: bool,
    audience: &[String],
    resources: &[Resource],
    client_scopes: &[String],
) -> Result<Scope, OAuthError> {
    let allows = |scope: &Scope| {
        resource::check_scope(scope, audience, resources)
            .and_then(|()| check_client_allows(scope, client_scopes))
    };
    if explicit {
        allows(&scope)?;
        return Ok(scope);
    }
    let kept = scope
        .iter()
        .filter(|token| allows(&Scope::from_stored(token)).is_ok())
        .collect::<Vec<_>>()
        .join(" ");
    let kept = Scope::from_stored(&kept);
    if kept.is_empty() && !scope.is_empty() {
        return Err(OAuthError::invalid_grant(format!(
            "none of the grant's scope '{scope}' is offered any more (the server's resources \
             or this client's allowed scopes changed); authorize again"
        )));
    }
    Ok(kept)
}

/// An issued access token as recorded.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    pub client_id: String,
    pub grant_id: Option<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub grant_revoked_at: Option<i64>,
    /// The flow of its grant.
    pub flow_id: Option<String>,
}

impl AccessTokenRecord {
    /// Unexpired and revoked neither directly nor through its grant.
    pub fn is_active(&self, now: i64) -> bool {
        self.expires_at > now && self.revoked_at.is_none() && self.grant_revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "http://127.0.0.1:53682/callback";

    fn code() -> CodeGrant {
        CodeGrant {
            grant_id: "g1".into(),
            client_id: "c1".into(),
            subject: "dev".into(),
            scope: "mcp:tools".into(),
            resources: vec!["https://mcp.example/mcp".into()],
            redirect_uri: CB.into(),
            code_challenge: CHALLENGE.into(),
            nonce: None,
            approved_at: 100,
            expires_at: 160,
            redeemed_at: None,
            revoked_at: None,
            flow_id: None,
        }
    }

    fn refused(result: Result<(), Refusal>) -> (bool, ErrorCode, String) {
        match result {
            Err(Refusal::Refuse(e)) => (false, e.code, e.description.into_owned()),
            Err(Refusal::RevokeFamily(e)) => (true, e.code, e.description.into_owned()),
            Ok(()) => panic!("expected a refusal"),
        }
    }

    #[test]
    fn tk_3_a_code_redeems_once_with_its_verifier_in_time() {
        assert_eq!(
            code().check_redemption("c1", Some(CB), Some(VERIFIER), 159),
            Ok(())
        );
        assert_eq!(
            code().check_redemption("c1", None, Some(VERIFIER), 100),
            Ok(())
        );
        let (revoke, code_, why) =
            refused(code().check_redemption("c1", None, Some(VERIFIER), 160));
        assert!(
            !revoke && code_ == ErrorCode::InvalidGrant && why.contains("expired"),
            "{why}"
        );
    }

    #[test]
    fn tk_5_only_a_proven_replay_revokes_the_family() {
        let spent = CodeGrant {
            redeemed_at: Some(120),
            ..code()
        };
        let (revoke, _, why) = refused(spent.check_redemption("c1", None, Some(VERIFIER), 130));
        assert!(revoke, "{why}");
        // Another client, another redirect URI or a wrong verifier proves nothing.
        for (client, uri, verifier) in [
            ("c2", None, Some(VERIFIER)),
            ("c1", Some("http://127.0.0.1:53682/other"), Some(VERIFIER)),
            (
                "c1",
                None,
                Some("aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            ),
            ("c1", None, None),
        ] {
            let (revoke, _, why) = refused(spent.check_redemption(client, uri, verifier, 130));
            assert!(!revoke, "{client} {uri:?} {verifier:?}: {why}");
        }
    }

    #[test]
    fn a_revoked_grant_refuses_its_code() {
        let revoked = CodeGrant {
            revoked_at: Some(110),
            ..code()
        };
        let (revoke, _, why) = refused(revoked.check_redemption("c1", None, Some(VERIFIER), 120));
        assert!(!revoke && why.contains("revoked"), "{why}");
    }

    fn refresh() -> RefreshGrant {
        RefreshGrant {
            grant_id: "g1".into(),
            client_id: "c1".into(),
            subject: "dev".into(),
            scope: "mcp:tools offline_access".into(),
            resources: vec!["https://mcp.example/mcp".into()],
            issued_at: 100,
            expires_at: 1000,
            rotated_at: None,
            revoked_at: None,
            flow_id: None,
        }
    }

    #[test]
    fn tk_17_a_rotated_refresh_token_used_again_revokes_the_family() {
        assert_eq!(refresh().check_use("c1", 500), Ok(()));
        let rotated = RefreshGrant {
            rotated_at: Some(200),
            ..refresh()
        };
        assert!(refused(rotated.check_use("c1", 300)).0);
        assert!(
            !refused(rotated.check_use("c2", 300)).0,
            "another client proves nothing"
        );
        assert!(!refused(refresh().check_use("c1", 1000)).0, "expired");
        assert!(!rotated.is_active(300) && refresh().is_active(999));
    }

    #[test]
    fn tk_18_a_refresh_can_only_narrow_scope() {
        let grant = refresh();
        let none = Scope::parse(None).unwrap();
        assert_eq!(
            grant.requested_scope(none).unwrap(),
            (Scope::from_stored("mcp:tools offline_access"), false)
        );
        let narrower = Scope::parse(Some("mcp:tools")).unwrap();
        assert_eq!(
            grant.requested_scope(narrower.clone()).unwrap(),
            (narrower, true)
        );
        let wider = Scope::parse(Some("mcp:tools mcp:admin")).unwrap();
        let error = grant.requested_scope(wider).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidScope);
        assert!(
            error.description.contains("mcp:admin was not granted"),
            "{error}"
        );
    }

    #[test]
    fn a_refresh_drops_scope_the_configuration_no_longer_offers() {
        let audience = vec!["https://mcp.example/mcp".to_owned()];
        let resources = vec![Resource::with_scopes(
            "https://mcp.example/mcp",
            &["mcp:tools"],
        )];
        let granted = Scope::from_stored("mcp:tools mcp:admin");
        let kept = still_allowed(granted.clone(), false, &audience, &resources, &[]).unwrap();
        assert_eq!(kept.to_string(), "mcp:tools");
        let error = still_allowed(granted, true, &audience, &resources, &[]).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidScope);
        let gone = still_allowed(
            Scope::from_stored("mcp:admin"),
            false,
            &audience,
            &resources,
            &[],
        )
        .unwrap_err();
        assert_eq!(gone.code, ErrorCode::InvalidGrant);
    }
}
