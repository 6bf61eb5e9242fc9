//! Evaluating a filter against a resource document or one element of a
//! multi-valued attribute (RFC 7644 §3.4.2.2), with the semantics set out in
//! the [module documentation](super).

use super::scalar::{parse_bool, parse_instant, Num};
use super::target::{Scope, Target};
use super::{CompValue, CompareOp, Filter, Test};
use crate::schema::{AttrType, Attribute, ResourceType};
use crate::text;
use serde_json::Value;
use std::cmp::Ordering;

impl Target<'_> {
    fn compare(&self, v: &Value, op: CompareOp, lit: &CompValue) -> bool {
        match (op, lit) {
            (CompareOp::Eq, CompValue::Null) => !self.any(v, &mut |x| is_present(x)),
            (CompareOp::Ne, CompValue::Null) => self.any(v, &mut |x| is_present(x)),
            (_, CompValue::Null) => false,
            (CompareOp::Ne, _) => !self.any(v, &mut |x| {
                scalar_match(self.ty, self.case_exact, x, CompareOp::Eq, lit)
            }),
            _ => self.any(v, &mut |x| {
                scalar_match(self.ty, self.case_exact, x, op, lit)
            }),
        }
    }
}

/// `pr` on one (non-array-flattened) value.
fn is_present(v: &Value) -> bool {
    fn shallow(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }
    }
    match v {
        Value::Array(a) => a.iter().any(shallow),
        Value::Object(o) => o.values().any(shallow),
        _ => shallow(v),
    }
}

impl Filter {
    /// Does `doc` (a resource of type `rt`, canonical form) match?
    pub fn matches(&self, rt: &ResourceType, doc: &Value) -> bool {
        self.eval(rt, Scope::Resource, doc)
    }

    /// Does one element of the multi-valued (or complex) attribute `parent`
    /// match? Paths inside are sub-attribute names of `parent` (PATCH
    /// `members[value eq "x"]`, `emails[type eq "work"]`). For a multi-valued
    /// attribute without sub-attributes, `value` is the element itself.
    pub fn matches_element(&self, rt: &ResourceType, parent: &Attribute, element: &Value) -> bool {
        self.eval(rt, Scope::Element(Some(parent)), element)
    }

    fn eval(&self, rt: &ResourceType, scope: Scope<'_>, v: &Value) -> bool {
        match self {
            Filter::Not(f) => !f.eval(rt, scope, v),
            Filter::And(fs) => fs.iter().all(|f| f.eval(rt, scope, v)),
            Filter::Or(fs) => fs.iter().any(|f| f.eval(rt, scope, v)),
            Filter::Present(p) => {
                Target::new(rt, scope, p, false).is_some_and(|t| t.any(v, &mut |x| is_present(x)))
            }
            Filter::Compare(p, op, lit) => {
                Target::new(rt, scope, p, true).is_some_and(|t| t.compare(v, *op, lit))
            }
            Filter::ValuePath(p, inner) => {
                let Scope::Resource = scope else { return false };
                let Some(loc) = p.locate(rt) else {
                    return false;
                };
                let parent = Scope::Element(loc.sub_attr.or(loc.attr));
                loc.any(v, &mut |e| inner.eval(rt, parent, e))
            }
            Filter::ValuePathSub {
                attr,
                filter,
                sub,
                test,
            } => {
                let Scope::Resource = scope else { return false };
                let Some(loc) = attr.locate(rt) else {
                    return false;
                };
                let parent = loc.sub_attr.or(loc.attr);
                let Some(target) = Target::element(parent, sub) else {
                    return false;
                };
                let in_filter = |e: &Value| filter.eval(rt, Scope::Element(parent), e);
                match test {
                    Test::Present => loc.any(v, &mut |e| {
                        in_filter(e) && target.any(e, &mut |x| is_present(x))
                    }),
                    // `ne` is the negation of the `eq` form.
                    Test::Compare(CompareOp::Ne, lit) => !loc.any(v, &mut |e| {
                        in_filter(e) && target.compare(e, CompareOp::Eq, lit)
                    }),
                    Test::Compare(op, lit) => {
                        loc.any(v, &mut |e| in_filter(e) && target.compare(e, *op, lit))
                    }
                }
            }
        }
    }
}

/// One stored value against the literal (`op` is never `Ne` here, `lit` never null).
fn scalar_match(
    ty: Option<AttrType>,
    case_exact: bool,
    x: &Value,
    op: CompareOp,
    lit: &CompValue,
) -> bool {
    let ty = match ty {
        Some(t) => t,
        None => match x {
            Value::String(_) => AttrType::String,
            Value::Bool(_) => AttrType::Boolean,
            Value::Number(_) => AttrType::Decimal,
            _ => return false,
        },
    };
    match ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let Value::String(s) = x else { return false };
            match lit {
                CompValue::String(l) => str_op(s, l, op, case_exact),
                CompValue::Bool(b) => str_op(s, if *b { "true" } else { "false" }, op, case_exact),
                CompValue::Number(n) => str_op(s, &n.to_string(), op, case_exact),
                CompValue::Null => false,
            }
        }
        AttrType::Boolean => {
            let xb = match x {
                Value::Bool(b) => Some(*b),
                Value::String(s) => parse_bool(s),
                _ => None,
            };
            let lb = match lit {
                CompValue::Bool(b) => Some(*b),
                CompValue::String(s) => parse_bool(s),
                _ => None,
            };
            op == CompareOp::Eq && xb.is_some() && xb == lb
        }
        AttrType::Integer | AttrType::Decimal => {
            let xn = match x {
                Value::Number(n) => Num::of(n),
                Value::String(s) => match Num::parse(s) {
                    Some(n) => n,
                    None => return false,
                },
                _ => return false,
            };
            let ln = match lit {
                CompValue::Number(n) => Num::of(n),
                CompValue::String(s) => match Num::parse(s) {
                    Some(n) => n,
                    None => return false,
                },
                _ => return false,
            };
            xn.compare(ln).is_some_and(|o| ord_op(o, op))
        }
        AttrType::DateTime => {
            let (Value::String(s), CompValue::String(l)) = (x, lit) else {
                return false;
            };
            if op.is_substring() {
                return str_op(s, l, op, case_exact);
            }
            match (parse_instant(s), parse_instant(l)) {
                (Some(a), Some(b)) => ord_op(a.cmp(&b), op),
                _ => str_op(s, l, op, true),
            }
        }
        AttrType::Complex => false,
    }
}

fn ord_op(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// A string operator, on the forms [`crate::text`] compares in: NFC, and
/// full case folding unless `case_exact`. Substring operators search in
/// linear time, whatever the lengths.
fn str_op(s: &str, l: &str, op: CompareOp, case_exact: bool) -> bool {
    match op {
        CompareOp::Eq => text::eq(s, l, case_exact),
        CompareOp::Ne => !text::eq(s, l, case_exact),
        CompareOp::Co => text::contains(s, l, case_exact),
        CompareOp::Sw => text::starts_with(s, l, case_exact),
        CompareOp::Ew => text::ends_with(s, l, case_exact),
        _ => ord_op(text::cmp(s, l, case_exact), op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse;
    use crate::schema::{Registry, SchemaOptions, SAP_USER};
    use crate::testutil::{m, mg, reg, user};
    use serde_json::json;

    #[test]
    fn every_operator() {
        assert!(m(r#"title eq "Tour Guide""#));
        assert!(!m(r#"title eq "Tour""#));
        assert!(m(r#"title ne "Tour""#));
        assert!(!m(r#"title ne "tour guide""#));
        assert!(m(r#"title co "our G""#));
        assert!(m(r#"title sw "Tour""#));
        assert!(m(r#"title ew "Guide""#));
        assert!(!m(r#"title ew "Tour""#));
        assert!(m(r#"title gt "Tour Guidd""#));
        assert!(m(r#"title ge "Tour Guide""#));
        assert!(m(r#"title lt "Tour Guidf""#));
        assert!(m(r#"title le "Tour Guide""#));
        assert!(!m(r#"title lt "Tour Guide""#));
        assert!(m("title pr"));
        assert!(!m("nickName pr"));
    }

    #[test]
    fn rfc_examples_parse_and_evaluate() {
        let cases = [
            (r#"userName Eq "bjensen@example.com""#, true),
            (r#"name.familyName co "O'Malley""#, false),
            (r#"userName sw "J""#, false),
            (r#"userName sw "b""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                false,
            ),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(m(f), want, "{f}");
        }
    }

    #[test]
    fn sub_attributes_and_urn_paths() {
        assert!(m(r#"name.familyName eq "jensen""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw "26118915""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BJENSEN@example.com""#
        ));
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:id pr"#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#
        ));
        // Unqualified extension attribute (tolerance).
        assert!(m(r#"employeeNumber eq "701984""#));
        // Undeclared URN: no match, no error.
        assert!(!m(
            r#"urn:ietf:params:scim:schemas:extension:other:2.0:User:employeeNumber eq "701984""#
        ));
        // Open SAP extension: declared and undeclared attributes.
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:userUuid eq "U-1""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:mailVerified eq true"#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:nickname eq "babs""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:loginCount gt 5"#
        ));
        assert!(!m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:loginCount gt 7.5"#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:nothing eq null"#
        ));
    }

    #[test]
    fn attribute_names_in_any_case() {
        assert!(m(r#"DisplayName eq "Babs Jensen""#));
        assert!(m(r#"USERNAME eq "bjensen@example.com""#));
        assert!(m(r#"emails.Value eq "babs@jensen.org""#));
        assert!(m(r#"NAME.GIVENNAME eq "barbara""#));
        assert!(m(r#"EMAILS[TYPE eq "work"]"#));
        assert!(m(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#
        ));
        // Documents with non-canonical key case still match.
        let r = reg();
        let doc = json!({"USERNAME": "x", "Emails": [{"VALUE": "a@b"}]});
        assert!(parse(r#"userName eq "x""#).unwrap().matches(&r.user, &doc));
        assert!(parse(r#"emails.value eq "a@b""#)
            .unwrap()
            .matches(&r.user, &doc));
    }

    #[test]
    fn case_exactness_follows_the_schema() {
        // userName is case-insensitive by default...
        assert!(m(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
        assert!(m(r#"userName sw "BJEN""#));
        // ...and case-exact when the registry says so.
        let ce = Registry::new(&SchemaOptions {
            user_name_case_exact: true,
        });
        let f = parse(r#"userName eq "BJENSEN@EXAMPLE.COM""#).unwrap();
        assert!(!f.matches(&ce.user, &user()));
        assert!(parse(r#"userName eq "bjensen@example.com""#)
            .unwrap()
            .matches(&ce.user, &user()));
        // id and externalId are case-exact.
        assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
        assert!(m(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
        assert!(!m(r#"externalId eq "EXT-1""#));
        assert!(mg(r#"members[value eq "2819c223"]"#));
        assert!(!mg(r#"members[value eq "2819C223"]"#));
        // Unicode case folding without ASCII.
        let r = reg();
        let doc = json!({"displayName": "ÉLODIE Ünal"});
        for f in [
            r#"displayName eq "élodie ünal""#,
            r#"displayName sw "éLO""#,
            r#"displayName ew "ÜNAL""#,
            r#"displayName co "die ü""#,
            r#"displayName gt "élodie a""#,
        ] {
            assert!(parse(f).unwrap().matches(&r.user, &doc), "{f}");
        }
        assert!(!parse(r#"displayName ew "élodie""#)
            .unwrap()
            .matches(&r.user, &doc));
    }

    #[test]
    fn one_unicode_rule_final_sigma_nfd_and_full_folding() {
        let r = reg();
        let t = |doc: Value, f: &str| parse(f).unwrap().matches(&r.user, &doc);
        // Stored with a final sigma, looked up in capitals (issue 16).
        let greek = json!({"userName": "bfb1οδος", "displayName": "ÉLODIE Straße ΟΔΟΣ"});
        for f in [
            r#"userName eq "bfb1ΟΔΟΣ""#,
            r#"userName eq "bfb1οδοσ""#,
            r#"userName ew "ΔΟΣ""#,
            r#"userName co "1ΟΔ""#,
            r#"userName sw "BFB1Ο""#,
            r#"userName ge "bfb1ΟΔΟΣ""#,
            r#"userName le "bfb1ΟΔΟΣ""#,
            r#"displayName co "die strasse""#,
            r#"displayName ew "οδος""#,
            r#"displayName sw "élodie STRASSE""#,
        ] {
            assert!(t(greek.clone(), f), "{f}");
        }
        assert!(!t(greek.clone(), r#"userName ne "BFB1ΟΔΟΣ""#));
        assert!(!t(greek.clone(), r#"userName gt "bfb1ΟΔΟΣ""#));
        // NFC and NFD spellings, either side.
        let cafe = json!({"userName": "cafe\u{301}", "title": "Caf\u{e9} Owner"});
        for f in [
            "userName eq \"caf\u{e9}\"",
            "userName eq \"CAF\u{c9}\"",
            "title eq \"cafe\u{301} owner\"",
            "title co \"E\u{301} O\"",
            "title sw \"CAFE\u{301}\"",
            "userName ew \"\u{e9}\"",
        ] {
            assert!(t(cafe.clone(), f), "{f}");
        }
        assert!(!t(cafe, r#"userName eq "cafe""#));
        // Case-exact attributes: NFC, no folding.
        let x = json!({"externalId": "Caf\u{e9}"});
        assert!(t(x.clone(), "externalId eq \"Cafe\u{301}\""));
        assert!(!t(x.clone(), "externalId eq \"caf\u{e9}\""));
        assert!(t(x.clone(), "externalId ew \"e\u{301}\""));
        assert!(!t(x, "externalId ew \"E\u{301}\""));
    }

    #[test]
    fn substring_matching_is_linear() {
        // The reproduction of issue 16: a 4,000-character needle over
        // 500 KB took seconds when every position matched all but the last
        // character (O(value × needle)).
        let r = reg();
        let doc = json!({SAP_USER: {"blob": "a".repeat(500_000)}});
        let miss = format!("{}B", "A".repeat(3_999));
        let t = std::time::Instant::now();
        for op in ["co", "sw", "ew"] {
            let f = parse(&format!("{SAP_USER}:blob {op} \"{miss}\"")).unwrap();
            assert!(!f.matches(&r.user, &doc), "{op}");
        }
        let hit = parse(&format!("{SAP_USER}:blob co \"{}\"", "A".repeat(4_000))).unwrap();
        assert!(hit.matches(&r.user, &doc));
        let took = t.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn ordering_semantics() {
        let r = reg();
        // Lexicographic strings.
        assert!(m(r#"name.familyName gt "A""#));
        assert!(m(r#"name.familyName lt "k""#));
        // Instants, whatever the offset.
        assert!(m(r#"meta.lastModified gt "2011-05-13T05:42:34+02:00""#));
        assert!(!m(r#"meta.lastModified gt "2011-05-13T06:42:34+02:00""#));
        assert!(m(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#));
        assert!(m(r#"meta.lastModified lt "2011-05-13T04:42:34.5Z""#));
        assert!(m(r#"meta.created lt "2011-01-01T00:00:00""#));
        assert!(m(r#"meta.lastModified sw "2011-05""#));
        // Numbers, on an open schema attribute (inferred) and through check.
        let doc = json!({SAP_USER: {"n": 10, "f": 2.5}});
        let t = |f: &str| parse(f).unwrap().matches(&r.user, &doc);
        assert!(t(&format!("{SAP_USER}:n gt 9")));
        assert!(t(&format!("{SAP_USER}:n ge 10")));
        assert!(t(&format!("{SAP_USER}:n lt 10.5")));
        assert!(t(&format!("{SAP_USER}:n eq 10.0")));
        assert!(t(&format!("{SAP_USER}:f le 2.5")));
        assert!(!t(&format!("{SAP_USER}:f gt 2.5")));
        assert!(t(&format!("{SAP_USER}:n lt 18446744073709551615")));
    }

    #[test]
    fn boolean_string_tolerance() {
        assert!(m(r#"active eq "true""#));
        assert!(m(r#"active eq "True""#));
        assert!(!m(r#"active eq "false""#));
        assert!(m(r#"active ne "FALSE""#));
        assert!(m(
            r#"emails[primary eq "true"].value eq "bjensen@example.com""#
        ));
    }

    #[test]
    fn multi_valued_any_and_value_redirect() {
        assert!(m(r#"emails.value eq "babs@jensen.org""#));
        assert!(m(r#"emails.value eq "BJENSEN@example.com""#));
        assert!(m(r#"emails eq "babs@jensen.org""#));
        assert!(m(r#"emails co "jensen.org""#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        assert!(mg(r#"members eq "902c246b""#));
        assert!(mg(r#"members.value eq "2819c223""#));
        assert!(!mg(r#"members eq "nobody""#));
        assert!(m("emails pr"));
        assert!(m("name pr"));
        assert!(m("emails.primary pr"));
        assert!(!m("phoneNumbers pr"));
    }

    #[test]
    fn value_paths_and_idp_form() {
        assert!(m(r#"emails[type eq "work"]"#));
        assert!(!m(r#"emails[type eq "other"]"#));
        assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
        // Both conditions must hold on the same element.
        assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(m(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#
        ));
        assert!(!m(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(m(r#"emails[type eq "home"].value pr"#));
        assert!(m(r#"emails[not (type eq "work")].value ew "jensen.org""#));
        assert!(m(
            r#"addresses[type eq "work"].streetAddress co "universal""#
        ));
        assert!(m(
            r#"emails[primary eq true].value eq "bjensen@example.com""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]"#
        ));
        // ne on the IdP form is the negation of eq.
        assert!(m(
            r#"emails[type eq "home"].value ne "bjensen@example.com""#
        ));
        assert!(!m(
            r#"emails[type eq "work"].value ne "bjensen@example.com""#
        ));
        assert!(mg(r#"members[value eq "2819c223" and display eq "babs"]"#));
        // Unknown sub-attribute inside: no match.
        assert!(!m(r#"emails[nope eq "x"]"#));
        assert!(!m(r#"nope[type eq "x"]"#));
    }

    #[test]
    fn ne_and_missing_attributes() {
        // Documented choice: `ne` is `not eq`, so a missing attribute matches.
        assert!(m(r#"nickName ne "x""#));
        assert!(m(r#"name.middleName ne "x""#));
        // Multi-valued: `ne` holds only if no value equals.
        assert!(!m(r#"emails.type ne "work""#));
        assert!(m(r#"emails.type ne "other""#));
        // Other operators on a missing attribute: no match.
        assert!(!m(r#"nickName eq "x""#));
        assert!(!m(r#"nickName co """#));
        assert!(!m(r#"nickName lt "zzz""#));
        // null comparisons.
        assert!(m("nickName eq null"));
        assert!(!m("title eq null"));
        assert!(m("title ne null"));
        assert!(!m("nickName ne null"));
        // Unknown attributes match nothing, `ne` included.
        assert!(!m(r#"nope ne "x""#));
        assert!(!m(r#"nope eq null"#));
        assert!(!m("nope pr"));
        assert!(m(r#"not (nope eq "x")"#));
        assert!(!m(r#"name.nope ne "x""#));
    }

    #[test]
    fn present_semantics() {
        let r = reg();
        let t = |doc: Value, f: &str| parse(f).unwrap().matches(&r.user, &doc);
        assert!(!t(json!({"title": ""}), "title pr"));
        assert!(!t(json!({"title": null}), "title pr"));
        assert!(!t(json!({"emails": []}), "emails pr"));
        assert!(!t(json!({"emails": [{}]}), "emails pr"));
        assert!(!t(json!({"name": {"givenName": ""}}), "name pr"));
        assert!(t(json!({"name": {"givenName": "a"}}), "name pr"));
        assert!(t(json!({"active": false}), "active pr"));
    }

    #[test]
    fn matches_element_uses_sub_attribute_names() {
        let r = reg();
        let members = r.group.attribute(None, "members").unwrap().1;
        let f = parse(r#"value eq "2819c223""#).unwrap();
        assert!(f.matches_element(&r.group, members, &json!({"value": "2819c223"})));
        assert!(!f.matches_element(&r.group, members, &json!({"value": "x"})));
        let emails = r.user.attribute(None, "emails").unwrap().1;
        let f = parse(r#"type eq "WORK" and primary eq true"#).unwrap();
        assert!(f.matches_element(&r.user, emails, &json!({"type": "work", "primary": true})));
        assert!(!f.matches_element(&r.user, emails, &json!({"type": "work"})));
        // A multi-valued attribute without sub-attributes: `value` is the element.
        let tags = Attribute::string("tags").multi();
        assert!(parse(r#"value eq "A""#)
            .unwrap()
            .matches_element(&r.user, &tags, &json!("a")));
    }

    mod props {
        use crate::testutil::filter;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn evaluation_never_panics(f in filter()) {
                let r = crate::schema::Registry::new(&Default::default());
                let doc = serde_json::json!({"userName": "u", "emails": [{"value": "a", "type": "work"}, "x", null, 3],
                    "title": ["t"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"x": {"y": 1}}});
                for rt in r.resource_types() {
                    let _ = f.matches(rt, &doc);
                    let _ = f.check(rt);
                    let _ = f.index_lookup(rt);
                }
            }
        }
    }
}
