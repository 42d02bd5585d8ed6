//! `tollgate ctl`: drives a running server through its control API (issue 14), the same
//! operations as `{issuer}/_tollgate/api/` and the test fixture.

use super::{ConfigArgs, Failure, fail};
use crate::config::FaultSpec;
use crate::oauth::endpoints::CONTROL;
use crate::oauth::event::format_time;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The server's issuer [default: the configured issuer, or http://<bind address>]
    #[arg(long, value_name = "URL", global = true)]
    url: Option<String>,
    /// control.token, for a server that is not on this machine [default: the configured one]
    #[arg(long, value_name = "TOKEN", global = true)]
    token: Option<String>,
    /// Print the server's JSON answer.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Show the server's clock, or move it forward (`clock advance 10m`).
    Clock {
        #[command(subcommand)]
        action: Option<ClockAction>,
    },
    /// Revoke every token of a client, a user or a flow.
    Revoke(Owner),
    /// Make every token of a client, a user or a flow expire now.
    Expire(Owner),
    /// Rotate the signing key now (`keys rotate`).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Back to the declared configuration: other clients, grants and events go, the declared
    /// faults come back, the clock goes back to the real time.
    Reset,
    /// List, add, remove or clear the faults in force.
    Faults {
        #[command(subcommand)]
        action: Option<FaultsAction>,
    },
}

#[derive(Debug, Subcommand)]
enum ClockAction {
    /// Move the clock forward by a duration such as 90s, 10m, 2h or 30d.
    Advance { by: String },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    Rotate,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Owner {
    /// The client's tokens.
    #[arg(long = "client", value_name = "CLIENT_ID")]
    client_id: Option<String>,
    /// The tokens of the grants this user approved.
    #[arg(long, value_name = "SUBJECT")]
    user: Option<String>,
    /// The tokens of one authorization flow (its id in the event log).
    #[arg(long, value_name = "FLOW_ID")]
    flow: Option<String>,
}

#[derive(Debug, Subcommand)]
enum FaultsAction {
    /// List them, with how often each matched and fired.
    List,
    /// Add a fault: a JSON object, KEY=VALUE pairs (endpoint=token status=503 times=1), or
    /// the [[faults]] of a TOML file.
    Add {
        /// The fault, as JSON or as KEY=VALUE pairs.
        #[arg(value_name = "FAULT")]
        fault: Vec<String>,
        /// A TOML file whose [[faults]] to add.
        #[arg(long, value_name = "FILE", conflicts_with = "fault")]
        file: Option<PathBuf>,
    },
    /// Remove the fault of this name.
    Remove { name: String },
    /// Remove every fault (the declared ones come back with `reset`).
    Clear,
}

pub(super) async fn run(args: &CtlArgs) -> Result<(), Failure> {
    let api = Api::new(args)?;
    let (method, path, body) = request(&args.command)?;
    let answer = api.send(method, &path, body).await?;
    if args.json {
        println!("{answer:#}");
        return Ok(());
    }
    for line in describe(&args.command, &answer) {
        println!("{line}");
    }
    Ok(())
}

/// What to ask the control API for each command.
fn request(command: &CtlCommand) -> Result<(reqwest::Method, String, Option<Value>), Failure> {
    use reqwest::Method;
    Ok(match command {
        CtlCommand::Clock { action: None } => (Method::GET, "/clock".into(), None),
        CtlCommand::Clock {
            action: Some(ClockAction::Advance { by }),
        } => (Method::POST, "/clock".into(), Some(json!({"advance": by}))),
        CtlCommand::Revoke(owner) => (Method::POST, "/revoke".into(), Some(owner.json())),
        CtlCommand::Expire(owner) => (Method::POST, "/expire".into(), Some(owner.json())),
        CtlCommand::Keys {
            action: KeysAction::Rotate,
        } => (Method::POST, "/keys/rotate".into(), None),
        CtlCommand::Reset => (Method::POST, "/reset".into(), None),
        CtlCommand::Faults {
            action: None | Some(FaultsAction::List),
        } => (Method::GET, "/faults".into(), None),
        CtlCommand::Faults {
            action: Some(FaultsAction::Add { fault, file }),
        } => (
            Method::POST,
            "/faults".into(),
            Some(faults_body(fault, file)?),
        ),
        CtlCommand::Faults {
            action: Some(FaultsAction::Remove { name }),
        } => {
            let encoded =
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
            (Method::DELETE, format!("/faults/{encoded}"), None)
        }
        CtlCommand::Faults {
            action: Some(FaultsAction::Clear),
        } => (Method::DELETE, "/faults".into(), None),
    })
}

impl Owner {
    fn json(&self) -> Value {
        match (&self.client_id, &self.user, &self.flow) {
            (Some(id), _, _) => json!({"client_id": id}),
            (_, Some(user), _) => json!({"user": user}),
            (_, _, flow) => json!({"flow": flow}),
        }
    }
}

/// The fault(s) to add, as the API takes them.
fn faults_body(fault: &[String], file: &Option<PathBuf>) -> Result<Value, Failure> {
    if let Some(path) = file {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            faults: Vec<FaultSpec>,
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let file: File = toml::from_str(&text)
            .map_err(|e| fail(format!("{}: {}", path.display(), e.message())))?;
        if file.faults.is_empty() {
            return Err(fail(format!("{} declares no [[faults]]", path.display())));
        }
        return serde_json::to_value(file.faults).map_err(fail);
    }
    match fault {
        [] => Err(fail(
            "give the fault: JSON ('{\"endpoint\":\"token\",\"status\":503}'), KEY=VALUE pairs \
             (endpoint=token status=503) or --file FILE",
        )),
        [one] if one.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str(one).map_err(|e| fail(format!("the fault is not JSON: {e}")))
        }
        pairs => {
            let mut object = serde_json::Map::new();
            for pair in pairs {
                let Some((key, value)) = pair.split_once('=') else {
                    return Err(fail(format!("'{pair}' is not KEY=VALUE")));
                };
                // Numbers and booleans as such (status=503, drop=true), the rest as text.
                let value = serde_json::from_str(value)
                    .ok()
                    .filter(|v: &Value| v.is_number() || v.is_boolean())
                    .unwrap_or_else(|| Value::from(value));
                object.insert(key.to_owned(), value);
            }
            Ok(Value::Object(object))
        }
    }
}

/// The control API of one server.
struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    fn new(args: &CtlArgs) -> Result<Self, Failure> {
        let config = args.config.load()?;
        let issuer = match (&args.url, &config.issuer) {
            (Some(url), _) | (None, Some(url)) => url.trim_end_matches('/').to_owned(),
            (None, None) => {
                let mut addr = config.bind;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!(
                    "{}{}",
                    crate::server::default_issuer(addr),
                    config.tenant_path()
                )
            }
        };
        let token = args.token.clone().or_else(|| {
            config
                .control
                .token
                .as_ref()
                .map(|token| token.expose().to_owned())
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(fail)?;
        Ok(Api {
            base: format!("{issuer}{CONTROL}"),
            token,
            http,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("cannot reach the control API at {url}: {e}")))?;
        let status = response.status();
        let text = response.text().await.map_err(fail)?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let why = answer["error_description"]
                .as_str()
                .map_or(text.clone(), str::to_owned);
            return Err(fail(format!("{url} answered {status}: {why}")));
        }
        Ok(answer)
    }
}

/// The answer in a few lines.
fn describe(command: &CtlCommand, answer: &Value) -> Vec<String> {
    let n = |value: &Value| value.as_u64().unwrap_or(0);
    match command {
        CtlCommand::Clock { .. } => vec![clock_line(answer)],
        CtlCommand::Revoke(_) => vec![format!(
            "revoked {} grants (with their codes and refresh tokens) and {} access tokens",
            n(&answer["grants"]),
            n(&answer["access_tokens"])
        )],
        CtlCommand::Expire(_) => vec![format!(
            "expired {} codes, {} refresh tokens and {} access tokens",
            n(&answer["codes"]),
            n(&answer["refresh_tokens"]),
            n(&answer["access_tokens"])
        )],
        CtlCommand::Keys { .. } => vec![format!(
            "signing with {}; {} stays in the JWKS for its grace period",
            answer["kid"].as_str().unwrap_or("?"),
            answer["previous_kid"].as_str().unwrap_or("?")
        )],
        CtlCommand::Reset => {
            let removed = &answer["removed"];
            let mut lines = vec![format!(
                "reset: removed {} clients, {} grants, {} access tokens and {} events",
                n(&removed["clients"]),
                n(&removed["grants"]),
                n(&removed["access_tokens"]),
                n(&removed["events"])
            )];
            lines.push(clock_line(&answer["clock"]));
            lines.extend(fault_lines(&answer["faults"]));
            lines
        }
        CtlCommand::Faults {
            action: Some(FaultsAction::Remove { name }),
        } => vec![format!("removed fault '{name}'")],
        CtlCommand::Faults {
            action: Some(FaultsAction::Clear),
        } => vec![format!("removed {} faults", n(&answer["removed"]))],
        CtlCommand::Faults {
            action: Some(FaultsAction::Add { .. }),
        } => answer["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|fault| {
                format!(
                    "added fault '{}': {} at {}",
                    fault["name"].as_str().unwrap_or("?"),
                    fault["action"].as_str().unwrap_or("?"),
                    fault["endpoint"].as_str().unwrap_or("?")
                )
            })
            .collect(),
        CtlCommand::Faults { .. } => fault_lines(&answer["faults"]),
    }
}

fn clock_line(clock: &Value) -> String {
    let now = clock["now"].as_i64().unwrap_or(0);
    let time = format_time(now.saturating_mul(1000));
    match clock["offset_seconds"].as_u64().unwrap_or(0) {
        0 => format!("server time {time} (the real time)"),
        _ => format!(
            "server time {time}, {} ahead of the real time",
            clock["offset"].as_str().unwrap_or("?")
        ),
    }
}

fn fault_lines(faults: &Value) -> Vec<String> {
    let faults = faults.as_array().cloned().unwrap_or_default();
    if faults.is_empty() {
        return vec!["no faults in force".to_owned()];
    }
    faults
        .iter()
        .map(|fault| {
            format!(
                "{}  {}: {}  (fired {} of {} matching; {})",
                fault["name"].as_str().unwrap_or("?"),
                fault["endpoint"].as_str().unwrap_or("?"),
                fault["action"].as_str().unwrap_or("?"),
                fault["fired"],
                fault["matched"],
                match fault["source"].as_str() {
                    Some("configuration") => "declared in the configuration",
                    _ => "added through the control API",
                },
            )
        })
        .collect()
}
