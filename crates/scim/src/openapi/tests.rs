//! What an administrator reads in the document is what the service does:
//! every schema attribute, every operation the route table answers, the
//! configured scopes and limits; and the page and document are served (or
//! not) as configured.

use super::*;
use crate::api::{Env, Service};
use crate::error::ScimType;
use crate::http::Request;
use crate::route::Route;
use crate::schema::{SchemaOptions, ENTERPRISE_USER, ROLE, SAP_USER};
use crate::storage::memory::MemStore;
use serde_json::json;

fn doc(cfg: &Config) -> Value {
    document(&Registry::new(&cfg.schema), cfg, "/api/scim/v2")
}

#[test]
fn every_attribute_of_every_schema_is_described_with_its_characteristics() {
    let cfg = Config::default();
    let reg = Registry::new(&cfg.schema);
    let d = doc(&cfg);
    let schemas = &d["components"]["schemas"];
    for rt in reg.resource_types() {
        let props = &schemas[rt.name]["properties"];
        for a in &rt.schema.attributes {
            let p = &props[a.name];
            assert!(p.is_object(), "{}.{} missing", rt.name, a.name);
            assert_eq!(p["x-scim-mutability"], a.mutability.as_str(), "{}", a.name);
            assert_eq!(p["x-scim-returned"], a.returned.as_str(), "{}", a.name);
            assert_eq!(p["x-scim-required"], a.required, "{}", a.name);
        }
        for (ext, _) in &rt.extensions {
            let r = props[ext.id]["$ref"].as_str().unwrap();
            let name = r.rsplit('/').next().unwrap();
            for a in &ext.attributes {
                assert!(
                    schemas[name]["properties"][a.name].is_object(),
                    "{}",
                    a.name
                );
            }
        }
    }
    let user = &schemas["User"]["properties"];
    assert_eq!(user["password"]["writeOnly"], true);
    assert_eq!(user["groups"]["readOnly"], true);
    assert_eq!(user["emails"]["type"], "array");
    assert_eq!(
        user["emails"]["items"]["properties"]["type"]["x-scim-canonicalValues"],
        json!(["work", "home", "other"])
    );
    assert_eq!(user["userName"]["x-scim-uniqueness"], "server");
    assert_eq!(
        user["userName"]["x-maxBytes"],
        crate::document::MAX_NAME_LEN
    );
    assert_eq!(user["title"]["x-maxBytes"], crate::document::MAX_STRING_LEN);
    assert_eq!(user["meta"]["properties"]["created"]["format"], "date-time");
    assert!(user[ENTERPRISE_USER].is_object());
    assert!(user[SAP_USER].is_object());
    assert_eq!(schemas["SAPUserExtension"]["additionalProperties"], true);
    assert_eq!(user["emails"]["x-scim-multiValued"], true);
    // Every scimType of RFC 7644 §3.12 is in the Error schema.
    let all = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
    ];
    let listed = &schemas["Error"]["properties"]["scimType"]["enum"];
    for t in all {
        assert!(
            listed.as_array().unwrap().contains(&json!(t.as_str())),
            "{t:?}"
        );
    }
    assert_eq!(schemas["Role"]["x-scim-schema"], ROLE);
    assert_eq!(
        schemas["Role"]["properties"]["displayName"]["readOnly"],
        true
    );
    // What a create must carry: userName; a response need only carry id.
    let post = &d["paths"]["/Users"]["post"]["requestBody"]["content"];
    assert_eq!(
        post["application/scim+json"]["schema"]["required"],
        json!(["userName"])
    );
    assert_eq!(
        post["application/json"]["schema"]["required"],
        json!(["userName"])
    );
    assert_eq!(schemas["User"]["required"], json!(["id"]));
}

#[test]
fn a_change_to_a_schema_option_changes_the_document() {
    let mut cfg = Config::default();
    let ci = doc(&cfg);
    cfg.schema = SchemaOptions {
        user_name_case_exact: true,
    };
    let ce = doc(&cfg);
    let case_exact = |d: &Value| {
        d["components"]["schemas"]["User"]["properties"]["userName"]["x-scim-caseExact"].clone()
    };
    assert_eq!(case_exact(&ci), false);
    assert_eq!(case_exact(&ce), true);
}

/// A concrete path for a document path (`{id}` → `x`).
fn concrete(path: &str) -> String {
    path.replace("{id}", "x")
        .replace("{name}", "User")
        .replace("{urn}", "urn:x")
}

#[test]
fn every_documented_path_is_a_route_and_every_route_is_documented() {
    let d = doc(&Config::default());
    let paths = d["paths"].as_object().unwrap();
    let mut templates = Vec::new();
    for path in paths.keys() {
        let concrete = concrete(path);
        let route = Route::parse(&concrete);
        assert_ne!(route, Route::Unknown, "{path}");
        templates.push(route.template());
    }
    for t in [
        "/Users",
        "/Users/{id}",
        "/Users/.search",
        "/Groups",
        "/Groups/{id}",
        "/Groups/.search",
        "/Roles",
        "/Roles/{id}",
        "/Roles/.search",
        "/.search",
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/{name}",
        "/Schemas",
        "/Schemas/{id}",
        "/openapi.json",
    ] {
        assert!(templates.contains(&t), "{t} undocumented");
    }
    // Roles come from the catalog: no create, no delete (405).
    assert!(d["paths"]["/Roles"].get("post").is_none());
    assert!(d["paths"]["/Roles/{id}"].get("delete").is_none());
    for m in ["get", "put", "patch", "delete"] {
        assert!(d["paths"]["/Users/{id}"][m].is_object(), "{m}");
    }
    let patch = &d["paths"]["/Groups/{id}"]["patch"];
    assert!(patch["responses"]["204"]["headers"]["ETag"].is_object());
    assert!(patch["responses"]["412"].is_object());
    let get = &d["paths"]["/Users/{id}"]["get"];
    assert!(get["responses"]["304"].is_object());
    // Every parameter and response reference resolves.
    let text = d.to_string();
    for (kind, key) in [
        ("parameters", "#/components/parameters/"),
        ("responses", "#/components/responses/"),
        ("schemas", "#/components/schemas/"),
    ] {
        for piece in text.split(key).skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(d["components"][kind][name].is_object(), "{kind} {name}");
        }
    }
}

#[test]
fn every_list_parameter_is_one_the_list_reads() {
    let d = doc(&Config::default());
    let listed: Vec<&str> = d["paths"]["/Users"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["$ref"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(listed, operations::LIST_PARAMETERS);
    for p in operations::LIST_PARAMETERS {
        assert!(
            d["components"]["parameters"][p]["description"].is_string(),
            "{p}"
        );
        let req = Request {
            query: format!("{p}=1"),
            ..Default::default()
        };
        let q = crate::list::Params::from_query(&req);
        let read = [
            &q.filter,
            &q.sort_by,
            &q.sort_order,
            &q.start_index,
            &q.count,
            &q.attributes,
            &q.excluded,
        ]
        .iter()
        .any(|v| v.is_some());
        assert!(read, "{p} is not read by the list");
    }
}

#[test]
fn scopes_limits_and_anonymous_discovery_follow_the_configuration() {
    let mut cfg = Config::default();
    cfg.auth.read_scope = "r.read".into();
    cfg.auth.write_scope = "w.write".into();
    cfg.page_size_max = 77;
    cfg.max_body_bytes = 4242;
    let d = doc(&cfg);
    assert_eq!(
        d["paths"]["/Users"]["get"]["security"],
        json!([{ "bearer": ["r.read"] }])
    );
    assert_eq!(
        d["paths"]["/Users"]["post"]["security"],
        json!([{ "bearer": ["w.write"] }])
    );
    assert_eq!(
        d["paths"]["/Users/.search"]["post"]["security"],
        json!([{ "bearer": ["r.read"] }])
    );
    assert_eq!(
        d["paths"]["/Schemas"]["get"]["security"],
        json!([{ "bearer": ["r.read"] }])
    );
    assert!(d["paths"]["/Schemas"]["get"]["responses"]["401"].is_object());
    assert_eq!(d["info"]["x-limits"]["maxPageSize"], 77);
    assert_eq!(d["info"]["x-limits"]["maxBodyBytes"], 4242);
    cfg.auth.discovery_requires_auth = false;
    let d = doc(&cfg);
    assert_eq!(d["paths"]["/Schemas"]["get"]["security"], json!([]));
    assert!(d["paths"]["/Schemas"]["get"]["responses"]["401"].is_null());
    let scim_types = &d["components"]["responses"]["409"]["content"]["application/scim+json"]
        ["schema"]["properties"]["scimType"]["enum"];
    assert_eq!(scim_types, &json!(["uniqueness"]));
}

const NOW: u64 = crate::testutil::tokens::NOW;
const SECRET: &str = crate::testutil::tokens::SECRET;

fn read_token() -> String {
    crate::auth::mint_hs256(
        SECRET,
        &crate::auth::DevClaims {
            scopes: vec!["scim.read".into()],
            ttl_secs: 600,
            issued_at: Some(NOW),
            ..Default::default()
        },
    )
    .unwrap()
}

fn call(svc: &Service, path: &str, token: bool) -> crate::http::Response {
    let store = MemStore::new();
    let mut req = Request {
        method: "GET".into(),
        path: path.into(),
        base_url: "http://h:3000/api/scim/v2".into(),
        ..Default::default()
    };
    if token {
        req.headers
            .push(("authorization".into(), format!("Bearer {}", read_token())));
    }
    let no_catalog = || Err("none".to_string());
    svc.handle(
        &req,
        &Env {
            store: &store,
            now: NOW,
            fetcher: &crate::auth::jwks::NoFetcher,
            catalog_source: &no_catalog,
        },
    )
    .response
}

fn service(f: impl FnOnce(&mut Config)) -> Service {
    let mut cfg = Config::default();
    cfg.auth.hs256_secret = Some(SECRET.into());
    f(&mut cfg);
    Service::new(cfg).with_files(Box::new(|path| {
        if path.ends_with("/index.html") {
            Ok(b"<html>".to_vec())
        } else {
            Err(format!("{path}: no such file"))
        }
    }))
}

#[test]
fn the_document_follows_discovery_requires_auth_and_docs_enabled() {
    let svc = service(|_| {});
    assert_eq!(call(&svc, "/openapi.json", false).status, 401);
    let r = call(&svc, "/openapi.json", true);
    assert_eq!(r.status, 200);
    let d: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["servers"][0]["url"], "/api/scim/v2");

    let open = service(|c| c.auth.discovery_requires_auth = false);
    assert_eq!(call(&open, "/openapi.json", false).status, 200);

    // Off: nothing of it exists, with or without a token.
    let off = service(|c| c.docs_enabled = false);
    for path in [
        "/openapi.json",
        "/docs",
        "/docs/swagger-ui.css",
        "/docs/settings.json",
    ] {
        assert_eq!(call(&off, path, false).status, 404, "{path}");
        assert_eq!(call(&off, path, true).status, 404, "{path}");
    }
    let head = Request {
        method: "GET".into(),
        path: "/openapi.json".into(),
        ..Default::default()
    };
    let store = MemStore::new();
    let no_catalog = || Err("none".to_string());
    let env = Env {
        store: &store,
        now: 0,
        fetcher: &crate::auth::jwks::NoFetcher,
        catalog_source: &no_catalog,
    };
    assert!(off.refuse_before_body(&head, &env).is_none());
    assert!(svc.refuse_before_body(&head, &env).is_some());
}

#[test]
fn the_page_is_served_without_a_token_under_a_same_origin_policy() {
    let svc = service(|_| {});
    let r = call(&svc, "/docs", false);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<html>");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self'"));
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    // A missing mounted file is the server's fault, said so.
    assert_eq!(call(&svc, "/docs/swagger-ui.css", false).status, 500);
    // Nothing but the page's files.
    assert_eq!(call(&svc, "/docs/..%2Froles.json", false).status, 404);
    assert_eq!(call(&svc, "/docs/roles.json", false).status, 404);
    let s = call(&svc, "/docs/settings.json", false);
    let v: Value = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(v["tokenRequired"], true);
    let open = service(|c| c.auth.discovery_requires_auth = false);
    let v: Value = serde_json::from_slice(&call(&open, "/docs/settings.json", false).body).unwrap();
    assert_eq!(v["tokenRequired"], false);
    // `/docs/` would resolve the page's relative links one level down.
    let r = call(&svc, "/docs/", false);
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/api/scim/v2/docs"));
}
