//! The device authorization grant (RFC 8628; checklist OPT-4, DEV-1..DEV-4): the endpoint,
//! the verification page, polling and its errors, the headless modes and the command line.

use crate::helpers::{
    Backend, RESOURCE, TestApp, assert_error_page, assert_oauth_error, jwt_payload, run_tollgate,
    visible,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use tollgate::config::{ConsentMode, DeclaredClient, User};

/// OPT-4: the whole flow through the page: the codes, the page reached by
/// `verification_uri_complete` showing the code, approval, tokens on the next poll (a refresh
/// token too, as in the code flow), and a device code that works once.
async fn opt_4_a_device_gets_tokens_once_its_user_approves_on_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let metadata = app.metadata().await;
    assert_eq!(
        metadata["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    assert!(
        metadata["grant_types_supported"]
            .to_string()
            .contains("device_code")
    );
    let client = app.device_client().await;
    let response = app
        .device_authorization(
            &client.client_id,
            &[("resource", RESOURCE), ("scope", "mcp:tools")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let codes: Value = response.json().await.unwrap();
    let user_code = codes["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "XXXX-XXXX: {user_code}");
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    assert_eq!(codes["verification_uri"], app.url("/device"));
    assert_eq!(
        codes["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.url("/device"))
    );
    assert_eq!(codes["interval"], 5);
    assert_eq!(codes["expires_in"], 600);
    let device_code = codes["device_code"].as_str().unwrap();

    let pending = app.poll(&client.client_id, device_code).await;
    assert_oauth_error(pending, StatusCode::BAD_REQUEST, "authorization_pending").await;

    // The page shows the code to compare with the device's, and the request.
    let page = app
        .http
        .get(codes["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(user_code) && html.contains("Test CLI") && visible(&html).contains(RESOURCE),
        "{html}"
    );
    let form = app
        .device_form(&user_code.to_lowercase().replace('-', " "))
        .await;
    let decided = app.device_decide(&form, "approve", "dev").await;
    assert_eq!(decided.status(), StatusCode::OK);
    assert!(decided.text().await.unwrap().contains("You approved"));

    app.clock.advance(5);
    let tokens = app.poll(&client.client_id, device_code).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    let claims = app
        .verify_access_token(tokens["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "dev");
    assert_eq!(claims["client_id"], client.client_id);
    assert_eq!(tokens["scope"], "mcp:tools");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token, as in the code flow");
    let refreshed = app.refresh(&client.client_id, refresh, &[]).await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    app.clock.advance(5);
    let again = app.poll(&client.client_id, device_code).await;
    let why = assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(why.contains("already exchanged"), "{why}");
}

/// DEV-2, DEV-3: polling errors: `slow_down` within the interval, which then grows by 5 s
/// for good; `access_denied` after a denial; `expired_token` after the lifetime; another
/// client's or an unknown device code is `invalid_grant`.
async fn dev_2_dev_3_polling_errors_follow_rfc_8628(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.device_client().await;
    let codes = app.device_codes(&client.client_id).await;
    let device_code = codes["device_code"].as_str().unwrap();
    let poll = || app.poll(&client.client_id, device_code);
    assert_oauth_error(
        poll().await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    )
    .await;
    let fast = assert_oauth_error(poll().await, StatusCode::BAD_REQUEST, "slow_down").await;
    assert!(fast.contains("now 10 s"), "{fast}");
    app.clock.advance(6);
    assert_oauth_error(poll().await, StatusCode::BAD_REQUEST, "slow_down").await;
    app.clock.advance(15);
    let pending = assert_oauth_error(
        poll().await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    )
    .await;
    assert!(
        pending.contains("in 15 s"),
        "the interval stays longer: {pending}"
    );

    let other = app.device_client().await;
    let stolen = app.poll(&other.client_id, device_code).await;
    assert_oauth_error(stolen, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let unknown = app.poll(&client.client_id, "not-a-device-code").await;
    assert_oauth_error(unknown, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let form = app.device_form(codes["user_code"].as_str().unwrap()).await;
    let denied = app.device_decide(&form, "deny", "dev").await;
    assert_eq!(denied.status(), StatusCode::OK);
    app.clock.advance(20);
    assert_oauth_error(poll().await, StatusCode::BAD_REQUEST, "access_denied").await;

    let late = app.device_codes(&client.client_id).await;
    app.clock.advance(600);
    let expired = app
        .poll(&client.client_id, late["device_code"].as_str().unwrap())
        .await;
    assert_oauth_error(expired, StatusCode::BAD_REQUEST, "expired_token").await;
    let page = app.device_page(late["user_code"].as_str().unwrap()).await;
    assert!(
        assert_error_page_text(page, StatusCode::BAD_REQUEST)
            .await
            .contains("expired")
    );
}

async fn assert_error_page_text(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    response.text().await.unwrap()
}

/// DEV-1: a code is found however it is typed, and wrong codes from one address are
/// refused once too many, whatever comes next (RFC 8628 §5.1).
async fn dev_1_wrong_user_codes_are_rate_limited(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.device.user_code_failures_per_minute = 2)
        .spawn()
        .await;
    let client = app.device_client().await;
    let codes = app.device_codes(&client.client_id).await;
    for wrong in ["BBBB-BBBB", "not a code"] {
        let page = app.device_page(wrong).await;
        let html = assert_error_page_text(page, StatusCode::BAD_REQUEST).await;
        assert!(html.contains("not a code Tollgate gave out"), "{html}");
    }
    let blocked = app.device_page(codes["user_code"].as_str().unwrap()).await;
    let html = assert_error_page(blocked, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(html.contains("too many wrong user codes"), "{html}");
    // The entry form itself needs no code.
    let entry = app.http.get(app.url("/device")).send().await.unwrap();
    assert_eq!(entry.status(), StatusCode::OK);
    assert!(entry.text().await.unwrap().contains("name=\"user_code\""));
}

/// DEV-4: the decision needs the page's CSRF token and the browser's cookie, counts once,
/// and names a real user; a user with a password gives it.
async fn dev_4_the_verification_form_is_protected_like_the_consent_form(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.users.push(User {
                password: Some(tollgate::secret::Secret::new("wonderland")),
                ..User::named("alice")
            })
        })
        .spawn()
        .await;
    let client = app.device_client().await;
    let codes = app.device_codes(&client.client_id).await;
    let form = app.device_form(codes["user_code"].as_str().unwrap()).await;
    assert!(form.html.contains("type=\"password\""));
    let forged = crate::helpers::DeviceForm {
        csrf_token: "forged".into(),
        ..form.clone()
    };
    let refused = app.device_decide(&forged, "approve", "dev").await;
    assert_error_page(refused, StatusCode::FORBIDDEN).await;
    let stranger = crate::helpers::client();
    let no_cookie = stranger
        .post(app.url("/device"))
        .form(&[
            ("user_code", form.user_code.as_str()),
            ("csrf_token", form.csrf_token.as_str()),
            ("decision", "approve"),
            ("user", "dev"),
        ])
        .send()
        .await
        .unwrap();
    assert_error_page(no_cookie, StatusCode::FORBIDDEN).await;
    let nobody = app.device_decide(&form, "approve", "mallory").await;
    assert_error_page(nobody, StatusCode::BAD_REQUEST).await;
    let no_password = app.device_decide(&form, "approve", "alice").await;
    assert_error_page(no_password, StatusCode::FORBIDDEN).await;
    let approved = app.device_decide(&form, "approve", "dev").await;
    assert_eq!(approved.status(), StatusCode::OK);
    let twice = app.device_decide(&form, "deny", "dev").await;
    let html = assert_error_page(twice, StatusCode::BAD_REQUEST).await;
    assert!(html.contains("already decided"), "{html}");
}

/// OPT-4: `consent.mode = "auto"` approves on the first poll as the configured user;
/// `"deny"` denies; a client that did not register the grant gets `unauthorized_client`.
async fn opt_4_headless_consent_decides_on_the_first_poll(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.users.push(User::named("alice"));
            c.consent.mode = ConsentMode::Auto;
            c.consent.user = Some("alice".into());
            let mut denied = DeclaredClient::public("denied-tv", &[]);
            denied.grant_types = vec!["urn:ietf:params:oauth:grant-type:device_code".into()];
            denied.consent = Some(ConsentMode::Deny);
            c.clients.push(denied);
        })
        .spawn()
        .await;
    let client = app.device_client().await;
    let codes = app.device_codes(&client.client_id).await;
    let tokens = app
        .poll(&client.client_id, codes["device_code"].as_str().unwrap())
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(
        jwt_payload(tokens["access_token"].as_str().unwrap())["sub"],
        "alice"
    );

    let denied = app.device_codes("denied-tv").await;
    let refused = app
        .poll("denied-tv", denied["device_code"].as_str().unwrap())
        .await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "access_denied").await;

    let code_client = app.public_client().await;
    let wrong = app.device_authorization(&code_client.client_id, &[]).await;
    assert_oauth_error(wrong, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    let bad_scope = app
        .device_authorization(&client.client_id, &[("resource", "not a uri")])
        .await;
    assert_oauth_error(bad_scope, StatusCode::BAD_REQUEST, "invalid_target").await;
}

/// OPT-4: `tollgate device approve CODE --user alice` approves from a terminal; the user
/// must be declared; a code can be decided once.
async fn opt_4_tollgate_device_approve_decides_from_the_command_line(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.users.push(User::named("alice")))
        .spawn()
        .await;
    let client = app.device_client().await;
    let codes = app.device_codes(&client.client_id).await;
    let user_code = codes["user_code"].as_str().unwrap();
    let db = app.database_url().to_owned();
    let env = [("TOLLGATE_USERS", "[\"alice\"]")];
    let stranger = run_tollgate(
        &[
            "device",
            "approve",
            user_code,
            "--user",
            "mallory",
            "--database-url",
            &db,
        ],
        &env,
    );
    assert!(!stranger.status.success());
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("'mallory' is not a user"));
    let approved = run_tollgate(
        &[
            "device",
            "approve",
            user_code,
            "--user",
            "alice",
            "--database-url",
            &db,
        ],
        &env,
    );
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let printed = String::from_utf8(approved.stdout).unwrap();
    assert!(
        printed.contains(&format!("approved {user_code}")) && printed.contains("as alice"),
        "{printed}"
    );
    let events = run_tollgate(&["events", "--database-url", &db], &[]);
    let events = String::from_utf8(events.stdout).unwrap();
    assert!(
        events
            .lines()
            .any(|line| line.contains("consent.approved") && line.contains("user=alice")),
        "the command line's decision is in the event log: {events}"
    );
    let again = run_tollgate(&["device", "deny", user_code, "--database-url", &db], &[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already decided"));
    let tokens = app
        .poll(&client.client_id, codes["device_code"].as_str().unwrap())
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(
        jwt_payload(tokens["access_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

on_both_backends!(
    opt_4_a_device_gets_tokens_once_its_user_approves_on_the_page,
    dev_2_dev_3_polling_errors_follow_rfc_8628,
    dev_1_wrong_user_codes_are_rate_limited,
    dev_4_the_verification_form_is_protected_like_the_consent_form,
    opt_4_headless_consent_decides_on_the_first_poll,
    opt_4_tollgate_device_approve_decides_from_the_command_line,
);
