//! Okta as a client, request by request.
//!
//! Sources (what Okta really sends):
//! - "Okta and SCIM Version 2.0" (developer.okta.com/docs/reference/scim/scim-20/):
//!   the existence check `GET /Users?filter=userName eq "…"&startIndex=1&count=100`,
//!   the create body (with `groups: []` and a `password`), 409 expected when
//!   the user exists, imports paged with `count=100` and `startIndex+100`
//!   ("The SCIM server must consistently return the same ordering of
//!   results"; `itemsPerPage`, `startIndex`, `totalResults` as integers),
//!   profile updates by PUT, deactivation by a no-path
//!   `{"op":"replace","value":{"active":false}}`, no DELETE of users, group
//!   push: create, rename by a no-path replace carrying `id` and
//!   `displayName`, membership by `remove members[value eq "…"]` + `add
//!   members`, or a full `replace` of `members`; DELETE of groups.
//! - Okta's guide "Build a SCIM provisioning integration": a sample lookup
//!   `GET /Users?filter=userName+eq+%22…%22&startIndex=1&count=100`.
//! - Okta's SCIM test suite ("Test your SCIM API", Runscope variables):
//!   `randomUsernameCaps`, "the random user name in all caps to test case
//!   sensitivity", and `UserIdThatDoesNotExist = 010101001010101011001010101011`.

use e2e::{enc, id_of, list, member_ids, patch, sorted, Host, ERROR, GROUP, USER};
use serde_json::{json, Value};
use std::collections::HashSet;

/// A [`list`] whose counts are JSON integers, as Okta requires.
fn query(host: &Host, path: &str) -> Value {
    let v = list(host, path);
    for k in ["totalResults", "itemsPerPage", "startIndex"] {
        assert!(v[k].is_u64(), "{k} must be an integer: {v}");
    }
    v
}

/// Okta's existence check.
fn lookup(host: &Host, user_name: &str) -> Value {
    query(
        host,
        &format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc(&format!("userName eq \"{user_name}\""))
        ),
    )
}

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[test]
fn user_assignment_update_and_deactivation() {
    let host = Host::start();
    let name = "test.user@okta.local";

    // Saving the integration: Okta reads one small page of users and of groups.
    let v = query(&host, "/Users?startIndex=1&count=2");
    assert_eq!(v["totalResults"], 0);
    let v = query(&host, "/Groups?startIndex=1&count=100");
    assert_eq!(v["totalResults"], 0);

    // Determine if the user already exists: an empty ListResponse.
    let v = lookup(&host, name);
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["Resources"], json!([]));

    // Create the user: the password is accepted and never returned; the
    // read-only `groups: []` is ignored.
    let r = host.send_json("POST", "/Users", &okta_user(name));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = id_of(&created);
    assert!(created.get("password").is_none(), "{created}");
    assert!(created.get("groups").is_none(), "{created}");
    assert_eq!(created["locale"], "en-US");
    assert_eq!(created["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(created["active"], true);

    // The upper-cased lookup (Okta's case-sensitivity test) finds the user.
    let v = lookup(&host, &name.to_uppercase());
    assert_eq!(v["totalResults"], 1, "{v}");
    assert_eq!(v["Resources"][0]["id"], id.as_str());
    assert_eq!(v["Resources"][0]["userName"], name, "stored as sent");

    // Okta's guide shows the query string form-encoded: `+` for spaces.
    let v = query(
        &host,
        "/Users?filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100",
    );
    assert_eq!(v["Resources"][0]["id"], id.as_str());

    // Retrieve a specific user.
    let u = format!("/Users/{id}");
    let r = host.get(&u);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut current = r.json();

    // Update: Okta changes attributes of what it read and PUTs the whole user.
    current["name"]["middleName"] = json!("Excited");
    current["name"]["givenName"] = json!("Another");
    current["groups"] = json!([]);
    let r = host.send_json("PUT", &u, &current);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["name"],
        json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"})
    );
    assert_eq!(v["meta"]["created"], created["meta"]["created"]);

    // Deactivate: a no-path replace. Okta never deletes users.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(v["active"], false);
    assert_eq!(v["name"]["middleName"], "Excited", "nothing else changes");
    let r = host.get(&u);
    assert_eq!(r.status, 200, "a deactivated user is still there");
    assert_eq!(r.json()["active"], false);
    assert_eq!(lookup(&host, name)["Resources"][0]["active"], false);

    // Reactivate.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "value": {"active": true}}]),
    );
    assert_eq!(v["active"], true);

    // Assigning the same user again: 409, then Okta finds it by userName.
    let r = host.send_json("POST", "/Users", &okta_user(name));
    assert_eq!(r.status, 409, "{}", r.text());
    let e = r.json();
    assert_eq!(e["schemas"], json!([ERROR]));
    assert_eq!(e["status"], "409");
    assert_eq!(e["scimType"], "uniqueness");
    let v = lookup(&host, name);
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["id"], id.as_str());

    // A user id that does not exist (Okta's test suite uses a non-UUID one).
    let r = host.get("/Users/010101001010101011001010101011");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["schemas"], json!([ERROR]));
}

#[test]
fn import_pages_through_every_user_with_count_100() {
    let host = Host::start();
    let mut created = Vec::new();
    for i in 0..205 {
        let r = host.send_json(
            "POST",
            "/Users",
            &json!({"schemas": [USER], "userName": format!("import{i:03}@okta.local")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        created.push(id_of(&r.json()));
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let v = query(&host, &format!("/Users?startIndex={start}&count=100"));
        assert_eq!(v["totalResults"], 205);
        assert_eq!(v["startIndex"], start);
        let page: Vec<String> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(v["itemsPerPage"], page.len());
        seen.extend(page);
        // Okta stops once it has read totalResults resources.
        if seen.len() as u64 >= v["totalResults"].as_u64().unwrap() {
            break;
        }
        start += 100;
    }
    assert_eq!(start, 201, "three requests: 1, 101, 201");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        205,
        "no duplicates"
    );
    assert_eq!(sorted(seen.clone()), sorted(created));
    // The same ordering on every request.
    let again = query(&host, "/Users?startIndex=101&count=100");
    assert_eq!(again["Resources"][0]["id"], seen[100].as_str());
}

#[test]
fn group_push_rename_and_membership() {
    let host = Host::start();
    let mut users = Vec::new();
    for n in ["a", "b", "c"] {
        let r = host.send_json("POST", "/Users", &okta_user(&format!("{n}@okta.local")));
        assert_eq!(r.status, 201, "{}", r.text());
        users.push(id_of(&r.json()));
    }
    let (a, b, c) = (users[0].clone(), users[1].clone(), users[2].clone());

    // Create Groups.
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gid = id_of(&g);
    assert_eq!(g["displayName"], "Test SCIMv2");
    let gpath = format!("/Groups/{gid}");
    assert_eq!(host.get(&gpath).status, 200);

    // Update a specific Group name: a no-path replace carrying the id.
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv20"}}]),
    );
    assert_eq!(v["displayName"], "Test SCIMv20");
    assert_eq!(v["id"], gid.as_str());

    // Membership: add with display.
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "add", "path": "members", "value": [
            {"value": a, "display": "a@okta.local"},
            {"value": b, "display": "b@okta.local"}
        ]}]),
    );
    assert_eq!(member_ids(&v), sorted(vec![a.clone(), b.clone()]));

    // Membership: remove one by filter and add another, in one request.
    let v = patch(
        &host,
        &gpath,
        json!([
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "add", "path": "members", "value": [{"value": c, "display": "c@okta.local"}]}
        ]),
    );
    assert_eq!(member_ids(&v), sorted(vec![b.clone(), c.clone()]));

    // Membership: a full push replaces every member.
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "replace", "path": "members", "value": [
            {"value": a, "display": "a@okta.local"},
            {"value": c, "display": "c@okta.local"}
        ]}]),
    );
    assert_eq!(member_ids(&v), sorted(vec![a.clone(), c.clone()]));
    assert!(host
        .get(&format!("/Users/{b}"))
        .json()
        .get("groups")
        .is_none());
    assert_eq!(
        host.get(&format!("/Users/{a}")).json()["groups"][0]["display"],
        "Test SCIMv20"
    );

    // Pushing a group of the same name again: 409.
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "test scimv20", "members": []}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["scimType"], "uniqueness");

    // Retrieve Groups, as an import does.
    let v = query(&host, "/Groups?startIndex=1&count=100");
    assert_eq!(v["totalResults"], 1);
    assert_eq!(
        member_ids(&v["Resources"][0]),
        sorted(vec![a.clone(), c.clone()])
    );

    // Delete a specific Group.
    let r = host.request("DELETE", &gpath, &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(host.get(&gpath).status, 404);
    assert!(host
        .get(&format!("/Users/{a}"))
        .json()
        .get("groups")
        .is_none());
}
