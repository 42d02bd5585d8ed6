//! `grant_type=refresh_token` (OAuth 2.1 §4.3; checklist TK-16..TK-18): every use rotates
//! the token; using a rotated token again revokes the whole grant, or, with
//! `refresh.reuse = "grace"` and within the grace period, gets the answer the first use
//! got; scope and resources can only narrow. A second use names both requests and the time
//! between them, in the log and the event log.

use super::revoked_family;
use crate::clock::Clock;
use crate::config::faults::{Effect, FaultEndpoint, Lie};
use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::event::{EventType, Outcome};
use crate::oauth::grant::{
    RefreshGrant, Refusal, Reuse, Successor, reused_refresh_token, still_allowed,
    still_allowed_for_user,
};
use crate::oauth::grant_type::GrantType;
use crate::oauth::hints;
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::scope::Scope;
use crate::oauth::token_response::TokenResponse;
use crate::secret::{open_with, seal_for, token_digest};
use crate::services::events;
use crate::services::faults::Facts;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;
use crate::store::{Rotation, Spent};

/// What the answer to a refresh is sealed for: a second use of the same refresh token.
const SUCCESSOR_PURPOSE: &str = "tollgate refresh successor v1";

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let presented = params.require("refresh_token")?;
    let token_digest = token_digest(presented);
    let Some(grant) = app.store.refresh_grant(&token_digest).await? else {
        return Err(
            OAuthError::invalid_grant("the refresh token is not one this server issued").into(),
        );
    };
    if let Some(flow) = &grant.flow_id {
        events::set_flow(flow);
    }
    events::set_user(&grant.subject);
    let now = app.now();
    let use_ = Use {
        presented,
        token_digest: &token_digest,
        now,
        now_ms: app.clock.now_millis(),
        // Events off: the request still needs a name for the log.
        request_id: events::request_id().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    };
    match grant.check_use(&client.client_id, now) {
        Ok(()) => {}
        Err(Refusal::Refuse(error)) => return Err(error.into()),
        Err(Refusal::RevokeFamily(error)) => {
            return used_again(app, client, &grant, &use_, error).await;
        }
    }
    let (scope, explicit) = grant.requested_scope(Scope::parse(params.get("scope")?)?)?;
    let audience = resource::narrow(params.all("resource")?, &grant.resources)?;
    // The configuration may have changed since consent: the user may be gone, and the
    // resources or the client's allowed scopes may offer less.
    if app.user(&grant.subject).is_none() {
        app.store.revoke_grant(&grant.grant_id, now).await?;
        revoked_family(&grant.grant_id, "its user no longer exists");
        return Err(OAuthError::invalid_grant(format!(
            "user '{}' no longer exists on this server, so the grant made in their name has \
             been revoked",
            grant.subject
        ))
        .into());
    }
    resource::resolve_requested(
        audience.iter().map(String::as_str),
        &app.config.resources,
        &app.default_audience,
    )?;
    let scope = still_allowed(
        scope,
        explicit,
        &audience,
        &app.config.resources,
        &client.policy.allowed_scopes,
    )?;
    let policy = app.user(&grant.subject).and_then(|u| u.scopes.as_deref());
    let scope = still_allowed_for_user(&grant.subject, scope, explicit, policy)?;
    // A server that does not rotate (issue 14): the token presented stays valid and comes
    // back; only the new access token is recorded.
    let not_rotated = app.faults.fire(
        FaultEndpoint::Token,
        Facts {
            grant_type: Some(GrantType::RefreshToken.as_str()),
            client_id: Some(&client.client_id),
        },
        |effect| *effect == Effect::Lie(Lie::RefreshNotRotated),
    );
    let mut issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::RefreshToken,
            client_id: &client.client_id,
            subject: Subject::User(&grant.subject),
            scope: &scope,
            audience,
            with_refresh_token: true,
            act: None,
        },
        now,
    )?;
    if not_rotated.is_some() {
        app.store
            .insert_access_token(&issued.records.access, Some(&grant.grant_id), now)
            .await?;
        issued.records.refresh = None;
        issued.response.refresh_token = Some(params.require("refresh_token")?.to_owned());
        issued.record();
        return Ok(issued.response);
    }
    let grace = app.config.refresh.grace();
    // Grace mode: the answer is kept, sealed with the spent token, for a second use.
    let sealed = match grace {
        Some(_) => {
            let successor = Successor::of(&issued.response, issued.records.access.expires_at);
            serde_json::to_vec(&successor)
                .ok()
                .and_then(|plain| seal_for(presented, SUCCESSOR_PURPOSE, &plain))
        }
        None => None,
    };
    let kept_until = grace.map_or(now, |grace| {
        now.saturating_add(i64::try_from(grace.as_secs()).unwrap_or(i64::MAX))
            .saturating_add(1)
    });
    let rotation = Rotation {
        now_ms: use_.now_ms,
        request_id: &use_.request_id,
        successor: sealed.as_deref().map(|sealed| (sealed, kept_until)),
        revoke_on_replay: grace.is_none(),
    };
    match app
        .store
        .rotate_refresh_token(
            &token_digest,
            &grant.grant_id,
            now,
            &issued.records,
            &rotation,
        )
        .await?
    {
        Spent::Issued => {
            issued.record();
            Ok(issued.response)
        }
        Spent::Replayed => {
            // Another request spent it between this one's checks and its write: the two
            // came at once. The row now says which request won, and when.
            let winner = app.store.refresh_grant(&token_digest).await?;
            let winner = winner.as_ref().unwrap_or(&grant);
            used_again(app, client, winner, &use_, reused_refresh_token()).await
        }
        Spent::NoLongerValid => Err(OAuthError::invalid_grant(
            "the refresh token expired or was revoked while it was being used",
        )
        .into()),
    }
}

/// This request's use of a refresh token.
struct Use<'a> {
    presented: &'a str,
    token_digest: &'a str,
    now: i64,
    now_ms: i64,
    /// The event id that names this request.
    request_id: String,
}

/// A refresh token used a second time. Within the grace period (`refresh.reuse =
/// "grace"`), the answer the first use got, if it is still kept; otherwise the grant and
/// every token of it are revoked (OAuth 2.1 §4.3.1). Either way the log names both
/// requests and the time between them.
async fn used_again(
    app: &App,
    client: &Client,
    grant: &RefreshGrant,
    use_: &Use<'_>,
    error: OAuthError,
) -> Result<TokenResponse, ApiError> {
    let reuse = grant.reuse(use_.now_ms).unwrap_or(Reuse {
        first_request: None,
        gap_ms: 0,
    });
    let grace = app.config.refresh.grace();
    if reuse.within(grace) {
        let successor = app
            .store
            .refresh_successor(use_.token_digest, use_.now)
            .await?
            .and_then(|sealed| open_with(use_.presented, SUCCESSOR_PURPOSE, &sealed))
            .and_then(|plain| serde_json::from_slice::<Successor>(&plain).ok());
        if let Some(successor) = successor {
            tracing::info!(
                client_id = %client.client_id,
                first_request = reuse.first_request_name(),
                second_request = %use_.request_id,
                gap_ms = reuse.gap_ms,
                "refresh token used twice within refresh.grace_period; answered with the \
                 first use's tokens"
            );
            record_reuse(&reuse, use_, grace, None);
            return Ok(successor.response(use_.now));
        }
    }
    app.store.revoke_grant(&grant.grant_id, use_.now).await?;
    tracing::warn!(
        client_id = %client.client_id,
        first_request = reuse.first_request_name(),
        second_request = %use_.request_id,
        gap_ms = reuse.gap_ms,
        "refresh token reused; grant revoked"
    );
    let error = error.hint(Some(hints::refresh_reuse(
        reuse.first_request_name(),
        use_.now_ms - reuse.gap_ms,
        reuse.gap_ms,
        grace,
    )));
    record_reuse(&reuse, use_, grace, Some(&error));
    revoked_family(&grant.grant_id, "the refresh token was used again");
    Err(error.into())
}

/// The event of a second use: both requests, the gap, and what the server did.
fn record_reuse(
    reuse: &Reuse,
    use_: &Use<'_>,
    grace: Option<std::time::Duration>,
    refusal: Option<&OAuthError>,
) {
    events::step(EventType::Replay, |event| {
        let gap = hints::span_ms(reuse.gap_ms);
        let first = reuse.first_request_name();
        match refusal {
            None => {
                event.outcome = Outcome::Ok;
                event.description = Some(format!(
                    "the refresh token was used again {gap} after request {first} used it, \
                     within refresh.grace_period: request {} got the same access and refresh \
                     token as the first",
                    use_.request_id
                ));
            }
            Some(error) => {
                event.reject(error);
                event.description = Some(format!(
                    "the refresh token was used again {gap} after request {first} used it; \
                     request {} was refused and the grant revoked (refresh.reuse is {})",
                    use_.request_id,
                    if grace.is_some() {
                        "\"grace\", and this was after the grace period"
                    } else {
                        "\"strict\""
                    }
                ));
            }
        }
        event.detail("credential", "refresh_token");
        event.detail("first_request", reuse.first_request.as_deref());
        event.detail("second_request", use_.request_id.as_str());
        event.detail("gap_ms", reuse.gap_ms);
        event.detail("reuse", if grace.is_some() { "grace" } else { "strict" });
        if let Some(grace) = grace {
            event.detail(
                "grace_period_ms",
                i64::try_from(grace.as_millis()).unwrap_or(i64::MAX),
            );
        }
    });
}
