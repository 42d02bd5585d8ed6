//! Endpoint paths, relative to the issuer's path. The router mounts exactly these and the
//! metadata document advertises exactly these, so the two cannot drift apart.

pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const REGISTER: &str = "/register";
/// RFC 7592 client configuration endpoint; the `registration_client_uri` of each client.
pub const CLIENT_CONFIGURATION: &str = "/register/{client_id}";
pub const JWKS: &str = "/jwks.json";
pub const REVOKE: &str = "/revoke";
pub const INTROSPECT: &str = "/introspect";
/// RFC 8628 §3.1 device authorization endpoint.
pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
/// RFC 8628 §3.3 verification page (`verification_uri`): short, for typing.
pub const DEVICE: &str = "/device";

/// The developer console and the events API (Tollgate's own, not OAuth).
pub const CONSOLE: &str = "/_tollgate";
/// The control API (issue 14): the clock, tokens, keys, reset and faults.
pub const CONTROL: &str = "/_tollgate/api";

/// RFC 8414 §3 well-known suffix.
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery §4 well-known suffix.
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The health check (`http::HEALTH`), at the host root whatever the issuer's path.
pub const HEALTH: &str = "/healthz";
