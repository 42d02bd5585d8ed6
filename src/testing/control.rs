//! The control operations on a [`TestServer`] (issue 14): the same ones as the control API
//! at `{issuer}/_tollgate/api/` and `tollgate ctl`, called in process.
//!
//! ```no_run
//! # async fn example(server: tollgate::testing::TestServer) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tollgate::testing::{FaultSpec, TokenOwner};
//!
//! server.add_fault(&FaultSpec {
//!     endpoint: "token".into(),
//!     status: Some(503),
//!     times: Some(1),
//!     ..FaultSpec::default()
//! })?;
//! server.advance_clock(Duration::from_secs(600));
//! server.revoke_tokens(&TokenOwner::User("alice".into())).await?;
//! # Ok(()) }
//! ```

use super::TestServer;
use crate::config::FaultSpec;
use crate::services::control::Rotated;
use crate::services::faults::{FaultStatus, Refused};
use crate::services::signing_keys::SigningKeyError;
use crate::store::{Removed, StoreError, TokenOwner, TokensChanged};
use std::time::Duration;

impl TestServer {
    /// The server's time, in seconds since the epoch: its clock, moved by
    /// [`TestServer::advance_clock`].
    pub fn now(&self) -> i64 {
        self.app.now()
    }

    /// Moves the server's clock forward: codes, tokens, consent forms and cached metadata
    /// documents expire as if the time had passed, and new tokens carry the moved time.
    /// Returns the server's new time.
    pub fn advance_clock(&self, by: Duration) -> i64 {
        self.app.control().advance(by).now
    }

    /// Revokes every token of a client, a user or a flow.
    pub async fn revoke_tokens(&self, owner: &TokenOwner) -> Result<TokensChanged, StoreError> {
        self.app.control().revoke(owner).await
    }

    /// Makes every token of a client, a user or a flow expire now.
    pub async fn expire_tokens(&self, owner: &TokenOwner) -> Result<TokensChanged, StoreError> {
        self.app.control().expire(owner).await
    }

    /// Makes a new signing key and signs with it from now on; the previous one stays in
    /// the JWKS for its grace period.
    pub async fn rotate_signing_key(&self) -> Result<Rotated, SigningKeyError> {
        self.app.control().rotate_key().await
    }

    /// Back to the declared configuration: registered clients, grants, tokens and events
    /// removed, declared faults back, the clock back to its base.
    pub async fn reset(&self) -> Result<Removed, StoreError> {
        self.app.control().reset().await
    }

    /// Adds a fault, in the shape of `[[faults]]`; returns it with its name.
    pub fn add_fault(&self, fault: &FaultSpec) -> Result<FaultStatus, Refused> {
        self.app.control().add_fault(fault)
    }

    /// The faults in force, with how often each matched and fired.
    pub fn faults(&self) -> Vec<FaultStatus> {
        self.app.control().faults()
    }

    /// Removes the fault called `name`; whether there was one.
    pub fn remove_fault(&self, name: &str) -> bool {
        self.app.control().remove_fault(name)
    }

    /// Removes every fault; returns how many there were.
    pub fn clear_faults(&self) -> usize {
        self.app.control().clear_faults()
    }
}
