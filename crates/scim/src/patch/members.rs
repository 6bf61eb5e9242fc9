//! Operations on `members` (RFC 7644 §3.5.2, RFC 7643 §4.2) of a Group or
//! Role: they never touch the document but become [`MemberOp`]s, in request
//! order, for the storage layer. add lists members; replace removes all (or
//! the filtered ones) then adds; remove takes a filter (`value eq "id"` or
//! an `or` of them becomes a list of ids), a `value` listing members (Entra),
//! or nothing (all). Member sub-attributes are immutable. Also how a
//! member object is read, here and on POST/PUT.

use super::target::Target;
use super::{Member, MemberOp, Op, Patcher};
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::get_ci;
use serde_json::Value;

/// Parse one member object (`value` required; `display` or `displayName`;
/// `type`). A bare string is taken as the member id.
pub fn parse_member(v: &Value) -> Result<Member> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(Member {
            value: s.clone(),
            display: None,
            kind: None,
        }),
        Value::Object(o) => {
            let value = match get_ci(o, "value") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => {
                    return Err(ScimError::invalid_value(
                        "a member needs a non-empty string value",
                    ))
                }
            };
            let text = |k: &str| get_ci(o, k).and_then(Value::as_str).map(str::to_string);
            Ok(Member {
                value,
                display: text("display").or_else(|| text("displayName")),
                kind: text("type"),
            })
        }
        _ => Err(ScimError::invalid_value(
            "a member must be an object with a value",
        )),
    }
}

impl Patcher<'_> {
    /// Operations on `members`: member ops, never document changes.
    pub(super) fn members(
        &mut self,
        op: Op,
        t: &Target,
        filter: Option<Filter>,
        value: Option<&Value>,
    ) -> Result<()> {
        if t.sub.is_some() {
            return Err(ScimError::mutability(
                "members' sub-attributes are immutable: add or remove members instead",
            ));
        }
        let value = value.filter(|v| !v.is_null());
        match (op, filter) {
            (Op::Add, Some(_)) => {
                return Err(ScimError::invalid_path(
                    "add takes no value filter on members",
                ))
            }
            (Op::Add, None) => self.add_members(value)?,
            (Op::Replace, f) => {
                let op = match f {
                    None => MemberOp::RemoveAll,
                    Some(f) => member_filter_op(f),
                };
                self.member_ops.push(op);
                self.add_members(value)?;
            }
            (Op::Remove, Some(f)) => self.member_ops.push(member_filter_op(f)),
            (Op::Remove, None) => match value {
                None => self.member_ops.push(MemberOp::RemoveAll),
                Some(v) => {
                    let mut ids: Vec<String> = Vec::new();
                    let mut seen = std::collections::HashSet::new();
                    for m in one_or_many(v) {
                        let id = parse_member(m)?.value;
                        if seen.insert(id.clone()) {
                            ids.push(id);
                        }
                    }
                    if !ids.is_empty() {
                        self.member_ops.push(MemberOp::Remove(ids));
                    }
                }
            },
        }
        Ok(())
    }

    /// Add the members `value` lists (one object or an array), each id once.
    fn add_members(&mut self, value: Option<&Value>) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        let mut list: Vec<Member> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in one_or_many(v) {
            let m = parse_member(m)?;
            if seen.insert(m.value.clone()) {
                list.push(m);
            }
        }
        if !list.is_empty() {
            self.member_ops.push(MemberOp::Add(list));
        }
        Ok(())
    }
}

/// A lone value or the elements of an array.
fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// `value eq "id"` (or an `or` of them) → Remove(ids); other filters → RemoveWhere.
fn member_filter_op(f: Filter) -> MemberOp {
    fn ids(f: &Filter, out: &mut Vec<String>) -> bool {
        match f {
            Filter::Or(fs) => fs.iter().all(|f| ids(f, out)),
            Filter::Compare(p, CompareOp::Eq, CompValue::String(id))
                if p.urn.is_none() && p.sub.is_none() && p.attr.eq_ignore_ascii_case("value") =>
            {
                if !out.contains(id) {
                    out.push(id.clone());
                }
                true
            }
            _ => false,
        }
    }
    let mut out = Vec::new();
    if ids(&f, &mut out) {
        MemberOp::Remove(out)
    } else {
        MemberOp::RemoveWhere(f)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_member;
    use crate::patch::{apply, Member, MemberOp};
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn member_add_is_a_member_op() {
        let (d, ops) = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1", "display": "A"}, {"value": "u2", "displayName": "B", "type": "User"}, {"value": "u1"}]}
        ]))
        .unwrap();
        assert_eq!(d, group());
        let MemberOp::Add(list) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            Member {
                value: "u1".into(),
                display: Some("A".into()),
                kind: None
            }
        );
        assert_eq!(
            list[1],
            Member {
                value: "u2".into(),
                display: Some("B".into()),
                kind: Some("User".into())
            }
        );
        // no-path add (Okta) and changed flag
        let r = reg();
        let mut g = group();
        let out = apply(
            &r.group,
            &mut g,
            &body(json!([{"op": "add", "value": {"members": [{"value": "u3"}]}}])),
        )
        .unwrap();
        assert!(out.changed);
        assert_eq!(out.member_ops, vec![MemberOp::Add(vec![member("u3")])]);
        assert_eq!(g, group());
    }

    #[test]
    fn member_remove_with_value_removes_only_those() {
        let (_, ops) = patch_group(json!([
            {"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}
        ]))
        .unwrap();
        assert_eq!(ops, vec![MemberOp::Remove(ids(&["u1", "u2"]))]);
    }

    #[test]
    fn member_remove_without_value_removes_all() {
        let (_, ops) = patch_group(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert_eq!(ops, vec![MemberOp::RemoveAll]);
    }

    #[test]
    fn member_remove_by_filter() {
        let (_, ops) = patch_group(json!([
            {"op": "remove", "path": "members[value eq \"2819c223\"]"},
            {"op": "remove", "path": "members[display eq \"Babs\"]"}
        ]))
        .unwrap();
        assert_eq!(ops[0], MemberOp::Remove(ids(&["2819c223"])));
        let MemberOp::RemoveWhere(f) = &ops[1] else {
            panic!("{ops:?}")
        };
        let r = reg();
        let members = r.group.attribute(None, "members").unwrap().1;
        assert!(f.matches_element(&r.group, members, &json!({"value": "x", "display": "Babs"})));
    }

    #[test]
    fn member_replace_is_remove_all_then_add() {
        let (_, ops) = patch_group(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u9"}]}
        ]))
        .unwrap();
        assert_eq!(
            ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u9")])]
        );
        let (d, ops) = patch_group(json!([
            {"op": "replace", "value": {"displayName": "Ops", "members": [{"value": "u8"}]}}
        ]))
        .unwrap();
        assert_eq!(d["displayName"], "Ops");
        assert_eq!(
            ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u8")])]
        );
        // replace with an empty list empties the group
        let (_, ops) =
            patch_group(json!([{"op": "replace", "path": "members", "value": []}])).unwrap();
        assert_eq!(ops, vec![MemberOp::RemoveAll]);
    }

    #[test]
    fn member_sub_attributes_are_immutable() {
        let r = patch_group(json!([
            {"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}
        ]));
        assert_eq!(r.unwrap_err().scim_type, Some(ScimType::Mutability));
        let r = patch_group(
            json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"value": "u1"}}]),
        );
        assert_eq!(r.unwrap_err().scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn member_ops_keep_request_order() {
        let (_, ops) = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members[value eq \"b\"]"},
            {"op": "add", "path": "members", "value": [{"value": "c"}]}
        ]))
        .unwrap();
        assert_eq!(
            ops,
            vec![
                MemberOp::Add(vec![member("a")]),
                MemberOp::Remove(ids(&["b"])),
                MemberOp::Add(vec![member("c")])
            ]
        );
    }

    #[test]
    fn parse_member_rules() {
        assert_eq!(
            parse_member(&json!({"VALUE": "x", "displayName": "D", "Type": "User", "$ref": "r"}))
                .unwrap(),
            Member {
                value: "x".into(),
                display: Some("D".into()),
                kind: Some("User".into())
            }
        );
        assert_eq!(
            parse_member(&json!({"value": "x", "display": "A", "displayName": "B"}))
                .unwrap()
                .display
                .as_deref(),
            Some("A")
        );
        assert_eq!(parse_member(&json!("id")).unwrap(), member("id"));
        for bad in [
            json!({}),
            json!({"value": 1}),
            json!({"value": ""}),
            json!(3),
            json!(null),
            json!([]),
        ] {
            assert_eq!(
                parse_member(&bad).unwrap_err().scim_type,
                Some(ScimType::InvalidValue),
                "{bad}"
            );
        }
    }
}
