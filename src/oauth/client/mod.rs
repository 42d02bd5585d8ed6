//! Clients: who they are (RFC 7591 metadata), who made them, and Tollgate's own rules for
//! each (allowed scopes, consent, introspection).

pub mod jwks;
mod metadata;
mod registration;
pub mod update;

pub use metadata::{AuthMethod, CODE, ClientMetadata, NATIVE};
pub use registration::RegistrationRequest;

use super::consent::ConsentMode;
use serde::{Deserialize, Serialize};

/// A registered client, as the server knows it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    /// The stored form of the client secret (see `crate::secret`); `None` for public clients.
    pub secret_digest: Option<String>,
    /// Digest of the RFC 7592 registration access token, for dynamically registered clients.
    pub registration_token_digest: Option<String>,
    pub metadata: ClientMetadata,
    pub created_at: i64,
    pub source: ClientSource,
    pub policy: ClientPolicy,
}

/// Who made a client, which decides who may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientSource {
    /// RFC 7591 dynamic registration.
    Dynamic,
    /// Declared in the configuration file, which owns it: applying the file updates or
    /// removes it.
    Declared,
    /// `tollgate clients add`.
    Cli,
    /// A Client ID Metadata Document.
    Document,
}

impl ClientSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientSource::Dynamic => "dynamic",
            ClientSource::Declared => "declared",
            ClientSource::Cli => "cli",
            ClientSource::Document => "document",
        }
    }
}

impl std::str::FromStr for ClientSource {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        [
            ClientSource::Dynamic,
            ClientSource::Declared,
            ClientSource::Cli,
            ClientSource::Document,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        // Instances before migration 0004 wrote "seed" for declared clients.
        .or((text == "seed").then_some(ClientSource::Declared))
        .ok_or(())
    }
}

/// Tollgate's own rules for a client, beyond its RFC 7591 metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientPolicy {
    /// The scopes it may ask for; empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_scopes: Vec<String>,
    /// Overrides the server's consent mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentMode>,
    /// Who `auto` consent approves as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A resource server: may introspect tokens issued to any client, not only its own
    /// (RFC 7662 §2.1, §4). Only declared clients (configuration file, CLI) can have it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub introspection: bool,
}
