//! The OpenAPI document (`/openapi.json`) and the Swagger UI page (`/docs`)
//! through the real `.wasm` in the local host: the page's files come from
//! spin.toml `files` (the pinned swagger-ui-dist, installed by `make wasm`),
//! the page needs no token, the document follows `discovery_requires_auth`,
//! `docs_enabled=false` removes both. tests/openapi/run.py fuzzes the
//! document's operations and drives the page in a browser.

use e2e::{Host, ERROR};
use serde_json::json;

#[test]
fn the_page_and_its_files_are_served_without_a_token_under_a_same_origin_policy() {
    let host = Host::start();
    for (path, media) in [
        ("/docs", "text/html"),
        ("/docs/swagger-init.js", "text/javascript"),
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/favicon-32x32.png", "image/png"),
    ] {
        let r = host.request("GET", path, &[("authorization", "")], None);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert!(
            r.header("content-type").unwrap_or("").starts_with(media),
            "{path}: {:?}",
            r.header("content-type")
        );
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(!r.body.is_empty(), "{path}");
    }
    let page = host.get("/docs").text();
    assert!(page.contains("docs/swagger-ui-bundle.js"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no other origin: {page}"
    );
    // Nothing else of the component's files is reachable through the page.
    for path in [
        "/docs/roles.json",
        "/docs/index.html",
        "/docs/..%2F..%2Froles.json",
    ] {
        let r = host.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["schemas"][0], ERROR);
    }
    let r = host.get("/docs/");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/api/scim/v2/docs"));
}

#[test]
fn the_document_needs_a_token_as_discovery_does_and_docs_enabled_false_removes_everything() {
    let host = Host::start();
    let anonymous = |path: &str| host.request("GET", path, &[("authorization", "")], None);
    assert_eq!(anonymous("/openapi.json").status, 401);
    assert_eq!(
        anonymous("/docs/settings.json").json()["tokenRequired"],
        true
    );
    let r = host.get("/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api/scim/v2");
    for path in [
        "/Users",
        "/Groups/{id}",
        "/Roles/.search",
        "/.search",
        "/Schemas/{urn}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(doc["info"]["x-limits"]["maxBodyBytes"], 1_048_576);

    let open = Host::start_with(&[("SPIN_VARIABLE_DISCOVERY_REQUIRES_AUTH", "false")]);
    let r = open.request("GET", "/openapi.json", &[("authorization", "")], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["paths"]["/Schemas"]["get"]["security"], json!([]));

    let off = Host::start_with(&[("SPIN_VARIABLE_DOCS_ENABLED", "false")]);
    for path in ["/openapi.json", "/docs", "/docs/swagger-ui.css"] {
        assert_eq!(off.get(path).status, 404, "{path}");
        let r = off.request("GET", path, &[("authorization", "")], None);
        assert_eq!(
            r.status, 404,
            "{path}: no token asked for what does not exist"
        );
    }
}

#[test]
fn an_attribute_name_with_a_multibyte_character_at_byte_four_is_a_scim_answer() {
    // Found by schemathesis (tests/openapi/run.py): the component trapped
    // (500) on a name whose 4th byte falls inside a character.
    let host = Host::start();
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({ "displayName": "multibyte", "e[\u{d0c75}\u{a2}V": [1, -5.1e16] }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.json().get("e[\u{d0c75}\u{a2}V").is_none(),
        "undeclared: dropped"
    );
}
