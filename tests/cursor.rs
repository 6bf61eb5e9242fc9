//! Cursor paging (RFC 9865) end to end: the real `.wasm` in the local host.
//! A walker pages through the users with a small `count` while another
//! client creates and deletes users: every user that exists during the
//! whole walk comes back exactly once. Also the ServiceProviderConfig's
//! `pagination` block (RFC 9865 §4), previous pages, cursors in a
//! SearchRequest body (§3), roles, and the 400 errors.

use e2e::{create, enc, id_of, list, new_user, Host, ERROR, SEARCH, USER};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

fn next(page: &Value) -> Option<String> {
    page["nextCursor"].as_str().map(str::to_string)
}

#[test]
fn the_service_provider_config_advertises_both_pagination_methods() {
    let host = Host::start();
    let spc = host.get("/ServiceProviderConfig").json();
    let p = &spc["pagination"];
    assert_eq!(p["cursor"], true, "{spc}");
    assert_eq!(p["index"], true);
    assert_eq!(p["defaultPaginationMethod"], "index");
    assert_eq!(p["defaultPageSize"], 10);
    assert_eq!(p["maxPageSize"], 1000);
    assert!(p["cursorTimeout"].as_u64().unwrap() > 0);
}

#[test]
fn a_walk_returns_every_user_that_stays_exactly_once_while_others_come_and_go() {
    let host = Arc::new(Host::start());
    let stay: Vec<String> = (0..250)
        .map(|i| new_user(&host, &format!("stay{i}")))
        .collect();
    let churn: Vec<String> = (0..120)
        .map(|i| new_user(&host, &format!("churn{i}")))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (host, done) = (host.clone(), done.clone());
        std::thread::spawn(move || {
            // Delete the churn users one by one (interleaved with the walk)
            // and create new ones, until the walker is done.
            let mut churn = churn;
            let mut made = 0;
            while !done.load(Ordering::SeqCst) {
                if let Some(id) = churn.pop() {
                    let r = host.request("DELETE", &format!("/Users/{id}"), &[], None);
                    assert_eq!(r.status, 204, "{}", r.text());
                }
                made += 1;
                new_user(&host, &format!("new{made}"));
            }
            made
        })
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list(&host, &format!("/Users?cursor={cursor}&count=7"));
        pages += 1;
        for id in ids(&page) {
            *seen.entry(id).or_default() += 1;
        }
        match next(&page) {
            Some(c) => cursor = c,
            None => break,
        }
    }
    done.store(true, Ordering::SeqCst);
    let made = writer.join().unwrap();
    assert!(made > 0 && pages > 30, "made {made} users in {pages} pages");
    for id in &stay {
        assert_eq!(seen.get(id), Some(&1), "user {id}");
    }
    assert!(seen.values().all(|n| *n == 1), "a user came back twice");
}

#[test]
fn pages_go_back_and_cursors_work_in_a_search_body() {
    let host = Host::start();
    let all: Vec<String> = (0..12).map(|i| new_user(&host, &format!("b{i}"))).collect();
    let first = list(&host, "/Users?cursor&count=5");
    assert_eq!(ids(&first), all[0..5]);
    assert_eq!(first["totalResults"], 12);
    assert!(first.get("previousCursor").is_none(), "{first}");
    let second = list(
        &host,
        &format!("/Users?cursor={}&count=5", next(&first).unwrap()),
    );
    assert_eq!(ids(&second), all[5..10]);
    let back = second["previousCursor"].as_str().unwrap();
    assert_eq!(
        ids(&list(&host, &format!("/Users?cursor={back}&count=5"))),
        all[0..5]
    );

    // RFC 9865 §3: the cursor in a SearchRequest, with an indexed filter.
    let mut want: Vec<String> = all.clone();
    want.sort();
    let mut got = Vec::new();
    let mut cursor = String::new();
    loop {
        let body = json!({"schemas": [SEARCH], "filter": "userName sw \"b\"",
                          "cursor": cursor, "count": 5});
        let r = host.send_json("POST", "/Users/.search", &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        got.extend(ids(&page));
        match next(&page) {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(got, want);

    // Roles (the catalog) page by cursor too.
    let roles = list(&host, "/Roles?cursor=&count=1");
    assert_eq!(ids(&roles).len(), 1);
    if roles["totalResults"].as_u64() > Some(1) {
        let more = list(
            &host,
            &format!("/Roles?cursor={}&count=1", next(&roles).unwrap()),
        );
        assert_ne!(ids(&more), ids(&roles));
    }
}

#[test]
fn bad_cursors_are_scim_errors() {
    let host = Host::start();
    for i in 0..3 {
        create(
            &host,
            "/Users",
            json!({"schemas": [USER], "userName": format!("c{i}")}),
        );
    }
    let good = next(&list(&host, "/Users?cursor=&count=1")).unwrap();
    let cases = [
        ("/Users?cursor=not-ours".to_string(), "invalidCursor"),
        (format!("/Groups?cursor={good}"), "invalidCursor"),
        (
            format!("/Users?cursor={good}&filter={}", enc("userName eq \"c1\"")),
            "invalidCursor",
        ),
        (format!("/Users?cursor={good}&startIndex=1"), "invalidValue"),
        ("/Users?cursor=&sortBy=userName".to_string(), "invalidValue"),
    ];
    for (path, scim_type) in cases {
        let r = host.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let e = r.json();
        assert_eq!(e["schemas"], json!([ERROR]), "{path}");
        assert_eq!(e["scimType"], scim_type, "{path}: {e}");
    }
}
