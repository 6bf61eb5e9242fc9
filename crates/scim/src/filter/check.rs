//! Schema checks on a parsed filter: operators and literals against the
//! attribute types of a resource type (RFC 7644 §3.4.2.2, RFC 7643 §2.3).

use super::scalar::{parse_bool, parse_instant, Num};
use super::target::{Scope, Target};
use super::{CompValue, CompareOp, Filter, Test};
use crate::error::ScimError;
use crate::schema::{AttrType, ResourceType};
use std::fmt;

impl Filter {
    /// Check operator/type combinations against the schemas of `rt` (call
    /// after [`parse`](super::parse())). 400 `invalidFilter` for: `gt`/`ge`/`lt`/`le`/`co`/`sw`/`ew`
    /// on booleans; ordering on binary; any comparison of a complex attribute
    /// without a `value` sub-attribute; `co`/`sw`/`ew` or a non-numeric literal on
    /// integer/decimal; a dateTime compared with something that is not an
    /// RFC 3339 string; `null` with operators other than `eq`/`ne`; a value
    /// filter on an attribute that is neither complex nor multi-valued.
    /// Unknown attributes are not errors (they match nothing).
    pub fn check(&self, rt: &ResourceType) -> Result<(), ScimError> {
        self.check_in(rt, Scope::Resource)
    }

    fn check_in(&self, rt: &ResourceType, scope: Scope<'_>) -> Result<(), ScimError> {
        match self {
            Filter::Not(f) => f.check_in(rt, scope),
            Filter::And(fs) | Filter::Or(fs) => fs.iter().try_for_each(|f| f.check_in(rt, scope)),
            Filter::Present(_) => Ok(()),
            Filter::Compare(p, op, lit) => match Target::new(rt, scope, p, true) {
                Some(t) => check_compare(p, t.ty, *op, lit),
                None => Ok(()),
            },
            Filter::ValuePath(p, inner)
            | Filter::ValuePathSub {
                attr: p,
                filter: inner,
                ..
            } => {
                if let Scope::Element(_) = scope {
                    return Err(ScimError::invalid_filter(
                        "invalid filter: value filters '[ ]' cannot be nested",
                    ));
                }
                let Some(loc) = p.locate(rt) else {
                    return Ok(());
                };
                let parent = loc.sub_attr.or(loc.attr);
                if let Some(a) = parent {
                    if a.ty != AttrType::Complex && !a.multi_valued {
                        return Err(ScimError::invalid_filter(format!(
                            "invalid filter: '{p}' is neither complex nor multi-valued; a value filter '[ ]' cannot apply to it"
                        )));
                    }
                }
                inner.check_in(rt, Scope::Element(parent))?;
                if let Filter::ValuePathSub {
                    sub,
                    test: Test::Compare(op, lit),
                    ..
                } = self
                {
                    if let Some(t) = Target::element(parent, sub) {
                        check_compare(&format_args!("{p}.{sub}"), t.ty, *op, lit)?;
                    }
                }
                Ok(())
            }
        }
    }
}

fn check_compare(
    name: &dyn fmt::Display,
    ty: Option<AttrType>,
    op: CompareOp,
    lit: &CompValue,
) -> Result<(), ScimError> {
    let bad = |msg: String| Err(ScimError::invalid_filter(format!("invalid filter: {msg}")));
    if let CompValue::Null = lit {
        if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Ok(());
        }
        return bad(format!(
            "'{op}' cannot compare '{name}' with null; use 'eq null', 'ne null' or 'pr'"
        ));
    }
    let Some(ty) = ty else { return Ok(()) };
    match ty {
        AttrType::Complex => bad(format!(
            "'{name}' is a complex attribute and cannot be compared with a value; filter on one of its sub-attributes"
        )),
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return bad(format!(
                    "operator '{op}' is not supported on the boolean attribute '{name}'; use eq, ne or pr"
                ));
            }
            match lit {
                CompValue::Bool(_) => Ok(()),
                CompValue::String(s) if parse_bool(s).is_some() => Ok(()),
                _ => bad(format!(
                    "the boolean attribute '{name}' must be compared with true or false, not {lit}"
                )),
            }
        }
        AttrType::Binary if op.is_ordering() => bad(format!(
            "operator '{op}' is not supported on the binary attribute '{name}'"
        )),
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return bad(format!(
                    "operator '{op}' is not supported on the numeric attribute '{name}'"
                ));
            }
            match lit {
                CompValue::Number(_) => Ok(()),
                CompValue::String(s) if Num::parse(s).is_some() => Ok(()),
                _ => bad(format!(
                    "the numeric attribute '{name}' must be compared with a number, not {lit}"
                )),
            }
        }
        AttrType::DateTime => match lit {
            CompValue::String(_) if op.is_substring() => Ok(()),
            CompValue::String(s) if parse_instant(s).is_some() => Ok(()),
            _ => bad(format!(
                "the dateTime attribute '{name}' must be compared with an RFC 3339 date-time such as \"2011-05-13T04:42:34Z\", not {lit}"
            )),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::parse;
    use crate::testutil::reg;
    use crate::ScimType;

    fn check_err(f: &str) -> String {
        let r = reg();
        let e = parse(f).unwrap().check(&r.user).expect_err(f);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        e.detail
    }

    #[test]
    fn operator_misuse_is_rejected_by_check() {
        assert!(check_err("active gt true").contains("boolean"));
        check_err("active co true");
        check_err(r#"active eq "yes""#);
        check_err("active eq 1");
        assert!(check_err(r#"name gt "x""#).contains("complex"));
        check_err(r#"name eq "x""#);
        check_err(r#"addresses eq "x""#);
        check_err(r#"x509Certificates.value gt "x""#);
        check_err(r#"meta.lastModified gt "yesterday""#);
        check_err("meta.lastModified gt 5");
        check_err("title gt null");
        check_err(r#"emails[primary gt true]"#);
        check_err(r#"emails[type eq "work"].primary lt true"#);
        check_err(r#"userName[value eq "x"]"#);
        // Fine:
        let r = reg();
        for ok in [
            "active eq true",
            r#"active eq "TRUE""#,
            "active ne false",
            "title eq null",
            "title ne null",
            "emails eq \"x\"",
            "name pr",
            "nope gt true",
            r#"meta.lastModified co "2011""#,
            r#"x509Certificates.value eq "x""#,
            r#"emails[type eq "work"].primary eq true"#,
            r#"urn:ietf:params:scim:schemas:extension:sap:2.0:User:foo gt 3"#,
        ] {
            parse(ok)
                .unwrap()
                .check(&r.user)
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }
}
