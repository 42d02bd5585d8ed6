//! Configuration: built-in defaults, then a TOML file (`--config`), then `TOLLGATE_*`
//! environment variables, then command-line flags, each layer overriding the one before.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// The subject of the user who is always there, so a fresh server can complete a flow.
pub const DEFAULT_USER: &str = "dev";

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
    /// Users who can approve on the consent page, in addition to `dev`.
    pub users: Vec<User>,
    /// The MCP servers tokens may be issued for. Empty: any absolute URI (a dev default).
    pub resources: Vec<ResourceConfig>,
    pub registration: RegistrationConfig,
    /// Failed client authentications allowed per client per minute before further attempts
    /// are refused with 429 (0: no limit).
    pub client_auth_failures_per_minute: u32,
    pub keys: KeysConfig,
    /// Client ID Metadata Documents: URL client ids (MCP's recommended registration).
    pub cimd: CimdConfig,
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
            users: Vec::new(),
            resources: Vec::new(),
            registration: RegistrationConfig::default(),
            client_auth_failures_per_minute: 10,
            keys: KeysConfig::default(),
            cimd: CimdConfig::default(),
        }
    }
}

impl Config {
    /// Every user who can sign in: `dev` first, then the configured ones.
    pub fn all_users(&self) -> Vec<User> {
        let mut users = vec![User {
            subject: DEFAULT_USER.to_owned(),
            name: None,
        }];
        for user in &self.users {
            if !users.iter().any(|u| u.subject == user.subject) {
                users.push(user.clone());
            }
        }
        users
    }

    /// The configuration keys, for picking `TOLLGATE_*` variables out of the environment.
    pub const KEYS: [&'static str; 12] = [
        "issuer",
        "allow_insecure_issuer",
        "bind",
        "database_url",
        "access_token_ttl",
        "refresh_token_ttl",
        "users",
        "resources",
        "registration",
        "client_auth_failures_per_minute",
        "keys",
        "cimd",
    ];

    /// How long a retired signing key stays in the JWKS: the configured grace period, but
    /// never less than the access token lifetime, so every token issued before a rotation
    /// still verifies until it expires.
    pub fn key_grace_period(&self) -> Duration {
        self.keys.grace_period.max(self.access_token_ttl)
    }
}

/// A user who can approve requests on the consent page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "UserSpec")]
pub struct User {
    /// The `sub` claim of this user's tokens.
    pub subject: String,
    /// A display name for the consent page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl User {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.subject)
    }
}

/// A user can be written as just a name (`--user alice`) or as a table.
#[derive(Deserialize)]
#[serde(untagged)]
enum UserSpec {
    Name(String),
    Full {
        subject: String,
        #[serde(default)]
        name: Option<String>,
    },
}

impl From<UserSpec> for User {
    fn from(spec: UserSpec) -> Self {
        match spec {
            UserSpec::Name(subject) => User {
                subject,
                name: None,
            },
            UserSpec::Full { subject, name } => User { subject, name },
        }
    }
}

/// An MCP server (OAuth resource server) tokens may be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ResourceSpec")]
pub struct ResourceConfig {
    /// Its canonical URL, the `aud` of its tokens.
    pub url: String,
    /// The scopes it understands; empty means any scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Used as the audience when a request names no resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ResourceSpec {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default)]
        default: bool,
    },
}

impl From<ResourceSpec> for ResourceConfig {
    fn from(spec: ResourceSpec) -> Self {
        match spec {
            ResourceSpec::Url(url) => ResourceConfig {
                url,
                scopes: Vec::new(),
                default: false,
            },
            ResourceSpec::Full {
                url,
                scopes,
                default,
            } => ResourceConfig {
                url,
                scopes,
                default,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Whether RFC 7591 dynamic registration is open to anyone.
    pub open: bool,
    /// Registrations accepted per client IP address per minute (checklist DCR-9).
    pub per_minute: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            open: true,
            per_minute: 60,
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
    /// loopback hosts and let fetches reach loopback addresses. Refused unless the issuer
    /// itself is on loopback.
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

/// Signing keys: rotation and how quickly running servers notice a new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// How long a retired key stays published (at least the access token lifetime).
    #[serde(with = "duration")]
    pub grace_period: Duration,
    /// How often a running server re-reads the keys from the database, to pick up a
    /// rotation made by `tollgate keys rotate` or another instance.
    #[serde(with = "duration")]
    pub reload_interval: Duration,
    /// Rotate automatically when the active key is this old (unset: only on command).
    #[serde(with = "optional_duration", skip_serializing_if = "Option::is_none")]
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

/// An optional duration in the same notation as [`duration`].
mod optional_duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "super::duration")] Duration);
        Ok(Some(Wrapper::deserialize(d)?.0))
    }
}

/// Durations as integer seconds or as a number with a unit: `90`, `90s`, `5m`, `12h`, `30d`.
pub mod duration {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use std::time::Duration;

    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a duration such as 90s, 5m, 12h or 30d"))?;
        let seconds = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("'{text}' has an unknown unit; use s, m, h or d")),
        };
        Ok(Duration::from_secs(number.saturating_mul(seconds)))
    }

    pub fn format(duration: &Duration) -> String {
        let secs = duration.as_secs();
        match secs {
            s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
            s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(text) => parse(&text).map_err(de::Error::custom),
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
    }

    #[test]
    fn key_grace_never_undercuts_the_token_lifetime() {
        let mut config = Config::default();
        config.keys.grace_period = Duration::from_secs(60);
        config.access_token_ttl = Duration::from_secs(300);
        assert_eq!(config.key_grace_period(), Duration::from_secs(300));
        config.keys.grace_period = Duration::from_secs(3600);
        assert_eq!(config.key_grace_period(), Duration::from_secs(3600));
    }

    #[test]
    fn dev_is_always_a_user() {
        let config = Config {
            users: vec![User {
                subject: "alice".into(),
                name: None,
            }],
            ..Config::default()
        };
        let subjects: Vec<_> = config.all_users().into_iter().map(|u| u.subject).collect();
        assert_eq!(subjects, ["dev", "alice"]);
    }
}
