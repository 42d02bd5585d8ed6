//! The protocol rules, free of HTTP and storage: each type or function here implements one
//! rule of the RFCs or the MCP specification and is unit-tested beside it.

pub mod access_token;
pub mod authorize;

pub mod client;
pub mod client_assertion;
pub mod consent;
pub mod device;
pub mod endpoints;
pub mod error;
pub mod event;
pub mod exchange;
pub mod grant;
pub mod grant_type;
pub mod hints;
pub mod id_jag;
pub mod id_token;
pub mod issuer;
pub mod metadata;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod resource;
pub mod rules;
pub mod scope;
pub mod token_response;
pub mod www_authenticate;
