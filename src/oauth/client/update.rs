//! RFC 7592 §2.2 client updates: what a client may send when it replaces its own metadata
//! at the client configuration endpoint (checklist OPT-3).

use super::{Client, ClientMetadata, RegistrationRequest};
use crate::oauth::error::OAuthError;
use crate::oauth::redirect_uri::RedirectSchemes;
use serde_json::Value;

/// Members a client must not send in an update (RFC 7592 §2.2): the server owns them.
const SERVER_OWNED: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// An update as sent, checked for the members RFC 7592 §2.2 rules on.
#[derive(Debug)]
pub struct ClientUpdate {
    document: Value,
    /// The `client_secret` the update carries, which must be the current one: a client
    /// cannot choose its own secret. Checking it is slow for chosen secrets (argon2), so the
    /// caller verifies it.
    pub client_secret: Option<Value>,
}

impl ClientUpdate {
    /// Reads an update of `current`: it names the client's own id, carries no member the
    /// server owns, and is client metadata.
    pub fn parse(body: &[u8], current: &Client) -> Result<Self, OAuthError> {
        let document: Value = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_client_metadata(format!("the body is not a JSON object: {e}"))
        })?;
        check_client_id(document.get("client_id"), &current.client_id)?;
        if let Some(member) = SERVER_OWNED.iter().find(|m| document.get(**m).is_some()) {
            return Err(OAuthError::invalid_client_metadata(format!(
                "'{member}' is set by the server and must not be sent in an update \
                 (RFC 7592 §2.2)"
            )));
        }
        Ok(ClientUpdate {
            client_secret: document.get("client_secret").cloned(),
            document,
        })
    }

    /// The new metadata of `current`, by the rules of registration (RFC 7591 §2), except
    /// that the authentication method stays: a public client cannot become confidential or
    /// the other way round without a new registration.
    pub fn apply(
        self,
        current: &Client,
        schemes: RedirectSchemes,
    ) -> Result<ClientMetadata, OAuthError> {
        let metadata = RegistrationRequest::from_json(serde_json::from_value(self.document))?
            .validate_under(schemes)?;
        let (was, now) = (
            current.metadata.token_endpoint_auth_method,
            metadata.token_endpoint_auth_method,
        );
        if was != now {
            return Err(OAuthError::invalid_client_metadata(format!(
                "token_endpoint_auth_method cannot change from '{was}' to '{now}'; register a \
                 new client instead"
            )));
        }
        Ok(metadata)
    }
}

/// A `client_secret` in an update that is not the client's current one.
pub fn secret_not_current() -> OAuthError {
    OAuthError::invalid_client_metadata(
        "client_secret does not match the current secret; a client cannot choose its own \
         secret (RFC 7592 §2.2)",
    )
}

/// RFC 7592 §2.2: "The client MUST include its client_id field in the request, and it MUST
/// be the same as its currently issued client identifier."
fn check_client_id(sent: Option<&Value>, expected: &str) -> Result<(), OAuthError> {
    let why = match sent {
        Some(Value::String(id)) if id == expected => return Ok(()),
        None => format!("an update must include this client's client_id, '{expected}'"),
        Some(Value::String(id)) => format!(
            "the update's client_id is '{id}', but this is client '{expected}': an update \
             cannot change a client's id, and this URL updates only '{expected}'"
        ),
        Some(other) => format!("client_id must be this client's id, '{expected}', not {other}"),
    };
    Err(OAuthError::invalid_request(format!(
        "{why} (RFC 7592 §2.2)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::{ClientPolicy, ClientSource};
    use crate::oauth::error::ErrorCode;
    use serde_json::json;

    fn client() -> Client {
        Client {
            client_id: "c1".to_owned(),
            secret_digest: None,
            registration_token_digest: None,
            metadata: RegistrationRequest {
                redirect_uris: Some(vec!["https://c.example/cb".to_owned()]),
                token_endpoint_auth_method: Some("none".to_owned()),
                ..Default::default()
            }
            .validate()
            .unwrap(),
            created_at: 0,
            source: ClientSource::Dynamic,
            policy: ClientPolicy::default(),
        }
    }

    fn update(body: serde_json::Value) -> Result<ClientMetadata, OAuthError> {
        ClientUpdate::parse(body.to_string().as_bytes(), &client())?
            .apply(&client(), RedirectSchemes::Native)
    }

    #[test]
    fn an_update_names_this_client() {
        assert_eq!(check_client_id(Some(&json!("c1")), "c1"), Ok(()));
        let refused = |sent: Option<Value>| {
            let error = check_client_id(sent.as_ref(), "c1").unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            error.description.into_owned()
        };
        assert!(refused(None).contains("must include this client's client_id, 'c1'"));
        let other = refused(Some(json!("c2")));
        assert!(
            other.contains("client_id is 'c2', but this is client 'c1'"),
            "{other}"
        );
        assert!(refused(Some(json!(7))).contains("not 7"));
    }

    #[test]
    fn opt_3_an_update_replaces_metadata_by_the_registration_rules() {
        let metadata = update(json!({
            "client_id": "c1", "redirect_uris": ["https://c.example/other"],
            "token_endpoint_auth_method": "none", "client_name": "Renamed"
        }))
        .unwrap();
        assert_eq!(metadata.redirect_uris, ["https://c.example/other"]);
        assert_eq!(metadata.client_name.as_deref(), Some("Renamed"));
        for member in SERVER_OWNED {
            let mut body = json!({"client_id": "c1", "redirect_uris": ["https://c.example/cb"],
                                  "token_endpoint_auth_method": "none"});
            body[member] = json!("x");
            let error = update(body).unwrap_err();
            assert!(error.description.contains(member), "{error}");
        }
        let error = update(
            json!({"client_id": "c1", "redirect_uris": ["https://c.example/cb"],
                                  "token_endpoint_auth_method": "client_secret_post"}),
        )
        .unwrap_err();
        assert!(
            error.description.contains("cannot change from 'none'"),
            "{error}"
        );
        let error = update(
            json!({"client_id": "c1", "redirect_uris": ["http://evil.example/cb"],
                                  "token_endpoint_auth_method": "none"}),
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRedirectUri);
    }
}
