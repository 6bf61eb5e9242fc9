//! Refusals ([`AuthError`]) and their `WWW-Authenticate` challenges.
//!
//! RFC 6750 §3: a refused request carries a `Bearer` challenge with the
//! [`REALM`]; §3.1 error codes `invalid_request` (400, or 401 for a token in
//! the query string), `invalid_token` (401) and `insufficient_scope` (403,
//! naming the scope required), or no error code when no credentials were
//! sent. A 503 (keys unavailable) carries `Retry-After` (RFC 9110 §10.2.3)
//! instead of a challenge. The `error_description` is always one of a
//! fixed set of phrases, never token content, and every parameter is kept a
//! valid quoted-string.

use crate::http::Response;
use crate::ScimError;

/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "scim";

/// A refused request: the HTTP status, the `WWW-Authenticate` value and a
/// human-readable detail (never token content).
///
/// `status` is 400 (a malformed request: two `Authorization` headers), 401
/// (no or bad token) or 403 (insufficient scope); or 503 when the key set
/// cannot be obtained at all (JWKS URL unreachable or being fetched, and
/// nothing cached), with an empty `www_authenticate` and a `retry_after`.
/// [`AuthError::response`] builds the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The HTTP status: 400, 401, 403 or 503.
    pub status: u16,
    /// The `WWW-Authenticate` header value; empty: send no such header.
    pub www_authenticate: String,
    /// A human-readable explanation for the SCIM error's `detail` (never
    /// token content).
    pub detail: String,
    /// Seconds for a `Retry-After` header (503 only).
    pub retry_after: Option<u64>,
}

impl AuthError {
    /// 401 without an error code (RFC 6750 §3.1: no credentials, or an
    /// unsupported scheme).
    pub(super) fn no_credentials(detail: &str) -> Self {
        AuthError {
            status: 401,
            www_authenticate: format!("Bearer realm=\"{REALM}\""),
            detail: detail.to_string(),
            retry_after: None,
        }
    }

    /// `invalid_request` (RFC 6750 §3.1) with `status` (400, or 401 where
    /// this service has always answered 401). `description` must be a fixed
    /// phrase.
    pub(super) fn invalid_request(status: u16, description: &str, detail: &str) -> Self {
        let d = sanitize(description);
        AuthError {
            status,
            www_authenticate: format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_request\", error_description=\"{d}\""
            ),
            detail: detail.to_string(),
            retry_after: None,
        }
    }

    /// 401 `invalid_token`. `description` must be a fixed phrase.
    pub(super) fn invalid_token(description: &str) -> Self {
        let d = sanitize(description);
        AuthError {
            status: 401,
            www_authenticate: format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{d}\""
            ),
            detail: format!("invalid bearer token: {d}"),
            retry_after: None,
        }
    }

    /// 403 `insufficient_scope`, naming the scope required.
    pub(super) fn insufficient_scope(scope: &str) -> Self {
        let s = sanitize(scope);
        AuthError {
            status: 403,
            www_authenticate: format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", \
                 error_description=\"the token lacks the required scope\", scope=\"{s}\""
            ),
            detail: format!("insufficient scope: this request requires scope {s}"),
            retry_after: None,
        }
    }

    /// 503: the key set could not be obtained; worth another try after
    /// `retry_after` seconds. The cause (from
    /// [`KeySource::keys`](super::jwks::KeySource::keys)) is for the
    /// log, not the response.
    pub(super) fn unavailable(retry_after: u64) -> Self {
        AuthError {
            status: 503,
            www_authenticate: String::new(),
            detail: "token verification keys are unavailable; retry later".to_string(),
            retry_after: Some(retry_after.max(1)),
        }
    }

    /// The SCIM error response for this refusal (no `scimType`).
    pub fn to_scim(&self) -> ScimError {
        ScimError::new(self.status, None, self.detail.clone())
    }

    /// The HTTP answer: the SCIM error, the `WWW-Authenticate` challenge
    /// when there is one (RFC 6750 §3), `Retry-After` when there is one.
    pub fn response(&self) -> Response {
        let mut r = Response::error(&self.to_scim());
        if !self.www_authenticate.is_empty() {
            r = r.with_header("www-authenticate", self.www_authenticate.clone());
        }
        if let Some(secs) = self.retry_after {
            r = r.with_header("retry-after", secs.to_string());
        }
        r
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for AuthError {}

/// Keep a header parameter a valid quoted-string of printable ASCII.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '?',
        })
        .collect()
}
