//! Authorization: whether a verified [`Principal`] holds the scope an access
//! needs.
//!
//! The scopes come from the token's `scope` claim (and `scp`), read by
//! [`super::authenticate`]; [`authorize`] compares them with the configured
//! read and write scopes and refuses with 403 `insufficient_scope` (RFC 6750
//! §3.1), naming the scope required.
//!
//! Scopes are opaque, case-sensitive strings (RFC 6749 §3.3): a token holds
//! a configured scope only when it carries it exactly, or with the one
//! configured XSUAA application prefix (`<xsappname>.scim.write`,
//! [`AuthConfig::scope_prefix`]). No suffix match: `evil.scim.write` or
//! `.scim.write` never hold `scim.write`.

use super::{AuthConfig, AuthError, Principal};

/// The access a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading (`GET`, `HEAD`, `POST .search`): the read or the write scope.
    Read,
    /// Anything that changes data: the write scope.
    Write,
    /// Reading the audit trail (`/AuditEvents`): the audit scope alone.
    Audit,
}

impl Principal {
    /// Whether the principal holds `scope`: exactly, or as
    /// `<prefix>.<scope>` with the configured XSUAA application name
    /// `prefix` (`afc!t123.scim.read` holds `scim.read` when `prefix` is
    /// `afc!t123`). Nothing else: no other prefix, no suffix match.
    pub fn has_scope(&self, scope: &str, prefix: Option<&str>) -> bool {
        let prefix = prefix
            .map(|p| p.strip_suffix('.').unwrap_or(p))
            .filter(|p| !p.is_empty());
        !scope.is_empty()
            && self.scopes.iter().any(|s| {
                s == scope
                    || prefix.is_some_and(|p| {
                        s.strip_prefix(p)
                            .and_then(|rest| rest.strip_prefix('.'))
                            .is_some_and(|rest| rest == scope)
                    })
            })
    }
}

/// Whether `p` may perform `access`: read needs the read or the write scope
/// (write implies read); write needs the write scope. 403
/// `insufficient_scope` otherwise.
pub fn authorize(cfg: &AuthConfig, p: &Principal, access: Access) -> Result<(), AuthError> {
    let prefix = cfg.scope_prefix.as_deref();
    let ok = match access {
        Access::Read => {
            p.has_scope(&cfg.read_scope, prefix) || p.has_scope(&cfg.write_scope, prefix)
        }
        Access::Write => p.has_scope(&cfg.write_scope, prefix),
        Access::Audit => p.has_scope(&cfg.audit_scope, prefix),
    };
    if ok {
        return Ok(());
    }
    Err(AuthError::insufficient_scope(match access {
        Access::Read => &cfg.read_scope,
        Access::Write => &cfg.write_scope,
        Access::Audit => &cfg.audit_scope,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::tokens::{auth, cfg, payload, sign, with, without};
    use serde_json::{json, Value};

    #[test]
    fn scopes_are_authorized() {
        let c = cfg();
        let p = |scope: Value| {
            let t = sign("ES256", Some("ec256"), &with(payload(), "scope", scope));
            auth(&c, &t).unwrap()
        };
        let none = p(json!(""));
        let e = authorize(&c, &none, Access::Read).unwrap_err();
        assert_eq!(e.status, 403);
        assert_eq!(
            e.www_authenticate,
            "Bearer realm=\"scim\", error=\"insufficient_scope\", \
             error_description=\"the token lacks the required scope\", scope=\"scim.read\""
        );
        assert_eq!(e.to_scim().status, 403);
        let reader = p(json!("openid scim.read"));
        authorize(&c, &reader, Access::Read).unwrap();
        let e = authorize(&c, &reader, Access::Write).unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.www_authenticate.ends_with("scope=\"scim.write\""));
        let writer = p(json!("scim.write"));
        authorize(&c, &writer, Access::Read).expect("write implies read");
        authorize(&c, &writer, Access::Write).unwrap();
        // `scp` (string or array) and a `scope` array are read too.
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(without(payload(), "scope"), "scp", json!(["scim.write"])),
        );
        authorize(&c, &auth(&c, &t).unwrap(), Access::Write).unwrap();
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(without(payload(), "scope"), "scp", json!("a scim.read")),
        );
        authorize(&c, &auth(&c, &t).unwrap(), Access::Read).unwrap();
        authorize(&c, &p(json!(["scim.read"])), Access::Read).unwrap();
        // Near misses do not match.
        for s in [
            "scim.readx",
            "xscim.read",
            "scim",
            "read",
            "scim.read.more",
            "SCIM.READ",
        ] {
            let q = p(json!(s));
            assert!(authorize(&c, &q, Access::Read).is_err(), "{s}");
        }
        // Exact matches only: no suffix match, no prefix unless configured.
        for s in [
            "evil.scim.read",
            ".scim.read",
            "afc!t1.scim.read",
            "scim.read.",
            "a.b.scim.read",
        ] {
            assert!(authorize(&c, &p(json!(s)), Access::Read).is_err(), "{s}");
        }
        // The one configured XSUAA prefix (with or without its dot).
        for prefix in ["afc!t1", "afc!t1."] {
            let x = AuthConfig {
                scope_prefix: Some(prefix.into()),
                ..cfg()
            };
            let q = |s: &str| {
                let t = sign("ES256", Some("ec256"), &with(payload(), "scope", json!(s)));
                auth(&x, &t).unwrap()
            };
            authorize(&x, &q("afc!t1.scim.write"), Access::Write).unwrap();
            authorize(&x, &q("afc!t1.scim.read"), Access::Read).unwrap();
            authorize(&x, &q("scim.read"), Access::Read).unwrap();
            assert!(authorize(&x, &q("afc!t1.scim.read"), Access::Write).is_err());
            for s in [
                "afc!t2.scim.write",
                "evil.scim.write",
                "afc!t1.afc!t1.scim.write",
                "xafc!t1.scim.write",
                "t1.scim.write",
                "afc!t1scim.write",
                "afc!t1..scim.write",
                "afc!t1.",
            ] {
                assert!(
                    authorize(&x, &q(s), Access::Write).is_err(),
                    "{prefix}: {s}"
                );
            }
        }
        // An empty prefix is no prefix.
        let blank = AuthConfig {
            scope_prefix: Some(String::new()),
            ..cfg()
        };
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "scope", json!(".scim.write")),
        );
        assert!(authorize(&blank, &auth(&blank, &t).unwrap(), Access::Write).is_err());
        // An empty configured scope is never granted.
        let empty = AuthConfig {
            read_scope: String::new(),
            write_scope: String::new(),
            ..cfg()
        };
        assert!(authorize(&empty, &p(json!("")), Access::Read).is_err());
    }
}
