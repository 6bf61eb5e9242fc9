//! The mutability rules (RFC 7643 §7, RFC 7644 §3.5.2), checked once on
//! the whole result rather than per operation, so that an operation undone
//! by a later one, or a value set to what it already was, is no violation:
//! a readOnly attribute that differs → 400 mutability; an immutable one that
//! had a value and differs → 400 mutability; a required core or extension
//! attribute removed → 400 mutability (§3.5.2.2). The same for the
//! sub-attributes of a single-valued complex attribute. `members` is
//! exempt: its changes are member operations.

use super::is_empty;
use crate::error::{Result, ScimError};
use crate::schema::{get_ci, AttrType, Attribute, Mutability, ResourceType};
use serde_json::{Map, Value};

/// The mutability rules, checked on the whole result.
pub(super) fn check_mutability(
    rt: &ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<()> {
    let common: Vec<&Attribute> = crate::schema::common_attributes().iter().collect();
    let mut groups: Vec<(Option<&str>, Vec<&Attribute>, bool)> = vec![
        (None, common, false),
        (None, rt.schema.attributes.iter().collect(), true),
    ];
    for (s, _) in &rt.extensions {
        groups.push((Some(s.id), s.attributes.iter().collect(), true));
    }
    let member_attr = rt.schema.attribute("members").is_some();
    for (container, attrs, check_required) in groups {
        fn pick<'m>(m: &'m Map<String, Value>, c: Option<&str>) -> Option<&'m Map<String, Value>> {
            match c {
                None => Some(m),
                Some(urn) => get_ci(m, urn).and_then(Value::as_object),
            }
        }
        fn attr_of<'m>(m: Option<&'m Map<String, Value>>, name: &str) -> Option<&'m Value> {
            m.and_then(|m| get_ci(m, name)).filter(|v| !is_empty(v))
        }
        let (b, a) = (pick(before, container), pick(after, container));
        for d in attrs {
            if member_attr && container.is_none() && d.name == "members" {
                continue;
            }
            let (bv, av) = (attr_of(b, d.name), attr_of(a, d.name));
            match d.mutability {
                Mutability::ReadOnly if bv != av => {
                    return Err(ScimError::mutability(format!("{} is readOnly", d.name)))
                }
                Mutability::Immutable if bv.is_some() && bv != av => {
                    return Err(ScimError::mutability(format!(
                        "{} is immutable: it can be set once",
                        d.name
                    )))
                }
                _ => {}
            }
            if check_required && d.required && bv.is_some() && av.is_none() {
                return Err(ScimError::mutability(format!(
                    "{} is required and cannot be removed",
                    d.name
                )));
            }
            if d.ty == AttrType::Complex && !d.multi_valued {
                if let Some(Value::Object(ao)) = av {
                    for sd in &d.sub_attributes {
                        let sa = get_ci(ao, sd.name);
                        let sb = bv
                            .and_then(Value::as_object)
                            .and_then(|o| get_ci(o, sd.name));
                        let changed = sa.is_some() && sa != sb;
                        match sd.mutability {
                            Mutability::ReadOnly if changed => {
                                return Err(ScimError::mutability(format!(
                                    "{}.{} is readOnly",
                                    d.name, sd.name
                                )))
                            }
                            Mutability::Immutable if changed && sb.is_some() => {
                                return Err(ScimError::mutability(format!(
                                    "{}.{} is immutable",
                                    d.name, sd.name
                                )))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::patch::{apply, MemberOp};
    use crate::schema::{Attribute, Mutability, ENTERPRISE_USER, ROLE};
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn read_only_attributes_cannot_change() {
        for ops in [
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}]),
            json!([{"op": "remove", "path": "meta"}]),
            json!([{"op": "replace", "path": format!("{ENTERPRISE_USER}:manager.displayName"), "value": "B"}]),
        ] {
            assert_eq!(
                err_type(patch_user(ops.clone())),
                Some(ScimType::Mutability),
                "{ops}"
            );
        }
        // a readOnly sub-attribute inside a value is ignored, as on PUT
        let (d, _) = patch_user(json!([
            {"op": "add", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": "m", "displayName": "B"}}
        ]))
        .unwrap();
        assert_eq!(d[ENTERPRISE_USER]["manager"], json!({"value": "m"}));
    }

    #[test]
    fn required_attributes_cannot_be_removed() {
        assert_eq!(
            err_type(patch_user(json!([{"op": "remove", "path": "userName"}]))),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "replace", "path": "userName", "value": null}])
            )),
            Some(ScimType::Mutability)
        );
    }

    #[test]
    fn immutable_attributes_can_be_set_once() {
        let mut r = reg();
        r.user
            .schema
            .attributes
            .push(Attribute::string("badge").mutability(Mutability::Immutable));
        let mut d = user();
        let set = body(json!([{"op": "add", "path": "badge", "value": "b1"}]));
        assert!(apply(&r.user, &mut d, &set).unwrap().changed);
        // same value again: not a change
        assert!(!apply(&r.user, &mut d, &set).unwrap().changed);
        let change = body(json!([{"op": "replace", "path": "badge", "value": "b2"}]));
        assert_eq!(
            apply(&r.user, &mut d, &change).unwrap_err().scim_type,
            Some(ScimType::Mutability)
        );
        let remove = body(json!([{"op": "remove", "path": "badge"}]));
        assert_eq!(
            apply(&r.user, &mut d, &remove).unwrap_err().scim_type,
            Some(ScimType::Mutability)
        );
        assert_eq!(d["badge"], "b1");
    }

    #[test]
    fn role_catalog_fields_are_read_only() {
        let r = reg();
        let role = json!({"schemas": [ROLE], "id": "r1", "displayName": "Auditor", "description": "Reads"});
        let mut d = role.clone();
        let e = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "replace", "path": "displayName", "value": "X"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "remove", "path": "description"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // same value plus members: tolerated
        let out = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "replace", "value": {"displayName": "Auditor", "members": [{"value": "u1"}]}}])),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u1")])]
        );
        assert_eq!(d, role);
    }
}
