//! Black-box tests of Tollgate over real HTTP on loopback, each against its own server and
//! database. Test names and comments cite the rows of
//! `../shared/reference/mcp-auth-checklist.md` they prove (MD-, AZ-, TK-, DCR-, SEC-).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod at_rest;
mod authorize;
mod cimd;
mod cli;
mod client_credentials;
mod client_management;
mod concurrency;
mod declarations;
mod device;
mod discovery;
mod grants_robustness;
mod id_jag;
mod instances;
mod keys;
mod logs;
mod openid;
mod registration;
mod restart;
mod revocation;
mod robustness;
mod scripts;
mod store;
mod store_devices;
mod token;
mod token_exchange;
