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
    let limits: [(&str, usize); 14] = [
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

#[cfg(test)]
mod tests;
