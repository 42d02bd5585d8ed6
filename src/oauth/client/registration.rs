//! Registration requests (RFC 7591 §2): what a registration may ask for, the defaults the
//! RFC prescribes, and the consistency rules (checklist DCR-1..DCR-7).

use super::jwks;
use super::metadata::{AuthMethod, CODE, ClientMetadata, NATIVE};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::issuer::is_loopback;
use crate::oauth::redirect_uri::{self, RedirectSchemes};
use crate::oauth::rules;
use crate::oauth::scope::Scope;
use serde::Deserialize;

/// A registration request as sent. Members Tollgate does not know are ignored
/// (RFC 7591 §2, checklist DCR-5).
#[derive(Debug, Default, Deserialize)]
pub struct RegistrationRequest {
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub contacts: Option<Vec<String>>,
    #[serde(default)]
    pub tos_uri: Option<String>,
    #[serde(default)]
    pub policy_uri: Option<String>,
    #[serde(default)]
    pub software_id: Option<String>,
    #[serde(default)]
    pub software_version: Option<String>,
    /// OpenID Connect Registration §2; MCP 2026-07-28 clients must send it (SEP-837).
    #[serde(default)]
    pub application_type: Option<String>,
    /// The client's public keys, for `private_key_jwt` (RFC 7591 §2).
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// OpenID Connect Registration §2.
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
}

/// Client names are shown on the consent page; keep them to a readable length.
const MAX_NAME_LEN: usize = 200;

impl RegistrationRequest {
    /// A request read from JSON, or `invalid_client_metadata` saying why it is not client
    /// metadata (RFC 7591 §2).
    pub fn from_json(parsed: serde_json::Result<RegistrationRequest>) -> Result<Self, OAuthError> {
        parsed.map_err(|e| {
            OAuthError::invalid_client_metadata(format!(
                "the body is not valid client metadata: {e} (RFC 7591 §2)"
            ))
        })
    }

    /// Applies the RFC 7591 defaults and rules and returns the metadata to register, with
    /// the default redirect URI rule (native apps' schemes accepted).
    pub fn validate(self) -> Result<ClientMetadata, OAuthError> {
        self.validate_under(RedirectSchemes::default())
    }

    /// Applies the RFC 7591 defaults and rules under this server's
    /// `registration.redirect_schemes`, and returns the metadata to register.
    pub fn validate_under(self, schemes: RedirectSchemes) -> Result<ClientMetadata, OAuthError> {
        self.check(schemes).map_err(|error| match error.rule_id() {
            Some(_) => error,
            None => error.rule(&rules::DCR_4),
        })
    }

    fn check(self, schemes: RedirectSchemes) -> Result<ClientMetadata, OAuthError> {
        let token_endpoint_auth_method = match self.token_endpoint_auth_method.as_deref() {
            // RFC 7591 §2: the default is client_secret_basic.
            None => AuthMethod::ClientSecretBasic,
            Some(value) => AuthMethod::parse(value).ok_or_else(|| {
                OAuthError::invalid_client_metadata(format!(
                    "token_endpoint_auth_method '{value}' is not supported; use one of {}",
                    AuthMethod::ALL.map(AuthMethod::as_str).join(", ")
                ))
            })?,
        };
        check_keys(
            token_endpoint_auth_method,
            self.jwks.as_ref(),
            self.jwks_uri.as_deref(),
            self.token_endpoint_auth_signing_alg.as_deref(),
        )?;
        let grant_types = self
            .grant_types
            .unwrap_or_else(|| vec![GrantType::AuthorizationCode.as_str().to_owned()]);
        if grant_types.is_empty() {
            return Err(OAuthError::invalid_client_metadata(
                "grant_types is empty; omit it for the default [\"authorization_code\"]",
            ));
        }
        for grant in &grant_types {
            if GrantType::parse(grant).is_none() {
                let why = match grant.as_str() {
                    "implicit" | "password" => " (OAuth 2.1 removed it)",
                    _ => "",
                };
                return Err(OAuthError::invalid_client_metadata(format!(
                    "grant type '{grant}' is not supported{why}; supported: {}",
                    GrantType::supported_names().join(", ")
                )));
            }
        }
        let has_code_grant = grant_types
            .iter()
            .any(|g| g == GrantType::AuthorizationCode.as_str());
        // RFC 7591 §2.1 defaults response_types to ["code"], which is only consistent with
        // the authorization_code grant; a machine client that registers grant_types
        // ["client_credentials"] alone means no response types, so that is its default.
        let response_types = self.response_types.unwrap_or_else(|| {
            if has_code_grant {
                vec![CODE.to_owned()]
            } else {
                Vec::new()
            }
        });
        if let Some(bad) = response_types.iter().find(|r| *r != CODE) {
            return Err(OAuthError::invalid_client_metadata(format!(
                "response type '{bad}' is not supported; OAuth 2.1 has only 'code'"
            )));
        }
        // RFC 7591 §2.1: the authorization_code grant goes with the code response type.
        let has_code_response = response_types.iter().any(|r| r == CODE);
        if has_code_grant != has_code_response {
            return Err(OAuthError::invalid_client_metadata(format!(
                "grant_types {grant_types:?} and response_types {response_types:?} disagree: \
                 the 'authorization_code' grant needs the 'code' response type and the other \
                 way round (RFC 7591 §2.1)"
            )));
        }
        // OAuth 2.1 §4.2: only a client that can authenticate may use client_credentials;
        // the same holds for token exchange and the identity assertion grant.
        if let Some(grant) = grant_types
            .iter()
            .filter_map(|g| GrantType::parse(g))
            .find(|g| g.needs_confidential_client())
        {
            if !token_endpoint_auth_method.is_confidential() {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "the {grant} grant needs a confidential client: register \
                     token_endpoint_auth_method client_secret_basic, client_secret_post or \
                     private_key_jwt (OAuth 2.1 §4.2)"
                )));
            }
            if self.application_type.as_deref() == Some(NATIVE) {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "the {grant} grant needs a confidential client, and a native \
                     app is a public client whatever secret it holds (OAuth 2.1 §2.1, §8.1; \
                     RFC 8252 §8.5): register it as application_type 'web' or drop \
                     {grant}"
                )));
            }
        }
        let redirect_uris = self.redirect_uris.unwrap_or_default();
        if has_code_grant && redirect_uris.is_empty() {
            return Err(OAuthError::invalid_redirect_uri(
                "redirect_uris is required for the authorization_code grant (RFC 7591 §2)",
            ));
        }
        for uri in &redirect_uris {
            redirect_uri::validate_for_registration(uri, schemes)?;
        }
        if let Some(name) = &self.client_name {
            if name.trim().is_empty()
                || name.chars().count() > MAX_NAME_LEN
                || name.chars().any(char::is_control)
            {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "client_name must be 1 to {MAX_NAME_LEN} printable characters"
                )));
            }
        }
        for (member, value) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(value) = value {
                check_web_url(member, value)?;
            }
        }
        if let Some(scope) = &self.scope {
            Scope::parse(Some(scope))
                .map_err(|e| OAuthError::invalid_client_metadata(e.description))?;
        }
        if let Some(kind) = self.application_type.as_deref() {
            if kind != NATIVE && kind != "web" {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "application_type '{kind}' is not 'native' or 'web' (OpenID Connect \
                     Registration §2)"
                )));
            }
        }
        Ok(ClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types: grant_types
                .iter()
                .filter_map(|g| GrantType::parse(g))
                .collect(),
            response_types,
            client_name: self.client_name,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            scope: self.scope,
            contacts: self.contacts,
            tos_uri: self.tos_uri,
            policy_uri: self.policy_uri,
            software_id: self.software_id,
            software_version: self.software_version,
            application_type: self.application_type,
            jwks: self.jwks,
            jwks_uri: self.jwks_uri,
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg,
        })
    }
}

/// RFC 7591 §2: a `private_key_jwt` client registers its public keys, inline (`jwks`) or
/// by reference (`jwks_uri`), never both; and whatever keys a client registers must be
/// keys this server can verify with.
fn check_keys(
    method: AuthMethod,
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
    alg: Option<&str>,
) -> Result<(), OAuthError> {
    let refuse = |why: String| OAuthError::invalid_client_metadata(why).rule(&rules::CA_7);
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(refuse(
            "jwks and jwks_uri are both present; register one of them (RFC 7591 §2)".to_owned(),
        ));
    }
    if let Some(jwks) = jwks {
        jwks::check_jwks(jwks).map_err(refuse)?;
    }
    if let Some(uri) = jwks_uri {
        let secure = match url::Url::parse(uri) {
            Ok(url) if url.fragment().is_none() => {
                url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url))
            }
            _ => false,
        };
        if !secure {
            return Err(refuse(format!(
                "jwks_uri '{uri}' must be an https URL without a fragment (http only on a \
                 loopback host, for local development)"
            )));
        }
    }
    if method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
        return Err(refuse(
            "a private_key_jwt client must register its public keys: jwks (the JWK Set) or \
             jwks_uri (where it publishes it) (RFC 7591 §2)"
                .to_owned(),
        ));
    }
    if let Some(alg) = alg {
        if !jwks::ALGORITHMS.contains(&alg) {
            return Err(refuse(format!(
                "token_endpoint_auth_signing_alg '{alg}' is not one of {} (OpenID Connect \
                 Registration §2)",
                jwks::ALGORITHMS.join(", ")
            )));
        }
    }
    Ok(())
}

fn check_web_url(member: &str, value: &str) -> Result<(), OAuthError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(()),
        _ => Err(OAuthError::invalid_client_metadata(format!(
            "{member} '{value}' must be an absolute http or https URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn request(json: &str) -> RegistrationRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn mcp_shaped_public_client_registers() {
        let metadata = request(
            r#"{"client_name":"My MCP Client","redirect_uris":["http://127.0.0.1:53682/callback"],
            "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
            "token_endpoint_auth_method":"none","application_type":"native","foo":"bar"}"#,
        )
        .validate()
        .unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(metadata.application_type.as_deref(), Some("native"));
    }

    #[test]
    fn rfc_7591_defaults_apply() {
        let metadata = request(r#"{"redirect_uris":["https://client.example.org/cb"]}"#)
            .validate()
            .unwrap();
        assert_eq!(
            metadata.token_endpoint_auth_method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(metadata.grant_types, [GrantType::AuthorizationCode]);
        assert_eq!(metadata.response_types, [CODE]);
    }

    #[test]
    fn inconsistent_metadata_is_refused() {
        let err = request(
            r#"{"redirect_uris":["https://c.example/cb"],"grant_types":["authorization_code"],
            "response_types":["token"]}"#,
        )
        .validate()
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
        for bad in [
            r#"{"redirect_uris":["https://c.example/cb"],"grant_types":["implicit"]}"#,
            r#"{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"client_secret_jwt"}"#,
            r#"{"redirect_uris":["https://c.example/cb"],"application_type":"desktop"}"#,
            r#"{"redirect_uris":["https://c.example/cb"],"logo_uri":"javascript:alert(1)"}"#,
            r#"{"grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"none"}"#,
        ] {
            assert_eq!(
                request(bad).validate().unwrap_err().code,
                ErrorCode::InvalidClientMetadata,
                "{bad}"
            );
        }
    }

    #[test]
    fn ca_7_private_key_jwt_clients_register_their_keys() {
        let key =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let metadata = request(&format!(
            r#"{{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt",
            "jwks":{{"keys":[{key}]}},"token_endpoint_auth_signing_alg":"EdDSA"}}"#
        ))
        .validate()
        .unwrap();
        assert_eq!(
            metadata.token_endpoint_auth_method,
            AuthMethod::PrivateKeyJwt
        );
        assert!(metadata.is_confidential() && !metadata.token_endpoint_auth_method.uses_secret());
        request(
            r#"{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt",
            "jwks_uri":"https://c.example/jwks.json"}"#,
        )
        .validate()
        .unwrap();
        for (bad, why) in [
            (
                r#"{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#.to_owned(),
                "must register its public keys",
            ),
            (
                format!(
                    r#"{{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt",
                    "jwks":{{"keys":[{key}]}},"jwks_uri":"https://c.example/jwks.json"}}"#
                ),
                "both present",
            ),
            (
                r#"{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt",
                "jwks_uri":"http://c.example/jwks.json"}"#.to_owned(),
                "https URL",
            ),
            (
                r#"{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt",
                "jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}"#.to_owned(),
                "jwks key 0",
            ),
            (
                format!(
                    r#"{{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"private_key_jwt",
                    "jwks":{{"keys":[{key}]}},"token_endpoint_auth_signing_alg":"HS256"}}"#
                ),
                "HS256",
            ),
        ] {
            let error = request(&bad).validate().unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidClientMetadata, "{bad}");
            assert_eq!(error.rule_id(), Some("CA-7"), "{bad}");
            assert!(error.description.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn sec_4_native_apps_are_public_whatever_their_auth_method() {
        let native_with_secret = request(
            r#"{"redirect_uris":["http://127.0.0.1:53682/callback"],
            "token_endpoint_auth_method":"client_secret_basic","application_type":"native"}"#,
        )
        .validate()
        .unwrap();
        assert!(
            native_with_secret
                .token_endpoint_auth_method
                .is_confidential()
        );
        assert!(!native_with_secret.is_confidential());
        let web = request(
            r#"{"redirect_uris":["https://c.example/cb"],
            "token_endpoint_auth_method":"client_secret_basic","application_type":"web"}"#,
        )
        .validate()
        .unwrap();
        assert!(web.is_confidential());
        let err = request(
            r#"{"grant_types":["client_credentials"],"response_types":[],
            "token_endpoint_auth_method":"client_secret_post","application_type":"native"}"#,
        )
        .validate()
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
        assert!(err.description.contains("native app is a public client"));
    }

    #[test]
    fn machine_clients_need_no_redirect_uri() {
        let metadata = request(
            r#"{"grant_types":["client_credentials"],"response_types":[],
            "token_endpoint_auth_method":"client_secret_post"}"#,
        )
        .validate()
        .unwrap();
        assert!(metadata.redirect_uris.is_empty());
        // Without response_types: none, since there is no authorization_code grant.
        let metadata = request(
            r#"{"grant_types":["client_credentials"],
            "token_endpoint_auth_method":"client_secret_post"}"#,
        )
        .validate()
        .unwrap();
        assert!(metadata.response_types.is_empty());
        // Saying "code" without the grant is still a contradiction, and the error shows both.
        let err = request(
            r#"{"grant_types":["client_credentials"],"response_types":["code"],
            "token_endpoint_auth_method":"client_secret_post"}"#,
        )
        .validate()
        .unwrap_err();
        assert!(
            err.description.contains(r#"["client_credentials"]"#),
            "{}",
            err.description
        );
    }

    #[test]
    fn bad_or_missing_redirect_uris_are_invalid_redirect_uri() {
        for bad in [
            r#"{"redirect_uris":["http://evil.example/cb"]}"#,
            r#"{"redirect_uris":["https://x/cb#f"]}"#,
            r#"{"client_name":"no uris"}"#,
        ] {
            assert_eq!(
                request(bad).validate().unwrap_err().code,
                ErrorCode::InvalidRedirectUri,
                "{bad}"
            );
        }
    }
}
