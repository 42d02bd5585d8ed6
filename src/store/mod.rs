//! Persistence: the only module with SQL.
//!
//! One [`Store`] value wraps a SQLite or a PostgreSQL pool, chosen once by the URL scheme.
//! Every query is a single SQL string that both databases accept (`$N` placeholders,
//! `RETURNING`, `ON CONFLICT`), run through [`on_pool!`] on whichever pool is live, so the
//! two backends cannot drift apart in behaviour. Steps the RFCs require to be atomic
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

pub use authorizations::{AuthorizationRequest, NewCode};
pub use control::{Removed, TokenOwner, TokensChanged};
pub use devices::{DeviceDecision, PageBinding};
pub use events::{EventFilter, FlowSummary};
pub use grants::{IssuedTokens, NewAccessToken, NewGrant, NewRefreshToken, Rotation, Spent};
pub use keys::StoredKey;
pub use settings::ServerSetting;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL '{0}': use sqlite://PATH (sqlite::memory: for a throwaway \
         database) or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression with `$pool` bound to whichever pool is live. The expression is
/// compiled once per backend, so a query that does not type-check on both does not build.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// SQLite waits this long for another writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens the database named by `url`: `sqlite:` URLs (the file is created if missing)
    /// or `postgres:`/`postgresql:` URLs.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            // Switching a new database file to WAL needs it to itself; done by one
            // connection first, it is a no-op for the pool's connections (WAL is stored in
            // the file), which otherwise race for it and fail with "database is locked".
            sqlx::Connection::close(sqlx::ConnectOptions::connect(&options).await?).await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                // Keeps `sqlite::memory:` databases alive between uses.
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(crate::secret::redacted_url(url)));
        };
        Ok(Store { backend })
    }

    /// Applies the migrations for this backend (`migrations/sqlite` or
    /// `migrations/postgres`). Safe to run from several instances at once: sqlx takes a
    /// database lock while migrating.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Backend::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: i32 = on_pool!(self, pool => sqlx::query_scalar("SELECT 1").fetch_one(pool).await)?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// Decodes a JSON column written by this module.
fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn to_json<T: serde::Serialize>(column: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
