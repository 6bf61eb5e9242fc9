//! Cursor paging (RFC 9865 §2) of `/AuditEvents` through the engine: a walk
//! in either order returns every event once while new ones are appended,
//! previous pages come back as they were, and a cursor of another query or
//! one this server never issued is 400 `invalidCursor`.

mod support;

use scim::storage::memory::MemStore;
use serde_json::{json, Value};
use support::Api;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn api() -> Api<MemStore> {
    Api::with_scopes(MemStore::default(), &["scim.write", "scim.audit"])
}

fn ids(page: &Value) -> Vec<u64> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn page(api: &Api<MemStore>, query: &str) -> Value {
    let (status, body) = api.call("GET", "/AuditEvents", query, None);
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn cursor_query(extra: &str, cursor: &str) -> String {
    format!("count=4&cursor={cursor}{extra}")
}

/// Walks with `nextCursor` from the first page to the last, creating a
/// user after each page, and answers the ids seen in order.
fn walk(api: &Api<MemStore>, extra: &str) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for n in 0.. {
        let body = page(api, &cursor_query(extra, &cursor));
        assert!(
            body.get("startIndex").is_none(),
            "cursor pages have no startIndex"
        );
        seen.extend(ids(&body));
        api.create(
            "/Users",
            json!({"schemas": [USER], "userName": format!("during-{extra}-{n}")}),
        );
        match body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    seen
}

#[test]
fn a_cursor_walk_returns_every_event_once_in_either_order() {
    let api = api();
    for i in 0..10 {
        api.create(
            "/Users",
            json!({"schemas": [USER], "userName": format!("u{i}")}),
        );
    }
    // Oldest first: the ten creates, then the ones made during the walk
    // (each is appended behind the cursor's position and still reached).
    let at_start = ids(&page(&api, "count=1000&sortOrder=ascending"));
    assert_eq!(at_start.len(), 10);
    let oldest = walk(&api, "&sortOrder=ascending");
    let mut sorted = oldest.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, oldest, "ascending, each once: {oldest:?}");
    assert!(oldest.len() >= 10 + 2, "{oldest:?}");
    assert_eq!(oldest[..10], at_start[..]);

    // Newest first: events appended during the walk are newer than the
    // first page and not returned; everything present at the start is,
    // once each.
    let before = ids(&page(&api, "count=1000"));
    let newest = walk(&api, "");
    assert_eq!(newest, before, "descending walk = the list as it was");
}

#[test]
fn previous_pages_come_back_as_they_were() {
    let api = api();
    for i in 0..9 {
        api.create(
            "/Users",
            json!({"schemas": [USER], "userName": format!("p{i}")}),
        );
    }
    let all = ids(&page(&api, "count=1000"));
    assert_eq!(all.len(), 9);
    let first = page(&api, "count=4&cursor=");
    assert!(first.get("previousCursor").is_none(), "{first}");
    let second = page(
        &api,
        &cursor_query("", first["nextCursor"].as_str().unwrap()),
    );
    let third = page(
        &api,
        &cursor_query("", second["nextCursor"].as_str().unwrap()),
    );
    assert_eq!(ids(&first), all[0..4]);
    assert_eq!(ids(&second), all[4..8]);
    assert_eq!(ids(&third), all[8..]);
    assert!(third.get("nextCursor").is_none(), "{third}");
    let back = page(
        &api,
        &cursor_query("", third["previousCursor"].as_str().unwrap()),
    );
    assert_eq!(ids(&back), ids(&second));
    let back = page(
        &api,
        &cursor_query("", back["previousCursor"].as_str().unwrap()),
    );
    assert_eq!(ids(&back), ids(&first));
    assert!(back.get("previousCursor").is_none(), "{back}");
    assert_eq!(back["totalResults"], 9);
}

#[test]
fn filtered_cursor_pages_and_bad_cursors() {
    let api = api();
    let a = api.create("/Users", json!({"schemas": [USER], "userName": "a"}));
    for i in 0..5 {
        api.create(
            "/Users",
            json!({"schemas": [USER], "userName": format!("x{i}")}),
        );
        let (s, _) = api.call(
            "PATCH",
            &format!("/Users/{a}"),
            "",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": format!("A{i}")}]})),
        );
        assert_eq!(s, 200);
    }
    let filter = format!("&filter=resourceId%20eq%20%22{a}%22");
    let first = page(&api, &format!("count=4&cursor={filter}"));
    assert_eq!(first["totalResults"], 6);
    let rest = page(
        &api,
        &cursor_query(&filter, first["nextCursor"].as_str().unwrap()),
    );
    let all: Vec<u64> = ids(&first).into_iter().chain(ids(&rest)).collect();
    assert_eq!(all.len(), 6);
    assert!(rest.get("nextCursor").is_none());
    for e in first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["Resources"].as_array().unwrap())
    {
        assert_eq!(e["resourceId"], a.as_str(), "{e}");
    }

    // A cursor of the filtered query is refused without the filter, and a
    // made-up one is refused too.
    let (status, body) = api.call(
        "GET",
        "/AuditEvents",
        &cursor_query("", first["nextCursor"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidCursor")),
        "{body}"
    );
    for bad in ["junk", "1nffffffff.i3132"] {
        let (status, body) = api.call("GET", "/AuditEvents", &cursor_query("", bad), None);
        assert_eq!(
            (status, body["scimType"].as_str()),
            (400, Some("invalidCursor")),
            "{bad}: {body}"
        );
    }
    // startIndex and cursor together: invalidValue (RFC 9865 §2).
    let (status, body) = api.call("GET", "/AuditEvents", "cursor=&startIndex=2", None);
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{body}"
    );
}
