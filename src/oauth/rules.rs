//! The rules a refusal can name: the rows of the project's checklist
//! (`shared/reference/mcp-auth-checklist.md`), each with the RFC or MCP section it comes from
//! and a link to that text. Events and error responses cite them, so a developer reads which
//! rule a request broke and where it is written.

use serde::Serialize;

/// One rule: a checklist row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The checklist row id, such as `TK-7`.
    pub id: &'static str,
    /// What the rule says, in a few words.
    pub title: &'static str,
    /// The section it comes from, such as `OAuth 2.1 §10.2`.
    pub source: &'static str,
    /// Where that section can be read.
    pub url: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $title:literal, $source:literal, $url:expr;)*) => {
        $(pub static $name: Rule = Rule { id: $id, title: $title, source: $source, url: $url };)*
        /// Every rule, in checklist order.
        pub static ALL: &[&Rule] = &[$(&$name),*];
    };
}

rules! {
    MD_1 = "MD-1", "publish authorization server metadata", "RFC 8414 §3",
        "https://www.rfc-editor.org/rfc/rfc8414#section-3";
    MD_3 = "MD-3", "the issuer is identical, character for character, wherever it appears", "RFC 8414 §3.3",
        "https://www.rfc-editor.org/rfc/rfc8414#section-3.3";
    MD_9 = "MD-9", "metadata is served at the URLs MCP clients probe", "RFC 8414 §3.1",
        "https://www.rfc-editor.org/rfc/rfc8414#section-3.1";
    MD_18 = "MD-18", "unknown well-known paths answer 404", "RFC 8414 §3",
        "https://www.rfc-editor.org/rfc/rfc8414#section-3";
    AZ_3 = "AZ-3", "redirect_uri matches a registered one exactly", "OAuth 2.1 §4.1.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.1");
    AZ_4 = "AZ-4", "a loopback redirect URI may use any port", "RFC 8252 §7.3",
        "https://www.rfc-editor.org/rfc/rfc8252#section-7.3";
    AZ_5 = "AZ-5", "an unverified client or redirect URI is shown, never redirected to", "OAuth 2.1 §4.1.2.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.2.1");
    AZ_6 = "AZ-6", "PKCE is required: a code_challenge with every request", "OAuth 2.1 §4.1.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.1");
    AZ_7 = "AZ-7", "code_challenge_method must be S256", "RFC 7636 §4.3",
        "https://www.rfc-editor.org/rfc/rfc7636#section-4.3";
    AZ_10 = "AZ-10", "response_type must be code", "OAuth 2.1 §4.1.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.1");
    AZ_12 = "AZ-12", "authorization codes are short-lived", "OAuth 2.1 §4.1.2",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.2");
    AZ_14 = "AZ-14", "parameters must not repeat", "OAuth 2.1 §3.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-3.1");
    AZ_15 = "AZ-15", "resource is an absolute URI this server issues tokens for", "RFC 8707 §2",
        "https://www.rfc-editor.org/rfc/rfc8707#section-2";
    AZ_17 = "AZ-17", "scope is one the client and the resource allow", "RFC 6749 §3.3",
        "https://www.rfc-editor.org/rfc/rfc6749#section-3.3";
    // Tollgate's scope rules (issue 17), numbered on their own: the path grammar, the user's
    // policy and what consent may narrow.
    SCP_1 = "SCP-1", "a scope is a colon path of non-empty segments, and '*' is only a whole last segment", "RFC 6749 §3.3",
        "https://www.rfc-editor.org/rfc/rfc6749#section-3.3";
    SCP_2 = "SCP-2", "a user is granted only scopes the user's policy covers", "RFC 6749 §3.3, §4.1.2.1",
        "https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1";
    SCP_3 = "SCP-3", "consent may leave out optional scopes; the grant then carries fewer", "RFC 6749 §3.3",
        "https://www.rfc-editor.org/rfc/rfc6749#section-3.3";
    AZ_22 = "AZ-22", "consent names the client and the redirect host", "MCP authorization, Security Considerations",
        "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#security-considerations";
    TK_1 = "TK-1", "token requests are form-encoded POSTs", "OAuth 2.1 §3.2.2",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-3.2.2");
    TK_3 = "TK-3", "code_verifier must match the code_challenge", "RFC 7636 §4.6",
        "https://www.rfc-editor.org/rfc/rfc7636#section-4.6";
    TK_4 = "TK-4", "code_verifier is required for a PKCE code", "OAuth 2.1 §4.1.3",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.3");
    TK_5 = "TK-5", "a code is single-use; a replay revokes its tokens", "OAuth 2.1 §4.1.3",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.3");
    TK_6 = "TK-6", "a code is redeemed only by its client", "OAuth 2.1 §4.1.3",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.1.3");
    TK_7 = "TK-7", "redirect_uri at the token endpoint matches the authorization request", "OAuth 2.1 §10.2",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-10.2");
    TK_8 = "TK-8", "resource at the token endpoint is within the grant", "RFC 8707 §2.2",
        "https://www.rfc-editor.org/rfc/rfc8707#section-2.2";
    TK_9 = "TK-9", "a public client sends client_id and no secret", "OAuth 2.1 §3.2.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-3.2.1");
    TK_10 = "TK-10", "a confidential client authenticates with its registered method", "OAuth 2.1 §2.4.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-2.4.1");
    TK_11 = "TK-11", "grant_type is one the server supports and the client registered", "RFC 6749 §5.2",
        "https://www.rfc-editor.org/rfc/rfc6749#section-5.2";
    TK_16 = "TK-16", "refresh tokens rotate; reuse revokes the family", "OAuth 2.1 §4.3.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.3.1");
    TK_17 = "TK-17", "a refresh keeps its client, and scope and resources only narrow", "OAuth 2.1 §4.3.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.3.1");
    TK_20 = "TK-20", "client_credentials is for confidential clients", "OAuth 2.1 §4.2",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-4.2");
    DCR_1 = "DCR-1", "registration takes a JSON client metadata document", "RFC 7591 §3.1",
        "https://www.rfc-editor.org/rfc/rfc7591#section-3.1";
    DCR_3 = "DCR-3", "redirect URIs are https, http on loopback, or a native app's private-use scheme", "RFC 8252 §7.1; MCP authorization, Communication Security",
        "https://www.rfc-editor.org/rfc/rfc8252#section-7.1";
    DCR_4 = "DCR-4", "client metadata is consistent", "RFC 7591 §2",
        "https://www.rfc-editor.org/rfc/rfc7591#section-2";
    DCR_9 = "DCR-9", "open registration is rate-limited", "RFC 7591 §3",
        "https://www.rfc-editor.org/rfc/rfc7591#section-3";
    CIMD_1 = "CIMD-1", "a URL client_id names a metadata document", "CIMD §3",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-00#section-3";
    CIMD_4 = "CIMD-4", "a metadata document is valid JSON with client_id, client_name, redirect_uris", "CIMD §4.1",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-00#section-4.1";
    CIMD_7 = "CIMD-7", "a document that cannot be fetched aborts the authorization", "CIMD §4.3",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-00#section-4.3";
    CIMD_12 = "CIMD-12", "a document client may authenticate with private_key_jwt and the document's keys", "CIMD §6.2",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-00#section-6.2";
    CA_1 = "CA-1", "a client assertion is one JWT of type jwt-bearer, and the request's only credential", "RFC 7523 §2.2",
        "https://www.rfc-editor.org/rfc/rfc7523#section-2.2";
    CA_2 = "CA-2", "iss and sub of a client assertion are the client's id", "RFC 7523 §3",
        "https://www.rfc-editor.org/rfc/rfc7523#section-3";
    CA_3 = "CA-3", "aud of a client assertion names this server: its issuer or the endpoint's URL", "RFC 7523 §3",
        "https://www.rfc-editor.org/rfc/rfc7523#section-3";
    CA_4 = "CA-4", "a client assertion has exp, is not expired, does not live too long, and is not from the future", "RFC 7523 §3",
        "https://www.rfc-editor.org/rfc/rfc7523#section-3";
    CA_5 = "CA-5", "a client assertion has a jti and is used once", "OpenID Connect Core §9",
        "https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication";
    CA_6 = "CA-6", "a client assertion is signed with one of the client's registered keys (RS256, PS256, ES256, EdDSA)", "RFC 7523 §3",
        "https://www.rfc-editor.org/rfc/rfc7523#section-3";
    CA_7 = "CA-7", "a private_key_jwt client registers its public keys: jwks or jwks_uri, not both", "RFC 7591 §2",
        "https://www.rfc-editor.org/rfc/rfc7591#section-2";
    SEC_2 = "SEC-2", "secret guessing is throttled", "OAuth 2.1 §2.4.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-2.4.1");
    SEC_4 = "SEC-4", "a native app is a public client whatever its secret", "OAuth 2.1 §2.1",
        concat!("https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13", "#section-2.1");
    OPT_1 = "OPT-1", "introspection needs an authorized caller", "RFC 7662 §2.1",
        "https://www.rfc-editor.org/rfc/rfc7662#section-2.1";
    OPT_2 = "OPT-2", "a client revokes only its own tokens", "RFC 7009 §2.1",
        "https://www.rfc-editor.org/rfc/rfc7009#section-2.1";
    OPT_3 = "OPT-3", "client management needs the registration access token", "RFC 7592 §2",
        "https://www.rfc-editor.org/rfc/rfc7592#section-2";
    OPT_4 = "OPT-4", "the device authorization grant", "RFC 8628",
        "https://www.rfc-editor.org/rfc/rfc8628";
    OPT_5 = "OPT-5", "token exchange, and JWT bearer identity assertions (ID-JAG)", "RFC 8693; RFC 7523",
        "https://www.rfc-editor.org/rfc/rfc8693";
    // Checks of the grants beyond the browser (issue 16), numbered within their grant.
    DEV_1 = "DEV-1", "user codes are short, unambiguous and rate-limited against guessing", "RFC 8628 §6.1, §5.1",
        "https://www.rfc-editor.org/rfc/rfc8628#section-6.1";
    DEV_2 = "DEV-2", "a device polls no faster than the interval; slow_down adds 5 seconds", "RFC 8628 §3.5",
        "https://www.rfc-editor.org/rfc/rfc8628#section-3.5";
    DEV_3 = "DEV-3", "a device code is redeemed once, by its client, before it expires", "RFC 8628 §3.4, §3.5",
        "https://www.rfc-editor.org/rfc/rfc8628#section-3.4";
    DEV_4 = "DEV-4", "the verification page shows the user code and protects its form like the consent page", "RFC 8628 §3.3, §5.4",
        "https://www.rfc-editor.org/rfc/rfc8628#section-5.4";
    TX_1 = "TX-1", "only a confidential client a token_exchange rule names may exchange tokens", "RFC 8693 §2.1, §5",
        "https://www.rfc-editor.org/rfc/rfc8693#section-2.1";
    TX_2 = "TX-2", "the subject token is an active access token of this server, for an audience the rule names", "RFC 8693 §2.2.2",
        "https://www.rfc-editor.org/rfc/rfc8693#section-2.2.2";
    TX_3 = "TX-3", "the target and scope of an exchanged token are ones the rule allows", "RFC 8693 §2.2.2",
        "https://www.rfc-editor.org/rfc/rfc8693#section-2.2.2";
    TX_4 = "TX-4", "an actor token comes with its type and is an active token of this server", "RFC 8693 §2.1, §4.1",
        "https://www.rfc-editor.org/rfc/rfc8693#section-4.1";
    JAG_1 = "JAG-1", "the IdP exchanges only its own unexpired ID token issued to the authenticated client", "draft-ietf-oauth-identity-assertion-authz-grant §4.3.3",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-identity-assertion-authz-grant#section-4.3.3";
    JAG_2 = "JAG-2", "the IdP issues ID-JAGs only for the (audience, resource) pairs its policy maps", "MCP Enterprise-Managed Authorization §7.6.1",
        "https://github.com/modelcontextprotocol/ext-auth/blob/main/specification/stable/enterprise-managed-authorization.mdx";
    JAG_3 = "JAG-3", "an ID-JAG is typed oauth-id-jag+jwt and signed by a trusted issuer other than this server", "draft-ietf-oauth-identity-assertion-authz-grant §3.1, §4.4.1, §8.3",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-identity-assertion-authz-grant#section-4.4.1";
    JAG_4 = "JAG-4", "an ID-JAG's aud is this server and its client_id the authenticated client", "draft-ietf-oauth-identity-assertion-authz-grant §4.4.1",
        "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-identity-assertion-authz-grant#section-4.4.1";
    JAG_5 = "JAG-5", "an ID-JAG is unexpired and used once (jti)", "MCP Enterprise-Managed Authorization §7.4.2",
        "https://github.com/modelcontextprotocol/ext-auth/blob/main/specification/stable/enterprise-managed-authorization.mdx";
    JAG_6 = "JAG-6", "an ID-JAG's resource is served here and its scope only narrows", "MCP Enterprise-Managed Authorization §7.6.2, §7.2.1",
        "https://github.com/modelcontextprotocol/ext-auth/blob/main/specification/stable/enterprise-managed-authorization.mdx";
}

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_links_are_absolute() {
        for (i, rule) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|other| other.id != rule.id),
                "{} twice",
                rule.id
            );
            assert!(rule.url.starts_with("https://"), "{}", rule.id);
            assert_eq!(find(rule.id), Some(*rule));
        }
        assert_eq!(find("TK-7").map(|r| r.source), Some("OAuth 2.1 §10.2"));
        assert!(find("XX-1").is_none());
    }
}
