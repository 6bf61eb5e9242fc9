//! Reading a PATCH request (RFC 7644 §3.5.2): the body's envelope
//! (`schemas`, `Operations`) and each operation's `op`, `path` and `value`,
//! before anything is resolved against a schema. The IdP dialects differ here
//! only in spelling, and every spelling seen is tolerated: a lone string for
//! `schemas`, `operations` or `Operations`, `Add`/`REMOVE`, a blank or `null`
//! path meaning none, and extra keys (`name`, `id`) ignored.

use super::{Op, MAX_OPERATIONS, PATCH_OP};
use crate::error::truncate;
use crate::error::{Result, ScimError};
use crate::schema::get_ci;
use serde_json::Value;

/// One operation, read: where it goes and what it carries.
pub(super) enum Operation<'a> {
    /// add or replace without a path: `value` lists attributes.
    NoPath(Op, &'a Value),
    /// An operation on a path (trimmed); `value` is absent only for remove.
    Path(Op, &'a str, Option<&'a Value>),
}

/// The body's operations: `schemas` must list the PatchOp URN and
/// `Operations` must be an array of at most [`MAX_OPERATIONS`].
pub(super) fn operations(body: &Value) -> Result<&Vec<Value>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
    let listed = match get_ci(obj, "schemas") {
        Some(Value::Array(a)) => a
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP))),
        Some(Value::String(s)) => s.eq_ignore_ascii_case(PATCH_OP),
        _ => false,
    };
    if !listed {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {PATCH_OP}"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many(format!(
            "{} operations; at most maxPatchOperations ({MAX_OPERATIONS}) are accepted in one PATCH",
            ops.len()
        )));
    }
    Ok(ops)
}

/// Read one operation (an element of `Operations`).
pub(super) fn operation(op: &Value) -> Result<Operation<'_>> {
    let o = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("an operation must be a JSON object"))?;
    let name = get_ci(o, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("an operation needs an op"))?;
    let kind = match name.trim().to_ascii_lowercase().as_str() {
        "add" => Op::Add,
        "replace" => Op::Replace,
        "remove" => Op::Remove,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "unknown op {:?}: add, replace or remove",
                truncate(name, 50)
            )))
        }
    };
    let path = match get_ci(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim()),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = get_ci(o, "value");
    if kind != Op::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!("{name} needs a value")));
    }
    match path {
        None if kind == Op::Remove => Err(ScimError::no_target("remove needs a path")),
        None => Ok(Operation::NoPath(kind, value.unwrap_or(&Value::Null))),
        Some(path) => Ok(Operation::Path(kind, path, value)),
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::{apply, MAX_OPERATIONS, PATCH_OP};
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::{json, Value};

    #[test]
    fn body_needs_patch_op_schema() {
        let r = reg();
        let mut d = user();
        let ops = json!([{"op": "add", "path": "title", "value": "x"}]);
        for bad in [
            json!({"Operations": ops}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": ops}),
            json!([]),
        ] {
            let e = apply(&r.user, &mut d, &bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        }
        let ok = json!({"schemas": [PATCH_OP.to_uppercase()], "Operations": ops});
        assert!(apply(&r.user, &mut d, &ok).unwrap().changed);
        assert_eq!(d["title"], "x");
    }

    #[test]
    fn operations_key_is_case_insensitive_and_must_be_an_array() {
        let r = reg();
        let mut d = user();
        let b = json!({"schemas": [PATCH_OP], "operations": [{"op": "add", "path": "title", "value": "x"}]});
        assert!(apply(&r.user, &mut d, &b).unwrap().changed);
        let b = json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}});
        let e = apply(&r.user, &mut d, &b).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let b = json!({"schemas": [PATCH_OP]});
        assert!(apply(&r.user, &mut d, &b).is_err());
        // empty: a no-op
        let out = apply(&r.user, &mut d, &body(json!([]))).unwrap();
        assert!(!out.changed);
    }

    #[test]
    fn too_many_operations() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
            .collect();
        assert_eq!(
            err_type(patch_user(Value::Array(ops))),
            Some(ScimType::TooMany)
        );
        let ops: Vec<Value> = (0..MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
            .collect();
        assert!(patch_user(Value::Array(ops)).is_ok());
    }

    #[test]
    fn op_names_are_case_insensitive() {
        let (d, _) = patch_user(json!([
            {"op": "Add", "path": "title", "value": "t"},
            {"op": "Replace", "path": "nickName", "value": "n"},
            {"op": "REMOVE", "path": "active"}
        ]))
        .unwrap();
        assert_eq!(
            (d["title"].as_str(), d["nickName"].as_str()),
            (Some("t"), Some("n"))
        );
        assert!(d.get("active").is_none());
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "merge", "path": "title", "value": "t"}])
            )),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            err_type(patch_user(json!([{"path": "title", "value": "t"}]))),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            err_type(patch_user(json!(["add"]))),
            Some(ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn extra_keys_are_ignored() {
        let r = reg();
        let mut d = user();
        let b = json!({
            "schemas": [PATCH_OP],
            "id": "u1",
            "Operations": [{"name": "addTitle", "op": "add", "path": "title", "value": "x"}]
        });
        assert!(apply(&r.user, &mut d, &b).unwrap().changed);
        assert_eq!(d["title"], "x");
    }

    #[test]
    fn add_and_replace_need_a_value() {
        assert_eq!(
            err_type(patch_user(json!([{"op": "add", "path": "title"}]))),
            Some(ScimType::InvalidValue)
        );
        // null means unassigned: replace removes, add does nothing
        let (d, out) = patch_user(json!([{"op": "add", "path": "title", "value": null}])).unwrap();
        assert!(!out.changed && d.get("title").is_none());
        let (d, _) =
            patch_user(json!([{"op": "replace", "path": "name.givenName", "value": null}]))
                .unwrap();
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
    }

    #[test]
    fn remove_needs_a_path() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "remove", "value": {"title": "x"}}])
            )),
            Some(ScimType::NoTarget)
        );
    }
}
