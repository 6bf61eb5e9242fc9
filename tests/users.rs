//! Users through the real `.wasm` (RFC 7644 §3.3–§3.6): create, read,
//! replace, patch, delete, uniqueness, versions and content types.

use e2e::{patch_op, Host, ENTERPRISE, ERROR, USER};
use serde_json::{json, Value};

fn create_user(host: &Host, user_name: &str) -> Value {
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({
            "schemas": [USER],
            "userName": user_name,
            "externalId": format!("ext-{user_name}"),
            "name": {"givenName": "Given", "familyName": "Family"},
            "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
            "active": true,
            "password": "never-stored"
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn create_read_replace_patch_delete() {
    let host = Host::start();
    let created = create_user(&host, "alice");
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "server-assigned UUID");
    assert!(created.get("password").is_none(), "password is writeOnly");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(
        created["meta"]["location"],
        format!("http://{}/api/scim/v2/Users/{id}", host.addr)
    );

    let r = host.get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200);
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(r.json()["meta"]["version"], etag.as_str());
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));

    // If-None-Match with the current version: 304.
    let r = host.request(
        "GET",
        &format!("/Users/{id}"),
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(r.status, 304);

    // PUT replaces: attributes left out are gone, readOnly ones ignored.
    let r = host.send_json(
        "PUT",
        &format!("/Users/{id}"),
        &json!({"schemas": [USER], "userName": "alice",
                "displayName": "Alice A", "id": id, "meta": {"version": "bogus"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let put = r.json();
    assert_eq!(put["displayName"], "Alice A");
    assert!(put.get("name").is_none() && put.get("emails").is_none());
    assert_eq!(put["meta"]["created"], created["meta"]["created"]);
    assert_ne!(r.header("etag").unwrap(), etag);

    // A stale If-Match: 412, and nothing changes.
    let patch = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let body = serde_json::to_vec(&patch).unwrap();
    let r = host.request(
        "PATCH",
        &format!("/Users/{id}"),
        &[
            ("content-type", "application/scim+json"),
            ("if-match", &etag),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 412, "{}", r.text());
    // If-Match: * matches any version.
    let r = host.request(
        "PATCH",
        &format!("/Users/{id}"),
        &[("content-type", "application/scim+json"), ("if-match", "*")],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], false);

    let r = host.request("DELETE", &format!("/Users/{id}"), &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(host.get(&format!("/Users/{id}")).status, 404);
    let list = host.get("/Users?filter=userName%20eq%20%22alice%22").json();
    assert_eq!(list["totalResults"], 0, "deleted users are not listed");
    assert_eq!(host.get("/Users").json()["totalResults"], 0);
    // The userName is free again.
    create_user(&host, "alice");
}

#[test]
fn duplicate_user_names_conflict_case_insensitively_by_default() {
    let host = Host::start();
    create_user(&host, "Bob@Example.com");
    let r = host.send_json("POST", "/Users", &json!({"userName": "bob@example.COM"}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["scimType"], "uniqueness");
    // Okta looks the user up upper-cased and must still find it.
    let r = host.get("/Users?filter=userName%20eq%20%22BOB@EXAMPLE.COM%22&startIndex=1&count=100");
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
}

#[test]
fn case_exact_user_names_when_configured() {
    let host = Host::start_with(&[("SPIN_VARIABLE_USER_NAME_CASE_EXACT", "true")]);
    create_user(&host, "Carol");
    let r = host.send_json("POST", "/Users", &json!({"userName": "carol"}));
    assert_eq!(r.status, 201, "case-exact: a different user");
    let schema = host
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .json();
    let user_name = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(
        user_name["caseExact"], true,
        "/Schemas shows the mode in force"
    );
    let r = host.get("/Users?filter=userName%20eq%20%22carol%22");
    assert_eq!(r.json()["totalResults"], 1);
}

#[test]
fn lookups_by_external_id_and_email() {
    let host = Host::start();
    let u = create_user(&host, "dave");
    let r = host.get("/Users?filter=externalId%20eq%20%22ext-dave%22");
    assert_eq!(r.json()["Resources"][0]["id"], u["id"]);
    let r = host.get(
        "/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22DAVE@example.com%22",
    );
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
    let r = host.get("/Users?filter=externalId%20eq%20%22EXT-dave%22");
    assert_eq!(r.json()["totalResults"], 0, "externalId is caseExact");
}

#[test]
fn bad_requests_get_scim_errors() {
    let host = Host::start();
    // Malformed JSON.
    let r = host.request(
        "POST",
        "/Users",
        &[("content-type", "application/scim+json")],
        Some(b"{\"userName\": "),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
    // Another media type.
    let r = host.request(
        "POST",
        "/Users",
        &[("content-type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["schemas"][0], ERROR);
    // application/json is accepted as IdPs send it.
    let r = host.request(
        "POST",
        "/Users",
        &[("content-type", "application/json")],
        Some(br#"{"userName":"erin"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // An undeclared extension schema.
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({"schemas": ["urn:example:nope"], "userName": "x"}),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].as_str()),
        (400, Some("invalidValue"))
    );
    // Missing userName.
    let r = host.send_json("POST", "/Users", &json!({"displayName": "x"}));
    assert_eq!(r.status, 400);
    // Ids that are not UUIDs, and unknown ids.
    assert_eq!(host.get("/Users/not-a-uuid").status, 404);
    assert_eq!(
        host.get("/Users/2819c223-7f76-453a-919d-413861904646")
            .status,
        404
    );
    assert_eq!(
        host.request(
            "DELETE",
            "/Users/2819c223-7f76-453a-919d-413861904646",
            &[],
            None
        )
        .status,
        404
    );
    // Resource segment matches case-insensitively.
    assert_eq!(host.get("/users").status, 200);
}

#[test]
fn enterprise_extension_round_trips() {
    let host = Host::start();
    let ext = ENTERPRISE;
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({
            "schemas": [USER, ext],
            "userName": "frank",
            ext: {"employeeNumber": "42", "manager": {"value": "m-1"}}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v[ext]["employeeNumber"], "42");
    assert_eq!(v["schemas"], json!([USER, ext]));
    let r = host.get(&format!(
        "/Users?filter={}",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber%20eq%20%2242%22"
    ));
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
}
