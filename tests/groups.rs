//! Groups and memberships through the real `.wasm` (RFC 7643 §4.2), and the
//! AFC behaviours: unknown members dropped, deletions cascade.

use e2e::{create, id_of, member_ids, patch, send_patch, sorted, Host, GROUP};
use serde_json::json;

/// A user whose `displayName` is its `userName` and " D"; returns its id.
fn user(host: &Host, name: &str) -> String {
    id_of(&create(
        host,
        "/Users",
        json!({"userName": name, "displayName": format!("{name} D")}),
    ))
}

#[test]
fn members_are_added_removed_and_reflected_in_user_groups() {
    let host = Host::start();
    let a = user(&host, "a");
    let b = user(&host, "b");
    let c = user(&host, "c");
    let r = host.send_json("POST", "/Groups", &json!({
        "schemas": [GROUP],
        "displayName": "Closers",
        "members": [{"value": a}, {"value": b}, {"value": "5d2a1d6e-0000-4000-8000-000000000000"}, {"value": "junk"}]
    }));
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gid = id_of(&g);
    assert_eq!(
        member_ids(&g),
        sorted(vec![a.clone(), b.clone()]),
        "unknown members are dropped"
    );
    assert_eq!(g["members"][0]["type"], "User");

    // User.groups reflects memberships.
    let ua = host.get(&format!("/Users/{a}")).json();
    assert_eq!(ua["groups"][0]["value"], gid.as_str());
    assert_eq!(ua["groups"][0]["display"], "Closers");

    // PATCH add, then remove by value filter, then Entra's remove with a value array.
    let v = patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": c}]}]),
    );
    assert_eq!(
        member_ids(&v),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    let v = patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!(member_ids(&v), sorted(vec![b.clone(), c.clone()]));
    let v = patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(member_ids(&v), vec![c.clone()]);
    assert!(
        host.get(&format!("/Users/{a}"))
            .json()
            .get("groups")
            .is_none(),
        "a left the group"
    );

    // excludedAttributes=members does not return members.
    let r = host.get(&format!("/Groups/{gid}?excludedAttributes=members"));
    assert!(r.json().get("members").is_none());
    assert_eq!(r.json()["displayName"], "Closers");

    // PUT replaces the member list.
    let r = host.send_json(
        "PUT",
        &format!("/Groups/{gid}"),
        &json!({"displayName": "Closers", "members": [{"value": a}]}),
    );
    assert_eq!(member_ids(&r.json()), vec![a.clone()]);
    assert!(host
        .get(&format!("/Users/{c}"))
        .json()
        .get("groups")
        .is_none());

    // Deleting a user removes it from the group.
    assert_eq!(
        host.request("DELETE", &format!("/Users/{a}"), &[], None)
            .status,
        204
    );
    assert!(host
        .get(&format!("/Groups/{gid}"))
        .json()
        .get("members")
        .is_none());

    // Deleting the group removes it from its members' groups.
    send_patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(
        host.get(&format!("/Users/{b}")).json()["groups"][0]["value"],
        gid.as_str()
    );
    assert_eq!(
        host.request("DELETE", &format!("/Groups/{gid}"), &[], None)
            .status,
        204
    );
    assert!(host
        .get(&format!("/Users/{b}"))
        .json()
        .get("groups")
        .is_none());
    assert_eq!(host.get(&format!("/Groups/{gid}")).status, 404);
}

#[test]
fn group_display_names_are_unique_and_looked_up() {
    let host = Host::start();
    let r = host.send_json("POST", "/Groups", &json!({"displayName": "Team"}));
    assert_eq!(r.status, 201);
    let r = host.send_json("POST", "/Groups", &json!({"displayName": "team"}));
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    let r = host.get("/Groups?filter=displayName%20eq%20%22Team%22&excludedAttributes=members");
    assert_eq!(r.json()["totalResults"], 1);
}

#[test]
fn group_version_changes_with_members() {
    let host = Host::start();
    let a = user(&host, "v");
    let r = host.send_json("POST", "/Groups", &json!({"displayName": "Versioned"}));
    let gid = id_of(&r.json());
    let e1 = r.header("etag").unwrap().to_string();
    let r = send_patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    );
    assert_ne!(r.header("etag").unwrap(), e1);
    let r = host.request(
        "DELETE",
        &format!("/Groups/{gid}"),
        &[("if-match", &e1)],
        None,
    );
    assert_eq!(r.status, 412, "a stale If-Match blocks the delete");
    assert_eq!(host.get(&format!("/Groups/{gid}")).status, 200);
}

#[test]
fn member_display_is_kept_as_sent_else_taken_from_the_user() {
    // RFC 7643 §2.4: `display` is immutable, so a client sets it with the
    // member (scim2-tester's PATCH add/replace of `members` round-trips it).
    let host = Host::start();
    let a = user(&host, "disp-a");
    let b = user(&host, "disp-b");
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"displayName": "Displays", "members": [{"value": a, "display": "Alice (IdP)"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    assert_eq!(r.json()["members"][0]["display"], "Alice (IdP)");
    let g = patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    );
    let display_of = |id: &str| {
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == id)
            .map(|m| m["display"].clone())
    };
    assert_eq!(display_of(&a), Some(json!("Alice (IdP)")));
    assert_eq!(
        display_of(&b),
        Some(json!("disp-b D")),
        "no display sent: the user's"
    );
}

/// `PATCH path` with `ops` and extra request headers.
fn patch_with(
    host: &Host,
    path: &str,
    headers: &[(&str, &str)],
    ops: serde_json::Value,
) -> e2e::Resp {
    let body = serde_json::to_vec(&e2e::patch_op(ops)).unwrap();
    let mut all = vec![("content-type", "application/scim+json")];
    all.extend_from_slice(headers);
    host.request("PATCH", path, &all, Some(&body))
}

#[test]
fn patch_answers_follow_prefer_projection_and_configuration() {
    // RFC 7644 §3.5.2: 200 with the resource (subject to `attributes`) or
    // 204; RFC 7240 `Prefer: return=...` lets the client choose.
    let host = Host::start();
    let (a, b) = (user(&host, "pa"), user(&host, "pb"));
    let group = format!(
        "/Groups/{}",
        id_of(&create(&host, "/Groups", json!({"displayName": "Answers"})))
    );
    let add = |m: &str| json!([{"op": "add", "path": "members", "value": [{"value": m}]}]);

    // A group: 204 by default, with the new version and no body.
    let r = patch_with(&host, &group, &[], add(&a));
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    assert!(r.header("preference-applied").is_none());
    let now = host.get(&group);
    assert_eq!(r.header("etag"), now.header("etag"));
    assert_eq!(member_ids(&now.json()), vec![a.clone()]);

    // Asked for: the whole group, or its projection.
    let r = patch_with(
        &host,
        &group,
        &[("prefer", "return=representation")],
        add(&b),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("preference-applied"),
        Some("return=representation")
    );
    assert_eq!(member_ids(&r.json()), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(r.json(), host.get(&group).json());
    let r = patch_with(
        &host,
        &format!("{group}?excludedAttributes=members"),
        &[],
        json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["displayName"], "Renamed");
    assert!(r.json().get("members").is_none());

    // A user: the resource by default, 204 when the client prefers minimal.
    let u = format!("/Users/{a}");
    let rename = |n: &str| json!([{"op": "replace", "path": "displayName", "value": n}]);
    let r = patch_with(&host, &u, &[], rename("A1"));
    assert_eq!(
        (r.status, r.json()["displayName"].as_str()),
        (200, Some("A1"))
    );
    let r = patch_with(&host, &u, &[("prefer", "return=minimal")], rename("A2"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("preference-applied"), Some("return=minimal"));
    let now = host.get(&u);
    assert_eq!(now.json()["displayName"], "A2");
    assert_eq!(r.header("etag"), now.header("etag"));

    // A deployment whose clients read PATCH answers: groups return the resource.
    let host = Host::start_with(&[("SPIN_VARIABLE_GROUP_PATCH_RESPONSE", "representation")]);
    let c = user(&host, "pc");
    let group = format!(
        "/Groups/{}",
        id_of(&create(&host, "/Groups", json!({"displayName": "Full"})))
    );
    let r = patch_with(&host, &group, &[], add(&c));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), vec![c.clone()]);
    let r = patch_with(
        &host,
        &group,
        &[("prefer", "return=minimal")],
        json!([{"op": "remove", "path": "members"}]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(host.get(&group).json().get("members").is_none());
}
