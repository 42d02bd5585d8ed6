//! Request parameters as OAuth reads them (OAuth 2.1 §3.1, §3.2): an empty value counts as
//! omitted, unknown parameters are ignored, and a parameter sent twice is an error, except
//! `resource`, which RFC 8707 §2 allows to repeat.

use super::error::OAuthError;

#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` data (a query string or a form body).
    pub fn parse(encoded: &[u8]) -> Self {
        let pairs = url::form_urlencoded::parse(encoded)
            .into_owned()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        Params { pairs }
    }

    /// The single value of `name`, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next().map(|v| printable(name, v)).transpose()?;
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter '{name}' was sent more than once; OAuth 2.1 §3.1 and §3.2 forbid \
                 repeated parameters"
            ))
            .rule(&super::rules::AZ_14));
        }
        Ok(first)
    }

    /// The value of a parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?.ok_or_else(|| {
            OAuthError::invalid_request(format!("the required parameter '{name}' is missing"))
        })
    }

    /// Every value of a parameter that may repeat.
    pub fn all(&self, name: &str) -> Result<Vec<&str>, OAuthError> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| printable(name, value))
            .collect()
    }
}

impl Params {
    /// The parameters as a JSON object for the event log: each value as sent (cut at 500
    /// characters), a repeated parameter as an array.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for (name, value) in &self.pairs {
            let value = serde_json::Value::from(value.chars().take(500).collect::<String>());
            match object.get_mut(name) {
                Some(serde_json::Value::Array(values)) => values.push(value),
                Some(first) => *first = serde_json::Value::Array(vec![first.take(), value]),
                None => {
                    object.insert(name.clone(), value);
                }
            }
        }
        serde_json::Value::Object(object)
    }
}

/// OAuth parameter values are printable characters (RFC 6749 Appendix A: VSCHAR, NQCHAR,
/// URI references). A control character is refused here, before it can reach a page, a log
/// line or a database that rejects it (PostgreSQL refuses NUL in text).
fn printable<'a>(name: &str, value: &'a str) -> Result<&'a str, OAuthError> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(value),
        Some(c) => Err(OAuthError::invalid_request(format!(
            "parameter '{name}' contains the control character U+{:04X}; OAuth parameter \
             values are printable characters (RFC 6749 Appendix A)",
            u32::from(c)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_omitted() {
        let params = Params::parse(b"scope=&state=a");
        assert_eq!(params.get("scope").unwrap(), None);
        assert_eq!(params.get("state").unwrap(), Some("a"));
    }

    #[test]
    fn repeated_parameters_are_invalid_request() {
        let params = Params::parse(b"state=a&state=b");
        assert!(params.get("state").is_err());
    }

    #[test]
    fn values_are_percent_decoded() {
        let params = Params::parse(b"state=a%20b%2Bc%2F%3D&x=a+b");
        assert_eq!(params.get("state").unwrap(), Some("a b+c/="));
        assert_eq!(params.get("x").unwrap(), Some("a b"));
    }

    #[test]
    fn as_json_repeated_parameters_are_arrays() {
        let params = Params::parse(b"resource=a&state=s&resource=b&resource=c");
        assert_eq!(
            params.to_json(),
            serde_json::json!({"resource": ["a", "b", "c"], "state": "s"})
        );
    }

    #[test]
    fn resource_may_repeat() {
        let params = Params::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb");
        assert_eq!(params.all("resource").unwrap(), ["https://a", "https://b"]);
    }

    #[test]
    fn control_characters_are_invalid_request() {
        let params = Params::parse(b"state=a%00b&resource=https%3A%2F%2Fa%0A&scope=ok");
        let error = params.get("state").unwrap_err();
        assert!(
            error
                .description
                .starts_with("parameter 'state' contains the control character U+0000"),
            "{}",
            error.description
        );
        assert!(params.all("resource").is_err());
        assert_eq!(params.get("scope").unwrap(), Some("ok"));
    }
}
