//! PATCH through the real `.wasm` (RFC 7644 §3.5.2, issue #4 points 7–8):
//! the three operations with and without `path`, value filters, sub-attribute
//! and URN paths, all-or-nothing application, and the dialects identity
//! providers speak (capitalised ops, string booleans, no-path values with
//! dotted keys, removals by value, `displayName` on members).

use e2e::{
    create, id_of, member_ids, patch, patch_op, send_patch, sorted, Host, Resp, ENTERPRISE, ERROR,
    PATCH_OP, USER,
};
use serde_json::{json, Value};

/// A user with a little of everything.
fn alice(host: &Host) -> String {
    id_of(&create(
        host,
        "/Users",
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "alice",
            "displayName": "Alice",
            "title": "Engineer",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "emails": [
                {"value": "alice@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ],
            "active": true,
            ENTERPRISE: {"employeeNumber": "7", "department": "R&D"}
        }),
    ))
}

fn patch_raw(host: &Host, path: &str, body: &Value) -> Resp {
    host.send_json("PATCH", path, body)
}

fn patch_fails(host: &Host, path: &str, ops: Value, status: u16, scim_type: &str) -> String {
    let r = send_patch(host, path, ops);
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([ERROR]), "{v}");
    assert_eq!(v["scimType"], scim_type, "{v}");
    v["detail"].as_str().unwrap_or_default().to_string()
}

fn emails(v: &Value) -> Value {
    v["emails"].clone()
}

// ---- the three operations ---------------------------------------------------------------

#[test]
fn add_replace_remove_with_a_path() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");

    // add on an unassigned single-valued attribute sets it; on an assigned one replaces it.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": "nickName", "value": "Ali"}]),
    );
    assert_eq!(v["nickName"], "Ali");
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": "title", "value": "Lead"}]),
    );
    assert_eq!(v["title"], "Lead");

    // add on a multi-valued attribute appends (RFC 7644 §3.5.2.1).
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@other.example", "type": "other"}]}]),
    );
    assert_eq!(emails(&v).as_array().unwrap().len(), 3);
    assert_eq!(v["emails"][2]["value"], "a@other.example");

    // replace on a multi-valued attribute replaces the whole list.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "emails", "value": [{"value": "only@work.example", "type": "work"}]}]),
    );
    assert_eq!(
        emails(&v),
        json!([{"value": "only@work.example", "type": "work"}])
    );

    // remove takes the attribute away.
    let v = patch(&host, &u, json!([{"op": "remove", "path": "nickName"}]));
    assert!(v.get("nickName").is_none(), "{v}");

    // A PATCH that changes nothing keeps the version.
    let before = host.get(&u);
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "title", "value": "Lead"}]),
    );
    assert_eq!(v["meta"]["version"], before.json()["meta"]["version"]);

    // Patching an unknown id is a 404.
    let r = send_patch(
        &host,
        "/Users/6f1c8a2e-0000-4000-8000-000000000404",
        json!([{"op": "add", "path": "title", "value": "x"}]),
    );
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn add_and_replace_without_a_path() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");

    // add without path: the value's attributes are added (multi-valued ones appended).
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "value": {
            "nickName": "Ali",
            "emails": [{"value": "ali@extra.example", "type": "other"}]
        }}]),
    );
    assert_eq!(v["nickName"], "Ali");
    assert_eq!(emails(&v).as_array().unwrap().len(), 3);

    // replace without path: listed attributes replaced, the others untouched;
    // a complex attribute merges its sub-attributes (RFC 7644 §3.5.2.3).
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "value": {
            "displayName": "Alice S.",
            "name": {"familyName": "Smyth"},
            "active": false
        }}]),
    );
    assert_eq!(v["displayName"], "Alice S.");
    assert_eq!(
        v["name"],
        json!({"givenName": "Alice", "familyName": "Smyth"})
    );
    assert_eq!(v["active"], false);
    assert_eq!(v["title"], "Engineer", "not mentioned: unchanged");

    // remove without path has no target (RFC 7644 §3.5.2.2).
    let d = patch_fails(&host, &u, json!([{"op": "remove"}]), 400, "noTarget");
    assert!(d.contains("operation 0"), "{d}");
    // add without value is invalid.
    patch_fails(
        &host,
        &u,
        json!([{"op": "add", "path": "title"}]),
        400,
        "invalidValue",
    );
    // an unknown op is invalid.
    patch_fails(
        &host,
        &u,
        json!([{"op": "merge", "path": "title", "value": "x"}]),
        400,
        "invalidValue",
    );
}

// ---- value filters, sub-attributes and URNs in paths -------------------------------------

#[test]
fn value_filters_in_paths() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");

    // Replace one sub-attribute of the matching element only.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@new.example"}]),
    );
    assert_eq!(
        emails(&v),
        json!([
            {"value": "alice@new.example", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"}
        ])
    );

    // Replace the matching element as a whole.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "emails[type eq \"home\"]",
                "value": {"value": "alice@cottage.example", "type": "home", "primary": true}}]),
    );
    assert_eq!(v["emails"][1]["value"], "alice@cottage.example");
    assert_eq!(v["emails"][1]["primary"], true);
    assert_ne!(
        v["emails"][0]["primary"], true,
        "only one primary (RFC 7643 §2.4)"
    );

    // Remove the matching element; a filter that matches nothing removes nothing.
    let v = patch(
        &host,
        &u,
        json!([{"op": "remove", "path": "emails[value ew \"cottage.example\"]"}]),
    );
    assert_eq!(emails(&v).as_array().unwrap().len(), 1);
    let before = v["meta"]["version"].clone();
    let v = patch(
        &host,
        &u,
        json!([{"op": "remove", "path": "emails[type eq \"pager\"]"}]),
    );
    assert_eq!(
        v["meta"]["version"], before,
        "nothing matched: no new version"
    );

    // An add whose filter matches nothing and cannot be built from eq terms: noTarget.
    patch_fails(
        &host,
        &u,
        json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "x"}]),
        400,
        "noTarget",
    );
    // A filter on an attribute that is not multi-valued complex: invalidPath.
    patch_fails(
        &host,
        &u,
        json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "y"}]),
        400,
        "invalidPath",
    );
    // A malformed filter in a path.
    let r = send_patch(
        &host,
        &u,
        json!([{"op": "remove", "path": "emails[type eq ]"}]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        matches!(
            r.json()["scimType"].as_str(),
            Some("invalidPath" | "invalidFilter")
        ),
        "{}",
        r.text()
    );
}

#[test]
fn add_or_replace_on_a_missing_filtered_element_creates_it() {
    let host = Host::start();
    let bare = id_of(&create(&host, "/Users", json!({"userName": "bare"})));
    let u = format!("/Users/{bare}");
    // No emails at all: the element is built from the filter's eq terms.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "bare@work.example"}]),
    );
    assert_eq!(
        emails(&v),
        json!([{"type": "work", "value": "bare@work.example"}])
    );

    // Only a home address: replace on work adds a work entry next to it.
    let home = id_of(&create(
        &host,
        "/Users",
        json!({"userName": "homey", "emails": [{"value": "h@home.example", "type": "home"}]}),
    ));
    let v = patch(
        &host,
        &format!("/Users/{home}"),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "h@work.example"}]),
    );
    assert_eq!(
        emails(&v),
        json!([
            {"value": "h@home.example", "type": "home"},
            {"type": "work", "value": "h@work.example"}
        ])
    );
    // The new address is indexed: an email lookup finds the user.
    let r = host.get("/Users?filter=emails%20eq%20%22h@work.example%22");
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
}

#[test]
fn sub_attribute_and_urn_paths() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");

    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "name.familyName", "value": "Jones"}]),
    );
    assert_eq!(
        v["name"],
        json!({"givenName": "Alice", "familyName": "Jones"})
    );
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": format!("{USER}:name.givenName"), "value": "Ally"}]),
    );
    assert_eq!(v["name"]["givenName"], "Ally");
    let v = patch(
        &host,
        &u,
        json!([{"op": "remove", "path": "name.givenName"}]),
    );
    assert_eq!(v["name"], json!({"familyName": "Jones"}));

    // Extension attributes by their full name.
    let v = patch(
        &host,
        &u,
        json!([
            {"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "8"},
            {"op": "add", "path": format!("{ENTERPRISE}:manager.value"), "value": "boss-1"}
        ]),
    );
    assert_eq!(
        v[ENTERPRISE],
        json!({"employeeNumber": "8", "department": "R&D", "manager": {"value": "boss-1"}})
    );
    // The extension URN as path: its object's attributes.
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": ENTERPRISE, "value": {"department": "Ops"}}]),
    );
    assert_eq!(v[ENTERPRISE]["department"], "Ops");
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "8");

    // Removing the last extension attributes drops the extension from schemas.
    let v = patch(
        &host,
        &u,
        json!([
            {"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")},
            {"op": "remove", "path": format!("{ENTERPRISE}:department")},
            {"op": "remove", "path": format!("{ENTERPRISE}:manager")}
        ]),
    );
    assert!(v.get(ENTERPRISE).is_none(), "{v}");
    assert_eq!(v["schemas"], json!([USER]));
    // ...and adding one brings it back.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "path": format!("{ENTERPRISE}:costCenter"), "value": "CC1"}]),
    );
    assert_eq!(v["schemas"], json!([USER, ENTERPRISE]));

    // A URN the server does not declare: invalidPath.
    patch_fails(
        &host,
        &u,
        json!([{"op": "add", "path": "urn:example:params:scim:schemas:nope:2.0:User:x", "value": "y"}]),
        400,
        "invalidPath",
    );
    // Read-only attributes cannot be changed by an explicit path.
    patch_fails(
        &host,
        &u,
        json!([{"op": "replace", "path": "id", "value": "other"}]),
        400,
        "mutability",
    );
}

// ---- all or nothing ------------------------------------------------------------------------

#[test]
fn a_failing_operation_stores_nothing() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");
    let before = host.get(&u);
    let etag = before.header("etag").unwrap().to_string();
    let before = before.json();

    // The first operation is fine, the second is not: nothing is stored.
    for second in [
        json!({"op": "replace", "path": "active", "value": "perhaps"}),
        json!({"op": "remove"}),
        json!({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}),
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "frobnicate", "path": "title"}),
    ] {
        let r = send_patch(
            &host,
            &u,
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "add", "path": "emails", "value": [{"value": "x@y.example"}]},
                second
            ]),
        );
        assert_eq!(r.status, 400, "{second}: {}", r.text());
        let e = r.json();
        let detail = e["detail"].as_str().unwrap().to_string();
        // Errors found while applying name the operation; mutability is
        // checked on the result of all of them.
        assert!(
            detail.contains("operation 2") || e["scimType"] == "mutability",
            "names the failing op: {e}"
        );
        let now = host.get(&u);
        assert_eq!(
            now.header("etag"),
            Some(etag.as_str()),
            "{second}: same version"
        );
        assert_eq!(now.json(), before, "{second}: same document");
    }
    // The email of the failed request was not indexed either.
    let r = host.get("/Users?filter=emails%20eq%20%22x@y.example%22");
    assert_eq!(r.json()["totalResults"], 0, "{}", r.text());

    // A stale If-Match: 412, nothing stored.
    let body = serde_json::to_vec(&patch_op(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"}
    ])))
    .unwrap();
    let r = host.request(
        "PATCH",
        &u,
        &[
            ("content-type", "application/scim+json"),
            ("if-match", "W/\"999\""),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 412, "{}", r.text());
    assert_eq!(host.get(&u).json()["displayName"], "Alice");
}

#[test]
fn a_failing_operation_leaves_group_members_alone() {
    let host = Host::start();
    let a = id_of(&create(&host, "/Users", json!({"userName": "ma"})));
    let b = id_of(&create(&host, "/Users", json!({"userName": "mb"})));
    let g = create(
        &host,
        "/Groups",
        json!({"displayName": "Atomic", "members": [{"value": a}]}),
    );
    let gid = id_of(&g);
    let gpath = format!("/Groups/{gid}");
    let etag = host.get(&gpath).header("etag").unwrap().to_string();

    // Members are stored apart from the group record: a later failure must not
    // leave the first operation's members behind.
    let r = send_patch(
        &host,
        &gpath,
        json!([
            {"op": "add", "path": "members", "value": [{"value": b}]},
            {"op": "remove", "path": "members", "value": [{"value": a}]},
            {"op": "replace", "path": "displayName", "value": 42}
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let now = host.get(&gpath);
    assert_eq!(now.header("etag"), Some(etag.as_str()));
    assert_eq!(member_ids(&now.json()), vec![a.clone()]);
    assert!(host
        .get(&format!("/Users/{b}"))
        .json()
        .get("groups")
        .is_none());
    assert_eq!(
        host.get(&format!("/Users/{a}")).json()["groups"][0]["value"],
        gid.as_str()
    );
}

// ---- what PATCH answers ----------------------------------------------------------------------

#[test]
fn patch_answers_200_with_the_projected_resource() {
    let host = Host::start();
    let id = alice(&host);
    let r = send_patch(
        &host,
        &format!("/Users/{id}?attributes=displayName"),
        json!([{"op": "replace", "path": "displayName", "value": "Projected"}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["displayName", "id", "schemas"], "{v}");
    assert_eq!(v["displayName"], "Projected");
    let get = host.get(&format!("/Users/{id}"));
    assert_eq!(r.header("etag"), get.header("etag"));
    assert_eq!(get.json()["meta"]["version"], "W/\"2\"");

    let u = id_of(&create(&host, "/Users", json!({"userName": "m"})));
    let gid = id_of(&create(&host, "/Groups", json!({"displayName": "Quiet"})));
    let v = patch(
        &host,
        &format!("/Groups/{gid}?excludedAttributes=members"),
        json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
    );
    assert!(v.get("members").is_none(), "{v}");
    assert_eq!(v["displayName"], "Quiet");
    assert_eq!(
        member_ids(&host.get(&format!("/Groups/{gid}")).json()),
        vec![u]
    );
}

// ---- identity-provider dialects ----------------------------------------------------------------

#[test]
fn op_names_in_any_case_and_string_booleans() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");

    // Entra ID sends "Replace", "Add", "Remove" and "False"/"True" strings.
    let v = patch(
        &host,
        &u,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(v["active"], false, "stored as a JSON boolean");
    let v = patch(
        &host,
        &u,
        json!([{"op": "ADD", "value": {"active": "True"}}]),
    );
    assert_eq!(v["active"], true);
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "true"}]),
    );
    assert_eq!(v["emails"][1]["primary"], true);
    let v = patch(&host, &u, json!([{"op": "rEmOvE", "path": "title"}]));
    assert!(v.get("title").is_none());
    // Filters see the boolean.
    let r = host.get("/Users?filter=active%20eq%20true");
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
    // Anything else is not a boolean.
    patch_fails(
        &host,
        &u,
        json!([{"op": "replace", "path": "active", "value": "yes"}]),
        400,
        "invalidValue",
    );
}

#[test]
fn no_path_replace_with_dotted_urn_and_filtered_keys() {
    let host = Host::start();
    let id = alice(&host);
    let u = format!("/Users/{id}");
    // The shape Entra ID sends with ?aadOptscim062020 (see client_entra.rs).
    let v = patch(
        &host,
        &u,
        json!([{"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            format!("{ENTERPRISE}:employeeNumber"): "Aklq",
            "emails[type eq \"work\"].value": "kkom@work.example"
        }}]),
    );
    assert_eq!(v["displayName"], "Bjfe");
    assert_eq!(
        v["name"],
        json!({"givenName": "Kkom", "familyName": "Unua"})
    );
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(v[ENTERPRISE]["department"], "R&D", "untouched");
    assert_eq!(v["emails"][0]["value"], "kkom@work.example");
    assert_eq!(v["emails"][1]["value"], "alice@home.example");

    // Keys in any case, and the extension as a nested object.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "value": {
            "NICKNAME": "K",
            ENTERPRISE: {"Division": "North"}
        }}]),
    );
    assert_eq!(v["nickName"], "K");
    assert_eq!(v[ENTERPRISE]["division"], "North");
    // An undeclared extension inside a no-path value is ignored.
    let v = patch(
        &host,
        &u,
        json!([{"op": "add", "value": {"urn:example:vendor:1.0:User": {"x": 1}, "title": "T"}}]),
    );
    assert_eq!(v["title"], "T");
    assert!(v.get("urn:example:vendor:1.0:User").is_none());
}

#[test]
fn extra_body_and_operation_keys_are_ignored() {
    let host = Host::start();
    let id = alice(&host);
    let r = patch_raw(
        &host,
        &format!("/Users/{id}"),
        &json!({
            "schemas": [PATCH_OP],
            "id": "something-else",
            "meta": {"version": "W/\"0\""},
            "Operations": [
                {"op": "replace", "name": "title", "path": "title", "value": "Architect"},
                {"op": "replace", "value": {"id": id, "meta": {"created": "x"}, "nickName": "N"}}
            ]
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["title"], "Architect");
    assert_eq!(v["nickName"], "N");
    // `operations` in another case is accepted too; schemas must name PatchOp.
    let r = patch_raw(
        &host,
        &format!("/Users/{id}"),
        &json!({"schemas": [PATCH_OP], "operations": [{"op": "add", "path": "title", "value": "X"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = patch_raw(
        &host,
        &format!("/Users/{id}"),
        &json!({"Operations": [{"op": "add", "path": "title", "value": "Y"}]}),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
}

#[test]
fn members_removed_by_value_array_and_added_with_display_name() {
    let host = Host::start();
    let a = id_of(&create(
        &host,
        "/Users",
        json!({"userName": "ua", "displayName": "User A"}),
    ));
    let b = id_of(&create(&host, "/Users", json!({"userName": "ub"})));
    let c = id_of(&create(&host, "/Users", json!({"userName": "uc"})));
    let gid = id_of(&create(&host, "/Groups", json!({"displayName": "Members"})));
    let g = format!("/Groups/{gid}");

    // Member objects with `displayName` (as some clients send) instead of `display`.
    let v = patch(
        &host,
        &g,
        json!([{"op": "add", "path": "members", "value": [
            {"value": a, "displayName": "Whatever A"},
            {"value": b, "display": "Whatever B", "type": "User"},
            {"value": c}
        ]}]),
    );
    assert_eq!(
        member_ids(&v),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    let member = |id: &str| -> Value {
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == id)
            .unwrap()
            .clone()
    };
    let ma = member(&a);
    assert_eq!(
        ma["display"], "Whatever A",
        "displayName is taken as display"
    );
    assert!(ma.get("displayName").is_none(), "{ma}");
    assert_eq!(ma["type"], "User");
    assert!(ma["$ref"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{a}")));
    assert_eq!(member(&b)["display"], "Whatever B");
    assert_eq!(member(&c)["display"], "uc", "without one, the user's name");

    // remove with path "members" and a value array removes just those.
    let v = patch(
        &host,
        &g,
        json!([{"op": "remove", "path": "members", "value": [{"value": a}, {"value": c}]}]),
    );
    assert_eq!(member_ids(&v), vec![b.clone()]);
    // Removing someone who is not a member is no error and removes no one.
    // (The group may still get a new version: member buckets are written
    // after the record, so the record cannot know the removal was empty.)
    let v = patch(
        &host,
        &g,
        json!([{"op": "remove", "path": "members", "value": [{"value": a}]}]),
    );
    assert_eq!(member_ids(&v), vec![b.clone()]);

    // The same on a multi-valued user attribute: only the given value goes.
    let id = alice(&host);
    let v = patch(
        &host,
        &format!("/Users/{id}"),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "alice@home.example"}]}]),
    );
    assert_eq!(
        v["emails"],
        json!([{"value": "alice@work.example", "type": "work", "primary": true}])
    );

    // replace on members sets the list; remove without value empties it.
    let v = patch(
        &host,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": a}]}]),
    );
    assert_eq!(member_ids(&v), vec![a.clone()]);
    let v = patch(&host, &g, json!([{"op": "remove", "path": "members"}]));
    assert!(v.get("members").is_none(), "{v}");
    assert!(host
        .get(&format!("/Users/{a}"))
        .json()
        .get("groups")
        .is_none());

    // Member sub-attributes are not changed through a path.
    patch(
        &host,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    );
    patch_fails(
        &host,
        &g,
        json!([{"op": "replace", "path": format!("members[value eq \"{b}\"].display"), "value": "X"}]),
        400,
        "mutability",
    );
}
