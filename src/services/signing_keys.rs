//! The signing keys as the database keeps them: the first key made on the first start,
//! rotations (by `tollgate keys rotate`, `keys.rotate_every` or another instance) picked up
//! by re-reading, retired keys published for their grace period and then dropped.

use crate::keys::{KeyError, KeyRecord, KeyRing, KeySet, generate_off_thread};
use crate::oauth::event::{Event, EventType};
use crate::store::{Store, StoreError, StoredKey};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads the keys from the database, generating and storing the first key when there is
/// none. Several instances starting at once on one database end up with the same key.
/// Retired keys are published for `grace` after their retirement.
pub async fn load_or_create(
    store: &Store,
    now: i64,
    grace: Duration,
) -> Result<KeyRing, SigningKeyError> {
    let retired_since = now - seconds(grace);
    let mut stored = store.published_keys(retired_since).await?;
    if !stored.iter().any(|k| k.active) {
        let (key, pem) = generate_off_thread().await?;
        if store.insert_first_active_key(key.kid(), &pem, now).await? {
            tracing::info!(kid = key.kid(), "generated the first signing key");
        }
        stored = store.published_keys(retired_since).await?;
    }
    Ok(KeyRing::new(key_set(&stored)?))
}

/// Re-reads the keys, to pick up a rotation made elsewhere and to drop retired keys whose
/// grace period ended. Keeps the current set when nothing changed.
pub async fn reload(
    ring: &KeyRing,
    store: &Store,
    now: i64,
    grace: Duration,
) -> Result<(), SigningKeyError> {
    let stored = store.published_keys(now - seconds(grace)).await?;
    let current = ring.current();
    let unchanged = stored.len() == current.published.len()
        && stored
            .iter()
            .zip(&current.published)
            .all(|(s, p)| s.kid == p.kid)
        && stored
            .iter()
            .any(|s| s.active && s.kid == current.active.kid());
    if unchanged {
        return Ok(());
    }
    let set = key_set(&stored)?;
    tracing::info!(
        active = set.active.kid(),
        published = set.published.len(),
        "signing keys changed"
    );
    ring.replace(set);
    Ok(())
}

/// Makes a new active key and retires the ring's current one, which stays published for the
/// grace period. Returns the new key id, or `None` if another instance rotated first. Call
/// [`reload`] afterwards to start signing with it.
pub async fn rotate(
    ring: &KeyRing,
    store: &Store,
    now: i64,
) -> Result<Option<String>, SigningKeyError> {
    let current = ring.current();
    let (key, pem) = generate_off_thread().await?;
    let rotated = store
        .rotate_signing_key(current.active.kid(), key.kid(), &pem, now)
        .await?;
    Ok(rotated.then(|| key.kid().to_owned()))
}

/// The event of a rotation from `previous` to `kid`, made by `by` (for the event log).
pub fn rotation_event(previous: &str, kid: &str, by: &str, time_ms: i64) -> Event {
    let mut event = Event::new(EventType::KeyRotation, time_ms);
    event.endpoint = Some("jwks".to_owned());
    event.description = Some(format!(
        "the signing key {previous} was retired and {kid} became the active key ({by}); the \
         retired key stays in the JWKS for its grace period"
    ));
    event.detail("kid", kid);
    event.detail("previous_kid", previous);
    event
}

fn key_set(stored: &[StoredKey]) -> Result<KeySet, KeyError> {
    KeySet::from_records(stored.iter().map(|key| KeyRecord {
        kid: &key.kid,
        private_key_pem: &key.private_key_pem,
        active: key.active,
        created_at: key.created_at,
    }))
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
