//! Scalars as filters compare them: the JSON number grammar (RFC 8259 §6),
//! exact numeric ordering, boolean words and RFC 3339 instants (RFC 7643 §2.3).

use serde_json::Number;
use std::cmp::Ordering;
use time::OffsetDateTime;

/// `"true"` or `"false"`, in any case.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
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
pub(super) enum Num {
    /// An integer that fits an `i64`.
    I(i64),
    /// An integer above `i64::MAX`.
    U(u64),
    /// Any other number.
    F(f64),
}

impl Num {
    /// The number held by a JSON number.
    pub(super) fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::I(i)
        } else if let Some(u) = n.as_u64() {
            Num::U(u)
        } else {
            Num::F(n.as_f64().unwrap_or(f64::NAN))
        }
    }
    /// A number written as a string (surrounding whitespace ignored).
    pub(super) fn parse(s: &str) -> Option<Num> {
        parse_number(s.trim()).map(|n| Num::of(&n))
    }
    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F(f) => f,
        }
    }
    /// The order of two numbers; `None` only when one is not a number (NaN).
    pub(super) fn compare(self, other: Num) -> Option<Ordering> {
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
pub(super) fn parse_number(s: &str) -> Option<Number> {
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
pub(crate) fn parse_instant(s: &str) -> Option<OffsetDateTime> {
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
