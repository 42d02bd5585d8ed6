//! Black-box tests of Tollgate over real HTTP on loopback, each against its own server and
//! database. Test names and comments cite the rows of
//! `../shared/reference/mcp-auth-checklist.md` they prove (MD-, AZ-, TK-, DCR-, SEC-).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod argon2_bounds;
mod at_rest;
mod authorize;
mod check;
mod cimd;
mod cli;
mod client_credentials;
mod client_management;
mod client_payloads;
mod concurrency;
mod connections;
mod console;
mod control;
mod control_access;
mod ctl;
mod declarations;
mod device;
mod discovery;
mod events;
mod fault_schedules;
mod faults;
mod grants_robustness;
mod hints;
mod id_jag;
mod instances;
mod keys;
mod lies;
mod logs;
mod native_redirects;
mod openid;
mod outage;
mod pages;
mod private_key_jwt;
mod redirect_destinations;
mod refresh_races;
mod registration;
mod restart;
mod revocation;
mod robustness;
mod scopes;
mod scripts;
mod store;
mod store_devices;
mod sweeper;
mod tenants;
mod token;
mod token_exchange;
