//! `token_jwks_url` end to end (issue 16, item 3): the real `.wasm` in the
//! local host fetches its verification keys (RFC 7517 §5) from a live JWKS
//! server that the test runs (std::net, a thread per connection), which
//! answers, answers slowly, hangs, trickles its body, or returns garbage.
//!
//! What must hold: a fetch ends within its timeouts (`token_jwks_timeout_ms`
//! for connect, first byte, between bytes and in total), at most one fetch is
//! in flight (the others answer 503 with `Retry-After` at once), a failure is
//! remembered briefly (no new connection for a few seconds), keys that were
//! fetched are cached, SAP XSUAA's `token_keys` format works, and what went
//! wrong is logged as a warning line without the token.

use e2e::{Host, Resp, ERROR};
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ISS: &str = "https://uaa.example";
const AUD: &str = "scim-api";

/// What the JWKS server does with the next request.
#[derive(Clone)]
enum Mode {
    /// 200 with this body at once.
    Answer(String),
    /// The same after a pause.
    Slow(Duration, String),
    /// Read the request, never answer (the connection stays open).
    Hang,
    /// The response head at once, then the body one byte per pause.
    Trickle(Duration, String),
    /// 200 with a body that is no key set.
    Garbage,
}

/// A JWKS server on an ephemeral port of 127.0.0.1.
struct JwksServer {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(mode: Mode) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the JWKS server");
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let hits = Arc::new(AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (m, h) = (m.clone(), h.clone());
                std::thread::spawn(move || serve(conn, &m, &h));
            }
        });
        JwksServer { port, mode, hits }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/token_keys", self.port)
    }

    /// The `scheme://host:port` for `allowed_outbound_hosts`.
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve(mut conn: TcpStream, mode: &Mutex<Mode>, hits: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let mode = mode.lock().unwrap().clone();
    let ok = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match mode {
        Mode::Answer(body) => {
            let _ = conn.write_all(ok(&body).as_bytes());
        }
        Mode::Slow(pause, body) => {
            std::thread::sleep(pause);
            let _ = conn.write_all(ok(&body).as_bytes());
        }
        Mode::Hang => std::thread::sleep(Duration::from_secs(300)),
        Mode::Trickle(pause, body) => {
            let response = ok(&body);
            let split = response.find("\r\n\r\n").unwrap() + 4;
            if conn.write_all(&response.as_bytes()[..split]).is_err() {
                return;
            }
            for b in response[split..].bytes() {
                if conn.write_all(&[b]).and_then(|_| conn.flush()).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
        }
        Mode::Garbage => {
            let _ = conn.write_all(ok("<html>not a key set</html>").as_bytes());
        }
    }
}

/// The identity provider's keys, generated once per test run.
struct Keys {
    es256: ES256KeyPair,
    rsa: RS256KeyPair,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        es256: ES256KeyPair::generate().with_key_id("ec-1"),
        rsa: RS256KeyPair::generate(2048)
            .expect("RSA key")
            .with_key_id("rsa-1"),
    })
}

/// A standard JWK Set with the EC key.
fn jwks() -> String {
    let jwk: Value =
        serde_json::from_str(&keys().es256.public_key().with_key_id("ec-1").to_jwk()).unwrap();
    json!({ "keys": [jwk] }).to_string()
}

/// SAP XSUAA's `token_keys`: the RSA key as a PEM in `value`, no `n`/`e`.
fn xsuaa_token_keys() -> String {
    json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "rsa-1",
        "value": keys().rsa.public_key().to_pem().unwrap(),
    }]})
    .to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> JWTClaims<Map<String, Value>> {
    let t = now();
    let payload = json!({"iss": ISS, "aud": AUD, "sub": "idp-client", "client_id": "idp-client",
                         "scope": "scim.read scim.write", "iat": t, "nbf": t, "exp": t + 600});
    serde_json::from_value(payload).unwrap()
}

fn es256_token() -> String {
    keys().es256.sign(claims()).unwrap()
}

fn rs256_token() -> String {
    keys().rsa.sign(claims()).unwrap()
}

/// A token signed by a key the server does not publish, under a new `kid`.
fn stranger_token() -> String {
    ES256KeyPair::generate()
        .with_key_id("ec-unknown")
        .sign(claims())
        .unwrap()
}

/// A host whose only keys come from `server`, fetched with `timeout_ms`.
fn host_for(server: &JwksServer, timeout_ms: u64) -> Host {
    let timeout = timeout_ms.to_string();
    let mut host = Host::start_with(&[
        ("SPIN_VARIABLE_TOKEN_HS256_SECRET", ""),
        ("SPIN_VARIABLE_TOKEN_JWKS_URL", &server.url()),
        ("SPIN_VARIABLE_JWKS_ALLOWED_HOST", &server.origin()),
        ("SPIN_VARIABLE_TOKEN_ISSUER", ISS),
        ("SPIN_VARIABLE_TOKEN_AUDIENCE", AUD),
        ("SPIN_VARIABLE_TOKEN_JWKS_TIMEOUT_MS", &timeout),
    ]);
    host.token = Some(es256_token());
    host
}

/// `GET /Users`, timed.
fn timed_get(host: &Host) -> (Resp, Duration) {
    let start = Instant::now();
    let r = host.get("/Users");
    (r, start.elapsed())
}

/// 503, a SCIM error, and a `Retry-After` of a few seconds; returns it.
fn assert_503_retry_after(r: &Resp) -> u64 {
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(body["schemas"][0], ERROR, "{body}");
    assert_eq!(body["status"], "503", "{body}");
    let secs: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("503 without Retry-After: {:?}", r.headers))
        .parse()
        .expect("Retry-After in seconds (RFC 9110 §10.2.3)");
    assert!((1..=60).contains(&secs), "Retry-After: {secs}");
    secs
}

/// The component's warning lines (`"level": "warn"`) so far.
fn warnings(host: &Host) -> Vec<Value> {
    host.request_log()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["level"] == "warn")
        .collect()
}

/// Waits until `host` has logged `n` warnings with `event`; returns them.
fn wait_for_warnings(host: &Host, event: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w: Vec<Value> = warnings(host)
            .into_iter()
            .filter(|v| v["event"] == event)
            .collect();
        if w.len() >= n || Instant::now() > deadline {
            return w;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_from_the_url_verify_tokens_and_are_cached() {
    let server = JwksServer::start(Mode::Answer(jwks()));
    let mut host = host_for(&server, 2000);
    let r = host.get("/Users");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.hits(), 1, "the first request fetches the key set");
    for _ in 0..5 {
        assert_eq!(host.get("/Users").status, 200);
    }
    assert_eq!(server.hits(), 1, "then it is served from the cache");
    // A token whose kid the set lacks: 401. Within 30 s of the last fetch
    // it triggers no refresh: forged kids do not hammer the IdP.
    host.token = Some(stranger_token());
    for _ in 0..3 {
        let r = host.get("/Users");
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert_eq!(server.hits(), 1, "no refresh within 30 s");
}

#[test]
fn sap_xsuaa_token_keys_work() {
    let server = JwksServer::start(Mode::Answer(xsuaa_token_keys()));
    let mut host = host_for(&server, 2000);
    host.token = Some(rs256_token());
    let r = host.send_json("POST", "/Users", &json!({"userName": "from-xsuaa"}));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(server.hits(), 1);
}

#[test]
fn a_slow_answer_within_the_timeout_is_waited_for() {
    let server = JwksServer::start(Mode::Slow(Duration::from_millis(400), jwks()));
    let host = host_for(&server, 3000);
    let (r, took) = timed_get(&host);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(took >= Duration::from_millis(400), "{took:?}");
}

#[test]
fn a_hanging_server_answers_503_in_bounded_time_and_the_failure_is_remembered() {
    let server = JwksServer::start(Mode::Hang);
    let host = host_for(&server, 1000);
    let (r, took) = timed_get(&host);
    eprintln!("hanging JWKS server, timeout 1000 ms: 503 after {took:?}");
    assert_503_retry_after(&r);
    assert!(
        took >= Duration::from_millis(900),
        "the timeout applies: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "bounded by the timeout: {took:?}"
    );
    assert_eq!(server.hits(), 1);
    // The failure is remembered: the next requests answer at once, without
    // a new connection to the IdP.
    for _ in 0..3 {
        let (r, took) = timed_get(&host);
        assert_503_retry_after(&r);
        assert!(took < Duration::from_millis(800), "503 at once: {took:?}");
    }
    assert_eq!(server.hits(), 1, "a failure is cached briefly");
    // The failure is logged, without the token.
    let logged = wait_for_warnings(&host, "jwks_fetch_failed", 1);
    assert_eq!(logged.len(), 1, "one warning per failed fetch: {logged:?}");
    let line = logged[0].to_string();
    assert!(!line.contains(host.token.as_deref().unwrap()), "{line}");
    // Once the IdP answers again, the next attempt after the back-off
    // succeeds.
    server.set(Mode::Answer(jwks()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = host.get("/Users");
        if r.status == 200 {
            break;
        }
        assert_503_retry_after(&r);
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_late_first_byte_is_a_timeout() {
    let server = JwksServer::start(Mode::Slow(Duration::from_secs(5), jwks()));
    let host = host_for(&server, 1000);
    let (r, took) = timed_get(&host);
    eprintln!("JWKS answering after 5 s, timeout 1000 ms: 503 after {took:?}");
    assert_503_retry_after(&r);
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_stalled_tls_handshake_is_a_timeout_too() {
    // An https:// URL on a server that accepts the connection and never
    // answers the TLS handshake. Spin bounds the handshake by the first-byte
    // timeout; the component keeps its own deadline for hosts that do not.
    let server = JwksServer::start(Mode::Hang);
    let origin = format!("https://127.0.0.1:{}", server.port);
    let url = format!("{origin}/token_keys");
    let mut host = Host::start_with(&[
        ("SPIN_VARIABLE_TOKEN_HS256_SECRET", ""),
        ("SPIN_VARIABLE_TOKEN_JWKS_URL", &url),
        ("SPIN_VARIABLE_JWKS_ALLOWED_HOST", &origin),
        ("SPIN_VARIABLE_TOKEN_ISSUER", ISS),
        ("SPIN_VARIABLE_TOKEN_AUDIENCE", AUD),
        ("SPIN_VARIABLE_TOKEN_JWKS_TIMEOUT_MS", "1000"),
    ]);
    host.token = Some(es256_token());
    let (r, took) = timed_get(&host);
    eprintln!("stalled TLS handshake, timeout 1000 ms: 503 after {took:?}");
    assert_503_retry_after(&r);
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_trickling_body_is_cut_off_at_the_total_timeout() {
    // Each byte comes well within the between-bytes timeout, but the whole
    // body would take minutes.
    let server = JwksServer::start(Mode::Trickle(Duration::from_millis(100), jwks()));
    let host = host_for(&server, 1000);
    let (r, took) = timed_get(&host);
    eprintln!("trickling JWKS body, timeout 1000 ms: 503 after {took:?}");
    assert_503_retry_after(&r);
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn garbage_is_503_and_logged() {
    let server = JwksServer::start(Mode::Garbage);
    let host = host_for(&server, 1000);
    let r = host.get("/Users");
    assert_503_retry_after(&r);
    let logged = wait_for_warnings(&host, "jwks_fetch_failed", 1);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]["detail"].as_str().unwrap().contains("JSON"),
        "{logged:?}"
    );
    // Unsigned or HS256 tokens never fetch.
    let before = server.hits();
    let mut host = host;
    host.token = Some(HS256Key::generate().authenticate(claims()).unwrap());
    assert_eq!(host.get("/Users").status, 401);
    assert_eq!(server.hits(), before);
}

#[test]
fn one_fetch_in_flight_the_others_answer_503_at_once() {
    let server = JwksServer::start(Mode::Hang);
    let host = Arc::new(host_for(&server, 3000));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || timed_get(&host))
        })
        .collect();
    let results: Vec<(Resp, Duration)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut times: Vec<Duration> = results.iter().map(|(_, t)| *t).collect();
    times.sort();
    eprintln!("8 concurrent requests, hanging JWKS server, timeout 3000 ms: {times:?}");
    for (r, _) in &results {
        assert_503_retry_after(r);
    }
    assert_eq!(server.hits(), 1, "exactly one fetch reached the IdP");
    // One request waits for the fetch; the others do not.
    let waited = times
        .iter()
        .filter(|t| **t >= Duration::from_millis(2500))
        .count();
    assert_eq!(waited, 1, "{times:?}");
}

#[test]
fn configuration_problems_are_logged_once() {
    // An http:// JWKS URL (the test server) is a configuration problem.
    let server = JwksServer::start(Mode::Answer(jwks()));
    let host = host_for(&server, 2000);
    for _ in 0..3 {
        assert_eq!(host.get("/Users").status, 200);
    }
    let logged = wait_for_warnings(&host, "config", 1);
    assert_eq!(logged.len(), 1, "logged once, not per request: {logged:?}");
    let problems = logged[0]["problems"].as_array().expect("a list");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("https")),
        "{problems:?}"
    );
}
