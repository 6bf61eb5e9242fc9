//! A stored record that no longer decodes (written before a bound existed,
//! or by a bug) costs the requests that meet it one log note, not a 500:
//! lists, scans and searches skip it, and DELETE by id removes it with its
//! index entries, so its name can be used again (issue 16).

mod support;

use scim::storage::kv::Store;
use scim::storage::memory::MemStore;
use serde_json::{json, Value};
use support::Api;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Replace the stored record of `id` by one nested too deep for serde_json
/// (its outline and names intact, as an old release could have written it).
fn corrupt(api: &Api<MemStore>, kind: &str, id: &str, name_attr: &str, name: &str) {
    let key = api
        .store
        .keys()
        .into_iter()
        .find(|k| k.ends_with(&format!("/r/{kind}/{id}")))
        .expect("the record's key");
    let mut deep = String::from("1");
    for _ in 0..200 {
        deep = format!("[{deep}]");
    }
    let raw = format!(
        r#"{{"rev":3,"chunk":0,"doc":{{"schemas":["x"],"{name_attr}":"{name}","externalId":"ext-{name}","deep":{deep}}}}}"#
    );
    api.store.set(&key, raw.as_bytes()).unwrap();
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lists_and_scans_skip_an_unreadable_user_and_delete_removes_it() {
    let api = Api::new(MemStore::new());
    let ann = api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
    let bob = api.create(
        "/Users",
        json!({"schemas": [USER], "userName": "bob", "externalId": "ext-bob"}),
    );
    let g = api.create(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "both", "members": [{"value": ann}, {"value": bob}]}),
    );
    corrupt(&api, "U", &bob, "userName", "bob");

    // A page, a scan filter, an index filter and a search: 200, without bob.
    for (method, path, query, body) in [
        ("GET", "/Users", "", None),
        (
            "GET",
            "/Users",
            "filter=displayName%20pr%20or%20userName%20sw%20%22b%22",
            None,
        ),
        (
            "GET",
            "/Users",
            "filter=externalId%20eq%20%22ext-bob%22",
            None,
        ),
        (
            "POST",
            "/Users/.search",
            "",
            Some(json!({"filter": "userName sw \"\""})),
        ),
        (
            "POST",
            "/.search",
            "",
            Some(json!({"filter": "meta.resourceType pr"})),
        ),
    ] {
        let o = api.outcome(method, path, query, body);
        let v: Value = serde_json::from_slice(&o.response.body).unwrap();
        assert_eq!(o.response.status, 200, "{method} {path}?{query}: {v}");
        assert!(!ids(&v).contains(&bob), "{method} {path}?{query}: {v}");
        if !query.contains("displayName") {
            assert!(
                o.warnings.iter().any(|w| w.contains(&bob)),
                "one note names the record: {:?}",
                o.warnings
            );
        }
    }
    // The group still renders (its members are stored apart).
    let (status, group) = api.call("GET", &format!("/Groups/{g}"), "", None);
    assert_eq!(status, 200, "{group}");

    // DELETE by id removes it, its index entries and its memberships.
    let o = api.outcome("DELETE", &format!("/Users/{bob}"), "", None);
    assert_eq!(o.response.status, 204);
    assert!(
        o.warnings.iter().any(|w| w.contains("salvaged")),
        "{:?}",
        o.warnings
    );
    assert_eq!(api.call("GET", &format!("/Users/{bob}"), "", None).0, 404);
    let (_, list) = api.call("GET", "/Users", "", None);
    assert_eq!(list["totalResults"], 1, "the list slot went too: {list}");
    let (_, by_ext) = api.call(
        "GET",
        "/Users",
        "filter=externalId%20eq%20%22ext-bob%22",
        None,
    );
    assert_eq!(by_ext["totalResults"], 0, "{by_ext}");
    let (_, group) = api.call("GET", &format!("/Groups/{g}"), "", None);
    let members = support::member_ids(&group);
    assert_eq!(members, [ann.as_str()]);
    // The name is free again.
    api.create("/Users", json!({"schemas": [USER], "userName": "bob"}));
}

#[test]
fn delete_removes_an_unreadable_group_and_frees_its_name() {
    let api = Api::new(MemStore::new());
    let ann = api.create("/Users", json!({"schemas": [USER], "userName": "ann"}));
    let g = api.create(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "closers", "members": [{"value": ann}]}),
    );
    corrupt(&api, "G", &g, "displayName", "closers");
    let (status, list) = api.call("GET", "/Groups", "", None);
    assert_eq!(status, 200, "{list}");
    assert!(ids(&list).is_empty(), "{list}");
    // The user renders without the unreadable group.
    let (status, user) = api.call("GET", &format!("/Users/{ann}"), "", None);
    assert_eq!(status, 200, "{user}");
    assert_eq!(api.call("DELETE", &format!("/Groups/{g}"), "", None).0, 204);
    api.create(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "closers"}),
    );
    let (_, user) = api.call("GET", &format!("/Users/{ann}"), "", None);
    assert!(user.get("groups").is_none(), "{user}");
}
