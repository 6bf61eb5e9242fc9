//! Store round trips per request: each host call crosses the component
//! boundary and, on SQLite, is a transaction of its own, so the engine
//! batches what it can. A GET of a user reads its record and membership
//! lists in one call; a DELETE of a user also deletes its record and lists
//! in one, then releases its userName claim.

mod support;

use scim::storage::kv::{CasReport, Change, MemStore, Store, StoreResult};
use serde_json::json;
use std::cell::RefCell;
use support::Api;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A store that records each call: (operation, keys).
#[derive(Default)]
struct Recording {
    inner: MemStore,
    calls: RefCell<Vec<(&'static str, Vec<String>)>>,
}

impl Recording {
    fn note(&self, op: &'static str, keys: &[&str]) {
        let keys = keys.iter().map(|k| k.to_string()).collect();
        self.calls.borrow_mut().push((op, keys));
    }
    fn take(&self) -> Vec<(&'static str, Vec<String>)> {
        std::mem::take(&mut self.calls.borrow_mut())
    }
}

fn strs(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}

impl Store for Recording {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.note("get", &[key]);
        self.inner.get(key)
    }
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.note("get_many", &strs(keys));
        self.inner.batch_get(keys)
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.note("set", &[key]);
        self.inner.set(key, value)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        self.note("set_many", &keys);
        self.inner.set_many(entries)
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        self.note("delete", &[key]);
        self.inner.delete(key)
    }
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        self.note("delete_many", &strs(keys));
        self.inner.delete_many(keys)
    }
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        self.note("increment", &[key]);
        self.inner.increment(key, delta)
    }
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        self.note("cas", &[key]);
        self.inner.cas(key, change)
    }
}

/// Two users, both in one group.
fn two_members(api: &Api<Recording>) -> (String, String, String) {
    let a = api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
    let b = api.create("/Users", json!({"schemas": [USER], "userName": "ben"}));
    let g = api.create(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "closers",
               "members": [{"value": a}, {"value": b}]}),
    );
    (a, b, g)
}

#[test]
fn a_user_and_its_membership_lists_are_read_in_one_call() {
    let api = Api::new(Recording::default());
    let (a, _, g) = two_members(&api);
    api.store.take();
    let (status, v) = api.call("GET", &format!("/Users/{a}"), "", None);
    assert_eq!(status, 200);
    assert_eq!(v["groups"][0]["value"], g.as_str());
    let calls = api.store.take();
    assert_eq!(
        calls.len(),
        2,
        "record and lists, then bucket and group: {calls:?}"
    );
    let (op, keys) = &calls[0];
    assert_eq!(*op, "get_many");
    assert!(keys[0].contains(&format!("/r/U/{a}")), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.contains(&format!("/u/G/{a}"))),
        "{keys:?}"
    );

    // No such user: still one call, and 404.
    let (status, _) = api.call(
        "GET",
        "/Users/00000000-0000-4000-8000-000000000000",
        "",
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(api.store.take().len(), 1);
}

#[test]
fn deleting_a_member_reads_and_deletes_its_own_keys_in_one_call_each() {
    let api = Api::new(Recording::default());
    let (a, b, g) = two_members(&api);
    api.store.take();
    let (status, _) = api.call("DELETE", &format!("/Users/{a}"), "", None);
    assert_eq!(status, 204);
    let calls = api.store.take();
    let (op, keys) = &calls[0];
    assert_eq!(*op, "get_many", "{calls:?}");
    assert!(keys[0].contains(&format!("/r/U/{a}")), "{keys:?}");
    let deletes: Vec<_> = calls
        .iter()
        .filter(|(op, _)| op.starts_with("delete"))
        .collect();
    assert_eq!(deletes.len(), 1, "{calls:?}");
    let gone = &deletes[0].1;
    assert!(
        gone[0].contains(&format!("/r/U/{a}")),
        "the record goes first: {gone:?}"
    );
    assert!(
        gone.iter().any(|k| k.contains(&format!("/u/G/{a}"))),
        "{gone:?}"
    );
    // The userName claim is released after the record is gone, by a
    // compare-and-swap to a tombstone (never deleted: docs/storage.md).
    let at = calls
        .iter()
        .position(|(op, _)| op.starts_with("delete"))
        .unwrap();
    assert!(
        calls[at..]
            .iter()
            .any(|(op, keys)| *op == "cas" && keys[0].ends_with("/ann")),
        "the userName claim: {calls:?}"
    );

    // And the delete did its work: gone, out of the group, name free.
    assert_eq!(api.call("GET", &format!("/Users/{a}"), "", None).0, 404);
    let (_, group) = api.call("GET", &format!("/Groups/{g}"), "", None);
    let members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [b.as_str()]);
    api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
}
