//! The events of one request. The HTTP layer opens a scope around each request with the
//! request's own event (endpoint, type); whatever handles the request adds what it learns
//! (the client, the flow, the user, details), records the steps that follow from it (a code
//! issued, tokens issued), and marks a refusal with its error. When the request is done the
//! request event and the steps are recorded together, in that order.
//!
//! The scope is task-local, like a tracing span, so that the error responses (built where
//! only the error is at hand) can mark the refusal and link to the event in the console.
//! Outside a request (the CLI, background tasks) every call here does nothing.

use super::EventLog;
use crate::oauth::error::OAuthError;
use crate::oauth::event::{Event, EventType, Outcome};
use crate::oauth::rules::Rule;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

tokio::task_local! {
    static SCOPE: RequestScope;
}

/// The events of the request in progress.
#[derive(Debug, Clone)]
pub struct RequestScope {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    log: Arc<EventLog>,
    /// The console's URL of an event, without the id (`{issuer}/_tollgate/events/`), when
    /// the console is on.
    console_events: Option<String>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    request: Event,
    /// Steps recorded while handling the request, kept until the request event goes first.
    steps: Vec<Event>,
}

impl RequestScope {
    /// A scope whose request event is of `kind` at `endpoint`.
    pub fn new(
        log: Arc<EventLog>,
        console_events: Option<String>,
        kind: EventType,
        endpoint: Option<&str>,
    ) -> Self {
        let mut request = Event::new(kind, log.now_ms());
        request.endpoint = endpoint.map(str::to_owned);
        RequestScope {
            inner: Arc::new(Inner {
                log,
                console_events,
                state: Mutex::new(State {
                    request,
                    steps: Vec::new(),
                }),
            }),
        }
    }

    /// A rule and a hint on the request event, known before the request is handled (a
    /// misdirected URL).
    pub fn explain(&self, rule: Option<&Rule>, hint: Option<String>) {
        self.with(|state| {
            state.request.rule = rule.map(|rule| rule.id.to_owned());
            state.request.hint = hint;
        });
    }

    /// Runs `future` (the request's handling) inside this scope.
    pub async fn run<F: Future>(self, future: F) -> F::Output {
        SCOPE.scope(self, future).await
    }

    /// Records the request event and its steps: rejected if a refusal was marked, or if
    /// the response is an error nobody explained.
    pub fn finish(&self, status: u16, details: impl IntoIterator<Item = (&'static str, Value)>) {
        let mut ordered = Vec::new();
        let (request, steps) = {
            let mut state = lock(&self.inner.state);
            let mut request = state.request.clone();
            for (name, value) in details {
                request.detail(name, value);
            }
            if status >= 400 && request.outcome == Outcome::Ok {
                request.outcome = Outcome::Rejected;
            }
            (request, std::mem::take(&mut state.steps))
        };
        for mut step in steps {
            // A fault injected on arrival is recorded before the handler learns the flow,
            // client and user of the request (issue 14).
            if step.kind == EventType::FaultInjected {
                fill(&mut step.flow, &request.flow);
                fill(&mut step.client_id, &request.client_id);
                fill(&mut step.user, &request.user);
            }
            ordered.push(step);
        }
        self.inner.log.record(request);
        for step in ordered {
            self.inner.log.record(step);
        }
    }

    fn with<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut lock(&self.inner.state))
    }
}

fn fill(field: &mut Option<String>, from: &Option<String>) {
    if field.is_none() {
        field.clone_from(from);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is plain data; after a panic elsewhere it is still usable.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `change` on the current request's scope, if there is one.
fn current<T>(change: impl FnOnce(&RequestScope) -> T) -> Option<T> {
    SCOPE.try_with(change).ok()
}

/// The client the request is about.
pub fn set_client(client_id: &str) {
    current(|scope| scope.with(|state| state.request.client_id = Some(client_id.to_owned())));
}

/// The client the request is about, once the handler knows it.
pub fn client() -> Option<String> {
    current(|scope| scope.with(|state| state.request.client_id.clone())).flatten()
}

/// The flow the request belongs to.
pub fn set_flow(flow: &str) {
    current(|scope| scope.with(|state| state.request.flow = Some(flow.to_owned())));
}

/// The user the request acts for.
pub fn set_user(user: &str) {
    current(|scope| scope.with(|state| state.request.user = Some(user.to_owned())));
}

/// Changes the request event's type, once the handler knows better.
pub fn set_type(kind: EventType) {
    current(|scope| scope.with(|state| state.request.kind = kind));
}

/// A detail of the request event.
pub fn detail(name: &str, value: impl Into<Value>) {
    let value = value.into();
    current(|scope| scope.with(|state| state.request.detail(name, value)));
}

/// A hint for the developer on a request that went through but may not do what they
/// expect (a token introspected as inactive).
pub fn hint(text: String) {
    current(|scope| scope.with(|state| state.request.hint = Some(text)));
}

/// The id of the current request's event, which names the request in the log.
pub fn request_id() -> Option<String> {
    current(|scope| scope.with(|state| state.request.id.clone()))
}

/// The flow of the current request, if it has one.
pub fn flow() -> Option<String> {
    current(|scope| scope.with(|state| state.request.flow.clone())).flatten()
}

/// Records a step that followed from the request: it takes the request's flow, client
/// and user, and `fill` adds the rest.
pub fn step(kind: EventType, fill: impl FnOnce(&mut Event)) {
    current(|scope| {
        let mut event = Event::new(kind, scope.inner.log.now_ms());
        scope.with(|state| {
            event.flow.clone_from(&state.request.flow);
            event.endpoint.clone_from(&state.request.endpoint);
            event.client_id.clone_from(&state.request.client_id);
            event.user.clone_from(&state.request.user);
            fill(&mut event);
            state.steps.push(event);
        });
    });
}

/// Marks the request refused with `error`, and returns the console's link to its event
/// (RFC 6749 §5.2 `error_uri`) when the console is on.
pub fn reject(error: &OAuthError) -> Option<String> {
    current(|scope| {
        let id = scope.with(|state| {
            state.request.reject(error);
            state.request.id.clone()
        });
        scope
            .inner
            .console_events
            .as_ref()
            .map(|base| format!("{base}{id}"))
    })
    .flatten()
}
