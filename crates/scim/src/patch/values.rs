//! The values a PATCH writes (RFC 7644 §3.5.2, RFC 7643 §2): normalised and
//! validated as on POST/PUT, with the dialects' shapes tolerated — `["x"]`
//! where one value belongs, a bare scalar for a complex attribute with a
//! `value` (Entra's manager id), `"False"` for a boolean — complex values
//! merged sub-attribute by sub-attribute, at most one `primary` element, and
//! multi-valued attributes bounded.

use super::{is_empty, put, take};
use crate::document::{normalize_value, MAX_MULTI_VALUES};
use crate::error::{Result, ScimError};
use crate::schema::{get_ci, AttrType, Attribute, Mutability};
use serde_json::{Map, Value};

/// Normalise a value of `def` (as on POST/PUT); an undeclared attribute's
/// value is kept as sent.
pub(super) fn normalize(def: Option<&Attribute>, v: &Value) -> Result<Option<Value>> {
    match (def, v) {
        // `["x"]` where one value belongs: tolerated.
        (Some(d), Value::Array(a)) if !d.multi_valued && a.len() == 1 => {
            return normalize(def, &a[0])
        }
        _ => {}
    }
    match def {
        None => Ok((!v.is_null()).then(|| v.clone())),
        Some(d) if d.ty == AttrType::Complex && !d.multi_valued => {
            let obj = complex_object(d, v)?;
            let mut out = Map::new();
            merge(d, false, &mut out, &obj, false)?;
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Some(d) => normalize_value(d, v),
    }
}

/// The object a complex value stands for: a scalar means `{"value": …}`.
pub(super) fn complex_object(d: &Attribute, v: &Value) -> Result<Map<String, Value>> {
    match v {
        Value::Object(o) => Ok(o.clone()),
        Value::Array(a) if a.len() == 1 => complex_object(d, &a[0]),
        Value::Array(_) => Err(ScimError::invalid_value(format!(
            "{}: a single value is expected here",
            d.name
        ))),
        scalar if d.sub("value").is_some() => {
            Ok(Map::from_iter([("value".to_string(), scalar.clone())]))
        }
        _ => Err(ScimError::invalid_value(format!(
            "{} must be an object",
            d.name
        ))),
    }
}

/// Merge sub-attributes of a complex value into `into`. readOnly
/// sub-attributes of a writable attribute are ignored (as on POST/PUT);
/// with `nulls_remove`, a `null` sub-attribute removes it.
pub(super) fn merge(
    d: &Attribute,
    open: bool,
    into: &mut Map<String, Value>,
    from: &Map<String, Value>,
    nulls_remove: bool,
) -> Result<()> {
    for (k, v) in from {
        let Some(sd) = d.sub(k) else {
            if open && !v.is_null() {
                put(into, k, v.clone());
            }
            continue;
        };
        if sd.mutability == Mutability::ReadOnly && d.mutability != Mutability::ReadOnly {
            continue;
        }
        match normalize_value(sd, v)? {
            Some(nv) => put(into, sd.name, nv),
            None if nulls_remove => {
                take(into, sd.name);
            }
            None => {}
        }
    }
    Ok(())
}
/// Remove sub-attribute `name` from a complex value, or from every element
/// of a multi-valued one (dropping elements left empty).
pub(super) fn remove_sub(cur: &mut Value, name: &str) {
    match cur {
        Value::Object(o) => {
            take(o, name);
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(o) = item {
                    take(o, name);
                }
            }
            items.retain(|v| !is_empty(v));
        }
        _ => {}
    }
}

/// When a fresh element is `primary`, no other is (RFC 7644 §3.5.2).
pub(super) fn fix_primary(d: &Attribute, items: &mut [Value], fresh: &[usize]) {
    if d.sub("primary").is_none() {
        return;
    }
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    };
    if !fresh.iter().any(|&i| is_primary(&items[i])) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !fresh.contains(&i) && is_primary(item) {
            if let Value::Object(o) = item {
                put(o, "primary", Value::Bool(false));
            }
        }
    }
}
/// At most [`MAX_MULTI_VALUES`] values in a multi-valued attribute, else
/// 400 invalidValue.
pub(super) fn check_len(d: &Attribute, items: &[Value]) -> Result<()> {
    if items.len() > MAX_MULTI_VALUES {
        return Err(ScimError::invalid_value(format!(
            "{}: more than maxMultiValues ({MAX_MULTI_VALUES}) values",
            d.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::schema::ENTERPRISE_USER;
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn entra_manager_as_a_bare_id() {
        let (d, _) = patch_user(json!([
            {"op": "Add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "boss-id"}
        ]))
        .unwrap();
        assert_eq!(d[ENTERPRISE_USER]["manager"], json!({"value": "boss-id"}));
    }

    #[test]
    fn values_are_validated() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "active", "value": "maybe"}])
            )),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "name", "value": "B"}])
            )),
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn string_booleans_become_booleans() {
        let (d, _) =
            patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}])).unwrap();
        assert_eq!(d["active"], false);
        let (d, _) = patch_user(json!([{"op": "replace", "value": {"active": "false"}}])).unwrap();
        assert_eq!(d["active"], false);
        let (d, out) = patch_user(json!([{"op": "replace", "value": {"active": "True"}}])).unwrap();
        assert_eq!(d["active"], true);
        assert!(!out.changed);
        let (d, _) = patch_user(
            json!([{"op": "add", "path": "emails[type eq \"work\"].primary", "value": "false"}]),
        )
        .unwrap();
        assert_eq!(d["emails"][0]["primary"], false);
    }
}
