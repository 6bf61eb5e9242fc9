//! Discovery through the real `.wasm` in the local host (RFC 7644 §4).

use e2e::{enc, patch_op, Host, ERROR, SAP_USER, USER};
use serde_json::{json, Value};

#[test]
fn service_provider_config_is_served_as_scim_json() {
    let host = Host::start();
    let r = host.get("/ServiceProviderConfig");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/scim+json"),
        "content-type: {:?}",
        r.header("content-type")
    );
    let v = r.json();
    assert_eq!(
        v["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    // RFC 7643 §5 and RFC 9865 §4 attributes only: strict clients
    // (scim2-models) refuse the whole document for one more.
    assert_eq!(
        v["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "authenticationSchemes",
            "bulk",
            "changePassword",
            "documentationUri",
            "etag",
            "filter",
            "meta",
            "pagination",
            "patch",
            "schemas",
            "sort"
        ]
    );
    assert_eq!(v["pagination"]["index"], true);
    assert_eq!(v["pagination"]["defaultPaginationMethod"], "index");
    assert_eq!(v["pagination"]["defaultPageSize"], 10);
    assert_eq!(v["pagination"]["maxPageSize"], 1000);
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["bulk"]["supported"], true);
    assert_eq!(v["bulk"]["maxOperations"], 1000);
    assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let location = v["meta"]["location"].as_str().unwrap();
    assert_eq!(
        location,
        format!("http://{}/api/scim/v2/ServiceProviderConfig", host.addr)
    );
}

#[test]
fn unknown_routes_answer_404_with_a_scim_error() {
    let host = Host::start();
    for path in ["/NoSuchThing", "/Schemas/urn:nope", "/Users/x/y"] {
        let r = host.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["schemas"][0], ERROR, "{path}");
        assert_eq!(r.json()["status"], "404", "{path}");
    }
}

/// A path outside spin.toml's trigger route never reaches the component:
/// Spin's HTTP trigger answers 404 with an empty body, and so does the
/// local host.
#[test]
fn paths_outside_the_trigger_route_get_spins_empty_404() {
    let host = Host::start();
    for path in ["//not-scim/at/all", "//api/scim/v1/Users", "//"] {
        let r = host.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.is_empty(), "{path}: {}", r.text());
    }
}

#[test]
fn resource_types_and_schemas_are_discoverable_case_insensitively() {
    let host = Host::start();
    let r = host.get("/ResourceTypes");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 4);
    assert_eq!(host.get("/resourcetypes/User").json()["endpoint"], "/Users");
    let r = host.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "User");
}

/// The SCIM error of `r`: status, `scimType` and the detail, which names
/// the limit and its value as the README's "Limits" table does.
fn names_limit(r: &e2e::Resp, status: u16, scim_type: Option<&str>, limit: &str) {
    assert_eq!(r.status, status, "{limit}: {}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"][0], ERROR, "{limit}");
    assert_eq!(v["scimType"].as_str(), scim_type, "{limit}: {v}");
    let detail = v["detail"].as_str().unwrap_or("");
    assert!(detail.contains(limit), "{limit} not in {detail:?}");
}

/// Limits without a ServiceProviderConfig attribute (RFC 7643 §5 has none
/// for them) are named, with their value, in the error that enforces them.
#[test]
fn every_limit_is_named_with_its_value_in_the_error_that_enforces_it() {
    let host = Host::start_with(&[
        ("SPIN_VARIABLE_MAX_BODY_BYTES", "2000000"),
        ("SPIN_VARIABLE_FILTER_SCAN_MAX", "2"),
    ]);
    let post = |body: Value| host.send_json("POST", "/Users", &body);
    let user = |extra: Value| {
        let mut u = json!({"schemas": [USER, SAP_USER], "userName": "limits"});
        u.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        u
    };
    let value = Some("invalidValue");

    let big = vec![b' '; 2_000_001];
    let r = host.request(
        "POST",
        "/Users",
        &[("content-type", "application/scim+json")],
        Some(&big),
    );
    names_limit(&r, 413, None, "maxBodyBytes (2000000");

    let r = post(json!({"userName": "n".repeat(513)}));
    names_limit(&r, 400, value, "maxNameBytes (512)");
    let r = post(user(json!({"title": "t".repeat(4097)})));
    names_limit(&r, 400, value, "maxStringBytes (4096)");
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"value": format!("{i}@example.com")}))
        .collect();
    let r = post(user(json!({"emails": many})));
    names_limit(&r, 400, value, "maxMultiValues (1000)");
    let mut deep = json!("leaf");
    for _ in 0..20 {
        deep = json!({"d": deep});
    }
    let r = post(user(json!({SAP_USER: {"deep": deep}})));
    names_limit(&r, 400, value, "maxExtensionDepth (16)");
    // 300 strings of 4,000 bytes: each within its own limits, 1.2 MB stored.
    let blobs: serde_json::Map<String, Value> = (0..300)
        .map(|i| (format!("b{i}"), json!("b".repeat(4000))))
        .collect();
    let r = post(user(json!({SAP_USER: blobs})));
    names_limit(&r, 413, None, "maxResourceBytes (1048576)");

    let long = format!("title eq \"{}\"", "a".repeat(4100));
    let r = host.get(&format!("/Users?filter={}", enc(&long)));
    names_limit(&r, 400, Some("invalidFilter"), "maxFilterLength (4096)");
    let deep = format!("{}title pr{}", "(".repeat(40), ")".repeat(40));
    let r = host.get(&format!("/Users?filter={}", enc(&deep)));
    names_limit(&r, 400, Some("invalidFilter"), "maxFilterDepth (32)");

    let mut ids = Vec::new();
    for name in ["scan1", "scan2", "scan3"] {
        let r = post(json!({"userName": name}));
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let r = host.get(&format!("/Users?filter={}", enc("title eq \"x\"")));
    names_limit(&r, 400, Some("tooMany"), "maxScannedResources (2)");

    let ops: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "replace", "path": "title", "value": "x"}))
        .collect();
    let r = host.send_json(
        "PATCH",
        &format!("/Users/{}", ids[0]),
        &patch_op(json!(ops)),
    );
    names_limit(&r, 400, Some("tooMany"), "maxPatchOperations (1000)");

    // Nothing refused was stored: only the three users.
    let r = host.get("/Users");
    assert_eq!(r.json()["totalResults"], 3, "{}", r.text());
}
