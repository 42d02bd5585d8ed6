//! The one token issuer: every access token, refresh token and ID token Tollgate hands out
//! is made here, by the token endpoint's grants, by `tollgate token` and by the `testing`
//! fixture, so a claim or a lifetime rule lives in one place. Nothing is recorded here: a
//! grant records what it issued together with spending its code or refresh token
//! (atomically, in the store); [`TokenIssuer::mint_recorded`] records a token made without
//! a flow.

use super::events;
use super::faults::{Facts, FaultTable};
use super::users::Users;
use crate::config::faults::{Effect, FaultEndpoint, Lie};
use crate::keys::forge::{self, PublicKeyForm};
use crate::keys::{KeyError, KeyRing, SigningKey, generate_off_thread};
use crate::oauth::access_token::{self, AccessTokenClaims, Audience};
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::grant::CodeGrant;
use crate::oauth::grant_type::GrantType;
use crate::oauth::id_jag::{self, IdJagClaims, IssueDecision, Resources};
use crate::oauth::id_token::{self, IdTokenClaims};
use crate::oauth::scope::{OFFLINE_ACCESS, Scope};
use crate::oauth::token_response::TokenResponse;
use crate::secret::Secret;
use crate::store::{IssuedTokens, NewAccessToken, NewRefreshToken, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    keys: Arc<KeyRing>,
    /// For the configured extra claims of a user (`[[users]] claims`).
    users: Arc<Users>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    /// The token endpoint's lies (issue 14) are told here, where tokens are made.
    faults: Arc<FaultTable>,
}

/// Who a token is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A user, whose configured extra claims go into the token.
    User(&'a str),
    /// The client itself, with no user (RFC 9068 §2.2: `sub` is then the client id).
    Client,
}

/// What a grant decided to issue.
#[derive(Debug)]
pub struct TokenGrant<'a> {
    /// The grant type of the token request.
    pub grant_type: GrantType,
    pub client_id: &'a str,
    pub subject: Subject<'a>,
    pub scope: &'a Scope,
    pub audience: Vec<String>,
    pub with_refresh_token: bool,
    /// The `act` claim of a delegated token (RFC 8693 §4.1), made by token exchange.
    pub act: Option<serde_json::Value>,
}

/// Who an ID-JAG is about and what the IdP's policy decided.
#[derive(Debug)]
pub struct IdJagFor<'a> {
    pub subject: &'a str,
    /// When the user signed in (the subject ID token's `auth_time`).
    pub auth_time: Option<i64>,
    pub decision: &'a IssueDecision,
}

/// The response for the client and what the store must record.
#[derive(Debug)]
pub struct Issued {
    pub response: TokenResponse,
    pub records: IssuedTokens,
    /// The access token's `aud`.
    pub audience: Vec<String>,
}

impl Issued {
    /// Records in the event log what was issued: `jti`, `aud`, scope and expiry, whether a
    /// refresh token and an ID token came with it; never a token value.
    pub fn record(&self) {
        events::step(EventType::TokensIssued, |event| {
            event.detail("jti", self.records.access.jti.as_str());
            event.detail("aud", self.audience.as_slice());
            event.detail("scope", self.response.scope.as_deref().unwrap_or_default());
            event.detail("expires_at", self.records.access.expires_at);
            event.detail("refresh_token", self.records.refresh.is_some());
            event.detail("id_token", self.response.id_token.is_some());
        });
    }
}

/// An access token made without a flow, for testing resource servers.
#[derive(Debug, Clone)]
pub struct StandaloneToken {
    pub subject: String,
    pub client_id: String,
    pub audience: Vec<String>,
    /// Space-separated, as it goes into the `scope` claim.
    pub scope: Option<String>,
    pub lifetime: Duration,
    /// Claims added after the user's configured ones (and replacing them).
    pub extra_claims: serde_json::Map<String, serde_json::Value>,
    /// Made wrong on purpose, so that a resource server can be tested for refusing it.
    pub defects: Vec<Defect>,
}

/// Ways a standalone token can be wrong on purpose, each one a rule a resource server must
/// apply (RFC 9068 §4, RFC 8725, OAuth 2.1 §5.2), so that `tollgate check` and
/// `tollgate token` can show that it refuses the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// Expired ten minutes ago: beyond the clock-skew leeway validators usually allow.
    Expired,
    /// Not valid for another ten minutes (`nbf` and `iat` ahead; RFC 7519 §4.1.5).
    NotYetValid,
    /// For another audience than asked, on another origin.
    WrongAudience,
    /// For another resource on the same origin as the one asked for
    /// ([`sibling_audience`]): refused only by a server that compares `aud` exactly.
    SiblingAudience,
    /// From another issuer than this server.
    WrongIssuer,
    /// Signed with a fresh key that the JWKS does not contain.
    UnknownKey,
    /// Signed with the real key, then one bit of the signature flipped.
    TamperedSignature,
    /// `alg: none` and no signature, with the real key's `kid`.
    AlgNone,
    /// HS256, keyed with the real RSA public key written in this form (RFC 8725 §2.1).
    Hs256PublicKey(PublicKeyForm),
    /// Signed with the real key, but typed `JWT` (the `typ` of an ID token) rather than
    /// `at+jwt` (RFC 9068 §2.1, §4).
    WrongType,
}

/// The audience of a [`Defect::WrongAudience`] token.
pub const WRONG_AUDIENCE: &str = "https://wrong-audience.invalid/mcp";
/// The issuer of a [`Defect::WrongIssuer`] token.
pub const WRONG_ISSUER: &str = "https://wrong-issuer.invalid";
/// The `typ` of a [`Defect::WrongType`] token.
pub const WRONG_TYPE: &str = "JWT";
/// How far ahead a [`Defect::NotYetValid`] token starts, and how long ago a
/// [`Defect::Expired`] one ended: beyond the few minutes of leeway RFC 9068 §4 allows.
const SKEW_BEYOND_LEEWAY: i64 = 600;

/// The audience of a [`Defect::SiblingAudience`] token for `audience`: another resource on
/// the same origin, under its path, such as `http://host/mcp/another-resource` for
/// `http://host/mcp`. A server that compares only the origin, or checks that `aud` starts
/// with its URL, accepts it.
pub fn sibling_audience(audience: &str) -> String {
    match url::Url::parse(audience) {
        Ok(mut url) if url.has_host() => {
            let path = format!("{}/another-resource", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => format!("{}/another-resource", audience.trim_end_matches('/')),
    }
}

/// A token made without a flow and the `jti` it was recorded under.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The scope is beyond the subject's scope policy (checklist SCP-2), or malformed.
    #[error(transparent)]
    Refused(#[from] OAuthError),
}

impl TokenIssuer {
    pub fn new(
        issuer: &str,
        keys: Arc<KeyRing>,
        users: Arc<Users>,
        access_ttl: Duration,
        refresh_ttl: Duration,
        faults: Arc<FaultTable>,
    ) -> Self {
        TokenIssuer {
            issuer: issuer.to_owned(),
            keys,
            users,
            access_ttl,
            refresh_ttl,
            faults,
        }
    }

    /// Whether the fault `lie` fires on this grant's token response.
    fn lies(&self, grant: &TokenGrant<'_>, lie: Lie) -> Option<super::faults::Firing> {
        let facts = Facts {
            grant_type: Some(grant.grant_type.as_str()),
            client_id: Some(grant.client_id),
        };
        self.faults.fire(FaultEndpoint::Token, facts, |effect| {
            *effect == Effect::Lie(lie)
        })
    }

    /// How long access tokens live.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// Signs the access token and makes the refresh token of a grant.
    pub fn issue(&self, grant: TokenGrant<'_>, now: i64) -> Result<Issued, KeyError> {
        let access_scope = grant.scope.for_access_token();
        let subject = match grant.subject {
            Subject::User(user) => user,
            Subject::Client => grant.client_id,
        };
        let audience = match self.lies(&grant, Lie::WrongAudience) {
            Some(_) => vec![WRONG_AUDIENCE.to_owned()],
            None => grant.audience.clone(),
        };
        // The lie is told in `expires_in` only: the token's `exp` stays true.
        let expires_in = match self.lies(&grant, Lie::ExpiresInMismatch) {
            Some(firing) => firing
                .fault
                .expires_in
                .unwrap_or(self.access_ttl.as_secs().saturating_add(3600)),
            None => self.access_ttl.as_secs(),
        };
        let mut claims = AccessTokenClaims::issue(
            &self.issuer,
            subject,
            grant.client_id,
            audience.clone(),
            (!access_scope.is_empty()).then(|| access_scope.to_string()),
            now,
            seconds(self.access_ttl),
        );
        if let Subject::User(user) = grant.subject {
            claims.extra = self.user_claims(user);
        }
        claims.act = grant.act;
        let access_token = self.keys.sign(access_token::TYP, &claims)?;
        let refresh = grant.with_refresh_token.then(Secret::generate);
        let records = IssuedTokens {
            access: NewAccessToken::of(&claims),
            refresh: refresh.as_ref().map(|token| NewRefreshToken {
                token_digest: token.digest(),
                expires_at: now.saturating_add(seconds(self.refresh_ttl)),
            }),
        };
        let response = TokenResponse {
            access_token,
            issued_token_type: None,
            token_type: "Bearer",
            expires_in,
            // offline_access is granted only where a refresh token comes with it (RFC 6749
            // §5.1: `scope` is what was granted).
            scope: match &refresh {
                Some(_) => Some(grant.scope.clone()),
                None => Some(grant.scope.without(OFFLINE_ACCESS)),
            }
            .filter(|scope| !scope.is_empty())
            .map(|scope| scope.to_string()),
            refresh_token: refresh.map(|token| token.expose().to_owned()),
            id_token: None,
        };
        Ok(Issued {
            response,
            records,
            audience,
        })
    }

    /// The OpenID Connect ID token for a redeemed code (OIDC Core §3.1.3.3, §3.1.3.6). It
    /// lives as long as an access token.
    pub fn id_token(&self, grant: &CodeGrant, now: i64) -> Result<String, KeyError> {
        self.id_token_for(
            &grant.client_id,
            &grant.subject,
            grant.approved_at,
            grant.nonce.clone(),
            now,
        )
    }

    /// An ID token for `subject`, who approved `client_id` at `auth_time` (the code flow, the
    /// device flow).
    pub fn id_token_for(
        &self,
        client_id: &str,
        subject: &str,
        auth_time: i64,
        nonce: Option<String>,
        now: i64,
    ) -> Result<String, KeyError> {
        let claims = IdTokenClaims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: client_id.to_owned(),
            exp: now.saturating_add(seconds(self.access_ttl)),
            iat: now,
            auth_time,
            nonce,
            extra: self.user_claims(subject),
        };
        self.keys.sign(id_token::TYP, &claims)
    }

    /// An Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-
    /// authz-grant §3.1; MCP Enterprise-Managed Authorization §4.3), signed with this server's
    /// key and typed `oauth-id-jag+jwt`: `iss` is this server, `jti` fresh, five minutes of
    /// life, and the user's configured `email`, which the draft recommends.
    pub fn id_jag(
        &self,
        assertion: IdJagFor<'_>,
        now: i64,
    ) -> Result<(String, IdJagClaims), KeyError> {
        let email = self
            .user_claims(assertion.subject)
            .get("email")
            .and_then(|email| email.as_str())
            .map(str::to_owned);
        let scope = assertion.decision.scope.to_string();
        let claims = IdJagClaims {
            iss: self.issuer.clone(),
            sub: assertion.subject.to_owned(),
            aud: Audience::One(assertion.decision.audience.clone()),
            client_id: assertion.decision.client_id.clone(),
            jti: uuid::Uuid::now_v7().to_string(),
            exp: now.saturating_add(id_jag::LIFETIME_SECS),
            iat: now,
            resource: Some(Resources::One(assertion.decision.resource.clone())),
            scope: (!scope.is_empty()).then_some(scope),
            auth_time: assertion.auth_time,
            email,
        };
        let signed = self.keys.sign(id_jag::TYP, &claims)?;
        Ok((signed, claims))
    }

    /// An access token made without a flow, signed and recorded, so that the JWKS verifies
    /// it and introspection and revocation know it, exactly like one from a real flow.
    pub async fn mint_recorded(
        &self,
        store: &Store,
        token: &StandaloneToken,
        now: i64,
    ) -> Result<String, MintError> {
        Ok(self.mint_standalone(store, token, now).await?.token)
    }

    /// Refuses a standalone token whose scope is malformed or beyond the scope policy of
    /// its subject, when the subject is a user with one (checklist SCP-2): `tollgate token`
    /// and the fixture apply the policy a flow would, unless told not to.
    pub fn check_user_policy(&self, token: &StandaloneToken) -> Result<(), OAuthError> {
        let Some(user) = self.users.get(&token.subject) else {
            return Ok(());
        };
        if user.scopes.is_none() {
            return Ok(());
        }
        user.check_scope(&Scope::parse(token.scope.as_deref())?)
    }

    /// [`TokenIssuer::mint_recorded`], also returning the `jti`, for revoking the token.
    pub async fn mint_standalone(
        &self,
        store: &Store,
        token: &StandaloneToken,
        now: i64,
    ) -> Result<Minted, MintError> {
        let has = |defect: Defect| token.defects.contains(&defect);
        let lifetime = seconds(token.lifetime);
        let (iat, exp) = if has(Defect::Expired) {
            let exp = now - SKEW_BEYOND_LEEWAY;
            (exp.saturating_sub(lifetime), exp)
        } else if has(Defect::NotYetValid) {
            let start = now + SKEW_BEYOND_LEEWAY;
            (start, start.saturating_add(lifetime))
        } else {
            (now, now.saturating_add(lifetime))
        };
        let audience = if has(Defect::WrongAudience) {
            vec![WRONG_AUDIENCE.to_owned()]
        } else if has(Defect::SiblingAudience) {
            token.audience.iter().map(|a| sibling_audience(a)).collect()
        } else {
            token.audience.clone()
        };
        let mut claims = AccessTokenClaims::issue(
            &self.issuer,
            &token.subject,
            &token.client_id,
            audience,
            token.scope.clone(),
            iat,
            exp - iat,
        );
        claims.extra = self.user_claims(&token.subject);
        claims.extra.extend(token.extra_claims.clone());
        if has(Defect::NotYetValid) {
            claims.extra.insert("nbf".to_owned(), iat.into());
        }
        if has(Defect::WrongIssuer) {
            claims.iss = WRONG_ISSUER.to_owned();
        }
        let typ = if has(Defect::WrongType) {
            WRONG_TYPE
        } else {
            access_token::TYP
        };
        let keys = self.keys.current();
        let hs256 = token.defects.iter().find_map(|defect| match defect {
            Defect::Hs256PublicKey(form) => Some(*form),
            _ => None,
        });
        let mut signed = if has(Defect::UnknownKey) {
            let (stranger, _): (SigningKey, String) = generate_off_thread().await?;
            stranger.sign(typ, &claims)?
        } else if has(Defect::AlgNone) {
            forge::unsigned(typ, keys.active.kid(), &claims)?
        } else if let Some(form) = hs256 {
            let secret = keys.active.public_key_bytes(form)?;
            forge::hs256(&secret, typ, keys.active.kid(), &claims)?
        } else {
            keys.active.sign(typ, &claims)?
        };
        if has(Defect::TamperedSignature) {
            signed = forge::tamper(&signed).ok_or(KeyError::Sign)?;
        }
        store
            .insert_access_token(&NewAccessToken::of(&claims), None, iat.min(now))
            .await?;
        Ok(Minted {
            token: signed,
            jti: claims.jti,
        })
    }

    fn user_claims(&self, subject: &str) -> serde_json::Map<String, serde_json::Value> {
        self.users
            .get(subject)
            .map(|user| user.claims.clone())
            .unwrap_or_default()
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
