//! The event log (issue 12): every step of every authorization and every refusal, written to
//! the database in the background. Recording never blocks or fails a request: events go
//! into a bounded buffer that a writer drains in batches; when the buffer is full, events
//! are dropped and counted. [`scope`] ties the events of one request together.

pub mod scope;

pub use scope::{
    client, detail, flow, hint, reject, request_id, set_client, set_flow, set_type, set_user, step,
};

use crate::clock::Clock;
use crate::oauth::event::Event;
use crate::store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// Events written per statement at most: the most SQLite's insert takes.
const BATCH: usize = crate::store::EVENTS_PER_STATEMENT;

/// How long the writer gathers events after the first of a batch before it writes them
/// (unless a whole batch or a flush is waiting). Writing as soon as one event arrived made a
/// transaction of one or two events per request: on SQLite, whose single writer the token
/// requests also need, that doubled the write transactions under load.
const GATHER: Duration = Duration::from_millis(20);

enum Message {
    Event(Box<Event>),
    /// Answered once everything sent before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Where events go.
#[derive(Debug)]
pub struct EventLog {
    sender: Option<mpsc::Sender<Message>>,
    dropped: AtomicU64,
    clock: Arc<dyn Clock>,
    /// Woken after each batch is stored, for live streams.
    stored: Arc<Notify>,
    /// Wakes the writer before its gather window ends: someone waits on a flush.
    hurry: Arc<Notify>,
}

impl EventLog {
    /// A log that writes to `store` through a buffer of `capacity` events; the writer runs on
    /// its own task until the log is dropped.
    pub fn start(store: Store, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let stored = Arc::new(Notify::new());
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write(
            store,
            receiver,
            Arc::clone(&stored),
            Arc::clone(&hurry),
        ));
        EventLog {
            sender: Some(sender),
            dropped: AtomicU64::new(0),
            clock,
            stored,
            hurry,
        }
    }

    /// A log that records nothing (`events.enabled = false`).
    pub fn off(clock: Arc<dyn Clock>) -> Self {
        EventLog {
            sender: None,
            dropped: AtomicU64::new(0),
            clock,
            stored: Arc::new(Notify::new()),
            hurry: Arc::new(Notify::new()),
        }
    }

    pub fn is_on(&self) -> bool {
        self.sender.is_some()
    }

    /// Records an event without waiting; drops it (and counts it) when the buffer is full.
    pub fn record(&self, event: Event) {
        let Some(sender) = &self.sender else {
            return;
        };
        if sender.try_send(Message::Event(Box::new(event))).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every event recorded so far is stored (or dropped).
    pub async fn flush(&self) {
        let Some(sender) = &self.sender else {
            return;
        };
        let (done, stored) = oneshot::channel();
        if sender.send(Message::Flush(done)).await.is_ok() {
            self.hurry.notify_one();
            let _ = stored.await;
        }
    }

    /// How many events were dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Now, in milliseconds, by the server's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Resolves after the next batch is stored, or after `limit`.
    pub async fn stored_or(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.stored.notified()).await;
    }
}

/// Drains the buffer: waits for an event, lets the others of the gather window arrive
/// (unless a flush is waiting or a whole batch is there already), and stores up to
/// [`BATCH`] events in one statement. The writer sleeps through the window rather than
/// waking for each event, which saves two task polls and two timer resets per token
/// request under load (issue 12). A database failure loses that batch, logged once per batch;
/// the request that caused the events has been answered long before.
async fn write(
    store: Store,
    mut receiver: mpsc::Receiver<Message>,
    stored: Arc<Notify>,
    hurry: Arc<Notify>,
) {
    let mut messages: Vec<Message> = Vec::with_capacity(BATCH);
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while receiver.recv_many(&mut messages, BATCH).await > 0 {
        let flushing = messages.iter().any(|m| matches!(m, Message::Flush(_)));
        if messages.len() < BATCH && !flushing {
            // A flush sent since the last batch has left its permit in `hurry`.
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = hurry.notified() => {}
            }
            while messages.len() < BATCH {
                let Ok(message) = receiver.try_recv() else {
                    break;
                };
                messages.push(message);
            }
        }
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => batch.push(*event),
                Message::Flush(done) => waiting.push(done),
            }
        }
        if !batch.is_empty() {
            match store.insert_events(&batch).await {
                Ok(_) => {}
                // The requests' own log lines say so already; this one only counts the loss.
                Err(error) if error.is_unavailable() => {
                    tracing::warn!(%error, lost = batch.len(), "storing events failed");
                }
                Err(error) => tracing::error!(%error, lost = batch.len(), "storing events failed"),
            }
            batch.clear();
            stored.notify_waiters();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
