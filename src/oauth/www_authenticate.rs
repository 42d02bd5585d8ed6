//! Reading `WWW-Authenticate` challenges (RFC 9110 §11.6.1), as an MCP client reads a
//! resource server's 401 and 403: the `Bearer` challenge (RFC 6750 §3) and its parameters,
//! such as `resource_metadata` (RFC 9728 §5.1), `scope` and `error`.
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! Several challenges may share one header line, separated by commas like their
//! parameters, and commas may sit inside quoted strings; so the value is split at the
//! commas outside quotes, and an item that starts with `token =` continues the current
//! challenge while any other item starts a new one.

/// One challenge: its scheme and its parameters, names in lower case (RFC 9110 §11.2:
/// parameter names are case-insensitive), values unquoted, in order and with duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
    pub token68: Option<String>,
}

impl Challenge {
    /// Whether the scheme is `name` (schemes are case-insensitive, RFC 9110 §11.1).
    pub fn is(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// Every value of the parameter `name`.
    pub fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_ascii_lowercase();
        self.params
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of the parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }
}

/// Parses the values of every `WWW-Authenticate` field of a response, in order.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<Challenge>, String> {
    let mut challenges: Vec<Challenge> = Vec::new();
    for value in values {
        for item in split_outside_quotes(value)? {
            let item = item.trim_matches([' ', '\t']);
            if item.is_empty() {
                continue;
            }
            let (first, rest) = split_token(item);
            if first.is_empty() {
                return Err(format!("'{item}' does not start with a token"));
            }
            let after = rest.trim_start_matches([' ', '\t']);
            if after.starts_with('=') && !is_token68(item) {
                let current = challenges
                    .last_mut()
                    .ok_or_else(|| format!("the parameter '{item}' comes before any scheme"))?;
                current.params.push(param(item)?);
                continue;
            }
            if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
                return Err(format!("'{item}' is neither a scheme nor a parameter"));
            }
            let mut challenge = Challenge {
                scheme: first.to_owned(),
                params: Vec::new(),
                token68: None,
            };
            if !after.is_empty() {
                if is_token68(after) {
                    challenge.token68 = Some(after.to_owned());
                } else {
                    challenge.params.push(param(after)?);
                }
            }
            challenges.push(challenge);
        }
    }
    Ok(challenges)
}

/// The first `Bearer` challenge among `challenges`.
pub fn bearer(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges.iter().find(|c| c.is("Bearer"))
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// RFC 9110 §11.2 `token68`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
}

/// The leading token of `text` and what follows it.
fn split_token(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !is_tchar(c)).unwrap_or(text.len());
    text.split_at(end)
}

/// `name BWS "=" BWS ( token / quoted-string )`.
fn param(text: &str) -> Result<(String, String), String> {
    let (name, rest) = split_token(text);
    let rest = rest.trim_start_matches([' ', '\t']);
    let value = rest
        .strip_prefix('=')
        .ok_or_else(|| format!("'{text}' is not name=value"))?
        .trim_start_matches([' ', '\t']);
    let value = if let Some(quoted) = value.strip_prefix('"') {
        unquote(quoted).ok_or_else(|| format!("the quoted value in '{text}' is not closed"))?
    } else if !value.is_empty() && value.chars().all(is_tchar) {
        value.to_owned()
    } else {
        return Err(format!(
            "the value in '{text}' is neither a token nor quoted"
        ));
    };
    Ok((name.to_ascii_lowercase(), value))
}

/// The content of a quoted string whose opening quote is already consumed: `\x` stands
/// for `x` (RFC 9110 §5.6.4); nothing but whitespace may follow the closing quote.
fn unquote(text: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '"' => {
                return chars
                    .as_str()
                    .trim_matches([' ', '\t'])
                    .is_empty()
                    .then_some(value);
            }
            c => value.push(c),
        }
    }
    None
}

/// Splits at the commas that are not inside a quoted string.
fn split_outside_quotes(value: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!("a quoted string in '{value}' is not closed"));
    }
    items.push(&value[start..]);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Vec<Challenge> {
        parse([value]).unwrap()
    }

    #[test]
    fn rfc_9728_section_5_1_example() {
        let challenges = one(
            r#"Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource""#,
        );
        let bearer = bearer(&challenges).unwrap();
        assert_eq!(
            bearer.param("resource_metadata"),
            Some("https://resource.example.com/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn rfc_6750_section_3_insufficient_scope_with_commas_and_escapes_in_quotes() {
        let challenges = one(
            r#"Bearer realm="a, \"b\"", error="insufficient_scope", scope="files:read files:write", Error_Description = "x, y""#,
        );
        assert_eq!(challenges.len(), 1);
        let bearer = &challenges[0];
        assert_eq!(bearer.param("realm"), Some(r#"a, "b""#));
        assert_eq!(bearer.param("error"), Some("insufficient_scope"));
        assert_eq!(bearer.param("scope"), Some("files:read files:write"));
        assert_eq!(bearer.param("error_description"), Some("x, y"));
    }

    #[test]
    fn rfc_9110_section_11_6_1_several_challenges_in_one_field_and_in_several() {
        let challenges = parse([
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
            "Negotiate abc==, bearer scope=mcp",
        ])
        .unwrap();
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Newauth", "Basic", "Negotiate", "bearer"]);
        assert_eq!(challenges[0].params.len(), 3);
        assert_eq!(challenges[0].param("title"), Some(r#"Login to "apps""#));
        assert_eq!(challenges[2].token68.as_deref(), Some("abc=="));
        // The scheme is case-insensitive (RFC 9110 §11.1).
        assert_eq!(bearer(&challenges).unwrap().param("scope"), Some("mcp"));
    }

    #[test]
    fn a_bare_scheme_and_repeated_parameters_are_kept() {
        let challenges = one(r#"Bearer, Bearer scope="a", scope="b""#);
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0].params.is_empty());
        let scopes: Vec<&str> = challenges[1].all("SCOPE").collect();
        assert_eq!(scopes, ["a", "b"]);
    }

    #[test]
    fn malformed_values_are_errors() {
        assert!(parse([r#"Bearer scope="open"#]).is_err());
        assert!(parse([r#"scope="a""#]).is_err());
        assert!(parse([r#"Bearer scope="a" junk"#]).is_err());
        assert!(parse(["Bearer scope=a b"]).is_err());
        assert!(parse(["\"Bearer\""]).is_err());
    }
}
