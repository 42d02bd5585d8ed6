//! The faults in force on this server (issue 14): those of the configuration, and those the
//! control API added. Each counts the requests that match it, whatever the other faults do,
//! and fires on the ones its schedule picks, at most as often as it says. When two would
//! fire on one request, the first in order acts; for the other the request passes without
//! counting against its `times`. Faults that act when a
//! request arrives (a status, a delay, a dropped connection, a body) are tried by the HTTP
//! layer before the handler runs; lies are tried where their response is made, and count
//! only the responses they could change.
//!
//! With no fault in force, a request pays one atomic load ([`FaultTable::is_empty`]).

use super::events;
use crate::config::faults::{Effect, Fault, FaultEndpoint, FaultProblem, FaultSpec};
use crate::oauth::event::EventType;
use serde_json::{Value, json};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use page::proxy_error_page;

#[derive(Debug)]
pub struct FaultTable {
    declared: Vec<Fault>,
    active: RwLock<Vec<Arc<Active>>>,
    /// Whether `active` holds any fault.
    any: AtomicBool,
}

#[derive(Debug)]
struct Active {
    fault: Arc<Fault>,
    source: Source,
    counters: Mutex<Counters>,
}

#[derive(Debug)]
struct Counters {
    /// Matching requests so far.
    seen: u64,
    fired: u64,
    draws: SplitMix64,
}

/// Where a fault came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Configuration,
    ControlApi,
}

/// What a request offers to match a fault's filters on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Facts<'a> {
    pub grant_type: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// What matching at an endpoint needs beyond the endpoint itself.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Whether any fault applies at the endpoint.
    pub any: bool,
    pub grant_type: bool,
    pub client_id: bool,
}

/// A fault that fired on a request: the `request`-th that matched it.
#[derive(Debug, Clone)]
pub struct Firing {
    pub fault: Arc<Fault>,
    pub request: u64,
}

/// A fault and how often it matched and fired, for listing.
#[derive(Debug, Clone)]
pub struct FaultStatus {
    pub fault: Arc<Fault>,
    pub source: Source,
    pub seen: u64,
    pub fired: u64,
}

/// Why a fault was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It could never fire: the problems, each with its key.
    Invalid(Vec<FaultProblem>),
    /// Another fault has its name.
    NameTaken(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Invalid(problems) => {
                let texts: Vec<String> = problems
                    .iter()
                    .map(|(key, message)| match key {
                        Some(key) => format!("{key}: {message}"),
                        None => format!("the fault {message}"),
                    })
                    .collect();
                f.write_str(&texts.join("; "))
            }
            Refused::NameTaken(name) => write!(
                f,
                "name: '{name}' names a fault already; remove it first or choose another name"
            ),
        }
    }
}

impl std::error::Error for Refused {}

impl FaultTable {
    /// A table holding the (checked) faults of the configuration.
    pub fn new(declared: Vec<Fault>) -> Self {
        let table = FaultTable {
            declared,
            active: RwLock::new(Vec::new()),
            any: AtomicBool::new(false),
        };
        table.reset();
        table
    }

    /// Whether no fault is in force: the one check every request pays.
    #[inline]
    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Relaxed)
    }

    /// Whether any fault applies at `endpoint`, and whether one filters on a grant type or
    /// a client, which the HTTP layer then has to read from the request.
    pub fn needs(&self, endpoint: FaultEndpoint) -> Needs {
        let mut needs = Needs::default();
        for active in self.read().iter().filter(|a| a.fault.endpoint == endpoint) {
            needs.any = true;
            needs.grant_type |= active.fault.grant_type.is_some();
            needs.client_id |= active.fault.client_id.is_some();
        }
        needs
    }

    /// Tries the faults at `endpoint` whose effect `which` accepts and whose filters match
    /// `facts`, in order; returns the first that fires, recorded in the event log and the
    /// server log.
    pub fn fire(
        &self,
        endpoint: FaultEndpoint,
        facts: Facts<'_>,
        which: impl Fn(&Effect) -> bool,
    ) -> Option<Firing> {
        if self.is_empty() {
            return None;
        }
        let active = self.read();
        let matching = active.iter().filter(|a| {
            let fault = &a.fault;
            fault.endpoint == endpoint
                && which(&fault.effect)
                && fault
                    .grant_type
                    .is_none_or(|g| facts.grant_type == Some(g.as_str()))
                && fault
                    .client_id
                    .as_deref()
                    .is_none_or(|id| facts.client_id == Some(id))
        });
        let mut fired: Option<Firing> = None;
        for candidate in matching {
            let mut counters = candidate
                .counters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            counters.seen += 1;
            let schedule = &candidate.fault.schedule;
            let spent = schedule.times.is_some_and(|times| counters.fired >= times);
            if spent || !schedule.picks(counters.seen) {
                continue;
            }
            // Drawn whatever the other faults do, so that each fault's draws depend on its
            // own requests only.
            let drawn = schedule
                .probability
                .is_none_or(|probability| counters.draws.next_unit() < probability);
            if drawn && fired.is_none() {
                counters.fired += 1;
                fired = Some(Firing {
                    fault: Arc::clone(&candidate.fault),
                    request: counters.seen,
                });
            }
        }
        drop(active);
        if let Some(firing) = &fired {
            firing.record();
        }
        fired
    }

    /// Adds a fault at the end; without a name it is called `{endpoint}-{n}`.
    pub fn add(&self, spec: &FaultSpec) -> Result<FaultStatus, Refused> {
        let mut active = self.write();
        let taken = |name: &str| active.iter().any(|a| a.fault.name == name);
        let base = FaultEndpoint::parse(&spec.endpoint).map_or("fault", FaultEndpoint::as_str);
        let default_name = (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|name| !taken(name))
            .unwrap_or_default();
        let fault = spec.check(&default_name).map_err(Refused::Invalid)?;
        if taken(&fault.name) {
            return Err(Refused::NameTaken(fault.name));
        }
        let added = Active::new(fault, Source::ControlApi);
        let status = added.status();
        active.push(Arc::new(added));
        self.any.store(true, Ordering::Relaxed);
        Ok(status)
    }

    /// Removes the fault called `name`; whether there was one.
    pub fn remove(&self, name: &str) -> bool {
        let mut active = self.write();
        let before = active.len();
        active.retain(|a| a.fault.name != name);
        self.any.store(!active.is_empty(), Ordering::Relaxed);
        active.len() < before
    }

    /// Removes every fault, declared ones included (until [`FaultTable::reset`]); returns
    /// how many there were.
    pub fn clear(&self) -> usize {
        let mut active = self.write();
        let count = active.len();
        active.clear();
        self.any.store(false, Ordering::Relaxed);
        count
    }

    /// Back to the declared faults, with their counts at zero.
    pub fn reset(&self) {
        let mut active = self.write();
        *active = self
            .declared
            .iter()
            .map(|fault| Arc::new(Active::new(fault.clone(), Source::Configuration)))
            .collect();
        self.any.store(!active.is_empty(), Ordering::Relaxed);
    }

    /// Every fault in force, in the order they are tried.
    pub fn list(&self) -> Vec<FaultStatus> {
        self.read().iter().map(|a| a.status()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Active>>> {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Active>>> {
        self.active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Active {
    fn new(fault: Fault, source: Source) -> Self {
        let seed = fault.schedule.seed;
        Active {
            fault: Arc::new(fault),
            source,
            counters: Mutex::new(Counters {
                seen: 0,
                fired: 0,
                draws: SplitMix64(seed),
            }),
        }
    }

    fn status(&self) -> FaultStatus {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        FaultStatus {
            fault: Arc::clone(&self.fault),
            source: self.source,
            seen: counters.seen,
            fired: counters.fired,
        }
    }
}

impl Firing {
    /// The injected fault in the server log (at `warn`, so that it shows at any level a
    /// server is run with) and in the event log: the request's event names it, and a
    /// `fault.injected` event says what it did.
    fn record(&self) {
        let fault = &self.fault;
        let action = fault.action();
        tracing::warn!(
            fault = %fault.name,
            endpoint = %fault.endpoint,
            %action,
            matching_request = self.request,
            "injected fault"
        );
        events::detail("fault", fault.name.as_str());
        events::step(EventType::FaultInjected, |event| {
            event.description = Some(format!(
                "fault '{}' injected on the {} request that matched it: {action}",
                fault.name,
                ordinal(self.request)
            ));
            event.detail("fault", fault.name.as_str());
            event.detail("action", action.as_str());
            event.detail("fault_endpoint", fault.endpoint.as_str());
            event.detail("matching_request", self.request);
        });
    }
}

impl FaultStatus {
    /// The fault as the control API lists it: its declared keys, where it came from, and
    /// how often it matched and fired.
    pub fn to_json(&self) -> Value {
        let mut json = serde_json::to_value(&self.fault.spec).unwrap_or_else(|_| json!({}));
        if let Value::Object(object) = &mut json {
            object.insert(
                "source".to_owned(),
                json!(match self.source {
                    Source::Configuration => "configuration",
                    Source::ControlApi => "control",
                }),
            );
            object.insert("action".to_owned(), json!(self.fault.action()));
            object.insert("matched".to_owned(), json!(self.seen));
            object.insert("fired".to_owned(), json!(self.fired));
        }
        json
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// SplitMix64 (S. Vigna): a small generator whose sequence is fixed by its seed, so that
/// `probability` faults fire on the same requests in every run with the same seed.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    /// A number in [0, 1).
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits, exactly representable.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

mod page;
#[cfg(test)]
mod tests;
