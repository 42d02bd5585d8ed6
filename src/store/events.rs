//! The event log: written in batches, read by filter, swept by age.

use super::{Store, StoreError, from_json, on_pool, on_writer, to_json};
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

const COLUMNS: &str = "seq, id, time_ms, flow_id, type, endpoint, client_id, subject, outcome, \
                       error, description, rule, expected, received, hint, details";

impl Store {
    /// Stores events in one statement, in order (their `seq` follows it).
    pub async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // A `VALUES` row of bound parameters per event, all in one statement: on SQLite one
        // round trip to the writer connection and one commit, so the token requests that
        // share that writer wait behind one short step. Unpacked from one JSON document
        // instead, a row cost SQLite almost twice as much (issue 12). The statement is not
        // kept prepared: its text differs with the batch size, and the writer connection's
        // statement cache kept up to 100 of them, about 12 MiB of RSS after a load run
        // (issue 18).
        let details = events
            .iter()
            .map(|event| to_json("events.details", &event.details).map(without_nul))
            .collect::<Result<Vec<_>, _>>()?;
        on_writer!(self, pool => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO events (id, time_ms, flow_id, type, endpoint, client_id, subject, \
                 outcome, error, description, rule, expected, received, hint, details) ",
            );
            insert.push_values(events.iter().zip(details), |mut row, (event, details)| {
                row.push_bind(nul_free(&event.id))
                    .push_bind(event.time_ms)
                    .push_bind(text(&event.flow))
                    .push_bind(event.kind.as_str())
                    .push_bind(text(&event.endpoint))
                    .push_bind(text(&event.client_id))
                    .push_bind(text(&event.user))
                    .push_bind(event.outcome.as_str())
                    .push_bind(text(&event.error))
                    .push_bind(text(&event.description))
                    .push_bind(text(&event.rule))
                    .push_bind(text(&event.expected))
                    .push_bind(text(&event.received))
                    .push_bind(text(&event.hint))
                    .push_bind(details);
            });
            insert.build().persistent(false).execute(pool).await?;
        });
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
        let sql =
            format!("SELECT {COLUMNS} FROM events{filter_sql} ORDER BY seq {order} LIMIT {limit}");
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
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = $1");
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
