//! What a configuration file declares beyond server settings: users, pre-registered
//! clients, resources and the consent policy. Users live in memory; declared clients are
//! written to the database at start-up (`crate::services::declarations`).

use crate::oauth::client::{AuthMethod, RegistrationRequest, jwks};
use crate::oauth::consent::ConsentMode;
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::scope::Scope;
use crate::secret::Secret;
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// Claims Tollgate sets itself; a user's extra claims may not replace them.
pub const RESERVED_CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "act",
];

/// A user who can approve requests on the consent page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The `sub` claim of this user's tokens.
    pub subject: String,
    /// A display name for the consent page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A password the consent page asks for; Tollgate keeps only its argon2 hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The password as an argon2 PHC string, instead of `password`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_redacted"
    )]
    pub password_hash: Option<String>,
    /// Extra claims put into this user's access tokens and ID tokens.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The scopes this user may be granted, compared by covering (`mcp:tools:*`); absent:
    /// any (checklist SCP-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl User {
    pub fn named(subject: impl Into<String>) -> Self {
        User {
            subject: subject.into(),
            name: None,
            password: None,
            password_hash: None,
            claims: serde_json::Map::new(),
            scopes: None,
        }
    }

    /// Refuses a scope beyond this user's policy (`access_denied`, checklist SCP-2).
    pub fn check_scope(&self, scope: &Scope) -> Result<(), OAuthError> {
        crate::oauth::scope::check_user_allows(&self.subject, scope, self.scopes.as_deref())
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.subject)
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some() || self.password_hash.is_some()
    }
}

impl From<String> for User {
    fn from(subject: String) -> Self {
        User::named(subject)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentConfig {
    /// The mode of clients that do not set their own.
    pub mode: ConsentMode,
    /// Who `auto` approves as, unless `login_hint` names a user (default: `dev`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A client declared in the configuration file, with a fixed `client_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client secret; without one (and without `secret_hash`) the client is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// The secret as an argon2 PHC string (`tollgate hash-secret`), instead of `secret`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_redacted"
    )]
    pub secret_hash: Option<String>,
    /// `client_secret_basic` (default for a client with a secret), `client_secret_post`,
    /// or `private_key_jwt` (the default for a client with public keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// The public keys of a `private_key_jwt` client: a JWK Set, as a table
    /// (`jwks = { keys = [...] }`) or a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where a `private_key_jwt` client publishes its JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The public key of a `private_key_jwt` client in PEM (`-----BEGIN PUBLIC KEY-----`):
    /// RSA, EC P-256 or Ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Default: authorization_code and refresh_token, plus client_credentials for a
    /// confidential client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// The scopes it may ask for; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Overrides `consent.mode` for this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentMode>,
    /// Who `auto` approves as for this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A resource server that may introspect every client's tokens (RFC 7662). Without it,
    /// a client can introspect only the tokens issued to itself. Needs a secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub introspection: bool,
}

impl DeclaredClient {
    /// A public client (no secret) that redirects to `redirect_uris`.
    pub fn public(client_id: impl Into<String>, redirect_uris: &[&str]) -> Self {
        DeclaredClient {
            client_id: client_id.into(),
            name: None,
            secret: None,
            secret_hash: None,
            auth_method: None,
            jwks: None,
            jwks_uri: None,
            public_key: None,
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            grant_types: Vec::new(),
            scopes: Vec::new(),
            consent: None,
            user: None,
            introspection: false,
        }
    }

    /// A confidential client with a chosen secret (`client_secret_basic`); with no redirect
    /// URIs it gets the client_credentials grant only.
    pub fn confidential(client_id: impl Into<String>, secret: &str) -> Self {
        DeclaredClient {
            secret: Some(Secret::new(secret)),
            ..DeclaredClient::public(client_id, &[])
        }
    }

    /// A resource server with a chosen secret: a confidential client that may introspect
    /// every client's tokens (and use client_credentials).
    pub fn resource_server(client_id: impl Into<String>, secret: &str) -> Self {
        DeclaredClient {
            introspection: true,
            ..DeclaredClient::confidential(client_id, secret)
        }
    }

    /// A machine client that authenticates with `private_key_jwt` and `jwks` (the
    /// client_credentials grant only, without redirect URIs).
    pub fn with_keys(client_id: impl Into<String>, jwks: serde_json::Value) -> Self {
        DeclaredClient {
            jwks: Some(jwks),
            ..DeclaredClient::public(client_id, &[])
        }
    }

    pub fn is_confidential(&self) -> bool {
        self.has_secret() || self.has_keys()
    }

    pub fn has_secret(&self) -> bool {
        self.secret.is_some() || self.secret_hash.is_some()
    }

    /// Whether it declares public keys (`jwks`, `jwks_uri` or `public_key`).
    pub fn has_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some() || self.public_key.is_some()
    }

    /// Its inline public keys as a JWK Set: `jwks` (a table, or a JSON string), or
    /// `public_key` made into one; or why they cannot be read.
    pub fn jwk_set(&self) -> Result<Option<serde_json::Value>, String> {
        if let Some(pem) = &self.public_key {
            return jwks::jwk_from_pem(pem).map(|key| Some(jwks::set_of(key)));
        }
        match &self.jwks {
            None => Ok(None),
            Some(serde_json::Value::String(json)) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| format!("jwks is not JSON ({e})")),
            Some(table) => Ok(Some(table.clone())),
        }
    }

    /// Tollgate's own rules for this client.
    pub fn policy(&self) -> crate::oauth::client::ClientPolicy {
        crate::oauth::client::ClientPolicy {
            allowed_scopes: self.scopes.clone(),
            consent: self.consent,
            user: self.user.clone(),
            introspection: self.introspection,
        }
    }
}

impl DeclaredClient {
    /// This client as RFC 7591 metadata, with the defaults for a declared client.
    pub fn registration_request(&self) -> RegistrationRequest {
        let confidential = self.is_confidential();
        // Defaults: the code flow with refresh when there is somewhere to redirect to, and
        // client credentials for a client with a secret.
        let grant_types = if self.grant_types.is_empty() {
            let mut defaults = Vec::new();
            if !self.redirect_uris.is_empty() {
                defaults.extend(
                    [GrantType::AuthorizationCode, GrantType::RefreshToken]
                        .map(|g| g.as_str().to_owned()),
                );
            }
            if confidential {
                defaults.push(GrantType::ClientCredentials.as_str().to_owned());
            }
            defaults
        } else {
            self.grant_types.clone()
        };
        let needs_code = grant_types
            .iter()
            .any(|g| g == GrantType::AuthorizationCode.as_str());
        let default_method = if self.has_secret() {
            AuthMethod::ClientSecretBasic
        } else if self.has_keys() {
            AuthMethod::PrivateKeyJwt
        } else {
            AuthMethod::None
        };
        RegistrationRequest {
            redirect_uris: Some(self.redirect_uris.clone()),
            token_endpoint_auth_method: Some(match (&self.auth_method, confidential) {
                (Some(method), true) => method.clone(),
                _ => default_method.as_str().to_owned(),
            }),
            // Keys that cannot be read fail validation (and `check-config` says why).
            jwks: self.jwk_set().unwrap_or(Some(serde_json::Value::Null)),
            jwks_uri: self.jwks_uri.clone(),
            grant_types: Some(grant_types),
            response_types: Some(if needs_code {
                vec!["code".to_owned()]
            } else {
                vec![]
            }),
            client_name: self.name.clone(),
            scope: (!self.scopes.is_empty()).then(|| self.scopes.join(" ")),
            ..Default::default()
        }
    }
}

/// Deserialises a list whose items are either a bare string or a table, such as users
/// (`["alice"]` or `[{ subject = "alice", ... }]`). Tables keep their own field errors,
/// which an untagged enum would hide.
pub fn string_or_table_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String> + DeserializeOwned,
{
    #[derive(Deserialize)]
    struct Item<T: From<String> + DeserializeOwned>(
        #[serde(deserialize_with = "string_or_table")] T,
    );
    Ok(Vec::<Item<T>>::deserialize(deserializer)?
        .into_iter()
        .map(|item| item.0)
        .collect())
}

fn string_or_table<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String> + DeserializeOwned,
{
    struct StringOrTable<T>(PhantomData<T>);

    impl<'de, T: From<String> + DeserializeOwned> Visitor<'de> for StringOrTable<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a table")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value.to_owned()))
        }

        fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_any(StringOrTable(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> DeclaredClient {
        DeclaredClient::public(id, &["http://127.0.0.1/cb"])
    }

    #[test]
    fn declared_clients_get_sensible_grant_defaults() {
        let mut confidential = client("machine");
        confidential.secret = Some(crate::secret::Secret::new("s"));
        let metadata = confidential.registration_request().validate().unwrap();
        assert!(metadata.allows_grant(GrantType::ClientCredentials));
        let metadata = client("public").registration_request().validate().unwrap();
        assert!(!metadata.allows_grant(GrantType::ClientCredentials));
        let mut machine = client("machine");
        machine.redirect_uris.clear();
        machine.secret = Some(crate::secret::Secret::new("s"));
        let metadata = machine.registration_request().validate().unwrap();
        assert_eq!(metadata.grant_types, [GrantType::ClientCredentials]);
    }
}
