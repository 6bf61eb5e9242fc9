//! The local host's network-side limits and its access log (issue 16, 3b
//! and 6d), over real TCP.
//!
//! Spin 4.0.2 has none of these limits (crates/host/src/limits.rs says
//! where in its source): half a request line or a stalled body holds its
//! connection, and the body its instance, until the client leaves. The
//! host closes a connection whose request head is not complete within
//! `--header-timeout`, answers 408 to a body that sends nothing for
//! `--body-idle-timeout` or is not complete within `--body-timeout` (the
//! guest reads the error a Spin guest reads when its client goes away, and
//! ends, freeing its instance), and answers 503 at once beyond
//! `--max-connections`. Each test sets short limits through
//! the host's environment and allows generous margins: the machine may be
//! loaded.
//!
//! Under `make test-spin` (real `spin up`) these tests say so and pass:
//! there is nothing of the host's to test.

use e2e::{enc, id_of, raw_request, under_spin, Host, BASE};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn skipped(test: &str) -> bool {
    if under_spin() {
        eprintln!("{test}: skipped under spin up (the local host's own behaviour)");
    }
    under_spin()
}

/// Reads from `s` until the server closes the connection (EOF or reset) or
/// `limit` passes; returns what was read and when the read ended, or `None`
/// if the connection was still open at `limit`.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Instant)> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some((got, Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            // Reset or aborted: closed by the server.
            Err(_) => return Some((got, Instant::now())),
        }
    }
}

fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A request head that never ends, and a connection that sends nothing,
/// are closed within the header timeout, as is a head trickled a byte at
/// a time (the timeout bounds the whole head, not the gaps); the host
/// serves on.
#[test]
fn slow_request_heads_are_cut_off() {
    if skipped("slow_request_heads_are_cut_off") {
        return;
    }
    let host = Host::start_with(&[("SCIM_HOST_HEADER_TIMEOUT", "1")]);
    let start = Instant::now();
    let mut half = TcpStream::connect(&host.addr).unwrap();
    half.write_all(format!("GET {BASE}/Us").as_bytes()).unwrap();
    let mut silent = TcpStream::connect(&host.addr).unwrap();
    let mut trickle = TcpStream::connect(&host.addr).unwrap();
    let mut feeder = trickle.try_clone().unwrap();
    let head = format!("GET {BASE}/ServiceProviderConfig HTTP/1.1\r\nhost: x\r\nx-slow: ");
    feeder.write_all(head.as_bytes()).unwrap();
    std::thread::spawn(move || {
        // One byte every 200 ms, for up to 30 s or until the host closes.
        for _ in 0..150 {
            std::thread::sleep(Duration::from_millis(200));
            if feeder.write_all(b"a").is_err() {
                return;
            }
        }
    });
    for (name, s) in [
        ("half a request line", &mut half),
        ("nothing sent", &mut silent),
        ("a trickled head", &mut trickle),
    ] {
        let (got, at) = read_until_closed(s, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{name}: still open after 30 s (header timeout 1 s)"));
        let took = at - start;
        eprintln!("{name}: closed after {took:?} (header timeout 1 s)");
        // Closed by the timeout, not refused at once, and not much later.
        assert!(took >= Duration::from_millis(900), "{name}: {took:?}");
        assert!(took < Duration::from_secs(15), "{name}: {took:?}");
        // No answer, or a 408: never a request served.
        assert!(
            got.is_empty() || status_of(&got) == Some(408),
            "{name}: {}",
            String::from_utf8_lossy(&got)
        );
    }
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);
}

/// 10 of 100 announced body bytes, then nothing: the client gets 408 and
/// the connection closes within the body idle timeout, and the instance
/// that was reading the body is free again. With one instance slot
/// (`SPIN_MAX_INSTANCE_COUNT=1`) a request that arrives meanwhile fails to
/// instantiate (500, as under Spin); once the stalled one has timed out the
/// slot serves again.
#[test]
fn a_stalled_body_is_answered_408_and_frees_its_instance() {
    if skipped("a_stalled_body_is_answered_408_and_frees_its_instance") {
        return;
    }
    let host = Host::start_with(&[
        ("SCIM_HOST_BODY_IDLE_TIMEOUT", "2"),
        ("SPIN_MAX_INSTANCE_COUNT", "1"),
    ]);
    // Warm: the first request pays for nothing the timings below measure.
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);

    let token = host.token.clone().unwrap();
    let mut stalled = TcpStream::connect(&host.addr).unwrap();
    let start = Instant::now();
    stalled
        .write_all(
            format!(
                "POST {BASE}/Users HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
                 content-type: application/scim+json\r\ncontent-length: 100\r\n\r\n{{\"userName",
                host.addr
            )
            .as_bytes(),
        )
        .unwrap();
    // The guest is now waiting for the rest, in the only instance slot.
    std::thread::sleep(Duration::from_millis(300));
    // The only slot is taken: as under Spin, another request fails to
    // instantiate (500) rather than waiting.
    assert_eq!(host.get("/ServiceProviderConfig").status, 500);
    let (got, closed) = read_until_closed(&mut stalled, Duration::from_secs(30))
        .expect("the stalled request is still open after 30 s (body idle timeout 2 s)");
    let took = closed - start;
    eprintln!("stalled body: answered and closed after {took:?} (body idle timeout 2 s)");
    let text = String::from_utf8_lossy(&got);
    assert_eq!(status_of(&got), Some(408), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{text}"
    );
    assert!(text.contains("\"status\":\"408\""), "{text}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");

    // The 408 freed the slot.
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);

    // Nothing was stored, and the slot serves at once.
    let t = Instant::now();
    let r = host.get("/Users");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["totalResults"], 0);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

/// A body trickled a byte every 200 ms never trips the idle timeout: the
/// total body timeout ends it (408) all the same.
#[test]
fn a_trickled_body_is_cut_off_at_the_body_timeout() {
    if skipped("a_trickled_body_is_cut_off_at_the_body_timeout") {
        return;
    }
    let host = Host::start_with(&[
        ("SCIM_HOST_BODY_IDLE_TIMEOUT", "30"),
        ("SCIM_HOST_BODY_TIMEOUT", "2"),
    ]);
    let token = host.token.clone().unwrap();
    let mut s = TcpStream::connect(&host.addr).unwrap();
    let start = Instant::now();
    s.write_all(
        format!(
            "POST {BASE}/Users HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/scim+json\r\ncontent-length: 1000\r\n\r\n{{",
            host.addr
        )
        .as_bytes(),
    )
    .unwrap();
    let mut feeder = s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..150 {
            std::thread::sleep(Duration::from_millis(200));
            if feeder.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(30))
        .expect("the trickled request is still open after 30 s (body timeout 2 s)");
    let took = closed - start;
    eprintln!("trickled body: answered and closed after {took:?} (body timeout 2 s)");
    assert_eq!(
        status_of(&got),
        Some(408),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);
}

/// A client that sends requests but reads none of the answers (600
/// pipelined `GET /Schemas`, some 12 MB of responses) is let go once the
/// host's writes have stalled for the send timeout: with one connection
/// place (`--max-connections 1`), others get 503 while it holds the place
/// and are served once it is closed.
#[test]
fn a_client_that_reads_nothing_is_let_go() {
    if skipped("a_client_that_reads_nothing_is_let_go") {
        return;
    }
    let host = Host::start_with(&[
        ("SCIM_HOST_MAX_CONNECTIONS", "1"),
        ("SCIM_HOST_SEND_TIMEOUT", "2"),
        ("SPIN_VARIABLE_DISCOVERY_REQUIRES_AUTH", "false"),
    ]);
    // The one place is free (the warm-up connection may hold it a moment).
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.get("/Schemas").status != 200 {
        assert!(Instant::now() < deadline, "the host never served");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));

    let mut deaf = TcpStream::connect(&host.addr).unwrap();
    let start = Instant::now();
    let mut writer = deaf.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let request = format!("GET {BASE}/Schemas HTTP/1.1\r\nhost: x\r\n\r\n");
    std::thread::spawn(move || {
        for _ in 0..600 {
            if writer.write_all(request.as_bytes()).is_err() {
                return;
            }
        }
    });
    // Held: refused. Then, once the host gave up on the deaf client, served.
    let mut refused = 0;
    let served = loop {
        let r = host.get("/ServiceProviderConfig");
        match r.status {
            503 => refused += 1,
            200 => break start.elapsed(),
            other => panic!("{other}: {}", r.text()),
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still refused after 60 s (send timeout 2 s)"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("a client reading nothing: its place free after {served:?} (send timeout 2 s)");
    assert!(refused > 0, "the deaf client never held the place");
    assert!(served >= Duration::from_millis(1900), "{served:?}");
    // Its connection is closed, far from all 600 answers delivered.
    let (got, _) = read_until_closed(&mut deaf, Duration::from_secs(30))
        .expect("the deaf client's connection is still open");
    assert!(got.len() < 600 * 19_000, "{} bytes", got.len());
}

/// With `--max-connections 4`, four idle connections fill the host: more
/// connections are answered 503 (a SCIM error, `Retry-After`) at once,
/// whether they send a request or nothing; when the four close, requests
/// are served again.
#[test]
fn connections_beyond_the_cap_get_503_at_once() {
    if skipped("connections_beyond_the_cap_get_503_at_once") {
        return;
    }
    let host = Host::start_with(&[
        ("SCIM_HOST_MAX_CONNECTIONS", "4"),
        // The four holders stay open for the whole test.
        ("SCIM_HOST_HEADER_TIMEOUT", "120"),
    ]);
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);
    // Four connections that send nothing take the four places. The warm-up
    // connection may still hold its place for a moment after it ended
    // (the host releases it when its connection task ends): a holder
    // answered 503 meanwhile is replaced.
    let mut holders: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while holders.len() < 4 {
        assert!(Instant::now() < deadline, "no four places within 20 s");
        let mut s = TcpStream::connect(&host.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                holders.push(s)
            }
            // Refused (503) or closed: not a place.
            _ => {}
        }
    }
    for i in 0..3 {
        let t = Instant::now();
        let r = host.get("/ServiceProviderConfig");
        let took = t.elapsed();
        eprintln!("request {i} beyond the cap: {} in {took:?}", r.status);
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.json()["status"], "503");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    let t = Instant::now();
    let mut idle = TcpStream::connect(&host.addr).unwrap();
    let (got, _) = read_until_closed(&mut idle, Duration::from_secs(10))
        .expect("an idle connection beyond the cap is answered and closed");
    eprintln!(
        "idle connection beyond the cap: answered in {:?}",
        t.elapsed()
    );
    assert_eq!(
        status_of(&got),
        Some(503),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        host.stderr_text().contains("(--max-connections)"),
        "the host says why"
    );

    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = host.get("/ServiceProviderConfig");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(
            Instant::now() < deadline,
            "still 503 10 s after the holders closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back to normal: several at once, under the cap.
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let addr = host.addr.clone();
            let bearer = format!("Bearer {}", host.token.clone().unwrap());
            std::thread::spawn(move || {
                raw_request(
                    &addr,
                    "GET",
                    &format!("{BASE}/Users"),
                    &[("authorization", &bearer)],
                    None,
                )
                .status
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), 200);
    }
}

/// The host's access log names the trigger route, never the request's
/// path or query: no user names, email addresses or ids (issue 16, 6d).
#[test]
fn the_access_log_holds_no_ids_names_or_queries() {
    if skipped("the_access_log_holds_no_ids_names_or_queries") {
        return;
    }
    let host = Host::start_logging(&[]);
    let email = "alice@example.com";
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({"userName": email, "emails": [{"value": email}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = id_of(&r.json());
    assert_eq!(host.get(&format!("/Users/{id}")).status, 200);
    let filter = format!("/Users?filter={}", enc(&format!("userName eq \"{email}\"")));
    assert_eq!(host.get(&filter).status, 200);
    assert_eq!(host.get(&format!("/Users/{email}")).status, 404);
    // Outside the trigger route: the host's own 404.
    assert_eq!(host.get(&format!("//people/{email}")).status, 404);
    // A made-up method is a client's free text too.
    let odd = host.request("ALICE", &format!("/Users/{id}"), &[], None);
    assert!(odd.status >= 400, "{}", odd.status);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = host.access_log();
    while log.len() < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = host.access_log();
    }
    assert_eq!(log.len(), 6, "one line per request: {log:#?}");
    for (line, v) in &log {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys.retain(|k| *k != "instantiate_ms");
        assert_eq!(
            keys,
            ["duration_ms", "method", "route", "status", "ts"],
            "{line}"
        );
        for personal in [
            "alice",
            "example.com",
            id.as_str(),
            "userName",
            "filter",
            "%22",
            "people",
        ] {
            assert!(
                !line.to_lowercase().contains(&personal.to_lowercase()),
                "the access log line holds {personal:?}: {line}"
            );
        }
    }
    let summary: Vec<(String, serde_json::Value, u64)> = log
        .iter()
        .map(|(_, v)| {
            (
                v["method"].as_str().unwrap().to_string(),
                v["route"].clone(),
                v["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let route = json!("/api/scim/v2/...");
    assert_eq!(
        summary,
        [
            ("POST".to_string(), route.clone(), 201),
            ("GET".to_string(), route.clone(), 200),
            ("GET".to_string(), route.clone(), 200),
            ("GET".to_string(), route.clone(), 404),
            ("GET".to_string(), serde_json::Value::Null, 404),
            ("_OTHER".to_string(), route, odd.status as u64),
        ]
    );
}
