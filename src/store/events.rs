//! The event log: written in batches, read by filter, swept by age.

use super::{Backend, SqliteWriter, Store, StoreError, from_json, on_pool, on_writer, to_json};
use crate::oauth::event::{Event, EventType, Outcome};
use std::borrow::Cow;

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub flow: Option<String>,
    pub client_id: Option<String>,
    /// At or after this time (milliseconds).
    pub since_ms: Option<i64>,
    /// Only events stored after this one (`seq`), oldest first: for following the log.
    pub after_seq: Option<i64>,
    pub outcome: Option<Outcome>,
    /// The most to return: the newest ones, or with `after_seq` the oldest after it.
    pub limit: i64,
}

/// One flow as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowSummary {
    pub flow_id: String,
    pub started_ms: i64,
    pub last_ms: i64,
    pub last_seq: i64,
    pub events: i64,
    pub rejected: i64,
    pub client_id: Option<String>,
    pub subject: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    id: String,
    time_ms: i64,
    flow_id: Option<String>,
    #[sqlx(rename = "type")]
    kind: String,
    endpoint: Option<String>,
    client_id: Option<String>,
    subject: Option<String>,
    outcome: String,
    error: Option<String>,
    description: Option<String>,
    rule: Option<String>,
    expected: Option<String>,
    received: Option<String>,
    hint: Option<String>,
    details: String,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str, value: &str| StoreError::Corrupt(format!("events.{what}: '{value}'"));
        Ok(Event {
            kind: EventType::parse(&row.kind).ok_or_else(|| corrupt("type", &row.kind))?,
            outcome: Outcome::parse(&row.outcome)
                .ok_or_else(|| corrupt("outcome", &row.outcome))?,
            details: from_json("events.details", &row.details)?,
            id: row.id,
            seq: row.seq,
            time_ms: row.time_ms,
            flow: row.flow_id,
            endpoint: row.endpoint,
            client_id: row.client_id,
            user: row.subject,
            error: row.error,
            description: row.description,
            rule: row.rule,
            expected: row.expected,
            received: row.received,
            hint: row.hint,
        })
    }
}

/// The text with each NUL character replaced by U+FFFD, as [`without_nul`] does in JSON:
/// PostgreSQL's text cannot hold NUL, and both backends store the same.
fn nul_free(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// An optional text column, NUL-free.
fn text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(nul_free)
}

/// The JSON text with each NUL character (`\u0000`) replaced by U+FFFD. PostgreSQL's text
/// cannot hold NUL, and refused the whole batch for one event that quoted a request
/// parameter holding `%00`; the replacement character shows in the console where the NUL
/// was, on both backends alike.
fn without_nul(json: String) -> String {
    if !json.contains("\\u0000") {
        return json;
    }
    let mut out = String::with_capacity(json.len());
    let mut rest = json.as_str();
    // serde_json writes a backslash of the text as `\\`, so an escape starts at a backslash
    // that is not the second half of such a pair.
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        if let Some(after) = escape.strip_prefix("\\u0000") {
            out.push_str("\\ufffd");
            rest = after;
        } else {
            let len = escape.chars().take(2).map(char::len_utf8).sum();
            out.push_str(&escape[..len]);
            rest = &escape[len..];
        }
    }
    out.push_str(rest);
    out
}

/// The columns an insert names, in the order of its bound values; reads add `seq` before
/// them.
const INSERT_COLUMNS: &str = "id, time_ms, flow_id, type, endpoint, client_id, subject, outcome, \
                              error, description, rule, expected, received, hint, details";

/// Events that SQLite stores in one statement at most; the event writer's batches are no
/// larger, so each of them is stored by one statement, whole or not at all.
pub const EVENTS_PER_STATEMENT: usize = 128;

/// SQLite's event insert: [`EVENTS_PER_STATEMENT`] rows of parameters, of which a batch binds
/// as many as it has events. Parameters left unbound are NULL, and the rows whose `id` is NULL
/// are left out. One text for every batch size, so the writer connection prepares it once
/// and keeps it. Prepared anew for each batch, while holding the single writer that the token
/// requests share, it cost the token endpoint under load 15 % with events on against 9 %
/// (five paired runs, issue 12); kept, it left RSS after load unchanged. PostgreSQL needs
/// every parameter bound, and its writes do not queue behind one connection, so it prepares
/// each batch's own statement.
static SQLITE_INSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let row = format!(
        "({})",
        vec!["?"; INSERT_COLUMNS.split(',').count()].join(", ")
    );
    format!(
        "INSERT INTO events ({INSERT_COLUMNS}) SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL",
        vec![row; EVENTS_PER_STATEMENT].join(", ")
    )
});

/// An event as the insert binds it: its JSON `details` made once.
struct NewEvent<'a> {
    event: &'a Event,
    details: String,
}

/// Binds an event's values in the order of [`INSERT_COLUMNS`], with `$bind` (`bind` of a
/// query, `push_bind` of a `VALUES` row).
macro_rules! bind_event {
    ($target:expr, $bind:ident, $new:expr) => {{
        let new: &NewEvent<'_> = $new;
        let event = new.event;
        $target
            .$bind(nul_free(&event.id))
            .$bind(event.time_ms)
            .$bind(text(&event.flow))
            .$bind(event.kind.as_str())
            .$bind(text(&event.endpoint))
            .$bind(text(&event.client_id))
            .$bind(text(&event.user))
            .$bind(event.outcome.as_str())
            .$bind(text(&event.error))
            .$bind(text(&event.description))
            .$bind(text(&event.rule))
            .$bind(text(&event.expected))
            .$bind(text(&event.received))
            .$bind(text(&event.hint))
            .$bind(new.details.as_str())
    }};
}

/// SQLite's insert of up to [`EVENTS_PER_STATEMENT`] events.
fn sqlite_insert<'q>(
    rows: &'q [NewEvent<'q>],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(SQLITE_INSERT.as_str()));
    for new in rows {
        query = bind_event!(query, bind, new);
    }
    query
}

impl Store {
    /// Stores events in order (their `seq` follows it), each batch of up to
    /// [`EVENTS_PER_STATEMENT`] whole or not at all.
    pub async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows = events
            .iter()
            .map(|event| {
                let details = to_json("events.details", &event.details).map(without_nul)?;
                Ok(NewEvent { event, details })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        match &self.backend {
            Backend::Sqlite { write, .. } => {
                let mut connection = write.lock().await?;
                let connection = SqliteWriter::open(&mut connection)?;
                if rows.len() <= EVENTS_PER_STATEMENT {
                    sqlite_insert(&rows).execute(connection).await?;
                } else {
                    let mut transaction = sqlx::Connection::begin(connection).await?;
                    for chunk in rows.chunks(EVENTS_PER_STATEMENT) {
                        sqlite_insert(chunk).execute(&mut *transaction).await?;
                    }
                    transaction.commit().await?;
                }
            }
            Backend::Postgres(pool) => {
                // A `VALUES` row of bound parameters per event, in one statement that is not
                // kept prepared: its text differs with the batch size.
                let mut insert =
                    sqlx::QueryBuilder::new(format!("INSERT INTO events ({INSERT_COLUMNS}) "));
                insert.push_values(&rows, |mut row, new| {
                    bind_event!(row, push_bind, new);
                });
                insert.build().persistent(false).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// The events that match `filter`, oldest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        // Text parameters first, numbers after them: the placeholders are numbered in the
        // order the values are bound below.
        for (column, value) in [
            ("flow_id", filter.flow.as_deref()),
            ("client_id", filter.client_id.as_deref()),
            ("outcome", filter.outcome.map(Outcome::as_str)),
        ] {
            if let Some(value) = value {
                texts.push(value);
                conditions.push(format!("{column} = ${}", texts.len()));
            }
        }
        for (condition, value) in [("time_ms >=", filter.since_ms), ("seq >", filter.after_seq)] {
            if let Some(value) = value {
                numbers.push(value);
                conditions.push(format!("{condition} ${}", texts.len() + numbers.len()));
            }
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let limit = filter.limit.clamp(1, 10_000);
        // Following: the oldest after the cursor. Otherwise the newest, returned oldest first.
        let order = if filter.after_seq.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT seq, {INSERT_COLUMNS} FROM events{filter_sql} ORDER BY seq {order} LIMIT {limit}"
        );
        let rows: Vec<EventRow> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for text in &texts {
                query = query.bind(*text);
            }
            for number in &numbers {
                query = query.bind(*number);
            }
            query.fetch_all(pool).await
        })?;
        let mut events: Vec<Event> = rows
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<_, _>>()?;
        if filter.after_seq.is_none() {
            events.reverse();
        }
        Ok(events)
    }

    /// One event by its id.
    pub async fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        if id.chars().any(char::is_control) {
            return Ok(None);
        }
        let sql = format!("SELECT seq, {INSERT_COLUMNS} FROM events WHERE id = $1");
        let row: Option<EventRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(Event::try_from).transpose()
    }

    /// The flows of the newest `window` events, newest first, at most `limit`.
    pub async fn recent_flows(
        &self,
        window: i64,
        limit: i64,
    ) -> Result<Vec<FlowSummary>, StoreError> {
        const SQL: &str = "SELECT flow_id, MIN(time_ms) AS started_ms, MAX(time_ms) AS last_ms, \
                           MAX(seq) AS last_seq, COUNT(*) AS events, \
                           SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END) AS rejected, \
                           MAX(client_id) AS client_id, MAX(subject) AS subject \
                           FROM events WHERE flow_id IS NOT NULL \
                           AND seq > (SELECT COALESCE(MAX(seq), 0) FROM events) - $1 \
                           GROUP BY flow_id ORDER BY last_seq DESC LIMIT $2";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(window)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Deletes at most `batch` events older than `before_ms`, oldest first; returns how many.
    /// Bounded, so that the sweep never holds SQLite's write lock for long.
    pub async fn sweep_events(&self, before_ms: i64, batch: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM events WHERE seq IN \
                           (SELECT seq FROM events WHERE time_ms < $1 ORDER BY seq LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(before_ms)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }
}
