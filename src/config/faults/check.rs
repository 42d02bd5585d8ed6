//! Whether a declared fault can fire, and what it is once checked. Every problem names the
//! key it is about, so that `check-config` can point at its line and the control API can
//! say which key to fix.

use super::{Effect, Fault, FaultEndpoint, FaultSpec, Lie, Schedule};
use crate::oauth::grant_type::GrantType;
use std::time::Duration;

/// The longest delay a fault may add: long enough to outlast any client's timeout.
pub const MAX_DELAY: Duration = Duration::from_secs(600);

/// A problem with one key of a fault (`None`: the fault as a whole).
pub type FaultProblem = (Option<&'static str>, String);

/// Names go into URLs (`DELETE /_tollgate/api/faults/{name}`), log lines and commands.
pub fn valid_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._:- ".contains(c);
    !name.is_empty() && name.len() <= 64 && name.chars().all(allowed) && name.trim() == name
}

struct Problems(Vec<FaultProblem>);

impl Problems {
    fn add(&mut self, key: &'static str, message: impl Into<String>) {
        self.0.push((Some(key), message.into()));
    }
}

impl FaultSpec {
    /// The fault this declares, named `default_name` unless it has a name; or every reason
    /// it cannot fire.
    pub fn check(&self, default_name: &str) -> Result<Fault, Vec<FaultProblem>> {
        let mut problems = Problems(Vec::new());
        let name = self.name.clone().unwrap_or_else(|| default_name.to_owned());
        if !valid_name(&name) {
            problems.add(
                "name",
                format!(
                    "'{name}' is not a fault name: use 1 to 64 letters, digits, spaces and \
                     . _ : - (no space at either end)"
                ),
            );
        }
        let endpoint = self.check_endpoint(&mut problems);
        let grant_type = self.check_filters(endpoint, &mut problems);
        let schedule = self.check_schedule(&mut problems);
        if self.delay == Some(Duration::ZERO) {
            problems.add("delay", "must be more than 0");
        }
        if self.delay.is_some_and(|d| d > MAX_DELAY) {
            problems.add("delay", "must be at most 10m");
        }
        let effect = endpoint.and_then(|endpoint| self.check_effect(endpoint, &mut problems));
        if self.expires_in.is_some() && self.lie.as_deref() != Some("expires_in_mismatch") {
            problems.add("expires_in", "goes with lie = \"expires_in_mismatch\" only");
        }
        match (endpoint, effect) {
            (Some(endpoint), Some(effect)) if problems.0.is_empty() => Ok(Fault {
                spec: FaultSpec {
                    name: Some(name.clone()),
                    ..self.clone()
                },
                name,
                endpoint,
                grant_type,
                client_id: self.client_id.clone(),
                schedule,
                delay: self.delay,
                effect,
                expires_in: self.expires_in,
            }),
            _ => Err(problems.0),
        }
    }

    fn check_endpoint(&self, problems: &mut Problems) -> Option<FaultEndpoint> {
        let names: Vec<&str> = FaultEndpoint::ALL.iter().map(|e| e.as_str()).collect();
        if self.endpoint.is_empty() {
            problems.add(
                "endpoint",
                format!("is missing; the endpoints are: {}", names.join(", ")),
            );
            return None;
        }
        let endpoint = FaultEndpoint::parse(&self.endpoint);
        if endpoint.is_none() {
            problems.add(
                "endpoint",
                format!(
                    "'{}' is not an endpoint faults apply to; the endpoints are: {}",
                    self.endpoint,
                    names.join(", ")
                ),
            );
        }
        endpoint
    }

    fn check_filters(
        &self,
        endpoint: Option<FaultEndpoint>,
        problems: &mut Problems,
    ) -> Option<GrantType> {
        let grant_type = self.grant_type.as_deref().and_then(|name| {
            let grant = GrantType::parse(name);
            if grant.is_none() {
                problems.add(
                    "grant_type",
                    format!(
                        "'{name}' is not a grant type Tollgate supports ({})",
                        GrantType::supported_names().join(", ")
                    ),
                );
            }
            grant
        });
        if let Some(endpoint) = endpoint.filter(|e| *e != FaultEndpoint::Token) {
            if self.grant_type.is_some() {
                problems.add(
                    "grant_type",
                    format!(
                        "only token requests have a grant_type; this fault is for the \
                         {endpoint} endpoint, so it would never fire"
                    ),
                );
            }
        }
        match (&self.client_id, endpoint) {
            (Some(id), _) if id.is_empty() => problems.add("client_id", "is empty"),
            (Some(_), Some(endpoint)) if !endpoint.has_client() => problems.add(
                "client_id",
                format!(
                    "{endpoint} requests name no client (a client learns its client_id by \
                     registering), so this fault would never fire"
                ),
            ),
            _ => {}
        }
        grant_type
    }

    fn check_schedule(&self, problems: &mut Problems) -> Schedule {
        if self.nth == Some(0) {
            problems.add("nth", "counts from 1, the first matching request");
        }
        if self.every == Some(0) {
            problems.add("every", "must be at least 1");
        }
        if self.times == Some(0) {
            problems.add("times", "0 would never fire; remove the fault instead");
        }
        if let Some(p) = self.probability {
            if !(p > 0.0 && p <= 1.0) {
                problems.add("probability", "must be more than 0 and at most 1");
            }
        }
        if self.seed.is_some() && self.probability.is_none() {
            problems.add("seed", "only matters with probability");
        }
        // `nth` alone means that one request; `every` alone starts at its first multiple.
        let times = self
            .times
            .or((self.nth.is_some() && self.every.is_none()).then_some(1));
        Schedule {
            nth: self.nth.or(self.every).unwrap_or(1),
            every: self.every.unwrap_or(1),
            times,
            probability: self.probability,
            seed: self.seed.unwrap_or(0),
        }
    }

    /// What the fault does, if its keys say one thing this endpoint can do.
    fn check_effect(&self, endpoint: FaultEndpoint, problems: &mut Problems) -> Option<Effect> {
        let respond = (self.status.is_some() || self.error.is_some()) && self.body.is_none();
        let given: Vec<(&'static str, &str)> = [
            (respond, ("status", "status/error")),
            (self.drop, ("drop", "drop")),
            (self.body.is_some(), ("body", "body")),
            (self.lie.is_some(), ("lie", "lie")),
        ]
        .into_iter()
        .filter_map(|(given, what)| given.then_some(what))
        .collect();
        if given.len() > 1 {
            let names: Vec<&str> = given.iter().map(|(_, name)| *name).collect();
            problems.add(
                given[1].0,
                format!(
                    "a fault does one thing: give one of status/error, drop, body and lie, \
                     not {}",
                    names.join(" and ")
                ),
            );
            return None;
        }
        let retry_after = self.check_retry_after(problems);
        let only_with_status = |problems: &mut Problems| {
            if self.error_description.is_some() {
                problems.add(
                    "error_description",
                    "goes with an RFC error body: status or error",
                );
            }
        };
        let effect = match given.first().map(|(key, _)| *key) {
            None if self.delay.is_none() => {
                problems.0.push((
                    None,
                    "does nothing: give status or error, delay, drop, body or lie".to_owned(),
                ));
                return None;
            }
            None => Effect::Pass,
            Some("status") => return self.check_response(endpoint, retry_after, problems),
            Some("drop") => Effect::Drop,
            Some("body") => self.check_body(endpoint, retry_after, problems)?,
            _ => self.check_lie(endpoint, problems)?,
        };
        only_with_status(problems);
        if retry_after.is_some() && !matches!(effect, Effect::Html { .. }) {
            problems.add("retry_after", "goes with status, error or body = \"html\"");
        }
        Some(effect)
    }
}

mod effects;
#[cfg(test)]
mod tests;
