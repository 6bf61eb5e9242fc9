//! `POST /Bulk` (RFC 7644 §3.7): many POST, PUT, PATCH and DELETE
//! operations on Users, Groups and Role memberships in one request.
//!
//! Each operation becomes the request it stands for (method, path,
//! `data` as its body, `version` as its `If-Match`) and goes through the
//! service's one route table ([`Service::dispatch`]): the same validation,
//! uniqueness claims, preconditions and store protocol (docs/storage.md) as
//! the request alone, and the same answer (`POST /Roles` is 405 here too).
//! The parts: [`request`] reads the BulkRequest, [`refs`] finds and resolves
//! `bulkId` references, [`order`] puts the operations in dependency order
//! and finds circular references, [`response`] writes the BulkResponse.
//!
//! Limits, advertised in the ServiceProviderConfig's `bulk` block (RFC 7643
//! §5): `bulk_max_operations` operations and `bulk_max_payload_bytes`
//! bytes of body (413 beyond either, §3.7.4); each operation's `data` at
//! most `max_body_bytes`, as the request alone.

mod order;
mod refs;
mod request;
mod response;

use crate::config::Config;
use crate::error::{truncate, Result, ScimError};
use crate::http::{Request, Response, SCIM_CONTENT_TYPE};
use crate::route::Route;
use crate::schema::Kind;
use request::{Entry, Operation};
use response::OpResult;
use std::collections::HashMap;

/// The schema URN of a bulk request body (RFC 7644 §3.7).
pub(crate) const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The schema URN of a bulk response body (RFC 7644 §3.7).
pub(crate) const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// What became of an operation, for references to its `bulkId`.
enum Defined {
    /// Not processed yet. The order runs what an operation refers to
    /// before it, so a reference never finds this (except from an
    /// operation on a cycle, which does not run).
    Pending,
    /// Done: the id of the resource it created or changed.
    Id(String),
    /// Failed with this status.
    Failed(u16),
}

/// The bulkIds of a request and what became of their operations.
struct Known<'a> {
    /// The operation each bulkId names.
    defined_at: &'a HashMap<String, usize>,
    /// What became of each operation.
    state: &'a [Defined],
}

/// Which operation each bulkId names. Two operations with one bulkId are a
/// fault of the request (400 `invalidValue`): a reference to it would be
/// ambiguous.
fn bulk_ids(ops: &[Entry]) -> Result<HashMap<String, usize>> {
    let mut at = HashMap::new();
    for (i, e) in ops.iter().enumerate() {
        if let Some(b) = e.bulk_id() {
            if at.insert(b.to_string(), i).is_some() {
                return Err(ScimError::invalid_value(format!(
                    "bulkId {:?} names more than one operation",
                    truncate(b, 64)
                )));
            }
        }
    }
    Ok(at)
}

/// The service as a bulk request sees it: its configuration, the endpoint
/// of each resource type, and its one route table, which runs an
/// operation's request as the bulk request's caller (tenant and token: the
/// audit events of each operation name that client). `api` implements it,
/// so this module needs nothing of `api`.
pub(crate) trait Dispatch {
    /// The service's configuration (limits).
    fn config(&self) -> &Config;
    /// The endpoint of a resource type (`/Users`).
    fn endpoint(&self, kind: Kind) -> &'static str;
    /// Run `req` through the route table, as the bulk request's caller.
    fn dispatch(&self, req: &Request, route: Route, warnings: &mut Vec<String>)
        -> Result<Response>;
}

/// Serve `POST /Bulk`, whose request was admitted (token, write scope,
/// quota, body size) as one request; each operation through `svc`.
pub(crate) fn serve(
    svc: &dyn Dispatch,
    req: &Request,
    warnings: &mut Vec<String>,
) -> Result<Response> {
    let body = crate::endpoints::json_body(req)?;
    let bulk = request::parse(&body, svc.config().bulk_max_operations)?;
    drop(body);
    let ops = &bulk.operations;
    // Which operation defines each bulkId, and who refers to whom.
    let defined_at = bulk_ids(ops)?;
    let deps: Vec<Vec<usize>> = ops
        .iter()
        .map(|e| match e {
            Entry::Ok(op) => refs::references(op)
                .iter()
                .filter_map(|b| defined_at.get(b).copied())
                .collect(),
            Entry::Bad { .. } => Vec::new(),
        })
        .collect();
    let plan = order::plan(&deps);
    // What became of each operation, for the references to its bulkId.
    let mut state: Vec<Defined> = ops.iter().map(|_| Defined::Pending).collect();
    let mut results: Vec<Option<OpResult>> = ops.iter().map(|_| None).collect();
    let mut errors = 0usize;
    for &i in &plan.order {
        let result = match &ops[i] {
            Entry::Bad {
                method,
                bulk_id,
                path,
                error,
            } => {
                let method = method.as_ref().map(|m| m.to_ascii_uppercase());
                let location = match method.as_deref() {
                    Some("POST") => None,
                    _ => path.as_deref().map(|p| sent_location(req, p)),
                };
                OpResult::failed(method, bulk_id.clone(), location, error)
            }
            Entry::Ok(op) if plan.cyclic[i] => OpResult::failed(
                Some(op.method.as_str().into()),
                op.bulk_id.clone(),
                unresolved_location(req, op),
                &ScimError::new(
                    409,
                    None,
                    "circular bulkId references: this operation waits, through its \
                     references, on itself (RFC 7644 §3.7.1)",
                ),
            ),
            Entry::Ok(op) => {
                let known = Known {
                    defined_at: &defined_at,
                    state: &state,
                };
                run(svc, req, warnings, op, &known)
            }
        };
        state[i] = match (&result.location, result.is_error()) {
            (Some(loc), false) => {
                Defined::Id(loc.rsplit('/').next().unwrap_or_default().to_string())
            }
            _ => Defined::Failed(result.status),
        };
        errors += usize::from(result.is_error());
        results[i] = Some(result);
        // RFC 7644 §3.7.3: stop once failOnErrors errors have occurred;
        // what ran so far is reported.
        if bulk.fail_on_errors.is_some_and(|max| errors >= max) {
            break;
        }
    }
    let done: Vec<OpResult> = results.into_iter().flatten().collect();
    Ok(response::bulk_response(&done))
}

/// Run one well-formed operation as the request it stands for.
fn run(
    svc: &dyn Dispatch,
    outer: &Request,
    warnings: &mut Vec<String>,
    op: &Operation,
    known: &Known,
) -> OpResult {
    let method = Some(op.method.as_str().to_string());
    let fail = |location: Option<String>, e: &ScimError| {
        OpResult::failed(method.clone(), op.bulk_id.clone(), location, e)
    };
    let id_of = |b: &str| -> Result<String> {
        match known.defined_at.get(b).map(|&i| &known.state[i]) {
            Some(Defined::Id(id)) => Ok(id.clone()),
            Some(Defined::Failed(status)) => Err(ScimError::new(
                409,
                None,
                format!(
                    "bulkId:{} cannot be resolved: its operation failed with {status}",
                    truncate(b, 64)
                ),
            )),
            Some(Defined::Pending) => Err(ScimError::new(
                409,
                None,
                format!(
                    "bulkId:{} cannot be resolved: its operation has not run",
                    truncate(b, 64)
                ),
            )),
            None => Err(ScimError::invalid_value(format!(
                "bulkId:{} names no operation of this request",
                truncate(b, 64)
            ))),
        }
    };
    let (path, data) = match refs::resolve(op, &id_of) {
        Ok(resolved) => resolved,
        Err(e) => return fail(unresolved_location(outer, op), &e),
    };
    let route = Route::parse(&path);
    // Only the resource endpoints, and only to write: no search, no
    // discovery, no nested /Bulk.
    let kind = match route {
        Route::Resources(k) | Route::Resource(k, _) => k,
        Route::Search(k) if op.method != request::Method::Post => k,
        _ => {
            return fail(
                unresolved_location(outer, op),
                &ScimError::invalid_value(
                    "a bulk operation's path must be /Users, /Groups or /Roles, \
                     optionally followed by /{id}",
                ),
            )
        }
    };
    let location = match id_in(&route) {
        "" => None,
        id => Some(format!("{}{}/{id}", outer.base_url, svc.endpoint(kind))),
    };
    let body = match &data {
        Some(d) => serde_json::to_vec(d).unwrap_or_default(),
        None => Vec::new(),
    };
    // Each operation's data is bounded as the request alone (max_body_bytes).
    let max_body_bytes = svc.config().max_body_bytes;
    if body.len() > max_body_bytes {
        return fail(
            location,
            &ScimError::new(
                413,
                None,
                format!(
                    "the operation's data is larger than max_body_bytes ({} bytes)",
                    max_body_bytes
                ),
            ),
        );
    }
    let mut headers = vec![("content-type".to_string(), SCIM_CONTENT_TYPE.to_string())];
    // RFC 7644 §3.7: `version` is the resource version the client expects,
    // checked as If-Match would be (§3.14).
    if let Some(v) = &op.version {
        headers.push(("if-match".to_string(), v.clone()));
    }
    let sub = Request {
        method: op.method.as_str().to_string(),
        path: path.to_string(),
        query: String::new(),
        headers,
        body,
        base_url: outer.base_url.clone(),
    };
    let answer = svc.dispatch(&sub, route, warnings);
    match answer {
        Err(e) => fail(location, &e),
        Ok(r) if r.status >= 400 => {
            let e = serde_json::from_slice(&r.body).unwrap_or_default();
            OpResult {
                method,
                bulk_id: op.bulk_id.clone(),
                location,
                version: None,
                status: r.status,
                response: Some(e),
            }
        }
        Ok(r) => OpResult {
            method,
            bulk_id: op.bulk_id.clone(),
            location: r.header("location").map(str::to_string).or(location),
            version: r.header("etag").map(str::to_string),
            status: r.status,
            response: None,
        },
    }
}

/// The `location` of an operation that failed before its path named a
/// resource: the path as sent under the base URL (RFC 7644 §3.7 requires
/// one "except in the event of a POST failure").
fn unresolved_location(req: &Request, op: &Operation) -> Option<String> {
    (op.method != request::Method::Post).then(|| sent_location(req, &op.path))
}

/// `path` as sent, under the request's base URL.
fn sent_location(req: &Request, path: &str) -> String {
    let path = truncate(path, 512);
    let sep = if path.starts_with('/') { "" } else { "/" };
    format!("{}{sep}{path}", req.base_url)
}

/// The id segment of a one-resource route.
fn id_in<'a>(route: &Route<'a>) -> &'a str {
    match route {
        Route::Resource(_, id) => id,
        Route::Search(_) => ".search",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Env, Service};
    use crate::storage::memory::MemStore;
    use serde_json::{json, Value};

    const ROLE: &str = "3f6a1c2e-8b4d-4e7a-9c1f-2d5b8e0a7c31";
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

    struct World {
        svc: Service,
        store: MemStore,
    }

    fn catalog() -> std::result::Result<String, String> {
        Ok(json!({"roles": [{"id": ROLE, "displayName": "Processor"}]}).to_string())
    }

    impl World {
        fn new() -> World {
            World {
                svc: Service::new(Config::default()),
                store: MemStore::new(),
            }
        }
        fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
            let req = Request {
                method: method.into(),
                path: path.into(),
                base_url: "https://h/v2".into(),
                body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
                ..Default::default()
            };
            let env = Env {
                store: &self.store,
                now: 1_700_000_000,
                fetcher: &crate::auth::jwks::NoFetcher,
                catalog_source: &catalog,
            };
            let r = self
                .svc
                .dispatch(&req, &env, Route::parse(path), "t", None, &mut Vec::new())
                .unwrap_or_else(|e| Response::error(&e));
            let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.status, v)
        }
        /// The statuses of a bulk request's operations, in response order.
        fn bulk(&self, fail_on_errors: Option<u64>, ops: Value) -> Vec<(String, Value)> {
            let mut body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
            if let Some(n) = fail_on_errors {
                body["failOnErrors"] = json!(n);
            }
            let (status, v) = self.call("POST", "/Bulk", Some(&body));
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["schemas"][0], BULK_RESPONSE);
            v["Operations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["status"].as_str().unwrap().to_string(), o.clone()))
                .collect()
        }
    }

    fn new_user(bulk_id: &str, name: &str) -> Value {
        json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
               "data": {"schemas": [USER], "userName": name}})
    }

    fn statuses(r: &[(String, Value)]) -> Vec<&str> {
        r.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn a_group_may_refer_to_users_created_later_in_the_request() {
        let w = World::new();
        let r = w.bulk(
            None,
            json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "Tour Guides",
                          "members": [{"value": "bulkId:a"}, {"value": "bulkId:b", "$ref": "https://h/v2/Users/bulkId:b"}]}},
                new_user("a", "alice"),
                new_user("b", "bob"),
                {"method": "PATCH", "path": "/Roles/bulkId:r",
                 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:a"}]}]}},
                {"method": "PUT", "path": format!("/Roles/{ROLE}"), "bulkId": "r",
                 "data": {"members": [{"value": "bulkId:b"}]}}
            ]),
        );
        assert_eq!(statuses(&r), ["201", "201", "201", "204", "200"]);
        let group = r[0].1["location"].as_str().unwrap();
        let (_, g) = w.call("GET", group.strip_prefix("https://h/v2").unwrap(), None);
        let mut members: Vec<&str> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["display"].as_str().unwrap())
            .collect();
        members.sort();
        assert_eq!(members, ["alice", "bob"]);
        assert_eq!(r[0].1["version"], g["meta"]["version"]);
        // The PUT ran before the PATCH that refers to its bulkId.
        let (_, role) = w.call("GET", &format!("/Roles/{ROLE}"), None);
        assert_eq!(role["members"].as_array().unwrap().len(), 2, "{role}");
    }

    #[test]
    fn circular_references_answer_409_and_the_rest_runs() {
        let w = World::new();
        let group = |b: &str, other: &str| {
            json!({"method": "POST", "path": "/Groups", "bulkId": b,
                   "data": {"schemas": [GROUP], "displayName": b, "members": [{"value": format!("bulkId:{other}")}]}})
        };
        let r = w.bulk(
            None,
            json!([
                group("x", "y"),
                group("y", "x"),
                group("self", "self"),
                {"method": "DELETE", "path": "/Groups/bulkId:x"},
                new_user("u", "free"),
                group("z", "nobody")
            ]),
        );
        assert_eq!(statuses(&r), ["409", "409", "409", "409", "201", "400"]);
        assert!(r[0].1.get("location").is_none());
        assert!(r[3].1["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("bulkId:x"));
        assert_eq!(r[5].1["response"]["scimType"], "invalidValue");
        let (_, groups) = w.call("GET", "/Groups", None);
        assert_eq!(groups["totalResults"], 0, "nothing of the cycle is stored");
    }

    #[test]
    fn fail_on_errors_stops_after_that_many_errors() {
        let ops = json!([
            new_user("a", "alice"),
            new_user("b", "alice"),
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"schemas": [USER]}},
            new_user("d", "dora"),
        ]);
        let w = World::new();
        let r = w.bulk(Some(1), ops.clone());
        assert_eq!(statuses(&r), ["201", "409"]);
        assert_eq!(r[1].1["response"]["scimType"], "uniqueness");
        assert_eq!(w.call("GET", "/Users", None).1["totalResults"], 1);
        let w = World::new();
        let r = w.bulk(Some(2), ops.clone());
        assert_eq!(statuses(&r), ["201", "409", "400"]);
        let w = World::new();
        let r = w.bulk(None, ops);
        assert_eq!(statuses(&r), ["201", "409", "400", "201"]);
        assert_eq!(w.call("GET", "/Users", None).1["totalResults"], 2);
    }

    #[test]
    fn version_is_if_match_and_each_operation_answers_as_alone() {
        let w = World::new();
        let r = w.bulk(None, json!([new_user("a", "alice")]));
        let loc = r[0].1["location"].as_str().unwrap().to_string();
        let path = loc.strip_prefix("https://h/v2").unwrap();
        let version = r[0].1["version"].as_str().unwrap().to_string();
        let r = w.bulk(
            None,
            json!([
                {"method": "PUT", "path": path, "version": "W/\"99\"", "data": {"schemas": [USER], "userName": "x"}},
                {"method": "PUT", "path": path, "version": version, "data": {"schemas": [USER], "userName": "alicia"}},
                {"method": "POST", "path": "/Roles", "bulkId": "r", "data": {"displayName": "New"}},
                {"method": "DELETE", "path": format!("/Roles/{ROLE}")},
                {"method": "POST", "path": "/Users/.search", "bulkId": "s", "data": {}},
                {"method": "DELETE", "path": "/Bulk"},
                {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000"},
                {"method": "DELETE", "path": path}
            ]),
        );
        assert_eq!(
            statuses(&r),
            ["412", "200", "405", "405", "400", "400", "404", "204"]
        );
        assert_eq!(r[0].1["location"], loc.as_str());
        assert_eq!(r[1].1["location"], loc.as_str());
        assert_ne!(r[1].1["version"], version.as_str());
        assert!(r[2].1.get("location").is_none());
        assert_eq!(r[7].1["location"], loc.as_str());
        assert_eq!(w.call("GET", path, None).0, 404);
    }

    #[test]
    fn two_operations_with_one_bulk_id_refuse_the_request() {
        let w = World::new();
        let ops = json!([new_user("a", "x"), new_user("a", "y")]);
        let body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
        let (status, v) = w.call("POST", "/Bulk", Some(&body));
        assert_eq!(
            (status, v["scimType"].as_str()),
            (400, Some("invalidValue"))
        );
        assert_eq!(w.call("GET", "/Users", None).1["totalResults"], 0);
    }

    #[test]
    fn limits_refuse_the_whole_request_with_413() {
        let cfg = Config {
            bulk_max_operations: 2,
            max_body_bytes: 200,
            ..Config::default()
        };
        let w = World {
            svc: Service::new(cfg),
            store: MemStore::new(),
        };
        let ops = json!([new_user("a", "a"), new_user("b", "b"), new_user("c", "c")]);
        let body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
        let (status, v) = w.call("POST", "/Bulk", Some(&body));
        assert_eq!(status, 413);
        assert!(v["detail"].as_str().unwrap().contains("maxOperations is 2"));
        // One operation's data is bounded by max_body_bytes, as alone.
        let big = json!([{"method": "POST", "path": "/Users", "bulkId": "x",
                          "data": {"schemas": [USER], "userName": "x".repeat(300)}}]);
        let r = w.bulk(None, big);
        assert_eq!(statuses(&r), ["413"]);
        assert_eq!(w.call("GET", "/Bulk", None).0, 405);
    }
}
