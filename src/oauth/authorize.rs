//! The rules of an authorization request (OAuth 2.1 §4.1.1), in the order that keeps users
//! safe: first the client and its redirect URI, whose failures are shown to the user and
//! never redirected (§4.1.2.1, checklist AZ-5); then everything else, whose failures are
//! sent back to the verified redirect URI with `state` and `iss` (RFC 9207).

use super::client::ClientMetadata;
use super::error::{ErrorCode, OAuthError};
use super::grant_type::GrantType;
use super::params::Params;
use super::pkce::CodeChallenge;
use super::redirect_uri;
use super::resource;
use super::resource::Resource;
use super::rules;
use super::scope::{self, Scope};

/// Why an authorization request failed, and where the user may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The client or redirect URI is not verified: tell the user, redirect nowhere.
    ShowPage(OAuthError),
    /// The redirect URI is verified: send the error back to the client.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// A request that passed every check and may be shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: CodeChallenge,
    pub scope: Scope,
    /// The token audience: the requested resources, or the default one.
    pub resources: Vec<String>,
    /// `prompt=none`: the client wants an answer without any interaction (OIDC Core §3.1.2.1).
    pub prompt_none: bool,
    /// Who the client thinks the user is; Tollgate honours it when it names a user.
    pub login_hint: Option<String>,
    /// OpenID Connect `nonce`, echoed in the ID token (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
}

/// What the server's configuration says about resources and scopes.
pub struct Policy<'a> {
    pub resources: &'a [Resource],
    pub default_audience: &'a str,
    /// The scopes this client may ask for; empty: any.
    pub client_scopes: &'a [String],
    /// `registration.redirect_schemes`: a URI registered under a laxer setting is not used.
    pub redirect_schemes: redirect_uri::RedirectSchemes,
}

/// The most bytes of `state` an authorization request may carry. OAuth sets no limit; this
/// one is generous (a random `state` is 20 to 64 characters; one that encodes where to go
/// back to rarely passes 1 KiB) and bounds what an unauthenticated request can make the
/// server store while the consent page waits (issue 20).
pub const MAX_STATE_BYTES: usize = 4096;
/// The same bound for the OpenID Connect `nonce`, stored with the request and the code.
pub const MAX_NONCE_BYTES: usize = 4096;
/// The same bound for `scope` (the whole space-delimited list).
pub const MAX_SCOPE_BYTES: usize = 4096;
/// The most bytes of one `resource` indicator, and the most indicators in one request.
pub const MAX_RESOURCE_BYTES: usize = 2048;
pub const MAX_RESOURCES: usize = 16;

/// A parameter longer than the server stores.
fn too_long(name: &str, len: usize, max: usize) -> OAuthError {
    OAuthError::invalid_request(format!(
        "{name} is {len} bytes long; this server accepts at most {max} bytes of {name} in an \
         authorization request"
    ))
    .hint(Some(format!(
        "{name} is stored until the user decides, so its size is bounded; send a shorter \
         {name} (a random value of 32 bytes is plenty) and keep anything bigger on the client, \
         keyed by it"
    )))
}

/// Refuses parameters beyond the bounds above, before anything is stored.
fn check_sizes(params: &Params) -> Result<(), OAuthError> {
    for (name, max) in [("nonce", MAX_NONCE_BYTES), ("scope", MAX_SCOPE_BYTES)] {
        if let Some(value) = params.get(name)? {
            if value.len() > max {
                return Err(too_long(name, value.len(), max));
            }
        }
    }
    let resources = params.all("resource")?;
    if resources.len() > MAX_RESOURCES {
        return Err(OAuthError::invalid_request(format!(
            "the request names {} resources; this server accepts at most {MAX_RESOURCES} \
             resource parameters in an authorization request",
            resources.len()
        )));
    }
    if let Some(long) = resources.iter().find(|r| r.len() > MAX_RESOURCE_BYTES) {
        return Err(too_long("resource", long.len(), MAX_RESOURCE_BYTES));
    }
    Ok(())
}

/// Checks the request after the client was found by its `client_id`.
pub fn validate(
    params: &Params,
    client: &ClientMetadata,
    policy: &Policy<'_>,
) -> Result<ValidRequest, Rejection> {
    let requested = params.get("redirect_uri").map_err(Rejection::ShowPage)?;
    let redirect_uri =
        redirect_uri::resolve(&client.redirect_uris, requested).map_err(Rejection::ShowPage)?;
    redirect_uri::check_allowed(&redirect_uri, policy.redirect_schemes)
        .map_err(Rejection::ShowPage)?;
    // A repeated `state` cannot be echoed, but the redirect URI is verified, so the error
    // still goes back to the client (checklist AZ-14).
    let state = match params.get("state") {
        // Too long to store or to echo: the error goes back without it.
        Ok(Some(state)) if state.len() > MAX_STATE_BYTES => {
            return Err(Rejection::Redirect {
                redirect_uri,
                state: None,
                error: too_long("state", state.len(), MAX_STATE_BYTES),
            });
        }
        Ok(state) => state.map(str::to_owned),
        Err(error) => {
            return Err(Rejection::Redirect {
                redirect_uri,
                state: None,
                error,
            });
        }
    };
    match check_rest(params, client, policy) {
        Ok((code_challenge, scope, resources)) => Ok(ValidRequest {
            redirect_uri,
            state,
            code_challenge,
            scope,
            resources,
            prompt_none: params.get("prompt").ok().flatten() == Some("none"),
            login_hint: params.get("login_hint").ok().flatten().map(str::to_owned),
            nonce: params.get("nonce").ok().flatten().map(str::to_owned),
        }),
        Err(error) => Err(Rejection::Redirect {
            redirect_uri,
            state,
            error,
        }),
    }
}

fn check_rest(
    params: &Params,
    client: &ClientMetadata,
    policy: &Policy<'_>,
) -> Result<(CodeChallenge, Scope, Vec<String>), OAuthError> {
    match params.get("response_type")? {
        Some("code") => {}
        None => {
            return Err(OAuthError::invalid_request(
                "response_type is missing; it must be 'code' (OAuth 2.1 §4.1.1)",
            )
            .rule(&rules::AZ_10));
        }
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!(
                    "response_type '{other}' is not supported; OAuth 2.1 allows only 'code' \
                     (the implicit grant was removed, §10.1)"
                ),
            )
            .rule(&rules::AZ_10)
            .compared("code", other));
        }
    }
    client.require_grant(GrantType::AuthorizationCode)?;
    check_sizes(params)?;
    let code_challenge = CodeChallenge::from_request(
        params.get("code_challenge")?,
        params.get("code_challenge_method")?,
    )?;
    let resources = resource::resolve_requested(
        params.all("resource")?,
        policy.resources,
        policy.default_audience,
    )?;
    let scope = match params.get("scope")? {
        Some(requested) => Scope::parse(Some(requested))?,
        None => resource::default_scope(&resources, policy.resources, policy.client_scopes),
    };
    resource::check_scope(&scope, &resources, policy.resources)?;
    scope::check_client_allows(&scope, policy.client_scopes)?;
    // Checked here so that a repeated parameter is an error like any other.
    params.get("prompt")?;
    params.get("login_hint")?;
    params.get("nonce")?;
    Ok((code_challenge, scope, resources))
}

/// Who `auto` consent approves as: the user `login_hint` names when it names one (OIDC
/// Core §3.1.2.1), else the client's configured user, else the server's `consent.user`,
/// else `dev`. A token is only ever issued for a subject the server has: a configured user
/// it does not declare (a client added with `tollgate clients add --approve-as` against
/// other users than the server's) is refused with `server_error`, whose description names
/// the client and the user, rather than approved in that name.
pub fn auto_approver<'a>(
    client_id: &str,
    login_hint: Option<&'a str>,
    client_user: Option<&'a str>,
    server_user: Option<&'a str>,
    is_user: impl Fn(&str) -> bool,
) -> Result<&'a str, OAuthError> {
    if let Some(hint) = login_hint.filter(|hint| is_user(hint)) {
        return Ok(hint);
    }
    let (subject, who) = match (client_user, server_user) {
        (Some(user), _) => (
            user,
            format!("client '{client_id}' approves automatically as"),
        ),
        (None, Some(user)) => (
            user,
            "consent.user, who automatic consent approves as, is".to_owned(),
        ),
        (None, None) => return Ok(super::consent::DEFAULT_USER),
    };
    if is_user(subject) {
        return Ok(subject);
    }
    Err(OAuthError::new(
        ErrorCode::ServerError,
        format!(
            "{who} '{subject}', but this server declares no user '{subject}', so it cannot \
             issue a token in that name: declare the user (a [[users]] entry in the \
             configuration, or --user {subject}), or send a login_hint that names a declared \
             user"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::RegistrationRequest;

    const CB: &str = "http://127.0.0.1:53682/callback";
    const C: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> ClientMetadata {
        RegistrationRequest {
            redirect_uris: Some(vec![CB.to_owned()]),
            token_endpoint_auth_method: Some("none".to_owned()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    fn run(query: &str) -> Result<ValidRequest, Rejection> {
        let base = format!(
            "response_type=code&redirect_uri={}&code_challenge={C}&code_challenge_method=S256\
             &state=st1",
            url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
        );
        let params = Params::parse(format!("{base}&{query}").as_bytes());
        let policy = Policy {
            resources: &[],
            default_audience: "http://as",
            client_scopes: &[],
            redirect_schemes: redirect_uri::RedirectSchemes::Native,
        };
        validate(&params, &client(), &policy)
    }

    fn redirected_code(result: Result<ValidRequest, Rejection>) -> ErrorCode {
        match result {
            Err(Rejection::Redirect { error, .. }) => error.code,
            other => panic!("expected an error redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_passes_with_the_default_audience() {
        let valid = run("").unwrap();
        assert_eq!(valid.resources, ["http://as"]);
        assert_eq!(valid.state.as_deref(), Some("st1"));
    }

    #[test]
    fn auto_consent_approves_only_as_a_declared_user() {
        let is_user = |s: &str| ["dev", "alice", "bob"].contains(&s);
        let pick = |hint, client, server| auto_approver("c1", hint, client, server, is_user);
        assert_eq!(pick(None, None, None), Ok("dev"));
        assert_eq!(pick(None, None, Some("bob")), Ok("bob"));
        assert_eq!(pick(None, Some("alice"), Some("bob")), Ok("alice"));
        assert_eq!(pick(Some("bob"), Some("alice"), None), Ok("bob"));
        // A hint that names nobody is ignored, not obeyed.
        assert_eq!(pick(Some("mallory"), Some("alice"), None), Ok("alice"));
        // An undeclared configured user is refused, even when a later fallback would do.
        let refused = pick(Some("mallory"), Some("carol"), Some("bob")).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ServerError);
        assert!(
            refused
                .description
                .starts_with("client 'c1' approves automatically as 'carol', but"),
            "{refused}"
        );
        let refused = pick(None, None, Some("carol")).unwrap_err();
        assert!(refused.description.starts_with("consent.user"), "{refused}");
        // A declared user named by the hint still wins over an undeclared configured one.
        assert_eq!(pick(Some("bob"), Some("carol"), None), Ok("bob"));
    }

    #[test]
    fn a_state_beyond_the_bound_is_refused_without_being_echoed() {
        let state = "s".repeat(MAX_STATE_BYTES + 1);
        let params = Params::parse(
            format!(
                "response_type=code&redirect_uri={}&code_challenge={C}\
                 &code_challenge_method=S256&state={state}",
                url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
            )
            .as_bytes(),
        );
        let policy = Policy {
            resources: &[],
            default_audience: "http://as",
            client_scopes: &[],
            redirect_schemes: redirect_uri::RedirectSchemes::Native,
        };
        match validate(&params, &client(), &policy) {
            Err(Rejection::Redirect { state, error, .. }) => {
                assert_eq!(state, None);
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert!(
                    error.description.contains("at most 4096 bytes of state"),
                    "{error}"
                );
            }
            other => panic!("expected an error redirect, got {other:?}"),
        }
    }

    #[test]
    fn redirect_uri_problems_are_shown_not_redirected() {
        let params =
            Params::parse(b"response_type=code&redirect_uri=http%3A%2F%2Fevil.example%2Fcb");
        let policy = Policy {
            resources: &[],
            default_audience: "x",
            client_scopes: &[],
            redirect_schemes: redirect_uri::RedirectSchemes::Native,
        };
        assert!(matches!(
            validate(&params, &client(), &policy),
            Err(Rejection::ShowPage(_))
        ));
    }

    #[test]
    fn protocol_errors_are_redirected_with_the_rfc_code() {
        assert_eq!(
            redirected_code(run("response_type=token")),
            ErrorCode::InvalidRequest, // repeated response_type
        );
        assert_eq!(
            redirected_code(run("resource=not-absolute")),
            ErrorCode::InvalidTarget
        );
        assert_eq!(redirected_code(run("scope=%22x")), ErrorCode::InvalidScope);
        let long = "n".repeat(MAX_NONCE_BYTES + 1);
        assert_eq!(
            redirected_code(run(&format!("nonce={long}"))),
            ErrorCode::InvalidRequest
        );
        assert!(run(&format!("nonce={}", &long[1..])).is_ok());
        assert!(run("prompt=none").unwrap().prompt_none);
    }
}
