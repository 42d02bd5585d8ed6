//! The `tollgate` command line. Every subcommand reads the same layered configuration as
//! `serve` (file, `TOLLGATE_*` variables, flags), so it acts on the same database.

mod check;
mod clients;
mod config_cmds;
mod ctl;
mod device;
mod events;
mod keys;
mod serve;
mod token;

use crate::config::{Config, duration};
use crate::store::{ServerSetting, Store};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::fmt::Display;
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
    /// Print the effective configuration (file, environment and flags), secrets redacted.
    PrintConfig(ConfigArgs),
    /// Check a configuration file and report its problems in line order, each with its line.
    CheckConfig {
        /// The file [default: the one given by --config or TOLLGATE_CONFIG]
        file: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print an access token signed with the server's current key, without any flow: for
    /// testing resource servers.
    Token(token::TokenArgs),
    /// Print the event log: every step and every refusal, with the rule and a hint.
    Events(events::EventsArgs),
    /// Check that an MCP server enforces authorization as the MCP specification asks:
    /// challenge, metadata, and a refusal of every wrong token Tollgate can mint. Exits 0
    /// only if every required check passes.
    Check(check::CheckArgs),
    /// Drive a running server through its control API: move its clock, revoke or expire
    /// tokens, rotate its key, reset it, inject faults.
    Ctl(ctl::CtlArgs),
    /// Manage pre-registered clients.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Approve or deny a device authorization (RFC 8628) by its user code.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Manage the signing keys in the database.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Print the argon2 hash of a secret read from standard input, for `secret_hash` and
    /// `password_hash` in a configuration file.
    HashSecret,
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
        serialize_with = "duration::optional::serialize"
    )]
    access_token_ttl: Option<std::time::Duration>,
    /// The tenant (a `[[tenants]]` name) whose issuer, users, clients and store to act on
    /// [default: the default tenant]
    #[arg(long, value_name = "NAME")]
    #[serde(skip)]
    tenant: Option<String>,
}

impl ConfigArgs {
    /// Whether the file, the environment or a flag sets the top-level setting `key`.
    fn gives(&self, key: &str) -> bool {
        Config::is_given(self.config.as_deref(), self, key)
    }

    /// The effective configuration of the tenant `--tenant` names (issue 17), or of the
    /// default tenant.
    fn load(&self) -> Result<Config, Failure> {
        let config = self.load_all()?;
        match &self.tenant {
            None => Ok(config),
            Some(name) => config.tenant(name).map_err(|error| Failure {
                code: 2,
                message: error.to_string(),
            }),
        }
    }

    /// The whole configuration, every tenant included.
    fn load_all(&self) -> Result<Config, Failure> {
        Config::load(self.config.as_deref(), self).map_err(|error| {
            let lines: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
            Failure {
                code: 2,
                message: format!("configuration error: {}", lines.join("; ")),
            }
        })
    }
}

/// Why a command failed; printed as `tollgate: <message>`.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

/// A failure with exit status 1.
fn fail(message: impl Display) -> Failure {
    Failure {
        code: 1,
        message: message.to_string(),
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve::serve(&args).await,
        Command::Migrate(args) => serve::migrate(&args).await,
        Command::PrintConfig(args) => config_cmds::print_config(&args),
        Command::CheckConfig { file, config } => config_cmds::check_config(file, &config),
        Command::Token(args) => token::mint(&args).await,
        Command::Events(args) => events::run(&args).await,
        Command::Check(args) => check::run(&args).await,
        Command::Ctl(args) => ctl::run(&args).await,
        Command::Clients(command) => clients::run(command).await,
        Command::Keys(command) => keys::run(command).await,
        Command::Device(command) => device::run(command).await,
        Command::HashSecret => config_cmds::hash_secret(),
        Command::Healthcheck { url, config } => serve::healthcheck(url, &config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tollgate: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Opens and migrates the configured database: the store of the tenant `config` is the
/// effective configuration of.
async fn open_store(config: &Config) -> Result<Store, Failure> {
    let tenant = config.tenant.as_ref().map(|t| t.name.as_str());
    let store = Store::connect_tenant(&config.database_url, tenant)
        .await
        .map_err(fail)?;
    store.migrate().await.map_err(fail)?;
    Ok(store)
}

/// How the server on this database handles its signing keys, as it recorded at its start
/// (`crate::store::ServerSetting`): it is the one that drops retired keys from its JWKS and
/// picks up rotations, so its figures count, not this command's configuration. Each figure
/// falls back to the configuration here when no server recorded it.
#[derive(Debug, Clone, Copy)]
struct KeyTiming {
    /// How long a retired key stays published.
    grace: Duration,
    /// How soon running servers follow a rotation made elsewhere.
    reload_interval: Duration,
    /// Whether both came from the database.
    recorded: bool,
}

impl KeyTiming {
    async fn read(config: &Config, store: &Store) -> Result<KeyTiming, Failure> {
        let recorded = |setting| async move {
            let value = store.server_setting(setting).await.map_err(fail)?;
            Ok::<_, Failure>(value.and_then(|text| text.parse::<u64>().ok()))
        };
        let grace = recorded(ServerSetting::KeyGracePeriod).await?;
        let reload = recorded(ServerSetting::KeyReloadInterval).await?;
        Ok(KeyTiming {
            grace: grace.map_or_else(|| config.key_grace_period(), Duration::from_secs),
            reload_interval: reload.map_or(config.keys.reload_interval, Duration::from_millis),
            recorded: grace.is_some() && reload.is_some(),
        })
    }
}
