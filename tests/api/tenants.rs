//! Several issuers in one process (issue 17 item 3): each tenant is an issuer of its own,
//! with its own metadata (RFC 8414 §3.1 path insertion, checklist MD-2, MD-3, MD-9), keys,
//! users, clients, consent mode and store, and nothing of one is accepted by another.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate::config::{ConsentMode, DeclaredClient, User};

on_both_backends!(
    md_2_md_3_md_9_each_tenant_publishes_its_own_metadata_and_keys,
    each_tenant_has_its_own_users_clients_and_consent_mode,
    every_credential_of_one_tenant_is_refused_by_another,
    a_tenants_state_survives_a_restart_in_its_own_store,
    cli_commands_act_on_the_tenant_they_name,
);

/// Two tenants beside the default one, each with open registration, a resource server
/// that may introspect, and a user of its own.
fn two_tenants(backend: Backend) -> TestAppBuilder {
    let tenant = |user: &'static str| {
        move |c: &mut tollgate::Config| {
            c.users.push(User::named(user));
            c.clients.push(DeclaredClient::resource_server(
                RESOURCE_SERVER,
                "resource-server-secret",
            ));
        }
    };
    TestApp::builder(backend)
        .with_resource_server()
        .tenant("acme", tenant("carol"))
        .tenant("beta", tenant("bob"))
}

async fn get_json(app: &TestApp, url: &str) -> (StatusCode, Value) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status();
    let body = if status == StatusCode::OK {
        response.json().await.unwrap()
    } else {
        Value::Null
    };
    (status, body)
}

/// MD-2, MD-3, MD-9: each tenant's metadata sits at every URL clients probe for an issuer
/// with a path, names that issuer exactly, and advertises endpoints under it, every one of
/// them served (MD-17); its JWKS has keys of its own. The default tenant keeps today's
/// URLs, and an undeclared tenant has no metadata (MD-18).
async fn md_2_md_3_md_9_each_tenant_publishes_its_own_metadata_and_keys(backend: Backend) {
    let app = two_tenants(backend).spawn().await;
    let root = format!("http://{}", app.addr);
    assert_eq!(app.issuer, root);
    let (status, default_doc) = get_json(
        &app,
        &format!("{root}/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(default_doc["issuer"], root);
    assert_eq!(default_doc["token_endpoint"], format!("{root}/token"));

    let mut kids = vec![app.jwks().await["keys"][0]["kid"].clone()];
    for name in ["acme", "beta"] {
        let tenant = app.tenant(name);
        let issuer = format!("{root}/t/{name}");
        assert_eq!(tenant.issuer, issuer);
        for path in [
            format!("/.well-known/oauth-authorization-server/t/{name}"),
            format!("/.well-known/openid-configuration/t/{name}"),
            format!("/t/{name}/.well-known/openid-configuration"),
        ] {
            let (status, doc) = get_json(&app, &format!("{root}{path}")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(doc["issuer"], issuer, "{path}");
            for endpoint in [
                "authorization_endpoint",
                "token_endpoint",
                "registration_endpoint",
                "revocation_endpoint",
                "introspection_endpoint",
                "jwks_uri",
                "device_authorization_endpoint",
            ] {
                let url = doc[endpoint].as_str().unwrap_or_default();
                assert!(
                    url.starts_with(&format!("{issuer}/")),
                    "{path}: {endpoint} = {url}"
                );
            }
        }
        let (_, doc) = get_json(
            &app,
            &format!("{root}/.well-known/oauth-authorization-server/t/{name}"),
        )
        .await;
        // MD-17: what it advertises is served, and by this tenant.
        let (status, jwks) = get_json(&app, doc["jwks_uri"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(jwks, tenant.jwks().await);
        kids.push(jwks["keys"][0]["kid"].clone());
        let token = tenant
            .http
            .post(doc["token_endpoint"].as_str().unwrap())
            .form(&[("grant_type", "nonsense")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(token, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
        // The console of each tenant is its own, under its path.
        let console = tenant
            .http
            .get(tenant.url("/_tollgate/"))
            .send()
            .await
            .unwrap();
        assert_eq!(console.status(), StatusCode::OK);
    }
    kids.sort_by_key(ToString::to_string);
    kids.dedup();
    assert_eq!(kids.len(), 3, "each tenant signs with a key of its own");

    // MD-18: an undeclared tenant has no documents, at none of the probe URLs.
    for path in [
        "/.well-known/oauth-authorization-server/t/gamma",
        "/.well-known/openid-configuration/t/gamma",
        "/t/gamma/.well-known/openid-configuration",
        "/t/gamma/token",
    ] {
        let (status, _) = get_json(&app, &format!("{root}{path}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// Users, declared clients and the consent mode are per tenant: acme asks carol on its
/// consent page, beta approves at once as bob, and neither's client exists anywhere else.
async fn each_tenant_has_its_own_users_clients_and_consent_mode(backend: Backend) {
    let app = TestApp::builder(backend)
        .tenant("acme", |c| {
            c.users.push(User::named("carol"));
            c.clients
                .push(DeclaredClient::public("acme-app", &[CALLBACK]));
        })
        .tenant("beta", |c| {
            c.users.push(User::named("bob"));
            c.clients
                .push(DeclaredClient::public("beta-app", &[CALLBACK]));
            c.consent.mode = ConsentMode::Auto;
            c.consent.user = Some("bob".to_owned());
        })
        .spawn()
        .await;
    let (acme, beta) = (app.tenant("acme"), app.tenant("beta"));

    // acme: the consent page, with acme's user and not beta's.
    let params = acme.authorize_params("acme-app", &[]);
    let form = acme.consent_form(&params).await;
    assert!(
        form.html.contains("carol"),
        "acme's consent page names carol"
    );
    assert!(!form.html.contains("bob"), "bob is beta's user");
    let approved = acme.decide(&form, "approve", "carol").await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let callback = Callback::from_response(&approved);
    // RFC 9207: the response names the tenant's issuer.
    assert_eq!(callback.one("iss"), acme.issuer);
    let tokens = acme.redeemed("acme-app", &callback.one("code")).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = acme.verify_access_token(access, RESOURCE).await.unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["iss"], acme.issuer);
    // A resource server trusting another tenant refuses it: another issuer, other keys.
    assert!(beta.verify_access_token(access, RESOURCE).await.is_err());
    assert!(app.verify_access_token(access, RESOURCE).await.is_err());
    // carol approves nothing at the default tenant.
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert!(!form.html.contains("carol"));
    let carol = app.decide(&form, "approve", "carol").await;
    assert_error_page(carol, StatusCode::BAD_REQUEST).await;

    // beta: no page at all, approved as bob (the redirect of a GET: 302).
    let response = beta
        .get_authorize(&beta.authorize_params("beta-app", &[]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("iss"), beta.issuer);
    let tokens = beta.redeemed("beta-app", &callback.one("code")).await;
    let claims = beta
        .verify_access_token(tokens["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "bob");

    // Each declared client is its tenant's only (AZ-5: an unknown client gets an error
    // page, never a redirect).
    for (app, client) in [(&app, "acme-app"), (&beta, "acme-app"), (&acme, "beta-app")] {
        let response = app.get_authorize(&app.authorize_params(client, &[])).await;
        assert_error_page(response, StatusCode::BAD_REQUEST).await;
    }
}

/// Everything tenant `a` handed out, for trying on another tenant.
struct Credentials {
    public: RegisteredClient,
    confidential: RegisteredClient,
    access_token: String,
    refresh_token: String,
    code: String,
    device: RegisteredClient,
    device_code: String,
}

async fn credentials_of(a: &TestApp) -> Credentials {
    let public = a.public_client().await;
    let confidential = a.confidential_client("client_secret_basic").await;
    let tokens = a.tokens(&public.client_id).await;
    let code = a.code(&public.client_id).await;
    let device = a.device_client().await;
    let codes = a.device_codes(&device.client_id).await;
    Credentials {
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        code,
        device_code: codes["device_code"].as_str().unwrap().to_owned(),
        public,
        confidential,
        device,
    }
}

/// Issue 17's cross-tenant test: every credential of tenant acme, tried on beta and on
/// the default tenant, is refused with the RFC's error; afterwards each still works at
/// acme, so the refusals changed nothing there.
async fn every_credential_of_one_tenant_is_refused_by_another(backend: Backend) {
    let app = two_tenants(backend).spawn().await;
    let acme = app.tenant("acme");
    let a = credentials_of(&acme).await;
    let beta = app.tenant("beta");
    for b in [&beta, &app] {
        refuse_everything_of(&a, b).await;
    }

    // Still good at acme.
    let introspected = acme
        .introspect(&acme.resource_server(), &a.access_token)
        .await;
    assert_eq!(introspected["active"], true, "{introspected}");
    let refreshed = acme
        .refresh(&a.public.client_id, &a.refresh_token, &[])
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let redeemed = acme.redeem(&a.public.client_id, &a.code).await;
    assert_eq!(redeemed.status(), StatusCode::OK);
    let (uri, token) = a.public.management();
    assert_eq!(
        acme.read_client(&uri, &token).await.status(),
        StatusCode::OK
    );
    let secret = a.confidential.client_secret.as_deref();
    let basic = acme
        .http
        .post(acme.url("/token"))
        .basic_auth(&a.confidential.client_id, secret)
        .form(&[("grant_type", "nonsense")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(basic, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let poll = acme.poll(&a.device.client_id, &a.device_code).await;
    assert_oauth_error(poll, StatusCode::BAD_REQUEST, "authorization_pending").await;
}

/// Tries every credential in `a` on tenant `b`.
async fn refuse_everything_of(a: &Credentials, b: &TestApp) {
    let at = &b.issuer;
    let rs = b.resource_server();

    // Access token: introspection says inactive (RFC 7662 §2.2), not what it is.
    let introspected = b.introspect(&rs, &a.access_token).await;
    assert_eq!(
        introspected,
        json!({"active": false}),
        "{at}: introspection"
    );
    // Revocation by one of b's clients: an unknown token, 200 and nothing done (RFC 7009
    // §2.2); by a's client: unknown here, so invalid_client.
    let own = b.public_client().await;
    let revoked = b.revoke(&own.client_id, &a.access_token).await;
    assert_eq!(revoked.status(), StatusCode::OK, "{at}: revocation");
    let revoked = b.revoke(&a.public.client_id, &a.access_token).await;
    assert_oauth_error(revoked, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let introspected = b.introspect(&rs, &a.refresh_token).await;
    assert_eq!(
        introspected,
        json!({"active": false}),
        "{at}: refresh token"
    );

    // Refresh token and code: a's client is unknown here (RFC 6749 §5.2 invalid_client);
    // with one of b's clients the grant is unknown (invalid_grant).
    let refresh = b.refresh(&a.public.client_id, &a.refresh_token, &[]).await;
    assert_oauth_error(refresh, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let refresh = b.refresh(&own.client_id, &a.refresh_token, &[]).await;
    assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let code = b.redeem(&a.public.client_id, &a.code).await;
    assert_oauth_error(code, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let code = b.redeem(&own.client_id, &a.code).await;
    assert_oauth_error(code, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Client id and secret (TK-10's Basic authentication).
    let credentials = b
        .client_credentials(
            &a.confidential.client_id,
            a.confidential.client_secret.as_deref(),
            &[],
        )
        .await;
    assert_oauth_error(credentials, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Registration access token at b's client configuration endpoint (RFC 7592 §2: 401
    // invalid_token), for a's client and for one of b's own.
    let (_, token) = a.public.management();
    for client_id in [&a.public.client_id, &own.client_id] {
        let uri = b.url(&format!("/register/{client_id}"));
        let read = b.read_client(&uri, &token).await;
        assert_oauth_error(read, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }

    // Device code (RFC 8628 §3.5).
    let poll = b.poll(&a.device.client_id, &a.device_code).await;
    assert_oauth_error(poll, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let device = b.device_client().await;
    let poll = b.poll(&device.client_id, &a.device_code).await;
    assert_oauth_error(poll, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // a's client at b's authorization endpoint: an unknown client, an error page and no
    // redirect (AZ-5).
    let response = b
        .get_authorize(&b.authorize_params(&a.public.client_id, &[]))
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
}

/// A tenant's store is its own and lasts: after a restart on the same database, its
/// client is still registered there (and only there), and its key is the same.
async fn a_tenants_state_survives_a_restart_in_its_own_store(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = two_tenants(backend).on_db(db.clone()).spawn().await;
    let acme = first.tenant("acme");
    let client = acme.public_client().await;
    let kid = acme.jwks().await["keys"][0]["kid"].clone();
    drop(acme);
    first.stop().await;

    // Where the stores are: a file beside the default one, or a schema of the database.
    match backend {
        Backend::Sqlite => {
            let default = db.url.trim_start_matches("sqlite://");
            for name in ["acme", "beta"] {
                let file = default.replace("tollgate.db", &format!("tollgate.{name}.db"));
                assert!(std::path::Path::new(&file).exists(), "{file}");
            }
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let schemas: Vec<String> = sqlx::query_scalar(
                "SELECT table_schema::text FROM information_schema.tables \
                 WHERE table_name = 'clients' ORDER BY 1",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            assert_eq!(schemas, ["public", "tenant_acme", "tenant_beta"]);
        }
    }

    let again = two_tenants(backend).on_db(db).spawn().await;
    let acme = again.tenant("acme");
    assert_eq!(acme.jwks().await["keys"][0]["kid"], kid);
    // The port is new; the client configuration endpoint is the same path under it.
    let (_, token) = client.management();
    let uri = acme.url(&format!("/register/{}", client.client_id));
    assert_eq!(
        acme.read_client(&uri, &token).await.status(),
        StatusCode::OK
    );
    let beta = again.tenant("beta");
    for other in [&beta, &again] {
        let response = other
            .get_authorize(&other.authorize_params(&client.client_id, &[]))
            .await;
        assert_error_page(response, StatusCode::BAD_REQUEST).await;
    }
}

/// `--tenant` picks the tenant whose store, issuer and keys a command uses: `tollgate
/// token --tenant acme` signs as acme (its recorded issuer, its key), `clients list` lists
/// that tenant's clients only; an unknown tenant is an error that names the known ones.
async fn cli_commands_act_on_the_tenant_they_name(backend: Backend) {
    let app = two_tenants(backend).spawn().await;
    let acme = app.tenant("acme");
    let registered = acme.public_client().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[[tenants]]\nname = \"acme\"\n\n[[tenants]]\nname = \"beta\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let url = app.database_url();
    let base = ["--config", file, "--database-url", url];

    let token = tollgate(&[&["token", "--tenant", "acme", "--aud", RESOURCE][..], &base].concat());
    let claims = acme
        .verify_access_token(token.trim(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["iss"], acme.issuer);
    assert!(
        app.verify_access_token(token.trim(), RESOURCE)
            .await
            .is_err()
    );
    let token = tollgate(&[&["token", "--aud", RESOURCE][..], &base].concat());
    assert_eq!(
        app.verify_access_token(token.trim(), RESOURCE)
            .await
            .unwrap()["iss"],
        app.issuer,
        "without --tenant, the default tenant"
    );

    let listing = tollgate(&[&["clients", "list", "--tenant", "acme"][..], &base].concat());
    assert!(listing.contains(&registered.client_id), "{listing}");
    let listing = tollgate(&[&["clients", "list", "--tenant", "beta"][..], &base].concat());
    assert!(!listing.contains(&registered.client_id), "{listing}");

    let unknown = run_tollgate(&[&["token", "--tenant", "gamma"][..], &base].concat(), &[]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("no tenant 'gamma'") && said.contains("acme, beta"),
        "{said}"
    );
    let serve = run_tollgate(&[&["serve", "--tenant", "acme"][..], &base].concat(), &[]);
    assert_eq!(serve.status.code(), Some(2));

    // `ctl --tenant acme` drives acme's control API (`{issuer}/t/acme/_tollgate/api`): its
    // key rotates, the default tenant's does not.
    let kids = |jwks: Value| -> Vec<Value> {
        let keys = jwks["keys"].as_array().unwrap();
        keys.iter().map(|k| k["kid"].clone()).collect()
    };
    let (acme_before, default_before) = (kids(acme.jwks().await), kids(app.jwks().await));
    let bind = app.addr.to_string();
    let args: Vec<String> = [
        &["ctl", "--tenant", "acme", "--bind", &bind][..],
        &base,
        &["keys", "rotate"],
    ]
    .concat()
    .into_iter()
    .map(str::to_owned)
    .collect();
    let rotated = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_tollgate(&args, &[])
    })
    .await
    .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let acme_after = kids(acme.jwks().await);
    assert_eq!(acme_after.len(), acme_before.len() + 1, "{acme_after:?}");
    assert_eq!(kids(app.jwks().await), default_before);
}

/// `check-config` checks each tenant as its own server would, and its name and path, with
/// the line of each problem.
#[test]
fn check_config_reports_tenant_problems_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        r#"[[tenants]]
name = "Acme"

[[tenants]]
name = "beta"
path = "/token"

[[tenants]]
name = "gamma"

[[tenants.clients]]
client_id = "app"
redirect_uris = ["not a url"]

[[tenants]]
name = "gamma"
path = "/t/gamma/more"
"#,
    )
    .unwrap();
    let output = run_tollgate(&["check-config", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8(output.stdout).unwrap();
    let path = file.display().to_string();
    for (line, setting, says) in [
        (2, "tenants[0].name", "cannot name a tenant"),
        (
            6,
            "tenants[1].path",
            "clashes with the default tenant's /token",
        ),
        (13, "tenants[2].clients[0].redirect_uris[0]", ""),
        (16, "tenants[3].name", "declared before"),
        (17, "tenants[3].path", "each tenant needs a path of its own"),
    ] {
        let expected = format!("{path}:{line}: {setting}: ");
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&expected) && l.contains(says)),
            "{expected}…{says} missing from:\n{report}"
        );
    }
    assert_eq!(report.lines().count(), 5, "{report}");
}
