//! Store round trips per request: each host call crosses the component
//! boundary and, on SQLite, is a transaction of its own, so the engine
//! batches what it can. A GET of a user reads its record and membership
//! lists in one call; a DELETE of a user makes its record a tombstone and
//! deletes its lists in one call, and leaves its userName claim to the next
//! user of the name.

mod support;

use scim::storage::counting::{Counting, Op};
use scim::storage::memory::MemStore;
use serde_json::json;
use support::Api;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

type Recording = Counting<MemStore>;

fn recording() -> Recording {
    Counting::recording(MemStore::new())
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
    let api = Api::new(recording());
    let (a, _, g) = two_members(&api);
    api.store.take_calls();
    let (status, v) = api.call("GET", &format!("/Users/{a}"), "", None);
    assert_eq!(status, 200);
    assert_eq!(v["groups"][0]["value"], g.as_str());
    let calls = api.store.take_calls();
    assert_eq!(
        calls.len(),
        2,
        "record and lists, then bucket and group: {calls:?}"
    );
    let (op, keys) = (calls[0].op, &calls[0].keys);
    assert_eq!(op, Op::GetMany);
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
    assert_eq!(api.store.take_calls().len(), 1);
}

#[test]
fn deleting_a_member_reads_and_deletes_its_own_keys_in_one_call_each() {
    let api = Api::new(recording());
    let (a, b, g) = two_members(&api);
    api.store.take_calls();
    let (status, _) = api.call("DELETE", &format!("/Users/{a}"), "", None);
    assert_eq!(status, 204);
    let calls = api.store.take_calls();
    let (op, keys) = (calls[0].op, &calls[0].keys);
    assert_eq!(op, Op::GetMany, "{calls:?}");
    assert!(keys[0].contains(&format!("/r/U/{a}")), "{keys:?}");
    // Out of the group first, then the record becomes a tombstone, then
    // the membership lists go, in one call.
    let record = format!("/r/U/{a}");
    let tomb = calls
        .iter()
        .position(|c| c.op == Op::Set && c.keys[0].contains(&record))
        .expect("the record's tombstone");
    let deletes: Vec<_> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.op, Op::Delete | Op::DeleteMany))
        .collect();
    assert_eq!(deletes.len(), 1, "{calls:?}");
    let (at, gone) = deletes[0];
    assert!(at > tomb, "the lists after the record: {calls:?}");
    assert!(
        gone.keys.iter().any(|k| k.contains(&format!("/u/G/{a}"))),
        "{gone:?}"
    );
    // The userName claim and index entries are not written: the tombstone
    // frees them (docs/storage.md, "Deletes").
    assert!(
        !calls
            .iter()
            .any(|c| c.keys.iter().any(|k| k.contains("/i/U/"))),
        "{calls:?}"
    );

    // And the delete did its work: gone, out of the group, and the name
    // free at once (well within a claim's grace), for a new user.
    assert_eq!(api.call("GET", &format!("/Users/{a}"), "", None).0, 404);
    assert_eq!(api.call("DELETE", &format!("/Users/{a}"), "", None).0, 404);
    let (_, group) = api.call("GET", &format!("/Groups/{g}"), "", None);
    let members = support::member_ids(&group);
    assert_eq!(members, [b.as_str()]);
    let again = api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
    assert_ne!(again, a);
    let (_, found) = api.call("GET", "/Users", "filter=userName%20eq%20%22ann%22", None);
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], again.as_str(), "{found}");
}
