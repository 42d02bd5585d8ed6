//! `grant_type=client_credentials` (OAuth 2.1 §4.2; the MCP client-credentials extension;
//! checklist TK-20): a confidential client gets a token for itself, for the requested
//! resource and scope, without a user and without a refresh token.

use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::scope::{self, Scope};
use crate::oauth::token_response::TokenResponse;
use crate::services::events;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    // The client type, not the auth method: a native app's secret does not count
    // (OAuth 2.1 §2.1, checklist SEC-4).
    //
    // No client this version stores can fail this check: every way in (registration, RFC
    // 7592 updates, the configuration file, `clients add`, metadata documents) goes through
    // `RegistrationRequest::validate`, which refuses client_credentials for exactly the
    // clients `is_confidential` rejects, and the token endpoint refuses a grant a client did
    // not register before this runs. It stays for rows that version did not write: before
    // d27c587 a native app with a secret could register client_credentials, and a database
    // may be shared with an older instance or edited by hand. The grant would otherwise go
    // to a client that cannot keep a secret.
    if !client.metadata.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "client_credentials is for confidential clients only; a public client (one \
             without a secret, or a native app) cannot prove who it is (OAuth 2.1 §4.2)",
        )
        .rule(&crate::oauth::rules::TK_20)
        .into());
    }
    // Each client_credentials request is a flow of its own.
    events::set_flow(&uuid::Uuid::now_v7().to_string());
    let resources = resource::resolve_requested(
        params.all("resource")?,
        &app.config.resources,
        &app.default_audience,
    )?;
    let scope = match params.get("scope")? {
        Some(requested) => Scope::parse(Some(requested))?,
        None => resource::default_scope(
            &resources,
            &app.config.resources,
            &client.policy.allowed_scopes,
        ),
    };
    scope::refuse_session_scopes(&scope)?;
    resource::check_scope(&scope, &resources, &app.config.resources)?;
    scope::check_client_allows(&scope, &client.policy.allowed_scopes)?;
    let now = app.now();
    let issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::ClientCredentials,
            client_id: &client.client_id,
            subject: Subject::Client,
            scope: &scope,
            audience: resources,
            with_refresh_token: false,
            act: None,
        },
        now,
    )?;
    app.store
        .insert_access_token(&issued.records.access, None, now)
        .await?;
    issued.record();
    Ok(issued.response)
}
