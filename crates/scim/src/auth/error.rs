//! Refusals ([`AuthError`]) and their `WWW-Authenticate` challenges.
//!
//! RFC 6750 §3: a refused request carries a `Bearer` challenge with the
//! [`REALM`]; §3.1 error codes `invalid_token` (401) and
//! `insufficient_scope` (403, naming the scope required), or no error code
//! when no credentials were sent. The `error_description` is always one of a
//! fixed set of phrases, never token content, and every parameter is kept a
//! valid quoted-string.

use crate::ScimError;

/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "scim";

/// A refused request: the HTTP status, the `WWW-Authenticate` value and a
/// human-readable detail (never token content).
///
/// `status` is 401 (no or bad token) or 403 (insufficient scope); or 503 when
/// the key set cannot be obtained at all (JWKS URL unreachable and nothing
/// cached), with an empty `www_authenticate`: set the header only when it is
/// non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The HTTP status: 401, 403 or 503.
    pub status: u16,
    /// The `WWW-Authenticate` header value; empty: send no such header.
    pub www_authenticate: String,
    /// A human-readable explanation for the SCIM error's `detail` (never
    /// token content).
    pub detail: String,
}

impl AuthError {
    /// 401 without an error code (RFC 6750 §3.1: no credentials, or an
    /// unsupported scheme).
    pub(super) fn no_credentials(detail: &str) -> Self {
        AuthError {
            status: 401,
            www_authenticate: format!("Bearer realm=\"{REALM}\""),
            detail: detail.to_string(),
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
        }
    }

    /// 503: the key set could not be obtained. The cause (from
    /// [`KeySource::keys`](super::jwks::KeySource::keys)) is for the
    /// caller's log, not the response.
    pub(super) fn unavailable() -> Self {
        AuthError {
            status: 503,
            www_authenticate: String::new(),
            detail: "token verification keys are unavailable; retry later".to_string(),
        }
    }

    /// The SCIM error response for this refusal (no `scimType`).
    pub fn to_scim(&self) -> ScimError {
        ScimError::new(self.status, None, self.detail.clone())
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
