//! `tollgate check URL`: runs `services::check` against an MCP server with tokens minted
//! as `tollgate token` mints them (the same configuration and database as `serve`, the
//! server's current key), prints the report and exits 0 only if every required check
//! passed. `--format json|junit` (with `--out FILE`) is for CI.

mod human;
mod json;
mod junit;

use super::{ConfigArgs, Failure, KeyTiming, fail, open_store, token};
use crate::clock::SystemClock;
use crate::config::{Config, DEFAULT_USER, duration};
use crate::services::check::{self, Authority, CheckOptions, EventSource, Profile, Report};
use crate::services::signing_keys;
use crate::services::tokens::TokenIssuer;
use crate::services::users::Users;
use crate::store::Store;
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// A report for people (coloured on a terminal).
    Human,
    /// `{"target", "profile", "checks": [{"id", "title", "status", "spec", "detail"}]}`.
    Json,
    /// JUnit XML, for CI test reports.
    Junit,
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The MCP server's URL, exactly as clients use it: tokens are minted for it and its
    /// metadata must name it as `resource`.
    url: String,
    /// The MCP revision whose rules apply: 2025-06-18, 2025-11-25 or 2026-07-28.
    #[arg(long, default_value = Profile::LATEST.as_str(), value_parser = parse_profile)]
    profile: Profile,
    /// The scope a valid token carries [default: the challenge's, else every scope of the
    /// metadata's scopes_supported]
    #[arg(long)]
    scope: Option<String>,
    /// The subject (`sub`) of the tokens.
    #[arg(long, default_value = DEFAULT_USER)]
    sub: String,
    /// The report's format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report in --format to FILE, and the human report to standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// How long each exchange with the MCP server may take, such as 10s.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    timeout: Duration,
    #[command(flatten)]
    config: ConfigArgs,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    Profile::parse(text).ok_or_else(|| {
        let all: Vec<&str> = Profile::ALL.iter().map(|p| p.as_str()).collect();
        format!("'{text}' is not one of {}", all.join(", "))
    })
}

pub(super) async fn run(args: &CheckArgs) -> Result<(), Failure> {
    let config = args.config.load()?;
    let store = open_store(&config).await?;
    let result = check_with(args, &config, &store).await;
    store.close().await;
    let report = result?;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let rendered = render(&report, args.format, colour && args.out.is_none());
    match &args.out {
        Some(path) => {
            std::fs::write(path, rendered)
                .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
            print!("{}", human::render(&report, colour));
        }
        None => print!("{rendered}"),
    }
    if report.passed() {
        Ok(())
    } else {
        let failed = (report.checks.iter())
            .filter(|c| c.required && c.status == check::Status::Fail)
            .count();
        Err(fail(format!(
            "{failed} required check{} failed",
            if failed == 1 { "" } else { "s" }
        )))
    }
}

fn render(report: &Report, format: Format, colour: bool) -> String {
    match format {
        Format::Human => human::render(report, colour),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
    }
}

async fn check_with(args: &CheckArgs, config: &Config, store: &Store) -> Result<Report, Failure> {
    let issuer = token::issuer(&args.config, config, store).await?;
    let grace = KeyTiming::read(config, store).await?.grace;
    let keys = signing_keys::load_or_create(store, crate::clock::Clock::now(&SystemClock), grace)
        .await
        .map_err(fail)?;
    let tokens = TokenIssuer::new(
        &issuer,
        Arc::new(keys),
        Arc::new(Users::new(config.all_users())),
        config.access_token_ttl,
        config.refresh_token_ttl,
        // Faults act on a server's responses, not on the tokens the checker mints.
        Arc::new(crate::services::faults::FaultTable::new(Vec::new())),
    );
    let authority = Authority {
        issuer: &issuer,
        tokens: &tokens,
        store,
        clock: &SystemClock,
        // A token must not outlive its key in the JWKS (see `tollgate token --ttl`).
        lifetime: config.access_token_ttl.min(grace),
        events: if config.events.enabled {
            EventSource::Database
        } else {
            EventSource::Off
        },
    };
    let options = CheckOptions {
        profile: args.profile,
        scope: args.scope.clone(),
        subject: args.sub.clone(),
        timeout: args.timeout,
    };
    check::run(&args.url, &options, &authority)
        .await
        .map_err(|e| Failure {
            code: 2,
            message: e.to_string(),
        })
}
