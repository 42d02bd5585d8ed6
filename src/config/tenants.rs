//! Several issuers in one process (issue 17): `[[tenants]]` tables.
//!
//! A tenant is a whole issuer of its own: it declares, inside its table and with the same
//! keys as the top level, its users, clients, resources, consent, signing-key and token
//! settings, and inherits none of the top level's (nothing of one issuer leaks into
//! another). What belongs to the process stays at the top level and is refused inside a
//! tenant: where it listens (`bind`), the database (`database_url`; each tenant gets a
//! store of its own beside it), the issuer's base (`issuer`, `allow_insecure_issuer`), the
//! connection limits and the sweeper's pace.
//!
//! A tenant named `acme` is served under `path` (default `/t/acme`), and its issuer is the
//! server's issuer followed by that path.

use super::Config;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Settings of the process, taken from the top level; a tenant may not set them.
pub const PROCESS_KEYS: [&str; 7] = [
    "issuer",
    "allow_insecure_issuer",
    "bind",
    "database_url",
    "limits",
    "sweep",
    "tenants",
];

/// One `[[tenants]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// A path segment, `[a-z0-9-]+`: the tenant's name in URLs, store names and `--tenant`.
    pub name: String,
    /// Where it is served, relative to the server's issuer; default `/t/<name>`.
    pub path: Option<String>,
    /// Its own settings (process settings are taken from the top level when it is served).
    pub settings: Box<Config>,
}

/// Which tenant a configuration is the effective configuration of (`Config::tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantId {
    pub name: String,
    /// The path appended to the server's issuer, such as `/t/acme`.
    pub path: String,
}

impl TenantConfig {
    /// A tenant with the settings `settings` (its process settings are ignored).
    pub fn new(name: &str, settings: Config) -> Self {
        TenantConfig {
            name: name.to_owned(),
            path: None,
            settings: Box::new(settings),
        }
    }

    /// The path it is served under: `path`, or `/t/<name>`.
    pub fn path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("/t/{}", self.name))
    }
}

impl Config {
    /// The names of the tenants beside the default one, in the order declared.
    pub fn tenant_names(&self) -> Vec<&str> {
        self.tenants.iter().map(|t| t.name.as_str()).collect()
    }

    /// The path of the tenant this configuration is the effective configuration of; ""
    /// for the default tenant.
    pub fn tenant_path(&self) -> &str {
        self.tenant.as_ref().map_or("", |t| t.path.as_str())
    }

    /// The effective configuration of the tenant `name`: its own settings plus the process
    /// settings of this (top-level) configuration. Its issuer, when this configuration sets
    /// one, is that issuer followed by the tenant's path.
    pub fn tenant(&self, name: &str) -> Result<Config, UnknownTenant> {
        let Some(tenant) = self.tenants.iter().find(|t| t.name == name) else {
            return Err(UnknownTenant {
                name: name.to_owned(),
                known: self.tenants.iter().map(|t| t.name.clone()).collect(),
            });
        };
        Ok(self.effective(tenant))
    }

    pub(crate) fn effective(&self, tenant: &TenantConfig) -> Config {
        let path = tenant.path();
        let mut config = (*tenant.settings).clone();
        config.issuer = self.issuer.as_ref().map(|issuer| format!("{issuer}{path}"));
        config.allow_insecure_issuer = self.allow_insecure_issuer;
        config.bind = self.bind;
        config.database_url = self.database_url.clone();
        config.limits = self.limits.clone();
        config.sweep = self.sweep.clone();
        config.tenants = Vec::new();
        config.tenant = Some(TenantId {
            name: tenant.name.clone(),
            path,
        });
        config
    }
}

/// `--tenant` named a tenant the configuration does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", unknown_tenant_text(.name, .known))]
pub struct UnknownTenant {
    pub name: String,
    pub known: Vec<String>,
}

fn unknown_tenant_text(name: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no tenant '{name}': the configuration declares no [[tenants]]")
    } else {
        format!(
            "no tenant '{name}': the tenants are {} (leave --tenant out for the default one)",
            known.join(", ")
        )
    }
}

impl<'de> Deserialize<'de> for TenantConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let name = match table.remove("name") {
            Some(serde_json::Value::String(name)) => name,
            Some(_) => return Err(D::Error::custom("a tenant's `name` must be a string")),
            None => return Err(D::Error::missing_field("name")),
        };
        let path = match table.remove("path") {
            Some(serde_json::Value::String(path)) => Some(path),
            Some(_) => return Err(D::Error::custom("a tenant's `path` must be a string")),
            None => None,
        };
        if let Some(key) = PROCESS_KEYS.iter().find(|k| table.contains_key(**k)) {
            return Err(D::Error::custom(format!(
                "tenant '{name}': `{key}` is a setting of the whole process: set it at the top \
                 level (a tenant declares its users, clients, resources, consent, keys and \
                 token settings)"
            )));
        }
        let settings = Config::deserialize(serde_json::Value::Object(table))
            .map_err(|e| D::Error::custom(format!("tenant '{name}': {e}")))?;
        Ok(TenantConfig {
            name,
            path,
            settings: Box::new(settings),
        })
    }
}

impl Serialize for TenantConfig {
    /// Its name, path and settings, without the process settings it does not have; secrets
    /// redacted as everywhere (`print-config`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut table = match serde_json::to_value(&*self.settings) {
            Ok(serde_json::Value::Object(table)) => table,
            Ok(_) => serde_json::Map::new(),
            Err(e) => return Err(serde::ser::Error::custom(e)),
        };
        for key in PROCESS_KEYS {
            table.remove(key);
        }
        let mut out = serde_json::Map::new();
        out.insert("name".to_owned(), self.name.clone().into());
        if let Some(path) = &self.path {
            out.insert("path".to_owned(), path.clone().into());
        }
        out.extend(table);
        out.serialize(serializer)
    }
}

/// Whether `name` can name a tenant: a non-empty path segment of `[a-z0-9-]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Why `path` cannot be a tenant's path, if it cannot: it must be `/` followed by
/// segments of unreserved characters, with no empty, `.` or `..` segment and no trailing
/// `/`.
pub fn path_problem(path: &str) -> Option<&'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some("must start with '/' (such as \"/t/acme\")");
    };
    if rest.is_empty() {
        return Some("must not be \"/\": the default tenant is served there");
    }
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Some("must have no empty segment and no trailing '/'");
        }
        if segment == "." || segment == ".." {
            return Some("must have no '.' or '..' segment");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Some("may hold only letters, digits and - . _ ~ between its '/'");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_tenant_declares_its_own_settings_and_inherits_the_process_ones() {
        let config = parse(
            r#"
            issuer = "https://auth.example.com"
            database_url = "sqlite://data/tollgate.db"
            access_token_ttl = "10m"
            [consent]
            mode = "auto"
            [[users]]
            subject = "alice"
            [[tenants]]
            name = "acme"
            [[tenants.users]]
            subject = "bob"
            [[tenants]]
            name = "beta"
            path = "/beta"
            consent = { mode = "deny" }
            "#,
        )
        .unwrap();
        assert_eq!(config.tenant_names(), ["acme", "beta"]);
        let acme = config.tenant("acme").unwrap();
        assert_eq!(
            acme.issuer.as_deref(),
            Some("https://auth.example.com/t/acme")
        );
        assert_eq!(acme.database_url, "sqlite://data/tollgate.db");
        assert_eq!(acme.tenant_path(), "/t/acme");
        let users: Vec<_> = acme.all_users().into_iter().map(|u| u.subject).collect();
        assert_eq!(users, ["dev", "bob"], "alice is the default tenant's only");
        // Nothing per issuer is inherited: the default tenant's consent and lifetime stay
        // its own.
        assert_eq!(acme.consent.mode, crate::config::ConsentMode::Prompt);
        assert_eq!(acme.access_token_ttl, Config::default().access_token_ttl);
        let beta = config.tenant("beta").unwrap();
        assert_eq!(
            beta.issuer.as_deref(),
            Some("https://auth.example.com/beta")
        );
        assert_eq!(beta.consent.mode, crate::config::ConsentMode::Deny);
        assert_eq!(config.tenant_path(), "");
    }

    #[test]
    fn an_unknown_tenant_names_the_known_ones() {
        let config = parse("[[tenants]]\nname = \"acme\"\n[[tenants]]\nname = \"beta\"\n").unwrap();
        let error = config.tenant("gamma").unwrap_err().to_string();
        assert!(error.contains("no tenant 'gamma'"), "{error}");
        assert!(error.contains("acme, beta"), "{error}");
        let none = Config::default().tenant("acme").unwrap_err().to_string();
        assert!(none.contains("declares no [[tenants]]"), "{none}");
    }

    #[test]
    fn process_settings_and_unknown_keys_are_refused_inside_a_tenant() {
        for (table, expected) in [
            (
                "name = \"acme\"\nbind = \"127.0.0.1:1\"",
                "`bind` is a setting of the whole process",
            ),
            (
                "name = \"acme\"\ndatabase_url = \"sqlite::memory:\"",
                "`database_url`",
            ),
            ("name = \"acme\"\nusres = []", "unknown field `usres`"),
            ("path = \"/x\"", "missing field `name`"),
        ] {
            let error = parse(&format!("[[tenants]]\n{table}\n"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{table}: {error}");
        }
    }

    #[test]
    fn print_config_redacts_a_tenants_secrets() {
        let config = parse(
            r#"
            [[tenants]]
            name = "acme"
            [[tenants.clients]]
            client_id = "ci"
            secret = "hunter2-hunter2"
            "#,
        )
        .unwrap();
        let text = toml::to_string(&config).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        let tenant = &text[text.find("[[tenants]]").unwrap()..];
        assert!(
            !tenant.contains("bind"),
            "a tenant has no bind of its own: {text}"
        );
    }

    #[test]
    fn names_and_paths() {
        for ok in ["acme", "team-2", "a"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Acme", "a_b", "a/b", "a.b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
        for ok in ["/t/acme", "/acme", "/x/y-z.1"] {
            assert_eq!(path_problem(ok), None, "{ok}");
        }
        for bad in ["t/acme", "/", "/t/", "//t", "/t/../x", "/t/a b", "/t?x"] {
            assert!(path_problem(bad).is_some(), "{bad}");
        }
    }
}
