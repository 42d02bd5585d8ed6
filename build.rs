//! Rebuilds when a migration is added, and compiles the PostgreSQL half of the integration
//! tests in when a test database is named. Without `TOLLGATE_TEST_POSTGRES_URL`, those tests
//! are built as ignored, with a reason that `cargo test` prints, so a run on SQLite alone says
//! plainly what it did not cover.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tollgate_postgres_tests)");
    println!("cargo::rerun-if-env-changed=TOLLGATE_TEST_POSTGRES_URL");
    // `sqlx::migrate!` embeds the migrations; a new file must rebuild the crate (declaring
    // any rerun-if line turns off cargo's default of watching every file of the package).
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var_os("TOLLGATE_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tollgate_postgres_tests");
    }
}
