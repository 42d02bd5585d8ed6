//! `scripts/ensure-postgres.sh`, which CI runs before the PostgreSQL half of the tests.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ensure_postgres(url: &str) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-postgres.sh");
    Command::new("bash")
        .arg(script)
        .env("TOLLGATE_TEST_POSTGRES_URL", url)
        .output()
        .unwrap()
}

/// Drops the database when the test ends, however it ends.
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// On a fresh cluster the database named in the URL may not exist yet: the script creates
/// it (and says so) instead of reporting the server unreachable; a second run finds it.
/// A server that answers but refuses the user is reported as that, at once.
#[test]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
fn ensure_postgres_creates_a_missing_database() {
    let admin_url = std::env::var("TOLLGATE_TEST_POSTGRES_URL").unwrap();
    let name = format!("tollgate_ensure_{}", uuid::Uuid::new_v4().simple());
    let _cleanup = DropDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);

    let first = ensure_postgres(url.as_str());
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.contains(&format!("no database '{name}'; creating it")),
        "{said}"
    );
    let again = ensure_postgres(url.as_str());
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stdout).contains("creating"));

    url.set_username("tollgate_no_such_role").unwrap();
    let refused = ensure_postgres(url.as_str());
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("refuses the connection"), "{said}");
}
