//! Property test over the whole request path (issue #6): arbitrary methods,
//! paths, query strings, headers and bodies (valid-ish SCIM JSON and junk)
//! through `Service::handle` on a `MemStore`, with a valid HS256 token most of
//! the time. Whatever comes in:
//!
//! - nothing panics;
//! - no 5xx, except 501 (`/Bulk`, `/Me`) and the documented role-catalog
//!   500 (which a good catalog never produces);
//! - every non-2xx/304 response is a SCIM error (RFC 7644 §3.12), and a 401
//!   carries a Bearer challenge;
//! - a failed request (3xx/4xx) and any read leave the store byte-identical.

use proptest::prelude::*;
use scim::api::{Env, Service};
use scim::auth::{mint_hs256, DevClaims};
use scim::config::Config;
use scim::http::Request;
use scim::storage::kv::Store;
use scim::storage::memory::MemStore;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SECRET: &str = "request-props-secret-0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const CATALOG: &str = include_str!("../../../roles.json");
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_TYPES: &[&str] = &[
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
];

fn service() -> Service {
    let mut cfg = Config::default();
    cfg.auth.hs256_secret = Some(SECRET.into());
    cfg.scan_max = 50;
    Service::new(cfg)
}

fn token(scopes: &[&str]) -> String {
    mint_hs256(
        SECRET,
        &DevClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            client_id: Some("props".into()),
            ttl_secs: 3600,
            issued_at: Some(NOW),
            ..Default::default()
        },
    )
    .unwrap()
}

fn role_id() -> String {
    let c: Value = serde_json::from_str(CATALOG).unwrap();
    c["roles"][0]["id"].as_str().unwrap().to_string()
}

fn send(svc: &Service, store: &MemStore, req: &Request) -> scim::http::Response {
    let catalog = || Ok(CATALOG.to_string());
    svc.handle(
        req,
        &Env {
            store,
            now: NOW + 10,
            fetcher: &scim::auth::jwks::NoFetcher,
            catalog_source: &catalog,
        },
    )
    .response
}

fn request(
    method: &str,
    path: &str,
    query: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body,
        base_url: "https://scim.example/api/scim/v2".into(),
    }
}

/// A store with a user (in a group and a role) and an empty group; their ids.
fn seeded(svc: &Service) -> (MemStore, String, String) {
    let store = MemStore::new();
    let auth = vec![
        (
            "authorization".to_string(),
            format!("Bearer {}", token(&["scim.write"])),
        ),
        (
            "content-type".to_string(),
            "application/scim+json".to_string(),
        ),
    ];
    let post = |path: &str, body: Value| {
        let r = send(
            svc,
            &store,
            &request(
                "POST",
                path,
                "",
                auth.clone(),
                body.to_string().into_bytes(),
            ),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let uid = post(
        "/Users",
        json!({"userName": "seed", "externalId": "x-seed", "displayName": "Seed",
               "emails": [{"value": "seed@example.com", "type": "work", "primary": true}],
               "name": {"givenName": "S", "familyName": "Eed"}, "active": true}),
    );
    let gid = post(
        "/Groups",
        json!({"displayName": "seeds", "members": [{"value": uid}]}),
    );
    post("/Groups", json!({"displayName": "empty"}));
    let r = send(
        svc,
        &store,
        &request(
            "PATCH",
            &format!("/Roles/{}", role_id()),
            "",
            auth.clone(),
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]})
                .to_string()
                .into_bytes(),
        ),
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    (store, uid, gid)
}

fn snapshot(store: &MemStore) -> BTreeMap<String, Vec<u8>> {
    store
        .keys()
        .into_iter()
        .map(|k| {
            let v = store.get(&k).unwrap().unwrap_or_default();
            (k, v)
        })
        .collect()
}

// ---- strategies -----------------------------------------------------------------

/// Placeholders replaced by the seeded ids when the request is built.
const UID: &str = "{uid}";
const GID: &str = "{gid}";
const RID: &str = "{rid}";

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["HEAD", "OPTIONS", "get", "Patch"]).prop_map(str::to_string),
        1 => "[A-Z]{1,8}",
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "Users", "Groups", "Roles", ".search", "ServiceProviderConfig", "Schemas",
            "ResourceTypes", "users", "GROUPS", "Bulk", "Me", "User", "Group",
            "urn:ietf:params:scim:schemas:core:2.0:User", "..", ".", "%00", "%2F",
        ])
        .prop_map(str::to_string),
        4 => prop::sample::select(vec![UID, GID, RID]).prop_map(str::to_string),
        1 => Just("2819c223-7f76-453a-919d-413861904646".to_string()),
        1 => "\\PC{0,12}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        // The common shapes, often.
        4 => (prop::sample::select(vec!["Users", "Groups", "Roles"]), prop::option::of(segment()))
            .prop_map(|(t, s)| match s {
                Some(s) => format!("/{t}/{s}"),
                None => format!("/{t}"),
            }),
        3 => (prop::sample::select(vec!["Users", "Groups", "Roles"]), prop::sample::select(vec![UID, GID, RID]))
            .prop_map(|(t, id)| format!("/{t}/{id}")),
        2 => prop::collection::vec(segment(), 0..4).prop_map(|s| format!("/{}", s.join("/"))),
        1 => "\\PC{0,30}",
    ]
}

fn attr_path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "userName",
            "displayName",
            "externalId",
            "id",
            "active",
            "title",
            "name.givenName",
            "name",
            "emails",
            "emails.value",
            "emails[type eq \"work\"].value",
            "emails[primary eq true]",
            "members",
            "members.value",
            "members[value eq \"{uid}\"]",
            "groups",
            "roles",
            "meta.created",
            "meta.lastModified",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "phoneNumbers[type eq \"work\"].value",
            "schemas",
            "nope",
            "emails[",
            "",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z.\\[\\]\" ]{0,20}",
    ]
}

fn filter() -> impl Strategy<Value = String> {
    let leaf = (
        attr_path(),
        prop::sample::select(vec![
            "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "xx",
        ]),
        prop::sample::select(vec![
            "\"seed\"",
            "\"SEED\"",
            "\"{uid}\"",
            "\"seed@example.com\"",
            "true",
            "false",
            "null",
            "1",
            "-2.5",
            "\"2023-01-01T00:00:00Z\"",
            "\"\"",
            "\"unterminated",
            "",
        ]),
    )
        .prop_map(|(a, op, v)| {
            if op == "pr" {
                format!("{a} pr")
            } else {
                format!("{a} {op} {v}")
            }
        });
    let tree = leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "or", "AND", "Or"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|f| format!("not ({f})")),
            inner.clone().prop_map(|f| format!("({f})")),
            (
                prop::sample::select(vec!["emails", "members", "groups", "name"]),
                inner
            )
                .prop_map(|(a, f)| format!("{a}[{f}]")),
        ]
    });
    prop_oneof![8 => tree, 1 => "\\PC{0,40}", 1 => Just("(".repeat(40))]
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query() -> impl Strategy<Value = String> {
    let pair = prop_oneof![
        4 => filter().prop_map(|f| format!("filter={}", percent(&f))),
        1 => filter().prop_map(|f| format!("Filter={}", f.replace(' ', "+"))),
        2 => prop::sample::select(vec!["count", "startIndex", "COUNT"])
            .prop_flat_map(|k| (Just(k), prop_oneof![
                Just("0".to_string()), Just("-5".to_string()), Just("abc".to_string()),
                Just("99999999999999999999".to_string()), (0i64..30).prop_map(|n| n.to_string())]))
            .prop_map(|(k, v)| format!("{k}={v}")),
        2 => (prop::sample::select(vec!["sortBy", "attributes", "excludedAttributes"]), attr_path())
            .prop_map(|(k, v)| format!("{k}={}", percent(&v))),
        1 => prop::sample::select(vec!["sortOrder=descending", "sortOrder=sideways", "access_token=abc",
                                        "attributes=userName,emails.value,members", "excludedAttributes=members"])
            .prop_map(str::to_string),
        1 => "[ -~]{0,20}",
    ];
    prop::collection::vec(pair, 0..4).prop_map(|p| p.join("&"))
}

/// Arbitrary JSON, small.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "seed",
            "{uid}",
            "{gid}",
            "work",
            "x@y.z",
            "",
            "true",
            "2023-01-01T00:00:00Z"
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![attr_path(), "[a-z]{1,8}".prop_map(|s| s)],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn user_doc() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(vec![
            "seed", "SEED", "other", "new-user", "", "a\u{0}b",
        ])),
        prop::collection::btree_map(attr_path(), json_value(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, extra, schemas)| {
            let mut o: serde_json::Map<String, Value> = extra.into_iter().collect();
            if let Some(n) = name {
                o.insert("userName".into(), json!(n));
            }
            if schemas {
                o.insert(
                    "schemas".into(),
                    json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
                );
            }
            Value::Object(o)
        })
}

fn group_doc() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(vec!["seeds", "empty", "fresh", ""])),
        prop::collection::vec(
            prop_oneof![
                Just(json!({"value": UID})),
                Just(json!({"value": "2819c223-7f76-453a-919d-413861904646"})),
                Just(json!(UID)),
                json_value(),
            ],
            0..4,
        ),
        prop::collection::btree_map(attr_path(), json_value(), 0..2),
    )
        .prop_map(|(name, members, extra)| {
            let mut o: serde_json::Map<String, Value> = extra.into_iter().collect();
            if let Some(n) = name {
                o.insert("displayName".into(), json!(n));
            }
            o.insert("members".into(), Value::Array(members));
            Value::Object(o)
        })
}

fn patch_doc() -> impl Strategy<Value = Value> {
    let op = (
        prop::sample::select(vec![
            "add", "replace", "remove", "Replace", "ADD", "explode",
        ]),
        prop::option::of(attr_path()),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        });
    (
        prop::collection::vec(op, 0..4),
        prop::sample::select(vec![0u8, 1, 2]),
    )
        .prop_map(|(ops, schemas)| match schemas {
            0 => json!({"schemas": [PATCH_OP], "Operations": ops}),
            1 => json!({"schemas": PATCH_OP, "operations": ops}),
            _ => json!({"Operations": ops}),
        })
}

fn search_doc() -> impl Strategy<Value = Value> {
    (
        prop::option::of(filter()),
        prop::option::of(json_value()),
        prop::option::of(-3i64..20),
    )
        .prop_map(|(f, sort, count)| {
            let mut o = serde_json::Map::new();
            o.insert(
                "schemas".into(),
                json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]),
            );
            if let Some(f) = f {
                o.insert("filter".into(), json!(f));
            }
            if let Some(s) = sort {
                o.insert("sortBy".into(), s);
            }
            if let Some(c) = count {
                o.insert("count".into(), json!(c));
            }
            Value::Object(o)
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        3 => user_doc().prop_map(|v| v.to_string().into_bytes()),
        3 => group_doc().prop_map(|v| v.to_string().into_bytes()),
        3 => patch_doc().prop_map(|v| v.to_string().into_bytes()),
        2 => search_doc().prop_map(|v| v.to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => "\\PC{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => (1usize..2000).prop_map(|n| "[".repeat(n).into_bytes()),
    ]
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    /// 0: read+write token, 1: read-only, 2: none, 3: junk.
    auth: u8,
    content_type: Option<&'static str>,
    if_match: Option<&'static str>,
    body: Vec<u8>,
}

/// A plausible user: mostly valid attributes, sometimes a bad one.
fn valid_user_doc() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["seed", "Seed", "new-user", "other", "x@y.z"]),
        prop::option::of(prop::sample::select(vec!["D", "Dee", ""])),
        prop::option::of(prop::sample::select(vec![
            "seed@example.com",
            "n@example.com",
            "bad",
        ])),
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.3, (attr_path(), json_value())),
    )
        .prop_map(|(name, display, email, active, extra)| {
            let mut o = serde_json::Map::new();
            o.insert(
                "schemas".into(),
                json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
            );
            o.insert("userName".into(), json!(name));
            if let Some(d) = display {
                o.insert("displayName".into(), json!(d));
            }
            if let Some(e) = email {
                o.insert("emails".into(), json!([{"value": e, "type": "work"}]));
            }
            if let Some(a) = active {
                o.insert("active".into(), json!(a));
            }
            if let Some((k, v)) = extra {
                o.insert(k, v);
            }
            Value::Object(o)
        })
}

fn b(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn some_id() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![UID, GID, RID, "2819c223-7f76-453a-919d-413861904646"])
}

fn some_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["Users", "Groups", "Roles"])
}

/// Method, path and body that belong together.
fn coherent() -> impl Strategy<Value = (String, String, Vec<u8>)> {
    let m = |s: &str| s.to_string();
    prop_oneof![
        3 => valid_user_doc().prop_map(move |d| (m("POST"), m("/Users"), b(d))),
        2 => group_doc().prop_map(move |d| (m("POST"), m("/Groups"), b(d))),
        2 => valid_user_doc().prop_map(move |d| (m("PUT"), format!("/Users/{UID}"), b(d))),
        2 => group_doc().prop_map(move |d| (m("PUT"), format!("/Groups/{GID}"), b(d))),
        1 => group_doc().prop_map(move |d| (m("PUT"), format!("/Roles/{RID}"), b(d))),
        4 => (some_type(), some_id(), patch_doc())
            .prop_map(move |(t, i, d)| (m("PATCH"), format!("/{t}/{i}"), b(d))),
        2 => (
            prop::sample::select(vec!["/Users/.search", "/Groups/.search", "/Roles/.search", "/.search"]),
            search_doc(),
        )
            .prop_map(move |(p, d)| (m("POST"), m(p), b(d))),
        2 => (some_type(), some_id())
            .prop_map(move |(t, i)| (m("DELETE"), format!("/{t}/{i}"), Vec::new())),
        2 => (some_type(), prop::option::of(some_id())).prop_map(move |(t, i)| {
            let p = match i {
                Some(i) => format!("/{t}/{i}"),
                None => format!("/{t}"),
            };
            (m("GET"), p, Vec::new())
        }),
    ]
}

fn req() -> impl Strategy<Value = Req> {
    let shape = prop_oneof![(method(), path(), body()), coherent()];
    (
        shape,
        query(),
        prop::sample::select(vec![0u8, 0, 0, 0, 0, 0, 1, 2, 3]),
        prop::option::of(prop::sample::select(vec![
            "application/scim+json",
            "application/json; charset=utf-8",
            "text/plain",
        ])),
        prop::option::weighted(
            0.2,
            prop::sample::select(vec!["*", "W/\"1\"", "W/\"2\"", "junk", ""]),
        ),
    )
        .prop_map(
            |((method, path, body), query, auth, content_type, if_match)| Req {
                method,
                path,
                query,
                auth,
                content_type,
                if_match,
                body,
            },
        )
}

// ---- the property -------------------------------------------------------------------

fn check_response(r: &Req, resp: &scim::http::Response) -> Result<(), TestCaseError> {
    let s = resp.status;
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let ctx = || format!("{r:?} -> {s} {text}");
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    if s == 500 {
        // Only the role catalog may answer 500, and this catalog is good.
        let detail = body
            .as_ref()
            .and_then(|b| b["detail"].as_str())
            .unwrap_or("");
        prop_assert!(detail.contains("role catalog"), "500: {}", ctx());
        prop_assert!(false, "500 with a good catalog: {}", ctx());
    }
    prop_assert!(s < 500 || s == 501, "server error: {}", ctx());
    prop_assert!((200..600).contains(&s), "status: {}", ctx());
    if (200..300).contains(&s) || s == 304 {
        if !resp.body.is_empty() {
            prop_assert!(body.is_some(), "2xx body is not JSON: {}", ctx());
        }
        return Ok(());
    }
    let b =
        body.ok_or_else(|| TestCaseError::fail(format!("error body is not JSON: {}", ctx())))?;
    prop_assert_eq!(&b["schemas"], &json!([ERROR_SCHEMA]), "{}", ctx());
    prop_assert_eq!(&b["status"], &json!(s.to_string()), "{}", ctx());
    prop_assert!(b["detail"].is_string(), "{}", ctx());
    if let Some(t) = b.get("scimType") {
        prop_assert!(
            t.as_str().is_some_and(|t| SCIM_TYPES.contains(&t)),
            "scimType: {}",
            ctx()
        );
    }
    prop_assert!(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "content type: {}",
        ctx()
    );
    if s == 401 {
        prop_assert!(
            resp.header("www-authenticate")
                .is_some_and(|c| c.starts_with("Bearer ")),
            "401 without a Bearer challenge: {}",
            ctx()
        );
    }
    Ok(())
}

proptest! {
    // 256 cases by default (PROPTEST_CASES overrides); no regression file:
    // an integration test has no lib.rs for proptest to place it by.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_request_is_answered_safely(reqs in prop::collection::vec(req(), 1..4)) {
        let svc = service();
        let (store, uid, gid) = seeded(&svc);
        let rid = role_id();
        let rw = token(&["scim.read", "scim.write"]);
        let ro = token(&["scim.read"]);
        let fill = |s: &str| s.replace(UID, &uid).replace(GID, &gid).replace(RID, &rid);
        for r in &reqs {
            let mut headers = Vec::new();
            match r.auth {
                0 => headers.push(("authorization".to_string(), format!("Bearer {rw}"))),
                1 => headers.push(("authorization".to_string(), format!("Bearer {ro}"))),
                2 => {}
                _ => headers.push(("authorization".to_string(), "Bearer a.b.c".to_string())),
            }
            if let Some(ct) = r.content_type {
                headers.push(("content-type".to_string(), ct.to_string()));
            }
            if let Some(m) = r.if_match {
                let name = if r.method == "GET" { "if-none-match" } else { "if-match" };
                headers.push((name.to_string(), m.to_string()));
            }
            let body = String::from_utf8(r.body.clone())
                .map(|s| fill(&s).into_bytes())
                .unwrap_or_else(|_| r.body.clone());
            let request = request(&r.method, &fill(&r.path), &fill(&r.query), headers, body);
            let before = snapshot(&store);
            let resp = send(&svc, &store, &request);
            check_response(r, &resp)?;
            let failed = (300..600).contains(&resp.status);
            let read = matches!(request.method.as_str(), "GET" | "HEAD")
                || (request.method == "POST" && request.path.ends_with(".search"));
            if failed || read {
                let after = snapshot(&store);
                if before != after {
                    let changed: Vec<&String> = before.keys().chain(after.keys())
                        .filter(|k| before.get(*k) != after.get(*k)).collect();
                    prop_assert!(false, "store changed by {:?} -> {} {}: keys {:?}",
                        r, resp.status, String::from_utf8_lossy(&resp.body), changed);
                }
            }
        }
    }
}

/// The generators reach the interesting outcomes (a guard against a property
/// that passes because every request is refused early).
#[test]
fn the_generators_reach_successes_and_each_kind_of_error() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let svc = service();
    let (store, uid, gid) = seeded(&svc);
    let rid = role_id();
    let rw = token(&["scim.read", "scim.write"]);
    let fill = |s: &str| s.replace(UID, &uid).replace(GID, &gid).replace(RID, &rid);
    let mut seen = std::collections::BTreeSet::new();
    let mut runner = TestRunner::deterministic();
    let strategy = req();
    for _ in 0..400 {
        let r = strategy.new_tree(&mut runner).unwrap().current();
        let mut headers = vec![("authorization".to_string(), format!("Bearer {rw}"))];
        if let Some(ct) = r.content_type {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        let body = String::from_utf8(r.body.clone())
            .map(|s| fill(&s).into_bytes())
            .unwrap_or(r.body.clone());
        let resp = send(
            &svc,
            &store,
            &request(&r.method, &fill(&r.path), &fill(&r.query), headers, body),
        );
        seen.insert(resp.status);
    }
    eprintln!("statuses: {seen:?}");
    for s in [200, 201, 204, 400, 404, 405, 409] {
        assert!(seen.contains(&s), "status {s} never produced: {seen:?}");
    }
}
