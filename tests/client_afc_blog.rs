//! The AFC documents' own examples, request by request (the seed documents in
//! /work/shared/seeds/): the AFC 3.0 SCIM V2 introduction (001) — fetch users
//! and the next page, create a group with a member, add role members by PUT,
//! remove one by PATCH — and the administration guide (000): deleted users are
//! not available, user IDs are case-sensitive in AFC.
//!
//! One deliberate difference: the blog pages with `startIndex=10` to "skip the
//! first ten records", which reads 0-based. This service follows RFC 7644
//! §3.4.2.4, where `startIndex` is 1-based: the second page of ten is
//! `startIndex=11`.

use e2e::{id_of, list, member_ids, new_user, patch, sorted, Host, ERROR, PROCESSOR};
use serde_json::{json, Value};

/// The id in the blog's examples: a user of the blog author's tenant, unknown here.
const BLOG_USER: &str = "601b465f-fa2a-45f5-b911-b82048e80b4e";
/// The role id in the blog's examples: a role of the author's tenant.
const BLOG_ROLE: &str = "96134805-6652-4301-82ea-8d5d2cc6a85c";

fn ids(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

#[test]
fn example_fetch_users_and_the_next_page() {
    let host = Host::start();
    for i in 1..=12 {
        new_user(&host, &format!("closer{i:02}"));
    }

    // GET /Users: "only the top ten users are returned".
    let first = list(&host, "/Users");
    assert_eq!(first["totalResults"], 12);
    assert_eq!(first["itemsPerPage"], 10);
    assert_eq!(first["startIndex"], 1);
    let first = ids(&first);
    assert_eq!(first.len(), 10);

    // "To access the next page of users, the startIndex can be passed to skip
    // the first ten records": startIndex=11 here (1-based).
    let next = list(&host, "/Users?startIndex=11");
    assert_eq!(next["startIndex"], 11);
    assert_eq!(next["itemsPerPage"], 2);
    let next = ids(&next);
    assert!(next.iter().all(|id| !first.contains(id)), "no overlap");

    // The blog's literal startIndex=10 starts at the tenth user: it repeats
    // the last user of page one.
    let blog = ids(&list(&host, "/Users?startIndex=10"));
    assert_eq!(blog.len(), 3);
    assert_eq!(blog[0], first[9]);
    assert_eq!(blog[1..], next[..]);
}

#[test]
fn example_create_group_with_a_member() {
    let host = Host::start();
    let member = new_user(&host, "group.member");

    // POST /Groups {"displayName": "SCIM Test", "members": [{"value": …}]}
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"displayName": "SCIM Test", "members": [{"value": member}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    assert_eq!(g["displayName"], "SCIM Test");
    assert_eq!(member_ids(&g), vec![member.clone()]);
    let gid = id_of(&g);
    // The assignment shows on the user too.
    let u = host.get(&format!("/Users/{member}")).json();
    assert_eq!(u["groups"][0]["value"], gid.as_str());

    // "The user id (value) must exist so that the user group assignment is
    // created, otherwise it is ignored": the blog's literal id is unknown here.
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"displayName": "SCIM Test 2", "members": [{"value": BLOG_USER}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json().get("members").is_none(), "{}", r.text());

    // Group memberships change by PATCH add/remove and PUT as well.
    let other = new_user(&host, "other.member");
    let v = patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": other}, {"value": BLOG_USER}]}]),
    );
    assert_eq!(member_ids(&v), sorted(vec![member.clone(), other.clone()]));
    let r = host.send_json(
        "PUT",
        &format!("/Groups/{gid}"),
        &json!({"displayName": "SCIM Test", "members": [{"value": other}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), vec![other]);
}

#[test]
fn example_add_role_members_by_put_and_remove_one_by_patch() {
    let host = Host::start();
    let (a, b, c) = (
        new_user(&host, "ra"),
        new_user(&host, "rb"),
        new_user(&host, "rc"),
    );

    // The roles are a read-only catalog; the blog's role id belongs to the
    // blog's tenant, so here it is not found.
    let r = host.get(&format!("/Roles/{BLOG_ROLE}"));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["schemas"], json!([ERROR]));
    let roles = list(&host, "/Roles");
    assert!(ids(&roles).contains(&PROCESSOR.to_string()));

    // PUT /Roles/{id} {"members": [...]}: exactly these members. An unknown
    // id is ignored.
    let role = format!("/Roles/{PROCESSOR}");
    let r = host.send_json(
        "PUT",
        &role,
        &json!({"members": [{"value": a}, {"value": b}, {"value": BLOG_USER}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(member_ids(&v), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(
        v["displayName"], "Closing Task Processor",
        "catalog data unchanged"
    );

    // "a PUT operation updates all the user role assignments of this role":
    // members not listed are removed.
    let r = host.send_json(
        "PUT",
        &role,
        &json!({"members": [{"value": b}, {"value": c}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), sorted(vec![b.clone(), c.clone()]));
    assert!(host
        .get(&format!("/Users/{a}"))
        .json()
        .get("roles")
        .is_none());

    // PATCH remove with path "members" and a value: only that assignment goes.
    let v = patch(
        &host,
        &role,
        json!([{"op": "remove", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(member_ids(&v), vec![c.clone()]);

    // "Similar to the remove operation, also new user assignments can be
    // established in delta mode via PATCH add".
    let v = patch(
        &host,
        &role,
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    );
    assert_eq!(member_ids(&v), sorted(vec![a.clone(), c.clone()]));
    let ua = host.get(&format!("/Users/{a}")).json();
    assert_eq!(ua["roles"][0]["value"], PROCESSOR);
    assert_eq!(ua["roles"][0]["display"], "Closing Task Processor");

    // "The role configuration itself is read-only".
    let r = host.send_json("POST", "/Roles", &json!({"displayName": "New role"}));
    assert_eq!(r.status, 405, "{}", r.text());
}

#[test]
fn failed_authorization_is_401() {
    let host = Host::start();
    // No token.
    let r = host.request("GET", "/Users", &[("authorization", "")], None);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["schemas"], json!([ERROR]));
    assert!(r.header("www-authenticate").is_some());
    // A token not signed with the configured key.
    let r = host.request(
        "GET",
        "/Users",
        &[(
            "authorization",
            "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
        )],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn deleted_users_are_not_available() {
    let host = Host::start();
    let gone = new_user(&host, "leaver");
    let stays = new_user(&host, "stayer");
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"displayName": "Team", "members": [{"value": gone}, {"value": stays}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    let r = host.send_json(
        "PUT",
        &format!("/Roles/{PROCESSOR}"),
        &json!({"members": [{"value": gone}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let r = host.request("DELETE", &format!("/Users/{gone}"), &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    // Not readable, not listed, not a member anywhere.
    assert_eq!(host.get(&format!("/Users/{gone}")).status, 404);
    assert_eq!(ids(&list(&host, "/Users")), vec![stays.clone()]);
    let v = list(&host, "/Users?filter=userName%20eq%20%22leaver%22");
    assert_eq!(v["totalResults"], 0);
    assert_eq!(
        member_ids(&host.get(&format!("/Groups/{gid}")).json()),
        vec![stays]
    );
    assert!(host
        .get(&format!("/Roles/{PROCESSOR}"))
        .json()
        .get("members")
        .is_none());
}

#[test]
fn user_ids_can_be_case_sensitive_as_in_afc() {
    // AFC compares user IDs case-sensitively; `user_name_case_exact=true`
    // reproduces it (the default is case-insensitive, as IdPs expect).
    let host = Host::start_with(&[("SPIN_VARIABLE_USER_NAME_CASE_EXACT", "true")]);
    let upper = new_user(&host, "JDOE");
    let lower = new_user(&host, "jdoe");
    assert_ne!(upper, lower, "two users");
    let v = list(&host, "/Users?filter=userName%20eq%20%22JDOE%22");
    assert_eq!(ids(&v), vec![upper]);
    let v = list(&host, "/Users?filter=userName%20eq%20%22jdoe%22");
    assert_eq!(ids(&v), vec![lower]);
    let v = list(&host, "/Users?filter=userName%20eq%20%22JDoe%22");
    assert_eq!(v["totalResults"], 0);
}
