//! Bearer-token authentication (RFC 6750) and scope authorization.
//!
//! Every SCIM request carries `Authorization: Bearer <JWT>` (RFC 6750 §2.1).
//! [`authenticate`] verifies the token against the configured keys: a shared
//! HS256 secret (development, `make token`) and/or asymmetric keys from a
//! JWKS (inline or fetched, see [`jwks`]): RS256/384/512, PS256/384/512,
//! ES256, ES384. It yields the calling [`Principal`]; then [`authorize`]
//! checks the scope for the [`Access`] wanted. A refusal is an [`AuthError`]
//! carrying its `WWW-Authenticate` challenge (RFC 6750 §3).
//!
//! Without any configured key every request is refused, never accepted.
//!
//! Only the `Authorization` header is read. RFC 6750 §2.3 (`access_token` in
//! the query string) is not supported: tokens in URLs end up in logs. The
//! caller must not read a token from the query (and may refuse a request that
//! carries `access_token` in it); likewise form-encoded body tokens (§2.2)
//! are not supported.
//!
//! Error responses never echo the token or its claims: the
//! `error_description` is one of a fixed set of phrases.
//!
//! One job per file:
//! - `config`: [`AuthConfig`], the settings, and their startup check;
//! - `token`: [`authenticate`], bearer-token (JWT/JWS) verification;
//! - `request`: [`precheck`], [`presented`]: where a request's credentials come from, checked before its body is
//!   read;
//! - `scopes`: [`authorize`], scope checks (exact, or with the one
//!   configured XSUAA prefix);
//! - `error`: [`AuthError`], refusals and their challenges;
//! - [`jwks`]: where asymmetric verification keys come from (RFC 7517);
//! - `dev_token`: [`mint_hs256`], development tokens (never used to serve).

mod config;
mod dev_token;
mod error;
pub mod jwks;
mod request;
mod scopes;
mod token;

pub use config::{
    AuthConfig, DEFAULT_JWKS_TIMEOUT_MS, DEFAULT_JWKS_TTL_SECS, DEFAULT_LEEWAY_SECS,
    MIN_HS256_SECRET_BYTES,
};
pub use dev_token::{mint_hs256, DevClaims};
pub use error::{AuthError, REALM};
pub(crate) use request::required_for;
pub use request::{precheck, presented, Refused};
pub use scopes::{authorize, Access};
pub use token::{authenticate, ASYMMETRIC_ALGS, MAX_TENANT_BYTES, MAX_TOKEN_BYTES};

/// Tenant of every principal when no tenant claim is configured.
pub const DEFAULT_TENANT: &str = "default";

/// Who is calling, from a verified token: what [`authenticate`] yields and
/// [`authorize`] checks (with [`Principal::has_scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// From the configured tenant claim, else [`DEFAULT_TENANT`].
    pub tenant: String,
    /// `client_id`, else `azp`, else `cid`.
    pub client_id: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
    /// The string value of the configured `/Me` claim
    /// ([`AuthConfig::me_claim`]), if the token has one.
    pub me: Option<String>,
    /// From `scope` (space-separated string or array) and `scp`, as in the
    /// token (XSUAA prefixes included).
    pub scopes: Vec<String>,
}
