//! What a serving instance records about itself, for commands that run without its
//! configuration (`migrations/*/0002_server_settings.sql`).

use super::{Store, StoreError, on_pool, on_writer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSetting {
    /// The issuer it serves as.
    Issuer,
    /// How long a retired signing key stays in its JWKS, in seconds.
    KeyGracePeriod,
    /// How often it re-reads the signing keys, in milliseconds: how soon it follows a
    /// rotation made elsewhere.
    KeyReloadInterval,
    /// The users who can approve, as a JSON array of subjects: `tollgate device approve`
    /// approves only as one of them.
    Users,
}

impl ServerSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSetting::Issuer => "issuer",
            ServerSetting::KeyGracePeriod => "key_grace_period",
            ServerSetting::KeyReloadInterval => "key_reload_interval_ms",
            ServerSetting::Users => "users",
        }
    }
}

impl Store {
    pub async fn server_setting(
        &self,
        setting: ServerSetting,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT value FROM server_settings WHERE name = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(setting.as_str())
            .fetch_optional(pool)
            .await)?)
    }

    /// Records a setting; returns whether that changed it. An unchanged value is not
    /// written, so a restart writes nothing.
    pub async fn record_server_setting(
        &self,
        setting: ServerSetting,
        value: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO server_settings (name, value, updated_at) \
                           VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET \
                           value = excluded.value, updated_at = excluded.updated_at \
                           WHERE server_settings.value <> excluded.value";
        let changed = on_writer!(self, pool => sqlx::query(SQL)
            .bind(setting.as_str())
            .bind(value)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }
}
