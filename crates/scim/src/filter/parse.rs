//! Parsing the filter grammar of RFC 7644 §3.4.2.2 (`filter`, `valuePath`,
//! `compValue`) into a [`Filter`], with positioned `invalidFilter` errors.

use super::path::{is_attr_name, snippet, AttrPath};
use super::scalar::parse_number;
use super::{CompValue, CompareOp, Filter, Test, MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use crate::error::ScimError;

/// Parse a filter (already URL-decoded). Errors are 400 `invalidFilter` saying
/// where the problem is (1-based character position) and what was expected.
/// Linear time; input limited to [`MAX_FILTER_LEN`] bytes and nesting to
/// [`MAX_FILTER_DEPTH`] while parsing.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is too long ({} bytes; at most maxFilterLength ({MAX_FILTER_LEN}))",
            input.len()
        )));
    }
    let mut p = Parser {
        src: input,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(ScimError::invalid_filter(
            "invalid filter: the filter is empty",
        ));
    }
    let render = |e: ParseError| ScimError::invalid_filter(e.render(input, "invalid filter"));
    let f = p.parse_or(false).map_err(render)?;
    p.skip_ws();
    if p.pos < input.len() {
        let msg = match p.peek() {
            Some(b')') => "unbalanced ')'".to_string(),
            Some(b']') => "unbalanced ']'".to_string(),
            _ => format!(
                "expected 'and', 'or' or the end of the filter, found {}",
                p.describe(p.pos)
            ),
        };
        return Err(render(ParseError { pos: p.pos, msg }));
    }
    Ok(f)
}

/// Parse the value filter of a PATCH path: `src[open]` is `[`; returns the
/// filter and the position after the closing `]`.
pub(crate) fn parse_value_filter(src: &str, open: usize) -> Result<(Filter, usize), ParseError> {
    let mut p = Parser {
        src,
        pos: open + 1,
        depth: 0,
    };
    let f = p.parse_or(true)?;
    p.skip_ws();
    p.expect_close(b']', open)?;
    Ok((f, p.pos))
}

/// A syntax error at a byte position.
#[derive(Debug)]
pub(crate) struct ParseError {
    /// Byte offset of the problem in the source text.
    pub pos: usize,
    /// What is wrong, and what was expected instead.
    pub msg: String,
}

impl ParseError {
    /// The message for a client: `"{what}: {msg} (at position N)"`, N being
    /// the 1-based character column in `src`.
    pub(crate) fn render(&self, src: &str, what: &str) -> String {
        format!(
            "{what}: {} (at position {})",
            self.msg,
            char_col(src, self.pos)
        )
    }
}

/// 1-based character column of byte position `pos`.
fn char_col(src: &str, pos: usize) -> usize {
    let mut p = pos.min(src.len());
    while !src.is_char_boundary(p) {
        p -= 1;
    }
    src[..p].chars().count() + 1
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    depth: usize,
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

impl<'s> Parser<'s> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn word_end(&self, from: usize) -> usize {
        let b = self.src.as_bytes();
        let mut i = from;
        while i < b.len() && !is_delim(b[i]) {
            i += 1;
        }
        i
    }

    /// The next word (up to whitespace, a bracket, a parenthesis or a quote), consumed.
    fn word(&mut self) -> (usize, &'s str) {
        let start = self.pos;
        self.pos = self.word_end(start);
        (start, &self.src[start..self.pos])
    }

    fn peek_word(&self) -> &'s str {
        &self.src[self.pos..self.word_end(self.pos)]
    }

    /// What is at `pos`, for error messages.
    fn describe(&self, pos: usize) -> String {
        match self.src.as_bytes().get(pos) {
            None => "the end of the filter".to_string(),
            Some(&b) if is_delim(b) && !b.is_ascii_whitespace() => format!("'{}'", b as char),
            Some(_) => format!("'{}'", snippet(&self.src[pos..self.word_end(pos)])),
        }
    }

    fn expect_close(&mut self, close: u8, open: usize) -> PResult<()> {
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let opener = if close == b')' { '(' } else { '[' };
        self.err(
            self.pos,
            format!(
                "expected 'and', 'or' or '{}' to close the '{opener}' at position {}, found {}",
                close as char,
                char_col(self.src, open),
                self.describe(self.pos)
            ),
        )
    }

    /// `filter = andExp *("or" andExp)`; one nesting level.
    fn parse_or(&mut self, in_value: bool) -> PResult<Filter> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return self.err(
                self.pos,
                format!("the filter is nested too deeply (more than maxFilterDepth ({MAX_FILTER_DEPTH}) levels of parentheses, 'not' and '[ ]')"),
            );
        }
        let mut terms = vec![self.parse_and(in_value)?];
        loop {
            self.skip_ws();
            if !self.peek_word().eq_ignore_ascii_case("or") {
                break;
            }
            self.pos += 2;
            terms.push(self.parse_and(in_value)?);
        }
        self.depth -= 1;
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Filter::Or(terms)
        })
    }

    fn parse_and(&mut self, in_value: bool) -> PResult<Filter> {
        let mut terms = vec![self.parse_unary(in_value)?];
        loop {
            self.skip_ws();
            if !self.peek_word().eq_ignore_ascii_case("and") {
                break;
            }
            self.pos += 3;
            terms.push(self.parse_unary(in_value)?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Filter::And(terms)
        })
    }

    fn parse_unary(&mut self, in_value: bool) -> PResult<Filter> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let f = self.parse_or(in_value)?;
                self.skip_ws();
                self.expect_close(b')', start)?;
                Ok(f)
            }
            Some(b) if !is_delim(b) => {
                let (_, w) = self.word();
                if w.eq_ignore_ascii_case("not") {
                    self.skip_ws();
                    let open = self.pos;
                    if self.peek() != Some(b'(') {
                        return self.err(
                            open,
                            format!("expected '(' after 'not', found {}", self.describe(open)),
                        );
                    }
                    self.pos += 1;
                    let f = self.parse_or(in_value)?;
                    self.skip_ws();
                    self.expect_close(b')', open)?;
                    return Ok(Filter::Not(Box::new(f)));
                }
                self.parse_attr_exp(start, w, in_value)
            }
            _ => self.err(
                start,
                format!(
                    "expected an attribute path, '(' or 'not', found {}",
                    self.describe(start)
                ),
            ),
        }
    }

    fn parse_attr_exp(&mut self, start: usize, w: &'s str, in_value: bool) -> PResult<Filter> {
        let path = AttrPath::parse_syntax(w).map_err(|msg| ParseError { pos: start, msg })?;
        if in_value && (path.urn.is_some() || path.sub.is_some()) {
            return self.err(
                start,
                format!(
                    "only sub-attribute names are allowed inside '[ ]', found '{}'",
                    snippet(w)
                ),
            );
        }
        self.skip_ws();
        if self.peek() == Some(b'[') {
            let open = self.pos;
            if in_value {
                return self.err(open, "value filters '[ ]' cannot be nested");
            }
            if path.sub.is_some() {
                return self.err(
                    open,
                    format!("a value filter '[ ]' must follow an attribute name, not the sub-attribute '{}'", snippet(w)),
                );
            }
            self.pos += 1;
            let inner = self.parse_or(true)?;
            self.skip_ws();
            self.expect_close(b']', open)?;
            if self.peek() != Some(b'.') {
                return Ok(Filter::ValuePath(path, Box::new(inner)));
            }
            self.pos += 1;
            let (spos, sub) = self.word();
            if !is_attr_name(sub) {
                return self.err(
                    spos,
                    format!(
                        "expected a sub-attribute name after '].', found {}",
                        self.describe(spos)
                    ),
                );
            }
            let test = self.parse_test(sub)?;
            return Ok(Filter::ValuePathSub {
                attr: path,
                filter: Box::new(inner),
                sub: sub.to_string(),
                test,
            });
        }
        Ok(match self.parse_test(w)? {
            Test::Present => Filter::Present(path),
            Test::Compare(op, v) => Filter::Compare(path, op, v),
        })
    }

    /// `SP "pr"` or `SP compareOp SP compValue` after the path `path`.
    fn parse_test(&mut self, path: &str) -> PResult<Test> {
        self.skip_ws();
        let (opos, op) = self.word();
        if op.is_empty() {
            return self.err(
                opos,
                format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{}', found {}",
                    snippet(path),
                    self.describe(opos)
                ),
            );
        }
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Test::Present);
        }
        let Some(op) = CompareOp::from_keyword(op) else {
            return self.err(
                opos,
                format!(
                    "unknown operator '{}'; expected eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                    snippet(op)
                ),
            );
        };
        Ok(Test::Compare(op, self.parse_value(op)?))
    }

    fn parse_value(&mut self, op: CompareOp) -> PResult<CompValue> {
        self.skip_ws();
        let vpos = self.pos;
        if self.peek() == Some(b'"') {
            return self.parse_string().map(CompValue::String);
        }
        let (_, w) = self.word();
        if w.is_empty() {
            return self.err(
                vpos,
                format!(
                    "expected a value after '{op}' (a \"string\", a number, true, false or null), found {}",
                    self.describe(vpos)
                ),
            );
        }
        if w.eq_ignore_ascii_case("true") {
            Ok(CompValue::Bool(true))
        } else if w.eq_ignore_ascii_case("false") {
            Ok(CompValue::Bool(false))
        } else if w.eq_ignore_ascii_case("null") {
            Ok(CompValue::Null)
        } else if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            match parse_number(w) {
                Some(n) => Ok(CompValue::Number(n)),
                None => self.err(vpos, format!("invalid number '{}'", snippet(w))),
            }
        } else {
            self.err(
                vpos,
                format!(
                    "expected a value after '{op}' (a \"string\", a number, true, false or null), found '{}'; strings must be in double quotes",
                    snippet(w)
                ),
            )
        }
    }

    /// A JSON string starting at `self.pos` (a `"`).
    fn parse_string(&mut self) -> PResult<String> {
        let start = self.pos;
        let b = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match b.get(i) {
                None => return self.err(start, "unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        serde_json::from_str::<String>(&self.src[start..=i]).or_else(|e| {
            self.err(
                start,
                format!("invalid string (bad escape or control character): {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::m;
    use crate::ScimType;

    fn parse_err(f: &str) -> String {
        let e = parse(f).expect_err(f);
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        e.detail
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert!(m(r#"title EQ "Tour Guide" And userType Eq "Employee""#));
        assert!(m(r#"title Pr OR nickName PR"#));
        assert!(m(r#"NOT (nickName pr)"#));
        assert!(m("active eq True"));
        assert!(!m("active eq FALSE"));
        assert!(m(
            r#"userName eq "x" or title pr and userType eq "Employee""#
        ));
    }

    #[test]
    fn precedence_not_and_or() {
        // `and` binds tighter than `or`.
        let f = parse(r#"a pr or b pr and c pr"#).unwrap();
        assert!(matches!(&f, Filter::Or(t) if t.len() == 2 && matches!(t[1], Filter::And(_))));
        let f = parse(r#"a pr and b pr or c pr"#).unwrap();
        assert!(matches!(&f, Filter::Or(t) if matches!(t[0], Filter::And(_))));
        // Parentheses override.
        let f = parse(r#"a pr and (b pr or c pr)"#).unwrap();
        assert!(matches!(&f, Filter::And(t) if matches!(t[1], Filter::Or(_))));
        // Flat chains.
        let f = parse(r#"a pr and b pr and c pr"#).unwrap();
        assert!(matches!(&f, Filter::And(t) if t.len() == 3));
        assert!(m(r#"nickName pr and title pr or userType eq "Employee""#));
        assert!(!m(
            r#"nickName pr and (title pr or userType eq "Employee")"#
        ));
        assert!(m(r#"not (nickName pr) and not (userType eq "Intern")"#));
        assert!(!m(r#"not (title pr or nickName pr)"#));
        assert!(m(r#"((title pr))"#));
    }

    #[test]
    fn literals() {
        let f = parse(r#"title eq "a\"b\\c\u00e9\n""#).unwrap();
        assert_eq!(
            f,
            Filter::Compare(
                AttrPath::new(None, "title", None),
                CompareOp::Eq,
                CompValue::String("a\"b\\c\u{e9}\n".into())
            )
        );
        assert!(matches!(
            parse("x eq true").unwrap(),
            Filter::Compare(_, _, CompValue::Bool(true))
        ));
        assert!(matches!(
            parse("x eq False").unwrap(),
            Filter::Compare(_, _, CompValue::Bool(false))
        ));
        assert!(matches!(
            parse("x eq null").unwrap(),
            Filter::Compare(_, _, CompValue::Null)
        ));
        assert!(matches!(
            parse("x eq NULL").unwrap(),
            Filter::Compare(_, _, CompValue::Null)
        ));
        let n = |s: &str| match parse(&format!("x gt {s}")).unwrap() {
            Filter::Compare(_, _, CompValue::Number(n)) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(n("42").as_i64(), Some(42));
        assert_eq!(n("-7").as_i64(), Some(-7));
        assert_eq!(n("2.5").as_f64(), Some(2.5));
        assert_eq!(n("1e3").as_f64(), Some(1000.0));
        assert!(m(r#"title eq "Tour\u0020Guide""#));
        assert!(m(r#"name.formatted eq "ms. barbara j jensen iii""#));
        parse_err("x eq 01x");
        parse_err("x eq 1.");
        parse_err("x eq bjensen");
        parse_err(r#"x eq "bad \q escape""#);
        parse_err(r#"x eq "\ud800""#);
    }

    #[test]
    fn malformed_filters_report_positions() {
        assert!(parse_err("").contains("empty"));
        assert!(parse_err("   ").contains("empty"));
        let d = parse_err(r#"userName eq "bjensen"#);
        assert!(
            d.contains("unterminated") && d.contains("position 13"),
            "{d}"
        );
        let d = parse_err("userName eq");
        assert!(
            d.contains("expected a value") && d.contains("position 12"),
            "{d}"
        );
        let d = parse_err(r#"userName xx "a""#);
        assert!(
            d.contains("unknown operator 'xx'") && d.contains("position 10"),
            "{d}"
        );
        let d = parse_err("userName");
        assert!(d.contains("expected an operator"), "{d}");
        let d = parse_err(r#"userName eq "a" garbage"#);
        assert!(d.contains("'garbage'") && d.contains("position 17"), "{d}");
        let d = parse_err(r#"(userName eq "a""#);
        assert!(d.contains("')'") && d.contains("position 1"), "{d}");
        assert!(parse_err(r#"userName eq "a")"#).contains("unbalanced ')'"));
        let d = parse_err(r#"emails[type eq "work""#);
        assert!(d.contains("']'"), "{d}");
        assert!(parse_err(r#"emails[type eq "work"]]"#).contains("unbalanced ']'"));
        let d = parse_err(r#"emails[type[value eq "x"] eq "work"]"#);
        assert!(d.contains("cannot be nested"), "{d}");
        assert!(parse_err(r#"emails[emails.type eq "work"]"#).contains("sub-attribute names"));
        assert!(parse_err(r#"userName eq "a" and"#).contains("end of the filter"));
        assert!(parse_err(r#"not userName eq "a""#).contains("'(' after 'not'"));
        parse_err("()");
        parse_err("and");
        parse_err(r#"userName eq "a" or or title pr"#);
        parse_err(r#""x" eq userName"#);
        parse_err("a.b.c pr");
        parse_err("urn:x pr");
        parse_err("urn:a:b: pr");
        parse_err("1abc pr");
        parse_err(r#"emails[type eq "work"].value"#);
        parse_err(r#"emails[type eq "work"].x.y eq "a""#);
        parse_err(r#"name.givenName[value eq "a"]"#);
        parse_err("[type pr]");
        parse_err("title pr extra");
        // Position counts characters, not bytes.
        let d = parse_err(r#"title eq "é" xx"#);
        assert!(d.contains("position 14"), "{d}");
    }

    #[test]
    fn limits_on_length_and_depth() {
        let long = format!(r#"title eq "{}""#, "a".repeat(MAX_FILTER_LEN));
        assert!(parse_err(&long).contains("too long"));
        let ok = format!(
            "{}title pr{}",
            "(".repeat(MAX_FILTER_DEPTH - 1),
            ")".repeat(MAX_FILTER_DEPTH - 1)
        );
        assert!(parse(&ok).is_ok());
        let deep = format!(
            "{}title pr{}",
            "(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(parse_err(&deep).contains("nested too deeply"));
        let nots = "not (".repeat(MAX_FILTER_DEPTH) + "title pr" + &")".repeat(MAX_FILTER_DEPTH);
        assert!(parse_err(&nots).contains("nested too deeply"));
        // Way past the limit, but within the length limit: no stack overflow.
        assert!(parse_err(&"(".repeat(MAX_FILTER_LEN)).contains("nested too deeply"));
        assert!(parse_err(&"not (".repeat(800)).contains("nested too deeply"));
        // Long flat chains are fine.
        let chain = vec!["title pr"; 300].join(" and ");
        assert!(chain.len() <= MAX_FILTER_LEN);
        assert!(m(&chain));
        let chain = vec!["nickName pr"; 250].join(" or ");
        assert!(!m(&chain));
    }

    mod props {
        use super::super::*;
        use crate::testutil::filter;
        use proptest::prelude::*;
        use std::time::{Duration, Instant};

        const TOKENS: &[&str] = &[
            "userName",
            "emails",
            "emails.value",
            "name.familyName",
            "eq",
            "ne",
            "co",
            "sw",
            "ew",
            "gt",
            "ge",
            "lt",
            "le",
            "pr",
            "and",
            "or",
            "not",
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\"x\"",
            "\"a\\\"b\"",
            "\\",
            "true",
            "False",
            "null",
            "42",
            "-1.5e3",
            ".",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            " ",
            "  ",
            "\t",
            "é",
            "\u{0}",
            "not (",
            "].",
            "[type eq \"work\"]",
        ];

        fn quick(s: &str) {
            let t = Instant::now();
            let _ = parse(s);
            assert!(t.elapsed() < Duration::from_millis(200), "slow on {s:?}");
        }

        proptest! {
            #[test]
            fn arbitrary_strings_never_panic(s in "\\PC{0,300}") {
                quick(&s);
            }

            #[test]
            fn arbitrary_bytes_never_panic(s in any::<String>()) {
                quick(&s);
            }

            #[test]
            fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..80),
                                       seps in prop::collection::vec(prop::sample::select(vec!["", " "]), 80)) {
                let s: String = toks.iter().zip(&seps).map(|(t, sep)| format!("{t}{sep}")).collect();
                quick(&s);
                if let Ok(f) = parse(&s) {
                    // Whatever parses displays to something that parses to the same.
                    prop_assert_eq!(parse(&f.to_string()).unwrap(), f);
                }
            }

            #[test]
            fn mutated_valid_filters_never_panic(f in filter(), cut in any::<prop::sample::Index>(),
                                                 len in 0usize..4, ins in prop::sample::select(TOKENS.to_vec())) {
                // Delete a few bytes somewhere in a valid filter and insert a token.
                let s = f.to_string();
                let mut at = cut.index(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + len).min(s.len());
                while !s.is_char_boundary(end) {
                    end += 1;
                }
                let mutated = format!("{}{ins}{}", &s[..at], &s[end..]);
                quick(&mutated);
                if let Ok(g) = parse(&mutated) {
                    prop_assert_eq!(parse(&g.to_string()).unwrap(), g);
                }
            }
        }
    }
}
