//! The services between the HTTP surface and the protocol rules: each owns one concern that
//! needs state or IO (the store, the keys, the network, time) and applies the rules of
//! [`crate::oauth`] to it. Handlers and commands call these; these never call up into
//! `http` or `cli`.

pub mod check;
pub mod cimd;
pub mod client_assertion;
pub mod client_keys;
pub mod clients;
pub mod control;
pub mod declarations;
pub mod events;
pub mod faults;
pub mod presented_token;
pub mod signing_keys;
pub mod sweeper;
pub mod throttle;
pub mod tokens;
pub mod trusted_issuers;
pub mod users;
pub mod wal_checkpointer;
