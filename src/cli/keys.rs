//! `keys rotate` and `keys list`.

use super::{ConfigArgs, Failure, KeyTiming, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, duration};
use crate::services::signing_keys;
use crate::store::Store;
use clap::Subcommand;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Make a new active signing key; the previous one stays in the JWKS for the grace
    /// period, so tokens it signed keep verifying. Running servers switch within
    /// `keys.reload_interval`.
    Rotate(ConfigArgs),
    /// List the keys with their state.
    List(ConfigArgs),
}

pub(super) async fn run(command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Rotate(args) => rotate(&args).await,
        KeysCommand::List(args) => list(&args).await,
    }
}

async fn rotate(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    let result = rotate_with(&config, &store).await;
    store.close().await;
    let (kid, previous, timing) = result?;
    println!("new active signing key: {kid}");
    println!(
        "previous key {previous} stays in the JWKS for {} after now",
        duration::format(&timing.grace)
    );
    println!(
        "running servers switch within {}",
        format_interval(timing.reload_interval)
    );
    note_unrecorded(timing);
    Ok(())
}

async fn rotate_with(
    config: &Config,
    store: &Store,
) -> Result<(String, String, KeyTiming), Failure> {
    let timing = KeyTiming::read(config, store).await?;
    let now = SystemClock.now();
    let ring = signing_keys::load_or_create(store, now, timing.grace)
        .await
        .map_err(fail)?;
    let previous = ring.current().active.kid().to_owned();
    let Some(kid) = signing_keys::rotate(&ring, store, now)
        .await
        .map_err(fail)?
    else {
        return Err(fail(
            "another instance rotated the key at the same moment; run again to rotate once more",
        ));
    };
    let event = signing_keys::rotation_event(
        ring.current().active.kid(),
        &kid,
        "tollgate keys rotate",
        SystemClock.now_millis(),
    );
    store.insert_events(&[event]).await.map_err(fail)?;
    Ok((kid, previous, timing))
}

async fn list(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    let timing = KeyTiming::read(&config, &store).await;
    let keys = store.all_keys().await.map_err(fail);
    store.close().await;
    let (timing, keys) = (timing?, keys?);
    let now = SystemClock.now();
    let grace = i64::try_from(timing.grace.as_secs()).unwrap_or(i64::MAX);
    let span =
        |seconds: i64| duration::format(&Duration::from_secs(u64::try_from(seconds).unwrap_or(0)));
    println!("{:<45} {:<10} DETAILS", "KID", "STATE");
    for key in keys {
        let (state, details) = match key.retired_at {
            None if key.active => (
                "active",
                format!("created {} ago", span(now - key.created_at)),
            ),
            None => (
                "inactive",
                format!("created {} ago", span(now - key.created_at)),
            ),
            Some(retired) if retired + grace > now => (
                "published",
                format!(
                    "retired {} ago, leaves the JWKS in {}",
                    span(now - retired),
                    span(retired + grace - now)
                ),
            ),
            Some(retired) => (
                "expired",
                format!("retired {} ago, no longer published", span(now - retired)),
            ),
        };
        println!("{:<45} {state:<10} {details}", key.kid);
    }
    note_unrecorded(timing);
    Ok(())
}

/// Says where the figures came from when no server recorded its own.
fn note_unrecorded(timing: KeyTiming) {
    if !timing.recorded {
        println!(
            "note: no server has recorded its key settings in this database yet; the figures \
             are this command's configuration"
        );
    }
}

/// A reload interval: whole seconds as usual, shorter ones in milliseconds (tests and
/// embedded servers set them), so that 20 ms does not read as "0s".
fn format_interval(interval: Duration) -> String {
    if interval < Duration::from_secs(1) {
        format!("{}ms", interval.as_millis())
    } else {
        duration::format(&interval)
    }
}
