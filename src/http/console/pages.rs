//! The console's pages about what happened: recent flows, a flow's timeline, one event, a
//! client's events. Rendered with askama (autoescaped: events quote client input).

use super::view::{ClientCard, Frame, Step, Time, encode};
use crate::http::error::ApiError;
use crate::http::html::render;
use crate::oauth::event::{Event, Outcome};
use crate::state::{App, AppState};
use crate::store::{EventFilter, StoreError};
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;

/// How many of the newest events the flow list looks at, and how many flows it shows.
const FLOW_WINDOW: i64 = 5_000;
const FLOWS_SHOWN: i64 = 50;
/// How many of a client's newest events its page shows.
const CLIENT_EVENTS_SHOWN: i64 = 100;

pub struct FlowRow {
    url: String,
    last: Time,
    started: Time,
    events: i64,
    rejected: i64,
    client_id: Option<String>,
    client_name: Option<String>,
    subject: Option<String>,
}

#[derive(Template)]
#[template(path = "console/index.html")]
struct IndexPage<'a> {
    frame: Frame<'a>,
    flows: Vec<FlowRow>,
    dropped: u64,
    recording: bool,
    /// The event stream that tells the page (with JavaScript) to refresh.
    stream: String,
}

#[derive(Template)]
#[template(path = "console/client_events.html")]
struct ClientEventsPage<'a> {
    frame: Frame<'a>,
    client_id: &'a str,
    client: Option<ClientCard>,
    /// Newest first.
    steps: Vec<Step>,
    stream: String,
}

#[derive(Template)]
#[template(path = "console/flow.html")]
struct FlowPage<'a> {
    frame: Frame<'a>,
    flow: &'a str,
    steps: Vec<Step>,
    client_id: Option<String>,
    client_name: Option<String>,
    user: Option<String>,
    rejected: usize,
    stream: String,
}

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventPage<'a> {
    frame: Frame<'a>,
    step: Step,
    flow_link: Option<String>,
    client_link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IndexQuery {
    /// Show this client's events instead of the recent flows.
    client: Option<String>,
}

/// The recent flows, or with `?client=ID` that client's events.
pub async fn index(
    State(app): State<AppState>,
    Query(query): Query<IndexQuery>,
) -> Result<Response, ApiError> {
    app.events.flush().await;
    if let Some(client_id) = query.client.as_deref() {
        return client_events(&app, client_id).await;
    }
    let names = client_names(&app).await?;
    let frame = Frame::new(&app, "flows");
    let flows = app
        .store
        .recent_flows(FLOW_WINDOW, FLOWS_SHOWN)
        .await?
        .into_iter()
        .map(|flow| FlowRow {
            url: frame.flow_url(&flow.flow_id),
            last: Time::from_millis(flow.last_ms),
            started: Time::from_millis(flow.started_ms),
            events: flow.events,
            rejected: flow.rejected,
            client_name: flow
                .client_id
                .as_ref()
                .and_then(|id| names.get(id).cloned()),
            client_id: flow.client_id,
            subject: flow.subject,
        })
        .collect();
    let stream = format!(
        "{}/events/stream?after={}",
        frame.base,
        latest_seq(&app).await?
    );
    let page = IndexPage {
        frame,
        flows,
        dropped: app.events.dropped(),
        recording: app.events.is_on(),
        stream,
    };
    Ok(render(&page, StatusCode::OK))
}

async fn client_events(app: &App, client_id: &str) -> Result<Response, ApiError> {
    let filter = EventFilter {
        client_id: Some(client_id.to_owned()),
        limit: CLIENT_EVENTS_SHOWN,
        ..EventFilter::default()
    };
    let events = app.store.events(&filter).await?;
    let frame = Frame::new(app, "clients");
    let client = app
        .store
        .client(client_id)
        .await?
        .map(|client| ClientCard::new(&client, &frame));
    let stream = format!(
        "{}/events/stream?client={}&after={}",
        frame.base,
        encode(client_id),
        latest_seq(app).await?
    );
    let page = ClientEventsPage {
        frame,
        client_id,
        client,
        steps: events.iter().rev().map(Step::from).collect(),
        stream,
    };
    Ok(render(&page, StatusCode::OK))
}

pub async fn flow(
    State(app): State<AppState>,
    Path(flow): Path<String>,
) -> Result<Response, ApiError> {
    app.events.flush().await;
    let filter = EventFilter {
        flow: Some(flow.clone()),
        limit: 1_000,
        ..EventFilter::default()
    };
    let events = app.store.events(&filter).await?;
    let client_id = events.iter().find_map(|e| e.client_id.clone());
    let client_name = match &client_id {
        Some(id) => app
            .store
            .client(id)
            .await?
            .and_then(|c| c.metadata.client_name),
        None => None,
    };
    let frame = Frame::new(&app, "flows");
    let stream = format!(
        "{}/events/stream?flow={}&after={}",
        frame.base,
        encode(&flow),
        events.last().map_or(0, |e| e.seq)
    );
    let status = if events.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let page = FlowPage {
        frame,
        flow: &flow,
        user: events.iter().rev().find_map(|e| e.user.clone()),
        rejected: events
            .iter()
            .filter(|e| e.outcome == Outcome::Rejected)
            .count(),
        steps: events.iter().map(Step::from).collect(),
        client_id,
        client_name,
        stream,
    };
    Ok(render(&page, status))
}

/// One event: the page an `error_uri` links to, or its JSON for `Accept: application/json`.
pub async fn event(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.events.flush().await;
    let Some(event) = app.store.event(&id).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"not_found","error_description":"no event with this id; events are kept for events.retention"}"#,
        )
            .into_response());
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        return Ok(Json(event.to_json()).into_response());
    }
    let frame = Frame::new(&app, "flows");
    let page = EventPage {
        flow_link: event.flow.as_ref().map(|flow| frame.flow_url(flow)),
        client_link: event.client_id.as_ref().map(|id| frame.client_events(id)),
        step: Step::from(&event),
        frame,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The `seq` of the newest stored event (0 when there is none): where a page's live
/// updates start, so that nothing stored after the page was read is missed.
async fn latest_seq(app: &App) -> Result<i64, StoreError> {
    let newest: Vec<Event> = app
        .store
        .events(&EventFilter {
            limit: 1,
            ..EventFilter::default()
        })
        .await?;
    Ok(newest.last().map_or(0, |e| e.seq))
}

/// Every stored client's name, by client id.
async fn client_names(app: &App) -> Result<HashMap<String, String>, StoreError> {
    Ok(app
        .store
        .all_clients()
        .await?
        .into_iter()
        .filter_map(|c| c.metadata.client_name.map(|name| (c.client_id, name)))
        .collect())
}
