//! Tollgate: a small, strict OAuth 2.1 authorization server for developing and testing MCP
//! servers and clients.
//!
//! A tour, from the outside in (`ARCHITECTURE.md` has the rules and a request traced
//! through them):
//!
//! - [`cli`] parses the command line and [`config`] layers defaults, a TOML file,
//!   `TOLLGATE_*` variables and flags into one [`config::Config`].
//! - [`server::Server`] binds the listener first (so port 0 works), migrates the database,
//!   loads the signing keys and serves [`http::router`].
//! - [`http`] is the HTTP surface, one module per endpoint family. Handlers are thin: they
//!   extract, apply the rules and call the services in [`state::App`].
//! - [`services`] each own one concern that needs state or IO: the token issuer, client
//!   resolution, metadata documents, declared clients, signing keys in the database.
//! - [`oauth`] holds the protocol: domain types and the rules as functions on them, with
//!   unit tests, free of IO.
//! - [`store`] is the only place with SQL, one [`store::Store`] over SQLite or PostgreSQL.
//! - [`keys`] holds the RSA signing keys, the JWKS and JWT signing.
//! - `testing` (feature `testing`) starts an in-process server for other crates' tests.

pub mod allocator;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod keys;
pub mod oauth;
pub mod secret;
pub mod server;
pub mod services;
pub mod state;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::Config;
pub use server::{Launch, Server, StartError};
