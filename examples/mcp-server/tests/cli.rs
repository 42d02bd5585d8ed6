//! The binary's command line: `--help` prints help and exits without serving; anything else
//! is refused (it is configured by the environment only).

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate-example-mcp-server"))
        .args(args)
        // A bind address that would fail loudly if the binary tried to serve.
        .env("MCP_BIND", "not an address")
        .output()
        .unwrap()
}

#[test]
fn help_prints_help_and_exits() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert!(output.status.success(), "{flag}: {output:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.starts_with("tollgate-example-mcp-server: "), "{help}");
        for variable in [
            "MCP_BIND",
            "MCP_PUBLIC_URL",
            "TOLLGATE_ISSUER",
            "TOLLGATE_JWKS_URL",
        ] {
            assert!(help.contains(variable), "{variable} in {help}");
        }
        assert!(output.stderr.is_empty());
    }
}

#[test]
fn other_arguments_are_refused_with_the_help() {
    let output = run(&["--port", "8000"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unexpected argument '--port'"), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn without_arguments_it_serves_and_reports_a_bad_configuration() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("MCP_BIND"), "{stderr}");
}
