//! Bearer JWT validation through the real `.wasm` (RFC 6750, issue #6): a
//! token-attack matrix (alg none, wrong keys, HS/RS confusion, time claims,
//! issuer, audience), scopes (matched exactly, RFC 6750 §3.1), where tokens
//! may come from (one `Authorization` header, checked before the body is
//! read), a deployment with no key, discovery with and without
//! authentication, and the proxy headers the service trusts.

use e2e::{patch_op, token_with, Host, Resp, ERROR, TEST_SECRET};
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

const ISS: &str = "https://idp.example";
const AUD: &str = "scim-api";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asymmetric keys, generated once per test run.
struct Keys {
    rsa_der: Vec<u8>,
    rsa_pub_pem: String,
    rsa_pub_der: Vec<u8>,
    es256: ES256KeyPair,
    es256_other: ES256KeyPair,
    jwks: String,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let rsa = RS256KeyPair::generate(2048).expect("RSA key");
        let es256 = ES256KeyPair::generate();
        let pk = rsa.public_key();
        let jwk = |s: String| serde_json::from_str::<Value>(&s).unwrap();
        let jwks = json!({"keys": [
            jwk(pk.clone().with_key_id("rsa-1").to_jwk()),
            jwk(es256.public_key().with_key_id("ec-1").to_jwk()),
        ]})
        .to_string();
        Keys {
            rsa_der: rsa.to_der().unwrap(),
            rsa_pub_pem: pk.to_pem().unwrap(),
            rsa_pub_der: pk.to_der().unwrap(),
            es256,
            es256_other: ES256KeyPair::generate(),
            jwks,
        }
    })
}

/// Claims exactly as in `payload` (no defaults added).
fn claims(payload: &Value) -> JWTClaims<Map<String, Value>> {
    let mut c = Claims::with_custom_claims(
        payload.as_object().expect("payload object").clone(),
        Duration::from_secs(0),
    );
    c.issued_at = None;
    c.expires_at = None;
    c.invalid_before = None;
    c
}

fn hs256(secret: &[u8], kid: Option<&str>, payload: &Value) -> String {
    let mut k = HS256Key::from_bytes(secret);
    if let Some(kid) = kid {
        k = k.with_key_id(kid);
    }
    k.authenticate(claims(payload)).unwrap()
}

fn rs256(kid: &str, payload: &Value) -> String {
    RS256KeyPair::from_der(&keys().rsa_der)
        .unwrap()
        .with_key_id(kid)
        .sign(claims(payload))
        .unwrap()
}

fn es256(k: &ES256KeyPair, kid: &str, payload: &Value) -> String {
    ES256KeyPair::from_bytes(&k.to_bytes())
        .unwrap()
        .with_key_id(kid)
        .sign(claims(payload))
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// A JWT assembled by hand: any header, any signature.
fn raw_jwt(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

/// Valid claims for the matrix host.
fn good() -> Value {
    let t = now();
    json!({"iss": ISS, "aud": AUD, "sub": "client", "client_id": "e2e",
           "scope": "scim.read scim.write", "iat": t, "nbf": t, "exp": t + 600})
}

fn with(mut p: Value, k: &str, v: Value) -> Value {
    p[k] = v;
    p
}

fn without(mut p: Value, k: &str) -> Value {
    p.as_object_mut().unwrap().remove(k);
    p
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn get_with(host: &Host, path: &str, authorization: &str) -> Resp {
    host.request("GET", path, &[("authorization", authorization)], None)
}

/// A SCIM error body with this status.
fn assert_scim_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    let b = r.json();
    assert_eq!(b["schemas"][0], ERROR, "{b}");
    assert_eq!(b["status"], status.to_string(), "{b}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "{:?}",
        r.headers
    );
}

/// 401 with a SCIM error body and a Bearer challenge; returns the challenge.
fn assert_401(r: &Resp) -> String {
    assert_scim_error(r, 401);
    let c = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("401 without WWW-Authenticate: {:?}", r.headers))
        .to_string();
    assert!(c.starts_with("Bearer realm=\"scim\""), "{c}");
    c
}

/// The host the matrix runs against: an HS256 secret and an inline JWKS
/// (RSA and EC keys), a required issuer and audience.
fn matrix_host() -> Host {
    let mut host = Host::start_with(&[
        ("SPIN_VARIABLE_TOKEN_JWKS", keys().jwks.as_str()),
        ("SPIN_VARIABLE_TOKEN_ISSUER", ISS),
        ("SPIN_VARIABLE_TOKEN_AUDIENCE", AUD),
    ]);
    host.token = Some(hs256(TEST_SECRET.as_bytes(), None, &good()));
    host
}

#[test]
fn token_attack_matrix() {
    let k = keys();
    let host = matrix_host();
    let t = now();
    let secret = TEST_SECRET.as_bytes();
    let hs_valid = hs256(secret, None, &good());
    let rs_valid = rs256("rsa-1", &good());
    let tampered = {
        // A valid RS256 signature over other claims.
        let parts: Vec<&str> = rs_valid.split('.').collect();
        let forged = with(good(), "scope", json!("scim.read scim.write admin"));
        format!(
            "{}.{}.{}",
            parts[0],
            b64(forged.to_string().as_bytes()),
            parts[2]
        )
    };
    // (case, token, accepted)
    let cases: Vec<(&str, String, bool)> = vec![
        ("HS256 with the configured secret", hs_valid.clone(), true),
        ("RS256 with the JWKS key", rs_valid.clone(), true),
        (
            "ES256 with the JWKS key",
            es256(&k.es256, "ec-1", &good()),
            true,
        ),
        (
            "audience in an array",
            rs256("rsa-1", &with(good(), "aud", json!(["other", AUD]))),
            true,
        ),
        (
            "alg none, empty signature",
            raw_jwt(&json!({"alg": "none", "typ": "JWT"}), &good(), ""),
            false,
        ),
        (
            "alg None, HS256 signature reused",
            raw_jwt(
                &json!({"alg": "None"}),
                &good(),
                hs_valid.rsplit('.').next().unwrap(),
            ),
            false,
        ),
        (
            "alg NONE",
            raw_jwt(&json!({"alg": "NONE"}), &good(), ""),
            false,
        ),
        (
            "no alg",
            raw_jwt(&json!({"typ": "JWT"}), &good(), ""),
            false,
        ),
        (
            "HS256 with another secret",
            hs256(b"another-secret-of-at-least-32-bytes-xx", None, &good()),
            false,
        ),
        (
            "HS256 keyed with the RSA public key (PEM)",
            hs256(k.rsa_pub_pem.as_bytes(), Some("rsa-1"), &good()),
            false,
        ),
        (
            "HS256 keyed with the RSA public key (DER)",
            hs256(&k.rsa_pub_der, Some("rsa-1"), &good()),
            false,
        ),
        (
            "HS256 keyed with the JWKS document",
            hs256(k.jwks.as_bytes(), None, &good()),
            false,
        ),
        (
            "HS512 with the configured secret",
            {
                let c = claims(&good());
                HS512Key::from_bytes(secret).authenticate(c).unwrap()
            },
            false,
        ),
        (
            "ES256 signed by another key under the JWKS kid",
            es256(&k.es256_other, "ec-1", &good()),
            false,
        ),
        (
            "ES256 under the RSA key's kid",
            es256(&k.es256, "rsa-1", &good()),
            false,
        ),
        (
            "RS256 under an unknown kid",
            rs256("rsa-unknown", &good()),
            false,
        ),
        ("RS256 claims changed after signing", tampered, false),
        (
            "signature stripped",
            format!("{}.", rs_valid.rsplit_once('.').unwrap().0),
            false,
        ),
        (
            "expired (beyond the 60 s leeway)",
            rs256(
                "rsa-1",
                &with(
                    with(with(good(), "exp", json!(t - 120)), "iat", json!(t - 900)),
                    "nbf",
                    json!(t - 900),
                ),
            ),
            false,
        ),
        (
            "expired HS256",
            hs256(secret, None, &with(good(), "exp", json!(t - 3600))),
            false,
        ),
        ("no exp", rs256("rsa-1", &without(good(), "exp")), false),
        (
            "not yet valid (nbf in an hour)",
            rs256("rsa-1", &with(good(), "nbf", json!(t + 3600))),
            false,
        ),
        (
            "not yet valid HS256",
            hs256(
                secret,
                None,
                &with(with(good(), "nbf", json!(t + 3600)), "exp", json!(t + 7200)),
            ),
            false,
        ),
        (
            "wrong issuer",
            rs256("rsa-1", &with(good(), "iss", json!("https://evil.example"))),
            false,
        ),
        ("no issuer", rs256("rsa-1", &without(good(), "iss")), false),
        (
            "wrong issuer, HS256",
            hs256(
                secret,
                None,
                &with(good(), "iss", json!("https://evil.example")),
            ),
            false,
        ),
        (
            "wrong audience",
            rs256("rsa-1", &with(good(), "aud", json!("someone-else"))),
            false,
        ),
        (
            "wrong audiences in an array",
            rs256("rsa-1", &with(good(), "aud", json!(["a", "b"]))),
            false,
        ),
        (
            "no audience",
            rs256("rsa-1", &without(good(), "aud")),
            false,
        ),
        (
            "the default test token (no iss, no aud)",
            token_with(&["scim.read", "scim.write"], None),
            false,
        ),
        ("not a JWT", "abc.def.ghi".to_string(), false),
        ("garbage", "x".to_string(), false),
    ];
    assert!(cases.len() >= 30);
    for (name, token, accepted) in &cases {
        let r = get_with(&host, "/Users", &bearer(token));
        if *accepted {
            assert_eq!(r.status, 200, "{name}: {}", r.text());
            continue;
        }
        let challenge = assert_401(&r);
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        // Refusals never echo the token.
        let sig = token.rsplit('.').next().unwrap_or("");
        if sig.len() > 8 {
            assert!(!r.text().contains(sig), "{name}: token echoed");
            assert!(!challenge.contains(sig), "{name}: token echoed");
        }
        // Writes are refused the same way.
        let w = host.request(
            "POST",
            "/Users",
            &[
                ("authorization", &bearer(token)),
                ("content-type", "application/scim+json"),
            ],
            Some(br#"{"userName": "intruder"}"#),
        );
        assert_401(&w);
    }
    // Nothing was written by a refused request.
    let r = host.get("/Users?filter=userName%20eq%20%22intruder%22");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 0);
}

#[test]
fn hs256_signed_with_the_public_key_is_refused_when_only_a_jwks_is_configured() {
    let k = keys();
    let host = Host::start_with(&[
        ("SPIN_VARIABLE_TOKEN_HS256_SECRET", ""),
        ("SPIN_VARIABLE_TOKEN_JWKS", k.jwks.as_str()),
    ]);
    let p = without(without(good(), "iss"), "aud");
    let r = get_with(&host, "/Users", &bearer(&rs256("rsa-1", &p)));
    assert_eq!(r.status, 200, "{}", r.text());
    // The RSA public key is public: an HMAC keyed with it proves nothing.
    let jwk: Value = serde_json::from_str(&k.jwks).unwrap();
    let n = jwk["keys"][0]["n"].as_str().unwrap().to_string();
    for (name, key) in [
        ("PEM", k.rsa_pub_pem.as_bytes().to_vec()),
        ("DER", k.rsa_pub_der.clone()),
        ("JWK n", n.into_bytes()),
        ("JWKS", k.jwks.clone().into_bytes()),
    ] {
        for kid in [Some("rsa-1"), None] {
            let t = hs256(&key, kid, &p);
            let c = assert_401(&get_with(&host, "/Users", &bearer(&t)));
            assert!(c.contains("invalid_token"), "{name}: {c}");
        }
    }
    // And the test secret is not a key here.
    assert_401(&get_with(
        &host,
        "/Users",
        &bearer(&token_with(&["scim.read", "scim.write"], None)),
    ));
}

#[test]
fn scopes_are_enforced_with_403_insufficient_scope() {
    let mut host = Host::start();
    let insufficient = |r: &Resp, scope: &str| {
        assert_scim_error(r, 403);
        let c = r.header("www-authenticate").expect("403 challenge");
        assert!(c.starts_with("Bearer "), "{c}");
        assert!(c.contains("error=\"insufficient_scope\""), "{c}");
        assert!(c.contains(&format!("scope=\"{scope}\"")), "{c}");
    };
    let user = json!({"userName": "scoped"});
    // No scope at all: reads and writes are refused.
    for scopes in [&[][..], &["openid", "scim"][..], &["scim.readx"][..]] {
        host.token = Some(token_with(scopes, None));
        insufficient(&host.get("/Users"), "scim.read");
        insufficient(&host.send_json("POST", "/Users", &user), "scim.write");
        insufficient(&host.get("/ServiceProviderConfig"), "scim.read");
    }
    // Read-only: reads pass, every write is refused.
    host.token = Some(token_with(&["scim.read"], None));
    assert_eq!(host.get("/Users").status, 200);
    let r = host.send_json("POST", "/Users/.search", &json!({"filter": "userName pr"}));
    assert_eq!(r.status, 200, "a search is a read: {}", r.text());
    let some_id = "2819c223-7f76-453a-919d-413861904646";
    let patch = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    for (method, path, body) in [
        ("POST", "/Users".to_string(), user.clone()),
        ("POST", "/Groups".to_string(), json!({"displayName": "g"})),
        ("PUT", format!("/Users/{some_id}"), user.clone()),
        ("PATCH", format!("/Users/{some_id}"), patch.clone()),
        ("PATCH", format!("/Groups/{some_id}"), patch),
    ] {
        insufficient(&host.send_json(method, &path, &body), "scim.write");
    }
    insufficient(
        &host.request("DELETE", &format!("/Users/{some_id}"), &[], None),
        "scim.write",
    );
    // Nothing was created.
    host.token = Some(token_with(&["scim.write"], None));
    let r = host.get("/Users");
    assert_eq!(r.status, 200, "write implies read");
    assert_eq!(r.json()["totalResults"], 0);
    // Scopes match exactly: no suffix match, and without a configured
    // XSUAA prefix no prefixed scope counts either.
    for scope in [
        "evil.scim.write",
        ".scim.write",
        "afc!t1.scim.write",
        "scim.write.evil",
        "SCIM.WRITE",
    ] {
        host.token = Some(token_with(&[scope], None));
        insufficient(&host.send_json("POST", "/Users", &user), "scim.write");
        insufficient(&host.get("/Users"), "scim.read");
    }
}

#[test]
fn the_configured_xsuaa_prefix_and_nothing_else_is_accepted() {
    let mut host = Host::start_with(&[("SPIN_VARIABLE_TOKEN_SCOPE_PREFIX", "afc!t1")]);
    let post = |host: &Host, name: &str| {
        host.send_json("POST", "/Users", &json!({ "userName": name }))
            .status
    };
    // `<xsappname>.scim.write` with the configured xsappname, and the bare
    // scope.
    host.token = Some(token_with(&["afc!t1.scim.write"], None));
    assert_eq!(post(&host, "prefixed"), 201);
    host.token = Some(token_with(&["afc!t1.scim.read"], None));
    assert_eq!(host.get("/Users").status, 200);
    assert_eq!(post(&host, "read-only"), 403);
    host.token = Some(token_with(&["scim.write"], None));
    assert_eq!(post(&host, "bare"), 201);
    // Any other prefix, a doubled one, or a partial one is refused.
    for scope in [
        "afc!t2.scim.write",
        "evil.scim.write",
        "afc!t1.afc!t1.scim.write",
        "xafc!t1.scim.write",
        "t1.scim.write",
        "afc!t1scim.write",
        "afc!t1.",
    ] {
        host.token = Some(token_with(&[scope], None));
        assert_eq!(post(&host, "never"), 403, "{scope}");
    }
}

#[test]
fn missing_and_misplaced_credentials_are_401() {
    let mut host = Host::start();
    let valid = host.token.clone().unwrap();
    // No Authorization header.
    host.token = None;
    for path in ["/Users", "/Groups", "/Roles", "/ServiceProviderConfig"] {
        let c = assert_401(&host.get(path));
        assert!(!c.contains("error="), "no credentials: no error code ({c})");
    }
    let c = assert_401(&host.send_json("POST", "/Users", &json!({"userName": "x"})));
    assert_eq!(c, "Bearer realm=\"scim\"");
    // Other schemes and malformed headers.
    for (h, error) in [
        ("Basic dXNlcjpwYXNz".to_string(), None),
        (format!("Token {valid}"), None),
        ("Bearer".to_string(), Some("invalid_token")),
        ("Bearer a.b".to_string(), Some("invalid_token")),
        (format!("Bearer {valid}x"), Some("invalid_token")),
        (
            format!("Bearer {}", "a".repeat(20_000)),
            Some("invalid_token"),
        ),
    ] {
        let c = assert_401(&get_with(&host, "/Users", &h));
        match error {
            Some(e) => assert!(c.contains(e), "{h:.40}: {c}"),
            None => assert!(!c.contains("error="), "{h:.40}: {c}"),
        }
    }
    // A token in the query string is never accepted (RFC 6750 §2.3 is not
    // supported), not even next to a valid header.
    for path in [
        format!("/Users?access_token={valid}"),
        format!("/Users?filter=userName%20pr&ACCESS_TOKEN={valid}"),
        format!("/ServiceProviderConfig?access_token={valid}"),
    ] {
        let c = assert_401(&host.get(&path));
        assert!(c.contains("invalid_request"), "{c}");
        let c = assert_401(&get_with(&host, &path, &bearer(&valid)));
        assert!(c.contains("invalid_request"), "{c}");
    }
    let c = assert_401(&host.request(
        "POST",
        &format!("/Users?access_token={valid}"),
        &[
            ("authorization", &bearer(&valid)),
            ("content-type", "application/scim+json"),
        ],
        Some(br#"{"userName": "via-query"}"#),
    ));
    assert!(c.contains("invalid_request"), "{c}");
    // A token in a form body is not a credential either.
    let r = host.request(
        "GET",
        "/Users",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(format!("access_token={valid}").as_bytes()),
    );
    assert_401(&r);
    // Unknown routes answer 404 without asking for credentials.
    let r = host.get("/Nope");
    assert_scim_error(&r, 404);
    // Nothing was created along the way.
    let r = get_with(&host, "/Users", &bearer(&valid));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 0);
}

#[test]
fn a_deployment_without_a_key_refuses_everything() {
    // No secret, no JWKS: nothing is ever accepted, whatever the token.
    let short = "too-short-secret";
    for secret in ["", short] {
        let mut host = Host::start_with(&[("SPIN_VARIABLE_TOKEN_HS256_SECRET", secret)]);
        let tokens = [
            token_with(&["scim.read", "scim.write"], None),
            hs256(
                short.as_bytes(),
                None,
                &without(without(good(), "iss"), "aud"),
            ),
            raw_jwt(
                &json!({"alg": "none"}),
                &without(without(good(), "iss"), "aud"),
                "",
            ),
        ];
        for t in &tokens {
            host.token = Some(t.clone());
            for path in [
                "/Users",
                "/Groups",
                "/Roles",
                "/ServiceProviderConfig",
                "/Schemas",
                "/ResourceTypes",
            ] {
                assert_401(&host.get(path));
            }
            assert_401(&host.send_json("POST", "/Users", &json!({"userName": "x"})));
            assert_401(&host.send_json("POST", "/.search", &json!({"filter": "userName pr"})));
        }
        host.token = None;
        assert_401(&host.get("/Users"));
    }
}

#[test]
fn discovery_needs_a_token_unless_configured_otherwise() {
    let discovery = [
        "/ServiceProviderConfig",
        "/Schemas",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "/ResourceTypes",
        "/ResourceTypes/User",
    ];
    let mut host = Host::start();
    for p in discovery {
        assert_eq!(host.get(p).status, 200, "{p} with a token");
    }
    host.token = None;
    for p in discovery {
        assert_401(&host.get(p));
    }

    let mut open = Host::start_with(&[("SPIN_VARIABLE_DISCOVERY_REQUIRES_AUTH", "false")]);
    open.token = None;
    for p in discovery {
        let r = open.get(p);
        assert_eq!(r.status, 200, "{p} without a token: {}", r.text());
    }
    let spc = open.get("/ServiceProviderConfig").json();
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    // Discovery being open opens nothing else.
    assert_401(&open.get("/Users"));
    assert_401(&open.get("/Roles"));
    assert_401(&open.send_json("POST", "/.search", &json!({})));
    // A bad token is not needed (nor checked) for open discovery.
    let r = get_with(&open, "/ServiceProviderConfig", "Bearer garbage");
    assert_eq!(r.status, 200);
    // Discovery endpoints are read-only either way.
    let r = open.send_json("POST", "/Schemas", &json!({}));
    assert_scim_error(&r, 405);
}

/// Sends a request head announcing `content_length` body bytes and only
/// `sent` of them; returns the response and how long it took.
fn head_without_body(
    host: &Host,
    target: &str,
    headers: &[(&str, &str)],
    content_length: usize,
    sent: usize,
) -> (Resp, std::time::Duration) {
    use std::io::{Read, Write};
    let start = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(&host.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/scim+json\r\n\
         content-length: {content_length}\r\n",
        host.addr
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&b"{\"userName\": \"x\""[..sent]).unwrap();
    // Read the response head and the body its content-length announces;
    // the connection stays open (the client has not sent its body).
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("no answer within 20 s: {e}"));
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                break;
            }
        }
    }
    let took = start.elapsed();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (
        Resp {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        },
        took,
    )
}

#[test]
fn credentials_are_checked_before_the_body_is_read() {
    // A 50 MB body announced, ten bytes sent, the rest never: without a
    // usable Authorization header the answer comes at once.
    let host = Host::start();
    let valid = bearer(host.token.as_deref().unwrap());
    let target = format!("{}/Users", e2e::BASE);
    for (headers, status) in [
        (vec![], 401),
        (vec![("authorization", "Basic dXNlcjpwYXNz")], 401),
        (vec![("authorization", "Bearer not-a-jwt")], 401),
        (
            vec![
                ("authorization", valid.as_str()),
                ("authorization", valid.as_str()),
            ],
            400,
        ),
    ] {
        let (r, took) = head_without_body(&host, &target, &headers, 50_000_000, 10);
        assert_scim_error(&r, status);
        assert!(r.header("www-authenticate").is_some(), "{:?}", r.headers);
        assert!(
            took < std::time::Duration::from_secs(3),
            "{headers:?}: answered after {took:?}"
        );
    }
    // A query-string token too (RFC 6750 §2.3 is not supported).
    let (r, _) = head_without_body(
        &host,
        &format!("{target}?access_token=abc"),
        &[],
        50_000_000,
        10,
    );
    assert_401(&r);
}

#[test]
fn two_authorization_headers_are_refused() {
    let mut host = Host::start();
    let valid = bearer(host.token.as_deref().unwrap());
    host.token = None;
    // RFC 6750 §3.1: a request that repeats a parameter is an
    // invalid_request (400).
    for pair in [
        [valid.as_str(), valid.as_str()],
        [valid.as_str(), "Bearer garbage"],
        ["Bearer garbage", valid.as_str()],
        [valid.as_str(), "Basic dXNlcjpwYXNz"],
    ] {
        for (method, path, body) in [
            ("GET", "/Users", None),
            ("POST", "/Users", Some(&br#"{"userName": "twice"}"#[..])),
        ] {
            let r = host.request(
                method,
                path,
                &[
                    ("authorization", pair[0]),
                    ("authorization", pair[1]),
                    ("content-type", "application/scim+json"),
                ],
                body,
            );
            assert_scim_error(&r, 400);
            let c = r.header("www-authenticate").expect("a Bearer challenge");
            assert!(c.starts_with("Bearer realm=\"scim\""), "{c}");
            assert!(c.contains("error=\"invalid_request\""), "{c}");
        }
    }
    // Nothing was created.
    let r = get_with(&host, "/Users", &valid);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 0);
}

/// `Location` and `meta.location` of a user created with these headers.
fn locations(host: &Host, name: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut all = headers.to_vec();
    all.push(("content-type", "application/scim+json"));
    let body = json!({ "userName": name }).to_string();
    let r = host.request("POST", "/Users", &all, Some(body.as_bytes()));
    if r.status != 201 {
        return (r.status, String::new(), r.text());
    }
    let meta = r.json()["meta"]["location"].as_str().unwrap().to_string();
    (r.status, r.header("location").unwrap().to_string(), meta)
}

#[test]
fn forwarded_headers_are_honoured_only_behind_a_trusted_proxy() {
    let hostile = [
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-host", "attacker.example"),
    ];
    // Default: no proxy is trusted; the headers are ignored.
    let host = Host::start();
    let (status, location, meta) = locations(&host, "direct", &hostile);
    assert_eq!(status, 201, "{meta}");
    let own = format!("http://{}/api/scim/v2/Users/", host.addr);
    assert!(location.starts_with(&own), "{location}");
    assert_eq!(location, meta);

    // Behind a trusted proxy: honoured, when they are an http(s) scheme and
    // a host name (with an optional port).
    let proxied = Host::start_with(&[("SPIN_VARIABLE_TRUST_FORWARDED_HEADERS", "true")]);
    let (status, location, _) = locations(
        &proxied,
        "proxied",
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "scim.example.com"),
        ],
    );
    assert_eq!(status, 201);
    assert!(
        location.starts_with("https://scim.example.com/api/scim/v2/Users/"),
        "{location}"
    );
    let (_, location, _) = locations(
        &proxied,
        "proxied-port",
        &[("x-forwarded-host", "[2001:db8::1]:8443")],
    );
    assert!(
        location.starts_with("http://[2001:db8::1]:8443/api/scim/v2/Users/"),
        "{location}"
    );
    // Proxies append: the value the nearest proxy added (the last) counts.
    let (_, location, _) = locations(
        &proxied,
        "appended",
        &[
            ("x-forwarded-proto", "http, https"),
            ("x-forwarded-host", "attacker.example, scim.example.com"),
        ],
    );
    assert!(
        location.starts_with("https://scim.example.com/api/scim/v2/"),
        "{location}"
    );
    // Anything else is refused, never reflected.
    for (k, v) in [
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-proto", "https://evil"),
        ("x-forwarded-proto", "ftp"),
        ("x-forwarded-host", "attacker.example/path"),
        ("x-forwarded-host", "attacker.example\\x"),
        ("x-forwarded-host", "user@attacker.example"),
        ("x-forwarded-host", "attacker.example:99999"),
        ("x-forwarded-host", "attacker.example:"),
        ("x-forwarded-host", "<script>"),
        ("x-forwarded-host", "a b"),
    ] {
        let name = format!("bad-{}", v.len());
        let (status, location, text) = locations(&proxied, &name, &[(k, v)]);
        assert_eq!(status, 400, "{k}: {v:?} gave {location} {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["schemas"][0], ERROR, "{body}");
    }
}
