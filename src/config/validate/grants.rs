//! Checks of the grants beyond the browser: the device interval, and the URLs and clients of
//! the token exchange and ID-JAG rules, each refused where a request would otherwise fail
//! later with a less helpful message.

use super::{Index, Key, PathPart, Problems};
use crate::config::Config;
use crate::oauth::grant_type::GrantType;

fn absolute(value: &str) -> Result<url::Url, String> {
    match url::Url::parse(value) {
        Ok(url) if !url.cannot_be_a_base() => Ok(url),
        _ => Err(format!("'{value}' is not an absolute URL")),
    }
}

impl Config {
    pub(super) fn check_grants(&self, problems: &mut Problems, issuer: Option<&str>) {
        if self.device.interval.is_zero() {
            problems.add(
                &[Key("device"), Key("interval")],
                "must be at least 1s (RFC 8628 §3.2: the device waits this long between polls)",
            );
        }
        for (i, rule) in self.token_exchange.iter().enumerate() {
            let at = |key: &'static str| [Key("token_exchange"), Index(i), Key(key)];
            self.check_rule_client(
                problems,
                &at("client"),
                &rule.client,
                GrantType::TokenExchange,
            );
            if let Err(why) = absolute(&rule.subject_audience) {
                problems.add(&at("subject_audience"), why);
            }
        }
        for (i, rule) in self.id_jag.issue.iter().enumerate() {
            let at = |key: &'static str| [Key("id_jag"), Key("issue"), Index(i), Key(key)];
            self.check_rule_client(
                problems,
                &at("client"),
                &rule.client,
                GrantType::TokenExchange,
            );
            for (key, value) in [("audience", &rule.audience), ("resource", &rule.resource)] {
                if let Err(why) = absolute(value) {
                    problems.add(&at(key), why);
                }
            }
            if issuer == Some(rule.audience.as_str()) {
                problems.add(
                    &at("audience"),
                    "is this server's own issuer, which must not accept its own ID-JAGs \
                     (draft-ietf-oauth-identity-assertion-authz-grant §8.3)",
                );
            }
        }
        for (i, trusted) in self.id_jag.trust.iter().enumerate() {
            let at = |key: &'static str| [Key("id_jag"), Key("trust"), Index(i), Key(key)];
            if let Err(why) = absolute(&trusted.issuer) {
                problems.add(&at("issuer"), why);
            }
            if let Some(Err(why)) = trusted.jwks_url.as_deref().map(absolute) {
                problems.add(&at("jwks_url"), why);
            }
            if issuer == Some(trusted.issuer.as_str()) {
                problems.add(
                    &at("issuer"),
                    "is this server's own issuer: an ID-JAG must come from another issuer \
                     (draft-ietf-oauth-identity-assertion-authz-grant §8.3)",
                );
            }
        }
    }

    /// A rule's client, when it is declared here, must have registered the grant (clients
    /// registered otherwise are checked when they exchange).
    fn check_rule_client(
        &self,
        problems: &mut Problems,
        at: &[PathPart],
        client_id: &str,
        grant: GrantType,
    ) {
        let Some(client) = self.clients.iter().find(|c| c.client_id == client_id) else {
            return;
        };
        if !client.grant_types.iter().any(|g| g == grant.as_str()) {
            problems.add(
                at,
                format!(
                    "the declared client '{client_id}' does not have the grant type \
                     '{grant}' in its grant_types"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, DeclaredClient};
    use crate::oauth::exchange::ExchangeRule;
    use crate::oauth::id_jag::{IssueRule, TrustedIssuer};

    #[test]
    fn opt_5_rules_name_clients_with_the_grant_and_other_issuers() {
        let config = Config {
            issuer: Some("http://127.0.0.1:9000".into()),
            clients: vec![DeclaredClient::confidential("mcp-server", "s")],
            token_exchange: vec![ExchangeRule {
                client: "mcp-server".into(),
                subject_audience: "not a url".into(),
                target: "urn:api".into(),
                scopes: vec![],
            }],
            id_jag: crate::config::IdJagConfig {
                issue: vec![IssueRule {
                    client: "elsewhere".into(),
                    audience: "http://127.0.0.1:9000".into(),
                    resource: "http://127.0.0.1:8000/mcp".into(),
                    client_id: None,
                    scopes: vec![],
                }],
                trust: vec![TrustedIssuer {
                    issuer: "http://127.0.0.1:9000".into(),
                    jwks_url: Some("jwks".into()),
                }],
            },
            ..Config::default()
        };
        let problems: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
        let expected = [
            "token_exchange[0].client: the declared client 'mcp-server' does not have",
            "token_exchange[0].subject_audience: 'not a url' is not an absolute URL",
            "id_jag.issue[0].audience: is this server's own issuer",
            "id_jag.trust[0].issuer: is this server's own issuer",
            "id_jag.trust[0].jwks_url: 'jwks' is not an absolute URL",
        ];
        for wanted in expected {
            assert!(
                problems.iter().any(|p| p.starts_with(wanted)),
                "{wanted}: {problems:?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:?}");
    }
}
