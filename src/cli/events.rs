//! `tollgate events`: the event log as a readable timeline (colour on a terminal), or JSON
//! lines for CI logs and audit export. It reads the database the server writes, so it works
//! with or without a running server, and `--follow` sees every instance's events.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::duration;
use crate::oauth::event::{Event, Outcome, format_time};
use crate::store::{EventFilter, Store};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, Args)]
pub(super) struct EventsArgs {
    /// Keep printing events as they are recorded.
    #[arg(long, short)]
    follow: bool,
    /// Only this flow's events.
    #[arg(long)]
    flow: Option<String>,
    /// Only this client's events.
    #[arg(long, value_name = "CLIENT_ID")]
    client: Option<String>,
    /// Only events of the last DURATION, such as 10m or 2h.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    since: Option<Duration>,
    /// Only refusals.
    #[arg(long)]
    rejected: bool,
    /// The most events to print before following [default: 100]
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// One JSON object per line, as the events API serves them.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// How often `--follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

pub(super) async fn run(args: &EventsArgs) -> Result<(), Failure> {
    let config = args.config.load()?;
    let store = open_store(&config).await?;
    let result = print(args, &store).await;
    store.close().await;
    result
}

async fn print(args: &EventsArgs, store: &Store) -> Result<(), Failure> {
    let since_ms = args.since.map(|since| {
        SystemClock
            .now_millis()
            .saturating_sub(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    });
    let mut filter = EventFilter {
        flow: args.flow.clone(),
        client_id: args.client.clone(),
        since_ms,
        after_seq: None,
        outcome: args.rejected.then_some(Outcome::Rejected),
        limit: args.limit,
    };
    let style = Style::for_stdout();
    let mut cursor = 0;
    loop {
        let events = store.events(&filter).await.map_err(fail)?;
        let mut out = std::io::stdout().lock();
        for event in &events {
            let line = if args.json {
                event.to_json().to_string()
            } else {
                timeline_entry(event, style)
            };
            // A closed pipe (`| head`) ends the command quietly.
            if writeln!(out, "{line}").is_err() {
                return Ok(());
            }
            cursor = event.seq;
        }
        let _ = out.flush();
        if !args.follow {
            return Ok(());
        }
        filter.after_seq = Some(cursor);
        filter.limit = 1_000;
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}

/// ANSI colours, for a person at a terminal only (and never with `NO_COLOR`).
#[derive(Debug, Clone, Copy)]
struct Style {
    colour: bool,
}

impl Style {
    fn for_stdout() -> Self {
        Style {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// One event as lines of a timeline: the step, then for a refusal its rule, the values
/// compared and the hint, indented under it.
fn timeline_entry(event: &Event, style: Style) -> String {
    let time = format_time(event.time_ms);
    // `2026-12-04T12:30:32.123Z` → `12:30:32.123`
    let clock = time.get(11..23).unwrap_or(&time);
    let outcome = match event.outcome {
        Outcome::Ok => style.paint("32", "ok"),
        Outcome::Rejected => style.paint("1;31", "rejected"),
    };
    let flow = event
        .flow
        .as_deref()
        .map_or_else(|| "-".repeat(8), |flow| flow.chars().take(8).collect());
    let mut line = format!(
        "{clock}  {}  {:<22} {outcome}",
        style.paint("2", &flow),
        event.kind.as_str()
    );
    if let Some(error) = &event.error {
        line.push_str(&format!("  {}", style.paint("31", error)));
    }
    for (name, value) in [("client", &event.client_id), ("user", &event.user)] {
        if let Some(value) = value {
            line.push_str(&format!("  {name}={value}"));
        }
    }
    let indent = " ".repeat(14);
    if let Some(description) = &event.description {
        line.push_str(&format!("\n{indent}{description}"));
    }
    if let Some(rule) = event.rule() {
        line.push_str(&format!(
            "\n{indent}{} {} ({}, {})",
            style.paint("1", rule.id),
            rule.title,
            rule.source,
            rule.url
        ));
    }
    for (label, value) in [("expected", &event.expected), ("received", &event.received)] {
        if let Some(value) = value {
            line.push_str(&format!("\n{indent}{label}: {value}"));
        }
    }
    if let Some(hint) = &event.hint {
        line.push_str(&format!("\n{indent}{} {hint}", style.paint("33", "hint:")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::OAuthError;
    use crate::oauth::event::EventType;
    use crate::oauth::rules::TK_7;

    #[test]
    fn a_refusal_prints_its_rule_values_and_hint() {
        let mut event = Event::new(EventType::TokenRequest, 784_111_777_042);
        event.flow = Some("3f2a9c1e-0000".to_owned());
        event.client_id = Some("c1".to_owned());
        event.reject(
            &OAuthError::invalid_grant("redirect_uri differs")
                .rule(&TK_7)
                .compared("http://127.0.0.1/cb", "http://localhost/cb")
                .hint(Some("localhost is not 127.0.0.1".to_owned())),
        );
        let text = timeline_entry(&event, Style { colour: false });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "08:49:37.042  3f2a9c1e  token.request          rejected  invalid_grant  client=c1"
        );
        assert_eq!(lines[1].trim(), "redirect_uri differs");
        assert!(
            lines[2]
                .trim()
                .starts_with("TK-7 redirect_uri at the token endpoint")
        );
        assert_eq!(lines[3].trim(), "expected: http://127.0.0.1/cb");
        assert_eq!(lines[4].trim(), "received: http://localhost/cb");
        assert_eq!(lines[5].trim(), "hint: localhost is not 127.0.0.1");
    }
}
