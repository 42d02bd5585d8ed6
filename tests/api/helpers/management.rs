//! RFC 7592 client management: reading, updating and deleting a registered client at its
//! client configuration endpoint with its registration access token.

use super::{RegisteredClient, TestApp};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

impl RegisteredClient {
    /// The client configuration endpoint (`registration_client_uri`) and the registration
    /// access token of the registration response (RFC 7591 §3.2.1, RFC 7592 §3).
    pub fn management(&self) -> (String, String) {
        let member = |name: &str| {
            self.body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in the registration response"))
                .to_owned()
        };
        (
            member("registration_client_uri"),
            member("registration_access_token"),
        )
    }
}

impl TestApp {
    /// A request to the client configuration endpoint `uri` with `token` as the bearer
    /// token (RFC 7592 §2), to send as it is or with more on it.
    pub fn management_request(&self, method: Method, uri: &str, token: &str) -> RequestBuilder {
        self.http.request(method, uri).bearer_auth(token)
    }

    /// RFC 7592 §2.1: reads the client's configuration.
    pub async fn read_client(&self, uri: &str, token: &str) -> Response {
        self.management_request(Method::GET, uri, token)
            .send()
            .await
            .unwrap()
    }

    /// RFC 7592 §2.2: replaces the client's metadata with `metadata` (a JSON body).
    pub async fn update_client(&self, uri: &str, token: &str, metadata: &Value) -> Response {
        self.management_request(Method::PUT, uri, token)
            .json(metadata)
            .send()
            .await
            .unwrap()
    }

    /// RFC 7592 §2.3: deletes the client.
    pub async fn delete_client(&self, uri: &str, token: &str) -> Response {
        self.management_request(Method::DELETE, uri, token)
            .send()
            .await
            .unwrap()
    }
}

/// The body of a successful read or update (200), and the registration access token it
/// hands over for the next request (RFC 7592 §3 requires the member; §5 allows a new one).
pub async fn client_information(response: Response) -> (Value, String) {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let next = body["registration_access_token"]
        .as_str()
        .expect("RFC 7592 §3: registration_access_token is REQUIRED")
        .to_owned();
    (body, next)
}
