//! `tollgate check` (issue 13) against resource servers written for these tests
//! (`check/server.rs`): a correct one passes every check in every profile, and each one
//! with a deliberate flaw is flagged by exactly the check that names the flaw and by no
//! other. Test names cite the check and the rule.

mod server;
mod verify;

use crate::helpers::{Backend, TestApp, run_tollgate};
use crate::on_both_backends;
use serde_json::Value;
use server::{Eras, Flaw, Introspection, Settings, TestRs};
use tollgate::config::DeclaredClient;
use tollgate::testing::{CheckOptions, Profile, Report, Status, TestServer};

const RS_CLIENT: &str = "broken-rs";
const RS_SECRET: &str = "broken-rs-secret";

/// A Tollgate, a resource server of it with `flaw`, and the report of checking it.
async fn check(flaw: Flaw, eras: Eras, profile: Profile) -> Report {
    let tollgate = TestServer::builder()
        .client(DeclaredClient::resource_server(RS_CLIENT, RS_SECRET))
        .spawn()
        .await
        .unwrap();
    // The revocation flaw needs a server that introspects.
    let introspection = (flaw == Flaw::IgnoresRevocation).then(|| Introspection {
        url: format!("{}/introspect", tollgate.issuer()),
        client_id: RS_CLIENT.to_owned(),
        secret: RS_SECRET.to_owned(),
    });
    let rs = TestRs::spawn(Settings {
        issuer: tollgate.issuer().to_owned(),
        jwks: tollgate.jwks(),
        flaw,
        eras,
        introspection,
    })
    .await;
    let options = CheckOptions {
        profile,
        ..CheckOptions::default()
    };
    tollgate.check_with(&rs.url, &options).await.unwrap()
}

/// One test per flaw: the failed checks are exactly `[id]`, and the run fails exactly
/// when that check is required by the profile.
macro_rules! flagged_by_exactly {
    ($($name:ident: $flaw:ident, $profile:ident => $id:literal, $required:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let report = check(Flaw::$flaw, Eras::Both, Profile::$profile).await;
            assert_eq!(report.failed_ids(), [$id], "{report}");
            let result = report.get($id).unwrap();
            assert_eq!(result.required, $required, "{report}");
            assert_eq!(report.passed(), !$required, "{report}");
            assert!(!result.detail.is_empty() && !result.spec.is_empty());
        }
    )*};
}

flagged_by_exactly! {
    ch_14_rfc_8707_2_a_server_that_skips_the_audience: SkipsAudience, V2026_07_28 => "CH-14", true;
    ch_14_mcp_token_handling_an_audience_taken_by_prefix: AudiencePrefix, V2026_07_28 => "CH-14", true;
    ch_13_rfc_9068_4_a_server_that_accepts_expired_tokens: AcceptsExpired, V2026_07_28 => "CH-13", true;
    ch_28_rfc_7519_4_1_5_a_server_that_ignores_nbf: AcceptsNotYetValid, V2026_07_28 => "CH-28", true;
    ch_16_rfc_9068_4_a_server_that_ignores_iss: AcceptsWrongIssuer, V2026_07_28 => "CH-16", true;
    ch_17_rfc_9068_4_a_server_that_accepts_an_unknown_kid: AcceptsUnknownKid, V2026_07_28 => "CH-17", true;
    ch_18_rfc_9068_4_a_server_that_accepts_alg_none: AcceptsAlgNone, V2026_07_28 => "CH-18", true;
    ch_19_rfc_8725_3_1_a_server_that_accepts_hs256_keyed_with_the_public_key: AcceptsHs256, V2026_07_28 => "CH-19", true;
    ch_20_rfc_9068_4_a_server_that_accepts_typ_jwt: AcceptsWrongTyp, V2026_07_28 => "CH-20", true;
    ch_21_oauth_2_1_5_1_a_server_that_reads_the_token_from_the_query: AcceptsQueryToken, V2026_07_28 => "CH-21", true;
    ch_30_rfc_7662_2_2_a_server_that_introspects_but_ignores_active: IgnoresRevocation, V2026_07_28 => "CH-30", true;
    ch_23_mcp_error_handling_a_server_that_answers_401_for_a_missing_scope: UnauthorizedForScope, V2026_07_28 => "CH-23", true;
    ch_9_rfc_9728_2_authorization_servers_with_a_trailing_slash: WrongAuthorizationServers, V2026_07_28 => "CH-9", true;
    ch_8_rfc_9728_3_3_resource_with_a_trailing_slash: WrongResource, V2026_07_28 => "CH-8", true;
    ch_3_mcp_2025_06_18_no_resource_metadata_in_the_challenge: NoResourceMetadata, V2025_06_18 => "CH-3", true;
    ch_3_mcp_2026_07_28_no_resource_metadata_but_the_well_known_url: NoResourceMetadata, V2026_07_28 => "CH-3", false;
    ch_4_rfc_6750_3_1_an_error_code_without_a_token: ErrorWithoutToken, V2026_07_28 => "CH-4", false;
    ch_5_mcp_scope_selection_strategy_no_scope_in_the_challenge: NoScopeInChallenge, V2025_11_25 => "CH-5", false;
    ch_25_mcp_2025_03_26_nothing_at_the_origin_metadata_url: NoLegacyMetadata, V2025_11_25 => "CH-25", false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_resource_server_passes_every_check_in_every_profile() {
    for profile in Profile::ALL {
        let report = check(Flaw::None, Eras::Both, profile).await;
        assert_eq!(report.failed_ids(), Vec::<&str>::new(), "{report}");
        assert!(report.passed());
        assert_eq!(report.profile, profile);
        let revoked = report.get("CH-30").unwrap();
        assert_eq!(revoked.status, Status::Skip, "{report}");
        assert!(revoked.detail.contains("does not introspect"), "{report}");
    }
    // 2026-07-28 is spoken statelessly: no initialize (Streamable HTTP §Backward
    // Compatibility).
    let report = check(Flaw::None, Eras::Both, Profile::V2026_07_28).await;
    assert!(
        report.protocol.starts_with("2026-07-28, stateless"),
        "{report}"
    );
    assert_eq!(report.get("CH-25").unwrap().status, Status::Skip);
    // 2025-06-18 leaves the challenge's scope to RFC 6750 (OPTIONAL): not asked for.
    let report = check(Flaw::NoScopeInChallenge, Eras::Both, Profile::V2025_06_18).await;
    assert_eq!(report.failed_ids(), Vec::<&str>::new(), "{report}");
    assert_eq!(report.get("CH-5").unwrap().status, Status::Skip);
}

/// CH-30: a server that introspects sees the revocation (RFC 7662 §2.2), and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ch_30_rfc_7662_a_server_that_introspects_refuses_a_revoked_token() {
    let tollgate = TestServer::builder()
        .client(DeclaredClient::resource_server(RS_CLIENT, RS_SECRET))
        .spawn()
        .await
        .unwrap();
    let rs = TestRs::spawn(Settings {
        issuer: tollgate.issuer().to_owned(),
        jwks: tollgate.jwks(),
        flaw: Flaw::None,
        eras: Eras::Both,
        introspection: Some(Introspection {
            url: format!("{}/introspect", tollgate.issuer()),
            client_id: RS_CLIENT.to_owned(),
            secret: RS_SECRET.to_owned(),
        }),
    })
    .await;
    let report = tollgate.check(&rs.url).await.unwrap();
    assert_eq!(report.failed_ids(), Vec::<&str>::new(), "{report}");
    assert_eq!(
        report.get("CH-30").unwrap().status,
        Status::Pass,
        "{report}"
    );
}

/// A server that speaks only the legacy era is checked over `initialize` under the
/// 2026-07-28 profile, as a dual-era client would (Versioning §Backward Compatibility),
/// and the report says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_only_server_is_negotiated_down_and_the_report_says_how() {
    let report = check(Flaw::None, Eras::LegacyOnly, Profile::V2026_07_28).await;
    assert_eq!(report.failed_ids(), Vec::<&str>::new(), "{report}");
    assert!(
        report.protocol.starts_with("2025-11-25 via initialize")
            && report.protocol.contains("server/discover answered 400"),
        "{report}"
    );
}

/// The conformance suite's "untestable" rule: when the valid token is refused, no refusal
/// proves anything, so none is reported as passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_valid_token_is_refused_the_refusals_are_untestable() {
    let tollgate = TestServer::builder().spawn().await.unwrap();
    let rs = TestRs::spawn(Settings {
        issuer: "https://another-issuer.example".to_owned(),
        jwks: tollgate.jwks(),
        flaw: Flaw::None,
        eras: Eras::Both,
        introspection: None,
    })
    .await;
    let report = tollgate.check(&rs.url).await.unwrap();
    assert_eq!(report.failed_ids(), ["CH-9", "CH-12"], "{report}");
    for id in ["CH-13", "CH-18", "CH-21", "CH-23", "CH-24"] {
        let result = report.get(id).unwrap();
        assert_eq!(result.status, Status::Skip, "{report}");
        assert!(result.detail.starts_with("untestable"), "{report}");
    }
}

/// Nothing listens: every check that needs the server fails or is skipped, none passes
/// on its own, and nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_there_fails_without_a_panic() {
    let tollgate = TestServer::builder().spawn().await.unwrap();
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", unused.local_addr().unwrap());
    drop(unused);
    let report = tollgate.check(&url).await.unwrap();
    assert!(!report.passed());
    assert!(report.failed_ids().contains(&"CH-1"), "{report}");
    assert!(
        report.checks.iter().all(|c| c.status != Status::Pass),
        "{report}"
    );
    assert!(tollgate.check("not a url").await.is_err());
}

/// `tollgate check` as a process, on the database of a running server: JUnit for a
/// correct server (exit 0), JSON for a broken one (exit 1, only CH-18 failed).
async fn check_command_writes_junit_and_json_and_fails_on_a_required_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app = &app;
    let spawn = |flaw| async move {
        TestRs::spawn(Settings {
            issuer: app.issuer.clone(),
            jwks: app.jwks().await,
            flaw,
            eras: Eras::Both,
            introspection: None,
        })
        .await
    };
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_tollgate(&args, &[])
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let good = spawn(Flaw::None).await;
    let database = app.database_url().to_owned();
    let args = [
        "check",
        &good.url,
        "--database-url",
        &database,
        "--format",
        "junit",
        "--out",
    ];
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push(junit.display().to_string());
    let output = run(args).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with("25 passed, 0 failed, 2 skipped\n"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="27" failures="0" errors="0" skipped="2""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testcase classname="tollgate.check.refusals" name="CH-18 An unsigned token (alg none) is refused with 401">"#), "{xml}");
    assert!(!stdout.contains('\u{1b}'), "no colour without a terminal");

    let bad = spawn(Flaw::AcceptsAlgNone).await;
    let args = [
        "check",
        &bad.url,
        "--database-url",
        &database,
        "--format",
        "json",
    ];
    let output = run(args.iter().map(|a| (*a).to_owned()).collect())
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 required check failed"));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["target"], bad.url.as_str());
    assert_eq!(document["profile"], "2026-07-28");
    let checks = document["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 27);
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{document:#}");
    assert_eq!(failed[0]["id"], "CH-18");
    for field in ["id", "title", "status", "spec", "detail"] {
        assert!(failed[0][field].is_string(), "{field} in {document:#}");
    }
}

on_both_backends!(check_command_writes_junit_and_json_and_fails_on_a_required_check);
