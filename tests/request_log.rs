//! The component's request log: one JSON line per request with method,
//! route template, status, duration, tenant and client id; never a token,
//! never personal data (DEVELOPERS.md, "Standards").

use e2e::{id_of, Host, TEST_SECRET};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn one_json_line_per_request_without_tokens_or_personal_data() {
    let host = Host::start();
    let email = "pat.private@example.org";
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({"userName": "pat.private", "emails": [{"value": email}], "password": "hunter2-secret"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = id_of(&r.json());
    let lookup = "/Users?filter=userName%20eq%20%22pat.private%22";
    assert_eq!(host.get(lookup).status, 200);
    assert_eq!(host.get(&format!("/Users/{id}")).status, 200);
    let bad = host.request(
        "GET",
        "/Users",
        &[("authorization", "Bearer not.a.token")],
        None,
    );
    assert_eq!(bad.status, 401);

    // Lines reach the log as the requests end; wait for all four.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = host.request_log();
    while log.len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = host.request_log();
    }
    assert_eq!(log.len(), 4, "one line per request: {log:#?}");
    let token = host.token.clone().unwrap();
    for (line, v) in &log {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "client_id",
                "duration_ms",
                "method",
                "route",
                "status",
                "tenant"
            ],
            "{line}"
        );
        assert!(
            v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{line}"
        );
        for secret in [
            token.as_str(),
            TEST_SECRET,
            "not.a.token",
            "hunter2",
            email,
            "pat.private",
            &id,
        ] {
            assert!(
                !line.contains(secret),
                "the log line leaks {secret:?}: {line}"
            );
        }
    }
    let summary: Vec<(String, String, u64)> = log
        .iter()
        .map(|(_, v)| {
            (
                v["method"].as_str().unwrap().to_string(),
                v["route"].as_str().unwrap().to_string(),
                v["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect = |m: &str, r: &str, s: u64| (m.to_string(), r.to_string(), s);
    assert_eq!(
        summary,
        [
            expect("POST", "/Users", 201),
            expect("GET", "/Users", 200),
            expect("GET", "/Users/{id}", 200),
            expect("GET", "/Users", 401),
        ]
    );
    // The authenticated requests name the client and the tenant; the refused one cannot.
    assert_eq!(log[0].1["client_id"], "e2e");
    assert_eq!(log[0].1["tenant"], "default");
    assert!(log[3].1["client_id"].is_null());
}

/// A method token is client text: the log names the standard methods and
/// records anything else as `_OTHER`.
#[test]
fn unknown_methods_are_logged_as_other() {
    let host = Host::start();
    let r = host.request("ALICEANDBOB", "/Users", &[], None);
    assert!(r.status >= 400, "{}", r.text());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = host.request_log();
    while log.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = host.request_log();
    }
    let lines: Vec<&String> = log.iter().map(|(line, _)| line).collect();
    assert!(
        !lines.iter().any(|l| l.contains("ALICEANDBOB")),
        "{lines:?}"
    );
    assert!(
        log.iter().any(|(_, v)| v["method"] == "_OTHER"),
        "{lines:?}"
    );
}
