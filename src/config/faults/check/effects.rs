//! What a fault does, if its keys say one thing its endpoint can do.

use super::{Effect, FaultEndpoint, FaultSpec, Lie, Problems};
use crate::oauth::error::ErrorCode;

impl FaultSpec {
    pub(super) fn check_retry_after(&self, problems: &mut Problems) -> Option<u64> {
        let retry_after = self.retry_after?;
        if retry_after.subsec_nanos() != 0 {
            problems.add(
                "retry_after",
                "must be whole seconds (Retry-After counts seconds, RFC 9110 §10.2.3)",
            );
        }
        Some(retry_after.as_secs())
    }

    pub(super) fn check_response(
        &self,
        endpoint: FaultEndpoint,
        retry_after: Option<u64>,
        problems: &mut Problems,
    ) -> Option<Effect> {
        let error = match self.error.as_deref() {
            None => None,
            Some(name) => {
                let code = ErrorCode::parse(name);
                if code.is_none() {
                    let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
                    problems.add(
                        "error",
                        format!(
                            "'{name}' is not an OAuth error code; use one of: {}",
                            names.join(", ")
                        ),
                    );
                    return None;
                }
                code
            }
        };
        if endpoint == FaultEndpoint::CimdFetch {
            // The document server's answer: a status, without OAuth's vocabulary.
            for (given, key) in [
                (error.is_some(), "error"),
                (self.error_description.is_some(), "error_description"),
                (retry_after.is_some(), "retry_after"),
            ] {
                if given {
                    problems.add(
                        key,
                        "a metadata document fetch has no OAuth error: give status alone, \
                         what the document server answers",
                    );
                }
            }
        }
        let description = self.error_description.clone();
        let Some(status) = self.status else {
            let error = error?;
            if endpoint == FaultEndpoint::Authorize {
                // The RFC 6749 §4.1.2.1 error response: a redirect back to the client.
                if retry_after.is_some() {
                    problems.add(
                        "retry_after",
                        "a redirect back to the client carries no Retry-After; give status \
                         for an error page",
                    );
                }
                if self.delay.is_some() {
                    problems.add(
                        "delay",
                        "the error of a redirect back to the client is decided when the \
                         redirect is made and cannot wait first; declare the delay as a fault \
                         of its own",
                    );
                }
                return Some(Effect::RedirectError { error, description });
            }
            return Some(Effect::Respond {
                status: error.json_status(),
                error,
                description,
                retry_after,
            });
        };
        let lowest = if endpoint == FaultEndpoint::CimdFetch {
            201
        } else {
            400
        };
        if !(lowest..=599).contains(&status) {
            problems.add(
                "status",
                format!("{status} is not an error status; use {lowest} to 599"),
            );
        }
        Some(Effect::Respond {
            status,
            error: error.unwrap_or(match status {
                401 => ErrorCode::InvalidClient,
                429 | 503 => ErrorCode::TemporarilyUnavailable,
                500..=599 => ErrorCode::ServerError,
                _ => ErrorCode::InvalidRequest,
            }),
            description,
            // RFC 6585 §4: a 429 may say when to retry; here it always does.
            retry_after: retry_after.or((status == 429).then_some(1)),
        })
    }

    pub(super) fn check_body(
        &self,
        endpoint: FaultEndpoint,
        retry_after: Option<u64>,
        problems: &mut Problems,
    ) -> Option<Effect> {
        match self.body.as_deref() {
            Some("html") => {
                if self.error.is_some() {
                    problems.add(
                        "error",
                        "an HTML page has no OAuth error; give status alone with body = \"html\"",
                    );
                }
                let status = self.status.unwrap_or(502);
                if !(200..=599).contains(&status) {
                    problems.add(
                        "status",
                        format!("{status} is not a status; use 200 to 599"),
                    );
                }
                Some(Effect::Html {
                    status,
                    retry_after,
                })
            }
            Some("truncated") => {
                if self.status.is_some() || self.error.is_some() {
                    problems.add(
                        "status",
                        "a truncated body keeps the real status; give status for an error",
                    );
                }
                if endpoint == FaultEndpoint::Authorize {
                    problems.add(
                        "body",
                        "authorize answers with redirects and HTML pages: a truncated body \
                         applies to the JSON endpoints and to cimd-fetch",
                    );
                }
                Some(Effect::Truncate)
            }
            other => {
                problems.add(
                    "body",
                    format!(
                        "'{}' is not a body fault; use \"truncated\" or \"html\"",
                        other.unwrap_or_default()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn check_lie(
        &self,
        endpoint: FaultEndpoint,
        problems: &mut Problems,
    ) -> Option<Effect> {
        let name = self.lie.as_deref().unwrap_or_default();
        let Some(lie) = Lie::parse(name) else {
            let names: Vec<&str> = Lie::ALL.iter().map(|l| l.as_str()).collect();
            problems.add(
                "lie",
                format!(
                    "'{name}' is not a lie Tollgate tells; the lies are: {}",
                    names.join(", ")
                ),
            );
            return None;
        };
        if lie.endpoint() != endpoint {
            problems.add(
                "lie",
                format!(
                    "'{name}' is told by the {} endpoint, not by {endpoint}, so this fault \
                     would never fire",
                    lie.endpoint()
                ),
            );
        }
        if lie == Lie::RefreshNotRotated && self.grant_type.as_deref() != Some("refresh_token") {
            problems.add(
                "grant_type",
                "lie 'refresh_not_rotated' is told on refreshes only: set grant_type = \
                 \"refresh_token\"",
            );
        }
        if self.delay.is_some() {
            problems.add(
                "delay",
                "a lie is decided where its response is made and cannot wait first; declare \
                 the delay as a fault of its own",
            );
        }
        Some(Effect::Lie(lie))
    }
}
