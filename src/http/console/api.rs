//! The events API: `GET /_tollgate/events` (JSON, filtered) and
//! `GET /_tollgate/events/stream` (server-sent events, for the console and `--follow`).

use crate::config::duration;
use crate::http::error::ApiError;
use crate::oauth::error::OAuthError;
use crate::oauth::event::{Event, Outcome};
use crate::state::AppState;
use crate::store::EventFilter;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

/// The filters both endpoints take.
#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    flow: Option<String>,
    client: Option<String>,
    /// A duration back from now, such as `10m`.
    since: Option<String>,
    /// Events stored after this `seq`.
    after: Option<i64>,
    /// `ok` or `rejected`.
    outcome: Option<String>,
    limit: Option<i64>,
}

impl EventQuery {
    pub fn filter(&self, now_ms: i64) -> Result<EventFilter, OAuthError> {
        let since_ms = match &self.since {
            None => None,
            Some(text) => {
                let back = duration::parse(text).map_err(|e| {
                    OAuthError::invalid_request(format!(
                        "since '{text}' is not a duration such as 90s, 10m or 2h: {e}"
                    ))
                })?;
                let back = i64::try_from(back.as_millis()).unwrap_or(i64::MAX);
                Some(now_ms.saturating_sub(back))
            }
        };
        let outcome = match self.outcome.as_deref() {
            None => None,
            Some(text) => Some(Outcome::parse(text).ok_or_else(|| {
                OAuthError::invalid_request(format!("outcome '{text}' is not 'ok' or 'rejected'"))
            })?),
        };
        Ok(EventFilter {
            flow: self.flow.clone(),
            client_id: self.client.clone(),
            since_ms,
            after_seq: self.after,
            outcome,
            limit: self.limit.unwrap_or(200),
        })
    }
}

pub async fn list(
    State(app): State<AppState>,
    Query(query): Query<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = query.filter(app.events.now_ms())?;
    // What was recorded before this request is stored before it is read.
    app.events.flush().await;
    let events = app.store.events(&filter).await?;
    let next = events
        .last()
        .map_or(filter.after_seq.unwrap_or(0), |e| e.seq);
    Ok(Json(json!({
        "events": events.iter().map(Event::to_json).collect::<Vec<_>>(),
        "next": next,
        "dropped": app.events.dropped(),
        "recording": app.events.is_on(),
    })))
}

/// Events as they are stored, from `after` (or the `Last-Event-ID` a reconnecting browser
/// sends) on; each with its `seq` as the SSE id. Other instances' events on the same
/// database arrive within a second. The stream ends within a second of the server starting
/// to shut down (a browser reconnects to the next server with `Last-Event-ID`).
pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>, ApiError> {
    let mut filter = query.filter(app.events.now_ms())?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    // A reconnecting browser says how far it got, which is past the `after` of its URL.
    if resume.is_some() {
        filter.after_seq = resume;
    }
    if filter.after_seq.is_none() {
        // Without a cursor: from now on.
        app.events.flush().await;
        let latest = app
            .store
            .events(&EventFilter {
                limit: 1,
                ..EventFilter::default()
            })
            .await?;
        filter.after_seq = Some(latest.last().map_or(0, |e| e.seq));
    }
    filter.limit = 200;
    let stream = futures_util::stream::unfold(
        (app, filter, Vec::<Event>::new()),
        |(app, mut filter, mut pending)| async move {
            loop {
                if app.is_closing() {
                    return None;
                }
                if let Some(event) = pending.pop() {
                    filter.after_seq = Some(event.seq);
                    let message = sse::Event::default()
                        .id(event.seq.to_string())
                        .event("tollgate")
                        .data(event.to_json().to_string());
                    return Some((Ok(message), (app, filter, pending)));
                }
                match app.store.events(&filter).await {
                    Ok(found) if !found.is_empty() => {
                        pending = found;
                        pending.reverse();
                    }
                    Ok(_) => app.events.stored_or(Duration::from_secs(1)).await,
                    Err(error) => {
                        tracing::warn!(%error, "reading events for a stream failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
