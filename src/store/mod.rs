//! Persistence: the only module with SQL.
//!
//! One [`Store`] value wraps a SQLite or a PostgreSQL pool, chosen once by the URL scheme.
//! Every query is a single SQL string that both databases accept (`$N` placeholders,
//! `RETURNING`, `ON CONFLICT`), run through [`on_pool!`] on whichever pool is live, so the
//! two backends cannot drift apart in behaviour. (One exception: SQLite stores events with
//! a statement of its own, see `events.rs`.) Steps the RFCs require to be atomic
//! (redeeming a code, rotating a refresh token, making the first signing key) are single
//! conditional statements or transactions that start with their write, which makes them safe
//! under concurrent requests and across instances sharing one database.

mod authorizations;
mod clients;
mod control;
mod devices;
mod events;
mod grants;
mod jtis;
mod keys;
mod settings;
mod sweeps;

pub use authorizations::{AuthorizationRequest, NewCode};
pub use control::{Removed, TokenOwner, TokensChanged};
pub use devices::{DeviceDecision, PageBinding};
pub use events::{EVENTS_PER_STATEMENT, EventFilter, FlowSummary};
pub use grants::{IssuedTokens, NewAccessToken, NewGrant, NewRefreshToken, Rotation, Spent};
pub use keys::StoredKey;
pub use settings::ServerSetting;
pub use sweeps::{GrantCursor, WalProgress};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL '{0}': use sqlite://PATH (sqlite::memory: for a throwaway \
         database) or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedUrl(String),
    /// The database cannot be reached (refused, closed, timed out, shutting down, locked
    /// for too long, out of disk): the request may succeed later, and is answered 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            StoreError::Unavailable(error)
        } else {
            StoreError::Database(error)
        }
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Whether a database error says the database cannot be reached now, rather than that a
/// statement was wrong: no connection (refused, reset, closed, the pool timed out waiting
/// for one), or the server refusing or ending sessions (PostgreSQL `FATAL`, connection
/// exceptions `08`, `57P0x` shutdowns, `53` insufficient resources), or SQLite busy or
/// locked beyond its timeout, unable to open or write the file, or out of disk.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => {
            if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                use sqlx::postgres::PgSeverity;
                let code = pg.code();
                matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
            } else if database
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // Primary result codes: BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
                let code = database
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .unwrap_or(0);
                matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Whether `error`, or any error in its chain of causes, says the database is unavailable.
/// The services wrap store errors in their own (some transparently, which hides the
/// `StoreError` itself from the chain), so the `sqlx::Error` is recognised too.
pub fn unavailable_in_chain(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(store) = error.downcast_ref::<StoreError>() {
            return store.is_unavailable();
        }
        if let Some(sqlx) = error.downcast_ref::<sqlx::Error>() {
            return is_unavailable(sqlx);
        }
        next = error.source();
    }
    false
}

#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// SQLite's write-ahead log, for bounding it (`checkpoint_wal_above`); `None` in memory
    /// and on PostgreSQL.
    wal_path: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug)]
enum Backend {
    /// SQLite admits one writer at a time. Writers that meet on the file's lock wait in its
    /// busy handler, which sleeps 1, 2, 5, 10, ... ms between tries: under 8 concurrent
    /// token requests that made the p99 tens of milliseconds. So every statement that writes
    /// goes through `write`, one connection, where writers queue in the process without
    /// sleeping, and reads go through `read`, whose connections are `query_only` (a write
    /// sent there by mistake fails in the tests rather than contending for the lock).
    Sqlite {
        read: SqlitePool,
        write: Arc<SqliteWriter>,
    },
    Postgres(PgPool),
}

/// SQLite's one writing connection, lent to one task at a time. Not a pool of one: sqlx's
/// pool pings every connection on its way back, one more round trip to the connection's
/// thread while the writer, which every write queues for, stays taken (issue 18).
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    /// `None` once closed.
    connection: tokio::sync::Mutex<Option<SqliteConnection>>,
    /// How long a write waits for it: [`ACQUIRE_TIMEOUT`], as for a pool's connection.
    wait: Duration,
}

impl SqliteWriter {
    fn new(connection: SqliteConnection, wait: Duration) -> Self {
        SqliteWriter {
            connection: tokio::sync::Mutex::new(Some(connection)),
            wait,
        }
    }

    /// The connection, waited for at most `wait`; after that the database counts as
    /// unavailable (`PoolTimedOut`, as from a pool).
    pub(crate) async fn lock(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<SqliteConnection>>, sqlx::Error> {
        tokio::time::timeout(self.wait, self.connection.lock())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// The connection a [`lock`](Self::lock) holds, unless the writer was closed.
    pub(crate) fn open(
        connection: &mut Option<SqliteConnection>,
    ) -> Result<&mut SqliteConnection, sqlx::Error> {
        connection.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Closes the connection once the task holding it is done.
    async fn close(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            if let Err(error) = sqlx::Connection::close(connection).await {
                tracing::warn!(%error, "closing the SQLite writer connection failed");
            }
        }
    }
}

/// Runs the same expression with `$pool` bound to whichever pool reads: SQLite's read pool,
/// or the PostgreSQL pool. The expression is compiled once per backend, so a query that
/// does not type-check on both does not build.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for statements and transactions that write: SQLite's single writer
/// connection (`&mut SqliteConnection`, held for the whole expression), or the PostgreSQL
/// pool. Waiting too long for the writer returns `PoolTimedOut` from the enclosing function,
/// as a pool's wait would.
macro_rules! on_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { write, .. } => {
                // `begin` on the connection, as on a pool.
                #[allow(unused_imports)]
                use sqlx::Connection as _;
                let mut connection = write.lock().await?;
                let $pool = $crate::store::SqliteWriter::open(&mut connection)?;
                $body
            }
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_writer;

/// SQLite waits this long for another writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite connections that only read (WAL lets them run beside the writer).
const SQLITE_READERS: u32 = 8;

/// How long a request waits for a database connection (sqlx's default is 30 s, the whole
/// request timeout): beyond it, the database counts as unavailable and the request is
/// answered 503 with `Retry-After` rather than held.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite `journal_size_limit`: the write-ahead log is cut back to 64 MiB when it restarts.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

impl Store {
    /// Opens the database named by `url`: `sqlite:` URLs (the file is created if missing)
    /// or `postgres:`/`postgresql:` URLs.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_tenant(url, None).await
    }

    /// Opens the store of the tenant `tenant` (issue 17) on the database named by `url`,
    /// or the default tenant's (`None`, the same as [`Store::connect`]). Tenants' stores
    /// are apart, so nothing of one can be read through another: on SQLite a file beside
    /// the default one (`tollgate.db` → `tollgate.acme.db`; an in-memory database is
    /// another in-memory database), on PostgreSQL a schema of the same database
    /// (`tenant_acme`, made if missing), chosen by the connections' `search_path`.
    pub async fn connect_tenant(url: &str, tenant: Option<&str>) -> Result<Self, StoreError> {
        let mut wal_path = None;
        let backend = if url.starts_with("sqlite:") {
            let mut options = SqliteConnectOptions::from_str(url)?;
            if let Some(tenant) = tenant {
                if !url.contains(":memory:") {
                    let file = tenant_file(options.get_filename(), tenant);
                    options = options.filename(file);
                }
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                // When a checkpoint restarts the log, SQLite cuts the file back to this size
                // rather than keeping the largest it ever was.
                .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
            let file = options.get_filename();
            if !file.as_os_str().is_empty() && !url.contains(":memory:") {
                let mut wal = file.as_os_str().to_owned();
                wal.push("-wal");
                wal_path = Some(wal.into());
            }
            // Switching a new database file to WAL needs it to itself; done by one
            // connection first, it is a no-op for the pool's connections (WAL is stored in
            // the file), which otherwise race for it and fail with "database is locked".
            sqlx::Connection::close(sqlx::ConnectOptions::connect(&options).await?).await?;
            // The writer and the read pool come from the same options, so a
            // `sqlite::memory:` database (shared cache, named once in the options) is the
            // same database in both.
            let write = Arc::new(SqliteWriter::new(
                sqlx::ConnectOptions::connect(&options).await?,
                ACQUIRE_TIMEOUT,
            ));
            let read = SqlitePoolOptions::new()
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // sqlx pings a connection before lending it by default, which finds a dropped
                // network connection; a SQLite connection is in the process and cannot drop,
                // and the ping was one more round trip to its thread for every query: without
                // it, 7 to 12 % less server CPU per token request and 10 to 17 % more
                // tokens/s with events off (`wrk`, issue 18).
                .test_before_acquire(false)
                .max_connections(SQLITE_READERS)
                .connect_with(options.pragma("query_only", "ON"))
                .await?;
            Backend::Sqlite { read, write }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut options = PgConnectOptions::from_str(url)?;
            if let Some(tenant) = tenant {
                let schema = tenant_schema(tenant);
                create_schema(&options, &schema).await?;
                options = options.options([("search_path", schema)]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(crate::secret::redacted_url(url)));
        };
        Ok(Store { backend, wal_path })
    }

    /// Applies the migrations for this backend (`migrations/sqlite` or
    /// `migrations/postgres`). Safe to run from several instances at once: sqlx takes a
    /// database lock while migrating.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { write, .. } => {
                let mut connection = write.lock().await?;
                sqlx::migrate!("migrations/sqlite")
                    .run(SqliteWriter::open(&mut connection)?)
                    .await?
            }
            Backend::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: i32 = on_pool!(self, pool => sqlx::query_scalar("SELECT 1").fetch_one(pool).await)?;
        Ok(())
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// The SQLite file of a tenant: the default file with the tenant's name before its
/// extension (`data/tollgate.db` → `data/tollgate.acme.db`; `data/tollgate` →
/// `data/tollgate.acme`).
fn tenant_file(file: &std::path::Path, tenant: &str) -> std::path::PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match file.extension() {
        Some(ext) => format!("{stem}.{tenant}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tenant}"),
    };
    file.with_file_name(name)
}

/// The PostgreSQL schema of a tenant. Tenant names are `[a-z0-9-]+` (checked with the
/// configuration), so `-` becomes `_` (never in a name, so no two names meet) and the
/// schema needs no quoting.
fn tenant_schema(tenant: &str) -> String {
    let safe: String = tenant
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("tenant_{safe}")
}

/// Makes the tenant's schema, before the pool's connections select it and migrations fill
/// it (sqlx's `_sqlx_migrations` lands in it too, so each tenant migrates on its own).
async fn create_schema(options: &PgConnectOptions, schema: &str) -> Result<(), StoreError> {
    use sqlx::{ConnectOptions, Connection, Executor};
    let mut connection = options.connect().await?;
    let created = connection
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .await;
    // Two instances starting at once may both try to create it; one wins, and the other's
    // unique violation (23505) means it exists.
    if let Err(error) = created {
        let exists = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "23505" || code == "42P06");
        if !exists {
            return Err(error.into());
        }
    }
    connection.close().await?;
    Ok(())
}

/// Decodes a JSON column written by this module.
fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn to_json<T: serde::Serialize>(column: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::{SqliteWriter, tenant_file, tenant_schema};
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::path::Path;
    use std::str::FromStr;

    /// A write that waits too long for the writer gives up as it would at a pool
    /// (`PoolTimedOut`, which the store reports as unavailable: 503); the writer is lent
    /// again once released, and not at all once closed.
    #[tokio::test]
    async fn a_write_waits_for_the_sqlite_writer_only_so_long() {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
        let wait = std::time::Duration::from_millis(50);
        let writer = SqliteWriter::new(options.connect().await.unwrap(), wait);
        let held = writer.lock().await.unwrap();
        // The outer bound keeps a writer that never gives up from hanging the test.
        let waited = tokio::time::timeout(wait * 100, writer.lock()).await;
        assert!(
            matches!(waited, Ok(Err(sqlx::Error::PoolTimedOut))),
            "{waited:?}"
        );
        drop(held);
        let mut connection = writer.lock().await.unwrap();
        assert!(SqliteWriter::open(&mut connection).is_ok());
        drop(connection);
        writer.close().await;
        let mut connection = writer.lock().await.unwrap();
        assert!(matches!(
            SqliteWriter::open(&mut connection),
            Err(sqlx::Error::PoolClosed)
        ));
    }

    #[test]
    fn a_tenants_store_is_beside_the_default_one() {
        assert_eq!(
            tenant_file(Path::new("data/tollgate.db"), "acme"),
            Path::new("data/tollgate.acme.db")
        );
        assert_eq!(
            tenant_file(Path::new("/var/lib/tollgate"), "team-2"),
            Path::new("/var/lib/tollgate.team-2")
        );
        assert_eq!(tenant_schema("acme"), "tenant_acme");
        // Names are [a-z0-9-]+: `-` becomes `_`, which no name has, so no two names meet.
        assert_eq!(tenant_schema("team-2"), "tenant_team_2");
    }
}
