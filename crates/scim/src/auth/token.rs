//! Bearer-token verification: [`authenticate`] turns an `Authorization`
//! header into a [`Principal`].
//!
//! RFC 6750 §2.1: only `Authorization: Bearer <token>` is read, the token in
//! the b64token charset. The token is a JWT (RFC 7519) in JWS compact form
//! (RFC 7515 §7.1), validated as RFC 7519 §7.2 and RFC 7515 §5.2 describe:
//! the header `alg` must be supported (`none` and anything else is
//! refused); HS256 only with the configured secret, and HMAC is never
//! computed with a public key (HS/RS confusion); an asymmetric key is
//! selected by `kid` (RFC 7515 §4.1.4) from the [`KeySource`] and must fit
//! the `alg`; then the signature; `exp` (required), `nbf` and `iat` with
//! [`AuthConfig::leeway_secs`] (RFC 7519 §4.1.4–§4.1.6); `iss` when
//! configured (§4.1.1); `aud`, string or array, when audiences are
//! configured (§4.1.3); the tenant claim when configured.

use std::collections::HashSet;

use jwt_simple::prelude::*;
use jwt_simple::JWTError;
use serde_json::{Map, Value};

use super::jwks::{EcCurve, Jwk, KeyMaterial, KeySource};
use super::{AuthConfig, AuthError, Principal, DEFAULT_TENANT, MIN_HS256_SECRET_BYTES};

/// Longest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest accepted tenant value, in bytes.
pub const MAX_TENANT_BYTES: usize = 128;

/// Asymmetric algorithms accepted (with a JWKS key that fits).
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

/// The token of an `Authorization: Bearer <token>` header value.
pub(super) fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let h = authorization.map(str::trim).unwrap_or("");
    if h.is_empty() {
        return Err(AuthError::no_credentials(
            "authentication required: send Authorization: Bearer <token>",
        ));
    }
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::no_credentials(
            "unsupported authentication scheme: send Authorization: Bearer <token>",
        ));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::invalid_token("empty bearer token"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::invalid_token("token too long"));
    }
    // RFC 6750 b64token charset; a JWT is three base64url parts.
    let b64token = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    if !b64token || token.split('.').count() != 3 {
        return Err(AuthError::invalid_token("malformed token"));
    }
    Ok(token)
}

type TokenClaims = JWTClaims<Map<String, Value>>;

fn options(cfg: &AuthConfig, now_unix: u64) -> VerificationOptions {
    VerificationOptions {
        artificial_time: Some(UnixTimeStamp::from_secs(now_unix)),
        time_tolerance: Some(Duration::from_secs(cfg.leeway_secs)),
        allowed_issuers: cfg.issuer.as_ref().map(|i| HashSet::from([i.clone()])),
        allowed_audiences: (!cfg.audiences.is_empty())
            .then(|| cfg.audiences.iter().cloned().collect()),
        max_token_length: Some(MAX_TOKEN_BYTES),
        ..Default::default()
    }
}

/// A fixed description for a verification failure.
fn describe(e: &jwt_simple::Error) -> &'static str {
    match e.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => "token expired",
        Some(JWTError::TokenNotValidYet) => "token not yet valid",
        Some(JWTError::ClockDrift) => "token issued in the future",
        Some(JWTError::RequiredIssuerMismatch | JWTError::RequiredIssuerMissing) => {
            "issuer not accepted"
        }
        Some(JWTError::RequiredAudienceMismatch | JWTError::RequiredAudienceMissing) => {
            "audience not accepted"
        }
        Some(JWTError::InvalidSignature | JWTError::InvalidAuthenticationTag) => {
            "signature verification failed"
        }
        Some(JWTError::UnknownCriticalExtension) => "unsupported critical header",
        Some(JWTError::NotJWT) => "not a JWT",
        Some(JWTError::TokenTooLong) => "token too long",
        _ => "malformed token",
    }
}

fn verify_with(
    jwk: &Jwk,
    alg: &str,
    token: &str,
    o: VerificationOptions,
) -> Result<TokenClaims, jwt_simple::Error> {
    let bad_key = || jwt_simple::Error::from(JWTError::InvalidPublicKey);
    match (&jwk.material, alg) {
        (KeyMaterial::Rsa { n, e }, "RS256") => {
            RS256PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (KeyMaterial::Rsa { n, e }, "RS384") => {
            RS384PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (KeyMaterial::Rsa { n, e }, "RS512") => {
            RS512PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (KeyMaterial::Rsa { n, e }, "PS256") => {
            PS256PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (KeyMaterial::Rsa { n, e }, "PS384") => {
            PS384PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (KeyMaterial::Rsa { n, e }, "PS512") => {
            PS512PublicKey::from_components(n, e)?.verify_token(token, Some(o))
        }
        (
            KeyMaterial::Ec {
                curve: EcCurve::P256,
                point,
            },
            "ES256",
        ) => ES256PublicKey::from_bytes(point)?.verify_token(token, Some(o)),
        (
            KeyMaterial::Ec {
                curve: EcCurve::P384,
                point,
            },
            "ES384",
        ) => ES384PublicKey::from_bytes(point)?.verify_token(token, Some(o)),
        _ => Err(bad_key()),
    }
}

/// Validate `Authorization: Bearer <jwt>` (RFC 6750 §2.1). `authorization`
/// is the raw header value, if any; `keys` supplies asymmetric keys (it is
/// not consulted for HS256 tokens); `now_unix` is the current time.
pub fn authenticate(
    cfg: &AuthConfig,
    authorization: Option<&str>,
    keys: &dyn KeySource,
    now_unix: u64,
) -> Result<Principal, AuthError> {
    let token = bearer_token(authorization)?;
    if !cfg.has_any_key() {
        return Err(AuthError::invalid_token(
            "no token verification key is configured",
        ));
    }
    let meta =
        Token::decode_metadata(token).map_err(|_| AuthError::invalid_token("malformed token"))?;
    let alg = meta.algorithm();
    let opts = options(cfg, now_unix);
    let claims: TokenClaims = if alg == "HS256" {
        let secret = cfg
            .hs256_secret
            .as_deref()
            .filter(|s| s.len() >= MIN_HS256_SECRET_BYTES)
            .ok_or_else(|| AuthError::invalid_token("algorithm not accepted"))?;
        HS256Key::from_bytes(secret.as_bytes())
            .verify_token(token, Some(opts))
            .map_err(|e| AuthError::invalid_token(describe(&e)))?
    } else if ASYMMETRIC_ALGS.contains(&alg) {
        let kid = meta.key_id();
        let found = keys
            .keys(kid)
            .map_err(|e| AuthError::unavailable(e.retry_after_secs))?;
        if found.is_empty() {
            return Err(AuthError::invalid_token(if kid.is_some() {
                "unknown key id"
            } else {
                "no verification key available"
            }));
        }
        // The key type (and the JWK's own `alg`) must fit the header `alg`.
        let candidates: Vec<Jwk> = found.into_iter().filter(|k| k.fits(alg)).collect();
        if candidates.is_empty() {
            return Err(AuthError::invalid_token(
                "the key does not fit the token algorithm",
            ));
        }
        if kid.is_none() && candidates.len() > 1 {
            return Err(AuthError::invalid_token(
                "token has no key id and several keys fit",
            ));
        }
        let mut last = None;
        let mut verified = None;
        for k in &candidates {
            match verify_with(k, alg, token, opts.clone()) {
                Ok(c) => {
                    verified = Some(c);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        match verified {
            Some(c) => c,
            None => {
                let d = last.as_ref().map(describe).unwrap_or("malformed token");
                return Err(AuthError::invalid_token(d));
            }
        }
    } else {
        return Err(AuthError::invalid_token("algorithm not accepted"));
    };
    if claims.expires_at.is_none() {
        return Err(AuthError::invalid_token("token has no expiry"));
    }
    principal(cfg, claims)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TENANT_BYTES
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn principal(cfg: &AuthConfig, claims: TokenClaims) -> Result<Principal, AuthError> {
    let custom = &claims.custom;
    let tenant = match cfg.tenant_claim.as_deref() {
        None => DEFAULT_TENANT.to_string(),
        Some(name) => {
            let v = match name {
                "iss" => claims.issuer.clone(),
                "sub" => claims.subject.clone(),
                _ => custom.get(name).and_then(Value::as_str).map(str::to_string),
            };
            match v {
                Some(t) if valid_tenant(&t) => t,
                Some(_) => {
                    return Err(AuthError::invalid_token(
                        "tenant claim has an invalid value",
                    ))
                }
                None => return Err(AuthError::invalid_token("token has no tenant claim")),
            }
        }
    };
    let client_id = ["client_id", "azp", "cid"]
        .iter()
        .find_map(|c| custom.get(*c).and_then(Value::as_str))
        .map(str::to_string);
    let mut scopes = string_list(custom.get("scope"));
    for s in string_list(custom.get("scp")) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let me = cfg.me_claim.as_deref().and_then(|name| match name {
        "sub" => claims.subject.clone(),
        "iss" => claims.issuer.clone(),
        _ => custom.get(name).and_then(Value::as_str).map(str::to_string),
    });
    Ok(Principal {
        tenant,
        client_id,
        subject: claims.subject,
        me,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwks::{parse_jwks, CachedKeys, JwksFetcher};
    use crate::auth::{authorize, Access};
    use crate::storage::counting::Counting;
    use crate::storage::memory::MemStore;
    use crate::testutil::tokens::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;
    use std::cell::{Cell, RefCell};

    #[test]
    fn valid_asymmetric_tokens_are_accepted() {
        let c = cfg();
        for (alg, kid) in [
            ("RS256", "rsa-any"),
            ("RS384", "rsa-any"),
            ("RS512", "rsa-any"),
            ("PS256", "rsa-any"),
            ("PS512", "rsa-any"),
            ("RS256", "rsa-rs256"),
            ("ES256", "ec256"),
            ("ES384", "ec384"),
        ] {
            let t = sign(alg, Some(kid), &payload());
            let p = auth(&c, &t).unwrap_or_else(|e| panic!("{alg}/{kid}: {e:?}"));
            assert_eq!(p.tenant, DEFAULT_TENANT);
            assert_eq!(p.subject.as_deref(), Some("user-1"));
            assert_eq!(p.client_id.as_deref(), Some("client-1"));
            assert_eq!(p.scopes, ["scim.read", "scim.write"]);
        }
        // Through the store-backed key source too.
        let store = Counting::new(MemStore::new());
        let keys = CachedKeys::new(
            c.jwks_sources(),
            &store,
            &crate::auth::jwks::NoFetcher,
            "auth/jwks",
            NOW,
        );
        let t = sign("ES256", Some("ec256"), &payload());
        authenticate(&c, Some(&bearer(&t)), &keys, NOW).unwrap();
        assert_eq!(
            store.traffic().reads + store.traffic().writes,
            0,
            "inline keys need no store"
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        let mut c = cfg();
        c.hs256_secret = Some(SECRET.into());
        for alg in ["none", "None", "NONE", "nOnE"] {
            for kid in [None, Some("rsa-any")] {
                let mut h = json!({"alg": alg, "typ": "JWT"});
                if let Some(k) = kid {
                    h["kid"] = json!(k);
                }
                let unsigned = format!("{}.{}", b64(&h), b64(&payload()));
                for t in [format!("{unsigned}."), format!("{unsigned}.c2ln")] {
                    let e = assert_invalid(auth(&c, &t), &t, alg);
                    assert_eq!(description(&e), "algorithm not accepted");
                }
            }
        }
        // A two-part token is malformed.
        let t = format!("{}.{}", b64(&json!({"alg": "none"})), b64(&payload()));
        assert_invalid(auth(&c, &t), &t, "two parts");
    }

    #[test]
    fn wrong_key_is_rejected() {
        let c = cfg();
        let t = sign("ES256-other", Some("ec256"), &payload());
        let e = assert_invalid(auth(&c, &t), &t, "other EC key");
        assert_eq!(description(&e), "signature verification failed");
        let t = sign("RS256-other", Some("rsa-any"), &payload());
        let e = assert_invalid(auth(&c, &t), &t, "other RSA key");
        assert_eq!(description(&e), "signature verification failed");
        // A tampered payload.
        let t = sign("ES256", Some("ec256"), &payload());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&with(payload(), "scope", json!("scim.write admin"))),
            parts[2]
        );
        assert_invalid(auth(&c, &forged), &forged, "tampered");
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected() {
        let f = fx();
        let pem = f.rsa_pub_pem.as_bytes();
        let der = f.rsa_pub_der.as_slice();
        let jwks_text = f.jwks.as_bytes();
        // No secret configured: HS256 is refused before any key is looked at.
        let c = cfg();
        for key in [pem, der, jwks_text] {
            for kid in [None, Some("rsa-any"), Some("rsa-rs256"), Some("oct1")] {
                let t = hs256(key, kid, &payload());
                let e = assert_invalid(auth(&c, &t), &t, "confusion");
                assert_eq!(description(&e), "algorithm not accepted");
            }
        }
        // With a secret configured, the public key is still not the secret.
        let mut c = cfg();
        c.hs256_secret = Some(SECRET.into());
        for key in [pem, der] {
            let t = hs256(key, Some("rsa-any"), &payload());
            let e = assert_invalid(auth(&c, &t), &t, "confusion with secret");
            assert_eq!(description(&e), "signature verification failed");
        }
        // The `oct` key in the JWKS is never used either.
        let t = hs256(SECRET.as_bytes(), Some("oct1"), &payload());
        assert!(auth(&c, &t).is_ok(), "the configured secret is, though");
        let c = cfg();
        assert_invalid(auth(&c, &t), &t, "oct JWK is not a secret");
    }

    #[test]
    fn hs256_is_accepted_only_with_the_secret() {
        let t = sign("HS256", None, &payload());
        assert_invalid(auth(&cfg(), &t), &t, "no secret");
        let mut c = cfg();
        c.hs256_secret = Some(SECRET.into());
        let p = auth(&c, &t).unwrap();
        assert_eq!(p.scopes, ["scim.read", "scim.write"]);
        c.hs256_secret = Some("another-secret-that-is-long-enough!!".into());
        assert_invalid(auth(&c, &t), &t, "other secret");
        // A short secret disables HS256 altogether.
        let short = "short-secret";
        let t = hs256(short.as_bytes(), None, &payload());
        let c = AuthConfig {
            hs256_secret: Some(short.into()),
            ..cfg()
        };
        assert_invalid(auth(&c, &t), &t, "short secret");
        let only_short = AuthConfig {
            hs256_secret: Some(short.into()),
            ..Default::default()
        };
        assert!(!only_short.has_any_key());
        assert!(!only_short.problems().is_empty());
    }

    #[test]
    fn time_checks_use_the_leeway() {
        let c = cfg(); // leeway 60
        let ok = |p: Value| {
            let t = sign("ES256", Some("ec256"), &p);
            auth(&c, &t).map(|_| ())
        };
        let fails = |p: Value, why: &str| {
            let t = sign("ES256", Some("ec256"), &p);
            description(&assert_invalid(auth(&c, &t), &t, why)).to_string()
        };
        assert_eq!(
            fails(with(payload(), "exp", json!(NOW - 61)), "expired"),
            "token expired"
        );
        assert_eq!(
            fails(with(payload(), "exp", json!(NOW - 3600)), "long expired"),
            "token expired"
        );
        ok(with(payload(), "exp", json!(NOW - 30))).expect("expired within leeway");
        assert_eq!(
            fails(with(payload(), "nbf", json!(NOW + 61)), "not yet valid"),
            "token not yet valid"
        );
        ok(with(payload(), "nbf", json!(NOW + 30))).expect("nbf within leeway");
        assert_eq!(
            fails(
                with(payload(), "iat", json!(NOW + 3600)),
                "issued in the future"
            ),
            "token issued in the future"
        );
        assert_eq!(
            fails(without(payload(), "exp"), "no exp"),
            "token has no expiry"
        );
        ok(without(without(payload(), "nbf"), "iat")).expect("nbf and iat are optional");
        let strict = AuthConfig {
            leeway_secs: 0,
            ..cfg()
        };
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "exp", json!(NOW - 30)),
        );
        assert_invalid(auth(&strict, &t), &t, "no leeway");
    }

    #[test]
    fn issuer_and_audience_are_checked() {
        let c = cfg();
        let t = sign(
            "RS256",
            Some("rsa-any"),
            &with(payload(), "iss", json!("https://evil.example")),
        );
        assert_eq!(
            description(&assert_invalid(auth(&c, &t), &t, "iss")),
            "issuer not accepted"
        );
        let t = sign("RS256", Some("rsa-any"), &without(payload(), "iss"));
        assert_eq!(
            description(&assert_invalid(auth(&c, &t), &t, "no iss")),
            "issuer not accepted"
        );
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "aud", json!("other-api")),
        );
        assert_eq!(
            description(&assert_invalid(auth(&c, &t), &t, "aud")),
            "audience not accepted"
        );
        let t = sign("ES256", Some("ec256"), &without(payload(), "aud"));
        assert_eq!(
            description(&assert_invalid(auth(&c, &t), &t, "no aud")),
            "audience not accepted"
        );
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "aud", json!(["x", AUD, "y"])),
        );
        auth(&c, &t).expect("aud array containing ours");
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "aud", json!(["x", "y"])),
        );
        assert_invalid(auth(&c, &t), &t, "aud array without ours");
        // Several accepted audiences: any one suffices.
        let c2 = AuthConfig {
            audiences: vec!["a".into(), "b".into()],
            ..cfg()
        };
        let t = sign("ES256", Some("ec256"), &with(payload(), "aud", json!("b")));
        auth(&c2, &t).expect("second audience");
        // Nothing configured: not checked.
        let open = AuthConfig {
            issuer: None,
            audiences: vec![],
            ..cfg()
        };
        let t = sign(
            "ES256",
            Some("ec256"),
            &without(without(payload(), "aud"), "iss"),
        );
        auth(&open, &t).expect("no iss/aud required");
    }

    #[test]
    fn the_key_must_fit_the_algorithm() {
        let c = cfg();
        // The JWK states RS256: an RS512 or PS256 token signed with the same
        // private key is refused.
        for alg in ["RS512", "PS256"] {
            let t = sign(alg, Some("rsa-rs256"), &payload());
            let e = assert_invalid(auth(&c, &t), &t, alg);
            assert_eq!(description(&e), "the key does not fit the token algorithm");
        }
        // An EC token naming an RSA key, and the wrong curve.
        let t = sign("ES256", Some("rsa-any"), &payload());
        assert_invalid(auth(&c, &t), &t, "ES256 with RSA key");
        let t = sign("ES384", Some("ec256"), &payload());
        assert_invalid(auth(&c, &t), &t, "ES384 with P-256 key");
        // Unknown kid.
        let t = sign("ES256", Some("nope"), &payload());
        assert_eq!(
            description(&assert_invalid(auth(&c, &t), &t, "kid")),
            "unknown key id"
        );
        // Unsupported algorithms.
        for alg in ["HS384", "HS512", "EdDSA", "ES256K", "RS1", ""] {
            let h = json!({"alg": alg, "kid": "rsa-any"});
            let t = format!("{}.{}.c2ln", b64(&h), b64(&payload()));
            let e = assert_invalid(auth(&c, &t), &t, alg);
            assert_eq!(description(&e), "algorithm not accepted");
        }
    }

    #[test]
    fn a_token_without_kid_needs_exactly_one_candidate() {
        let f = fx();
        // Several RSA keys in the set: ambiguous.
        let t = sign("RS256", None, &payload());
        assert_invalid(auth(&cfg(), &t), &t, "ambiguous");
        // One ES256 key (the ES384 key does not count for ES256).
        let one_ec = json!({"keys": [
            serde_json::from_str::<Value>(&f.es256.public_key().with_key_id("ec256").to_jwk()).unwrap(),
            serde_json::from_str::<Value>(&f.es384.public_key().to_jwk()).unwrap(),
            without_alg(&RS256PublicKey::from_der(&f.rsa_pub_der).unwrap().to_jwk()),
        ]});
        let c = AuthConfig {
            jwks: Some(one_ec.to_string()),
            ..cfg()
        };
        let keys = parse_jwks(c.jwks.as_deref().unwrap()).unwrap().keys;
        for alg in ["ES256", "ES384", "RS256", "PS256"] {
            let t = sign(alg, None, &payload());
            authenticate(&c, Some(&bearer(&t)), &keys, NOW)
                .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        }
    }

    #[test]
    fn xsuaa_shaped_token() {
        let f = fx();
        let rsa = RS256PublicKey::from_der(&f.rsa_pub_der).unwrap();
        let comps = rsa.to_components();
        let n = URL_SAFE_NO_PAD.encode(&comps.n);
        let e = URL_SAFE_NO_PAD.encode(&comps.e);
        // XSUAA `token_keys`: PEM `value` with and without n/e.
        for key in [
            json!({"kty": "RSA", "kid": "default-jwt-key-1", "alg": "RS256", "use": "sig",
                   "value": f.rsa_pub_pem, "n": n, "e": e}),
            json!({"kty": "RSA", "kid": "default-jwt-key-1", "alg": "RS256",
                   "value": f.rsa_pub_pem}),
        ] {
            let jwks = json!({"keys": [key]}).to_string();
            let set = parse_jwks(&jwks).unwrap();
            assert_eq!(set.keys.len(), 1);
            let c = AuthConfig {
                issuer: Some(
                    "https://afc.authentication.eu10.hana.ondemand.com/oauth/token".into(),
                ),
                audiences: vec!["afc!t123".into()],
                jwks: Some(jwks),
                tenant_claim: Some("zid".into()),
                scope_prefix: Some("afc!t123".into()),
                ..Default::default()
            };
            let p = json!({
                "jti": "f00", "sub": "sb-clone!b1|afc!t123", "client_id": "sb-clone!b1|afc!t123",
                "cid": "sb-clone!b1|afc!t123", "azp": "sb-clone!b1|afc!t123",
                "grant_type": "client_credentials", "zid": "5f1c4b9e-0c33-4d7b-9d1c-8f8f8f8f8f8f",
                "ext_attr": {"enhancer": "XSUAA", "subaccountid": "5f1c4b9e"},
                "iss": "https://afc.authentication.eu10.hana.ondemand.com/oauth/token",
                "scope": ["uaa.resource", "afc!t123.scim.read", "afc!t123.scim.write"],
                "aud": ["uaa", "afc!t123", "sb-clone!b1|afc!t123"],
                "iat": NOW, "exp": NOW + 43199, "rev_sig": "abc",
            });
            let t = sign("RS256", Some("default-jwt-key-1"), &p);
            let pr = authenticate(&c, Some(&bearer(&t)), &set.keys, NOW).unwrap();
            assert_eq!(pr.tenant, "5f1c4b9e-0c33-4d7b-9d1c-8f8f8f8f8f8f");
            assert_eq!(pr.client_id.as_deref(), Some("sb-clone!b1|afc!t123"));
            authorize(&c, &pr, Access::Read).unwrap();
            authorize(&c, &pr, Access::Write).unwrap();
            // The XSUAA scopes count only with this xsappname configured.
            for other in [None, Some("afc!t999".to_string())] {
                let c = AuthConfig {
                    scope_prefix: other,
                    ..c.clone()
                };
                assert_eq!(authorize(&c, &pr, Access::Read).unwrap_err().status, 403);
            }
            // Only scope.read granted.
            let ro = with(p.clone(), "scope", json!(["afc!t123.scim.read"]));
            let t = sign("RS256", Some("default-jwt-key-1"), &ro);
            let pr = authenticate(&c, Some(&bearer(&t)), &set.keys, NOW).unwrap();
            authorize(&c, &pr, Access::Read).unwrap();
            assert_eq!(authorize(&c, &pr, Access::Write).unwrap_err().status, 403);
            // Missing zid: 401.
            let t = sign(
                "RS256",
                Some("default-jwt-key-1"),
                &without(p.clone(), "zid"),
            );
            let e = assert_invalid(
                authenticate(&c, Some(&bearer(&t)), &set.keys, NOW),
                &t,
                "zid",
            );
            assert_eq!(description(&e), "token has no tenant claim");
            // A zid that is not a string, or not a safe identifier: 401.
            for bad in [json!(42), json!("a/b"), json!(""), json!("x".repeat(200))] {
                let t = sign(
                    "RS256",
                    Some("default-jwt-key-1"),
                    &with(p.clone(), "zid", bad),
                );
                assert_invalid(
                    authenticate(&c, Some(&bearer(&t)), &set.keys, NOW),
                    &t,
                    "bad zid",
                );
            }
        }
    }

    #[test]
    fn client_id_falls_back_to_azp_then_cid() {
        let c = cfg();
        let base = without(payload(), "client_id");
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(with(base.clone(), "azp", json!("A")), "cid", json!("C")),
        );
        assert_eq!(auth(&c, &t).unwrap().client_id.as_deref(), Some("A"));
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(base.clone(), "cid", json!("C")),
        );
        assert_eq!(auth(&c, &t).unwrap().client_id.as_deref(), Some("C"));
        let t = sign("ES256", Some("ec256"), &base);
        assert_eq!(auth(&c, &t).unwrap().client_id, None);
        // The tenant can come from a standard claim too.
        let c = AuthConfig {
            tenant_claim: Some("iss".into()),
            issuer: None,
            ..cfg()
        };
        let t = sign(
            "ES256",
            Some("ec256"),
            &with(payload(), "iss", json!("tenant.example")),
        );
        assert_eq!(auth(&c, &t).unwrap().tenant, "tenant.example");
    }

    #[test]
    fn no_key_configured_refuses_everything() {
        let c = AuthConfig::default();
        assert!(!c.has_any_key());
        for alg in ["HS256", "RS256", "ES256"] {
            let t = sign(alg, Some("ec256"), &payload());
            let e = assert_invalid(
                authenticate(&c, Some(&bearer(&t)), &inline_keys(), NOW),
                &t,
                alg,
            );
            assert_eq!(description(&e), "no token verification key is configured");
        }
        let blank = AuthConfig {
            jwks: Some("  ".into()),
            jwks_url: Some(String::new()),
            ..Default::default()
        };
        assert!(!blank.has_any_key());
        assert!(AuthConfig {
            jwks_url: Some("https://idp/keys".into()),
            ..Default::default()
        }
        .has_any_key());
    }

    #[test]
    fn the_authorization_header_is_parsed_strictly() {
        let c = cfg();
        let keys = inline_keys();
        let challenge = "Bearer realm=\"scim\"";
        for h in [
            None,
            Some(""),
            Some("   "),
            Some("Basic dXNlcjpwYXNz"),
            Some("Token abc"),
        ] {
            let e = authenticate(&c, h, &keys, NOW).unwrap_err();
            assert_eq!(
                (e.status, e.www_authenticate.as_str()),
                (401, challenge),
                "{h:?}"
            );
            assert_eq!(e.to_scim().status, 401);
        }
        let t = sign("ES256", Some("ec256"), &payload());
        for h in [
            format!("bearer {t}"),
            format!("BEARER   {t}  "),
            format!("Bearer {t}"),
        ] {
            authenticate(&c, Some(&h), &keys, NOW).unwrap_or_else(|e| panic!("{h}: {e:?}"));
        }
        for h in [
            "Bearer",
            "Bearer ",
            "Bearer a b c",
            "Bearer a.b",
            "Bearer a.b.c.d",
            "Bearer a\"b.c.d",
        ] {
            let e = authenticate(&c, Some(h), &keys, NOW).unwrap_err();
            assert_eq!(e.status, 401, "{h}");
            assert!(
                e.www_authenticate.contains("error=\"invalid_token\""),
                "{h}"
            );
        }
        let long = format!("Bearer {}.{}.{}", "a".repeat(9000), "b".repeat(9000), "c");
        assert_eq!(
            description(&authenticate(&c, Some(&long), &keys, NOW).unwrap_err()),
            "token too long"
        );
        // Garbage that looks like a JWT.
        let e = authenticate(&c, Some("Bearer aaaa.bbbb.cccc"), &keys, NOW).unwrap_err();
        assert_eq!(description(&e), "malformed token");
    }

    struct CountingFetcher {
        body: RefCell<String>,
        calls: Cell<usize>,
    }

    impl JwksFetcher for CountingFetcher {
        fn fetch(&self, _url: &str) -> Result<String, String> {
            self.calls.set(self.calls.get() + 1);
            Ok(self.body.borrow().clone())
        }
    }

    #[test]
    fn unknown_kid_refreshes_the_jwks_exactly_once() {
        let f = fx();
        let ec = |k: &ES256KeyPair, kid: &str| {
            serde_json::from_str::<Value>(&k.public_key().with_key_id(kid).to_jwk()).unwrap()
        };
        let fetcher = CountingFetcher {
            body: RefCell::new(json!({"keys": [ec(&f.es256, "ec256")]}).to_string()),
            calls: Cell::new(0),
        };
        let c = AuthConfig {
            jwks: None,
            jwks_url: Some("https://idp.example/jwks".into()),
            jwks_ttl_secs: 600,
            ..cfg()
        };
        let store = MemStore::new();
        let run = |t: &str, now: u64| {
            let keys = CachedKeys::new(c.jwks_sources(), &store, &fetcher, "auth/jwks", now);
            authenticate(&c, Some(&bearer(t)), &keys, now)
        };
        let good = sign("ES256", Some("ec256"), &payload());
        run(&good, NOW).unwrap();
        assert_eq!(fetcher.calls.get(), 1, "first use fetches");
        run(&good, NOW + 5).unwrap();
        assert_eq!(fetcher.calls.get(), 1, "cached");
        // A forged kid 40 s later: one refresh, then refused.
        let forged = sign("ES256-other", Some("rotated"), &payload());
        assert_invalid(run(&forged, NOW + 40), &forged, "unknown kid");
        assert_eq!(fetcher.calls.get(), 2, "exactly one refresh");
        // More forged kids right after: no more fetches (rate limit).
        for i in 0..5 {
            assert_invalid(run(&forged, NOW + 41 + i), &forged, "unknown kid again");
        }
        assert_eq!(fetcher.calls.get(), 2, "no refresh within 30 s");
        // Key rotation: the IdP now publishes the new key; after 30 s the
        // unknown kid triggers one refresh, which finds it.
        *fetcher.body.borrow_mut() =
            json!({"keys": [ec(&f.es256, "ec256"), ec(&f.es256_other, "rotated")]}).to_string();
        let now = NOW + 40 + MIN_REFRESH;
        let rotated = sign("ES256-other", Some("rotated"), &payload());
        run(&rotated, now).unwrap();
        assert_eq!(fetcher.calls.get(), 3);
        run(&rotated, now + 1).unwrap();
        run(&good, now + 2).unwrap();
        assert_eq!(fetcher.calls.get(), 3, "rotated set cached");
    }

    const MIN_REFRESH: u64 = crate::auth::jwks::MIN_REFRESH_INTERVAL_SECS;

    #[test]
    fn jwks_unavailable_is_503_not_401() {
        struct Down;
        impl JwksFetcher for Down {
            fn fetch(&self, _url: &str) -> Result<String, String> {
                Err("connection refused".into())
            }
        }
        let c = AuthConfig {
            jwks: None,
            jwks_url: Some("https://idp.example/jwks".into()),
            ..cfg()
        };
        let store = Counting::new(MemStore::new());
        let keys = CachedKeys::new(c.jwks_sources(), &store, &Down, "auth/jwks", NOW);
        let t = sign("ES256", Some("ec256"), &payload());
        let e = authenticate(&c, Some(&bearer(&t)), &keys, NOW).unwrap_err();
        assert_eq!(e.status, 503);
        assert!(e.www_authenticate.is_empty());
        assert!(!e.detail.contains("refused"), "the cause is for the log");
        assert!(keys.fetched());
        assert!(keys.last_error().unwrap().contains("connection refused"));
        assert_eq!(e.to_scim().status, 503);
        // HS256 does not need the key set.
        let c = AuthConfig {
            hs256_secret: Some(SECRET.into()),
            ..c
        };
        let keys = CachedKeys::new(c.jwks_sources(), &store, &Down, "auth/jwks", NOW);
        store.reset();
        authenticate(
            &c,
            Some(&bearer(&sign("HS256", None, &payload()))),
            &keys,
            NOW,
        )
        .unwrap();
        assert_eq!(store.traffic().reads, 0);
    }
}
