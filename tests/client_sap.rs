//! SAP Cloud Identity Services – Identity Provisioning (IPS) as a client, with
//! this service as its "SAP Advanced Financial Closing" target system.
//!
//! Sources (SAP Help Portal, Identity Provisioning: "SAP Advanced Financial
//! Closing" as target system and as proxy system, help.sap.com/docs/identity-provisioning):
//! - the default write transformation: users carry the schemas core,
//!   enterprise and `urn:ietf:params:scim:schemas:extension:sap:2.0:User`
//!   (with `userUuid`), `id`, `userName`, `name.*`, `displayName`, `locale`,
//!   `active`, `emails` (the first one `primary: true`, `type` defaulting to
//!   `work`), `phoneNumbers`, `groups`; groups carry the schemas core Group and
//!   `urn:sap:cloud:scim:schemas:extension:custom:2.0:Group` (with `name`),
//!   `id`, `displayName`, `members`;
//! - `s4hana.afc.user.unique.attribute` / `s4hana.afc.group.unique.attribute`:
//!   when a create conflicts, IPS searches the existing entity by `userName`
//!   (users) or `displayName` (groups) and updates it;
//! - the proxy filters `userName eq`, `emails eq`, `name.familyName sw`,
//!   `name.givenName co`, `displayName eq`, and the group filter on
//!   `urn:sap:cloud:scim:schemas:extension:custom:2.0:Group:name`.
//!
//! IPS sends `Content-Type: application/json` and replaces entities with full
//! PUTs; `If-Match: *` (RFC 7644 §3.14, "any version") is accepted on them.

use e2e::{find, id_of, Host, Resp, ENTERPRISE, ERROR, GROUP, SAP_GROUP, SAP_USER, USER};
use serde_json::{json, Value};

/// A request as IPS sends it: `application/json`, optional `If-Match`.
fn ips(host: &Host, method: &str, path: &str, if_match: Option<&str>, body: &Value) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut headers = vec![("content-type", "application/json")];
    if let Some(m) = if_match {
        headers.push(("if-match", m));
    }
    host.request(method, path, &headers, Some(&bytes))
}

/// The user as the default write transformation builds it.
fn ips_user(user_name: &str, given: &str, uuid: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE, SAP_USER],
        SAP_USER: {"userUuid": uuid},
        "userName": user_name,
        "name": {"givenName": given, "familyName": "Armstrong", "formatted": format!("{given} Armstrong")},
        "displayName": format!("{given} Armstrong"),
        "locale": "en",
        "active": true,
        "emails": [{"value": "julie.armstrong@example.com", "primary": true, "type": "work"}],
        "phoneNumbers": [{"value": "+49 6227 7", "type": "work"}],
        "groups": [{"value": "some-ias-group-id", "display": "IAS group"}]
    })
}

#[test]
fn the_sap_schemas_are_declared() {
    let host = Host::start();
    let r = host.get("/Schemas");
    assert_eq!(r.status, 200, "{}", r.text());
    let ids: Vec<String> = r.json()["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert!(ids.iter().any(|i| i == SAP_USER), "{ids:?}");
    assert!(ids.iter().any(|i| i == SAP_GROUP), "{ids:?}");
    for urn in [SAP_USER, SAP_GROUP] {
        let r = host.get(&format!("/Schemas/{urn}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["id"], urn);
    }
    let user_type = host.get("/ResourceTypes/User").json();
    let exts: Vec<&str> = user_type["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert!(
        exts.contains(&SAP_USER) && exts.contains(&ENTERPRISE),
        "{exts:?}"
    );
    let group_type = host.get("/ResourceTypes/Group").json();
    assert_eq!(group_type["schemaExtensions"][0]["schema"], SAP_GROUP);
    assert_eq!(group_type["schemaExtensions"][0]["required"], false);
}

#[test]
fn users_are_created_replaced_and_resolved_on_conflict() {
    let host = Host::start();
    let name = "Julie Armstrong";
    let uuid = "6c8e6f7e-1f2a-4b3c-9d4e-5f6a7b8c9d0e";

    // Create: the SAP extension is accepted, stored and returned; the
    // read-only `groups` is ignored.
    let r = ips(
        &host,
        "POST",
        "/Users",
        None,
        &ips_user(name, "Julie", uuid),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = id_of(&created);
    assert_eq!(created["schemas"], json!([USER, SAP_USER]), "{created}");
    assert_eq!(created[SAP_USER], json!({"userUuid": uuid}));
    assert!(created.get("groups").is_none(), "{created}");
    assert_eq!(created["phoneNumbers"][0]["value"], "+49 6227 7");
    let stored = host.get(&format!("/Users/{id}")).json();
    assert_eq!(stored[SAP_USER]["userUuid"], uuid);

    // The proxy's filters (users).
    for filter in [
        format!("userName eq \"{name}\""),
        "emails eq \"julie.armstrong@example.com\"".to_string(),
        "name.familyName sw \"A\"".to_string(),
        "name.givenName co \"Ju\"".to_string(),
        format!("{SAP_USER}:userUuid eq \"{uuid}\""),
    ] {
        let v = find(&host, "/Users", &filter);
        assert_eq!(v["totalResults"], 1, "{filter}: {v}");
        assert_eq!(v["Resources"][0]["id"], id.as_str());
    }

    // A full PUT with If-Match: * replaces the user; what is left out is gone.
    let mut replacement = ips_user(name, "Juliet", uuid);
    replacement["id"] = json!(id);
    replacement.as_object_mut().unwrap().remove("phoneNumbers");
    replacement[SAP_USER]["mailVerified"] = json!("true");
    let r = ips(
        &host,
        "PUT",
        &format!("/Users/{id}"),
        Some("*"),
        &replacement,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["name"]["givenName"], "Juliet");
    assert!(v.get("phoneNumbers").is_none(), "{v}");
    assert_eq!(v[SAP_USER], json!({"userUuid": uuid, "mailVerified": true}));
    let version = r.header("etag").unwrap().to_string();

    // A stale If-Match is refused.
    let r = ips(
        &host,
        "PUT",
        &format!("/Users/{id}"),
        Some("W/\"1\""),
        &replacement,
    );
    assert_eq!(r.status, 412, "{}", r.text());
    assert_eq!(r.json()["schemas"], json!([ERROR]));
    // The current one is accepted.
    let r = ips(
        &host,
        "PUT",
        &format!("/Users/{id}"),
        Some(&version),
        &replacement,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A second job (or another source) creates the same user: 409; IPS then
    // searches by its unique attribute and PUTs the found id.
    let r = ips(
        &host,
        "POST",
        "/Users",
        None,
        &ips_user(name, "Jules", uuid),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["scimType"], "uniqueness");
    let v = find(&host, "/Users", &format!("userName eq \"{name}\""));
    assert_eq!(v["totalResults"], 1);
    let found = id_of(&v["Resources"][0]);
    assert_eq!(found, id);
    let mut body = ips_user(name, "Jules", uuid);
    body["id"] = json!(found);
    let r = ips(&host, "PUT", &format!("/Users/{found}"), Some("*"), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"]["givenName"], "Jules");

    // The other unique attribute IPS may use: emails[0].value.
    let v = find(
        &host,
        "/Users",
        "emails[type eq \"work\"].value eq \"julie.armstrong@example.com\"",
    );
    assert_eq!(v["totalResults"], 1);
}

#[test]
fn groups_carry_the_sap_extension_and_are_resolved_by_display_name() {
    let host = Host::start();
    let mut members = Vec::new();
    for (i, n) in ["p1", "p2", "p3"].iter().enumerate() {
        let r = ips(
            &host,
            "POST",
            "/Users",
            None,
            &json!({"schemas": [USER, SAP_USER], "userName": n,
                    SAP_USER: {"userUuid": format!("uuid-{i}")}}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        members.push(id_of(&r.json()));
    }

    let group = |display: &str, ms: &[&String]| {
        json!({
            "schemas": [GROUP, SAP_GROUP],
            "displayName": display,
            SAP_GROUP: {"name": "ProjectTeam1", "description": "Closing project team"},
            "members": ms.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()
        })
    };

    // Create: the custom extension comes back as sent.
    let r = ips(
        &host,
        "POST",
        "/Groups",
        None,
        &group("Administrators", &[&members[0], &members[1]]),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gid = id_of(&g);
    assert_eq!(g["schemas"], json!([GROUP, SAP_GROUP]));
    assert_eq!(
        g[SAP_GROUP],
        json!({"name": "ProjectTeam1", "description": "Closing project team"})
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 2);

    // The proxy's group filters.
    let v = find(&host, "/Groups", "displayName eq \"Administrators\"");
    assert_eq!(v["totalResults"], 1);
    let v = find(
        &host,
        "/Groups",
        &format!("{SAP_GROUP}:name eq \"ProjectTeam1\""),
    );
    assert_eq!(v["totalResults"], 1, "{v}");
    assert_eq!(v["Resources"][0]["id"], gid.as_str());

    // 409 on create; lookup by displayName; full PUT replaces the members.
    let r = ips(
        &host,
        "POST",
        "/Groups",
        None,
        &group("Administrators", &[&members[2]]),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["scimType"], "uniqueness");
    let v = find(&host, "/Groups", "displayName eq \"Administrators\"");
    let found = id_of(&v["Resources"][0]);
    assert_eq!(found, gid);
    let mut body = group("Administrators", &[&members[2]]);
    body["id"] = json!(found);
    let r = ips(&host, "PUT", &format!("/Groups/{found}"), Some("*"), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["members"].as_array().unwrap().len(), 1);
    assert_eq!(v["members"][0]["value"], members[2].as_str());
    assert_eq!(v[SAP_GROUP]["name"], "ProjectTeam1");
    // The users' side agrees.
    assert!(host
        .get(&format!("/Users/{}", members[0]))
        .json()
        .get("groups")
        .is_none());
    assert_eq!(
        host.get(&format!("/Users/{}", members[2])).json()["groups"][0]["value"],
        gid.as_str()
    );

    // A PUT without the extension drops it, and `schemas` follows.
    let r = ips(
        &host,
        "PUT",
        &format!("/Groups/{gid}"),
        Some("*"),
        &json!({"schemas": [GROUP], "id": gid, "displayName": "Administrators", "members": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([GROUP]));
    assert!(
        v.get(SAP_GROUP).is_none() && v.get("members").is_none(),
        "{v}"
    );
}

#[test]
fn groups_from_sources_with_the_sap_group_type_extension() {
    // The default write transformation also forwards, when the source group
    // has them (SAP S/4HANA Cloud, application-specific groups of Identity
    // Authentication), `urn:ietf:params:scim:schemas:extension:sap:2.0:Group`
    // `type` and `supportedOperations` — without listing that URN in `schemas`.
    // The server declares it as an open extension (stored and returned as sent).
    let host = Host::start();
    let sap_group_type = "urn:ietf:params:scim:schemas:extension:sap:2.0:Group";
    let r = ips(
        &host,
        "POST",
        "/Groups",
        None,
        &json!({
            "schemas": [GROUP, SAP_GROUP],
            "displayName": "Authorizations",
            SAP_GROUP: {"name": "Authorizations"},
            sap_group_type: {"type": "authorization", "supportedOperations": "userOnlyMembership"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    assert_eq!(g[sap_group_type]["type"], "authorization", "{g}");
}
