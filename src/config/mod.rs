//! Configuration: built-in defaults, then a TOML file (`--config`), then `TOLLGATE_*`
//! environment variables, then command-line flags, each layer overriding the one before.

pub mod check;
pub mod declarations;
pub mod duration;
pub mod faults;
pub mod grants;
pub mod tenants;
pub mod validate;

pub use crate::oauth::consent::{ConsentMode, DEFAULT_USER};
pub use declarations::{ConsentConfig, DeclaredClient, User};
pub use faults::FaultSpec;
pub use grants::{DeviceConfig, IdJagConfig};
pub use tenants::{TenantConfig, TenantId, UnknownTenant};

use crate::oauth::exchange::ExchangeRule;
pub use crate::oauth::grant::RefreshReuse;
use crate::oauth::redirect_uri::RedirectSchemes;
use crate::oauth::resource::Resource;
use crate::secret::Secret;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier, exactly as clients will see it. When unset, it is
    /// `http://` plus the address the server bound.
    pub issuer: Option<String>,
    /// Allows an `http` issuer on a non-loopback host (a private demo network only).
    pub allow_insecure_issuer: bool,
    pub bind: SocketAddr,
    pub database_url: String,
    #[serde(with = "duration")]
    pub access_token_ttl: Duration,
    #[serde(with = "duration")]
    pub refresh_token_ttl: Duration,
    /// What a second use of a rotated refresh token does.
    pub refresh: RefreshConfig,
    /// Users who can approve on the consent page, in addition to `dev`.
    #[serde(deserialize_with = "declarations::string_or_table_list")]
    pub users: Vec<User>,
    /// Clients with fixed ids and secrets, written to the database at start-up.
    pub clients: Vec<DeclaredClient>,
    /// The MCP servers tokens may be issued for. Empty: any absolute URI (a dev default).
    #[serde(deserialize_with = "declarations::string_or_table_list")]
    pub resources: Vec<Resource>,
    pub consent: ConsentConfig,
    pub registration: RegistrationConfig,
    /// Failed client authentications allowed per client per minute before further attempts
    /// are refused with 429 (0: no limit).
    pub client_auth_failures_per_minute: u32,
    pub keys: KeysConfig,
    /// Client ID Metadata Documents: URL client ids (MCP's recommended registration).
    pub cimd: CimdConfig,
    /// The event log.
    pub events: EventsConfig,
    /// The developer console at `/_tollgate/`.
    pub console: ConsoleConfig,
    /// The device authorization grant (RFC 8628).
    pub device: DeviceConfig,
    /// Who may exchange which tokens for which (RFC 8693).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_exchange: Vec<ExchangeRule>,
    /// Identity assertions (ID-JAG): issued as an IdP, accepted from trusted IdPs.
    pub id_jag: IdJagConfig,
    /// The control API at `/_tollgate/api/`: move the clock, revoke, rotate, reset, faults.
    pub control: ControlConfig,
    /// Failures to inject (`[[faults]]`), for testing clients.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// What one source may make the server store or hold (README "Limits").
    pub limits: LimitsConfig,
    /// The background deletion of expired rows.
    pub sweep: SweepConfig,
    /// More issuers served by this process (`[[tenants]]`, `tenants.rs`), each with its own
    /// users, clients, keys and store.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantConfig>,
    /// Set on the effective configuration of a tenant (`Config::tenant`); `None` for the
    /// default tenant. Never read from a file.
    #[serde(skip)]
    pub tenant: Option<TenantId>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: None,
            allow_insecure_issuer: false,
            bind: SocketAddr::from(([127, 0, 0, 1], 9000)),
            database_url: "sqlite://tollgate.db".to_owned(),
            access_token_ttl: Duration::from_secs(5 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh: RefreshConfig::default(),
            users: Vec::new(),
            clients: Vec::new(),
            resources: Vec::new(),
            consent: ConsentConfig::default(),
            registration: RegistrationConfig::default(),
            client_auth_failures_per_minute: 10,
            keys: KeysConfig::default(),
            cimd: CimdConfig::default(),
            events: EventsConfig::default(),
            console: ConsoleConfig::default(),
            device: DeviceConfig::default(),
            token_exchange: Vec::new(),
            id_jag: IdJagConfig::default(),
            control: ControlConfig::default(),
            faults: Vec::new(),
            limits: LimitsConfig::default(),
            sweep: SweepConfig::default(),
            tenants: Vec::new(),
            tenant: None,
        }
    }
}

impl Config {
    /// Layers built-in defaults < the TOML `file` < `TOLLGATE_*` environment variables <
    /// `flags` (any serialisable value with the keys of the settings it overrides). Lists
    /// given as flags (users, resources) add to those of the file and the environment.
    pub fn load(
        file: Option<&Path>,
        flags: &impl Serialize,
    ) -> Result<Config, Box<figment::Error>> {
        Self::layers(
            Figment::from(Serialized::defaults(Config::default())),
            file,
            flags,
        )
        .extract()
        .map_err(Box::new)
    }

    /// Whether the file, the environment or the flags set `key` (a top-level setting), as
    /// opposed to leaving it at its default.
    pub fn is_given(file: Option<&Path>, flags: &impl Serialize, key: &str) -> bool {
        Self::layers(Figment::new(), file, flags).contains(key)
    }

    fn layers(mut figment: Figment, file: Option<&Path>, flags: &impl Serialize) -> Figment {
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Nested settings use a double underscore: TOLLGATE_CONSENT__MODE=auto. Other
        // TOLLGATE_* variables (TOLLGATE_CONFIG, test settings) are not settings.
        let env = Env::prefixed("TOLLGATE_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            Config::KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
        });
        figment.merge(env).admerge(Serialized::defaults(flags))
    }

    /// The configuration of a file (with the environment's overrides), as
    /// `tollgate serve --config FILE` would read it.
    pub fn from_file(path: &Path) -> Result<Config, Box<figment::Error>> {
        Config::load(Some(path), &serde_json::Map::new())
    }

    /// Every user who can sign in: `dev` first, then the configured ones.
    pub fn all_users(&self) -> Vec<User> {
        let mut users = vec![User::named(DEFAULT_USER)];
        for user in &self.users {
            if !users.iter().any(|u| u.subject == user.subject) {
                users.push(user.clone());
            }
        }
        users
    }

    /// The configuration keys, for picking `TOLLGATE_*` variables out of the environment.
    pub const KEYS: [&'static str; 25] = [
        "issuer",
        "allow_insecure_issuer",
        "bind",
        "database_url",
        "access_token_ttl",
        "refresh_token_ttl",
        "refresh",
        "users",
        "clients",
        "resources",
        "consent",
        "registration",
        "client_auth_failures_per_minute",
        "keys",
        "cimd",
        "events",
        "console",
        "device",
        "token_exchange",
        "id_jag",
        "control",
        "faults",
        "limits",
        "sweep",
        "tenants",
    ];

    /// How long a retired signing key stays in the JWKS: the configured grace period, but
    /// never less than the access token lifetime plus the reload interval (rounded up to
    /// whole seconds). Other instances keep signing with the retired key until their next
    /// reload, up to `reload_interval` after the rotation, and each of those tokens must
    /// verify until it expires.
    pub fn key_grace_period(&self) -> Duration {
        let last_token_signed = self.keys.reload_interval;
        let floor = self.access_token_ttl.saturating_add(last_token_signed);
        let floor_secs = floor.as_secs() + u64::from(floor.subsec_nanos() > 0);
        self.keys.grace_period.max(Duration::from_secs(floor_secs))
    }
}

/// Refresh token reuse: every refresh rotates the token, and a second use of the old one
/// means either a stolen token or a client that refreshed from two places at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefreshConfig {
    /// "strict": a second use revokes the grant (OAuth 2.1 §4.3.1). "grace": a second use
    /// within `grace_period` of the first gets the same new tokens as the first; after it,
    /// it revokes the grant as in "strict".
    pub reuse: RefreshReuse,
    /// How long after a refresh a second use of the same token still gets its answer.
    #[serde(with = "duration")]
    pub grace_period: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            reuse: RefreshReuse::Strict,
            grace_period: Duration::from_secs(10),
        }
    }
}

impl RefreshConfig {
    /// The grace period in effect: none in strict mode.
    pub fn grace(&self) -> Option<Duration> {
        (self.reuse == RefreshReuse::Grace).then_some(self.grace_period)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Whether RFC 7591 dynamic registration is open to anyone.
    pub open: bool,
    /// Registrations accepted per client IP address per minute (checklist DCR-9).
    pub per_minute: u32,
    /// Which redirect URIs clients may register (dynamically, in metadata documents, in
    /// this file): "native" (https, http on loopback, and native apps' private-use schemes
    /// such as `cursor://`, RFC 8252 §7.1) or "mcp-strict" (https and loopback http only).
    pub redirect_schemes: RedirectSchemes,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            open: true,
            per_minute: 60,
            redirect_schemes: RedirectSchemes::Native,
        }
    }
}

/// Client ID Metadata Documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CimdConfig {
    /// Accept `https` URL client ids and fetch their metadata documents.
    pub enabled: bool,
    /// Local development without the internet: also accept `http` document URLs on
    /// loopback hosts and let fetches reach loopback addresses. Refused unless both the
    /// issuer and the listening address are on loopback.
    pub allow_http_loopback: bool,
    /// The whole fetch, connection to last byte.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// The longest a fetched document is reused, whatever its cache headers say.
    #[serde(with = "duration")]
    pub max_cache: Duration,
}

impl Default for CimdConfig {
    fn default() -> Self {
        CimdConfig {
            enabled: true,
            allow_http_loopback: false,
            timeout: Duration::from_secs(5),
            max_cache: Duration::from_secs(3600),
        }
    }
}

/// The event log: every step and every refusal, kept in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Record events at all.
    pub enabled: bool,
    /// How long events are kept; older ones are swept in the background.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// Events waiting to be written at most; beyond it they are dropped and counted, so
    /// that recording never slows a request down.
    pub buffer: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            enabled: true,
            retention: Duration::from_secs(7 * 24 * 3600),
            buffer: 10_000,
        }
    }
}

/// Bounds on what requests from one source can make the server store (issue 20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Consent requests (`GET /authorize` in consent mode "prompt", each stored until it is
    /// decided or expires) accepted per client IP address per minute; beyond it the page
    /// answers 429 with `Retry-After` (0: no limit).
    pub authorizations_per_minute: u32,
    /// The longest a request's head may take to arrive; also how long a kept-alive
    /// connection may stay idle between requests. Slow or idle clients are cut off after it.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait until one closes (0: the open-file limit less
    /// 128, at most 10,000).
    pub max_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            authorizations_per_minute: 120,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 0,
        }
    }
}

/// The sweeper: a background task that deletes expired rows in bounded batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    /// How often it runs.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How long after it expired a record is still kept: an access token's record (so a
    /// refusal says "expired" rather than "unknown"), and a grant with its codes and refresh
    /// tokens once every one of them expired. A grant with any live token is never swept.
    #[serde(with = "duration")]
    pub grace: Duration,
    /// Rows deleted per statement; the sweeper yields between statements, so a sweep never
    /// holds SQLite's write lock for long.
    pub batch: u32,
    /// SQLite: when the write-ahead log is larger than this many MiB after a sweep, it is
    /// checkpointed and truncated (0: after every sweep).
    pub wal_checkpoint_mib: u64,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            interval: Duration::from_secs(60),
            grace: Duration::from_secs(3600),
            batch: 500,
            wal_checkpoint_mib: 64,
        }
    }
}

/// The developer console and the events API at `/_tollgate/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// On or off; unset: on when the server listens on loopback only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Needed when the console is on and the server listens beyond loopback: asked for with
    /// HTTP Basic authentication (any user name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

impl ConsoleConfig {
    /// Whether the console is on for a server listening on `bind`.
    pub fn is_on(&self, bind: SocketAddr) -> bool {
        self.enabled.unwrap_or_else(|| bind.ip().is_loopback())
    }
}

/// The control API (`{issuer}/_tollgate/api/`), for tests driving a running server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// On by default: it answers loopback peers, and others only with `token`.
    pub enabled: bool,
    /// A Bearer token that lets peers beyond loopback use the control API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            enabled: true,
            token: None,
        }
    }
}

/// Signing keys: rotation and how quickly running servers notice a new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// How long a retired key stays published (at least the access token lifetime plus
    /// `reload_interval`).
    #[serde(with = "duration")]
    pub grace_period: Duration,
    /// How often a running server re-reads the keys from the database, to pick up a
    /// rotation made by `tollgate keys rotate` or another instance.
    #[serde(with = "duration")]
    pub reload_interval: Duration,
    /// Rotate automatically when the active key is this old (unset: only on command).
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<Duration>,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            grace_period: Duration::from_secs(24 * 3600),
            reload_interval: Duration::from_secs(10),
            rotate_every: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(duration::parse("90").unwrap(), Duration::from_secs(90));
        assert_eq!(duration::parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            duration::parse("30d").unwrap(),
            Duration::from_secs(2_592_000)
        );
        assert!(duration::parse("5 minutes").is_err());
        assert_eq!(duration::format(&Duration::from_secs(300)), "5m");
        assert_eq!(
            duration::parse("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(duration::format(&Duration::from_millis(1500)), "1500ms");
        assert!(duration::parse("5 ms").is_err());
    }

    #[test]
    fn key_grace_covers_the_token_lifetime_and_the_reload_interval() {
        let mut config = Config::default();
        config.keys.grace_period = Duration::from_secs(60);
        config.keys.reload_interval = Duration::from_secs(10);
        config.access_token_ttl = Duration::from_secs(300);
        // A token signed by another instance just before its reload, 10 s after the
        // rotation, expires 310 s after it.
        assert_eq!(config.key_grace_period(), Duration::from_secs(310));
        config.keys.reload_interval = Duration::from_millis(20);
        assert_eq!(
            config.key_grace_period(),
            Duration::from_secs(301),
            "rounded up"
        );
        config.keys.grace_period = Duration::from_secs(3600);
        assert_eq!(config.key_grace_period(), Duration::from_secs(3600));
    }

    #[test]
    fn dev_is_always_a_user() {
        let config = Config {
            users: vec![User::named("alice")],
            ..Config::default()
        };
        let subjects: Vec<_> = config.all_users().into_iter().map(|u| u.subject).collect();
        assert_eq!(subjects, ["dev", "alice"]);
    }
}
