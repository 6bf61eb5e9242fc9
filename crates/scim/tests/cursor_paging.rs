//! Cursor paging (RFC 9865) through the engine: a walk returns every user
//! once while others come and go; the first and the last page of a long
//! list read the same number of keys; filtered walks, previous pages and
//! the errors a client can run into.

mod support;

use scim::storage::counting::Counting;
use scim::storage::memory::MemStore;
use serde_json::{json, Value};
use std::collections::HashMap;
use support::Api;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn user(api: &Api<Counting<MemStore>>, name: &str) -> String {
    api.create(
        "/Users",
        json!({"schemas": [USER], "userName": name, "externalId": "team-a"}),
    )
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn cursor_of(page: &Value, which: &str) -> Option<String> {
    page[which].as_str().map(str::to_string)
}

/// Every page of `/Users?{query}&cursor=…&count={count}`; between pages,
/// `meanwhile(page number)` may change the store.
fn walk(
    api: &Api<Counting<MemStore>>,
    query: &str,
    count: usize,
    mut meanwhile: impl FnMut(usize),
) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = api.call(
            "GET",
            "/Users",
            &format!("{query}cursor={cursor}&count={count}"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        assert!(page.get("startIndex").is_none(), "{page}");
        let next = cursor_of(&page, "nextCursor");
        pages.push(page);
        meanwhile(pages.len());
        match next {
            Some(n) => cursor = n,
            None => return pages,
        }
    }
}

#[test]
fn a_walk_returns_every_user_that_stays_exactly_once_while_others_come_and_go() {
    let api = Api::new(Counting::new(MemStore::new()));
    let stay: Vec<String> = (0..600).map(|i| user(&api, &format!("stay{i}"))).collect();
    let mut gone: Vec<String> = (0..300).map(|i| user(&api, &format!("gone{i}"))).collect();
    let mut made = 0;
    let pages = walk(&api, "", 7, |_| {
        // Between pages: delete three earlier users, create two new ones.
        for _ in 0..3 {
            if let Some(id) = gone.pop() {
                let (s, _) = api.call("DELETE", &format!("/Users/{id}"), "", None);
                assert_eq!(s, 204);
            }
        }
        for _ in 0..2 {
            made += 1;
            user(&api, &format!("new{made}"));
        }
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    for p in &pages {
        for id in ids(p) {
            *seen.entry(id).or_default() += 1;
        }
    }
    for id in &stay {
        assert_eq!(seen.get(id), Some(&1), "{id} seen {:?} times", seen.get(id));
    }
    assert!(seen.values().all(|n| *n == 1), "some user twice");
    // The first page has no previousCursor (RFC 9865 §2); later ones do.
    assert!(pages[0].get("previousCursor").is_none());
    assert!(pages[1]["previousCursor"].is_string());
}

#[test]
fn previous_cursors_lead_back_to_the_page_before() {
    let api = Api::new(Counting::new(MemStore::new()));
    let all: Vec<String> = (0..25).map(|i| user(&api, &format!("u{i}"))).collect();
    let pages = walk(&api, "", 10, |_| {});
    assert_eq!(pages.len(), 3);
    assert_eq!(ids(&pages[2]), all[20..25]);
    assert_eq!(pages[0]["totalResults"], 25);
    let back = cursor_of(&pages[2], "previousCursor").unwrap();
    let (_, p) = api.call("GET", "/Users", &format!("cursor={back}&count=10"), None);
    assert_eq!(ids(&p), all[10..20]);
    let back = cursor_of(&p, "previousCursor").unwrap();
    let (_, p) = api.call("GET", "/Users", &format!("cursor={back}&count=10"), None);
    assert_eq!(ids(&p), all[0..10]);
    assert!(p.get("previousCursor").is_none(), "{p}");
    assert!(p["nextCursor"].is_string());
}

/// An indexed filter (externalId eq) and a scanning one (userName sw)
/// page their matches by id; POST .search takes the cursor in its body.
#[test]
fn filtered_walks_return_every_match_once() {
    let api = Api::new(Counting::new(MemStore::new()));
    let mut want: Vec<String> = (0..23).map(|i| user(&api, &format!("m{i}"))).collect();
    api.create(
        "/Users",
        json!({"schemas": [USER], "userName": "other", "externalId": "team-b"}),
    );
    want.sort();
    for filter in ["externalId%20eq%20%22team-a%22", "userName%20sw%20%22m%22"] {
        let pages = walk(&api, &format!("filter={filter}&"), 5, |_| {});
        let got: Vec<String> = pages.iter().flat_map(ids).collect();
        assert_eq!(got, want, "{filter}");
        assert_eq!(pages[0]["totalResults"], 23);
    }
    let mut cursor = String::new();
    let mut got = Vec::new();
    loop {
        let (s, p) = api.call(
            "POST",
            "/Users/.search",
            "",
            Some(json!({"filter": "externalId eq \"team-a\"", "cursor": cursor, "count": 10})),
        );
        assert_eq!(s, 200, "{p}");
        got.extend(ids(&p));
        match cursor_of(&p, "nextCursor") {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(got, want);
}

#[test]
fn cursor_errors_are_scim_errors() {
    let api = Api::new(Counting::new(MemStore::new()));
    for i in 0..3 {
        user(&api, &format!("e{i}"));
    }
    let (_, first) = api.call("GET", "/Users", "cursor=&count=1", None);
    let next = cursor_of(&first, "nextCursor").unwrap();
    let expect = |query: &str, scim_type: &str| {
        let (status, e) = api.call("GET", "/Users", query, None);
        assert_eq!(status, 400, "{query}: {e}");
        assert_eq!(e["scimType"], scim_type, "{query}: {e}");
        assert_eq!(
            e["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    };
    expect("cursor=nonsense", "invalidCursor");
    // Another query's cursor (a filter added) is refused, not misread.
    expect(
        &format!("cursor={next}&filter=userName%20sw%20%22e%22"),
        "invalidCursor",
    );
    let (_, g) = api.call("GET", "/Groups", &format!("cursor={next}"), None);
    assert_eq!(g["scimType"], "invalidCursor", "{g}");
    // A position the list never had.
    let far = next.replace(".s0-", ".s9-");
    expect(&format!("cursor={far}"), "invalidCursor");
    expect(&format!("cursor={next}&startIndex=2"), "invalidValue");
    expect("cursor=&sortBy=userName", "invalidValue");
    // Without cursor: index paging as before, no cursors in the response.
    let (_, p) = api.call("GET", "/Users", "count=1", None);
    assert_eq!(p["startIndex"], 1);
    assert!(p.get("nextCursor").is_none());
}

/// At 1,200 users (5 list chunks) the last page costs what the first
/// costs: as many store calls, and keys read but for the last list chunk,
/// which every page reads for its count. The cost of a page does not grow
/// with its position.
#[test]
fn the_last_page_reads_as_many_keys_as_the_first() {
    let api = Api::new(Counting::new(MemStore::new()));
    for i in 0..1200 {
        user(&api, &format!("p{i:05}"));
    }
    let reads = |query: &str| {
        api.store.reset();
        let (status, page) = api.call("GET", "/Users", query, None);
        assert_eq!(status, 200);
        assert_eq!(ids(&page).len(), 100);
        let t = api.store.traffic();
        ((t.calls, t.reads), page)
    };
    let (first, page) = reads("cursor=&count=100");
    // Walk to the page before the last without counting.
    let mut cursor = cursor_of(&page, "nextCursor").unwrap();
    for _ in 0..10 {
        let (_, p) = api.call("GET", "/Users", &format!("cursor={cursor}&count=100"), None);
        cursor = cursor_of(&p, "nextCursor").unwrap();
    }
    let (last, page) = reads(&format!("cursor={cursor}&count=100"));
    assert!(
        page.get("nextCursor").is_none(),
        "the 12th page is the last"
    );
    assert_eq!(last.0, first.0, "store calls");
    assert_eq!(
        last.1 + 1,
        first.1,
        "keys read: the first page reads the last chunk too"
    );
}

/// POST /.search at the root pages users, then groups, by cursor (RFC 9865
/// §3), each once.
#[test]
fn a_root_search_pages_every_type_by_cursor() {
    let api = Api::new(Counting::new(MemStore::new()));
    let mut want: Vec<String> = (0..4).map(|i| user(&api, &format!("r{i}"))).collect();
    let mut groups: Vec<String> = (0..3)
        .map(|i| {
            api.create(
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": format!("g{i}")}),
            )
        })
        .collect();
    want.sort();
    groups.sort();
    want.extend(groups);
    let (mut got, mut cursor) = (Vec::new(), String::new());
    loop {
        let (s, p) = api.call(
            "POST",
            "/.search",
            "",
            Some(json!({"cursor": cursor, "count": 3})),
        );
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["totalResults"], 7);
        got.extend(ids(&p));
        match cursor_of(&p, "nextCursor") {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(got, want);
    // A /Users cursor means nothing at the root.
    let (_, first) = api.call("GET", "/Users", "cursor=&count=1", None);
    let next = cursor_of(&first, "nextCursor").unwrap();
    let (s, e) = api.call("POST", "/.search", "", Some(json!({"cursor": next})));
    assert_eq!((s, e["scimType"].as_str()), (400, Some("invalidCursor")));
}
