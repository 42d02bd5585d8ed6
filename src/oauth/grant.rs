//! Grants and what follows from them: an approval by one user for one client becomes an
//! authorization code, then access and refresh tokens, all of one family that is revoked
//! together (OAuth 2.1 §4.1.3, §4.3.1). The rules for spending a code or a refresh token
//! are here; the store spends them atomically.

use super::error::OAuthError;
use super::event::format_time;
use super::pkce::CodeChallenge;
use super::resource::{self, Resource};
use super::scope::{Scope, check_client_allows};
use super::token_response::TokenResponse;
use super::{hints, rules};
use serde::{Deserialize, Serialize};

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

/// What a second use of a rotated refresh token does (`refresh.reuse`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshReuse {
    /// The grant is revoked (OAuth 2.1 §4.3.1 reuse detection).
    #[default]
    Strict,
    /// Within the grace period the second use gets the answer the first one got: clients
    /// that refresh from two places at once keep their grant. After it, as `Strict`.
    Grace,
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
    /// When it was used, in milliseconds (tokens rotated before version 0007 have only
    /// `rotated_at`).
    pub rotated_at_ms: Option<i64>,
    /// The event id of the request that used it, to name it when the token comes again.
    pub rotated_by: Option<String>,
    pub revoked_at: Option<i64>,
    /// The flow the authorization started.
    pub flow_id: Option<String>,
}

/// A second use of a rotated refresh token: which request used it first, and how long
/// before this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    /// The event id of the first request, when it was recorded.
    pub first_request: Option<String>,
    /// Milliseconds between the first use and this one.
    pub gap_ms: i64,
}

impl Reuse {
    /// Whether this reuse came within `grace` of the first use (`None`: strict reuse, no
    /// grace at all).
    pub fn within(&self, grace: Option<std::time::Duration>) -> bool {
        grace.is_some_and(|grace| {
            u128::try_from(self.gap_ms.max(0)).is_ok_and(|gap| gap < grace.as_millis())
        })
    }

    /// The first request, for a log line: its id, or that it is not known.
    pub fn first_request_name(&self) -> &str {
        self.first_request.as_deref().unwrap_or("(not recorded)")
    }
}

/// The answer to a refresh, kept sealed for the grace period (`refresh.reuse = "grace"`),
/// so that a second use of the same refresh token gets the same tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    /// When the access token expires (unix seconds).
    pub expires_at: i64,
}

impl Successor {
    pub fn of(response: &TokenResponse, expires_at: i64) -> Self {
        Successor {
            access_token: response.access_token.clone(),
            refresh_token: response.refresh_token.clone(),
            scope: response.scope.clone(),
            expires_at,
        }
    }

    /// The same tokens, with the lifetime that is left of the access token at `now`.
    pub fn response(self, now: i64) -> TokenResponse {
        TokenResponse {
            access_token: self.access_token,
            token_type: "Bearer",
            expires_in: u64::try_from(self.expires_at - now).unwrap_or(0),
            scope: self.scope,
            refresh_token: self.refresh_token,
            id_token: None,
            issued_token_type: None,
        }
    }
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

    /// If this token was used before, the reuse that a use at `now_ms` would be.
    pub fn reuse(&self, now_ms: i64) -> Option<Reuse> {
        let first = self
            .rotated_at_ms
            .or_else(|| self.rotated_at.map(|at| at.saturating_mul(1000)))?;
        Some(Reuse {
            first_request: self.rotated_by.clone(),
            gap_ms: now_ms.saturating_sub(first),
        })
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
        if requested.is_covered_by(&granted) {
            return Ok((requested, true));
        }
        let extra: Vec<&str> = requested.not_covered_by(&granted).collect();
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

/// The part of a refreshed grant's `scope` that its user's policy still allows (checklist
/// SCP-2; `None`: no limit), by the rule of [`still_allowed`]: the policy may have been
/// narrowed since consent. A scope asked for explicitly must be allowed (`invalid_scope`,
/// the token endpoint's code for it, RFC 6749 §5.2); the grant's own scope is cut to the
/// policy, and a grant left with none of its scope must be authorized again.
pub fn still_allowed_for_user(
    subject: &str,
    scope: Scope,
    explicit: bool,
    policy: Option<&[String]>,
) -> Result<Scope, OAuthError> {
    let Some(policy) = policy else {
        return Ok(scope);
    };
    if let Err(mut refusal) = super::scope::check_user_allows(subject, &scope, Some(policy)) {
        if explicit {
            refusal.code = super::error::ErrorCode::InvalidScope;
            return Err(refusal);
        }
    }
    let allowance = Scope::of(policy);
    let kept = Scope::of(
        &scope
            .iter()
            .filter(|t| {
                super::scope::SERVER_SCOPES.contains(t)
                    || Scope::from_stored(t).is_covered_by(&allowance)
            })
            .collect::<Vec<_>>(),
    );
    if kept.for_access_token().is_empty() && !scope.for_access_token().is_empty() {
        return Err(OAuthError::invalid_grant(format!(
            "user '{subject}' may no longer be granted any of the grant's scope '{scope}' \
             (their scope policy changed); authorize again"
        ))
        .rule(&rules::SCP_2));
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
            rotated_at_ms: None,
            rotated_by: None,
            revoked_at: None,
            flow_id: None,
        }
    }

    #[test]
    fn a_reuse_names_the_first_request_and_the_gap() {
        assert_eq!(refresh().reuse(500_000), None);
        let rotated = RefreshGrant {
            rotated_at: Some(200),
            rotated_at_ms: Some(200_250),
            rotated_by: Some("event-1".into()),
            ..refresh()
        };
        let reuse = rotated.reuse(200_750).unwrap();
        assert_eq!(reuse.gap_ms, 500);
        assert_eq!(reuse.first_request.as_deref(), Some("event-1"));
        let grace = Some(std::time::Duration::from_secs(10));
        assert!(reuse.within(grace));
        assert!(!reuse.within(None), "strict: never");
        assert!(
            !rotated.reuse(210_250).unwrap().within(grace),
            "10 s is past it"
        );
        assert!(rotated.reuse(210_249).unwrap().within(grace));
        // Rotated before the column existed: seconds.
        let old = RefreshGrant {
            rotated_at: Some(200),
            ..refresh()
        };
        assert_eq!(old.reuse(203_000).unwrap().gap_ms, 3_000);
        assert_eq!(
            old.reuse(203_000).unwrap().first_request_name(),
            "(not recorded)"
        );
    }

    #[test]
    fn a_successor_keeps_its_tokens_and_counts_down_its_lifetime() {
        let response = TokenResponse {
            access_token: "at".into(),
            token_type: "Bearer",
            expires_in: 300,
            scope: Some("mcp:tools".into()),
            refresh_token: Some("rt2".into()),
            id_token: None,
            issued_token_type: None,
        };
        let again = Successor::of(&response, 1_300).response(1_004);
        assert_eq!(again.access_token, "at");
        assert_eq!(again.refresh_token.as_deref(), Some("rt2"));
        assert_eq!(again.expires_in, 296);
        assert_eq!(
            Successor::of(&response, 1_300).response(2_000).expires_in,
            0
        );
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
        // The user's policy cuts the same way.
        let policy = ["mcp:tools:*".to_owned()];
        let wide = Scope::from_stored("mcp:tools:a mcp:admin offline_access");
        let cut = still_allowed_for_user("bob", wide.clone(), false, Some(&policy)).unwrap();
        assert_eq!(cut.to_string(), "mcp:tools:a offline_access");
        let asked = still_allowed_for_user("bob", wide, true, Some(&policy)).unwrap_err();
        assert_eq!(asked.code, crate::oauth::error::ErrorCode::InvalidScope);
        assert_eq!(asked.rule_id(), Some("SCP-2"));
        let none = Scope::from_stored("mcp:admin");
        let gone = still_allowed_for_user("bob", none, false, Some(&policy)).unwrap_err();
        assert_eq!(gone.code, crate::oauth::error::ErrorCode::InvalidGrant);
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
