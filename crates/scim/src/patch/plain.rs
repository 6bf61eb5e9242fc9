//! add, replace and remove on an attribute or sub-attribute addressed
//! without a value filter (RFC 7644 §3.5.2.1–3): add appends to a
//! multi-valued attribute (skipping values already there) and merges into a
//! complex one; replace swaps a multi-valued attribute's whole array and
//! merges a complex one's given sub-attributes (§3.5.2.3); remove drops the
//! attribute, or only the elements equal to (containing) a given `value`;
//! `null` means unassigned (RFC 7643 §2.5).

use super::target::Target;
use super::values::{check_len, complex_object, fix_primary, merge, normalize, remove_sub};
use super::{is_empty, put, Op, Patcher};
use crate::document::MAX_MULTI_VALUES;
use crate::error::Result;
use crate::schema::{get_ci, AttrType};
use serde_json::{Map, Value};

impl Patcher<'_> {
    /// Operation on an attribute or sub-attribute without value filter.
    pub(super) fn plain(
        &self,
        op: Op,
        t: &Target,
        cur: &mut Value,
        value: Option<&Value>,
    ) -> Result<()> {
        let value = value.filter(|v| !v.is_null());
        match (&t.sub, op) {
            (Some(s), Op::Remove) => remove_sub(cur, &s.name),
            (Some(s), _) => {
                let Some(v) = value else {
                    if op == Op::Replace {
                        remove_sub(cur, &s.name);
                    }
                    return Ok(());
                };
                let Some(nv) = normalize(s.def, v)? else {
                    return Ok(());
                };
                match cur {
                    Value::Array(items) if !items.is_empty() => {
                        for item in items.iter_mut() {
                            if let Value::Object(o) = item {
                                put(o, &s.name, nv.clone());
                            }
                        }
                    }
                    Value::Object(o) => put(o, &s.name, nv),
                    _ => {
                        let el = Value::Object(Map::from_iter([(s.name.clone(), nv)]));
                        *cur = if t.def.is_some_and(|d| d.multi_valued) {
                            Value::Array(vec![el])
                        } else {
                            el
                        };
                    }
                }
            }
            (None, Op::Remove) => match (t.def, value) {
                (Some(d), Some(v)) if d.multi_valued && cur.is_array() => {
                    let gone = normalize(Some(d), v)?.unwrap_or(Value::Null);
                    let gone: Vec<Value> = match gone {
                        Value::Array(a) => a,
                        _ => Vec::new(),
                    };
                    if let Value::Array(items) = cur {
                        items.retain(|item| !gone.iter().any(|g| contains(item, g)));
                    }
                }
                _ => *cur = Value::Null,
            },
            (None, _) => {
                let Some(v) = value.filter(|v| !is_empty(v) || v.is_object()) else {
                    if op == Op::Replace {
                        *cur = Value::Null;
                    }
                    return Ok(());
                };
                match t.def {
                    Some(d) if d.multi_valued => {
                        let new = match normalize(Some(d), v)? {
                            Some(Value::Array(a)) => a,
                            _ => Vec::new(),
                        };
                        if op == Op::Replace || !cur.is_array() {
                            *cur = Value::Array(Vec::new());
                        }
                        let Value::Array(items) = cur else {
                            unreachable!("set above")
                        };
                        let mut fresh = Vec::new();
                        // Bound the work before the quadratic duplicate check.
                        if new.len() > MAX_MULTI_VALUES {
                            check_len(d, &new)?;
                        }
                        for n in new {
                            if !items.contains(&n) {
                                fresh.push(items.len());
                                items.push(n);
                            }
                        }
                        if op == Op::Add {
                            fix_primary(d, items, &fresh);
                        }
                        check_len(d, items)?;
                    }
                    Some(d) if d.ty == AttrType::Complex => {
                        let obj = complex_object(d, v)?;
                        if !cur.is_object() {
                            *cur = Value::Object(Map::new());
                        }
                        let Value::Object(o) = cur else {
                            unreachable!("set above")
                        };
                        merge(d, t.open, o, &obj, op == Op::Replace)?;
                    }
                    Some(d) => {
                        *cur = normalize(Some(d), v)?.unwrap_or(Value::Null);
                    }
                    None => {
                        // Undeclared attribute of an open schema: as sent.
                        match (op, &mut *cur, v) {
                            (Op::Add, Value::Array(items), Value::Array(new)) => {
                                for n in new {
                                    if !items.contains(n) {
                                        items.push(n.clone());
                                    }
                                }
                            }
                            (Op::Add, Value::Object(o), Value::Object(new)) => {
                                for (k, v) in new {
                                    put(o, k, v.clone());
                                }
                            }
                            _ => *cur = v.clone(),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `item` equals `given`, or `given` is an object whose every sub-attribute
/// `item` carries with the same value.
fn contains(item: &Value, given: &Value) -> bool {
    match (item, given) {
        (Value::Object(i), Value::Object(g)) => {
            !g.is_empty() && g.iter().all(|(k, v)| get_ci(i, k) == Some(v))
        }
        _ => item == given,
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::apply;
    use crate::schema::USER;
    use crate::testutil::patching::*;
    use serde_json::json;

    #[test]
    fn path_to_a_sub_attribute() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "add", "path": "name.middleName", "value": "J"}
        ]))
        .unwrap();
        assert_eq!(
            d["name"],
            json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"})
        );
        // creates the complex attribute when missing
        let r = reg();
        let mut d = json!({"schemas": [USER], "id": "u", "userName": "x"});
        apply(
            &r.user,
            &mut d,
            &body(json!([{"op": "add", "path": "name.familyName", "value": "F"}])),
        )
        .unwrap();
        assert_eq!(d["name"], json!({"familyName": "F"}));
    }

    #[test]
    fn primary_moves_to_the_new_element() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "c@x", "type": "other", "primary": true}]}
        ]))
        .unwrap();
        assert_eq!(d["emails"][0]["primary"], false);
        assert_eq!(d["emails"][2]["primary"], true);
    }

    #[test]
    fn add_to_multi_valued_appends_without_duplicates() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails", "value": [
                {"value": "b@work", "type": "work", "primary": true},
                {"value": "c@x", "type": "other"},
                {"value": "c@x", "type": "other"}
            ]}
        ]))
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
        // a lone object where an array belongs
        let (d, _) =
            patch_user(json!([{"op": "add", "path": "emails", "value": {"value": "d@x"}}]))
                .unwrap();
        assert_eq!(d["emails"][2], json!({"value": "d@x"}));
    }

    #[test]
    fn add_to_single_valued_sets_and_complex_merges() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "userName", "value": "new"},
            {"op": "add", "path": "name", "value": {"givenName": "B", "nope": 1}}
        ]))
        .unwrap();
        assert_eq!(d["userName"], "new");
        assert_eq!(d["name"], json!({"givenName": "B", "familyName": "Jensen"}));
    }

    #[test]
    fn remove_attribute_sub_attribute_and_elements() {
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "active"}
        ]))
        .unwrap();
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            d["emails"],
            json!([{"value": "b@work", "type": "work", "primary": true}])
        );
        assert!(d.get("active").is_none());
        // removing the last sub-attribute / element removes the attribute
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "name.familyName"},
            {"op": "remove", "path": "emails[type eq \"home\" or type eq \"work\"]"}
        ]))
        .unwrap();
        assert!(d.get("name").is_none() && d.get("emails").is_none());
        // a filter matching nothing: no-op
        let (_, out) =
            patch_user(json!([{"op": "remove", "path": "emails[type eq \"other\"]"}])).unwrap();
        assert!(!out.changed);
        // sub-attribute of matched elements
        let (d, _) =
            patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]))
                .unwrap();
        assert_eq!(d["emails"][0], json!({"value": "b@work", "type": "work"}));
    }

    #[test]
    fn remove_with_value_removes_only_those_elements() {
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "emails", "value": [{"value": "b@home"}]}
        ]))
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
        assert_eq!(d["emails"][0]["value"], "b@work");
    }
}
