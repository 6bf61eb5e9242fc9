//! Authentication settings ([`AuthConfig`]) and their startup check.
//!
//! What a deployment configures for bearer-token verification: the accepted
//! issuer and audiences (RFC 7519 §4.1.1, §4.1.3), the HS256 shared secret
//! (RFC 7518 §3.2: at least as long as the hash), the JWKS sources (RFC
//! 7517 §5, see [`super::jwks`]), the clock-skew leeway for `exp`/`nbf`/`iat`
//! (RFC 7519 §4.1.4–§4.1.6), the scopes that grant read and write access
//! (RFC 6750 §3) and the one XSUAA prefix they may carry, the claim that
//! names the tenant, and how long a JWKS fetch may take.
//! [`AuthConfig::problems`] reports misconfigurations (the component logs
//! them as a warning line).

use super::jwks::{parse_jwks, JwksSources};

/// Default `exp`/`nbf` leeway.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// Default lifetime of a cached JWKS.
pub const DEFAULT_JWKS_TTL_SECS: u64 = 3600;
/// Shortest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the
/// hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// Default time a JWKS fetch may take for each of connecting, the first
/// response byte, the gap between two body bytes, and the whole fetch.
pub const DEFAULT_JWKS_TIMEOUT_MS: u64 = 3000;

/// How tokens are verified and what they must grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// When non-empty, the token's `aud` (string or array) must contain one
    /// of these.
    pub audiences: Vec<String>,
    /// HS256 shared secret (at least [`MIN_HS256_SECRET_BYTES`] bytes). HS256
    /// tokens are refused unless it is set.
    pub hs256_secret: Option<String>,
    /// Inline JWKS JSON (standard or XSUAA `token_keys`).
    pub jwks: Option<String>,
    /// JWKS URL, fetched through a [`JwksFetcher`](super::jwks::JwksFetcher)
    /// and cached.
    pub jwks_url: Option<String>,
    /// Lifetime of the cached JWKS (refreshes are at most every
    /// [`MIN_REFRESH_INTERVAL_SECS`](super::jwks::MIN_REFRESH_INTERVAL_SECS)
    /// anyway).
    pub jwks_ttl_secs: u64,
    /// `exp`/`nbf`/`iat` clock-skew leeway.
    pub leeway_secs: u64,
    /// Scope granting read access, e.g. `scim.read`.
    pub read_scope: String,
    /// Scope granting write (and read) access, e.g. `scim.write`.
    pub write_scope: String,
    /// Scope granting read access to the audit trail (`/AuditEvents`), e.g.
    /// `scim.audit`; the read and write scopes do not grant it.
    pub audit_scope: String,
    /// The one XSUAA application name (`xsappname`, e.g. `afc!t123`) whose
    /// prefixed scopes count too: `afc!t123.scim.write` holds `scim.write`.
    /// `None`: only the scopes exactly as configured.
    pub scope_prefix: Option<String>,
    /// The most a JWKS fetch may take for connecting, for the first response
    /// byte, between two body bytes and in total, in milliseconds (the
    /// component sets them as `wasi:http` request options).
    pub jwks_timeout_ms: u64,
    /// Claim holding the tenant (e.g. `zid` for XSUAA, `tid` for Entra ID);
    /// `None`: every principal is in tenant
    /// [`DEFAULT_TENANT`](super::DEFAULT_TENANT).
    pub tenant_claim: Option<String>,
    /// Claim naming the authenticated user for `/Me` (RFC 7644 §3.11), e.g.
    /// `sub` or `user_name`; `None`: `/Me` is not offered.
    pub me_claim: Option<String>,
    /// Whether discovery endpoints (`/ServiceProviderConfig`, `/Schemas`,
    /// `/ResourceTypes`) need a token too. The caller applies it.
    pub discovery_requires_auth: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: None,
            audiences: Vec::new(),
            hs256_secret: None,
            jwks: None,
            jwks_url: None,
            jwks_ttl_secs: DEFAULT_JWKS_TTL_SECS,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            read_scope: "scim.read".to_string(),
            write_scope: "scim.write".to_string(),
            audit_scope: "scim.audit".to_string(),
            scope_prefix: None,
            jwks_timeout_ms: DEFAULT_JWKS_TIMEOUT_MS,
            tenant_claim: None,
            me_claim: None,
            discovery_requires_auth: true,
        }
    }
}

fn non_empty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.trim().is_empty())
}

impl AuthConfig {
    /// Where this configuration's JWKS keys come from.
    pub fn jwks_sources(&self) -> JwksSources<'_> {
        JwksSources {
            inline: self.jwks.as_deref(),
            url: self.jwks_url.as_deref(),
            ttl_secs: self.jwks_ttl_secs,
            timeout_ms: self.jwks_timeout_ms,
        }
    }

    /// Whether any verification key is configured. Without one, every
    /// request is refused with 401; nothing is ever accepted unverified.
    pub fn has_any_key(&self) -> bool {
        self.hs256_secret
            .as_deref()
            .is_some_and(|s| s.len() >= MIN_HS256_SECRET_BYTES)
            || non_empty(&self.jwks)
            || non_empty(&self.jwks_url)
    }

    /// Configuration problems worth a warning (a too-short secret, an
    /// unparsable inline JWKS, a JWKS URL that is not https, identity
    /// provider keys without an issuer or audience check, empty scope
    /// names, ...). Empty when fine. The texts name settings, never their
    /// values.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(s) = &self.hs256_secret {
            if s.len() < MIN_HS256_SECRET_BYTES {
                p.push(format!(
                    "HS256 secret shorter than {MIN_HS256_SECRET_BYTES} bytes: HS256 disabled"
                ));
            }
        }
        if let Some(j) = self.jwks.as_deref().filter(|j| !j.trim().is_empty()) {
            match parse_jwks(j) {
                Err(e) => p.push(format!("inline JWKS: {e}")),
                Ok(set) if set.keys.is_empty() => {
                    p.push("inline JWKS has no usable key".to_string())
                }
                Ok(set) if set.skipped > 0 => p.push(format!(
                    "inline JWKS: {} unusable key(s) skipped",
                    set.skipped
                )),
                Ok(_) => {}
            }
        }
        if let Some(u) = self.jwks_url.as_deref().filter(|u| !u.trim().is_empty()) {
            if !u.starts_with("https://") {
                p.push("JWKS URL is not https: keys can be forged on the way".to_string());
            }
        }
        // An identity provider signs every application's tokens with the
        // same keys: without these checks a token it issued for another
        // application is accepted (RFC 7519 §4.1.1, §4.1.3). A shared secret
        // is this service's alone, so HS256 alone needs neither.
        if non_empty(&self.jwks) || non_empty(&self.jwks_url) {
            if !non_empty(&self.issuer) {
                p.push(
                    "JWKS keys without token_issuer: tokens of any issuer using these keys \
                     are accepted"
                        .to_string(),
                );
            }
            if self.audiences.is_empty() {
                p.push(
                    "JWKS keys without token_audience: tokens the identity provider issued \
                     for other applications are accepted"
                        .to_string(),
                );
            }
        }
        if let Some(prefix) = &self.scope_prefix {
            if prefix.is_empty() || prefix.contains(char::is_whitespace) {
                p.push("token_scope_prefix is empty or has spaces: it never matches".to_string());
            }
        }

        if !self.has_any_key() {
            p.push("no token verification key configured: every request is refused".to_string());
        }
        if self.read_scope.trim().is_empty() || self.write_scope.trim().is_empty() {
            p.push("empty scope name: that access is never granted".to_string());
        }
        if self.leeway_secs > 300 {
            p.push("token leeway above 5 minutes".to_string());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::tokens::{cfg, SECRET};

    #[test]
    fn config_problems_are_reported() {
        // The fixture set's `oct` key is reported as skipped; nothing else.
        assert_eq!(cfg().problems(), ["inline JWKS: 1 unusable key(s) skipped"]);
        let fine = AuthConfig {
            hs256_secret: Some(SECRET.into()),
            ..Default::default()
        };
        assert!(fine.problems().is_empty(), "{:?}", fine.problems());
        let bad = AuthConfig {
            jwks: Some("{not json".into()),
            jwks_url: Some("http://idp/keys".into()),
            read_scope: String::new(),
            ..Default::default()
        };
        let p = bad.problems();
        assert!(p.iter().any(|m| m.contains("inline JWKS")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("https")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("scope")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("token_issuer")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("token_audience")), "{p:?}");
        // Identity-provider keys without issuer and audience checks are a
        // problem; a shared secret alone is not.
        let idp = AuthConfig {
            jwks_url: Some("https://idp/keys".into()),
            ..Default::default()
        };
        assert_eq!(idp.problems().len(), 2, "{:?}", idp.problems());
        let checked = AuthConfig {
            issuer: Some("https://idp".into()),
            audiences: vec!["scim".into()],
            ..idp.clone()
        };
        assert!(checked.problems().is_empty(), "{:?}", checked.problems());
        let spaced = AuthConfig {
            scope_prefix: Some("a b".into()),
            ..checked
        };
        assert_eq!(spaced.problems().len(), 1, "{:?}", spaced.problems());
        // The texts never carry a configured value.
        let secret = AuthConfig {
            hs256_secret: Some("short-secret-value".into()),
            ..Default::default()
        };
        for m in secret.problems() {
            assert!(!m.contains("short-secret-value"), "{m}");
        }
    }
}
