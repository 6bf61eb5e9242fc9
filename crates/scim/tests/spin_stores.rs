//! The engine on stores as weak as Spin's (docs/storage.md, "What Spin's
//! stores guarantee"): `MemStore` reproduces Spin's SQLite store (a swap of
//! an absent key is an upsert) and its Redis store (every swap reports a
//! failure, `get-many` fails). A whole directory lifecycle must work on
//! both, and a concurrent write landing between a read and its swap must be
//! neither lost nor overwritten.

mod support;

use scim::storage::memory::{Flavor, MemStore};
use serde_json::{json, Value};
use support::Api;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const FLAVORS: [Flavor; 2] = [Flavor::SpinSqlite, Flavor::SpinRedis];

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// A POST of `user_name` answers 409: the name is taken.
fn assert_taken(api: &Api<MemStore>, user_name: &str, flavor: Flavor) {
    let body = json!({"schemas": [USER], "userName": user_name});
    let (status, _) = api.call("POST", "/Users", "", Some(body));
    assert_eq!(status, 409, "{user_name} on {flavor:?}");
}

fn add_member(api: &Api<MemStore>, gid: &str, uid: &str) -> u16 {
    let body = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uid}]}]});
    api.call("PATCH", &format!("/Groups/{gid}"), "", Some(body))
        .0
}

#[test]
fn a_directory_lifecycle_works_on_both_spin_stores() {
    for flavor in FLAVORS {
        let api = Api::new(MemStore::like(flavor));
        let ann = api.create(
            "/Users",
            json!({"schemas": [USER], "userName": "ann", "externalId": "e-ann",
                   "emails": [{"value": "ann@example.com", "primary": true}]}),
        );
        let ben = api.create("/Users", json!({"schemas": [USER], "userName": "ben"}));
        assert_taken(&api, "ANN", flavor);
        let gid = api.create(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "closers", "members": [{"value": ann}]}),
        );
        assert_eq!(add_member(&api, &gid, &ben), 204, "{flavor:?}");
        let (_, g) = api.call("GET", &format!("/Groups/{gid}"), "", None);
        let mut both = vec![ann.clone(), ben.clone()];
        both.sort();
        assert_eq!(member_ids(&g), both, "{flavor:?}");
        let (_, u) = api.call("GET", &format!("/Users/{ann}"), "", None);
        assert_eq!(u["groups"][0]["value"], gid.as_str(), "{flavor:?}");
        let (_, l) = api.call(
            "GET",
            "/Users",
            "filter=externalId%20eq%20%22e-ann%22",
            None,
        );
        assert_eq!(l["totalResults"], 1, "{flavor:?}");
        let (_, l) = api.call("GET", "/Users", "", None);
        assert_eq!(l["totalResults"], 2, "{flavor:?}");
        // Rename, then the old name is free and the new one taken.
        let (status, _) = api.call(
            "PUT",
            &format!("/Users/{ann}"),
            "",
            Some(json!({"schemas": [USER], "userName": "anne"})),
        );
        assert_eq!(status, 200, "{flavor:?}");
        api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
        assert_taken(&api, "anne", flavor);
        // Delete: out of the group, and the name free again at once.
        assert_eq!(
            api.call("DELETE", &format!("/Users/{ann}"), "", None).0,
            204
        );
        let (_, g) = api.call("GET", &format!("/Groups/{gid}"), "", None);
        assert_eq!(member_ids(&g), vec![ben.clone()], "{flavor:?}");
        api.create("/Users", json!({"schemas": [USER], "userName": "anne"}));
        assert_eq!(
            api.call("DELETE", &format!("/Groups/{gid}"), "", None).0,
            204
        );
        api.create(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "closers"}),
        );
    }
}

/// Another request changes the group's record between our read and our
/// swap: our PATCH re-applies on its version, so both changes survive.
#[test]
fn a_concurrent_change_between_read_and_swap_is_neither_lost_nor_overwritten() {
    for flavor in FLAVORS {
        let api = Api::new(MemStore::like(flavor));
        let ann = api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
        let gid = api.create(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "closers"}),
        );
        let record = format!("/r/G/{gid}");
        let mut fired = false;
        api.store.interfere(Box::new(move |key, data| {
            if fired || !key.ends_with(&record) {
                return;
            }
            fired = true;
            let mut rec: Value = serde_json::from_slice(&data[key]).unwrap();
            rec["rev"] = json!(rec["rev"].as_u64().unwrap() + 1);
            rec["doc"]["externalId"] = json!("set-meanwhile");
            data.insert(key.to_string(), serde_json::to_vec(&rec).unwrap());
        }));
        assert_eq!(add_member(&api, &gid, &ann), 204, "{flavor:?}");
        let (_, g) = api.call("GET", &format!("/Groups/{gid}"), "", None);
        assert_eq!(g["externalId"], "set-meanwhile", "{flavor:?}: overwritten");
        assert_eq!(member_ids(&g), vec![ann.clone()], "{flavor:?}: lost");
        assert_eq!(g["meta"]["version"], "W/\"3\"", "{flavor:?}");
    }
}
