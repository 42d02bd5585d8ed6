//! The control operations (issue 14), one implementation for the control API
//! (`{issuer}/_tollgate/api/`), `tollgate ctl` (which calls the API) and the test fixture:
//! move the server's clock forward, revoke or expire the tokens of a client, a user or a
//! flow, rotate the signing key, reset to the declared configuration, and manage the faults
//! in force. Each operation is recorded in the event log as a `control` event.

use super::clients::Clients;
use super::events::EventLog;
use super::faults::{FaultStatus, FaultTable, Refused};
use super::signing_keys::{self, SigningKeyError};
use crate::clock::{Clock, ServerClock};
use crate::config::FaultSpec;
use crate::config::duration;
use crate::keys::KeyRing;
use crate::oauth::event::{Event, EventType};
use crate::store::{Removed, Store, StoreError, TokenOwner, TokensChanged};
use serde_json::{Value, json};
use std::time::Duration;

/// The parts of a server the control operations act on.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    pub store: &'a Store,
    pub keys: &'a KeyRing,
    pub clock: &'a ServerClock,
    pub faults: &'a FaultTable,
    pub events: &'a EventLog,
    pub clients: &'a Clients,
    /// How long a retired key stays published (`Config::key_grace_period`).
    pub key_grace: Duration,
}

/// The clock as the control API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// The server's time, in seconds since the epoch.
    pub now: i64,
    /// How far it was moved ahead of the real time.
    pub offset: Duration,
}

impl ClockState {
    pub fn to_json(self) -> Value {
        json!({
            "now": self.now,
            "offset": duration::format(&self.offset),
            "offset_seconds": self.offset.as_secs(),
        })
    }
}

/// The result of a key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub kid: String,
    pub previous_kid: String,
}

impl Control<'_> {
    pub fn clock(&self) -> ClockState {
        ClockState {
            now: self.clock.now(),
            offset: self.clock.offset(),
        }
    }

    /// Moves the server's clock forward by `by`.
    pub fn advance(&self, by: Duration) -> ClockState {
        self.clock.advance(by);
        let state = self.clock();
        self.record(
            "clock.advance",
            format!(
                "the server's clock was moved forward by {}; it is now {} ahead",
                duration::format(&by),
                duration::format(&state.offset)
            ),
            json!({"by": duration::format(&by), "offset": duration::format(&state.offset)}),
        );
        state
    }

    /// Revokes every token of `owner` now.
    pub async fn revoke(&self, owner: &TokenOwner) -> Result<TokensChanged, StoreError> {
        let changed = self.store.revoke_tokens_of(owner, self.clock.now()).await?;
        self.record_for(
            Some(owner),
            "tokens.revoke",
            format!(
                "revoked the tokens of {}: {} grants (with their codes and refresh tokens) \
                 and {} access tokens",
                describe(owner),
                changed.grants,
                changed.access_tokens
            ),
            owner_json(owner, changed),
        );
        Ok(changed)
    }

    /// Makes every token of `owner` expire now.
    pub async fn expire(&self, owner: &TokenOwner) -> Result<TokensChanged, StoreError> {
        let changed = self.store.expire_tokens_of(owner, self.clock.now()).await?;
        self.record_for(
            Some(owner),
            "tokens.expire",
            format!(
                "expired the tokens of {}: {} codes, {} refresh tokens and {} access tokens",
                describe(owner),
                changed.codes,
                changed.refresh_tokens,
                changed.access_tokens
            ),
            owner_json(owner, changed),
        );
        Ok(changed)
    }

    /// Makes a new signing key and signs with it from now on; the previous key stays in
    /// the JWKS for its grace period.
    pub async fn rotate_key(&self) -> Result<Rotated, SigningKeyError> {
        let previous_kid = self.keys.current().active.kid().to_owned();
        let now = self.clock.now();
        signing_keys::rotate(self.keys, self.store, now).await?;
        signing_keys::reload(self.keys, self.store, now, self.key_grace).await?;
        let kid = self.keys.current().active.kid().to_owned();
        tracing::info!(%kid, "rotated the signing key (control API)");
        self.events.record(signing_keys::rotation_event(
            &previous_kid,
            &kid,
            "control API",
            self.events.now_ms(),
        ));
        Ok(Rotated { kid, previous_kid })
    }

    /// Back to the declared configuration: clients other than the declared ones, grants,
    /// tokens, pending consents and events removed; the declared faults back with their
    /// counts at zero; the clock back to the real time; cached metadata documents dropped.
    pub async fn reset(&self) -> Result<Removed, StoreError> {
        // Events recorded before the reset go with it.
        self.events.flush().await;
        let removed = self.store.reset_to_declared().await?;
        self.faults.reset();
        self.clock.reset();
        self.clients.forget_documents();
        tracing::info!(
            clients = removed.clients,
            grants = removed.grants,
            events = removed.events,
            "reset to the declared configuration (control API)"
        );
        self.record(
            "reset",
            format!(
                "reset to the declared configuration: removed {} clients, {} grants, {} \
                 access tokens and {} events; declared faults restored; clock back to the \
                 real time",
                removed.clients, removed.grants, removed.access_tokens, removed.events
            ),
            json!({
                "clients": removed.clients,
                "grants": removed.grants,
                "access_tokens": removed.access_tokens,
                "events": removed.events,
            }),
        );
        Ok(removed)
    }

    pub fn faults(&self) -> Vec<FaultStatus> {
        self.faults.list()
    }

    pub fn add_fault(&self, spec: &FaultSpec) -> Result<FaultStatus, Refused> {
        let added = self.faults.add(spec)?;
        self.record(
            "faults.add",
            format!(
                "fault '{}' added: {}",
                added.fault.name,
                added.fault.action()
            ),
            added.to_json(),
        );
        Ok(added)
    }

    /// Removes the fault called `name`; whether there was one.
    pub fn remove_fault(&self, name: &str) -> bool {
        let removed = self.faults.remove(name);
        if removed {
            self.record(
                "faults.remove",
                format!("fault '{name}' removed"),
                json!({"name": name}),
            );
        }
        removed
    }

    /// Removes every fault; returns how many there were.
    pub fn clear_faults(&self) -> usize {
        let count = self.faults.clear();
        self.record(
            "faults.clear",
            format!("{count} faults removed"),
            json!({"removed": count}),
        );
        count
    }

    fn record(&self, operation: &str, description: String, details: Value) {
        self.record_for(None, operation, description, details);
    }

    fn record_for(
        &self,
        owner: Option<&TokenOwner>,
        operation: &str,
        description: String,
        details: Value,
    ) {
        let mut event = Event::new(EventType::Control, self.events.now_ms());
        match owner {
            Some(TokenOwner::Client(id)) => event.client_id = Some(id.clone()),
            Some(TokenOwner::User(subject)) => event.user = Some(subject.clone()),
            Some(TokenOwner::Flow(flow)) => event.flow = Some(flow.clone()),
            None => {}
        }
        event.description = Some(description);
        event.detail("operation", operation);
        if let Value::Object(details) = details {
            for (name, value) in details {
                event.detail(&name, value);
            }
        }
        self.events.record(event);
    }
}

fn describe(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::Client(id) => format!("client '{id}'"),
        TokenOwner::User(subject) => format!("user '{subject}'"),
        TokenOwner::Flow(flow) => format!("flow {flow}"),
    }
}

/// The owner and what changed, as the API answers and the event records.
pub fn owner_json(owner: &TokenOwner, changed: TokensChanged) -> Value {
    let (kind, id) = match owner {
        TokenOwner::Client(id) => ("client_id", id),
        TokenOwner::User(subject) => ("user", subject),
        TokenOwner::Flow(flow) => ("flow", flow),
    };
    json!({
        kind: id,
        "grants": changed.grants,
        "codes": changed.codes,
        "refresh_tokens": changed.refresh_tokens,
        "access_tokens": changed.access_tokens,
    })
}
