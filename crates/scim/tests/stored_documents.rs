//! Property test (issue 16): random users — nested, long and Unicode values
//! in an open extension, Unicode names — through `Service::handle` on a
//! store as weak as Spin's. Every request is either refused with a SCIM
//! error and nothing written, or accepted; and every accepted user reads
//! back as created, appears in the list, is found by `userName eq`, and
//! deletes cleanly (its name free again).

mod support;

use proptest::prelude::*;
use scim::storage::memory::MemStore;
use serde_json::{json, Map, Value};
use support::Api;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SAP_USER: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:User";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Text from several scripts, combining marks, astral characters, the Greek
/// final sigma, quotes and backslashes.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[a-zA-Z0-9 ._@-]{{1,{max}}}")).unwrap(),
        proptest::string::string_regex(&format!(
            "[a-zàéîõüßΣσςΟΔΟΣοδοςЖжあ漢😀\u{0301}\u{0308}\"\\\\]{{1,{max}}}"
        ))
        .unwrap(),
    ]
}

/// A JSON value of at most `depth` levels, with long strings now and then.
fn value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        text(20).prop_map(Value::String),
        (1usize..6_000).prop_map(|n| Value::String("l".repeat(n))),
    ];
    leaf.prop_recursive(depth, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(8), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value nested `levels` deep (beyond the advertised bound sometimes).
fn deep(levels: usize) -> Value {
    (0..levels).fold(json!("bottom"), |v, _| json!({ "n": v }))
}

fn user() -> impl Strategy<Value = Value> {
    (
        text(40),
        proptest::option::of(text(30)),
        proptest::collection::btree_map("[a-z]{1,6}", value(24), 0..4),
        proptest::option::of(0usize..30),
    )
        .prop_map(|(name, display, ext, depth)| {
            let mut ext: Map<String, Value> = ext.into_iter().collect();
            if let Some(d) = depth {
                ext.insert("deep".into(), deep(d));
            }
            let mut u = json!({"schemas": [USER, SAP_USER], "userName": name, SAP_USER: ext});
            if let Some(d) = display {
                u["displayName"] = json!(d);
            }
            u
        })
}

fn query(filter: &str) -> String {
    let mut q = String::from("filter=");
    for b in filter.bytes() {
        if b.is_ascii_alphanumeric() {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn accepted_users_read_back_list_filter_and_delete(users in proptest::collection::vec(user(), 1..4)) {
        let api = Api::new(MemStore::new());
        for body in users {
            let keys_before = api.store.keys();
            let (status, created) = api.call("POST", "/Users", "", Some(body.clone()));
            if status != 201 {
                prop_assert!(matches!(status, 400 | 409 | 413), "{status} {created}");
                prop_assert_eq!(&created["schemas"][0], ERROR_SCHEMA);
                if status != 409 {
                    prop_assert_eq!(api.store.keys(), keys_before, "a refusal writes nothing");
                }
                continue;
            }
            let id = created["id"].as_str().unwrap().to_string();
            let name = created["userName"].as_str().unwrap().to_string();
            prop_assert_eq!(&created[SAP_USER], &body[SAP_USER].as_object().map(|o| {
                // Nulls mean "unassigned" (RFC 7643 §2.5) and are dropped at
                // the top of the extension.
                Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
            }).filter(|v| v.as_object().is_some_and(|o| !o.is_empty())).unwrap_or(Value::Null));

            // Reads back as created.
            let (status, read) = api.call("GET", &format!("/Users/{id}"), "", None);
            prop_assert_eq!(status, 200, "{}", read);
            prop_assert_eq!(&read, &created);
            // In the list.
            let (status, list) = api.call("GET", "/Users", "count=1000", None);
            prop_assert_eq!(status, 200, "{}", list);
            prop_assert!(list["Resources"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str()));
            // Found by its name, exactly as stored (RFC 7644 §3.4.2.2).
            let filter = format!("userName eq {}", Value::String(name.clone()));
            let (status, found) = api.call("GET", "/Users", &query(&filter), None);
            prop_assert_eq!(status, 200, "{}", found);
            prop_assert_eq!(&found["totalResults"], 1, "{}: {}", filter, found);
            prop_assert_eq!(&found["Resources"][0]["id"], id.as_str());
            // And by a scan over the extension.
            let (status, scan) = api.call("GET", "/Users", &query(&format!("{SAP_USER}:deep pr or userName pr")), None);
            prop_assert_eq!(status, 200, "{}", scan);
            // Deletes, and its name is free again.
            prop_assert_eq!(api.call("DELETE", &format!("/Users/{id}"), "", None).0, 204);
            prop_assert_eq!(api.call("GET", &format!("/Users/{id}"), "", None).0, 404);
            let (status, again) = api.call("POST", "/Users", "", Some(json!({"schemas": [USER], "userName": name})));
            prop_assert_eq!(status, 201, "{}", again);
            let again_id = again["id"].as_str().unwrap().to_string();
            prop_assert_eq!(api.call("DELETE", &format!("/Users/{again_id}"), "", None).0, 204);
        }
    }
}
