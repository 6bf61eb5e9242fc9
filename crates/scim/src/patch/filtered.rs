//! add, replace and remove on the elements of a multi-valued attribute
//! matched by a value filter (RFC 7644 §3.5.2, `emails[type eq "work"]`,
//! optionally followed by a sub-attribute). The matched elements (or their
//! sub-attribute) are written or removed. An add/replace that matches
//! nothing builds the element from the filter's `eq` terms, so that Entra's
//! `replace emails[type eq "work"].value` also gives a user without a work
//! email one; with other operators in the filter it fails with noTarget. A
//! remove that matches nothing does nothing.

use super::target::Target;
use super::values::{check_len, complex_object, fix_primary, merge, normalize, remove_sub};
use super::{is_empty, put, Op, Patcher};
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::{get_ci, AttrType};
use serde_json::{Map, Value};

impl Patcher<'_> {
    /// Operation on the elements of a multi-valued attribute matched by a filter.
    pub(super) fn filtered(
        &self,
        op: Op,
        t: &Target,
        f: &Filter,
        cur: &mut Value,
        value: Option<&Value>,
    ) -> Result<()> {
        let d = t
            .def
            .filter(|d| d.multi_valued && d.ty == AttrType::Complex)
            .ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "{}: a value filter needs a multi-valued complex attribute",
                    t.name
                ))
            })?;
        // What add/replace writes: the sub-attribute's value, or the
        // element's sub-attributes. `None`: remove the target.
        let new: Option<Value> = match (op, value.filter(|v| !v.is_null())) {
            (Op::Remove, _) | (_, None) => None,
            (_, Some(v)) => match &t.sub {
                Some(s) => normalize(s.def, v)?,
                None => {
                    let mut el = Map::new();
                    merge(d, t.open, &mut el, &complex_object(d, v)?, false)?;
                    Some(Value::Object(el))
                }
            },
        };
        if op == Op::Add && new.is_none() {
            return Ok(());
        }
        let mut items = match std::mem::take(cur) {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let matched: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].is_object() && f.matches_element(self.rt, d, &items[i]))
            .collect();
        let Some(new) = new else {
            // remove (or replace with null): the matched elements or their sub-attribute
            match &t.sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !matched.contains(&(i - 1))
                    });
                }
                Some(s) => {
                    for &i in &matched {
                        remove_sub(&mut items[i], &s.name);
                    }
                    items.retain(|v| !is_empty(v));
                }
            }
            *cur = Value::Array(items);
            return Ok(());
        };
        let terms = eq_terms(f);
        // The filter's eq terms as sub-attributes, under their canonical names.
        let with_terms = |el: &mut Map<String, Value>, terms: &[(String, Value)]| {
            for (k, lit) in terms {
                if get_ci(el, k).is_none() {
                    put(el, d.sub(k).map_or(k.as_str(), |s| s.name), lit.clone());
                }
            }
        };
        let mut fresh = Vec::new();
        if matched.is_empty() {
            let Some(terms) = terms else {
                *cur = Value::Array(items);
                return Err(ScimError::no_target(format!(
                    "no {} value matches the filter",
                    t.name
                )));
            };
            let mut el = match (&t.sub, new) {
                (Some(s), nv) => Map::from_iter([(s.name.clone(), nv)]),
                (None, Value::Object(o)) => o,
                (None, _) => Map::new(),
            };
            with_terms(&mut el, &terms);
            if let Some(Value::Array(mut a)) = normalize(Some(d), &Value::Object(el))? {
                if let Some(el) = a.pop() {
                    fresh.push(items.len());
                    items.push(el);
                }
            }
        } else {
            for &i in &matched {
                let Value::Object(o) = &mut items[i] else {
                    continue;
                };
                match (&t.sub, &new, op) {
                    (Some(s), nv, _) => put(o, &s.name, nv.clone()),
                    (None, Value::Object(n), Op::Add) => {
                        for (k, v) in n {
                            put(o, k, v.clone());
                        }
                    }
                    (None, Value::Object(n), _) => {
                        let mut el = n.clone();
                        with_terms(&mut el, terms.as_deref().unwrap_or_default());
                        *o = el;
                    }
                    (None, _, _) => {}
                }
                fresh.push(i);
            }
        }
        fix_primary(d, &mut items, &fresh);
        items.retain(|v| !is_empty(v));
        check_len(d, &items)?;
        *cur = Value::Array(items);
        Ok(())
    }
}

/// The `eq` terms of a filter made only of `sub eq literal` joined by `and`
/// (from which a missing element can be built); `None` otherwise.
fn eq_terms(f: &Filter) -> Option<Vec<(String, Value)>> {
    let mut out = Vec::new();
    collect_eq(f, &mut out).then_some(out)
}

/// Push `f`'s `eq` terms onto `out`; false if it has any other kind of term.
fn collect_eq(f: &Filter, out: &mut Vec<(String, Value)>) -> bool {
    match f {
        Filter::And(fs) => fs.iter().all(|f| collect_eq(f, out)),
        Filter::Compare(p, CompareOp::Eq, lit) if p.urn.is_none() && p.sub.is_none() => {
            let v = match lit {
                CompValue::Null => return false,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            out.push((p.attr.clone(), v));
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::apply;
    use crate::schema::USER;
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn value_path_replaces_matched_sub_attribute() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work"}
        ]))
        .unwrap();
        assert_eq!(
            d["emails"][0],
            json!({"value": "new@work", "type": "work", "primary": true})
        );
        assert_eq!(d["emails"][1]["value"], "b@home");
    }

    #[test]
    fn value_path_replaces_matched_elements() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@home"}}
        ]))
        .unwrap();
        // the filter's eq terms stay on the replaced element
        assert_eq!(d["emails"][1], json!({"value": "h@home", "type": "home"}));
        // add merges into matched elements
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}
        ]))
        .unwrap();
        assert_eq!(
            d["emails"][1],
            json!({"value": "b@home", "type": "home", "display": "Home"})
        );
    }

    #[test]
    fn value_path_without_match_builds_the_element_from_eq_terms() {
        let r = reg();
        for op in ["add", "replace", "Replace"] {
            let mut d = json!({"schemas": [USER], "id": "u", "userName": "x"});
            apply(
                &r.user,
                &mut d,
                &body(
                    json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
                ),
            )
            .unwrap();
            assert_eq!(
                d["emails"],
                json!([{"type": "work", "value": "w@x"}]),
                "{op}"
            );
        }
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value", "value": "+1"}
        ]))
        .unwrap();
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "primary": true, "value": "+1"}])
        );
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "addresses[type eq \"work\"]", "value": {"locality": "Paris"}}
        ]))
        .unwrap();
        assert_eq!(
            d["addresses"],
            json!([{"type": "work", "locality": "Paris"}])
        );
    }

    #[test]
    fn value_path_without_match_and_no_eq_terms_is_no_target() {
        assert_eq!(
            err_type(patch_user(json!([
                {"op": "replace", "path": "emails[value co \"nobody\"].display", "value": "x"}
            ]))),
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            err_type(patch_user(json!([
                {"op": "replace", "path": "emails[type eq \"other\" or type eq \"x\"]", "value": {"value": "v"}}
            ]))),
            Some(ScimType::NoTarget)
        );
    }

    #[test]
    fn null_elements_are_dropped_when_a_filter_writes() {
        // found by the property test: indices must survive the clean-up
        let r = reg();
        let mut d = json!({"schemas": [USER], "emails": [null, {"value": "a", "type": "home", "primary": true}]});
        apply(
            &r.user,
            &mut d,
            &body(json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"value": "w", "primary": true}}])),
        )
        .unwrap();
        assert_eq!(
            d["emails"],
            json!([{"value": "a", "type": "home", "primary": false}, {"type": "work", "value": "w", "primary": true}])
        );
    }

    #[test]
    fn value_filter_on_a_single_valued_attribute_is_invalid_path() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}])
            )),
            Some(ScimType::InvalidPath)
        );
    }
}
