//! `tollgate token`: an access token for testing a resource server, without a flow. It
//! reads the same database as the server, so the server's JWKS verifies it, and records it,
//! so introspection and revocation know it. Options make it wrong on purpose, to test that
//! the resource server refuses it.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::seed::RESERVED_CLAIMS;
use crate::config::{DEFAULT_USER, duration};
use crate::keys::{KeyRing, SigningKey};
use crate::oauth::access_token::{AccessTokenClaims, TYP};
use crate::oauth::resource;
use crate::server::default_issuer;
use crate::store::NewAccessToken;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub(super) struct TokenArgs {
    /// The subject (`sub`): a user, or a client for a machine token.
    #[arg(long, default_value = DEFAULT_USER)]
    sub: String,
    /// The audience, the MCP server's URL (repeatable) [default: the default resource]
    #[arg(long = "aud", value_name = "URL")]
    aud: Vec<String>,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// Lifetime, such as 60s or 5m [default: access_token_ttl]
    #[arg(long, value_parser = duration::parse)]
    ttl: Option<Duration>,
    /// An extra claim NAME=VALUE (repeatable); VALUE is read as JSON when it is JSON
    /// (numbers, true, ["a","b"]), as a string otherwise.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
    claims: Vec<(String, serde_json::Value)>,
    /// The `client_id` claim.
    #[arg(long, default_value = "tollgate-cli")]
    client_id: String,
    /// Make a token that expired ten minutes ago (beyond the clock-skew leeway that
    /// validators usually allow, often 60 s).
    #[arg(long)]
    expired: bool,
    /// Make a token for another audience than asked.
    #[arg(long)]
    wrong_audience: bool,
    /// Make a token with another issuer than this server.
    #[arg(long)]
    wrong_issuer: bool,
    /// Sign with a fresh key that the JWKS does not contain.
    #[arg(long)]
    unknown_key: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn parse_claim(text: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=VALUE"))?;
    if RESERVED_CLAIMS.contains(&name) {
        return Err(format!("'{name}' has its own option"));
    }
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

pub(super) async fn mint(args: &TokenArgs) -> Result<(), Failure> {
    let config = args.config.load()?;
    let issuer = match &config.issuer {
        Some(issuer) => issuer.clone(),
        None if config.bind.port() == 0 => {
            return Err(fail(
                "the issuer depends on the port the server binds; give --issuer or a fixed --bind",
            ));
        }
        None => default_issuer(config.bind),
    };
    let store = open_store(&config).await?;
    let now = SystemClock.now();
    let keys = KeyRing::load_or_create(&store, now, config.key_grace_period())
        .await
        .map_err(fail)?;

    let ttl =
        i64::try_from(args.ttl.unwrap_or(config.access_token_ttl).as_secs()).unwrap_or(i64::MAX);
    let (iat, exp) = if args.expired {
        (now - 600 - ttl, now - 600)
    } else {
        (now, now.saturating_add(ttl))
    };
    let mut audience = if args.aud.is_empty() {
        vec![resource::default_audience(&config.resources, &issuer)]
    } else {
        args.aud.clone()
    };
    if args.wrong_audience {
        audience = vec!["https://wrong-audience.invalid/mcp".to_owned()];
    }
    let mut extra = config
        .users
        .iter()
        .find(|u| u.subject == args.sub)
        .map(|u| u.claims.clone())
        .unwrap_or_default();
    extra.extend(args.claims.iter().cloned());
    let mut claims = AccessTokenClaims::issue(
        &issuer,
        &args.sub,
        &args.client_id,
        audience,
        (!args.scope.trim().is_empty()).then(|| args.scope.trim().to_owned()),
        iat,
        exp - iat,
    );
    claims.extra = extra;
    if args.wrong_issuer {
        claims.iss = "https://wrong-issuer.invalid".to_owned();
    }
    let token = if args.unknown_key {
        let (key, _) = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .map_err(fail)?
            .map_err(fail)?;
        key.sign(TYP, &claims)
    } else {
        keys.sign(TYP, &claims)
    }
    .map_err(fail)?;
    let record = NewAccessToken {
        jti: claims.jti.clone(),
        client_id: claims.client_id.clone(),
        expires_at: exp,
    };
    let recorded = store.insert_access_token(&record, None, iat).await;
    store.close().await;
    recorded.map_err(fail)?;
    println!("{token}");
    Ok(())
}
