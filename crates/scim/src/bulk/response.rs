//! The BulkResponse (RFC 7644 §3.7.3): one element per operation processed,
//! with its `method`, `bulkId`, `version`, `location` and `status`, and for
//! a failure the SCIM error as `response`. `status` is the HTTP status as
//! a string, as the RFC's examples write it.

use super::BULK_RESPONSE;
use crate::error::ScimError;
use crate::http::Response;
use serde_json::{json, Map, Value};

/// The outcome of one operation, as the BulkResponse shows it.
#[derive(Debug)]
pub(crate) struct OpResult {
    /// The method as sent (upper case when it was one of the four).
    pub(crate) method: Option<String>,
    /// The operation's `bulkId`, echoed.
    pub(crate) bulk_id: Option<String>,
    /// The resource's URL; absent only for a failed POST (§3.7).
    pub(crate) location: Option<String>,
    /// The resource's new version (its `ETag`), when the operation gives one.
    pub(crate) version: Option<String>,
    /// The HTTP status the same request alone would have answered.
    pub(crate) status: u16,
    /// The SCIM error body of a failure (§3.7: required for non-2xx).
    pub(crate) response: Option<Value>,
}

impl OpResult {
    /// A failure with `error` as its response.
    pub(crate) fn failed(
        method: Option<String>,
        bulk_id: Option<String>,
        location: Option<String>,
        error: &ScimError,
    ) -> OpResult {
        OpResult {
            method,
            bulk_id,
            location,
            version: None,
            status: error.status,
            response: Some(error.to_json()),
        }
    }

    /// Whether the operation failed (§3.7.3 counts these against
    /// `failOnErrors`).
    pub(crate) fn is_error(&self) -> bool {
        self.status >= 400
    }

    /// The element of `Operations`.
    fn to_json(&self) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                o.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("method", self.method.as_ref());
        put("bulkId", self.bulk_id.as_ref());
        put("version", self.version.as_ref());
        put("location", self.location.as_ref());
        o.insert("status".into(), Value::String(self.status.to_string()));
        if let Some(r) = &self.response {
            o.insert("response".into(), r.clone());
        }
        Value::Object(o)
    }
}

/// The BulkResponse of `results` (200 OK: §3.7.3 reports failures per
/// operation, the request itself succeeded).
pub(crate) fn bulk_response(results: &[OpResult]) -> Response {
    let ops: Vec<Value> = results.iter().map(OpResult::to_json).collect();
    Response::json(
        200,
        &json!({
            "schemas": [BULK_RESPONSE],
            "Operations": ops,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_carry_what_the_rfc_shows() {
        let ok = OpResult {
            method: Some("POST".into()),
            bulk_id: Some("qwerty".into()),
            location: Some("https://h/v2/Users/92b7".into()),
            version: Some("W/\"1\"".into()),
            status: 201,
            response: None,
        };
        let bad = OpResult::failed(
            Some("POST".into()),
            Some("ytrewq".into()),
            None,
            &ScimError::uniqueness("userName taken"),
        );
        assert!(bad.is_error() && !ok.is_error());
        let r = bulk_response(&[ok, bad]);
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["schemas"][0], BULK_RESPONSE);
        assert_eq!(v["Operations"][0]["status"], "201");
        assert_eq!(v["Operations"][0]["version"], "W/\"1\"");
        assert!(v["Operations"][0].get("response").is_none());
        assert_eq!(v["Operations"][1]["status"], "409");
        assert!(v["Operations"][1].get("location").is_none());
        assert_eq!(v["Operations"][1]["response"]["scimType"], "uniqueness");
        assert_eq!(v["Operations"][1]["response"]["status"], "409");
    }
}
