//! Seeding a large state straight into the database, for the "cost as state grows" figures:
//! `n` clients and `n` grants, `10 n` expired access tokens, `10 n` expired refresh tokens and
//! `10 n` events, in one transaction.
//!
//! Each table is filled by copying one row the server itself wrote (the template) `count`
//! times with new keys, so the rows match whatever the schema in `migrations/` is today: the
//! columns are read from the database, and only keys, references and times are replaced.
//! SQLite generates the numbers with a recursive CTE, PostgreSQL with `generate_series`.
//! The tokens expired a minute before the seeding, within the sweeper's default grace of an
//! hour, so the sweeper leaves them in place while the figures are taken.

use sqlx::Connection;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rows per statement: large enough to be quick, small enough for SQLite's temporary storage.
const CHUNK: u64 = 500_000;

struct Table {
    name: &'static str,
    /// Picks the template row.
    template: &'static str,
    /// Columns left to the database (an autoincrement key).
    omit: &'static [&'static str],
    /// Column and SQL expression of the row number `n`.
    set: Vec<(&'static str, String)>,
    count: u64,
}

fn tables(n: u64) -> Vec<Table> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let grant = format!("'seed-g-' || (1 + n % {n})");
    let client = format!("'seed-c-' || (1 + n % {n})");
    let expired = (now - 60).to_string();
    let issued = (now - 1_200).to_string();
    vec![
        Table {
            name: "clients",
            template: "SELECT * FROM clients WHERE source = 'dynamic' LIMIT 1",
            omit: &[],
            set: vec![
                ("client_id", "'seed-c-' || n".into()),
                ("registration_token_digest", "NULL".into()),
            ],
            count: n,
        },
        Table {
            name: "grants",
            template: "SELECT * FROM grants LIMIT 1",
            omit: &[],
            set: vec![
                ("id", "'seed-g-' || n".into()),
                ("client_id", "'seed-c-' || n".into()),
                ("flow_id", "'seed-f-' || n".into()),
                ("created_at", issued.clone()),
                ("revoked_at", "NULL".into()),
            ],
            count: n,
        },
        Table {
            name: "access_tokens",
            template: "SELECT * FROM access_tokens WHERE grant_id IS NOT NULL LIMIT 1",
            omit: &[],
            set: vec![
                ("jti", "'seed-a-' || n".into()),
                ("grant_id", grant.clone()),
                ("client_id", client.clone()),
                ("issued_at", issued.clone()),
                ("expires_at", expired.clone()),
                ("revoked_at", "NULL".into()),
            ],
            count: 10 * n,
        },
        Table {
            name: "refresh_tokens",
            template: "SELECT * FROM refresh_tokens LIMIT 1",
            omit: &[],
            set: vec![
                ("token_digest", "'seed-r-' || n".into()),
                ("grant_id", grant),
                ("issued_at", issued.clone()),
                ("expires_at", expired),
                ("rotated_at", "NULL".into()),
                ("rotated_at_ms", "NULL".into()),
                ("rotated_by", "NULL".into()),
            ],
            count: 10 * n,
        },
        Table {
            name: "events",
            template: "SELECT * FROM events LIMIT 1",
            omit: &["seq"],
            set: vec![
                ("id", "'seed-e-' || n".into()),
                ("time_ms", format!("{}000 + n % 1000", now - 1_200)),
                ("flow_id", format!("'seed-f-' || (1 + n % {n})")),
                ("client_id", client),
            ],
            count: 10 * n,
        },
    ]
}

/// What seeding did: rows per table, and how long it took.
pub struct Seeded {
    pub rows: Vec<(&'static str, u64)>,
    pub took: Duration,
}

/// Fills every table on the connection `$db`: the columns read with `$columns` (the table
/// name as `$1`), the template row copied into `seed_template`, then the statement built by
/// `$insert(table, columns, expressions, first n, last n)` per chunk; all in one
/// transaction. (A macro: the two backends' connections are different types.)
macro_rules! fill {
    ($db:expr, $n:expr, $columns:expr, $insert:expr) => {{
        let mut rows = Vec::new();
        let mut tx = $db.begin().await.expect("begin");
        for table in tables($n) {
            let columns: Vec<String> = sqlx::query_scalar($columns)
                .bind(table.name)
                .fetch_all(&mut *tx)
                .await
                .expect("columns");
            sqlx::raw_sql("DROP TABLE IF EXISTS seed_template")
                .execute(&mut *tx)
                .await
                .expect("drop the template");
            let create = format!("CREATE TEMPORARY TABLE seed_template AS {}", table.template);
            sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                .execute(&mut *tx)
                .await
                .expect("copy the template");
            let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seed_template")
                .fetch_one(&mut *tx)
                .await
                .expect("count the template");
            if found == 0 {
                eprintln!("  (no {} row to copy: not seeded)", table.name);
                continue;
            }
            let names = insert_columns(&table, &columns).join(", ");
            let exprs = select_exprs(&table, &columns).join(", ");
            for (lo, hi) in chunks(table.count) {
                let sql: String = $insert(table.name, &names, &exprs, lo, hi);
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .expect("seed");
            }
            rows.push((table.name, table.count));
        }
        tx.commit().await.expect("commit");
        rows
    }};
}

/// Seeds `n` (see the module comment) into the database at `url`, whose server is stopped.
pub async fn seed(url: &str, n: u64) -> Seeded {
    let started = Instant::now();
    let rows = if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url)
            .await
            .expect("open SQLite");
        let rows = fill!(
            db,
            n,
            "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            |table: &str, columns: &str, exprs: &str, lo: u64, hi: u64| {
                format!(
                    "INSERT INTO {table} ({columns}) WITH RECURSIVE g(n) AS (SELECT {lo} \
                     UNION ALL SELECT n + 1 FROM g WHERE n < {hi}) \
                     SELECT {exprs} FROM g, seed_template"
                )
            }
        );
        db.close().await.ok();
        rows
    } else {
        let mut db = sqlx::PgConnection::connect(url)
            .await
            .expect("open PostgreSQL");
        // Skips the foreign-key triggers for this session: the rows are consistent by
        // construction (about 15 % less seeding time at n = 100000; the indexes are the
        // rest). Needs a superuser; without one the checks simply run.
        let _ = sqlx::raw_sql("SET session_replication_role = replica")
            .execute(&mut db)
            .await;
        let rows = fill!(
            db,
            n,
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position",
            |table: &str, columns: &str, exprs: &str, lo: u64, hi: u64| {
                format!(
                    "INSERT INTO {table} ({columns}) SELECT {exprs} \
                     FROM generate_series({lo}::bigint, {hi}) AS g(n), seed_template"
                )
            }
        );
        // What autovacuum would do soon after such an insert.
        sqlx::raw_sql("ANALYZE")
            .execute(&mut db)
            .await
            .expect("analyze");
        db.close().await.ok();
        rows
    };
    Seeded {
        rows,
        took: started.elapsed(),
    }
}

fn chunks(count: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..count.div_ceil(CHUNK)).map(move |i| (i * CHUNK + 1, ((i + 1) * CHUNK).min(count)))
}

fn insert_columns(table: &Table, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .filter(|c| !table.omit.contains(&c.as_str()))
        .cloned()
        .collect()
}

fn select_exprs(table: &Table, columns: &[String]) -> Vec<String> {
    insert_columns(table, columns)
        .into_iter()
        .map(|column| {
            table
                .set
                .iter()
                .find(|(name, _)| *name == column)
                .map_or_else(
                    || format!("seed_template.{column}"),
                    |(_, expr)| expr.clone(),
                )
        })
        .collect()
}
