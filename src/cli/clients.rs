//! `clients add|list|remove`: pre-registered clients, kept in the database (source `cli`).

use super::{ConfigArgs, Failure, fail, open_store};
use crate::clock::{Clock, SystemClock};
use crate::config::{ConsentMode, DeclaredClient};
use crate::oauth::client::{Client, ClientSource};
use crate::secret::{Secret, hash_chosen_secret};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(super) enum ClientsCommand {
    /// Register a client with a fixed or generated id. Confidential by default, with a
    /// generated secret printed once; --public for a public client.
    Add(Box<AddArgs>),
    /// List every client.
    List(ConfigArgs),
    /// Remove a client and revoke everything issued to it.
    Remove {
        client_id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Args)]
pub(super) struct AddArgs {
    /// The client id [default: a generated UUID]
    #[arg(long)]
    client_id: Option<String>,
    /// A display name for the consent page.
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A grant type (repeatable) [default: the code flow when there are redirect URIs,
    /// client_credentials for a confidential client]
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// A public client: no secret.
    #[arg(long, conflicts_with = "secret")]
    public: bool,
    /// A secret of your choosing (kept as an argon2 hash) [default: a generated one]
    #[arg(long)]
    secret: Option<String>,
    /// client_secret_basic (default) or client_secret_post; private_key_jwt with --jwks or
    /// --jwks-uri.
    #[arg(long, value_name = "METHOD")]
    auth_method: Option<String>,
    /// The client's public keys, for private_key_jwt: a file with a JWK Set (JSON) or a PEM
    /// public key (RSA, EC P-256 or Ed25519). No secret is made.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["secret", "public", "jwks_uri"])]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its JWK Set, for private_key_jwt. No secret is made.
    #[arg(long, value_name = "URL", conflicts_with_all = ["secret", "public"])]
    jwks_uri: Option<String>,
    /// A scope the client may ask for (repeatable) [default: any]
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// prompt, auto or deny [default: the server's consent mode]
    #[arg(long, value_parser = parse_mode)]
    consent: Option<ConsentMode>,
    /// The user `auto` consent approves as. Checked against the users given here (--user,
    /// the file); a server that does not declare this user refuses the client's automatic
    /// approvals (with server_error) rather than issue tokens in that name.
    #[arg(long, value_name = "USER")]
    approve_as: Option<String>,
    /// A resource server: may introspect every client's tokens, not only its own.
    #[arg(long, conflicts_with = "public")]
    introspection: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn parse_mode(text: &str) -> Result<ConsentMode, String> {
    match text {
        "prompt" => Ok(ConsentMode::Prompt),
        "auto" => Ok(ConsentMode::Auto),
        "deny" => Ok(ConsentMode::Deny),
        _ => Err("prompt, auto or deny".to_owned()),
    }
}

pub(super) async fn run(command: ClientsCommand) -> Result<(), Failure> {
    match command {
        ClientsCommand::Add(args) => add(*args).await,
        ClientsCommand::List(config) => list(&config).await,
        ClientsCommand::Remove { client_id, config } => remove(&client_id, &config).await,
    }
}

async fn add(args: AddArgs) -> Result<(), Failure> {
    let config = args.config.load()?;
    // Keys from a file: a PEM public key, or a JWK Set.
    let (jwks, public_key) = match &args.jwks {
        None => (None, None),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
            if text.contains("-----BEGIN") {
                (None, Some(text))
            } else {
                (Some(serde_json::Value::String(text)), None)
            }
        }
    };
    let keys = jwks.is_some() || public_key.is_some() || args.jwks_uri.is_some();
    // A generated secret is high-entropy and checked with a fast hash; a chosen one gets
    // argon2 (DESIGN.md).
    let generated = (!args.public && !keys && args.secret.is_none()).then(Secret::generate);
    let seed = DeclaredClient {
        client_id: args
            .client_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        name: args.name,
        secret: args.secret.clone().map(Secret::new).or(generated.clone()),
        secret_hash: None,
        auth_method: args.auth_method,
        jwks,
        jwks_uri: args.jwks_uri,
        public_key,
        redirect_uris: args.redirect_uris,
        grant_types: args.grant_types,
        scopes: args.scopes,
        consent: args.consent,
        user: args.approve_as,
        introspection: args.introspection,
    };
    let check = crate::Config {
        clients: vec![seed.clone()],
        users: config.users.clone(),
        registration: config.registration.clone(),
        ..crate::Config::default()
    };
    if let Some(problem) = check.validate().into_iter().next() {
        return Err(fail(problem.message));
    }
    let metadata = seed
        .registration_request()
        .validate_under(config.registration.redirect_schemes)
        .map_err(|e| fail(e.description))?;
    let secret_digest = match (&args.secret, &generated) {
        (Some(chosen), _) => Some(hash_chosen_secret(chosen).map_err(fail)?),
        (None, Some(generated)) => Some(generated.digest()),
        (None, None) => None,
    };
    let client = Client {
        client_id: seed.client_id.clone(),
        secret_digest,
        registration_token_digest: None,
        metadata,
        created_at: SystemClock.now(),
        source: ClientSource::Cli,
        policy: seed.policy(),
    };
    let store = open_store(&config).await?;
    let inserted = store.insert_client(&client).await;
    store.close().await;
    inserted.map_err(|e| match e {
        crate::store::StoreError::Database(ref db)
            if db
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            fail(format!(
                "a client with id '{}' exists already",
                client.client_id
            ))
        }
        other => fail(other),
    })?;
    println!("client_id: {}", client.client_id);
    if let Some(secret) = generated {
        println!("client_secret: {}", secret.expose());
        println!("(the secret is shown only now; Tollgate keeps a hash)");
    }
    println!(
        "token_endpoint_auth_method: {}",
        client.metadata.token_endpoint_auth_method
    );
    println!(
        "grant_types: {}",
        client.metadata.grant_type_names().join(" ")
    );
    if client.policy.introspection {
        println!("introspection: every client's tokens");
    }
    Ok(())
}

async fn list(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    let clients = store.all_clients().await.map_err(fail);
    store.close().await;
    println!(
        "{:<38} {:<9} {:<20} {:<45} NAME",
        "CLIENT_ID", "SOURCE", "AUTH", "GRANTS"
    );
    for client in clients? {
        println!(
            "{:<38} {:<9} {:<20} {:<45} {}",
            client.client_id,
            client.source.as_str(),
            client.metadata.token_endpoint_auth_method.as_str(),
            client.metadata.grant_type_names().join(","),
            client.metadata.client_name.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn remove(client_id: &str, args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    let existing = store.client(client_id).await.map_err(fail)?;
    let removed = store.delete_client(client_id).await.map_err(fail);
    store.close().await;
    if !removed? {
        return Err(fail(format!("no client '{client_id}'")));
    }
    println!("removed client {client_id} and revoked everything issued to it");
    if existing.is_some_and(|c| c.source == ClientSource::Declared) {
        println!("note: the configuration file declares it, so the next start adds it again");
    }
    Ok(())
}
