//! Authenticating a `private_key_jwt` client (RFC 7523 §2.2 and §3, OpenID Connect Core
//! §9): the algorithm, the signature with the client's keys, the claims, and that the
//! `jti` was never used before, on any instance sharing the database (`used_jtis`).

use super::client_keys::ClientKeys;
use super::events;
use crate::keys::client::{SignatureError, verify};
use crate::oauth::client::Client;
use crate::oauth::client_assertion::{Accepted, Assertion, bad_signature, replayed};
use crate::oauth::error::OAuthError;
use crate::store::{Store, StoreError};

/// Why an assertion does not authenticate its client.
#[derive(Debug)]
pub enum AssertionError {
    /// It fails a check; the error says which.
    Refused(OAuthError),
    Store(StoreError),
}

impl From<OAuthError> for AssertionError {
    fn from(error: OAuthError) -> Self {
        AssertionError::Refused(error)
    }
}

impl From<StoreError> for AssertionError {
    fn from(error: StoreError) -> Self {
        AssertionError::Store(error)
    }
}

/// Verifies `assertion` as `client`'s authentication for a request to a server that goes
/// by any of `audiences`, at `now`, and spends its `jti`.
pub async fn authenticate(
    keys: &ClientKeys,
    store: &Store,
    client: &Client,
    assertion: &Assertion,
    audiences: &[&str],
    now: i64,
) -> Result<Accepted, AssertionError> {
    events::detail("assertion_alg", assertion.alg.as_str());
    if let Some(kid) = &assertion.kid {
        events::detail("assertion_kid", kid.as_str());
    }
    assertion.check_algorithm(client.metadata.token_endpoint_auth_signing_alg.as_deref())?;
    let unreadable =
        |why: String| bad_signature(format!("the client's keys cannot be used: {why}"));
    let set = keys
        .of(&client.metadata, now, false)
        .await
        .map_err(unreadable)?;
    let checked = verify(
        &assertion.token,
        &assertion.alg,
        assertion.kid.as_deref(),
        &set.jwks,
    );
    let checked = match checked {
        // Keys from jwks_uri may have been rotated since they were cached.
        Err(SignatureError::NoKey(_)) if !set.fetched && client.metadata.jwks_uri.is_some() => {
            let set = keys
                .of(&client.metadata, now, true)
                .await
                .map_err(unreadable)?;
            verify(
                &assertion.token,
                &assertion.alg,
                assertion.kid.as_deref(),
                &set.jwks,
            )
        }
        other => other,
    };
    checked.map_err(|error| bad_signature(error.to_string()))?;
    let accepted = assertion.check_claims(&client.client_id, audiences, now)?;
    events::detail("assertion_jti", accepted.jti.as_str());
    // Last, so that an assertion refused for anything else does not spend its jti.
    if !store
        .first_use_of_jti(&client.client_id, &accepted.jti, accepted.expires_at)
        .await?
    {
        return Err(replayed(&accepted.jti).into());
    }
    Ok(accepted)
}
