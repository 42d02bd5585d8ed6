//! Checks a configuration for everything that would make the server misbehave, and reports
//! each problem with the path of the setting (`clients[1].redirect_uris[0]`), so that
//! `tollgate check-config` can point at its line.

mod clients;
mod faults;
mod grants;

use super::declarations::RESERVED_CLAIMS;
use super::{Config, DEFAULT_USER};
use crate::oauth::issuer::Issuer;
use crate::oauth::scope::{Scope, covers};
use std::fmt;

/// One problem: where (a path of keys and indexes) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<PathPart>,
    pub message: String,
    /// Other settings whose value this judgment rests on: a client without a secret is
    /// judged as public. `tollgate check-config`, which checks a file without the settings
    /// it had to take out, drops the problem when one of these was taken out, since it is
    /// then about the default that replaced the setting, not about the file.
    pub assumes: Vec<Vec<PathPart>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    Key(&'static str),
    Index(usize),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", path_text(&self.path), self.message)
    }
}

pub fn path_text(path: &[PathPart]) -> String {
    let mut text = String::new();
    for part in path {
        match part {
            PathPart::Key(key) if text.is_empty() => text.push_str(key),
            PathPart::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            PathPart::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: &[PathPart], message: impl Into<String>) {
        self.add_assuming(path, message, &[]);
    }

    fn add_assuming(
        &mut self,
        path: &[PathPart],
        message: impl Into<String>,
        assumes: &[&[PathPart]],
    ) {
        self.0.push(Problem {
            path: path.to_vec(),
            message: message.into(),
            assumes: assumes.iter().map(|a| a.to_vec()).collect(),
        });
    }
}

use PathPart::{Index, Key};

impl Config {
    /// Every problem in this configuration; empty when it is fine.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Problems(Vec::new());
        let issuer = match &self.issuer {
            Some(issuer) => match Issuer::parse(issuer, self.allow_insecure_issuer) {
                Ok(issuer) => Some(issuer),
                Err(e) => {
                    // An http issuer off loopback is fine with allow_insecure_issuer.
                    let insecure =
                        !self.allow_insecure_issuer && Issuer::parse(issuer, true).is_ok();
                    let assumes: &[&[PathPart]] = if insecure {
                        &[&[Key("allow_insecure_issuer")]]
                    } else {
                        &[]
                    };
                    problems.add_assuming(&[Key("issuer")], e.to_string(), assumes);
                    None
                }
            },
            None => None,
        };
        if self.cimd.allow_http_loopback && issuer.as_ref().is_some_and(|i| !i.is_loopback()) {
            problems.add(
                &[Key("cimd"), Key("allow_http_loopback")],
                "only allowed when the issuer is on loopback (it lets document fetches reach \
                 loopback addresses)",
            );
        }
        // A loopback issuer (configured, or derived from a wildcard bind) says nothing about
        // who can reach the server: with `bind = "0.0.0.0:9000"` anyone on the network could
        // make it fetch from its own loopback services.
        if self.cimd.allow_http_loopback {
            if let Some(why) = loopback_only_problem(self.bind) {
                problems.add(&[Key("cimd"), Key("allow_http_loopback")], why);
            }
        }
        self.check_resources(&mut problems);
        self.check_users(&mut problems);
        self.check_clients(&mut problems);
        self.check_grants(&mut problems, issuer.as_ref().map(Issuer::as_str));
        if let Some(why) = console_problem(self, self.bind) {
            problems.add(&[Key("console"), Key("password")], why);
        }
        self.check_faults(&mut problems);
        if self
            .control
            .token
            .as_ref()
            .is_some_and(|token| token.expose().len() < 16)
        {
            problems.add(
                &[Key("control"), Key("token")],
                "must be at least 16 characters: whoever guesses it controls the server's \
                 clock, tokens and faults",
            );
        }
        if self.sweep.interval.is_zero() {
            problems.add(
                &[Key("sweep"), Key("interval")],
                "must be longer than 0 (for example \"60s\")",
            );
        }
        if self.limits.header_read_timeout.is_zero() {
            problems.add(
                &[Key("limits"), Key("header_read_timeout")],
                "must be longer than 0 (for example \"10s\")",
            );
        }
        if self.sweep.batch == 0 {
            problems.add(&[Key("sweep"), Key("batch")], "must be at least 1");
        }
        if self.events.buffer == 0 {
            problems.add(
                &[Key("events"), Key("buffer")],
                "must be at least 1 (set events.enabled = false to record nothing)",
            );
        }
        if let Some(user) = &self.consent.user {
            if !self.knows_user(user) {
                problems.add_assuming(
                    &[Key("consent"), Key("user")],
                    unknown_user(user),
                    &[&[Key("users")]],
                );
            }
        }
        self.check_tenants(&mut problems);
        problems.0
    }

    /// Each tenant's name and path, and each tenant's own settings as its server would
    /// check them (the process settings it inherits are checked once, at the top level).
    fn check_tenants(&self, problems: &mut Problems) {
        use super::tenants::{PROCESS_KEYS, path_problem, valid_name};
        for (i, tenant) in self.tenants.iter().enumerate() {
            let at = [Key("tenants"), Index(i)];
            if !valid_name(&tenant.name) {
                problems.add(
                    &[Key("tenants"), Index(i), Key("name")],
                    format!(
                        "'{}' cannot name a tenant: use lower-case letters, digits and '-'                          (it appears in URLs, store names and --tenant)",
                        tenant.name
                    ),
                );
            } else if self.tenants[..i].iter().any(|t| t.name == tenant.name) {
                problems.add(
                    &[Key("tenants"), Index(i), Key("name")],
                    format!("a tenant named '{}' is declared before", tenant.name),
                );
            }
            let path = tenant.path();
            let path_at = if tenant.path.is_some() {
                [Key("tenants"), Index(i), Key("path")]
            } else {
                [Key("tenants"), Index(i), Key("name")]
            };
            if let Some(why) = path_problem(&path) {
                problems.add(&path_at, format!("path \"{path}\" {why}"));
            } else if let Some(route) = default_route_under(&path) {
                problems.add(
                    &path_at,
                    format!(
                        "path \"{path}\" clashes with the default tenant's {route}: choose \
                         another first segment"
                    ),
                );
            } else if let Some(other) = self.tenants[..i].iter().find(|t| {
                let other = t.path();
                nested(&other, &path) || nested(&path, &other)
            }) {
                problems.add(
                    &path_at,
                    format!(
                        "path \"{path}\" is, or lies under or above, tenant '{}''s path \
                         \"{}\": each tenant needs a path of its own",
                        other.name,
                        other.path()
                    ),
                );
            }
            for problem in self.effective(tenant).validate() {
                let inherited = matches!(
                    problem.path.first(),
                    Some(Key(key)) if PROCESS_KEYS.contains(key)
                );
                if inherited {
                    continue;
                }
                let prefix = |path: &[PathPart]| [&at[..], path].concat();
                problems.0.push(Problem {
                    path: prefix(&problem.path),
                    message: problem.message,
                    assumes: problem.assumes.iter().map(|a| prefix(a)).collect(),
                });
            }
        }
    }

    fn knows_user(&self, subject: &str) -> bool {
        subject == DEFAULT_USER || self.users.iter().any(|u| u.subject == subject)
    }

    fn check_resources(&self, problems: &mut Problems) {
        for (i, resource) in self.resources.iter().enumerate() {
            if url::Url::parse(&resource.url).is_err() || resource.url.contains('#') {
                problems.add(
                    &[Key("resources"), Index(i), Key("url")],
                    format!(
                        "'{}' must be an absolute URL without a fragment (RFC 8707 §2)",
                        resource.url
                    ),
                );
            }
            let names: Vec<&str> = resource.scope_names().collect();
            for (j, scope) in names.iter().enumerate() {
                let at = [Key("resources"), Index(i), Key("scopes"), Index(j)];
                check_scope_token(problems, &at, scope);
                if names[..j].contains(scope) {
                    problems.add(&at, format!("'{scope}' is declared twice"));
                }
            }
            for (j, scope) in resource.default_scopes.iter().enumerate() {
                let at = [Key("resources"), Index(i), Key("default_scopes"), Index(j)];
                check_scope_token(problems, &at, scope);
                if !names.is_empty() && !names.iter().any(|n| covers(n, scope)) {
                    problems.add(
                        &at,
                        format!(
                            "'{scope}' is not one of this resource's scopes, nor below one \
                             ({})",
                            names.join(", ")
                        ),
                    );
                }
            }
            for (scope, description) in &resource.scope_descriptions {
                let at = [Key("resources"), Index(i), Key("scope_descriptions")];
                check_scope_token(problems, &at, scope);
                if !resource.scopes.is_empty() && !resource.scopes.iter().any(|d| d.name == *scope)
                {
                    let names: Vec<&str> =
                        resource.scopes.iter().map(|d| d.name.as_str()).collect();
                    problems.add(
                        &at,
                        format!(
                            "'{scope}' is described but is not one of this resource's scopes \
                             ({})",
                            names.join(", ")
                        ),
                    );
                }
                if description.trim().is_empty() {
                    problems.add(&at, format!("the description of '{scope}' is empty"));
                }
            }
        }
        if self.resources.iter().filter(|r| r.default).count() > 1 {
            problems.add(
                &[Key("resources")],
                "at most one resource can be the default",
            );
        }
    }

    fn check_users(&self, problems: &mut Problems) {
        for (i, user) in self.users.iter().enumerate() {
            let at = |key| [Key("users"), Index(i), Key(key)];
            if user.subject.trim().is_empty() {
                problems.add(&at("subject"), "a user needs a non-empty subject");
            }
            if self.users[..i].iter().any(|u| u.subject == user.subject) {
                problems.add(
                    &at("subject"),
                    format!("user '{}' is declared twice", user.subject),
                );
            }
            if user.password.is_some() && user.password_hash.is_some() {
                problems.add(&at("password"), "give password or password_hash, not both");
            }
            check_hash(
                problems,
                &at("password_hash"),
                user.password_hash.as_deref(),
            );
            for (j, scope) in user.scopes.iter().flatten().enumerate() {
                check_scope_token(
                    problems,
                    &[Key("users"), Index(i), Key("scopes"), Index(j)],
                    scope,
                );
            }
            for claim in user.claims.keys() {
                if RESERVED_CLAIMS.contains(&claim.as_str()) {
                    problems.add(
                        &at("claims"),
                        format!("'{claim}' is set by Tollgate and cannot be an extra claim"),
                    );
                }
            }
        }
    }
}

/// Why `cimd.allow_http_loopback` may not be used by a server listening on `addr`.
/// The console shows every client, user and flow: beyond loopback it needs a password.
pub fn console_problem(config: &Config, addr: std::net::SocketAddr) -> Option<String> {
    (config.console.is_on(addr) && !addr.ip().is_loopback() && config.console.password.is_none())
        .then(|| {
            format!(
                "the console is on and the server listens on {addr}, beyond loopback: set \
                 console.password, or console.enabled = false"
            )
        })
}

pub fn loopback_only_problem(addr: std::net::SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "only allowed when the server listens on a loopback address, not {addr} (it lets \
             document fetches reach loopback addresses, so it must not be reachable from \
             other hosts); bind to 127.0.0.1 or [::1], or turn it off"
        )
    })
}

/// The default tenant's route that a tenant at `path` would hide, if any: a tenant's
/// first segment must not be one of the default tenant's.
fn default_route_under(path: &str) -> Option<&'static str> {
    use crate::oauth::endpoints;
    let first = |route: &'static str| route.trim_start_matches('/').split('/').next();
    let segment = path.trim_start_matches('/').split('/').next()?;
    [
        endpoints::AUTHORIZE,
        endpoints::TOKEN,
        endpoints::REGISTER,
        endpoints::JWKS,
        endpoints::REVOKE,
        endpoints::INTROSPECT,
        endpoints::DEVICE_AUTHORIZATION,
        endpoints::DEVICE,
        endpoints::CONSOLE,
        endpoints::OAUTH_METADATA,
        endpoints::HEALTH,
    ]
    .into_iter()
    .find(|route| first(route) == Some(segment))
}

/// Whether `inner` is `outer` or lies under it.
fn nested(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn unknown_user(subject: &str) -> String {
    format!("no user '{subject}' is declared (declare it under [[users]], or use 'dev')")
}

fn check_hash(problems: &mut Problems, at: &[PathPart], hash: Option<&str>) {
    if hash.is_some_and(|h| !crate::secret::is_argon2_hash(h)) {
        problems.add(
            at,
            "not an argon2 PHC string ($argon2id$...); `tollgate hash-secret` makes one",
        );
    }
}

fn check_scope_token(problems: &mut Problems, at: &[PathPart], scope: &str) {
    match Scope::parse(Some(scope)) {
        Ok(parsed) if parsed.iter().count() == 1 => {}
        Ok(_) => problems.add(at, format!("'{scope}' is not a single scope token")),
        Err(e) => problems.add(at, e.description),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeclaredClient, User};

    fn client(id: &str) -> DeclaredClient {
        DeclaredClient {
            client_id: id.to_owned(),
            name: None,
            secret: None,
            secret_hash: None,
            auth_method: None,
            jwks: None,
            jwks_uri: None,
            public_key: None,
            redirect_uris: vec!["http://127.0.0.1/cb".to_owned()],
            grant_types: vec![],
            scopes: vec![],
            consent: None,
            user: None,
            introspection: false,
        }
    }

    #[test]
    fn a_good_configuration_has_no_problems() {
        let config = Config {
            users: vec![User::named("alice")],
            clients: vec![client("ci")],
            ..Config::default()
        };
        assert_eq!(config.validate(), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut bad_client = client("ci");
        bad_client.redirect_uris = vec!["http://evil.example/cb".to_owned()];
        bad_client.user = Some("nobody".to_owned());
        let mut twice = client("ci");
        twice.grant_types = vec!["implicit".to_owned()];
        let mut user = User::named("alice");
        user.claims.insert("sub".to_owned(), serde_json::json!("x"));
        let config = Config {
            issuer: Some("http://example.com/".to_owned()),
            users: vec![user],
            clients: vec![bad_client, twice],
            ..Config::default()
        };
        let paths: Vec<String> = config
            .validate()
            .iter()
            .map(|p| path_text(&p.path))
            .collect();
        assert_eq!(
            paths,
            [
                "issuer",
                "users[0].claims",
                "clients[0].redirect_uris[0]",
                "clients[0].user",
                "clients[1].client_id",
                "clients[1].grant_types[0]",
            ]
        );
    }

    #[test]
    fn scp_1_scope_paths_are_checked_wherever_they_are_declared() {
        let mut scoped = client("ci");
        scoped.scopes = vec!["mcp:*:read".to_owned()];
        let bob = User {
            scopes: Some(vec!["mcp::tools".to_owned()]),
            ..User::named("bob")
        };
        let resource = crate::oauth::resource::Resource {
            default_scopes: vec!["mcp:tools:weather".to_owned(), "mcp:admin".to_owned()],
            ..crate::oauth::resource::Resource::with_scopes(
                "https://a/mcp",
                &["mcp:tools", "mcp:tools", "mcp:"],
            )
        };
        let config = Config {
            users: vec![bob],
            clients: vec![scoped],
            resources: vec![resource],
            ..Config::default()
        };
        let problems: Vec<(String, String)> = config
            .validate()
            .iter()
            .map(|p| (path_text(&p.path), p.message.clone()))
            .collect();
        let at = |path: &str| {
            problems
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, message)| message.as_str())
                .unwrap_or_else(|| panic!("no problem at {path}: {problems:?}"))
        };
        assert!(at("users[0].scopes[0]").contains("has an empty segment (segment 2)"));
        assert!(at("clients[0].scopes[0]").contains("has '*' as segment 2 of 3"));
        assert_eq!(
            at("resources[0].scopes[1]"),
            "'mcp:tools' is declared twice"
        );
        assert!(at("resources[0].scopes[2]").contains("empty segment"));
        // A default below a declared scope is fine; one outside the tree is not.
        assert!(at("resources[0].default_scopes[1]").starts_with("'mcp:admin' is not one of"));
        // The client's registration rules see the same scope (RFC 7591 `scope`) and report it
        // under grant_types, as they did before scopes were paths.
        assert_eq!(problems.len(), 6, "{problems:?}");
    }

    #[test]
    fn declared_redirect_uris_follow_registration_redirect_schemes() {
        let mut cursor = client("cursor");
        cursor.redirect_uris = vec!["cursor://anysphere.cursor-mcp/oauth/callback".to_owned()];
        let mut config = Config {
            clients: vec![cursor],
            ..Config::default()
        };
        assert_eq!(config.validate(), vec![]);
        config.registration.redirect_schemes =
            crate::oauth::redirect_uri::RedirectSchemes::McpStrict;
        let problems = config.validate();
        assert_eq!(path_text(&problems[0].path), "clients[0].redirect_uris[0]");
        assert!(
            problems[0]
                .message
                .contains("registration.redirect_schemes is \"mcp-strict\""),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn declared_keys_are_checked() {
        let ed = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        let good = DeclaredClient::with_keys("machine", ed.clone());
        let mut both = DeclaredClient::with_keys("both", ed.clone());
        both.secret = Some(crate::secret::Secret::new("s"));
        let mut bad_pem = client("pem");
        bad_pem.public_key = Some("-----BEGIN PUBLIC KEY-----\nnope\n".to_owned());
        let mut no_keys = client("nokeys");
        no_keys.auth_method = Some("private_key_jwt".to_owned());
        let mut private = client("private");
        private.jwks = Some(serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
        let mut as_json =
            DeclaredClient::with_keys("json", serde_json::Value::String(ed.to_string()));
        as_json.redirect_uris = vec!["http://127.0.0.1/cb".to_owned()];
        let config = Config {
            clients: vec![good, both, bad_pem, no_keys, private, as_json],
            ..Config::default()
        };
        let problems: Vec<(String, String)> = config
            .validate()
            .iter()
            .map(|p| (path_text(&p.path), p.message.clone()))
            .collect();
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "clients[1].jwks",
                "clients[2].public_key",
                "clients[3].auth_method",
                "clients[4].jwks",
            ],
            "{problems:?}"
        );
        assert!(problems[0].1.contains("not both"), "{problems:?}");
        assert!(
            problems[3].1.contains("private key material"),
            "{problems:?}"
        );
    }

    #[test]
    fn introspection_needs_a_secret() {
        let mut public = client("rs");
        public.introspection = true;
        let config = Config {
            clients: vec![public],
            ..Config::default()
        };
        let paths: Vec<String> = config
            .validate()
            .iter()
            .map(|p| path_text(&p.path))
            .collect();
        assert_eq!(paths, ["clients[0].introspection"]);
        let config = Config {
            clients: vec![DeclaredClient::resource_server("rs", "s")],
            ..Config::default()
        };
        assert_eq!(config.validate(), vec![]);
    }

    #[test]
    fn http_loopback_documents_need_a_loopback_bind() {
        let mut config = Config::default();
        config.cimd.allow_http_loopback = true;
        assert_eq!(config.validate(), vec![]);
        for bind in ["0.0.0.0:9000", "[::]:9000", "192.168.1.5:9000"] {
            config.bind = bind.parse().unwrap();
            // No issuer: the one derived from a wildcard bind would be on loopback.
            let paths: Vec<String> = config
                .validate()
                .iter()
                .map(|p| path_text(&p.path))
                .collect();
            assert_eq!(paths, ["cimd.allow_http_loopback"], "{bind}");
            config.issuer = Some("http://localhost:9000".to_owned());
            assert_eq!(config.validate().len(), 1, "{bind}, loopback issuer");
            config.issuer = None;
        }
    }
}
