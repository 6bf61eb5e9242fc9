//! Fixtures shared by the authentication tests: keys generated once per run,
//! a JWKS (RFC 7517 §5) holding their public halves, and helpers that sign
//! JWTs (RFC 7519) as JWS (RFC 7515) and check RFC 6750 §3 refusals.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};

use crate::auth::jwks::{parse_jwks, Jwk};
use crate::auth::{authenticate, AuthConfig, AuthError, Principal};

/// The verification time of the tests (unix seconds).
pub(crate) const NOW: u64 = 1_700_000_000;
/// The issuer [`cfg`] requires and [`payload`] carries.
pub(crate) const ISS: &str = "https://idp.example";
/// The audience [`cfg`] requires and [`payload`] carries.
pub(crate) const AUD: &str = "scim-api";
/// An HS256 secret long enough to be accepted.
pub(crate) const SECRET: &str = "a-development-secret-of-32-bytes-or-more";

/// Keys generated once per test run.
pub(crate) struct Fixture {
    /// The main RSA key pair (PKCS#1 DER), in the JWKS as `rsa-any` (no
    /// `alg`) and `rsa-rs256` (`alg: RS256`).
    pub(crate) rsa_der: Vec<u8>,
    /// Its public key, PEM.
    pub(crate) rsa_pub_pem: String,
    /// Its public key, DER.
    pub(crate) rsa_pub_der: Vec<u8>,
    /// Another RSA key pair, not in the JWKS.
    pub(crate) rsa_other_der: Vec<u8>,
    /// A P-256 key pair, in the JWKS as `ec256`.
    pub(crate) es256: ES256KeyPair,
    /// Another P-256 key pair, not in the JWKS.
    pub(crate) es256_other: ES256KeyPair,
    /// A P-384 key pair, in the JWKS as `ec384`.
    pub(crate) es384: ES384KeyPair,
    /// The JWKS document (with an `oct` key that must be skipped).
    pub(crate) jwks: String,
}

/// A JWK (JSON text) without its `alg` member.
pub(crate) fn without_alg(jwk: &str) -> Value {
    let mut v: Value = serde_json::from_str(jwk).unwrap();
    v.as_object_mut().unwrap().remove("alg");
    v
}

/// The fixture keys, generated on first use.
pub(crate) fn fx() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rsa = RS256KeyPair::generate(2048).unwrap();
        let rsa_other = RS256KeyPair::generate(2048).unwrap();
        let es256 = ES256KeyPair::generate();
        let es256_other = ES256KeyPair::generate();
        let es384 = ES384KeyPair::generate();
        let pk = rsa.public_key();
        let jwks = json!({"keys": [
            // No `alg`: fits every RSA algorithm.
            without_alg(&pk.clone().with_key_id("rsa-any").to_jwk()),
            // States RS256: only RS256 tokens.
            serde_json::from_str::<Value>(&pk.clone().with_key_id("rsa-rs256").to_jwk()).unwrap(),
            serde_json::from_str::<Value>(&es256.public_key().with_key_id("ec256").to_jwk()).unwrap(),
            serde_json::from_str::<Value>(&es384.public_key().with_key_id("ec384").to_jwk()).unwrap(),
            // Never used: a symmetric key in a JWKS is skipped.
            {"kty": "oct", "kid": "oct1", "k": URL_SAFE_NO_PAD.encode(SECRET), "alg": "HS256"},
        ]})
        .to_string();
        Fixture {
            rsa_der: rsa.to_der().unwrap(),
            rsa_pub_pem: pk.to_pem().unwrap(),
            rsa_pub_der: pk.to_der().unwrap(),
            rsa_other_der: rsa_other.to_der().unwrap(),
            es256,
            es256_other,
            es384,
            jwks,
        }
    })
}

/// Issuer, audience and the fixture JWKS inline; no HS256 secret.
pub(crate) fn cfg() -> AuthConfig {
    AuthConfig {
        issuer: Some(ISS.into()),
        audiences: vec![AUD.into()],
        jwks: Some(fx().jwks.clone()),
        ..Default::default()
    }
}

/// Claims [`cfg`] accepts at [`NOW`], with both scopes.
pub(crate) fn payload() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "user-1", "client_id": "client-1",
        "scope": "scim.read scim.write", "iat": NOW, "nbf": NOW, "exp": NOW + 600,
    })
}

/// `p` with claim `k` set to `v`.
pub(crate) fn with(mut p: Value, k: &str, v: Value) -> Value {
    p[k] = v;
    p
}

/// `p` without claim `k`.
pub(crate) fn without(mut p: Value, k: &str) -> Value {
    p.as_object_mut().unwrap().remove(k);
    p
}

fn claims(p: &Value) -> JWTClaims<Map<String, Value>> {
    serde_json::from_value(p.clone()).unwrap()
}

/// A token signed with the fixture key for `alg` (the main RSA key for
/// RS*/PS*), with header `kid`.
pub(crate) fn sign(alg: &str, kid: Option<&str>, p: &Value) -> String {
    let f = fx();
    let c = claims(p);
    macro_rules! rsa {
        ($t:ty, $der:expr) => {{
            let mut k = <$t>::from_der($der).unwrap();
            if let Some(kid) = kid {
                k = k.with_key_id(kid);
            }
            k.sign(c).unwrap()
        }};
    }
    match alg {
        "RS256" => rsa!(RS256KeyPair, &f.rsa_der),
        "RS384" => rsa!(RS384KeyPair, &f.rsa_der),
        "RS512" => rsa!(RS512KeyPair, &f.rsa_der),
        "PS256" => rsa!(PS256KeyPair, &f.rsa_der),
        "PS512" => rsa!(PS512KeyPair, &f.rsa_der),
        "RS256-other" => rsa!(RS256KeyPair, &f.rsa_other_der),
        "ES256" | "ES256-other" => {
            let src = if alg == "ES256" {
                &f.es256
            } else {
                &f.es256_other
            };
            let mut k = ES256KeyPair::from_bytes(&src.to_bytes()).unwrap();
            if let Some(kid) = kid {
                k = k.with_key_id(kid);
            }
            k.sign(c).unwrap()
        }
        "ES384" => {
            let mut k = ES384KeyPair::from_bytes(&f.es384.to_bytes()).unwrap();
            if let Some(kid) = kid {
                k = k.with_key_id(kid);
            }
            k.sign(c).unwrap()
        }
        "HS256" => hs256(SECRET.as_bytes(), kid, p),
        _ => panic!("no signer for {alg}"),
    }
}

/// An HS256 token MACed with `key` (any bytes, public keys included).
pub(crate) fn hs256(key: &[u8], kid: Option<&str>, p: &Value) -> String {
    let mut k = HS256Key::from_bytes(key);
    if let Some(kid) = kid {
        k = k.with_key_id(kid);
    }
    k.authenticate(claims(p)).unwrap()
}

/// `v` as unpadded base64url JSON, as in a JWS part.
pub(crate) fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// An `Authorization` header value for `t`.
pub(crate) fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// The fixture JWKS, parsed.
pub(crate) fn inline_keys() -> Vec<Jwk> {
    parse_jwks(&fx().jwks).unwrap().keys
}

/// [`authenticate`] `token` with the fixture keys at [`NOW`].
pub(crate) fn auth(cfg: &AuthConfig, token: &str) -> Result<Principal, AuthError> {
    authenticate(cfg, Some(&bearer(token)), &inline_keys(), NOW)
}

/// A 401 `invalid_token` whose texts never contain the token.
pub(crate) fn assert_invalid(r: Result<Principal, AuthError>, token: &str, why: &str) -> AuthError {
    let e = r.expect_err(why);
    assert_eq!(e.status, 401, "{why}: {e:?}");
    assert!(
        e.www_authenticate
            .starts_with("Bearer realm=\"scim\", error=\"invalid_token\", error_description=\""),
        "{why}: {}",
        e.www_authenticate
    );
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!e.detail.contains(part), "{why}: detail echoes the token");
        assert!(
            !e.www_authenticate.contains(part),
            "{why}: header echoes the token"
        );
    }
    assert!(!e.to_scim().detail.contains(token) || token.is_empty());
    e
}

/// The `error_description` of a refusal's challenge.
pub(crate) fn description(e: &AuthError) -> &str {
    let d = e
        .www_authenticate
        .split("error_description=\"")
        .nth(1)
        .unwrap();
    d.split('"').next().unwrap()
}
