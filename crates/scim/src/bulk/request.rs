//! Reading a BulkRequest (RFC 7644 §3.7): the envelope (`schemas`,
//! `failOnErrors`, `Operations`) and each operation's `method`, `bulkId`,
//! `version`, `path` and `data`, before any `bulkId` is resolved.
//!
//! A fault of the envelope refuses the whole request; a fault of one
//! operation is that operation's error in the BulkResponse, and the others
//! still run (§3.7: "continue performing as many changes as possible").

use super::BULK_REQUEST;
use crate::error::{truncate, Result, ScimError};
use crate::schema::get_ci;
use serde_json::Value;

/// The four methods a bulk operation may carry (RFC 7644 §3.7: "POST",
/// "PUT", "PATCH" or "DELETE").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Create (§3.3).
    Post,
    /// Replace (§3.5.1).
    Put,
    /// Modify (§3.5.2).
    Patch,
    /// Delete (§3.6).
    Delete,
}

impl Method {
    /// The method as HTTP spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One operation, read.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// What to do.
    pub(crate) method: Method,
    /// The client's temporary id (§3.7.2), required with POST.
    pub(crate) bulk_id: Option<String>,
    /// The version the client expects (§3.7: acts as `If-Match`).
    pub(crate) version: Option<String>,
    /// The resource path, e.g. `/Users` or `/Groups/bulkId:qwerty`.
    pub(crate) path: String,
    /// The request body (POST, PUT, PATCH).
    pub(crate) data: Option<Value>,
}

/// An element of `Operations`: read, or refused with what of it could be
/// read (echoed in its response).
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A well-formed operation.
    Ok(Operation),
    /// A malformed one: the method and bulkId as sent (if strings), and why.
    Bad {
        /// `method` as sent, when it is a string.
        method: Option<String>,
        /// `bulkId` as sent, when it is a string.
        bulk_id: Option<String>,
        /// `path` as sent, when it is a string.
        path: Option<String>,
        /// The error of this operation.
        error: ScimError,
    },
}

impl Entry {
    /// The operation's `bulkId`, read or not.
    pub(crate) fn bulk_id(&self) -> Option<&str> {
        match self {
            Entry::Ok(op) => op.bulk_id.as_deref(),
            Entry::Bad { bulk_id, .. } => bulk_id.as_deref(),
        }
    }
}

/// A BulkRequest, read.
#[derive(Debug, Clone)]
pub(crate) struct BulkRequest {
    /// Errors after which processing stops (§3.7.3); `None`: never.
    pub(crate) fail_on_errors: Option<usize>,
    /// The operations, in request order.
    pub(crate) operations: Vec<Entry>,
}

/// Read a BulkRequest body. `max_operations` is advertised as
/// `bulk.maxOperations`; more operations answer 413 (§3.7.4). Envelope faults
/// are 400: `schemas` without the BulkRequest URN, `Operations` not an
/// array, `failOnErrors` not a positive integer.
pub(crate) fn parse(body: &Value, max_operations: usize) -> Result<BulkRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the BulkRequest must be a JSON object"))?;
    let listed = match get_ci(obj, "schemas") {
        Some(Value::Array(a)) => a.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST))
        }),
        Some(Value::String(s)) => s.eq_ignore_ascii_case(BULK_REQUEST),
        _ => false,
    };
    if !listed {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST}"
        )));
    }
    let fail_on_errors = match get_ci(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n @ 1..) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::invalid_value(
                    "failOnErrors must be an integer of at least 1",
                ))
            }
        },
    };
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.len() > max_operations {
        // RFC 7644 §3.7.4: too many operations is 413, naming the limit.
        return Err(ScimError::new(
            413,
            None,
            format!(
                "the bulk request has {} operations; maxOperations is {max_operations}",
                ops.len()
            ),
        ));
    }
    if ops.is_empty() {
        return Err(ScimError::invalid_value(
            "Operations must hold at least one operation",
        ));
    }
    Ok(BulkRequest {
        fail_on_errors,
        operations: ops.iter().map(entry).collect(),
    })
}

/// Read one element of `Operations`.
fn entry(v: &Value) -> Entry {
    let o = v.as_object();
    let text = |name: &str| {
        o.and_then(|o| get_ci(o, name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match operation(v) {
        Ok(op) => Entry::Ok(op),
        Err(error) => Entry::Bad {
            method: text("method").map(|m| truncate(&m, 16).to_string()),
            bulk_id: text("bulkId"),
            path: text("path"),
            error,
        },
    }
}

/// Read one operation (RFC 7644 §3.7: `method` and `path` are required,
/// `bulkId` with POST, `data` with POST, PUT and PATCH).
fn operation(v: &Value) -> Result<Operation> {
    let o = v
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("an operation must be a JSON object"))?;
    let string = |name: &str| -> Result<Option<String>> {
        match get_ci(o, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_syntax(format!(
                "{name} must be a string"
            ))),
        }
    };
    let method = string("method")?
        .ok_or_else(|| ScimError::invalid_syntax("an operation needs a method"))?;
    let method = match method.trim().to_ascii_uppercase().as_str() {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "method {:?} is not POST, PUT, PATCH or DELETE",
                truncate(&method, 16)
            )))
        }
    };
    let bulk_id = string("bulkId")?;
    if bulk_id.as_deref().is_some_and(str::is_empty) {
        return Err(ScimError::invalid_value("bulkId must not be empty"));
    }
    if method == Method::Post && bulk_id.is_none() {
        return Err(ScimError::invalid_syntax("a POST operation needs a bulkId"));
    }
    let version = string("version")?;
    let path = string("path")?
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_syntax("an operation needs a path"))?;
    let data = match get_ci(o, "data") {
        None | Some(Value::Null) => None,
        Some(d) => Some(d.clone()),
    };
    if method != Method::Delete && data.is_none() {
        return Err(ScimError::invalid_syntax(format!(
            "a {} operation needs data",
            method.as_str()
        )));
    }
    Ok(Operation {
        method,
        bulk_id,
        version,
        path: path.trim().to_string(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(ops: Value) -> Value {
        json!({"schemas": [BULK_REQUEST], "Operations": ops})
    }

    #[test]
    fn the_rfc_example_reads() {
        let body = json!({
            "schemas": [BULK_REQUEST],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "qwerty",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
                {"method": "PUT", "path": "/Users/b7c14771-226c-4d05-8860-134711653041",
                 "version": "W/\"3694e05e9dff591\"", "data": {"userName": "Bob"}},
                {"method": "delete", "path": "/Users/e9025315-6bea-44e1-899c-1e07454e468b",
                 "version": "W/\"0ee8add0a938e1a\""}
            ]
        });
        let r = parse(&body, 10).unwrap();
        assert_eq!(r.fail_on_errors, Some(1));
        assert_eq!(r.operations.len(), 3);
        let Entry::Ok(put) = &r.operations[1] else {
            panic!("PUT reads")
        };
        assert_eq!(put.method, Method::Put);
        assert_eq!(put.version.as_deref(), Some("W/\"3694e05e9dff591\""));
        let Entry::Ok(del) = &r.operations[2] else {
            panic!("DELETE reads")
        };
        assert_eq!((del.method, del.data.is_none()), (Method::Delete, true));
    }

    #[test]
    fn envelope_faults_refuse_the_whole_request() {
        let status = |v: Value, max| parse(&v, max).map(|_| ()).map_err(|e| e.status);
        let one = json!([{"method": "DELETE", "path": "/Users/x"}]);
        assert_eq!(status(json!({"Operations": one}), 10), Err(400));
        assert_eq!(status(json!({"schemas": [BULK_REQUEST]}), 10), Err(400));
        assert_eq!(status(req(json!([])), 10), Err(400));
        assert_eq!(status(req(json!([one[0], one[0], one[0]])), 2), Err(413));
        let mut bad = req(one.clone());
        bad["failOnErrors"] = json!(0);
        assert_eq!(status(bad, 10), Err(400));
        assert_eq!(status(req(one), 10), Ok(()));
    }

    #[test]
    fn a_malformed_operation_is_its_own_error() {
        let r = parse(
            &req(json!([
                {"method": "GET", "path": "/Users"},
                {"method": "POST", "path": "/Users", "data": {}},
                {"method": "PUT", "path": "/Users/x", "bulkId": "k"},
                {"method": "DELETE"},
                "nope",
                {"method": "DELETE", "path": "/Users/x"}
            ])),
            10,
        )
        .unwrap();
        let errors: Vec<Option<u16>> = r
            .operations
            .iter()
            .map(|e| match e {
                Entry::Ok(_) => None,
                Entry::Bad { error, .. } => Some(error.status),
            })
            .collect();
        assert_eq!(
            errors,
            [Some(400), Some(400), Some(400), Some(400), Some(400), None]
        );
        let Entry::Bad {
            method, bulk_id, ..
        } = &r.operations[2]
        else {
            panic!()
        };
        assert_eq!(
            (method.as_deref(), bulk_id.as_deref()),
            (Some("PUT"), Some("k"))
        );
    }
}
