//! SCIM filters (RFC 7644 §3.4.2.2): parsing, canonical display, schema checks,
//! evaluation against resource documents, and index-lookup extraction.
//!
//! Semantics chosen where the RFC is silent or loose (each has a unit test):
//!
//! * Unknown attributes (not declared by the resource type's schemas) match
//!   nothing: every comparison on them, `pr` and `ne` included, is false (so
//!   `not (unknown eq "x")` is true). They are not an error. Undeclared names
//!   under a declared *open* extension schema (the SAP ones) are evaluated with
//!   types inferred from the stored JSON values (strings case-insensitive).
//! * `ne` is the negation of `eq`: `a ne v` ≡ `not (a eq v)`. So a missing
//!   attribute matches `ne`, and a multi-valued attribute matches `ne` only if
//!   *no* value equals (`emails.type ne "work"` is false for a user with any
//!   work email). Every other operator matches if *any* value matches.
//! * `eq null` matches when the attribute is absent or not `pr`; `ne null` ≡ `pr`.
//!   Other operators with `null` are rejected by [`Filter::check`].
//! * `pr`: present, not null, not `""`, not `[]`, and for complex values at
//!   least one present member.
//! * Comparing a complex attribute that has a `value` sub-attribute compares
//!   that sub-attribute: `emails eq "x"`, `emails co "@x"` (RFC 7644's own
//!   example), `members eq "id"`, `manager eq "id"`.
//! * Booleans: a string literal `"true"`/`"false"` (any case) compares as the
//!   boolean; `True`/`FALSE` keywords are accepted. Only `eq`/`ne`/`pr`.
//! * Strings honour `caseExact` (Unicode lower-casing, no allocation);
//!   `gt`/`ge`/`lt`/`le` are lexicographic on (lower-cased) code points,
//!   numeric on integer/decimal, and chronological on dateTime (RFC 3339,
//!   instants compared, so offsets are honoured; a value without offset is UTC).
//! * Unqualified extension attribute names (`employeeNumber`) are tolerated;
//!   `schemas` can be filtered on (RFC 7644's example).

pub mod path;

use crate::error::ScimError;
use crate::path::{any_flat, snippet, AttrPath, Loc};
use crate::schema::{get_ci, AttrType, Attribute, ResourceType, GROUP, ROLE, USER};
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt;
use time::OffsetDateTime;

/// Longest accepted filter, in bytes; longer → 400 `invalidFilter`.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest accepted nesting of groups: parentheses, `not ( )`, value filters
/// `[ ]` (the whole filter counts as one). Deeper → 400 `invalidFilter`.
/// `and`/`or` chains are flat ([`Filter::And`]/[`Filter::Or`] hold all their
/// operands) and do not add depth.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Comparison operators (RFC 7644 §3.4.2.2, Table 3); `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a keyword, case-insensitively.
    pub fn from_keyword(s: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal: `compValue = false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
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

/// What is tested on the sub-attribute of a [`Filter::ValuePathSub`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Present,
    Compare(CompareOp, CompValue),
}

/// A parsed filter. Invariant (kept by the parser): `And`/`Or` hold at least two
/// operands; paths inside a value filter are plain sub-attribute names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath op value`
    Compare(AttrPath, CompareOp, CompValue),
    /// `not ( filter )`
    Not(Box<Filter>),
    /// `a and b and ...`
    And(Vec<Filter>),
    /// `a or b or ...`
    Or(Vec<Filter>),
    /// `attr[valFilter]`: some element of `attr` matches `valFilter`.
    ValuePath(AttrPath, Box<Filter>),
    /// `attr[valFilter].sub op value` / `.sub pr` (the form IdPs send): some
    /// element matches `valFilter` and its `sub` passes `test`. With `ne`, the
    /// negation of the `eq` form.
    ValuePathSub {
        attr: AttrPath,
        filter: Box<Filter>,
        sub: String,
        test: Test,
    },
}

/// An equality term usable to narrow a list request to an index lookup.
/// Values are as written in the filter (not case-folded); the caller still
/// evaluates the whole filter on the candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexLookup {
    Id(String),
    UserName(String),
    ExternalId(String),
    /// Group or Role `displayName`.
    DisplayName(String),
    /// A User's email address (`emails.value eq`, `emails eq`, `emails[value eq]`,
    /// `emails[type eq "work"].value eq`, `emails[type eq "work" and value eq]`).
    Email(String),
}

// ---------------------------------------------------------------------------
// Parsing

/// Parse a filter (already URL-decoded). Errors are 400 `invalidFilter` saying
/// where the problem is (1-based character position) and what was expected.
/// Linear time; input limited to [`MAX_FILTER_LEN`] bytes and nesting to
/// [`MAX_FILTER_DEPTH`] while parsing.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is too long ({} bytes; at most {MAX_FILTER_LEN})",
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
    pub pos: usize,
    pub msg: String,
}

impl ParseError {
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
                format!("the filter is nested too deeply (more than {MAX_FILTER_DEPTH} levels of parentheses, 'not' and '[ ]')"),
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
            if !crate::path::is_attr_name(sub) {
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

// ---------------------------------------------------------------------------
// Display

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

// ---------------------------------------------------------------------------
// Evaluation

/// What paths are relative to.
#[derive(Clone, Copy)]
enum Scope<'r> {
    /// A whole resource.
    Resource,
    /// One element of a multi-valued (or complex) attribute; `None` for an
    /// undeclared attribute of an open schema.
    Element(Option<&'r Attribute>),
}

/// Where a compared value comes from, and how to compare it.
struct Target<'a> {
    src: Src<'a>,
    /// `None`: infer from the JSON value (undeclared attribute of an open schema).
    ty: Option<AttrType>,
    case_exact: bool,
}

enum Src<'a> {
    Doc(Loc<'a>),
    /// A key of the element object; `None`: the element itself.
    Elem(Option<&'a str>),
}

impl<'a> Target<'a> {
    /// `redirect`: a complex attribute with a `value` sub-attribute stands for it.
    fn new(
        rt: &'a ResourceType,
        scope: Scope<'a>,
        p: &'a AttrPath,
        redirect: bool,
    ) -> Option<Self> {
        match scope {
            Scope::Resource => {
                let mut loc = p.locate(rt)?;
                let mut def = loc.sub_attr.or(loc.attr);
                if redirect && loc.sub.is_none() {
                    if let Some(v) = def
                        .filter(|d| d.ty == AttrType::Complex)
                        .and_then(|d| d.sub("value"))
                    {
                        loc.sub = Some(v.name);
                        loc.sub_attr = Some(v);
                        def = Some(v);
                    }
                }
                Some(Target {
                    src: Src::Doc(loc),
                    ty: def.map(|d| d.ty),
                    case_exact: def.is_some_and(|d| d.case_exact),
                })
            }
            Scope::Element(parent) => {
                if p.urn.is_some() || p.sub.is_some() {
                    return None;
                }
                Self::element(parent, &p.attr)
            }
        }
    }

    /// Sub-attribute `name` of an element of `parent`.
    fn element(parent: Option<&'a Attribute>, name: &'a str) -> Option<Self> {
        let Some(parent) = parent else {
            return Some(Target {
                src: Src::Elem(Some(name)),
                ty: None,
                case_exact: false,
            });
        };
        if let Some(sd) = parent.sub(name) {
            return Some(Target {
                src: Src::Elem(Some(sd.name)),
                ty: Some(sd.ty),
                case_exact: sd.case_exact,
            });
        }
        // A multi-valued simple attribute: `value` is the element itself.
        if parent.sub_attributes.is_empty() && name.eq_ignore_ascii_case("value") {
            return Some(Target {
                src: Src::Elem(None),
                ty: Some(parent.ty),
                case_exact: parent.case_exact,
            });
        }
        None
    }

    fn any<'v>(&self, v: &'v Value, f: &mut impl FnMut(&'v Value) -> bool) -> bool {
        match &self.src {
            Src::Doc(loc) => loc.any(v, f),
            Src::Elem(None) => any_flat(v, f),
            Src::Elem(Some(k)) => match v {
                Value::Object(o) => get_ci(o, k).is_some_and(|x| any_flat(x, f)),
                _ => false,
            },
        }
    }

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

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A JSON number, compared exactly when both sides are integers.
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

impl Num {
    fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::I(i)
        } else if let Some(u) = n.as_u64() {
            Num::U(u)
        } else {
            Num::F(n.as_f64().unwrap_or(f64::NAN))
        }
    }
    fn parse(s: &str) -> Option<Num> {
        parse_number(s.trim()).map(|n| Num::of(&n))
    }
    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F(f) => f,
        }
    }
    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(&b)),
            (Num::U(a), Num::U(b)) => Some(a.cmp(&b)),
            // An u64 that is not an i64 is above every i64.
            (Num::I(_), Num::U(_)) => Some(Ordering::Less),
            (Num::U(_), Num::I(_)) => Some(Ordering::Greater),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

/// A JSON number (RFC 8259 §6 grammar). Integers stay exact; other values are
/// parsed with the standard library's correctly rounded parser so that
/// `Display` (shortest round-trip form) parses back to the same value.
fn parse_number(s: &str) -> Option<Number> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut integral = true;
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
        integral = false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
        integral = false;
    }
    if i != b.len() {
        return None;
    }
    if integral {
        if let Ok(v) = s.parse::<i64>() {
            return Some(v.into());
        }
        if let Ok(v) = s.parse::<u64>() {
            return Some(v.into());
        }
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

/// An RFC 3339 instant; also ISO 8601, and a date-time without offset as UTC.
fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()
        .or_else(|| {
            time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT)
                .ok()
                .map(|p| p.assume_utc())
        })
}

// Case-insensitive string operations without allocation: ASCII fast paths,
// Unicode lower-casing through iterators otherwise.

fn lower(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn str_op(s: &str, l: &str, op: CompareOp, case_exact: bool) -> bool {
    match op {
        CompareOp::Eq => str_eq(s, l, case_exact),
        CompareOp::Ne => !str_eq(s, l, case_exact),
        CompareOp::Co => str_contains(s, l, case_exact),
        CompareOp::Sw => str_starts(s, l, case_exact),
        CompareOp::Ew => str_ends(s, l, case_exact),
        _ => ord_op(str_cmp(s, l, case_exact), op),
    }
}

fn str_eq(a: &str, b: &str, case_exact: bool) -> bool {
    if case_exact {
        a == b
    } else if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        lower(a).eq(lower(b))
    }
}

fn str_cmp(a: &str, b: &str, case_exact: bool) -> Ordering {
    if case_exact {
        a.cmp(b)
    } else if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        lower(a).cmp(lower(b))
    }
}

fn str_starts(h: &str, n: &str, case_exact: bool) -> bool {
    if case_exact {
        h.starts_with(n)
    } else if h.is_ascii() && n.is_ascii() {
        h.len() >= n.len() && h.as_bytes()[..n.len()].eq_ignore_ascii_case(n.as_bytes())
    } else {
        let mut hi = lower(h);
        lower(n).all(|c| hi.next() == Some(c))
    }
}

fn str_ends(h: &str, n: &str, case_exact: bool) -> bool {
    if case_exact {
        h.ends_with(n)
    } else if h.is_ascii() && n.is_ascii() {
        h.len() >= n.len() && h.as_bytes()[h.len() - n.len()..].eq_ignore_ascii_case(n.as_bytes())
    } else {
        let rev_lower = |s: &str| {
            s.chars()
                .rev()
                .flat_map(|c| c.to_lowercase().rev())
                .collect::<Vec<char>>()
        };
        // Rare path (non-ASCII, case-insensitive): allocation acceptable.
        let (h, n) = (rev_lower(h), rev_lower(n));
        h.starts_with(&n)
    }
}

fn str_contains(h: &str, n: &str, case_exact: bool) -> bool {
    if case_exact {
        h.contains(n)
    } else if h.is_ascii() && n.is_ascii() {
        n.is_empty()
            || h.as_bytes()
                .windows(n.len())
                .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
    } else {
        n.is_empty() || h.char_indices().any(|(i, _)| str_starts(&h[i..], n, false))
    }
}

// ---------------------------------------------------------------------------
// Schema checks

impl Filter {
    /// Check operator/type combinations against the schemas of `rt` (call
    /// after [`parse`]). 400 `invalidFilter` for: `gt`/`ge`/`lt`/`le`/`co`/`sw`/`ew`
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

// ---------------------------------------------------------------------------
// Index lookups

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
    use crate::schema::{Registry, SchemaOptions, ENTERPRISE_USER, SAP_USER};
    use crate::ScimType;
    use serde_json::json;

    fn reg() -> Registry {
        Registry::new(&SchemaOptions::default())
    }

    fn user() -> Value {
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "ext-1",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen III"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "someaimhandle", "type": "aim"}],
            "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "primary": true}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"a330bc54f0671c9\""
            },
            ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            },
            SAP_USER: {"userUuid": "u-1", "mailVerified": true, "loginCount": 7, "nickname": "Babs"}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "display": "Babs"}, {"value": "902c246b"}],
            "meta": {"resourceType": "Group"}
        })
    }

    /// Does `f` match the sample user (after a successful check)?
    fn m(f: &str) -> bool {
        let r = reg();
        let filter = parse(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        filter.check(&r.user).unwrap_or_else(|e| panic!("{f}: {e}"));
        filter.matches(&r.user, &user())
    }

    fn mg(f: &str) -> bool {
        let r = reg();
        let filter = parse(f).unwrap();
        filter.check(&r.group).unwrap();
        filter.matches(&r.group, &group())
    }

    fn parse_err(f: &str) -> String {
        let e = parse(f).expect_err(f);
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        e.detail
    }

    fn check_err(f: &str) -> String {
        let r = reg();
        let e = parse(f).unwrap().check(&r.user).expect_err(f);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        e.detail
    }

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
        use super::super::*;
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

        fn path() -> impl Strategy<Value = AttrPath> {
            let name = prop::sample::select(vec![
                "userName", "title", "emails", "value", "type", "x", "a-b_c", "$ref", "Z9", "true",
                "pr",
            ]);
            let urn = prop::option::of(prop::sample::select(vec![
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:x:y",
            ]));
            (urn, name.clone(), prop::option::of(name)).prop_map(|(u, a, s)| AttrPath::new(u, a, s))
        }

        fn simple_path() -> impl Strategy<Value = AttrPath> {
            prop::sample::select(vec![
                "value", "type", "primary", "display", "$ref", "and", "or",
            ])
            .prop_map(|n| AttrPath::new(None, n, None))
        }

        fn value() -> impl Strategy<Value = CompValue> {
            prop_oneof![
                Just(CompValue::Null),
                any::<bool>().prop_map(CompValue::Bool),
                any::<i64>().prop_map(|i| CompValue::Number(i.into())),
                any::<f64>()
                    .prop_filter_map("finite", Number::from_f64)
                    .prop_map(CompValue::Number),
                ".{0,12}".prop_map(CompValue::String),
            ]
        }

        fn op() -> impl Strategy<Value = CompareOp> {
            prop::sample::select(CompareOp::ALL.to_vec())
        }

        fn leaf(p: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
            prop_oneof![
                p.clone().prop_map(Filter::Present),
                (p, op(), value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
            ]
        }

        fn tree(l: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
            l.prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
                    prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                    prop::collection::vec(inner, 2..4).prop_map(Filter::Or),
                ]
            })
        }

        fn filter() -> impl Strategy<Value = Filter> {
            let val_filter = tree(leaf(simple_path().boxed()).boxed()).boxed();
            let vp = (path(), val_filter.clone()).prop_filter_map("no sub", |(p, f)| {
                p.sub.is_none().then(|| Filter::ValuePath(p, Box::new(f)))
            });
            let vps = (
                path(),
                val_filter,
                prop::sample::select(vec!["value", "display"]),
                prop::option::of((op(), value())),
            )
                .prop_filter_map("no sub", |(p, f, s, t)| {
                    p.sub.is_none().then(|| Filter::ValuePathSub {
                        attr: p,
                        filter: Box::new(f),
                        sub: s.to_string(),
                        test: t.map_or(Test::Present, |(o, v)| Test::Compare(o, v)),
                    })
                });
            let leaves = prop_oneof![4 => leaf(path().boxed()), 1 => vp, 1 => vps].boxed();
            tree(leaves)
        }

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
