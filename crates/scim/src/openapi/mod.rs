//! The service's API as an OpenAPI 3.1 document (`GET /openapi.json`),
//! generated on each request from the same [`Registry`] the service
//! validates with, the operation table and the configuration, never
//! maintained by hand: a change to a schema, a setting or a limit changes
//! the document.
//!
//! * `frame.json`: what RFC 7644 fixes (the PatchOp, SearchRequest, Error,
//!   ListResponse, BulkRequest and BulkResponse messages, the RFC 9865
//!   cursor, the query and header parameters, the error responses and
//!   their `scimType` values, the bearer scheme). It is data, not code, to
//!   keep the component small;
//! * `schemas`: every resource type and extension as JSON Schema, from the
//!   registry;
//! * `operations`: the table of operations, and `paths` from it;
//! * `page`: the Swagger UI page (`/docs`) that reads the document;
//! * here: the assembly, and the limits the service enforces
//!   (`info.x-limits`).

pub mod operations;
pub mod page;
pub mod schemas;

use crate::config::Config;
use crate::schema::Registry;
use serde_json::{Map, Value};

/// The parts of the document RFC 7644 fixes.
const FRAME: &str = include_str!("frame.json");

/// The document for this configuration. `base_path` is the API's path
/// (`/api/scim/v2`): the server URL is relative, so that the page and the
/// document work under whatever scheme and host the client reached.
pub fn document(reg: &Registry, cfg: &Config, base_path: &str) -> Value {
    let mut doc: Value = serde_json::from_str(FRAME).expect("frame.json is JSON");
    doc["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    doc["info"]["x-limits"] = limits(cfg);
    doc["servers"] = Value::Array(vec![obj(vec![("url", base_path.into())])]);
    let components = &mut doc["components"];
    schemas::add(reg, &mut components["schemas"]);
    // RFC 7644 §3.7.4: more operations than `bulk.maxOperations` is 413.
    components["schemas"]["BulkRequest"]["properties"]["Operations"]["maxItems"] =
        cfg.bulk_max_operations.into();
    for (status, response) in components["responses"]
        .as_object_mut()
        .expect("frame responses")
    {
        error_response(status, response);
    }
    doc["paths"] = Value::Object(operations::paths(reg, cfg));
    doc
}

/// Every limit the service enforces, with this deployment's values.
pub fn limits(cfg: &Config) -> Value {
    let limits: [(&str, usize); 15] = [
        ("maxBodyBytes", cfg.max_body_bytes),
        ("maxFilterBytes", crate::filter::MAX_FILTER_LEN),
        ("maxFilterDepth", crate::filter::MAX_FILTER_DEPTH),
        ("defaultPageSize", cfg.page_size_default),
        ("maxPageSize", cfg.page_size_max),
        ("maxScannedResources", cfg.scan_max),
        ("maxStringBytes", crate::document::MAX_STRING_LEN),
        ("maxNameBytes", crate::document::MAX_NAME_LEN),
        ("maxMultiValues", crate::document::MAX_MULTI_VALUES),
        ("maxExtensionDepth", crate::document::MAX_OPEN_DEPTH),
        (
            "maxResourceBytes",
            crate::storage::records::MAX_RECORD_BYTES,
        ),
        ("requestsPerHour", cfg.rate_limit_per_hour as usize),
        ("bulkMaxOperations", cfg.bulk_max_operations),
        ("bulkMaxPayloadBytes", cfg.bulk_max_payload_bytes),
        (
            "maxMembersPerResponse",
            crate::storage::members::MAX_MEMBERS_PER_RESPONSE,
        ),
    ];
    Value::Object(
        limits
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect(),
    )
}

/// An error response of the frame, given its body: the SCIM error schema
/// (RFC 7644 §3.12), narrowed to the `scimType` values (`x-scimTypes`) that
/// status can carry.
fn error_response(_status: &str, response: &mut Value) {
    let mut schema = schemas::reference("Error");
    if let Some(types) = response
        .as_object_mut()
        .and_then(|o| o.remove("x-scimTypes"))
    {
        let only = obj(vec![("enum", types)]);
        schema = obj(vec![
            ("allOf", Value::Array(vec![schema])),
            ("properties", obj(vec![("scimType", only)])),
        ]);
    }
    response["content"] = operations::content(schema);
}

/// A JSON object of these members (one function, rather than a `json!`
/// expansion per object: the component stays small).
pub(crate) fn obj(members: Vec<(&str, Value)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<String, Value>>(),
    )
}

/// What an administrator reads in the document is what the service does:
/// every schema attribute, every operation the route table answers, the
/// configured scopes and limits; and the page and document are served (or
/// not) as configured.
#[cfg(test)]
mod tests {
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
            ScimType::InvalidCursor,
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
            "/Bulk",
            "/Me",
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
                &q.cursor,
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
        let v: Value =
            serde_json::from_slice(&call(&open, "/docs/settings.json", false).body).unwrap();
        assert_eq!(v["tokenRequired"], false);
        // `/docs/` would resolve the page's relative links one level down.
        let r = call(&svc, "/docs/", false);
        assert_eq!(r.status, 308);
        assert_eq!(r.header("location"), Some("/api/scim/v2/docs"));
    }

    /// Every method on every route the service answers (anything but 405, or a
    /// 404 where the path names no resource) is an operation of the document,
    /// and every operation of the document is answered. The documentation page
    /// (`/docs`) is not part of the API.
    #[test]
    fn every_method_the_service_answers_is_documented() {
        let mut cfg = Config::default();
        cfg.auth.me_claim = Some("user_name".into());
        let d = doc(&cfg);
        let svc = Service::new(cfg);
        let store = MemStore::new();
        let no_catalog = || Err("none".to_string());
        let env = Env {
            store: &store,
            now: NOW,
            fetcher: &crate::auth::jwks::NoFetcher,
            catalog_source: &no_catalog,
        };
        // /Me stands for this user.
        let create = Request {
            method: "POST".into(),
            path: "/Users".into(),
            body: br#"{"userName": "nobody"}"#.to_vec(),
            ..Default::default()
        };
        let r = svc.dispatch(
            &create,
            &env,
            Route::Resources(crate::schema::Kind::User),
            "t",
            None,
            &mut Vec::new(),
        );
        assert_eq!(r.unwrap().status, 201);
        // The token's principal: its `/Me` claim names the user made above.
        let me = crate::auth::Principal {
            tenant: "t".into(),
            client_id: Some("c".into()),
            subject: Some("nobody".into()),
            me: Some("nobody".into()),
            scopes: Vec::new(),
        };
        let mut paths: Vec<String> = d["paths"].as_object().unwrap().keys().cloned().collect();
        // Beyond the document's paths: routes it may have missed.
        for extra in [
            "/Unknown",
            "/Users/x/y",
            "/docs",
            "/Bulk",
            "/Me",
            "/AuditEvents",
            "/AuditEvents/{id}",
        ] {
            if !paths.iter().any(|p| p == extra) {
                paths.push(extra.into());
            }
        }
        for path in &paths {
            let concrete = concrete(path);
            let route = Route::parse(&concrete);
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let req = Request {
                    method: method.into(),
                    path: concrete.clone(),
                    base_url: "http://h/api/scim/v2".into(),
                    body: b"{}".to_vec(),
                    ..Default::default()
                };
                let r = svc
                    .dispatch(&req, &env, route, "t", Some(&me), &mut Vec::new())
                    .unwrap_or_else(|e| crate::http::Response::error(&e));
                let detail = String::from_utf8_lossy(&r.body).into_owned();
                let names_resource = path.contains('{');
                let answered = r.status != 405 && (r.status != 404 || names_resource);
                let documented = d["paths"][path.as_str()][method.to_ascii_lowercase()].is_object();
                if route.is_docs_page() {
                    assert!(!documented, "{method} {path}");
                    continue;
                }
                assert_eq!(
                    answered, documented,
                    "{method} {path}: {} {detail}",
                    r.status
                );
            }
        }
        // RFC 7644 §3.11, as the document says: no POST /Me.
        assert!(d["paths"]["/Me"].get("post").is_none());
        assert!(d["paths"]["/Me"]["description"]
            .as_str()
            .unwrap()
            .contains("405"));
    }

    #[test]
    fn bulk_me_and_cursors_are_described_with_their_limits_and_errors() {
        let cfg = Config {
            bulk_max_operations: 7,
            bulk_max_payload_bytes: 4096,
            ..Config::default()
        };
        let d = doc(&cfg);
        let schemas = &d["components"]["schemas"];
        // RFC 7644 §3.7: the request and response messages, the limits.
        let bulk = &d["paths"]["/Bulk"]["post"];
        assert_eq!(
            bulk["requestBody"]["content"]["application/scim+json"]["schema"]["$ref"],
            "#/components/schemas/BulkRequest"
        );
        assert_eq!(bulk["security"], json!([{ "bearer": ["scim.write"] }]));
        assert!(bulk["responses"]["413"].is_object());
        assert_eq!(
            bulk["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/BulkResponse"
        );
        assert_eq!(
            schemas["BulkRequest"]["properties"]["Operations"]["maxItems"],
            7
        );
        assert_eq!(d["info"]["x-limits"]["bulkMaxOperations"], 7);
        assert_eq!(d["info"]["x-limits"]["bulkMaxPayloadBytes"], 4096);
        let op = &schemas["BulkResponse"]["properties"]["Operations"]["items"]["properties"];
        assert_eq!(op["status"]["type"], "string");
        // RFC 7644 §3.11: /Me is a User, 501 while me_claim is unset.
        for m in ["get", "put", "patch", "delete"] {
            let me = &d["paths"]["/Me"][m];
            for status in ["404", "501"] {
                assert!(me["responses"][status].is_object(), "{m} {status}");
            }
            let ok = if m == "get" || m == "put" {
                "200"
            } else {
                "204"
            };
            assert!(
                me["responses"][ok]["headers"]["Location"].is_object(),
                "{m}"
            );
        }
        assert_eq!(
            d["paths"]["/Me"]["put"]["requestBody"]["content"]["application/json"]["schema"]
                ["allOf"][0]["$ref"],
            "#/components/schemas/User"
        );
        // RFC 9865 §2: the cursor parameter, the cursors of a page, the error.
        for p in ["/Users", "/Groups", "/Roles"] {
            let params = d["paths"][p]["get"]["parameters"].to_string();
            assert!(params.contains("#/components/parameters/cursor"), "{p}");
        }
        for list in ["ListResponse", "UserListResponse", "GroupListResponse"] {
            let props = &schemas[list]["properties"];
            assert_eq!(props["nextCursor"]["type"], "string", "{list}");
            assert_eq!(props["previousCursor"]["type"], "string", "{list}");
        }
        assert_eq!(
            schemas["SearchRequest"]["properties"]["cursor"]["type"],
            "string"
        );
        let bad = &d["components"]["responses"]["400"]["content"]["application/scim+json"]
            ["schema"]["properties"]["scimType"]["enum"];
        assert!(bad.as_array().unwrap().contains(&json!("invalidCursor")));
    }

    /// The BulkRequest example an administrator reads (and schemathesis sends)
    /// runs: every operation succeeds, the `bulkId` references resolve.
    #[test]
    fn the_bulk_example_runs() {
        let cfg = Config::default();
        let d = doc(&cfg);
        let example = &d["components"]["schemas"]["BulkRequest"]["examples"][0];
        let svc = Service::new(cfg);
        let store = MemStore::new();
        let no_catalog = || Err("none".to_string());
        let env = Env {
            store: &store,
            now: NOW,
            fetcher: &crate::auth::jwks::NoFetcher,
            catalog_source: &no_catalog,
        };
        let req = Request {
            method: "POST".into(),
            path: "/Bulk".into(),
            base_url: "http://h/api/scim/v2".into(),
            body: example.to_string().into_bytes(),
            ..Default::default()
        };
        let r = svc
            .dispatch(&req, &env, Route::Bulk, "t", None, &mut Vec::new())
            .unwrap();
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let statuses: Vec<&str> = v["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["201", "201", "200"], "{v}");
    }
}
