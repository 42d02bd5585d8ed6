//! `device approve|deny CODE`: decide a device authorization (RFC 8628) from a terminal or a
//! CI job, as the verification page would, without a browser.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, DEFAULT_USER};
use crate::oauth::device::{self, DeviceStatus};
use crate::oauth::event::{Event, EventType, Outcome};
use crate::store::DeviceDecision;
use crate::store::ServerSetting;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(super) enum DeviceCommand {
    /// Approve the device authorization with this user code (such as WDJB-MJHT), as the
    /// user named by --user (dev without one; the last one given when several are), who
    /// must be declared in the configuration (file or TOLLGATE_USERS).
    Approve {
        user_code: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Deny the device authorization with this user code.
    Deny {
        user_code: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub(super) async fn run(command: DeviceCommand) -> Result<(), Failure> {
    let (typed, user, args) = match &command {
        DeviceCommand::Approve { user_code, config } => (
            user_code,
            Some(config.users.last().map_or(DEFAULT_USER, String::as_str)),
            config,
        ),
        DeviceCommand::Deny { user_code, config } => (user_code, None, config),
    };
    let config = args.load()?;
    let code = device::normalize_user_code(typed).ok_or_else(|| {
        fail(format!(
            "'{typed}' is not a user code: eight letters such as WDJB-MJHT"
        ))
    })?;
    let store = open_store(&config).await?;
    if let Some(user) = user {
        // `--user` names the approver; it must be a user of the server that issues the
        // tokens, which recorded its users when it started (else: this configuration's
        // file and environment, not this command's flags).
        let recorded = store
            .server_setting(ServerSetting::Users)
            .await
            .map_err(fail)?;
        let known: Vec<String> = match recorded.and_then(|text| serde_json::from_str(&text).ok()) {
            Some(subjects) => subjects,
            None => Config::load(args.config.as_deref(), &serde_json::Map::new())
                .unwrap_or_else(|_| config.clone())
                .all_users()
                .into_iter()
                .map(|u| u.subject)
                .collect(),
        };
        if !known.iter().any(|subject| subject == user) {
            return Err(fail(format!(
                "'{user}' is not a user of this server (its users: {}); declare it where the \
                 server is configured",
                known.join(", ")
            )));
        }
    }
    let now = SystemClock.now();
    let decision = match user {
        Some(subject) => DeviceDecision::Approve { subject },
        None => DeviceDecision::Deny,
    };
    let decided = store
        .decide_device(&code, None, decision, now)
        .await
        .map_err(fail)?;
    let shown = device::display_user_code(&code);
    let Some(grant) = decided else {
        let why = match store.device_grant_by_user_code(&code).await.map_err(fail)? {
            None => "no device authorization has this code",
            Some(grant) if grant.expires_at <= now => "it has expired",
            Some(grant) if grant.status != DeviceStatus::Pending => "it was already decided",
            Some(_) => "it changed while this command ran",
        };
        return Err(fail(format!("cannot decide {shown}: {why}")));
    };
    // The event log sees this decision as it would one made on the page.
    let kind = match user {
        Some(_) => EventType::ConsentApproved,
        None => EventType::ConsentDenied,
    };
    let mut event = Event::new(kind, SystemClock.now_millis());
    event.flow.clone_from(&grant.flow_id);
    event.endpoint = Some("device".to_owned());
    event.client_id = Some(grant.client_id.clone());
    event.user = user.map(str::to_owned);
    event.description = Some("decided from the command line (tollgate device)".to_owned());
    if user.is_none() {
        event.outcome = Outcome::Rejected;
    }
    store.insert_events(&[event]).await.map_err(fail)?;
    match user {
        Some(user) => println!(
            "approved {shown} for client {} as {user}; the device gets its tokens on its next poll",
            grant.client_id
        ),
        None => println!("denied {shown} for client {}", grant.client_id),
    }
    Ok(())
}
