//! `tollgate token`: an access token for testing a resource server, without a flow. It
//! reads the same database as the server, so the server's JWKS verifies it, and records it,
//! so introspection and revocation know it. Options make it wrong on purpose, to test that
//! the resource server refuses it.

use super::{ConfigArgs, Failure, KeyTiming, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::declarations::RESERVED_CLAIMS;
use crate::config::{Config, DEFAULT_USER, duration};
use crate::keys::forge::PublicKeyForm;
use crate::oauth::resource;
use crate::server::default_issuer;
use crate::services::faults::FaultTable;
use crate::services::signing_keys;
use crate::services::tokens::{Defect, StandaloneToken, TokenIssuer};
use crate::services::users::Users;
use crate::store::{ServerSetting, Store};
use clap::Args;
use std::sync::Arc;
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
    /// Lifetime, such as 60s or 5m [default: access_token_ttl]; at most the signing keys'
    /// grace period, so the token cannot outlive its key in the JWKS
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
    /// Make a token that is valid only in ten minutes (`nbf` and `iat` ahead).
    #[arg(long)]
    not_yet_valid: bool,
    /// Make a token for another resource on the same origin (the path of --aud followed
    /// by /another-resource).
    #[arg(long)]
    sibling_audience: bool,
    /// Flip one bit of the signature.
    #[arg(long)]
    tampered_signature: bool,
    /// Send no signature: `alg: none` (with the real `kid`).
    #[arg(long)]
    alg_none: bool,
    /// Sign with HS256, keyed with the server's RSA public key in PEM (SPKI), the
    /// algorithm-confusion attack.
    #[arg(long)]
    hs256_public_key: bool,
    /// Type the token `JWT` instead of `at+jwt`.
    #[arg(long)]
    wrong_typ: bool,
    /// Mint even a scope beyond the subject's scope policy (`[[users]] scopes`), which no
    /// flow would grant, to test that the resource server checks the scope itself.
    #[arg(long)]
    beyond_policy: bool,
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
    let store = open_store(&config).await?;
    let result = mint_with(args, &config, &store).await;
    store.close().await;
    let token = result?;
    println!("{token}");
    Ok(())
}

async fn mint_with(args: &TokenArgs, config: &Config, store: &Store) -> Result<String, Failure> {
    let issuer_id = issuer(&args.config, config, store).await?;
    let grace = KeyTiming::read(config, store).await?.grace;
    let lifetime = args.ttl.unwrap_or(config.access_token_ttl);
    if !args.expired && lifetime > grace {
        // After a rotation the signing key leaves the JWKS when its grace period ends; a
        // token living longer would then be refused before it expires.
        return Err(fail(format!(
            "a token lifetime of {} is longer than the signing keys' grace period of {} on \
             this database: after a key rotation, resource servers would refuse the token \
             before it expires. Give a shorter --ttl, or raise keys.grace_period of the server",
            duration::format(&lifetime),
            duration::format(&grace),
        )));
    }
    let now = SystemClock.now();
    let keys = signing_keys::load_or_create(store, now, grace)
        .await
        .map_err(fail)?;
    let tokens = TokenIssuer::new(
        &issuer_id,
        Arc::new(keys),
        Arc::new(Users::new(config.all_users())),
        config.access_token_ttl,
        config.refresh_token_ttl,
        // Faults act on a server's responses, not on tokens minted here.
        Arc::new(FaultTable::new(Vec::new())),
    );
    let token = StandaloneToken {
        subject: args.sub.clone(),
        client_id: args.client_id.clone(),
        audience: if args.aud.is_empty() {
            vec![resource::default_audience(&config.resources, &issuer_id)]
        } else {
            args.aud.clone()
        },
        scope: (!args.scope.trim().is_empty()).then(|| args.scope.trim().to_owned()),
        lifetime,
        extra_claims: args.claims.iter().cloned().collect(),
        defects: args.defects(),
    };
    if !args.beyond_policy {
        tokens.check_user_policy(&token).map_err(|refused| {
            fail(format!(
                "{} (checklist {}); give --beyond-policy to mint it anyway",
                refused.description,
                refused.rule_id().unwrap_or("SCP-2")
            ))
        })?;
    }
    tokens.mint_recorded(store, &token, now).await.map_err(fail)
}

impl TokenArgs {
    /// The defects asked for.
    fn defects(&self) -> Vec<Defect> {
        [
            (self.expired, Defect::Expired),
            (self.wrong_audience, Defect::WrongAudience),
            (self.wrong_issuer, Defect::WrongIssuer),
            (self.unknown_key, Defect::UnknownKey),
            (self.not_yet_valid, Defect::NotYetValid),
            (self.sibling_audience, Defect::SiblingAudience),
            (self.tampered_signature, Defect::TamperedSignature),
            (self.alg_none, Defect::AlgNone),
            (
                self.hs256_public_key,
                Defect::Hs256PublicKey(PublicKeyForm::SpkiPem),
            ),
            (self.wrong_typ, Defect::WrongType),
        ]
        .into_iter()
        .filter_map(|(asked, defect)| asked.then_some(defect))
        .collect()
    }
}

/// The issuer to sign as: one given explicitly (an issuer, or a fixed bind address to derive
/// it from, by flag, environment or file) wins, with a warning when it differs from the one
/// the server on this database recorded; without one, the recorded issuer, so that the
/// server's resource servers accept the token.
pub(super) async fn issuer(
    args: &ConfigArgs,
    config: &Config,
    store: &Store,
) -> Result<String, Failure> {
    let recorded = store
        .server_setting(ServerSetting::Issuer)
        .await
        .map_err(fail)?;
    let explicit = match &config.issuer {
        Some(issuer) => Some(issuer.clone()),
        None if args.gives("bind") && config.bind.port() != 0 => Some(format!(
            "{}{}",
            default_issuer(config.bind),
            config.tenant_path()
        )),
        None => None,
    };
    match (explicit, recorded) {
        (Some(explicit), Some(recorded)) => {
            if explicit != recorded {
                eprintln!(
                    "tollgate: warning: signing with issuer {explicit}, but the server on this \
                     database serves as {recorded}; its resource servers will refuse this token"
                );
            }
            Ok(explicit)
        }
        (Some(explicit), None) => Ok(explicit),
        (None, Some(recorded)) => Ok(recorded),
        (None, None) if config.bind.port() == 0 => Err(fail(
            "no server has recorded its issuer in this database, and the issuer depends on \
             the port the server binds; give --issuer or a fixed --bind",
        )),
        (None, None) => Ok(format!(
            "{}{}",
            default_issuer(config.bind),
            config.tenant_path()
        )),
    }
}
