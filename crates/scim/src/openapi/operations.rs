//! The document's `paths`: one table, [`OPERATIONS`], of every operation the
//! service answers (RFC 7644 §3.2 lists the endpoints), each with its
//! scope, body, success statuses and the errors it can answer. A new
//! endpoint is one more row (and, if it needs them, a new [`Body`] or
//! [`Success`]). Per-type rows expand to `/Users`, `/Groups`, `/Roles`.

use super::{obj, schemas};
use crate::config::Config;
use crate::schema::{Kind, Registry, ResourceType};
use serde_json::{Map, Value};

/// Which resource types an operation applies to.
pub enum Applies {
    /// One path per listed resource type; `{endpoint}` in the path, `{Name}`
    /// and `{Plural}` in the operation id are the type's.
    PerType(&'static [Kind]),
    /// One fixed path.
    Fixed,
}

/// The scope an operation needs (README: `scope_read`, `scope_write`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The read scope (GET, `.search`: RFC 7644 §3.4.3 "SHALL NOT alter state").
    Read,
    /// The write scope.
    Write,
    /// A discovery endpoint (RFC 7644 §4): the read scope when
    /// `discovery_requires_auth`, no token otherwise.
    Discovery,
    /// The audit trail's own scope (README: `scope_audit`).
    Audit,
}

/// What the request body is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// The resource (POST, PUT): its required attributes must be there.
    Resource,
    /// A PatchOp (RFC 7644 §3.5.2).
    PatchOp,
    /// A SearchRequest (RFC 7644 §3.4.3).
    Search,
    /// A BulkRequest (RFC 7644 §3.7).
    Bulk,
}

/// What a successful response carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// The resource, with its `ETag`.
    Resource,
    /// The created resource, with `ETag` and `Location` (RFC 7644 §3.3).
    Created,
    /// Nothing (204 of a DELETE, RFC 7644 §3.6).
    Empty,
    /// Nothing but the new `ETag` (204 of a minimal PATCH, RFC 7644 §3.5.2).
    EmptyWithEtag,
    /// Not modified (304, RFC 7232 §4.1).
    NotModified,
    /// A ListResponse of the operation's resource type.
    List,
    /// A ListResponse of any resource type (root `/.search`).
    AnyList,
    /// A discovery document (RFC 7644 §4).
    Discovery,
    /// An OpenAPI document (this module's).
    OpenApi,
    /// One audit event.
    AuditEvent,
    /// A ListResponse of audit events.
    AuditList,
    /// A BulkResponse (RFC 7644 §3.7.3).
    Bulk,
}

/// One operation of the service.
pub struct Operation {
    /// The HTTP method, lower case as OpenAPI keys it.
    pub method: &'static str,
    /// The path below the base URL; `{endpoint}` is the resource type's.
    pub path: &'static str,
    /// Which resource types.
    pub applies: Applies,
    /// The operation id (`{Name}`, `{Plural}` replaced per type).
    pub id: &'static str,
    /// One line for the page.
    pub summary: &'static str,
    /// The tag, for fixed paths (per-type operations are tagged by type).
    pub tag: &'static str,
    /// The scope needed.
    pub scope: Scope,
    /// The request body.
    pub body: Body,
    /// Parameters, by their name in frame.json's `components.parameters`.
    pub parameters: &'static [&'static str],
    /// Success statuses and what they carry.
    pub success: &'static [(u16, Success)],
    /// Error statuses beyond those every operation can answer.
    pub errors: &'static [u16],
}

const ALL: &[Kind] = &[Kind::User, Kind::Group, Kind::Role];
/// Roles come from the read-only catalog: no POST, no DELETE (405).
const WRITABLE: &[Kind] = &[Kind::User, Kind::Group];
/// The query parameters of a list (RFC 7644 §3.4.2, §3.9); each is
/// described in frame.json's `components.parameters`.
pub const LIST_PARAMETERS: &[&str] = &[
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "attributes",
    "excludedAttributes",
    "cursor",
];
/// `/Me` (RFC 7644 §3.11) is the authenticated subject's User.
const ME: &[Kind] = &[Kind::User];
/// What a path item says of all its operations, beyond them.
const PATH_NOTES: &[(&str, &str)] = &[(
    "/Me",
    "The authenticated subject's User (RFC 7644 §3.11): the one whose `userName` (or \
     `externalId`: variable `me_attribute`) equals the token's `me_claim` claim. Its \
     operations are those of `/Users/{id}` on that user, and every answer carries \
     `Location: <base>/Users/{id}`. 501 while `me_claim` is not set; 404 when the token \
     lacks the claim or no user holds it; 409 when several users hold that `externalId`. \
     POST /Me is not offered (405): users are created at /Users.",
)];

/// Every operation the service answers.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "{endpoint}",
        applies: Applies::PerType(ALL),
        id: "list{Plural}",
        summary: "List, filter, sort and page {Plural} (RFC 7644 §3.4.2)",
        tag: "",
        scope: Scope::Read,
        body: Body::None,
        parameters: LIST_PARAMETERS,
        success: &[(200, Success::List)],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "{endpoint}",
        applies: Applies::PerType(WRITABLE),
        id: "create{Name}",
        summary: "Create a {Name} (RFC 7644 §3.3)",
        tag: "",
        scope: Scope::Write,
        body: Body::Resource,
        parameters: &["attributes", "excludedAttributes"],
        success: &[(201, Success::Created)],
        errors: &[409, 413],
    },
    Operation {
        method: "post",
        path: "{endpoint}/.search",
        applies: Applies::PerType(ALL),
        id: "search{Plural}",
        summary: "Search {Plural} with a SearchRequest body (RFC 7644 §3.4.3)",
        tag: "",
        scope: Scope::Read,
        body: Body::Search,
        parameters: &[],
        success: &[(200, Success::List)],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "{endpoint}/{id}",
        applies: Applies::PerType(ALL),
        id: "get{Name}",
        summary: "Read one {Name} (RFC 7644 §3.4.1)",
        tag: "",
        scope: Scope::Read,
        body: Body::None,
        parameters: &["id", "attributes", "excludedAttributes", "If-None-Match"],
        success: &[(200, Success::Resource), (304, Success::NotModified)],
        errors: &[404],
    },
    Operation {
        method: "put",
        path: "{endpoint}/{id}",
        applies: Applies::PerType(ALL),
        id: "replace{Name}",
        summary: "Replace a {Name} (RFC 7644 §3.5.1)",
        tag: "",
        scope: Scope::Write,
        body: Body::Resource,
        parameters: &["id", "attributes", "excludedAttributes", "If-Match"],
        success: &[(200, Success::Resource)],
        errors: &[404, 409, 412, 413],
    },
    Operation {
        method: "patch",
        path: "{endpoint}/{id}",
        applies: Applies::PerType(ALL),
        id: "patch{Name}",
        summary: "Modify a {Name} with a PatchOp (RFC 7644 §3.5.2)",
        tag: "",
        scope: Scope::Write,
        body: Body::PatchOp,
        parameters: &[
            "id",
            "attributes",
            "excludedAttributes",
            "If-Match",
            "Prefer",
        ],
        success: &[(200, Success::Resource), (204, Success::EmptyWithEtag)],
        errors: &[404, 409, 412, 413],
    },
    Operation {
        method: "delete",
        path: "{endpoint}/{id}",
        applies: Applies::PerType(WRITABLE),
        id: "delete{Name}",
        summary: "Delete a {Name} (RFC 7644 §3.6)",
        tag: "",
        scope: Scope::Write,
        body: Body::None,
        parameters: &["id", "If-Match"],
        success: &[(204, Success::Empty)],
        errors: &[404, 412],
    },
    Operation {
        method: "post",
        path: "/.search",
        applies: Applies::Fixed,
        id: "searchAll",
        summary: "Search every resource type (RFC 7644 §3.4.3)",
        tag: "Search",
        scope: Scope::Read,
        body: Body::Search,
        parameters: &[],
        success: &[(200, Success::AnyList)],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/Bulk",
        applies: Applies::Fixed,
        id: "bulk",
        summary: "Create, replace, modify and delete many resources in one request (RFC 7644 §3.7)",
        tag: "Bulk",
        scope: Scope::Write,
        body: Body::Bulk,
        parameters: &[],
        success: &[(200, Success::Bulk)],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/Me",
        applies: Applies::PerType(ME),
        id: "getMe",
        summary: "Read the authenticated subject's User (RFC 7644 §3.11)",
        tag: "",
        scope: Scope::Read,
        body: Body::None,
        parameters: &["attributes", "excludedAttributes", "If-None-Match"],
        success: &[(200, Success::Resource), (304, Success::NotModified)],
        errors: &[404, 409, 501],
    },
    Operation {
        method: "put",
        path: "/Me",
        applies: Applies::PerType(ME),
        id: "replaceMe",
        summary: "Replace the authenticated subject's User (RFC 7644 §3.11, §3.5.1)",
        tag: "",
        scope: Scope::Write,
        body: Body::Resource,
        parameters: &["attributes", "excludedAttributes", "If-Match"],
        success: &[(200, Success::Resource)],
        errors: &[404, 409, 412, 413, 501],
    },
    Operation {
        method: "patch",
        path: "/Me",
        applies: Applies::PerType(ME),
        id: "patchMe",
        summary: "Modify the authenticated subject's User with a PatchOp (RFC 7644 §3.11, §3.5.2)",
        tag: "",
        scope: Scope::Write,
        body: Body::PatchOp,
        parameters: &["attributes", "excludedAttributes", "If-Match", "Prefer"],
        success: &[(200, Success::Resource), (204, Success::EmptyWithEtag)],
        errors: &[404, 409, 412, 413, 501],
    },
    Operation {
        method: "delete",
        path: "/Me",
        applies: Applies::PerType(ME),
        id: "deleteMe",
        summary: "Delete the authenticated subject's User (RFC 7644 §3.11, §3.6)",
        tag: "",
        scope: Scope::Write,
        body: Body::None,
        parameters: &["If-Match"],
        success: &[(204, Success::Empty)],
        errors: &[404, 409, 412, 501],
    },
    Operation {
        method: "get",
        path: "/AuditEvents",
        applies: Applies::Fixed,
        id: "listAuditEvents",
        summary: "List the audit trail, newest first (README, \"Audit trail\")",
        tag: "Audit",
        scope: Scope::Audit,
        body: Body::None,
        parameters: LIST_PARAMETERS,
        success: &[(200, Success::AuditList)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/AuditEvents/{id}",
        applies: Applies::Fixed,
        id: "getAuditEvent",
        summary: "Read one audit event",
        tag: "Audit",
        scope: Scope::Audit,
        body: Body::None,
        parameters: &["id", "attributes", "excludedAttributes"],
        success: &[(200, Success::AuditEvent)],
        errors: &[404],
    },
    Operation {
        method: "get",
        path: "/ServiceProviderConfig",
        applies: Applies::Fixed,
        id: "getServiceProviderConfig",
        summary: "What this server supports (RFC 7643 §5)",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &[],
        success: &[(200, Success::Discovery)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/ResourceTypes",
        applies: Applies::Fixed,
        id: "listResourceTypes",
        summary: "Every resource type (RFC 7643 §6)",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &[],
        success: &[(200, Success::Discovery)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/ResourceTypes/{name}",
        applies: Applies::Fixed,
        id: "getResourceType",
        summary: "One resource type (RFC 7643 §6)",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &["name"],
        success: &[(200, Success::Discovery)],
        errors: &[404],
    },
    Operation {
        method: "get",
        path: "/Schemas",
        applies: Applies::Fixed,
        id: "listSchemas",
        summary: "Every schema (RFC 7643 §7)",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &[],
        success: &[(200, Success::Discovery)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/Schemas/{urn}",
        applies: Applies::Fixed,
        id: "getSchema",
        summary: "One schema by URN (RFC 7643 §7)",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &["urn"],
        success: &[(200, Success::Discovery)],
        errors: &[404],
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        applies: Applies::Fixed,
        id: "getOpenApi",
        summary: "This document",
        tag: "Discovery",
        scope: Scope::Discovery,
        body: Body::None,
        parameters: &[],
        success: &[(200, Success::OpenApi)],
        errors: &[],
    },
];

/// Errors every operation that needs a token can answer: 400 (two
/// `Authorization` headers, RFC 6750 §3.1; an invalid `Host`), 401, 403,
/// 429 (the request quota), 500 and 503 (the JWKS is being fetched).
const AUTHENTICATED: [u16; 6] = [400, 401, 403, 429, 500, 503];
/// Errors an operation without a token can answer.
const ANONYMOUS: [u16; 2] = [400, 500];

/// `paths`: every row of [`OPERATIONS`], per resource type where it applies.
pub fn paths(reg: &Registry, cfg: &Config) -> Map<String, Value> {
    let mut out = Map::new();
    for op in OPERATIONS {
        let types: Vec<Option<&ResourceType>> = match op.applies {
            Applies::PerType(kinds) => kinds.iter().map(|k| Some(reg.of(*k))).collect(),
            Applies::Fixed => vec![None],
        };
        for rt in types {
            let path = match rt {
                Some(rt) => op.path.replace("{endpoint}", rt.endpoint),
                None => op.path.to_string(),
            };
            let entry = out.entry(path).or_insert_with(|| obj(vec![]));
            entry[op.method] = operation(op, rt, cfg);
        }
    }
    for (path, note) in PATH_NOTES {
        if let Some(item) = out.get_mut(*path) {
            item["description"] = (*note).into();
        }
    }
    out
}

/// `{Name}` and `{Plural}` of `text` for `rt`.
fn fill(text: &str, rt: Option<&ResourceType>) -> String {
    match rt {
        Some(rt) => text
            .replace("{Name}", rt.name)
            .replace("{Plural}", &rt.endpoint[1..]),
        None => text.to_string(),
    }
}

fn operation(op: &Operation, rt: Option<&ResourceType>, cfg: &Config) -> Value {
    let tag = rt.map(|rt| &rt.endpoint[1..]).unwrap_or(op.tag);
    let needs_token = op.scope != Scope::Discovery || cfg.auth.discovery_requires_auth;
    let scope = match op.scope {
        Scope::Write => &cfg.auth.write_scope,
        Scope::Read | Scope::Discovery => &cfg.auth.read_scope,
        Scope::Audit => &cfg.auth.audit_scope,
    };
    let parameters: Vec<Value> = op
        .parameters
        .iter()
        .map(|p| reference("parameters", p))
        .collect();
    let security = if needs_token {
        vec![obj(vec![("bearer", vec![scope.as_str()].into())])]
    } else {
        Vec::new()
    };
    let mut v = obj(vec![
        ("operationId", fill(op.id, rt).into()),
        ("summary", fill(op.summary, rt).into()),
        ("tags", vec![tag].into()),
        ("parameters", parameters.into()),
        ("security", security.into()),
    ]);
    if needs_token {
        v["description"] = format!(
            "Needs a bearer JWT with the `{scope}` scope (with `token_scope_prefix` set, `<xsappname>.{scope}` too)."
        )
        .into();
    }
    if let Some(body) = request_body(op.body, rt) {
        v["requestBody"] = body;
    }
    let mut responses = Map::new();
    for (status, what) in op.success {
        responses.insert(status.to_string(), success(*status, *what, rt, op));
    }
    let common: &[u16] = if needs_token {
        &AUTHENTICATED
    } else {
        &ANONYMOUS
    };
    for status in common.iter().chain(op.errors) {
        responses.insert(
            status.to_string(),
            reference("responses", &status.to_string()),
        );
    }
    v["responses"] = Value::Object(responses);
    v
}

/// A `$ref` to a component of `kind`.
fn reference(kind: &str, name: &str) -> Value {
    obj(vec![("$ref", format!("#/components/{kind}/{name}").into())])
}

/// Both media types (RFC 7644 §3.1: `application/scim+json`, and
/// `application/json`, which clients send too) with one schema.
pub fn content(schema: Value) -> Value {
    let media = obj(vec![("schema", schema)]);
    obj(vec![
        ("application/scim+json", media.clone()),
        ("application/json", media),
    ])
}

fn request_body(body: Body, rt: Option<&ResourceType>) -> Option<Value> {
    let schema = match (body, rt) {
        (Body::None, _) | (Body::Resource, None) => return None,
        (Body::Resource, Some(rt)) => obj(vec![
            ("allOf", vec![schemas::reference(rt.name)].into()),
            ("required", schemas::required_on_write(rt).into()),
        ]),
        (Body::PatchOp, _) => schemas::reference("PatchOp"),
        (Body::Search, _) => schemas::reference("SearchRequest"),
        (Body::Bulk, _) => schemas::reference("BulkRequest"),
    };
    Some(obj(vec![
        ("required", (body != Body::Search).into()),
        ("content", content(schema)),
    ]))
}

fn success(status: u16, what: Success, rt: Option<&ResourceType>, op: &Operation) -> Value {
    let name = rt.map(|rt| rt.name).unwrap_or("");
    let (description, body, headers): (&str, Option<String>, &[&str]) = match what {
        Success::Resource => ("The resource", Some(name.to_string()), &["ETag"]),
        Success::Created => ("Created", Some(name.to_string()), &["ETag", "Location"]),
        Success::Empty => ("No content", None, &[]),
        Success::EmptyWithEtag => (
            "Applied; no body (`Prefer: return=minimal`, or the default for groups and roles: `group_patch_response`)",
            None,
            &["ETag"],
        ),
        Success::NotModified => ("Not modified: the ETag matches If-None-Match", None, &["ETag"]),
        Success::List => (
            "A ListResponse (RFC 7644 §3.4.2)",
            Some(format!("{name}ListResponse")),
            &[],
        ),
        Success::AnyList => (
            "A ListResponse (RFC 7644 §3.4.2)",
            Some("ListResponse".into()),
            &[],
        ),
        Success::Discovery => ("The document", Some("Discovery".into()), &[]),
        Success::OpenApi => ("The document", Some("OpenApiDocument".into()), &[]),
        Success::AuditEvent => ("The event", Some("AuditEvent".into()), &[]),
        Success::AuditList => (
            "A ListResponse of events (RFC 7644 §3.4.2)",
            Some("AuditEventListResponse".into()),
            &[],
        ),
        Success::Bulk => (
            "A BulkResponse: each operation's own status (RFC 7644 §3.7.3)",
            Some("BulkResponse".into()),
            &[],
        ),
    };
    let mut v = obj(vec![("description", description.into())]);
    let mut h = Map::new();
    for name in headers
        .iter()
        .copied()
        .chain((op.method == "patch").then_some("Preference-Applied"))
        // RFC 7644 §3.11: /Me answers name the User's permanent location.
        .chain((op.path == "/Me" && !headers.contains(&"Location")).then_some("Location"))
    {
        h.insert(name.into(), reference("headers", name));
    }
    if !h.is_empty() {
        v["headers"] = Value::Object(h);
    }
    if let Some(body) = body {
        v["content"] = content(schemas::reference(&body));
    }
    if let Some(rt) = rt {
        if let Some(links) = links(op, status, rt) {
            v["links"] = links;
        }
    }
    v
}

/// OpenAPI links (§4.8.20) from a response that names a resource to the
/// operations on it: what a client (and schemathesis' stateful phase) does
/// next. From a create, the new id; from a list, its first resource's.
fn links(op: &Operation, status: u16, rt: &ResourceType) -> Option<Value> {
    let id = match (op.method, status) {
        ("post", 201) => "$response.body#/id",
        ("get", 200) if op.path == "{endpoint}" => "$response.body#/Resources/0/id",
        _ => return None,
    };
    let mut links = Map::new();
    for target in OPERATIONS.iter().filter(|o| o.path == "{endpoint}/{id}") {
        let Applies::PerType(kinds) = target.applies else {
            continue;
        };
        if kinds.iter().any(|k| resource_type_name(*k) == rt.name) {
            let op_id = fill(target.id, Some(rt));
            links.insert(
                op_id.clone(),
                obj(vec![
                    ("operationId", op_id.into()),
                    ("parameters", obj(vec![("id", id.into())])),
                ]),
            );
        }
    }
    Some(Value::Object(links))
}

fn resource_type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "User",
        Kind::Group => "Group",
        Kind::Role => "Role",
    }
}
