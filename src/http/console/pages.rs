//! The console's pages, rendered with askama (autoescaped: events quote client input).

use crate::http::error::ApiError;
use crate::http::html::render;
use crate::oauth::event::{Event, Outcome, format_time};
use crate::oauth::rules::Rule;
use crate::state::{App, AppState};
use crate::store::EventFilter;
use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How many of the newest events the flow list looks at, and how many flows it shows.
const FLOW_WINDOW: i64 = 5_000;
const FLOWS_SHOWN: i64 = 50;

/// One event as the pages show it.
pub struct Step {
    id: String,
    kind: &'static str,
    outcome: &'static str,
    rejected: bool,
    time: String,
    endpoint: Option<String>,
    client_id: Option<String>,
    user: Option<String>,
    error: Option<String>,
    description: Option<String>,
    rule: Option<&'static Rule>,
    expected: Option<String>,
    received: Option<String>,
    hint: Option<String>,
    details: String,
}

impl From<&Event> for Step {
    fn from(event: &Event) -> Self {
        Step {
            id: event.id.clone(),
            kind: event.kind.as_str(),
            outcome: event.outcome.as_str(),
            rejected: event.outcome == Outcome::Rejected,
            time: format_time(event.time_ms),
            endpoint: event.endpoint.clone(),
            client_id: event.client_id.clone(),
            user: event.user.clone(),
            error: event.error.clone(),
            description: event.description.clone(),
            rule: event.rule(),
            expected: event.expected.clone(),
            received: event.received.clone(),
            hint: event.hint.clone(),
            details: if event.details.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&event.details).unwrap_or_default()
            },
        }
    }
}

pub struct FlowRow {
    flow_id: String,
    last: String,
    events: i64,
    rejected: i64,
    client_id: Option<String>,
    subject: Option<String>,
}

#[derive(Template)]
#[template(path = "console/index.html")]
struct IndexPage<'a> {
    base: &'a str,
    issuer: &'a str,
    flows: Vec<FlowRow>,
    dropped: u64,
    recording: bool,
}

#[derive(Template)]
#[template(path = "console/flow.html")]
struct FlowPage<'a> {
    base: &'a str,
    issuer: &'a str,
    flow: &'a str,
    steps: Vec<Step>,
}

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventPage<'a> {
    base: &'a str,
    issuer: &'a str,
    step: Step,
    flow_link: Option<String>,
}

fn base(app: &App) -> &str {
    app.console
        .as_ref()
        .map_or("", |console| console.base.as_str())
}

pub async fn index(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.events.flush().await;
    let flows = app
        .store
        .recent_flows(FLOW_WINDOW, FLOWS_SHOWN)
        .await?
        .into_iter()
        .map(|flow| FlowRow {
            last: format_time(flow.last_ms),
            flow_id: flow.flow_id,
            events: flow.events,
            rejected: flow.rejected,
            client_id: flow.client_id,
            subject: flow.subject,
        })
        .collect();
    let page = IndexPage {
        base: base(&app),
        issuer: app.issuer.as_str(),
        flows,
        dropped: app.events.dropped(),
        recording: app.events.is_on(),
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
    let page = FlowPage {
        base: base(&app),
        issuer: app.issuer.as_str(),
        flow: &flow,
        steps: events.iter().map(Step::from).collect(),
    };
    Ok(render(&page, StatusCode::OK))
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
    let page = EventPage {
        base: base(&app),
        issuer: app.issuer.as_str(),
        flow_link: event
            .flow
            .as_ref()
            .and_then(|flow| app.console.as_ref().map(|c| c.flow_url(flow))),
        step: Step::from(&event),
    };
    Ok(render(&page, StatusCode::OK))
}
