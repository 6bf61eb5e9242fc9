//! A membership probe: the member ids a filter on groups asks about, when
//! `members.value eq "<id>"` (or `members eq "<id>"`, `members[value eq
//! "<id>"]`) is all it says of members. Such a filter is decided by looking those ids up in
//! their leaves (a few small reads) instead of reading every member, so
//! `filter=id eq "<group>" and members.value eq "<user>"` with
//! `excludedAttributes=members`, as Entra ID checks a membership, costs the
//! same on a group of a million members as on one of ten.

use crate::filter::{CompValue, CompareOp, Filter};

/// The ids `filter` compares `members.value` with, when every reference to
/// `members` in it is such an equality (RFC 7644 §3.4.2.2); `None` when it
/// refers to members otherwise (`members pr`, `members.display`, `co`, …)
/// or not at all.
pub fn member_ids(filter: &Filter) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    walk(filter, &mut ids).then_some(())?;
    (!ids.is_empty()).then_some(ids)
}

fn is_members(attr: &str) -> bool {
    attr.eq_ignore_ascii_case("members")
}

/// `value eq "<id>"`: the id.
fn value_eq<'f>(sub: Option<&str>, op: &CompareOp, v: &'f CompValue) -> Option<&'f str> {
    match (sub, op, v) {
        // `members eq "<id>"` compares the `value` sub-attribute too.
        (None, CompareOp::Eq, CompValue::String(id)) => Some(id),
        (Some(s), CompareOp::Eq, CompValue::String(id)) if s.eq_ignore_ascii_case("value") => {
            Some(id)
        }
        _ => None,
    }
}

/// Collect the probed ids; false when a reference to members is not a probe.
fn walk(f: &Filter, ids: &mut Vec<String>) -> bool {
    match f {
        Filter::Present(p) => !is_members(&p.attr),
        Filter::Compare(p, op, v) => {
            if !is_members(&p.attr) {
                return true;
            }
            match value_eq(p.sub.as_deref(), op, v) {
                Some(id) => {
                    ids.push(id.to_string());
                    true
                }
                None => false,
            }
        }
        Filter::Not(inner) => walk(inner, ids),
        Filter::And(fs) | Filter::Or(fs) => fs.iter().all(|f| walk(f, ids)),
        Filter::ValuePath(p, inner) => {
            if !is_members(&p.attr) {
                return true;
            }
            match inner.as_ref() {
                Filter::Compare(q, op, v) if q.sub.is_none() => {
                    match value_eq(Some(&q.attr), op, v) {
                        Some(id) => {
                            ids.push(id.to_string());
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            }
        }
        Filter::ValuePathSub { attr, .. } => !is_members(&attr.attr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(text: &str) -> Option<Vec<String>> {
        member_ids(&crate::filter::parse(text).unwrap())
    }

    #[test]
    fn only_equalities_on_member_ids_are_probes() {
        let some = |ids: &[&str]| Some(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            probe("id eq \"g\" and members.value eq \"u1\""),
            some(&["u1"])
        );
        assert_eq!(probe("members[value eq \"u2\"]"), some(&["u2"]));
        assert_eq!(probe("members eq \"u3\""), some(&["u3"]));
        assert_eq!(
            probe("members.value eq \"a\" or not (members.value eq \"b\")"),
            some(&["a", "b"])
        );
        for not_a_probe in [
            "displayName eq \"x\"",
            "members pr",
            "members.value co \"u\"",
            "members.display eq \"Ann\"",
            "members.value eq \"a\" and members pr",
            "members[display eq \"x\"]",
        ] {
            assert_eq!(probe(not_a_probe), None, "{not_a_probe}");
        }
    }
}
