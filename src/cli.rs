//! The `tollgate` command line.

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, duration};
use crate::keys::{KeyError, KeyRing};
use crate::server::Server;
use crate::store::Store;
use clap::{Args, Parser, Subcommand};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A strict OAuth 2.1 authorization server for MCP development"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve(ConfigArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(ConfigArgs),
    /// Manage the signing keys in the database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Exit 0 if the server configured here answers and reaches its database (for
    /// container health checks; needs no curl).
    Healthcheck {
        /// The health URL [default: http://<bind address>/healthz]
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new active signing key; the previous one stays in the JWKS for the grace
    /// period, so tokens it signed keep verifying. Running servers switch within
    /// `keys.reload_interval`.
    Rotate(ConfigArgs),
    /// List the keys with their state.
    List(ConfigArgs),
}

/// Settings shared by the subcommands. Each flag overrides the environment variable of the
/// same name (`TOLLGATE_ISSUER`, ...), which overrides the file given with `--config`.
#[derive(Debug, Default, Args, Serialize)]
struct ConfigArgs {
    /// A TOML configuration file.
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// The issuer identifier, exactly as clients will see it [default: http://<bind address>]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    /// The address to listen on (port 0 picks a free port) [default: 127.0.0.1:9000]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<SocketAddr>,
    /// sqlite://FILE or postgres://... [default: sqlite://tollgate.db]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Another user for the consent page, besides `dev` (repeatable).
    #[arg(long = "user", value_name = "NAME")]
    #[serde(rename = "users", skip_serializing_if = "Vec::is_empty")]
    users: Vec<String>,
    /// An MCP server URL tokens may be issued for (repeatable). Without any, every
    /// absolute URL is accepted.
    #[arg(long = "resource", value_name = "URL")]
    #[serde(rename = "resources", skip_serializing_if = "Vec::is_empty")]
    resources: Vec<String>,
    /// Access token lifetime, such as 300, 90s, 5m or 1h [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_duration"
    )]
    access_token_ttl: Option<std::time::Duration>,
}

fn serialize_duration<S: serde::Serializer>(
    value: &Option<std::time::Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => duration::serialize(duration, serializer),
        None => serializer.serialize_none(),
    }
}

impl ConfigArgs {
    /// Layers defaults, the file, the environment and the flags into one configuration.
    fn load(&self) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &self.config {
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("TOLLGATE_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            Config::KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
        });
        // `admerge`: `--user` and `--resource` add to the lists from the file and the
        // environment instead of replacing them.
        figment
            .merge(env)
            .admerge(Serialized::defaults(self))
            .extract()
            .map_err(Box::new)
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(&args).await,
        Command::Migrate(args) => migrate(&args).await,
        Command::Keys(KeysCommand::Rotate(args)) => rotate_keys(&args).await,
        Command::Keys(KeysCommand::List(args)) => list_keys(&args).await,
        Command::Healthcheck { url, config } => healthcheck(url, &config).await,
    }
}

fn load_or_report(args: &ConfigArgs) -> Option<Config> {
    match args.load() {
        Ok(config) => Some(config),
        Err(error) => {
            for problem in *error {
                eprintln!("tollgate: configuration error: {problem}");
            }
            None
        }
    }
}

async fn serve(args: &ConfigArgs) -> ExitCode {
    let Some(config) = load_or_report(args) else {
        return ExitCode::from(2);
    };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match server.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::FAILURE;
        }
    };
    // One line on stdout that scripts can wait for and parse.
    println!(
        "tollgate listening on {addr} with issuer {}",
        server.issuer()
    );
    tracing::info!(%addr, issuer = server.issuer(), "ready");
    match server.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tollgate: server error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(args: &ConfigArgs) -> ExitCode {
    let Some(config) = load_or_report(args) else {
        return ExitCode::from(2);
    };
    let Some(store) = open_store(&config).await else {
        return ExitCode::FAILURE;
    };
    store.close().await;
    println!(
        "tollgate: the {} database is up to date",
        store.backend_name()
    );
    ExitCode::SUCCESS
}

/// Opens and migrates the configured database, reporting failures on stderr.
async fn open_store(config: &Config) -> Option<Store> {
    let opened = async {
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        Ok::<_, crate::store::StoreError>(store)
    }
    .await;
    opened.map_err(|error| eprintln!("tollgate: {error}")).ok()
}

async fn rotate_keys(args: &ConfigArgs) -> ExitCode {
    let Some(config) = load_or_report(args) else {
        return ExitCode::from(2);
    };
    let Some(store) = open_store(&config).await else {
        return ExitCode::FAILURE;
    };
    let now = SystemClock.now();
    let grace = config.key_grace_period();
    let rotated = async {
        let ring = KeyRing::load_or_create(&store, now, grace).await?;
        let previous = ring.current().active.kid().to_owned();
        Ok::<_, KeyError>((previous, ring.rotate(&store, now).await?))
    }
    .await;
    store.close().await;
    match rotated {
        Ok((previous, Some(kid))) => {
            println!("new active signing key: {kid}");
            println!(
                "previous key {previous} stays in the JWKS for {} after now",
                duration::format(&grace)
            );
            println!(
                "running servers switch within {}",
                duration::format(&config.keys.reload_interval)
            );
            ExitCode::SUCCESS
        }
        Ok((_, None)) => {
            eprintln!(
                "tollgate: another instance rotated the key at the same moment; run again to rotate once more"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("tollgate: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn list_keys(args: &ConfigArgs) -> ExitCode {
    let Some(config) = load_or_report(args) else {
        return ExitCode::from(2);
    };
    let Some(store) = open_store(&config).await else {
        return ExitCode::FAILURE;
    };
    let keys = store.all_keys().await;
    store.close().await;
    let keys = match keys {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::FAILURE;
        }
    };
    let now = SystemClock.now();
    let grace = i64::try_from(config.key_grace_period().as_secs()).unwrap_or(i64::MAX);
    let ago = |t: i64| duration::format(&Duration::from_secs(u64::try_from(now - t).unwrap_or(0)));
    println!("{:<45} {:<10} DETAILS", "KID", "STATE");
    for key in keys {
        let (state, details) = match key.retired_at {
            None if key.active => ("active", format!("created {} ago", ago(key.created_at))),
            None => ("inactive", format!("created {} ago", ago(key.created_at))),
            Some(retired) if retired + grace > now => (
                "published",
                format!(
                    "retired {} ago, leaves the JWKS in {}",
                    ago(retired),
                    duration::format(&Duration::from_secs(
                        u64::try_from(retired + grace - now).unwrap_or(0)
                    ))
                ),
            ),
            Some(retired) => (
                "expired",
                format!("retired {} ago, no longer published", ago(retired)),
            ),
        };
        println!("{:<45} {state:<10} {details}", key.kid);
    }
    ExitCode::SUCCESS
}

async fn healthcheck(url: Option<String>, args: &ConfigArgs) -> ExitCode {
    let url = match url {
        Some(url) => url,
        None => {
            let Some(config) = load_or_report(args) else {
                return ExitCode::from(2);
            };
            let mut addr = config.bind;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}{}", crate::http::routes::HEALTH)
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            println!("tollgate: healthy ({url})");
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!("tollgate: unhealthy: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("tollgate: unhealthy: {url}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
