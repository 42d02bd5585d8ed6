//! `keys rotate` and `keys list`.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::duration;
use crate::keys::KeyRing;
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
    let now = SystemClock.now();
    let grace = config.key_grace_period();
    let ring = KeyRing::load_or_create(&store, now, grace)
        .await
        .map_err(fail)?;
    let previous = ring.current().active.kid().to_owned();
    let rotated = ring.rotate(&store, now).await.map_err(fail);
    store.close().await;
    let Some(kid) = rotated? else {
        return Err(fail(
            "another instance rotated the key at the same moment; run again to rotate once more",
        ));
    };
    println!("new active signing key: {kid}");
    println!(
        "previous key {previous} stays in the JWKS for {} after now",
        duration::format(&grace)
    );
    println!(
        "running servers switch within {}",
        duration::format(&config.keys.reload_interval)
    );
    Ok(())
}

async fn list(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    let keys = store.all_keys().await.map_err(fail);
    store.close().await;
    let now = SystemClock.now();
    let grace = i64::try_from(config.key_grace_period().as_secs()).unwrap_or(i64::MAX);
    let span =
        |seconds: i64| duration::format(&Duration::from_secs(u64::try_from(seconds).unwrap_or(0)));
    println!("{:<45} {:<10} DETAILS", "KID", "STATE");
    for key in keys? {
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
    Ok(())
}
