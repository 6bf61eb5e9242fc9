//! Groups and memberships through the real `.wasm` (RFC 7643 §4.2), and the
//! AFC behaviours: unknown members dropped, deletions cascade.

use e2e::{create, id_of, member_ids, send_patch, sorted, Host, GROUP};
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
    assert_eq!(
        send_patch(
            &host,
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [{"value": c}]}])
        )
        .status,
        200
    );
    let r = send_patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), sorted(vec![b.clone(), c.clone()]));
    let r = send_patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(member_ids(&r.json()), vec![c.clone()]);
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
    let r = send_patch(
        &host,
        &format!("/Groups/{gid}"),
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let g = host.get(&format!("/Groups/{gid}")).json();
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
