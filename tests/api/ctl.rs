//! `tollgate ctl` against a running server (issue 14), and faults as the command line and
//! the server's log show them: `serve` refuses a fault that cannot fire, `check-config`
//! points at its line, and every injected fault is in the log with its name.

use crate::helpers::{Backend, ServeProcess, TestApp, run_tollgate};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Output;

/// Runs `tollgate ctl --url ISSUER ARGS` off the runtime's workers (the server answers on
/// them); returns its exit code, stdout and stderr.
async fn ctl(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all: Vec<String> = vec!["ctl".into(), "--url".into(), app.issuer.clone()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let output: Output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        run_tollgate(&args, &[])
    })
    .await
    .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Its stdout; it must succeed.
async fn ctl_ok(app: &TestApp, args: &[&str]) -> String {
    let (code, stdout, stderr) = ctl(app, args).await;
    assert_eq!(code, Some(0), "tollgate ctl {args:?}: {stderr}");
    stdout
}

/// Every operation of the control API from the command line.
async fn ctl_drives_the_control_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    app.tokens(&client.client_id).await;

    assert!(
        ctl_ok(&app, &["clock"])
            .await
            .ends_with("(the real time)\n")
    );
    let moved = ctl_ok(&app, &["clock", "advance", "10m"]).await;
    assert!(moved.ends_with(", 10m ahead of the real time\n"), "{moved}");
    assert_eq!(
        ctl_ok(
            &app,
            &[
                "faults",
                "add",
                "name=down",
                "endpoint=token",
                "status=503",
                "times=1"
            ]
        )
        .await,
        "added fault 'down': status 503 temporarily_unavailable at token\n"
    );
    assert_eq!(
        ctl_ok(
            &app,
            &[
                "faults",
                "add",
                r#"{"endpoint":"jwks","drop":true,"nth":2}"#
            ]
        )
        .await,
        "added fault 'jwks-1': connection dropped at jwks\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.toml");
    std::fs::write(
        &file,
        "[[faults]]\nname = \"slow\"\nendpoint = \"metadata\"\ndelay = \"250ms\"\n",
    )
    .unwrap();
    assert_eq!(
        ctl_ok(&app, &["faults", "add", "--file", file.to_str().unwrap()]).await,
        "added fault 'slow': delay 250ms at metadata\n"
    );
    let response = app.token(&[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ctl_ok(&app, &["faults"]).await,
        "down  token: status 503 temporarily_unavailable  (fired 1 of 1 matching; added \
         through the control API)\n\
         jwks-1  jwks: connection dropped  (fired 0 of 0 matching; added through the \
         control API)\n\
         slow  metadata: delay 250ms  (fired 0 of 0 matching; added through the control API)\n"
    );
    let listed: Value = serde_json::from_str(&ctl_ok(&app, &["faults", "--json"]).await).unwrap();
    assert_eq!(listed["faults"][0]["fired"], 1);
    assert_eq!(
        ctl_ok(&app, &["faults", "remove", "slow"]).await,
        "removed fault 'slow'\n"
    );
    let (code, _, stderr) = ctl(&app, &["faults", "remove", "slow"]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.ends_with("answered 404 Not Found: no fault is called 'slow'\n"),
        "{stderr}"
    );
    let (code, _, stderr) = ctl(&app, &["faults", "add", "endpoint=jwks", "lie=iss_missing"]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.ends_with(
            "answered 400 Bad Request: lie: 'iss_missing' is told by the authorize endpoint, \
             not by jwks, so this fault would never fire\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        ctl_ok(&app, &["faults", "clear"]).await,
        "removed 2 faults\n"
    );

    assert_eq!(
        ctl_ok(&app, &["expire", "--client", &client.client_id]).await,
        "expired 0 codes, 1 refresh tokens and 0 access tokens\n",
        "the access token had expired when the clock moved"
    );
    assert_eq!(
        ctl_ok(&app, &["revoke", "--user", "dev"]).await,
        "revoked 1 grants (with their codes and refresh tokens) and 1 access tokens\n"
    );
    let rotated = ctl_ok(&app, &["keys", "rotate"]).await;
    assert!(rotated.starts_with("signing with "), "{rotated}");
    let reset = ctl_ok(&app, &["reset"]).await;
    let lines: Vec<&str> = reset.lines().collect();
    assert!(lines[0].starts_with("reset: removed 1 clients, 1 grants, 1 access tokens and "));
    assert!(lines[1].ends_with("(the real time)"), "{reset}");
    assert_eq!(lines[2], "no faults in force");
    let (code, _, stderr) = ctl(&app, &["revoke"]).await;
    assert_eq!(code, Some(2), "{stderr}");
}

/// Nothing listens there: the command says where it tried.
#[test]
fn ctl_says_when_no_server_answers() {
    let output = run_tollgate(&["ctl", "--url", "http://127.0.0.1:9", "clock"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "tollgate: cannot reach the control API at http://127.0.0.1:9/_tollgate/api/clock"
        ),
        "{stderr}"
    );
}

const BAD_FAULTS: &str = r#"[[faults]]
name = "down"
endpoint = "token"
status = 503

[[faults]]
endpoint = "jwks"
lie = "iss_missing"
"#;

/// `serve` refuses to start with a fault that cannot fire, and says which and why;
/// `check-config` points at its line.
#[tokio::test]
async fn a_fault_that_cannot_fire_is_refused_at_start_and_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(&file, BAD_FAULTS).unwrap();
    let path = file.to_str().unwrap().to_owned();
    let serve = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            run_tollgate(
                &[
                    "serve",
                    "--bind",
                    "127.0.0.1:0",
                    "--database-url",
                    "sqlite::memory:",
                    "--config",
                    &path,
                ],
                &[("RUST_LOG", "off")],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(serve.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(serve.stderr).unwrap(),
        "tollgate: invalid configuration: faults[1].lie: 'iss_missing' is told by the \
         authorize endpoint, not by jwks, so this fault would never fire\n"
    );
    let check = run_tollgate(&["check-config", &path], &[]);
    assert_eq!(
        String::from_utf8(check.stdout).unwrap(),
        format!(
            "{path}:8: faults[1].lie: 'iss_missing' is told by the authorize endpoint, not by \
             jwks, so this fault would never fire\n"
        )
    );
    assert_eq!(check.status.code(), Some(1));
}

/// Every injected fault is in the server's log, marked as injected, with its name.
#[tokio::test]
async fn injected_faults_are_in_the_server_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[[faults]]\nname = \"keys down\"\nendpoint = \"jwks\"\nstatus = 503\ntimes = 1\n",
    )
    .unwrap();
    let server = ServeProcess::start_with_log(
        &[
            "--database-url",
            "sqlite::memory:",
            "--config",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let jwks = format!("{}/jwks.json", server.base);
    assert_eq!(http.get(&jwks).send().await.unwrap().status(), 503);
    assert_eq!(http.get(&jwks).send().await.unwrap().status(), 200);
    let log = server.stop_with_log().await;
    let injected: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("injected fault"))
        .collect();
    assert_eq!(injected.len(), 1, "{log}");
    assert!(
        injected[0].contains(
            "WARN tollgate::services::faults: injected fault fault=keys down endpoint=jwks \
             action=status 503 temporarily_unavailable matching_request=1"
        ),
        "{log}"
    );
}

/// The third fault file does what README.md says, in order (with a shorter delay): the
/// first refresh waits and rotates, the second is refused at once, the next waits and
/// gives the same refresh token back.
async fn the_worst_moment_for_a_refresh_is_as_the_readme_says(backend: Backend) {
    let file = readme_fault_files()[2].replace("delay = \"3s\"", "delay = \"300ms\"");
    let config: tollgate::Config = toml::from_str(&file).unwrap();
    let app = TestApp::builder(backend)
        .config(|c| c.faults = config.faults)
        .spawn()
        .await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh = |token: String| {
        let app = &app;
        let id = client.client_id.clone();
        async move {
            let started = std::time::Instant::now();
            let response = app.refresh(&id, &token, &[]).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body, started.elapsed())
        }
    };
    let (status, first, waited) = refresh(tokens["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(waited >= std::time::Duration::from_millis(300));
    let rotated = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, tokens["refresh_token"].as_str().unwrap());
    let (status, refused, _) = refresh(rotated.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["error_description"],
        "the refresh token was revoked"
    );
    let (status, third, waited) = refresh(rotated.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(waited >= std::time::Duration::from_millis(300));
    assert_eq!(third["refresh_token"], rotated, "not rotated");
}

on_both_backends!(
    ctl_drives_the_control_api,
    the_worst_moment_for_a_refresh_is_as_the_readme_says,
);

/// The fault files of README.md's *Three fault files*.
fn readme_fault_files() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("### Three fault files").unwrap();
    let end = start
        + readme[start..]
            .find("### What the official SDKs do")
            .unwrap();
    readme[start..end]
        .split("```toml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

/// The three fault files of README.md's *Testing your MCP client* are files the server
/// accepts, with the faults they say.
#[test]
fn the_readme_fault_files_are_valid() {
    let files = readme_fault_files();
    let mut counts = Vec::new();
    for file in &files {
        let report = tollgate::config::check::check_text(file);
        assert_eq!(report.problems, [], "{file}");
        let config: tollgate::Config = toml::from_str(file).unwrap();
        assert_eq!(config.declared_faults().len(), config.faults.len());
        counts.push(config.faults.len());
    }
    assert_eq!(counts, [3, 4, 3]);
}
