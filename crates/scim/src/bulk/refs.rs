//! `bulkId` references (RFC 7644 §3.7.2): `bulkId:<id>` names the resource
//! another operation of the same request creates, wherever a resource id is
//! expected. Recognised in
//!
//! - the operation's `path` (`/Groups/bulkId:ytrewq`);
//! - every string under a `value` or `$ref` key of its `data`, at any depth
//!   (members' `value`, `manager.value`, a PATCH operation's `value`), as
//!   the whole string or as its last path segment (`$ref`:
//!   `https://…/Users/bulkId:qwerty`);
//! - a quoted value in a PATCH operation's `path` filter
//!   (`members[value eq "bulkId:qwerty"]`).
//!
//! The `bulkId:` prefix is reserved for this (§3.7.2), so such a string is
//! always a reference: one naming no operation of the request is an error.

use super::request::Operation;
use crate::error::Result;
use serde_json::Value;

/// The prefix of a reference (§3.7.2).
const PREFIX: &str = "bulkId:";

/// Where the references of one string are: byte ranges of each whole
/// `bulkId:<id>` and of its `<id>`.
fn spans(s: &str) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find(PREFIX).map(|i| i + from) {
        let id_start = at + PREFIX.len();
        let before = s[..at].chars().next_back();
        let end = match before {
            // A whole string, or a `$ref` / path's last segment.
            None | Some('/') => s.len(),
            // A quoted value in a filter: up to the closing quote.
            Some('"') => s[id_start..].find('"').map_or(s.len(), |i| id_start + i),
            _ => {
                from = id_start;
                continue;
            }
        };
        if end > id_start {
            out.push((at..end, id_start..end));
        }
        from = end.max(id_start);
    }
    out
}

/// Every `bulkId` `op` refers to, in order of appearance (repeats kept).
pub(crate) fn references(op: &Operation) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |s: &str| {
        out.extend(spans(s).into_iter().map(|(_, id)| s[id].to_string()));
    };
    note(&op.path);
    if let Some(data) = &op.data {
        walk(data, None, &mut |s| note(s));
    }
    out
}

/// Visit every string that may hold a reference: under a `value` or `$ref`
/// key, and a `path` inside data (a PATCH operation's filter).
fn walk(v: &Value, key: Option<&str>, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) if key.is_some_and(holds_refs) => f(s),
        Value::Array(a) => a.iter().for_each(|x| walk(x, key, f)),
        Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, Some(k), f)),
        _ => {}
    }
}

/// The keys whose strings may be references.
fn holds_refs(key: &str) -> bool {
    ["value", "$ref", "path"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// `s` with every reference replaced by `id_of` its bulkId.
fn substitute(s: &str, id_of: &dyn Fn(&str) -> Result<String>) -> Result<String> {
    let found = spans(s);
    if found.is_empty() {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (whole, id) in found {
        out.push_str(&s[last..whole.start]);
        out.push_str(&id_of(&s[id])?);
        last = whole.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// Replace references in place, as [`walk`] finds them.
fn substitute_in(
    v: &mut Value,
    key: Option<&str>,
    id_of: &dyn Fn(&str) -> Result<String>,
) -> Result<()> {
    match v {
        Value::String(s) if key.is_some_and(holds_refs) => *s = substitute(s, id_of)?,
        Value::Array(a) => {
            for x in a {
                substitute_in(x, key, id_of)?;
            }
        }
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                substitute_in(x, Some(k), id_of)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `op`'s path and data with every reference resolved by `id_of` (the
/// resource id an earlier operation produced, or the error that says why
/// there is none).
pub(crate) fn resolve(
    op: &Operation,
    id_of: &dyn Fn(&str) -> Result<String>,
) -> Result<(String, Option<Value>)> {
    let path = substitute(&op.path, id_of)?;
    let data = match &op.data {
        Some(d) => {
            let mut d = d.clone();
            substitute_in(&mut d, None, id_of)?;
            Some(d)
        }
        None => None,
    };
    Ok((path, data))
}

#[cfg(test)]
mod tests {
    use super::super::request::Method;
    use super::*;
    use crate::error::ScimError;
    use serde_json::json;

    fn op(path: &str, data: Value) -> Operation {
        Operation {
            method: Method::Patch,
            bulk_id: None,
            version: None,
            path: path.into(),
            data: Some(data),
        }
    }

    #[test]
    fn references_are_found_where_ids_are_expected() {
        let o = op(
            "/Groups/bulkId:g",
            json!({
                "displayName": "bulkId:not-a-reference",
                "members": [
                    {"value": "bulkId:a", "$ref": "https://h/Users/bulkId:b"},
                    {"value": "2819c223-7f76-453a-919d-413861904646"}
                ],
                "Operations": [
                    {"op": "remove", "path": "members[value eq \"bulkId:c\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "bulkId:d"}]}
                ],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "manager": {"value": "bulkId:e"}
                }
            }),
        );
        assert_eq!(references(&o), ["g", "a", "b", "c", "d", "e"]);
    }

    #[test]
    fn resolution_substitutes_ids_and_reports_the_first_failure() {
        let o = op(
            "/Groups/bulkId:g",
            json!({
                "members": [{"value": "bulkId:a", "$ref": "https://h/Users/bulkId:a"}],
                "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:a\"]"}]
            }),
        );
        let ids = |b: &str| match b {
            "a" => Ok("id-a".to_string()),
            "g" => Ok("id-g".to_string()),
            other => Err(ScimError::new(409, None, format!("no {other}"))),
        };
        let (path, data) = resolve(&o, &ids).unwrap();
        assert_eq!(path, "/Groups/id-g");
        let data = data.unwrap();
        assert_eq!(data["members"][0]["value"], "id-a");
        assert_eq!(data["members"][0]["$ref"], "https://h/Users/id-a");
        assert_eq!(data["Operations"][0]["path"], "members[value eq \"id-a\"]");
        let o = op("/Users/bulkId:zz", json!({}));
        assert_eq!(resolve(&o, &ids).unwrap_err().status, 409);
    }

    #[test]
    fn an_empty_bulk_id_is_no_reference() {
        assert!(spans("bulkId:").is_empty());
        assert!(spans("xbulkId:a").is_empty());
        assert_eq!(spans("bulkId:bulkId:a").len(), 1);
    }
}
