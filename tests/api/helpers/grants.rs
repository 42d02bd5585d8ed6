//! Requests of the grants beyond the browser: the device flow's endpoints and page, token
//! exchange, and the clients they need.

use super::{RegisteredClient, TestApp, hidden_field};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// The hidden fields of a device verification page that asks for a decision.
#[derive(Debug, Clone)]
pub struct DeviceForm {
    pub user_code: String,
    pub csrf_token: String,
    pub html: String,
}

impl TestApp {
    /// A public client of the device flow (with refresh tokens), as a CLI registers.
    pub async fn device_client(&self) -> RegisteredClient {
        self.register_ok(&json!({
            "client_name": "Test CLI",
            "grant_types": [DEVICE_CODE, "refresh_token"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        }))
        .await
    }

    /// `POST /device_authorization` by a public client, with `extra` parameters.
    pub async fn device_authorization(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("client_id", client_id)];
        form.extend_from_slice(extra);
        self.http
            .post(self.url("/device_authorization"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// A device authorization that must succeed, for the standard resource and scope.
    pub async fn device_codes(&self, client_id: &str) -> Value {
        let response = self
            .device_authorization(
                client_id,
                &[("resource", super::RESOURCE), ("scope", "mcp:tools")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A poll of the token endpoint by a public client.
    pub async fn poll(&self, client_id: &str, device_code: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", DEVICE_CODE),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .await
    }

    /// `GET /device?user_code=...` as a browser.
    pub async fn device_page(&self, user_code: &str) -> reqwest::Response {
        self.http
            .get(self.url("/device"))
            .query(&[("user_code", user_code)])
            .send()
            .await
            .unwrap()
    }

    /// The verification page for a code that must be pending.
    pub async fn device_form(&self, user_code: &str) -> DeviceForm {
        let response = self.device_page(user_code).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        DeviceForm {
            user_code: hidden_field(&html, "user_code"),
            csrf_token: hidden_field(&html, "csrf_token"),
            html,
        }
    }

    /// Submits a decision on the verification page as the browser would.
    pub async fn device_decide(
        &self,
        form: &DeviceForm,
        decision: &str,
        user: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url("/device"))
            .form(&[
                ("user_code", form.user_code.as_str()),
                ("csrf_token", form.csrf_token.as_str()),
                ("decision", decision),
                ("user", user),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Submits a decision with a password on the verification page.
    pub async fn device_decide_with_password(
        &self,
        form: &DeviceForm,
        decision: &str,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url("/device"))
            .form(&[
                ("user_code", form.user_code.as_str()),
                ("csrf_token", form.csrf_token.as_str()),
                ("decision", decision),
                ("user", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A token exchange by a confidential client with HTTP Basic authentication.
    pub async fn token_exchange(
        &self,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut body = vec![("grant_type", TOKEN_EXCHANGE)];
        body.extend_from_slice(form);
        self.http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&body)
            .send()
            .await
            .unwrap()
    }
}
