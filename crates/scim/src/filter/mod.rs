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
//! * Strings honour `caseExact` and compare in the forms of [`crate::text`]
//!   (NFC, plus Unicode full case folding when case-insensitive: the same
//!   forms the unique-name claims and index keys use); `co`/`sw`/`ew` run in
//!   linear time; `gt`/`ge`/`lt`/`le` are lexicographic on those forms' code points,
//!   numeric on integer/decimal, and chronological on dateTime (RFC 3339,
//!   instants compared, so offsets are honoured; a value without offset is UTC).
//! * Unqualified extension attribute names (`employeeNumber`) are tolerated;
//!   `schemas` can be filtered on (RFC 7644's example).
//!
//! One job per file: `parse.rs` reads the grammar ([`parse()`]), `display.rs`
//! writes a filter back in canonical form, `eval.rs` matches documents
//! ([`Filter::matches`]), `check.rs` validates operators against attribute
//! types ([`Filter::check`]), `index.rs` finds an index lookup
//! ([`Filter::index_lookup`]). `target.rs` (where a compared value lives and
//! how it is typed) and `scalar.rs` (numbers, booleans, date-times) serve
//! several of them; [`path`] holds attribute paths. This file holds the types.

mod check;
mod display;
mod eval;
mod index;
mod parse;
pub mod path;
pub(crate) mod scalar;
mod target;

pub use parse::parse;
pub(crate) use parse::parse_value_filter;

use path::AttrPath;
use serde_json::Number;

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
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal (the negation of `eq`).
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal to.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal to.
    Le,
}

impl CompareOp {
    /// Every operator, in the order of RFC 7644's Table 3.
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

    /// The operator's keyword, in lower case (`"eq"`).
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

    /// `gt`, `ge`, `lt` or `le`.
    fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw` or `ew`.
    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// A comparison literal: `compValue = false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false` (keywords in any case).
    Bool(bool),
    /// A JSON number; integers stay exact.
    Number(Number),
    /// A JSON string, unescaped.
    String(String),
}

/// What is tested on the sub-attribute of a [`Filter::ValuePathSub`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `pr`: the sub-attribute is present.
    Present,
    /// `op value`: the sub-attribute compares with the literal.
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
        /// The multi-valued (or complex) attribute before `[`.
        attr: AttrPath,
        /// The value filter between `[` and `]`.
        filter: Box<Filter>,
        /// The sub-attribute name after `].`.
        sub: String,
        /// What is tested on `sub`.
        test: Test,
    },
}

/// An equality term usable to narrow a list request to an index lookup.
/// Values are as written in the filter (not case-folded); the caller still
/// evaluates the whole filter on the candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexLookup {
    /// `id eq "x"`.
    Id(String),
    /// A User's `userName eq "x"`.
    UserName(String),
    /// `externalId eq "x"`.
    ExternalId(String),
    /// Group or Role `displayName`.
    DisplayName(String),
    /// A User's email address (`emails.value eq`, `emails eq`, `emails[value eq]`,
    /// `emails[type eq "work"].value eq`, `emails[type eq "work" and value eq]`).
    Email(String),
}
