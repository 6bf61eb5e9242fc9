//! Microsoft Entra ID's provisioning service as a client, request by request.
//!
//! Sources (what Entra really sends):
//! - "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
//!   Entra ID", section "SCIM protocol requests and responses"
//!   (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups):
//!   ops emitted as `Add`/`Replace`/`Remove`; users queried by `userName` or
//!   `emails[type eq "work"]`; groups read with `excludedAttributes=members`;
//!   random users and groups fetched to check the endpoint and credentials;
//!   the request bodies below.
//! - "Known issues and resolutions with SCIM 2.0 protocol compliance"
//!   (learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility):
//!   the default job sends `"op":"Replace"` with `"value":"False"` to disable
//!   users, one op per attribute, and removes members with a `value` array;
//!   with `?aadOptscim062020` in the tenant URL it sends RFC shapes (boolean
//!   `false`, a no-path replace with dotted keys, `members[value eq "…"]`).
//!   The flag is in the tenant URL Entra calls: the server sees it as an
//!   unknown query parameter and ignores it; both dialects are accepted.

use e2e::{enc, find, id_of, list, patch, Host, ENTERPRISE, ERROR, GROUP, USER};
use serde_json::{json, Value};

/// Entra appends the flag to every request of a flagged tenant URL.
const FLAG: &str = "aadOptscim062020";

fn assert_scim_404(host: &Host, path: &str) {
    let r = host.get(path);
    assert_eq!(r.status, 404, "GET {path}: {}", r.text());
    let e = r.json();
    assert_eq!(e["schemas"], json!([ERROR]), "{e}");
    assert_eq!(e["status"], "404", "{e}");
    assert!(e["detail"].is_string(), "{e}");
}

/// The tutorial's "Create User" request.
fn create_user_body(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": format!("{user_name}@testuser.com")
        }],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    })
}

#[test]
fn connection_test_reads_a_random_user_and_group() {
    let host = Host::start();
    // "Get User" for an id that does not exist: 404 with a SCIM error body.
    assert_scim_404(&host, "/Users/0f3c2b7e-5d6a-4c1b-9e8f-7a6b5c4d3e2f");
    // Entra's own example ids are not UUIDs: still a SCIM 404.
    assert_scim_404(&host, "/Users/5171a35d82074e068ce2");
    assert_scim_404(
        &host,
        "/Groups/40734ae655284ad3abcc?excludedAttributes=members",
    );
    // "Get User by query - Zero results": 200 and an empty list.
    let v = find(&host, "/Users", "userName eq \"non-existent user\"");
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["startIndex"], 1);
    assert_eq!(v["Resources"], json!([]));
    // Same with the flag in the query string.
    let v = list(
        &host,
        &format!(
            "/Users?{FLAG}&filter={}",
            enc("userName eq \"a4a7c3f0-2d9b-4c6e-8f1a-0b2c3d4e5f60\"")
        ),
    );
    assert_eq!(v["totalResults"], 0);
}

#[test]
fn user_lifecycle_in_the_default_mode() {
    let host = Host::start();
    let name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1";
    let ext = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";

    // Before creating, Entra looks the user up by its matching attribute.
    assert_eq!(
        find(&host, "/Users", &format!("userName eq \"{name}\""))["totalResults"],
        0
    );
    assert_eq!(
        find(&host, "/Users", &format!("externalId eq \"{ext}\""))["totalResults"],
        0
    );

    // Create User: `meta` and the empty read-only `roles` are ignored.
    let r = host.send_json("POST", "/Users", &create_user_body(name, ext));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = id_of(&created);
    assert_eq!(created["userName"], name);
    assert_eq!(created["externalId"], ext);
    assert_eq!(created["active"], true);
    assert_eq!(created["name"]["formatted"], "givenName familyName");
    assert_eq!(created["emails"][0]["type"], "work");
    assert!(created.get("roles").is_none(), "{created}");
    assert_eq!(created["meta"]["resourceType"], "User");
    let u = format!("/Users/{id}");

    // Get User by query: by userName, externalId, and the work email.
    for filter in [
        format!("userName eq \"{name}\""),
        format!("externalId eq \"{ext}\""),
        format!("emails[type eq \"work\"].value eq \"{name}@testuser.com\""),
    ] {
        let v = find(&host, "/Users", &filter);
        assert_eq!(v["totalResults"], 1, "{filter}: {v}");
        assert_eq!(v["Resources"][0]["id"], id.as_str());
    }

    // Update User [Multi-valued properties].
    let v = patch(
        &host,
        &u,
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    );
    assert_eq!(v["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(v["emails"][0]["primary"], true);
    assert_eq!(v["name"]["familyName"], "updatedFamilyName");

    // Update User [Single-valued properties]: even userName.
    let renamed = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let v = patch(
        &host,
        &u,
        json!([{"op": "Replace", "path": "userName", "value": renamed}]),
    );
    assert_eq!(v["userName"], renamed);
    assert_eq!(
        find(&host, "/Users", &format!("userName eq \"{renamed}\""))["totalResults"],
        1
    );
    assert_eq!(
        find(&host, "/Users", &format!("userName eq \"{name}\""))["totalResults"],
        0
    );

    // Replacing several attributes: one capitalised op per attribute.
    let v = patch(
        &host,
        &u,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "Eqpj"}
        ]),
    );
    assert_eq!(v["displayName"], "Pvlo");
    assert_eq!(v["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(v["name"]["givenName"], "Gtfd");
    assert_eq!(v["name"]["familyName"], "Pkqf");
    assert_eq!(v["externalId"], "Eqpj");
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(v["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(
        find(&host, "/Users", "externalId eq \"Eqpj\"")["totalResults"],
        1
    );
    assert_eq!(
        find(&host, "/Users", &format!("externalId eq \"{ext}\""))["totalResults"],
        0
    );

    // Disable User, default job: a string boolean. A soft delete: the user
    // stays readable and listed, now inactive.
    let v = patch(
        &host,
        &u,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(v["active"], false);
    let r = host.get(&u);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], false);
    let v = find(&host, "/Users", "active eq false");
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["id"], id.as_str());
    // ...and enable again.
    let v = patch(
        &host,
        &u,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    );
    assert_eq!(v["active"], true);

    // Delete User: 204, then 404.
    let r = host.request("DELETE", &u, &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_scim_404(&host, &u);
}

#[test]
fn user_updates_in_the_scim_compliant_mode() {
    let host = Host::start();
    let r = host.send_json(
        "POST",
        &format!("/Users?{FLAG}"),
        &create_user_body("flagged@testuser.com", "ext-flagged"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = id_of(&r.json());
    let u = format!("/Users/{id}?{FLAG}");

    // Requests to disable users: a real boolean.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(v["active"], false);

    // Requests to add a single-value string attribute.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": "nickName", "value": "Babs"}]),
    );
    assert_eq!(v["nickName"], "Babs");

    // Requests to replace multiple attributes: a filtered path plus one
    // no-path replace whose keys are dotted and URN-qualified paths.
    let v = patch(
        &host,
        &u,
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                format!("{ENTERPRISE}:employeeNumber"): "Aklq"
            }}
        ]),
    );
    assert_eq!(v["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    assert_eq!(v["displayName"], "Bjfe");
    assert_eq!(
        v["name"],
        json!({"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"})
    );
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(v["nickName"], "Babs", "not mentioned: unchanged");
    // The stored resource agrees.
    let stored = host.get(&format!("/Users/{id}")).json();
    assert_eq!(stored["name"]["givenName"], "Kkom");
    assert_eq!(stored["active"], false);
}

#[test]
fn groups_are_read_without_members_and_members_change_by_patch() {
    let host = Host::start();
    let mut users = Vec::new();
    for i in 0..3 {
        let r = host.send_json(
            "POST",
            "/Users",
            &create_user_body(&format!("member{i}"), &format!("ext-m{i}")),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        users.push(id_of(&r.json()));
    }

    // Get Group by displayName (none yet).
    let by_name = |name: &str| {
        list(
            &host,
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                enc(&format!("displayName eq \"{name}\""))
            ),
        )
    };
    assert_eq!(by_name("displayName")["totalResults"], 0);

    // Create Group: always created with an empty member list.
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({
            "schemas": [GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gid = id_of(&g);
    assert_eq!(g["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert!(g.get("members").is_none(), "{g}");
    let gpath = format!("/Groups/{gid}");

    // Get Group and Get Group by displayName, members excluded.
    let r = host.get(&format!("{gpath}?excludedAttributes=members"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["displayName"], "displayName");
    let v = by_name("displayName");
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["id"], gid.as_str());

    // Update Group [Non-member attributes].
    let renamed = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName";
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "Replace", "path": "displayName", "value": renamed}]),
    );
    assert_eq!(v["displayName"], renamed);
    assert_eq!(by_name(renamed)["totalResults"], 1);
    assert_eq!(
        by_name("displayName")["totalResults"],
        0,
        "the old name is free"
    );

    // Update Group [Add Members]: `$ref` is sent as null.
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": users[0]},
            {"$ref": null, "value": users[1]},
            {"$ref": null, "value": users[2]}
        ]}]),
    );
    assert_eq!(v["members"].as_array().unwrap().len(), 3);

    // Is a user a member? Asked with a filter on members, members excluded.
    let is_member = |uid: &str| {
        let v = list(
            &host,
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                enc(&format!("id eq \"{gid}\" and members eq \"{uid}\""))
            ),
        );
        if let Some(first) = v["Resources"].as_array().and_then(|a| a.first()) {
            assert!(first.get("members").is_none(), "{first}");
        }
        v["totalResults"] == 1
    };
    assert!(is_member(&users[0]));

    // Update Group [Remove Members], default job: a value array.
    let v = patch(
        &host,
        &gpath,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": users[0]}]}]),
    );
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    assert!(!is_member(&users[0]));
    assert!(is_member(&users[1]));

    // The same removal with ?aadOptscim062020: a value filter in the path.
    let v = patch(
        &host,
        &format!("{gpath}?{FLAG}"),
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])}]),
    );
    assert_eq!(v["members"].as_array().unwrap().len(), 1);
    assert_eq!(v["members"][0]["value"], users[2].as_str());
    assert!(!is_member(&users[1]));

    // The user side agrees.
    let u2 = host.get(&format!("/Users/{}", users[2])).json();
    assert_eq!(u2["groups"][0]["value"], gid.as_str());
    assert_eq!(u2["groups"][0]["display"], renamed);

    // Delete Group.
    let r = host.request("DELETE", &gpath, &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_scim_404(&host, &gpath);
    assert!(host
        .get(&format!("/Users/{}", users[2]))
        .json()
        .get("groups")
        .is_none());
}
