//! Index lookups: the equality term of a filter (RFC 7644 §3.4.2.2) that lets
//! a list request read one stored index instead of scanning every resource.

use super::path::AttrPath;
use super::{CompValue, CompareOp, Filter, IndexLookup, Test};
use crate::schema::{ResourceType, GROUP, ROLE, USER};

impl Filter {
    /// The first equality term (string literal) usable for an index lookup:
    /// the filter itself, or a conjunct of its top-level `and` chain (through
    /// parentheses). `id`/`externalId` on every type, `userName` and emails on
    /// Users, `displayName` on Groups and Roles.
    pub fn index_lookup(&self, rt: &ResourceType) -> Option<IndexLookup> {
        let is_user = rt.schema.id == USER;
        match self {
            Filter::And(fs) => fs.iter().find_map(|f| f.index_lookup(rt)),
            Filter::Compare(p, CompareOp::Eq, CompValue::String(s)) => {
                let (schema, a, sub) = p.resolve(rt)?;
                let core = schema.is_some_and(|sc| std::ptr::eq(sc, &rt.schema));
                let s = s.clone();
                match (schema.is_none(), core, a.name, sub.map(|x| x.name)) {
                    (true, _, "id", None) => Some(IndexLookup::Id(s)),
                    (true, _, "externalId", None) => Some(IndexLookup::ExternalId(s)),
                    (_, true, "userName", None) if is_user => Some(IndexLookup::UserName(s)),
                    (_, true, "emails", None | Some("value")) if is_user => {
                        Some(IndexLookup::Email(s))
                    }
                    (_, true, "displayName", None)
                        if rt.schema.id == GROUP || rt.schema.id == ROLE =>
                    {
                        Some(IndexLookup::DisplayName(s))
                    }
                    _ => None,
                }
            }
            Filter::ValuePath(p, inner) if is_user && is_core_emails(rt, p) => {
                inner.element_value_eq().map(IndexLookup::Email)
            }
            Filter::ValuePathSub {
                attr,
                sub,
                test: Test::Compare(CompareOp::Eq, CompValue::String(s)),
                ..
            } if is_user && sub.eq_ignore_ascii_case("value") && is_core_emails(rt, attr) => {
                Some(IndexLookup::Email(s.clone()))
            }
            _ => None,
        }
    }

    /// `value eq "x"` in a value filter, or in a conjunct of it.
    fn element_value_eq(&self) -> Option<String> {
        match self {
            Filter::And(fs) => fs.iter().find_map(Filter::element_value_eq),
            Filter::Compare(p, CompareOp::Eq, CompValue::String(s))
                if p.urn.is_none() && p.sub.is_none() && p.attr.eq_ignore_ascii_case("value") =>
            {
                Some(s.clone())
            }
            _ => None,
        }
    }
}

fn is_core_emails(rt: &ResourceType, p: &AttrPath) -> bool {
    p.sub.is_none()
        && matches!(p.resolve(rt), Some((Some(s), a, None)) if std::ptr::eq(s, &rt.schema) && a.name == "emails")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse;
    use crate::testutil::reg;

    #[test]
    fn index_lookups() {
        let r = reg();
        let il = |rt: &ResourceType, f: &str| parse(f).unwrap().index_lookup(rt);
        assert_eq!(
            il(&r.user, r#"userName eq "bjensen""#),
            Some(IndexLookup::UserName("bjensen".into()))
        );
        assert_eq!(
            il(&r.user, r#"USERNAME eq "B""#),
            Some(IndexLookup::UserName("B".into()))
        );
        assert_eq!(
            il(
                &r.user,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "b""#
            ),
            Some(IndexLookup::UserName("b".into()))
        );
        assert_eq!(
            il(&r.user, r#"id eq "1""#),
            Some(IndexLookup::Id("1".into()))
        );
        assert_eq!(
            il(&r.group, r#"externalId eq "e""#),
            Some(IndexLookup::ExternalId("e".into()))
        );
        assert_eq!(
            il(&r.group, r#"displayName eq "G""#),
            Some(IndexLookup::DisplayName("G".into()))
        );
        assert_eq!(
            il(&r.role, r#"displayName eq "R""#),
            Some(IndexLookup::DisplayName("R".into()))
        );
        assert_eq!(il(&r.user, r#"displayName eq "U""#), None);
        for f in [
            r#"emails.value eq "a@b""#,
            r#"emails eq "a@b""#,
            r#"emails[value eq "a@b"]"#,
            r#"emails[type eq "work"].value eq "a@b""#,
            r#"emails[type eq "work" and value eq "a@b"]"#,
            r#"active eq true and emails[type eq "work" and value eq "a@b"]"#,
        ] {
            assert_eq!(
                il(&r.user, f),
                Some(IndexLookup::Email("a@b".into())),
                "{f}"
            );
        }
        // First usable conjunct, through parentheses.
        assert_eq!(
            il(
                &r.user,
                r#"active eq true and (title pr and userName eq "u") and id eq "i""#
            ),
            Some(IndexLookup::UserName("u".into()))
        );
        for f in [
            r#"userName eq "a" or id eq "b""#,
            r#"not (userName eq "a")"#,
            r#"userName ne "a""#,
            r#"userName co "a""#,
            r#"emails.type eq "work""#,
            r#"emails[type eq "work"]"#,
            r#"emails[value eq "a" or type eq "work"]"#,
            r#"emails[type eq "work"].display eq "a""#,
            "userName eq null",
            r#"name.givenName eq "a""#,
        ] {
            assert_eq!(il(&r.user, f), None, "{f}");
        }
        assert_eq!(il(&r.group, r#"userName eq "a""#), None);
    }
}
