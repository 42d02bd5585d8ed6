//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4, §3.5;
//! checklist OPT-4, DEV-2, DEV-3): a device polls until its user decides. Too fast a poll
//! gets `slow_down` and a longer interval for good; the approved device code is redeemed
//! once for a grant, with a refresh token as in the code flow. The headless consent modes
//! decide on the first poll: `auto` approves as the configured user, `deny` denies.

use crate::http::error::ApiError;
use crate::oauth::authorize;
use crate::oauth::client::Client;
use crate::oauth::consent::ConsentMode;
use crate::oauth::device::{DeviceGrant, Poll, SLOW_DOWN_SECS};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::{EventType, Outcome};
use crate::oauth::grant_type::GrantType;
use crate::oauth::params::Params;
use crate::oauth::rules;
use crate::oauth::scope::{OPENID, Scope};
use crate::oauth::token_response::TokenResponse;
use crate::secret::token_digest;
use crate::services::events;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;
use crate::store::{DeviceDecision, NewGrant, Spent};

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let digest = token_digest(params.require("device_code")?);
    let Some(device) = app.store.device_grant(&digest).await? else {
        return Err(OAuthError::invalid_grant(
            "the device code is not one this server issued (RFC 8628 §3.4)",
        )
        .rule(&rules::DEV_3)
        .into());
    };
    if let Some(flow) = &device.flow_id {
        events::set_flow(flow);
    }
    let now = app.now();
    let device = match device.check_poll(&client.client_id, now)? {
        Poll::Issue => device,
        Poll::Waiting { too_fast } => {
            match client.policy.consent.unwrap_or(app.config.consent.mode) {
                ConsentMode::Prompt => {
                    let interval = device.interval + if too_fast { SLOW_DOWN_SECS } else { 0 };
                    app.store.record_device_poll(&digest, now, interval).await?;
                    return Err(device.waiting_error(too_fast, now).into());
                }
                mode => decide_headless(app, client, &device, mode, now).await?,
            }
        }
    };
    let Some(subject) = device.subject.as_deref() else {
        return Err(no_longer_valid());
    };
    events::set_user(subject);
    if app.user(subject).is_none() {
        return Err(OAuthError::invalid_grant(format!(
            "user '{subject}' approved this device but is not a user of this server (declare \
             them in its configuration)"
        ))
        .rule(&rules::DEV_3)
        .into());
    }
    let scope = Scope::from_stored(&device.scope);
    // RFC 8628 §3.5 `access_denied`: the approver may not be granted this scope (SCP-2).
    if let Some(user) = app.user(subject) {
        user.check_scope(&scope)?;
    }
    let mut issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::DeviceCode,
            client_id: &client.client_id,
            subject: Subject::User(subject),
            scope: &scope,
            audience: device.resources.clone(),
            with_refresh_token: client.metadata.allows_grant(GrantType::RefreshToken),
            act: None,
        },
        now,
    )?;
    if scope.contains(OPENID) {
        let auth_time = device.decided_at.unwrap_or(now);
        issued.response.id_token =
            Some(
                app.tokens
                    .id_token_for(&client.client_id, subject, auth_time, None, now)?,
            );
    }
    let grant = NewGrant {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client.client_id.clone(),
        subject: subject.to_owned(),
        scope: device.scope.clone(),
        resources: device.resources.clone(),
        created_at: now,
        flow_id: device.flow_id.clone(),
    };
    match app
        .store
        .redeem_device_code(&digest, &grant, now, &issued.records)
        .await?
    {
        Spent::Issued => {
            issued.record();
            Ok(issued.response)
        }
        // Another poll redeemed it first: its tokens stand (RFC 8628 asks for no revocation).
        Spent::Replayed => Err(OAuthError::invalid_grant(
            "the device code was already exchanged for tokens (RFC 8628 §3.5)",
        )
        .rule(&rules::DEV_3)
        .into()),
        Spent::NoLongerValid => Err(no_longer_valid()),
    }
}

fn no_longer_valid() -> ApiError {
    OAuthError::invalid_grant(
        "the device code expired or was decided otherwise while it was being redeemed",
    )
    .rule(&rules::DEV_3)
    .into()
}

/// `consent.mode = "auto"` approves on the first poll, as the user `auto` approves as;
/// `"deny"` denies. The decision is recorded like one made on the page.
async fn decide_headless(
    app: &App,
    client: &Client,
    device: &DeviceGrant,
    mode: ConsentMode,
    now: i64,
) -> Result<DeviceGrant, ApiError> {
    let decision = if mode == ConsentMode::Auto {
        let subject = authorize::auto_approver(
            &client.client_id,
            None,
            client.policy.user.as_deref(),
            app.config.consent.user.as_deref(),
            |subject| app.user(subject).is_some(),
        )?;
        DeviceDecision::Approve { subject }
    } else {
        DeviceDecision::Deny
    };
    let decided = app
        .store
        .decide_device(&device.user_code, None, decision, now)
        .await?;
    let Some(decided) = decided else {
        return Err(no_longer_valid());
    };
    match decision {
        DeviceDecision::Approve { subject } => {
            events::set_user(subject);
            events::step(EventType::ConsentApproved, |event| {
                event.description = Some(format!(
                    "approved without asking as '{subject}' on the device's first poll (consent \
                     mode 'auto')"
                ));
            });
            Ok(decided)
        }
        DeviceDecision::Deny => {
            events::step(EventType::ConsentDenied, |event| {
                event.outcome = Outcome::Rejected;
                event.description = Some("denied without asking (consent mode 'deny')".to_owned());
            });
            Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "denied without asking: this server's consent mode for the client is 'deny' \
                 (RFC 8628 §3.5 access_denied); stop polling",
            )
            .rule(&rules::OPT_4)
            .into())
        }
    }
}
