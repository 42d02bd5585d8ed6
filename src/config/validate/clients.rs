//! The rules for declared clients (`[[clients]]`).

use super::PathPart::{Index, Key};
use super::{PathPart, Problems, check_hash, check_scope_token, unknown_user};
use crate::config::Config;
use crate::oauth::grant_type::GrantType;
use crate::oauth::redirect_uri::{self, RedirectSchemes};

impl Config {
    pub(super) fn check_clients(&self, problems: &mut Problems) {
        let schemes = self.registration.redirect_schemes;
        for (i, client) in self.clients.iter().enumerate() {
            let at = |key| [Key("clients"), Index(i), Key(key)];
            // Whether the client is confidential rests on these two.
            let (secret, secret_hash) = (at("secret"), at("secret_hash"));
            let kind: &[&[PathPart]] = &[&secret, &secret_hash];
            if client.client_id.trim().is_empty() {
                problems.add(&at("client_id"), "a client needs a non-empty client_id");
            }
            if client.client_id.starts_with("https://") || client.client_id.starts_with("http://") {
                problems.add(
                    &at("client_id"),
                    "URL client ids are Client ID Metadata Documents; choose a plain name",
                );
            }
            if self.clients[..i]
                .iter()
                .any(|c| c.client_id == client.client_id)
            {
                problems.add(
                    &at("client_id"),
                    format!("client '{}' is declared twice", client.client_id),
                );
            }
            if client.secret.is_some() && client.secret_hash.is_some() {
                problems.add(&at("secret"), "give secret or secret_hash, not both");
            }
            check_hash(problems, &at("secret_hash"), client.secret_hash.as_deref());
            let keys: Vec<&str> = [
                client.jwks.as_ref().map(|_| "jwks"),
                client.jwks_uri.as_ref().map(|_| "jwks_uri"),
                client.public_key.as_ref().map(|_| "public_key"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if keys.len() > 1 {
                problems.add(
                    &at(keys[1]),
                    format!(
                        "give one of jwks, jwks_uri and public_key, not {}",
                        keys.join(" and ")
                    ),
                );
            }
            if let (Some(first), true) = (keys.first(), client.has_secret()) {
                problems.add(
                    &at(first),
                    "a client authenticates with a secret or with its public keys \
                     (private_key_jwt), not both: give a secret or keys",
                );
            }
            if let Err(why) = client.jwk_set() {
                let at_keys = if client.public_key.is_some() {
                    "public_key"
                } else {
                    "jwks"
                };
                problems.add(&at(at_keys), why);
            }
            if let Some(method) = &client.auth_method {
                let allowed: &[&str] = if client.has_secret() {
                    &["client_secret_basic", "client_secret_post"]
                } else if client.has_keys() {
                    &["private_key_jwt"]
                } else {
                    &[]
                };
                if !allowed.contains(&method.as_str()) {
                    problems.add_assuming(
                        &at("auth_method"),
                        format!(
                            "'{method}' is not possible here: a client with a secret uses \
                             client_secret_basic or client_secret_post, a client with public \
                             keys (jwks, jwks_uri or public_key) uses private_key_jwt, and a \
                             client with neither is public"
                        ),
                        kind,
                    );
                }
            }
            if client.introspection && !client.is_confidential() {
                problems.add_assuming(
                    &at("introspection"),
                    "only a confidential client (with a secret or secret_hash) can call the \
                     introspection endpoint",
                    kind,
                );
            }
            for (j, uri) in client.redirect_uris.iter().enumerate() {
                if let Err(e) = redirect_uri::validate_for_registration(uri, schemes) {
                    // Refused only because of the setting: a problem of the setting's value.
                    let setting: &[&[PathPart]] =
                        if redirect_uri::validate_for_registration(uri, RedirectSchemes::Native)
                            .is_ok()
                        {
                            &[&[Key("registration"), Key("redirect_schemes")]]
                        } else {
                            &[]
                        };
                    problems.add_assuming(
                        &[Key("clients"), Index(i), Key("redirect_uris"), Index(j)],
                        e.description,
                        setting,
                    );
                }
            }
            for (j, grant) in client.grant_types.iter().enumerate() {
                if GrantType::parse(grant).is_none() {
                    problems.add(
                        &[Key("clients"), Index(i), Key("grant_types"), Index(j)],
                        format!(
                            "'{grant}' is not supported; supported: {}",
                            GrantType::supported_names().join(", ")
                        ),
                    );
                }
            }
            let parts_valid = client
                .redirect_uris
                .iter()
                .all(|u| redirect_uri::validate_for_registration(u, schemes).is_ok())
                && client
                    .grant_types
                    .iter()
                    .all(|g| GrantType::parse(g).is_some())
                && keys.len() <= 1
                && !(client.has_secret() && client.has_keys())
                && client.jwk_set().is_ok();
            // A public client without redirect URIs is useful only for the device flow.
            let device_only = client
                .grant_types
                .iter()
                .any(|g| GrantType::parse(g) == Some(GrantType::DeviceCode));
            if !client.is_confidential() && client.redirect_uris.is_empty() && !device_only {
                problems.add_assuming(
                    &at("redirect_uris"),
                    "a public client (no secret, no public keys) can only use the code flow, \
                     which needs redirect_uris, or the device flow (grant_types \
                     [\"urn:ietf:params:oauth:grant-type:device_code\"])",
                    kind,
                );
            } else if parts_valid {
                // The combination (RFC 7591 consistency rules), once each part is valid; the
                // authentication method and default grants follow from the secret.
                if let Err(e) = client.registration_request().validate_under(schemes) {
                    // Problems with the keys are about the keys (RFC 7591 §2, CA-7).
                    let setting = match (e.rule_id(), keys.first()) {
                        (Some("CA-7"), Some(keys)) => keys,
                        (Some("CA-7"), None) => "auth_method",
                        _ => "grant_types",
                    };
                    problems.add_assuming(&at(setting), e.description, kind);
                }
            }
            for (j, scope) in client.scopes.iter().enumerate() {
                check_scope_token(
                    problems,
                    &[Key("clients"), Index(i), Key("scopes"), Index(j)],
                    scope,
                );
            }
            if let Some(user) = &client.user {
                if !self.knows_user(user) {
                    problems.add_assuming(&at("user"), unknown_user(user), &[&[Key("users")]]);
                }
            }
        }
    }
}
