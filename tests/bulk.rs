//! `POST /Bulk` (RFC 7644 §3.7) end to end: the RFC's examples, forward
//! and circular `bulkId` references, `failOnErrors`, per-operation
//! `version`, a 1,000-operation create, and the advertised limits.

use e2e::{create, id_of, list, member_ids, new_user, sorted, Host, Resp, ERROR, GROUP, USER};
use serde_json::{json, Value};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn bulk_body(fail_on_errors: Option<u64>, ops: Value) -> Value {
    let mut body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    body
}

/// POST /Bulk; the response must be a 200 BulkResponse: its operations.
fn bulk(host: &Host, fail_on_errors: Option<u64>, ops: Value) -> Vec<Value> {
    let r = host.send_json("POST", "/Bulk", &bulk_body(fail_on_errors, ops));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([BULK_RESPONSE]));
    v["Operations"].as_array().unwrap().clone()
}

fn statuses(ops: &[Value]) -> Vec<&str> {
    ops.iter().map(|o| o["status"].as_str().unwrap()).collect()
}

/// The path below the base of a `location`.
fn path_of(location: &Value) -> String {
    let l = location.as_str().expect("a location");
    let at = l.find("/api/scim/v2/").expect("under the base") + "/api/scim/v2".len();
    l[at..].to_string()
}

fn post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": [USER], "userName": user_name}})
}

#[test]
fn rfc_3_7_2_a_group_with_members_created_in_the_same_request() {
    let host = Host::start();
    // RFC 7644 §3.7.2's request: a user, then a group naming it by bulkId.
    let ops = bulk(
        &host,
        None,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty",
             "data": {"schemas": [USER], "userName": "Alice"}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"schemas": [GROUP], "displayName": "Tour Guides",
                      "members": [{"type": "User", "value": "bulkId:qwerty"}]}}
        ]),
    );
    assert_eq!(statuses(&ops), ["201", "201"]);
    assert_eq!(ops[0]["method"], "POST");
    assert_eq!(ops[0]["bulkId"], "qwerty");
    let alice = host.get(&path_of(&ops[0]["location"]));
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["userName"], "Alice");
    assert_eq!(ops[0]["version"], alice.json()["meta"]["version"]);
    let group = host.get(&path_of(&ops[1]["location"])).json();
    assert_eq!(member_ids(&group), [id_of(&alice.json())]);

    // The same with the references pointing forward: the group comes first
    // and names two users created after it (§3.7.2: dependency order), one
    // through `$ref`; then a PATCH of that group by bulkId.
    let ops = bulk(
        &host,
        None,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"schemas": [GROUP], "displayName": "Tourists",
                      "members": [{"value": "bulkId:b"},
                                  {"$ref": "https://example.com/v2/Users/bulkId:c", "value": "bulkId:c"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:g",
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:b\"]"}]}},
            post_user("b", "bob"),
            post_user("c", "carol")
        ]),
    );
    assert_eq!(statuses(&ops), ["201", "204", "201", "201"], "{ops:?}");
    let carol = path_of(&ops[3]["location"]);
    let group = host.get(&path_of(&ops[0]["location"])).json();
    assert_eq!(
        member_ids(&group),
        [carol.rsplit('/').next().unwrap().to_string()]
    );
    assert_eq!(ops[1]["location"], ops[0]["location"]);
}

#[test]
fn rfc_3_7_3_fail_on_errors_and_partial_failure() {
    let host = Host::start();
    let alice = new_user(&host, "Alice");
    let bob = new_user(&host, "Bob");
    // As in §3.7.3: a POST that conflicts, a PUT with a stale version, a
    // PATCH and a DELETE that would succeed.
    let ops = json!([
        post_user("qwerty", "Alice"),
        {"method": "PUT", "path": format!("/Users/{bob}"), "version": "W/\"3694e05e9dff591\"",
         "data": {"schemas": [USER], "userName": "Bob", "displayName": "Bobby"}},
        {"method": "PATCH", "path": format!("/Users/{bob}"),
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "displayName", "value": "Robert"}]}},
        {"method": "DELETE", "path": format!("/Users/{alice}")}
    ]);
    // failOnErrors 1: processing stops at the first error, which is the
    // only result; nothing after it happened.
    let r = bulk(&host, Some(1), ops.clone());
    assert_eq!(statuses(&r), ["409"]);
    assert_eq!(r[0]["bulkId"], "qwerty");
    assert!(r[0].get("location").is_none(), "a failed POST has none");
    assert_eq!(r[0]["response"]["schemas"], json!([ERROR]));
    assert_eq!(r[0]["response"]["scimType"], "uniqueness");
    assert_eq!(r[0]["response"]["status"], "409");
    assert_eq!(host.get(&format!("/Users/{alice}")).status, 200);
    assert!(host.get(&format!("/Users/{bob}")).json()["displayName"].is_null());

    // failOnErrors 2: the stale PUT is the second error (412, in that
    // operation only); the PATCH and DELETE never ran.
    let r = bulk(&host, Some(2), ops.clone());
    assert_eq!(statuses(&r), ["409", "412"]);
    assert!(r[1]["location"].as_str().unwrap().ends_with(&bob));
    assert_eq!(host.get(&format!("/Users/{alice}")).status, 200);

    // Without failOnErrors every operation runs: partial failure.
    let r = bulk(&host, None, ops);
    assert_eq!(statuses(&r), ["409", "412", "200", "204"]);
    assert_eq!(
        host.get(&format!("/Users/{bob}")).json()["displayName"],
        "Robert"
    );
    assert_eq!(host.get(&format!("/Users/{alice}")).status, 404);
    assert_eq!(list(&host, "/Users")["totalResults"], 1);
}

#[test]
fn version_acts_as_if_match_in_its_operation_only() {
    let host = Host::start();
    let u = create(&host, "/Users", json!({"schemas": [USER], "userName": "v"}));
    let id = id_of(&u);
    let current = host.get(&format!("/Users/{id}"));
    let etag = current.header("etag").unwrap().to_string();
    let put = |name: &str, version: &str| {
        json!({"method": "PUT", "path": format!("/Users/{id}"), "version": version,
               "data": {"schemas": [USER], "userName": name}})
    };
    let r = bulk(
        &host,
        None,
        json!([
            put("stale", "W/\"999\""),
            put("fresh", &etag),
            post_user("n", "new")
        ]),
    );
    assert_eq!(statuses(&r), ["412", "200", "201"]);
    assert_eq!(r[0]["response"]["status"], "412");
    let now = host.get(&format!("/Users/{id}"));
    assert_eq!(now.json()["userName"], "fresh");
    assert_eq!(r[1]["version"], now.header("etag").unwrap());
    assert_ne!(r[1]["version"], etag.as_str());
}

#[test]
fn circular_references_answer_409() {
    let host = Host::start();
    // RFC 7644 §3.7.1's example: two groups, each a member of the other.
    let ops = bulk(
        &host,
        None,
        json!([
            {"method": "POST", "path": "/Groups", "bulkId": "qwerty",
             "data": {"schemas": [GROUP], "displayName": "Group A",
                      "members": [{"type": "Group", "value": "bulkId:ytrewq"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"schemas": [GROUP], "displayName": "Group B",
                      "members": [{"type": "Group", "value": "bulkId:qwerty"}]}},
            post_user("free", "unrelated")
        ]),
    );
    assert_eq!(statuses(&ops), ["409", "409", "201"]);
    for o in &ops[..2] {
        assert_eq!(o["response"]["status"], "409");
        assert!(o["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circular"));
    }
    assert_eq!(list(&host, "/Groups")["totalResults"], 0);
    assert_eq!(list(&host, "/Users")["totalResults"], 1);
}

#[test]
fn roles_members_by_bulk_and_the_catalog_stays_read_only() {
    let host = Host::start();
    let role = e2e::PROCESSOR;
    let ops = bulk(
        &host,
        None,
        json!([
            {"method": "PUT", "path": format!("/Roles/{role}"),
             "data": {"members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}]}},
            post_user("a", "ann"),
            post_user("b", "ben"),
            {"method": "POST", "path": "/Roles", "bulkId": "r", "data": {"displayName": "New"}},
            {"method": "DELETE", "path": format!("/Roles/{role}")}
        ]),
    );
    assert_eq!(statuses(&ops), ["200", "201", "201", "405", "405"]);
    let ids = |o: &Value| {
        path_of(&o["location"])
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let members = member_ids(&host.get(&format!("/Roles/{role}")).json());
    assert_eq!(sorted(members), sorted(vec![ids(&ops[1]), ids(&ops[2])]));
}

#[test]
fn a_thousand_creates_in_one_request() {
    let host = Host::start();
    // Close to bulk_max_payload_bytes (2 MiB), over max_body_bytes (1 MiB).
    let pad = "p".repeat(1_900);
    let ops: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": {"schemas": [USER], "userName": format!("user{i:04}"), "title": pad}})
        })
        .collect();
    let body = serde_json::to_vec(&bulk_body(None, json!(ops))).unwrap();
    assert!(
        body.len() > 1_900_000 && body.len() < 2 * 1024 * 1024,
        "{}",
        body.len()
    );
    let (status, answer) = post_patiently(&host, &body);
    assert_eq!(status, 200, "{answer}");
    let ops = answer["Operations"].as_array().unwrap().clone();
    assert_eq!(ops.len(), 1000);
    assert!(ops.iter().all(|o| o["status"] == "201"), "all created");
    let mut seen = std::collections::HashSet::new();
    for (i, o) in ops.iter().enumerate() {
        assert_eq!(o["bulkId"], format!("u{i}"));
        let user = host.get(&path_of(&o["location"]));
        assert_eq!(user.status, 200);
        assert_eq!(user.json()["userName"], format!("user{i:04}"));
        assert!(seen.insert(id_of(&user.json())));
    }
    assert_eq!(list(&host, "/Users")["totalResults"], 1000);
}

/// POST /Bulk, waiting up to ten minutes for the answer: the operations
/// run one after another, so a bulk takes as long as its single requests
/// together, and under `spin up` (SQLite with a sync per write) on a busy
/// machine 1,000 creates took over two minutes, past the suites' usual
/// 60 s read timeout.
fn post_patiently(host: &Host, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&host.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(600)))
        .unwrap();
    let head = format!(
        "POST {}/Bulk HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\
         authorization: Bearer {}\r\ncontent-type: application/scim+json\r\n\
         content-length: {}\r\n\r\n",
        e2e::BASE,
        host.addr,
        host.token.as_deref().unwrap_or_default(),
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-length:"), "a sized answer: {head}");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let answer = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
    (status, answer)
}

fn too_large(r: &Resp, names: &str) {
    assert_eq!(r.status, 413, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([ERROR]));
    assert_eq!(v["status"], "413");
    assert!(v["detail"].as_str().unwrap().contains(names), "{v}");
}

#[test]
fn limits_are_advertised_and_enforced_with_413() {
    let host = Host::start();
    let spc = host.get("/ServiceProviderConfig").json();
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 2 * 1024 * 1024);
    // One operation too many.
    let ops: Vec<Value> = (0..1001)
        .map(|i| post_user(&format!("b{i}"), &format!("n{i}")))
        .collect();
    let r = host.send_json("POST", "/Bulk", &bulk_body(None, json!(ops)));
    too_large(&r, "maxOperations is 1000");
    // A body over maxPayloadSize: refused before it is read.
    let mut body = serde_json::to_vec(&bulk_body(
        None,
        json!([{"method": "POST", "path": "/Users", "bulkId": "x",
                "data": {"schemas": [USER], "userName": "x", "title": ""}}]),
    ))
    .unwrap();
    let at = body.len() - 6;
    body.splice(at..at, std::iter::repeat_n(b'p', 2 * 1024 * 1024));
    let r = host.request(
        "POST",
        "/Bulk",
        &[("content-type", "application/scim+json")],
        Some(&body),
    );
    too_large(&r, "maxPayloadSize");
    assert_eq!(list(&host, "/Users")["totalResults"], 0);
    // Smaller limits by variable.
    let host = Host::start_with(&[
        ("SPIN_VARIABLE_BULK_MAX_OPERATIONS", "2"),
        ("SPIN_VARIABLE_BULK_MAX_PAYLOAD_BYTES", "1000"),
    ]);
    let spc = host.get("/ServiceProviderConfig").json();
    assert_eq!(spc["bulk"]["maxOperations"], 2);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 1000);
    let three = json!([
        post_user("a", "a"),
        post_user("b", "b"),
        post_user("c", "c")
    ]);
    too_large(
        &host.send_json("POST", "/Bulk", &bulk_body(None, three)),
        "maxOperations is 2",
    );
    let pad = "p".repeat(1000);
    let big = json!([{"method": "POST", "path": "/Users", "bulkId": "x",
                      "data": {"schemas": [USER], "userName": "x", "title": pad}}]);
    too_large(
        &host.send_json("POST", "/Bulk", &bulk_body(None, big)),
        "bulk_max_payload_bytes: 1000",
    );
}

#[test]
fn bulk_needs_the_write_scope_and_a_well_formed_request() {
    let mut host = Host::start();
    host.token = Some(e2e::token_with(&["scim.read"], None));
    let r = host.send_json(
        "POST",
        "/Bulk",
        &bulk_body(None, json!([post_user("a", "a")])),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    host.token = Some(e2e::token_with(&["scim.read", "scim.write"], None));
    assert_eq!(host.get("/Bulk").status, 405);
    for (body, scim_type) in [
        (json!({"Operations": []}), "invalidSyntax"),
        (json!({"schemas": [BULK_REQUEST]}), "invalidSyntax"),
        (
            bulk_body(Some(0), json!([post_user("a", "a")])),
            "invalidValue",
        ),
        (
            bulk_body(None, json!([post_user("a", "a"), post_user("a", "b")])),
            "invalidValue",
        ),
    ] {
        let r = host.send_json("POST", "/Bulk", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["scimType"], scim_type, "{body}");
    }
    // A malformed operation fails alone.
    let r = bulk(
        &host,
        None,
        json!([
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}},
            {"method": "POST", "path": "/Users/.search", "bulkId": "s", "data": {}},
            {"method": "PUT", "path": "/Users/bulkId:nowhere", "data": {"userName": "x"}},
            post_user("ok", "fine")
        ]),
    );
    assert_eq!(statuses(&r), ["400", "400", "400", "400", "201"]);
    assert_eq!(list(&host, "/Users")["totalResults"], 1);
}

#[test]
fn concurrent_bulks_keep_one_winner_per_name() {
    // Two bulk requests racing to create the same 50 names: the uniqueness
    // claim of POST /Users holds inside a bulk too (docs/storage.md).
    let host = Host::start();
    let ops: Vec<Value> = (0..50)
        .map(|i| post_user(&format!("u{i}"), &format!("race{i}")))
        .collect();
    let body = bulk_body(None, json!(ops));
    let results: Vec<Vec<Value>> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let r = host.send_json("POST", "/Bulk", &body);
                    assert_eq!(r.status, 200, "{}", r.text());
                    r.json()["Operations"].as_array().unwrap().clone()
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        let mut got = [a["status"].as_str().unwrap(), b["status"].as_str().unwrap()];
        got.sort();
        assert_eq!(got, ["201", "409"], "race{i}");
    }
    assert_eq!(results[0].len(), 50);
    assert_eq!(list(&host, "/Users")["totalResults"], 50);
}
