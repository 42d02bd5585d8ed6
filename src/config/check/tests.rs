//! `check_text` on whole files: every kind of problem, with its line.

use super::*;

/// The problems, and [`STOPPED`] last (without a line) if checking stopped.
fn lines(text: &str) -> Vec<(Option<usize>, String)> {
    let report = check_text(text);
    let mut lines: Vec<_> = report
        .problems
        .into_iter()
        .map(|p| (p.line, p.message))
        .collect();
    if report.stopped {
        lines.push((None, STOPPED.to_owned()));
    }
    lines
}

#[test]
fn a_good_file_has_no_problems() {
    let text = r#"
issuer = "http://127.0.0.1:9000"
access_token_ttl = "10m"

[[users]]
subject = "alice"
claims = { email = "alice@example.com" }

[[clients]]
client_id = "ci"
secret = "s3cret"
"#;
    assert_eq!(lines(text), vec![]);
}

#[test]
fn syntax_errors_are_reported_with_lines() {
    assert_eq!(
        lines("issuer = \"x\"\nbind = \n"),
        [
            (
                Some(1),
                "issuer: invalid issuer 'x': it is not an absolute URL".to_owned()
            ),
            (Some(2), QUOTED.to_owned()),
        ]
    );
}

const QUOTED: &str = "syntax error: string values must be quoted, expected literal string";

fn at(line: usize, message: &str) -> (Option<usize>, String) {
    (Some(line), message.to_owned())
}

/// A line with a syntax error is taken out and the rest of the file is checked; a
/// setting taken out that way hides only what rests on it (the secret of `ci`).
#[test]
fn syntax_errors_hide_nothing_else() {
    let text = r#"issuer = "http://example.com"
bind =
access_token_ttl = "5 minutes"

[[clients]]
client_id = "ci"
secret = "unterminated
redirect_uris = ["http://evil.example/cb"]
user = "nobody"
introspection = true
"#;
    assert_eq!(
        lines(text),
        [
            at(
                1,
                "issuer: invalid issuer 'http://example.com': http is only allowed for \
                 loopback hosts (127.0.0.1, [::1], localhost); use https, or set \
                 allow_insecure_issuer for a private demo network"
            ),
            at(2, QUOTED),
            at(
                3,
                "access_token_ttl: '5 minutes' has an unknown unit; use ms, s, m, h or d"
            ),
            at(7, "syntax error: invalid basic string, expected `\"`"),
            at(
                8,
                "clients[0].redirect_uris[0]: redirect URI 'http://evil.example/cb' uses \
                 http on a non-loopback host; redirect URIs must use https, or http on \
                 127.0.0.1, [::1] or localhost (MCP authorization, Communication Security)"
            ),
            at(
                9,
                "clients[0].user: no user 'nobody' is declared (declare it under \
                 [[users]], or use 'dev')"
            ),
        ]
    );
}

/// The parser may stop reporting after an error; once that line is out, the errors
/// after it are found too.
#[test]
fn errors_the_parser_did_not_report_are_found_after_taking_a_line_out() {
    let text = "nonsense\n[consent]\nmode = auto\nuser = \"bob\"\n";
    assert_eq!(
        lines(text),
        [
            at(1, "syntax error: key with no value, expected `=`"),
            at(3, QUOTED),
            at(
                4,
                "consent.user: no user 'bob' is declared (declare it under [[users]], \
                 or use 'dev')"
            ),
        ]
    );
    // A duplicate key is emptied rather than given a placeholder, which would be one too.
    assert_eq!(
        lines("issuer = \"http://127.0.0.1:9000\"\nissuer = \"x\"\n"),
        [at(2, "syntax error: duplicate key")]
    );
}

/// An unclosed array swallows the lines after it, and a broken table header cannot be
/// taken out without moving its settings elsewhere: the syntax errors are reported in
/// line order (the parser gives line 2 last), and the report says checking stopped.
#[test]
fn checking_stops_where_lines_cannot_be_taken_out() {
    let stopped = (None, STOPPED.to_owned());
    assert_eq!(
        lines("colour = 1\nbind = \nresources = [\n  \"a\",\n  \"b\"\nissuer = \"x\"\n"),
        [
            at(2, QUOTED),
            at(
                6,
                "syntax error: missing comma between array elements, expected `,`"
            ),
            at(
                6,
                "syntax error: unexpected `=` in array, expected value, `]`"
            ),
            at(6, "syntax error: unclosed array, expected `]`"),
            at(6, "syntax error: invalid float, expected `inf`"),
            stopped.clone(),
        ]
    );
    assert_eq!(
        lines("[[clients]\nclient_id = \"x\"\n[[clients]]\nclient_id = 5\n"),
        [
            at(1, "syntax error: unclosed array table, expected `]`"),
            stopped
        ]
    );
}

/// A value of the wrong type hides the problems that rest on it: without its secret
/// the client would be public, but that is the default speaking, not the file.
#[test]
fn problems_resting_on_a_value_taken_out_are_not_reported() {
    let text = r#"[[clients]]
client_id = "rs"
secret = 7
introspection = true
auth_method = "client_secret_post"
scopes = ["a b"]

[[clients]]
client_id = "machine"
secret_hash = 7
grant_types = ["client_credentials"]
"#;
    assert_eq!(
        lines(text),
        [
            at(
                3,
                "clients[0].secret: invalid type: integer `7`, expected a string"
            ),
            at(6, "clients[0].scopes[0]: 'a b' is not a single scope token"),
            at(
                10,
                "clients[1].secret_hash: invalid type: integer `7`, expected a string"
            ),
        ]
    );
    let text = r#"allow_insecure_issuer = "yes"
issuer = "http://example.com"
users = "alice"

[consent]
user = "alice"
"#;
    assert_eq!(
        lines(text),
        [
            at(
                1,
                "allow_insecure_issuer: invalid type: string \"yes\", expected a boolean"
            ),
            at(
                3,
                "users: invalid type: string \"alice\", expected a sequence"
            ),
        ]
    );
}

#[test]
fn every_type_problem_is_reported_with_its_line() {
    let text = r#"issuer = "http://127.0.0.1:9000"
colour = "blue"
access_token_ttl = "5 minutes"

[[clients]]
client_id = "good"
secret = "s"

[[clients]]
client_id = "bad"
secret = "s"
redirect_uri = "http://127.0.0.1/cb"

[[users]]
subject = 5
"#;
    let problems = lines(text);
    let found: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
    assert_eq!(
        found,
        [Some(2), Some(3), Some(12), Some(15)],
        "{problems:?}"
    );
    assert!(problems[0].1.contains("unknown setting 'colour'"));
    assert!(
        problems[2]
            .1
            .starts_with("clients[1].redirect_uri: unknown field")
    );
    assert!(problems[3].1.starts_with("users[0].subject: invalid type"));
}

/// A wrong type hides nothing else, not even the other settings of its own client; the
/// settings after an item taken out keep their own index and line.
#[test]
fn type_errors_do_not_hide_problems_of_meaning() {
    let text = r#"issuer = "http://example.com"
bind = "nonsense"
access_token_ttl = "5 minutes"

[consent]
mode = "sometimes"
user = "nobody"

[[users]]
subject = "alice"
claims = { sub = "x" }

[[users]]
name = "no subject"

[[users]]
subject = "carol"
password_hash = "plain"

[[clients]]
client_id = "ci"
redirect_uris = ["http://evil.example/cb"]
consent = "sometimes"
grant_types = ["implicit"]

[[clients]]
client_id = "second"
secret = "s"
scopes = "mcp:tools"
user = "bob"
"#;
    let problems = lines(text);
    let found: Vec<(usize, &str)> = problems
        .iter()
        .map(|(line, message)| {
            let path = message.split(':').next().unwrap_or_default();
            (line.unwrap_or_default(), path)
        })
        .collect();
    assert_eq!(
        found,
        [
            (1, "issuer"),
            (2, "bind"),
            (3, "access_token_ttl"),
            (6, "consent.mode"),
            (7, "consent.user"),
            (11, "users[0].claims"),
            (13, "users[1]"),
            (18, "users[2].password_hash"),
            (22, "clients[0].redirect_uris[0]"),
            (23, "clients[0].consent"),
            (24, "clients[0].grant_types[0]"),
            (29, "clients[1].scopes"),
            (30, "clients[1].user"),
        ],
        "{problems:#?}"
    );
    assert!(problems[6].1.contains("missing field `subject`"));
}

#[test]
fn a_required_setting_of_the_wrong_type_is_reported_once() {
    let problems = lines("[[clients]]\nclient_id = 5\nsecret = \"s\"\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, Some(2));
}

#[test]
fn unknown_settings_do_not_hide_other_problems() {
    let problems =
        lines("colour = 1\n[[clients]]\nclient_id = \"x\"\nredirect_uris = [\"http://evil/cb\"]\n");
    let found: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
    assert_eq!(found, [Some(1), Some(4)], "{problems:?}");
}

#[test]
fn meaning_problems_point_at_their_setting() {
    let text = r#"issuer = "http://127.0.0.1:9000"

[[clients]]
client_id = "ci"
redirect_uris = [
  "http://127.0.0.1/cb",
  "http://evil.example/cb",
]
user = "nobody"
"#;
    let problems = lines(text);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, Some(7));
    assert!(problems[0].1.starts_with("clients[0].redirect_uris[1]"));
    assert_eq!(problems[1].0, Some(9));
}

/// A fault that could never fire is reported at the key to fix (issue 14); a type error in
/// one fault hides nothing of the others.
#[test]
fn faults_that_cannot_fire_are_reported_with_their_lines() {
    let text = r#"[[faults]]
name = "token down"
endpoint = "token"
status = 503
times = 1

[[faults]]
endpoint = "jwks"
lie = "iss_missing"

[[faults]]
endpoint = "tokne"
drop = true

[[faults]]
endpoint = "token"
nth = "third"
drop = true

[[faults]]
name = "token down"
endpoint = "metadata"
grant_type = "refresh_token"
delay = "2s"
"#;
    assert_eq!(
        lines(text),
        [
            at(
                9,
                "faults[1].lie: 'iss_missing' is told by the authorize endpoint, not by jwks, \
                 so this fault would never fire"
            ),
            at(
                12,
                "faults[2].endpoint: 'tokne' is not an endpoint faults apply to; the endpoints \
                 are: metadata, jwks, register, authorize, token, revoke, introspect, cimd-fetch"
            ),
            at(
                17,
                "faults[3].nth: invalid type: string \"third\", expected u64"
            ),
            at(
                21,
                "faults[4].name: 'token down' names another fault already"
            ),
            at(
                23,
                "faults[4].grant_type: only token requests have a grant_type; this fault is \
                 for the metadata endpoint, so it would never fire"
            ),
        ]
    );
}
