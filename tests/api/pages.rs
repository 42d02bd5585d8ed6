//! The consent page and the error pages as a newcomer sees them (issue 19): who asks, for
//! what, described; the new scopes of a step-up marked; the request details for developers;
//! the password field only for users with one; recoverable mistakes kept on the page; a
//! heading per kind of dead end, naming the client.

use crate::helpers::{
    Backend, CALLBACK, RESOURCE, TestApp, assert_error_page, checked_user, hidden_field, visible,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use tollgate::config::User;
use tollgate::oauth::resource::Resource;
use tollgate::secret::Secret;

on_both_backends!(
    scopes_are_described_and_a_step_up_marks_the_new_ones,
    the_request_details_and_the_resource_are_explained,
    an_unnamed_client_is_not_named_by_its_id,
    a_logo_is_shown_when_the_client_gives_one,
    the_password_field_is_for_users_who_have_one,
    the_configured_consent_user_is_preselected,
    too_many_wrong_passwords_stay_on_the_page_and_stay_refused,
    each_dead_end_has_its_heading_and_names_the_client,
);

/// A server whose resource describes its scopes, and where alice has a password.
async fn described(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![Resource {
                scope_descriptions: BTreeMap::from([
                    ("mcp:tools".to_owned(), "Use the tools".to_owned()),
                    ("mcp:admin".to_owned(), "Change the settings".to_owned()),
                ]),
                ..Resource::with_scopes(RESOURCE, &["mcp:tools", "mcp:admin"])
            }];
            c.users.push(User {
                name: Some("Alice Example".to_owned()),
                password: Some(Secret::new("wonderland")),
                ..User::named("alice")
            });
            c.users.push(User::named("bob"));
        })
        .spawn()
        .await
}

/// The markup of one scope on the page, up to its description.
fn scope_item(html: &str, scope: &str) -> String {
    let start = html
        .find(&format!("<li><code>{scope}</code>"))
        .unwrap_or_else(|| panic!("no scope {scope} in {html}"));
    let end = html[start..].find("</li>").unwrap() + start;
    html[start..end].to_owned()
}

/// Declared descriptions are shown; a first request marks nothing; a step-up marks only
/// the scopes no earlier grant of the client carried.
async fn scopes_are_described_and_a_step_up_marks_the_new_ones(backend: Backend) {
    let app = described(backend).await;
    let client = app.public_client().await;
    let first = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let tools = scope_item(&first.html, "mcp:tools");
    assert!(tools.contains("Use the tools"), "{tools}");
    assert!(!first.html.contains(r#"class="new""#), "{}", first.html);
    let response = app.decide(&first, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let step_up = app
        .consent_form(&app.authorize_params(
            &client.client_id,
            &[("scope", "mcp:tools mcp:admin openid")],
        ))
        .await;
    let admin = scope_item(&step_up.html, "mcp:admin");
    assert!(admin.contains(r#"<span class="new">new</span>"#), "{admin}");
    assert!(admin.contains("Change the settings"), "{admin}");
    let openid = scope_item(&step_up.html, "openid");
    assert!(
        openid.contains(r#"<span class="new">new</span>"#),
        "{openid}"
    );
    assert!(
        openid.contains("ID token"),
        "a server scope is described: {openid}"
    );
    let tools = scope_item(&step_up.html, "mcp:tools");
    assert!(!tools.contains("new"), "granted before: {tools}");
    assert!(step_up.html.contains("it now asks for more"));

    // Another client's grants do not count.
    let other = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&other.client_id, &[("scope", "mcp:admin")]))
        .await;
    assert!(!form.html.contains(r#"class="new""#), "{}", form.html);
}

/// The collapsed panel has what a developer checks; a request without `resource` says
/// that its tokens go to the default audience, and why.
async fn the_request_details_and_the_resource_are_explained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let html = visible(&form.html);
    let start = html.find("<details>").expect("a details panel");
    assert!(!html[start..].starts_with("<details open"), "collapsed");
    let details = &html[start..html.find("</details>").unwrap()];
    assert!(details.contains("<summary>Request details</summary>"));
    for (label, value) in [
        ("Client ID", client.client_id.as_str()),
        ("Redirect URI", CALLBACK),
        ("Resource", RESOURCE),
        ("Scope", "mcp:tools"),
        ("PKCE", "S256"),
        ("State", "st1"),
        ("Registered", "dynamic"),
        (
            "Token lifetimes",
            "access token 5 minutes, refresh token 30 days",
        ),
    ] {
        assert!(
            details.contains(&format!("<dt>{label}</dt><dd class=\"url\">{value}")),
            "{label}: {value} in {details}"
        );
    }
    assert!(html.contains("The tokens work there and nowhere else"));

    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("resource", "")]))
        .await;
    let html = visible(&form.html);
    assert!(
        html.contains(&format!("<span class=\"url\">{}</span>", app.issuer)),
        "{html}"
    );
    assert!(html.contains("named no MCP server"), "{html}");
}

/// A client without a name is not shown as its UUID in the heading; the id is in the
/// details panel, once.
async fn an_unnamed_client_is_not_named_by_its_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app
        .register_ok(&json!({
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert!(
        form.html
            .contains("<h1>An application without a name wants to access"),
        "{}",
        form.html
    );
    assert_eq!(
        visible(&form.html).matches(&client.client_id).count(),
        1,
        "{}",
        form.html
    );
    assert!(
        form.html
            .contains("<title>Authorize An application without a name")
    );
}

/// A client's https logo is shown, and the page's policy lets the browser load it.
async fn a_logo_is_shown_when_the_client_gives_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app
        .register_ok(&json!({
            "client_name": "Logo app",
            "logo_uri": "https://logo.example/app.png",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src https:"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<img src="https://logo.example/app.png" alt="""#),
        "{html}"
    );
    assert!(html.contains("<strong>Logo app</strong> wants"), "{html}");
}

/// Each user's radio says whether they have a password, which shows the one password
/// field; a server where nobody has a password shows none.
async fn the_password_field_is_for_users_who_have_one(backend: Backend) {
    let app = described(backend).await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert!(
        form.html
            .contains(r#"name="user" value="alice" data-password>"#),
        "{}",
        form.html
    );
    assert!(
        form.html.contains(r#"name="user" value="bob">"#),
        "{}",
        form.html
    );
    assert!(form.html.contains(r#"name="user" value="dev" checked>"#));
    assert_eq!(form.html.matches(r#"type="password""#).count(), 1);
    assert!(
        form.html
            .contains("form:has(input[data-password]:checked) .password")
    );

    let plain = TestApp::spawn(backend).await;
    let client = plain.public_client().await;
    let form = plain
        .consent_form(&plain.authorize_params(&client.client_id, &[]))
        .await;
    assert!(!form.html.contains(r#"type="password""#), "{}", form.html);
    assert!(!form.html.contains("data-password>"), "{}", form.html);
}

/// `[consent] user` chooses who the page selects; `login_hint` still wins.
async fn the_configured_consent_user_is_preselected(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.users.push(User::named("alice"));
            c.users.push(User::named("bob"));
            c.consent.user = Some("bob".to_owned());
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(checked_user(&form.html).as_deref(), Some("bob"));
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("login_hint", "alice")]))
        .await;
    assert_eq!(checked_user(&form.html).as_deref(), Some("alice"));
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("login_hint", "nobody")]))
        .await;
    assert_eq!(checked_user(&form.html).as_deref(), Some("bob"));
}

/// Wrong passwords keep the form, and past the limit even the right one is refused on
/// the page (429) until the limit passes.
async fn too_many_wrong_passwords_stay_on_the_page_and_stay_refused(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.client_auth_failures_per_minute = 2;
            c.users.push(User {
                password: Some(Secret::new("wonderland")),
                ..User::named("alice")
            });
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("login_hint", "alice")]))
        .await;
    for _ in 0..2 {
        let page = assert_error_page(
            app.approve_with_password(&form, "alice", "guess").await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert!(page.contains("wrong password"), "{page}");
        assert_eq!(hidden_field(&page, "request_id"), form.request_id);
    }
    let page = assert_error_page(
        app.approve_with_password(&form, "alice", "wonderland")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    assert!(page.contains("too many wrong passwords"), "{page}");
    assert!(
        page.contains(r#"role="alert""#),
        "on the consent page: {page}"
    );
    assert_eq!(hidden_field(&page, "request_id"), form.request_id);
    assert_eq!(checked_user(&page).as_deref(), Some("alice"));
    // Nothing was issued.
    let issued = app.events_of_type(&client.client_id, "code.issued").await;
    assert!(issued.is_empty(), "{issued:?}");
}

/// The dead-end pages say what kind of problem it is, and who asked when that is known.
async fn each_dead_end_has_its_heading_and_names_the_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = assert_error_page(
        app.get_authorize(&app.authorize_params("no-such-client", &[]))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        unknown.contains("<h1>Tollgate does not know this application</h1>"),
        "{unknown}"
    );
    assert!(!unknown.contains("The sign-in request came from"));

    let client = app
        .register_ok(&json!({
            "client_name": "Named Tools",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let wrong_redirect = assert_error_page(
        app.get_authorize(&app.authorize_params(
            &client.client_id,
            &[("redirect_uri", "http://127.0.0.1:9/elsewhere")],
        ))
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        wrong_redirect.contains("<h1>The application&#39;s sign-in request is not valid</h1>"),
        "{wrong_redirect}"
    );
    assert!(
        wrong_redirect.contains("The sign-in request came from <strong>Named Tools</strong>"),
        "{wrong_redirect}"
    );

    // A form from another browser session.
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let response = app.approve_from_another_browser(&form).await;
    let page = assert_error_page(response, StatusCode::FORBIDDEN).await;
    assert!(
        page.contains("<h1>This form can no longer be used</h1>"),
        "{page}"
    );
    assert!(page.contains("Named Tools"), "{page}");
    assert!(page.contains("Nothing was decided"), "{page}");
}
