//! Authorization: whether a verified [`Principal`] holds the scope an access
//! needs.
//!
//! The scopes come from the token's `scope` claim (and `scp`), read by
//! [`super::authenticate`]; [`authorize`] compares them with the configured
//! read and write scopes and refuses with 403 `insufficient_scope` (RFC 6750
//! §3.1), naming the scope required. An XSUAA `<xsappname>.` prefix is
//! accepted in front of a configured scope.

use super::{AuthConfig, AuthError, Principal};

/// The access a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading (`GET`, `HEAD`, `POST .search`): the read or the write scope.
    Read,
    /// Anything that changes data: the write scope.
    Write,
}

impl Principal {
    /// Whether the principal holds `scope`: exactly, or with an XSUAA
    /// `<xsappname>.` prefix (`afc!t123.scim.read` holds `scim.read`).
    pub fn has_scope(&self, scope: &str) -> bool {
        !scope.is_empty()
            && self.scopes.iter().any(|s| {
                s == scope
                    || (s.len() > scope.len()
                        && s.ends_with(scope)
                        && s.as_bytes()[s.len() - scope.len() - 1] == b'.')
            })
    }
}

/// Whether `p` may perform `access`: read needs the read or the write scope
/// (write implies read); write needs the write scope. 403
/// `insufficient_scope` otherwise.
pub fn authorize(cfg: &AuthConfig, p: &Principal, access: Access) -> Result<(), AuthError> {
    let ok = match access {
        Access::Read => p.has_scope(&cfg.read_scope) || p.has_scope(&cfg.write_scope),
        Access::Write => p.has_scope(&cfg.write_scope),
    };
    if ok {
        return Ok(());
    }
    Err(AuthError::insufficient_scope(match access {
        Access::Read => &cfg.read_scope,
        Access::Write => &cfg.write_scope,
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
        // An empty configured scope is never granted.
        let empty = AuthConfig {
            read_scope: String::new(),
            write_scope: String::new(),
            ..cfg()
        };
        assert!(authorize(&empty, &p(json!("")), Access::Read).is_err());
    }
}
