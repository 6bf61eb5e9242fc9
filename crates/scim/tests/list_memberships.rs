//! `User.groups` on list pages: a page reads the member buckets of all its
//! users in one batch, each bucket once, so many users share a bucket read.
//! Every user must still get exactly the groups it is in.

mod support;

use scim::storage::memory::MemStore;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use support::Api;

fn groups_on_page(page: &Value) -> BTreeMap<String, BTreeSet<String>> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let groups = u["groups"]
                .as_array()
                .map(|gs| {
                    gs.iter()
                        .map(|g| g["value"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (u["id"].as_str().unwrap().to_string(), groups)
        })
        .collect()
}

#[test]
fn every_user_on_a_page_gets_exactly_its_groups() {
    let api = Api::new(MemStore::new());
    // 90 users over 32 buckets: most buckets hold several of them.
    let users: Vec<String> = (0..90)
        .map(|i| api.create("/Users", json!({"userName": format!("user{i}")})))
        .collect();
    let groups: Vec<String> = (0..3)
        .map(|g| api.create("/Groups", json!({"displayName": format!("group{g}")})))
        .collect();
    let mut expected: BTreeMap<String, BTreeSet<String>> =
        users.iter().map(|u| (u.clone(), BTreeSet::new())).collect();
    for (g, gid) in groups.iter().enumerate() {
        // Group g holds every user whose index is divisible by g + 2.
        let members: Vec<&String> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| i % (g + 2) == 0)
            .map(|(_, u)| u)
            .collect();
        let value: Vec<Value> = members.iter().map(|u| json!({"value": u})).collect();
        let (status, v) = api.call(
            "PATCH",
            &format!("/Groups/{gid}"),
            "",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": value}]
            })),
        );
        assert!(status == 200 || status == 204, "{status} {v}");
        for u in members {
            expected.get_mut(u).unwrap().insert(gid.clone());
        }
    }
    // One member leaves group 0 again: its list entry may outlive the
    // membership, the bucket decides.
    let (status, _) = api.call(
        "PATCH",
        &format!("/Groups/{}", groups[0]),
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}]
        })),
    );
    assert!(status == 200 || status == 204);
    expected.get_mut(&users[0]).unwrap().remove(&groups[0]);

    let (status, page) = api.call("GET", "/Users", "startIndex=1&count=100", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(groups_on_page(&page), expected);
    // A filtered page renders through the same batch.
    let (status, page) = api.call(
        "GET",
        "/Users",
        "filter=userName%20sw%20%22user1%22&count=100",
        None,
    );
    assert_eq!(status, 200, "{page}");
    let want: BTreeMap<String, BTreeSet<String>> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| format!("user{i}").starts_with("user1"))
        .map(|(_, u)| (u.clone(), expected[u].clone()))
        .collect();
    assert_eq!(want.len(), 11);
    assert_eq!(groups_on_page(&page), want);
}
