//! Discovery through the real `.wasm` in the local host (RFC 7644 §4).

use e2e::{Host, ERROR};

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
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["bulk"]["supported"], false);
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
