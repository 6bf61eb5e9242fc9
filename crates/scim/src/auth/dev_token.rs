//! Development tokens: [`mint_hs256`] signs a JWT (RFC 7519 §7.1) as a JWS
//! with HS256 (RFC 7515 §5.1, RFC 7518 §3.2) from [`DevClaims`].
//!
//! Used by `make token` (the `scim-token` binary), by tests and by the
//! bench. The service itself never mints tokens; it only verifies them
//! ([`super::authenticate`]).

use jwt_simple::prelude::*;
use serde_json::{Map, Value};

use super::MIN_HS256_SECRET_BYTES;

/// Claims of a development token minted by [`mint_hs256`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevClaims {
    /// `iss`, if any.
    pub issuer: Option<String>,
    /// One audience is written as a string, several as an array.
    pub audiences: Vec<String>,
    /// `sub`, if any.
    pub subject: Option<String>,
    /// `client_id`, if any.
    pub client_id: Option<String>,
    /// Written as a space-separated `scope` string.
    pub scopes: Vec<String>,
    /// Tenant claim name and value, e.g. `("zid", "t1")`.
    pub tenant: Option<(String, String)>,
    /// Lifetime: `exp = iat + ttl_secs`.
    pub ttl_secs: u64,
    /// `iat` and `nbf`; `None`: the system clock.
    pub issued_at: Option<u64>,
    /// Header `kid`, if any.
    pub kid: Option<String>,
    /// More string claims (name, value), e.g. `("user_name", "alice")`.
    pub claims: Vec<(String, String)>,
}

/// Mint an HS256 development token (used by `make token` through the host
/// binary, and by tests). Fails when the secret is shorter than
/// [`MIN_HS256_SECRET_BYTES`].
pub fn mint_hs256(secret: &str, claims: &DevClaims) -> Result<String, String> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(format!(
            "HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes"
        ));
    }
    let iat = claims.issued_at.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let mut custom = Map::new();
    if let Some(c) = &claims.client_id {
        custom.insert("client_id".into(), Value::String(c.clone()));
    }
    if !claims.scopes.is_empty() {
        custom.insert("scope".into(), Value::String(claims.scopes.join(" ")));
    }
    if let Some((name, value)) = &claims.tenant {
        custom.insert(name.clone(), Value::String(value.clone()));
    }
    for (name, value) in &claims.claims {
        custom.insert(name.clone(), Value::String(value.clone()));
    }
    let mut jwt = JWTClaims::<Map<String, Value>>::new();
    jwt.custom = custom;
    jwt.issued_at = Some(UnixTimeStamp::from_secs(iat));
    jwt.invalid_before = Some(UnixTimeStamp::from_secs(iat));
    jwt.expires_at = Some(UnixTimeStamp::from_secs(
        iat.saturating_add(claims.ttl_secs),
    ));
    jwt.issuer = claims.issuer.clone();
    jwt.subject = claims.subject.clone();
    jwt.audiences = match claims.audiences.as_slice() {
        [] => None,
        [one] => Some(Audiences::AsString(one.clone())),
        many => Some(Audiences::AsSet(many.iter().cloned().collect())),
    };
    let mut key = HS256Key::from_bytes(secret.as_bytes());
    if let Some(kid) = &claims.kid {
        key = key.with_key_id(kid);
    }
    key.authenticate(jwt)
        .map_err(|e| format!("minting failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{authenticate, authorize, Access, AuthConfig, Principal};
    use crate::testutil::tokens::{bearer, cfg, description, AUD, ISS, NOW, SECRET};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn mint_hs256_round_trips() {
        let dev = DevClaims {
            issuer: Some(ISS.into()),
            audiences: vec![AUD.into(), "other".into()],
            subject: Some("dev".into()),
            client_id: Some("dev-client".into()),
            scopes: vec!["scim.read".into(), "scim.write".into()],
            tenant: Some(("zid".into(), "t1".into())),
            ttl_secs: 3600,
            issued_at: Some(NOW),
            kid: Some("dev".into()),
            claims: vec![("user_name".into(), "alice".into())],
        };
        let t = mint_hs256(SECRET, &dev).unwrap();
        let c = AuthConfig {
            hs256_secret: Some(SECRET.into()),
            jwks: None,
            tenant_claim: Some("zid".into()),
            ..cfg()
        };
        let p = authenticate(&c, Some(&bearer(&t)), &Vec::new(), NOW + 10).unwrap();
        assert_eq!(
            p,
            Principal {
                tenant: "t1".into(),
                client_id: Some("dev-client".into()),
                subject: Some("dev".into()),
                me: None,
                scopes: vec!["scim.read".into(), "scim.write".into()],
            }
        );
        authorize(&c, &p, Access::Write).unwrap();
        // The /Me claim, when one is configured (RFC 7644 §3.11).
        for (claim, want) in [
            ("user_name", Some("alice")),
            ("sub", Some("dev")),
            ("upn", None),
        ] {
            let c = AuthConfig {
                me_claim: Some(claim.into()),
                ..c.clone()
            };
            let p = authenticate(&c, Some(&bearer(&t)), &Vec::new(), NOW + 10).unwrap();
            assert_eq!(p.me.as_deref(), want, "{claim}");
        }
        // Expires after the TTL (plus leeway).
        let e = authenticate(&c, Some(&bearer(&t)), &Vec::new(), NOW + 3600 + 61).unwrap_err();
        assert_eq!(description(&e), "token expired");
        // One audience is a string; the system clock is used without issued_at.
        let t = mint_hs256(
            SECRET,
            &DevClaims {
                audiences: vec![AUD.into()],
                issued_at: None,
                ..dev.clone()
            },
        )
        .unwrap();
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["aud"], AUD);
        assert_eq!(payload["scope"], "scim.read scim.write");
        assert!(payload["iat"].as_u64().unwrap() > NOW);
        assert!(mint_hs256("too-short", &dev).is_err());
    }
}
