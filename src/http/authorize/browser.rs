//! The browser-binding cookie of the consent form. A pending request remembers the digest
//! of this cookie; the decision `POST` must come with the same cookie and with the form's
//! CSRF token, so another site can neither forge a decision nor replay someone's form.
//! `SameSite=Lax` keeps the cookie off cross-site `POST`s while still sending it on the
//! top-level navigation that brings the user to the consent page.

use crate::oauth::issuer::Issuer;
use crate::secret::Secret;
use axum::http::{HeaderMap, HeaderValue, header};

fn cookie_name(issuer: &Issuer) -> &'static str {
    // The __Host- prefix needs `Secure`, which browsers only honour over https.
    if issuer.as_str().starts_with("https:") {
        "__Host-tollgate-browser"
    } else {
        "tollgate-browser"
    }
}

/// The browser's binding value, if it sent a well-formed one.
pub fn read(headers: &HeaderMap, issuer: &Issuer) -> Option<Secret> {
    let name = cookie_name(issuer);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| {
            *key == name
                && value.len() == 43
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|(_, value)| Secret::new(value))
}

/// The browser's binding value, and a `Set-Cookie` header when a new one was made.
pub fn read_or_create(headers: &HeaderMap, issuer: &Issuer) -> (Secret, Option<HeaderValue>) {
    if let Some(existing) = read(headers, issuer) {
        return (existing, None);
    }
    let value = Secret::generate();
    let secure = if issuer.as_str().starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
        cookie_name(issuer),
        value.expose()
    );
    // The value is base64url and the name is a constant, so the header is always valid.
    (value, HeaderValue::from_str(&cookie).ok())
}
