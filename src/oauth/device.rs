//! The device authorization grant (RFC 8628; checklist OPT-4, DEV-1..DEV-4): user codes, and
//! what a poll of the token endpoint gets at each stage of a device authorization.

use super::error::{ErrorCode, OAuthError};
use super::{hints, rules};

/// RFC 8628 §6.1: "restrict the character set to case-insensitive A-Z characters, with no
/// digits ... Further removing vowels to avoid randomly creating words results in the base
/// 20 character set".
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Significant characters of a user code: 20^8 ≈ 2^34.5, shown as `WDJB-MJHT` (§6.1).
pub const USER_CODE_LEN: usize = 8;
/// RFC 8628 §3.5: `slow_down` adds this many seconds to the interval, for good.
pub const SLOW_DOWN_SECS: i64 = 5;

/// A user code made from `random` bytes (one per character), in its stored form: eight
/// characters of the alphabet, no dash. 256 is a multiple of 4 but not of 20, so bytes of
/// 240 and above are skipped rather than folded in, which would favour some letters.
pub fn user_code_from(random: impl IntoIterator<Item = u8>) -> Option<String> {
    let code: String = random
        .into_iter()
        .filter(|byte| *byte < 240)
        .take(USER_CODE_LEN)
        .map(|byte| char::from(USER_CODE_ALPHABET[usize::from(byte % 20)]))
        .collect();
    (code.len() == USER_CODE_LEN).then_some(code)
}

/// A user code as typed: RFC 8628 §6.1 asks the server to compare case-insensitively and to
/// ignore characters outside the alphabet (the dash, spaces). `None` when what is left is not
/// a whole code.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// A stored user code as people read it: `WDJB-MJHT`.
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head}-{tail}"),
        _ => code.to_owned(),
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll gets the tokens.
    Approved,
    /// The user denied.
    Denied,
    /// The tokens were issued.
    Redeemed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Redeemed => "redeemed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Redeemed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A device authorization as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    pub device_code_digest: String,
    /// The stored form (see [`normalize_user_code`]).
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The current polling interval, in seconds (grows with each `slow_down`).
    pub interval: i64,
    pub last_poll_at: Option<i64>,
    pub status: DeviceStatus,
    /// Who approved or denied.
    pub subject: Option<String>,
    pub decided_at: Option<i64>,
    pub flow_id: Option<String>,
}

/// What a poll of the token endpoint gets, once the device code is known to belong to the
/// polling client and to be usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// The user approved: issue the tokens.
    Issue,
    /// The user has not decided; `too_fast` when the poll came before the interval was up.
    Waiting { too_fast: bool },
}

impl DeviceGrant {
    /// Checks a poll by `client_id` at `now` (RFC 8628 §3.4, §3.5).
    pub fn check_poll(&self, client_id: &str, now: i64) -> Result<Poll, OAuthError> {
        if self.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the device code was issued to another client (RFC 8628 §3.4)",
            )
            .rule(&rules::DEV_3)
            .compared(self.client_id.as_str(), client_id));
        }
        if self.status == DeviceStatus::Redeemed {
            return Err(OAuthError::invalid_grant(
                "the device code was already exchanged for tokens; a device code is used once \
                 (RFC 8628 §3.5)",
            )
            .rule(&rules::DEV_3));
        }
        if self.expires_at <= now {
            return Err(OAuthError::new(
                ErrorCode::ExpiredToken,
                "the device code has expired; start again with a new device authorization \
                 request (RFC 8628 §3.5)",
            )
            .rule(&rules::DEV_3)
            .hint(Some(format!(
                "it expired {} ago, {} after it was issued",
                hints::span(now - self.expires_at),
                hints::span(self.expires_at - self.created_at)
            ))));
        }
        match self.status {
            DeviceStatus::Denied => Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the authorization request (RFC 8628 §3.5); stop polling",
            )
            .rule(&rules::OPT_4)),
            DeviceStatus::Approved => Ok(Poll::Issue),
            DeviceStatus::Pending | DeviceStatus::Redeemed => Ok(Poll::Waiting {
                too_fast: self
                    .last_poll_at
                    .is_some_and(|last| now - last < self.interval),
            }),
        }
    }

    /// The error a poll gets while the user has not decided.
    pub fn waiting_error(&self, too_fast: bool, now: i64) -> OAuthError {
        if too_fast {
            let since = self.last_poll_at.map_or(0, |last| now - last);
            return OAuthError::new(
                ErrorCode::SlowDown,
                format!(
                    "polling too fast: {since} s since the last poll, but the interval is {} s; \
                     it is now {} s for this and every later poll (RFC 8628 §3.5)",
                    self.interval,
                    self.interval + SLOW_DOWN_SECS
                ),
            )
            .rule(&rules::DEV_2)
            .compared(
                format!("at least {} s between polls", self.interval),
                format!("{since} s"),
            );
        }
        OAuthError::new(
            ErrorCode::AuthorizationPending,
            format!(
                "the user has not approved yet: they enter the code {} on the verification \
                 page; poll again in {} s (RFC 8628 §3.5)",
                display_user_code(&self.user_code),
                self.interval
            ),
        )
        .rule(&rules::OPT_4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> DeviceGrant {
        DeviceGrant {
            device_code_digest: "d".into(),
            user_code: "WDJBMJHT".into(),
            client_id: "cli".into(),
            scope: "mcp:tools".into(),
            resources: vec!["https://mcp.example/mcp".into()],
            created_at: 100,
            expires_at: 700,
            interval: 5,
            last_poll_at: None,
            status: DeviceStatus::Pending,
            subject: None,
            decided_at: None,
            flow_id: None,
        }
    }

    #[test]
    fn dev_1_user_codes_are_base_20_without_vowels_and_typed_loosely() {
        let code = user_code_from(0..=255u8).unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(user_code_from([250, 1, 2]), None, "not enough usable bytes");
        assert_eq!(display_user_code("WDJBMJHT"), "WDJB-MJHT");
        for typed in ["WDJB-MJHT", "wdjb-mjht", " wdjb mjht ", "WDJBMJHT"] {
            assert_eq!(normalize_user_code(typed).as_deref(), Some("WDJBMJHT"));
        }
        for bad in ["WDJB-MJH", "WDJB-MJHA", "WDJB-MJHTX", ""] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn dev_2_a_poll_within_the_interval_is_too_fast() {
        let mut polled = grant();
        assert_eq!(
            polled.check_poll("cli", 101),
            Ok(Poll::Waiting { too_fast: false }),
            "the first poll is never too fast"
        );
        polled.last_poll_at = Some(101);
        assert_eq!(
            polled.check_poll("cli", 104),
            Ok(Poll::Waiting { too_fast: true })
        );
        assert_eq!(
            polled.check_poll("cli", 106),
            Ok(Poll::Waiting { too_fast: false })
        );
        let error = polled.waiting_error(true, 104);
        assert_eq!(error.code, ErrorCode::SlowDown);
        assert!(error.description.contains("now 10 s"), "{error}");
        assert_eq!(
            polled.waiting_error(false, 106).code,
            ErrorCode::AuthorizationPending
        );
    }

    #[test]
    fn dev_3_a_device_code_is_for_its_client_once_and_in_time() {
        assert_eq!(
            grant().check_poll("other", 101).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            grant().check_poll("cli", 700).unwrap_err().code,
            ErrorCode::ExpiredToken
        );
        let redeemed = DeviceGrant {
            status: DeviceStatus::Redeemed,
            ..grant()
        };
        assert_eq!(
            redeemed.check_poll("cli", 101).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        let denied = DeviceGrant {
            status: DeviceStatus::Denied,
            ..grant()
        };
        assert_eq!(
            denied.check_poll("cli", 101).unwrap_err().code,
            ErrorCode::AccessDenied
        );
        let approved = DeviceGrant {
            status: DeviceStatus::Approved,
            last_poll_at: Some(100),
            ..grant()
        };
        assert_eq!(approved.check_poll("cli", 101), Ok(Poll::Issue));
    }
}
