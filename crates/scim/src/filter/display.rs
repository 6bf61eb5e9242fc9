//! Rendering filters back to text in the canonical syntax of RFC 7644
//! §3.4.2.2: lower-case keywords, JSON literals, only the parentheses needed.

use super::{CompValue, CompareOp, Filter, Test};
use std::fmt;

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {op} {v}"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(terms) => write_joined(f, terms, " and ", |t| {
                matches!(t, Filter::And(_) | Filter::Or(_))
            }),
            Filter::Or(terms) => write_joined(f, terms, " or ", |t| matches!(t, Filter::Or(_))),
            Filter::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
            Filter::ValuePathSub {
                attr,
                filter,
                sub,
                test,
            } => {
                write!(f, "{attr}[{filter}].{sub}")?;
                match test {
                    Test::Present => f.write_str(" pr"),
                    Test::Compare(op, v) => write!(f, " {op} {v}"),
                }
            }
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    terms: &[Filter],
    sep: &str,
    needs_parens: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (i, t) in terms.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(t) {
            write!(f, "({t})")?;
        } else {
            write!(f, "{t}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::filter::parse;

    #[test]
    fn display_is_canonical_and_round_trips() {
        let cases = [
            (r#"userName EQ "x""#, r#"userName eq "x""#),
            (r#"a pr AND (b pr OR c pr)"#, "a pr and (b pr or c pr)"),
            (r#"a pr or b pr and c pr"#, "a pr or b pr and c pr"),
            (r#"(a pr or b pr) or c pr"#, "(a pr or b pr) or c pr"),
            (r#"NOT(a pr)"#, "not (a pr)"),
            (
                r#"emails[ type eq "work" ].value eq "x""#,
                r#"emails[type eq "work"].value eq "x""#,
            ),
            ("x eq True", "x eq true"),
            ("x gt 1.50", "x gt 1.5"),
            (r#"x eq "\u00e9\"""#, "x eq \"\u{e9}\\\"\""),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#,
            ),
        ];
        for (input, canonical) in cases {
            let f = parse(input).unwrap();
            assert_eq!(f.to_string(), canonical);
            assert_eq!(parse(&f.to_string()).unwrap(), f);
        }
    }

    mod props {
        use crate::filter::{parse, MAX_FILTER_LEN};
        use crate::testutil::filter;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn display_round_trips(f in filter()) {
                let s = f.to_string();
                prop_assume!(s.len() <= MAX_FILTER_LEN);
                let back = parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
                prop_assert_eq!(back, f, "{}", s);
            }
        }
    }
}
