//! The Roles extension as AFC has it: a read-only catalog, membership by PUT
//! and PATCH (seed document "SCIM Extension: Roles").

use e2e::{member_ids, new_user, patch, send_patch, Host, PROCESSOR};
use serde_json::json;

#[test]
fn the_catalog_is_listed_and_read_only() {
    let host = Host::start();
    let r = host.get("/Roles");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["totalResults"], 4);
    let r = host.get(&format!("/Roles/{PROCESSOR}"));
    assert_eq!(r.json()["displayName"], "Closing Task Processor");
    let r = host.get("/Roles?filter=displayName%20sw%20%22Closing%20Task%22");
    assert_eq!(r.json()["totalResults"], 2, "{}", r.text());
    assert_eq!(
        host.send_json("POST", "/Roles", &json!({"displayName": "New"}))
            .status,
        405
    );
    assert_eq!(
        host.request("DELETE", &format!("/Roles/{PROCESSOR}"), &[], None)
            .status,
        405
    );
    let r = host.send_json(
        "PUT",
        &format!("/Roles/{PROCESSOR}"),
        &json!({"displayName": "Renamed", "members": []}),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (400, Some("mutability"))
    );
    let r = send_patch(
        &host,
        &format!("/Roles/{PROCESSOR}"),
        json!([{"op": "replace", "path": "description", "value": "x"}]),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (400, Some("mutability"))
    );
}

#[test]
fn afc_blog_sequence_put_then_patch_remove() {
    let host = Host::start();
    let (a, b, c) = (
        new_user(&host, "a"),
        new_user(&host, "b"),
        new_user(&host, "c"),
    );
    // PUT replaces all role members; an unknown id is ignored.
    let r = host.send_json("PUT", &format!("/Roles/{PROCESSOR}"), &json!({
        "schemas": ["urn:spin-scim:params:scim:schemas:extension:role:2.0:Role"],
        "id": PROCESSOR,
        "displayName": "Closing Task Processor",
        "members": [{"value": a}, {"value": b}, {"value": c}, {"value": "0b6f1b1e-0000-4000-8000-00000000dead"}]
    }));
    assert_eq!(r.status, 200, "{}", r.text());
    let mut want = vec![a.clone(), b.clone(), c.clone()];
    want.sort();
    assert_eq!(member_ids(&r.json()), want);
    // AFC's PATCH shape removes one; the others stay.
    let v = patch(
        &host,
        &format!("/Roles/{PROCESSOR}"),
        json!([{"op": "remove", "path": "members", "value": [{"value": b}]}]),
    );
    let mut want = vec![a.clone(), c.clone()];
    want.sort();
    assert_eq!(member_ids(&v), want);
    // User.roles reflects it; deleting a user removes it from the role.
    assert_eq!(
        host.get(&format!("/Users/{a}")).json()["roles"][0]["value"],
        PROCESSOR
    );
    assert_eq!(
        host.request("DELETE", &format!("/Users/{a}"), &[], None)
            .status,
        204
    );
    assert_eq!(
        member_ids(&host.get(&format!("/Roles/{PROCESSOR}")).json()),
        vec![c.clone()]
    );
    // PUT with fewer members removes the others.
    let r = host.send_json(
        "PUT",
        &format!("/Roles/{PROCESSOR}"),
        &json!({"members": []}),
    );
    assert_eq!(r.status, 200);
    assert!(r.json().get("members").is_none());
    assert!(host
        .get(&format!("/Users/{c}"))
        .json()
        .get("roles")
        .is_none());
}

#[test]
fn a_bad_catalog_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("spin-scim-badcat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The catalog path points at a file that is not there: every role request
    // fails loudly instead of showing an empty catalog.
    let host = Host::start_with(&[("SPIN_VARIABLE_ROLES_CATALOG_PATH", "/no-such-catalog.json")]);
    let r = host.get("/Roles");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("role catalog"));
    // Users still work.
    assert_eq!(
        host.send_json("POST", "/Users", &json!({"userName": "ok"}))
            .status,
        201
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_role_keeps_its_external_id() {
    // RFC 7643 §3.1: externalId is a readWrite common attribute of every
    // resource, catalog roles included (scim2-tester's PATCH checks on Roles).
    let host = Host::start();
    let role = format!("/Roles/{PROCESSOR}");
    let v = patch(
        &host,
        &role,
        json!([{"op": "add", "path": "externalId", "value": "idp-processor"}]),
    );
    assert_eq!(v["externalId"], "idp-processor");
    let r = host.get(&format!("/Roles/{PROCESSOR}"));
    assert_eq!(r.json()["externalId"], "idp-processor");
    assert_eq!(r.json()["displayName"], "Closing Task Processor");
    let r = host.get("/Roles?filter=externalId%20eq%20%22idp-processor%22");
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());

    // PUT replaces it (absent: unassigned), alongside the members.
    let u = new_user(&host, "ext-role-user");
    let r = host.send_json(
        "PUT",
        &format!("/Roles/{PROCESSOR}"),
        &json!({"externalId": "idp-2", "members": [{"value": u}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["externalId"], "idp-2");
    assert_eq!(member_ids(&r.json()), vec![u.clone()]);
    let r = host.send_json(
        "PUT",
        &format!("/Roles/{PROCESSOR}"),
        &json!({"members": [{"value": u}]}),
    );
    assert!(r.json().get("externalId").is_none(), "{}", r.text());
    let r = send_patch(
        &host,
        &role,
        json!([{"op": "add", "path": "externalId", "value": 7}]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}
