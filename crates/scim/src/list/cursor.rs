//! Cursors (RFC 9865 §2): the `cursor` a client sends back to get the next
//! or the previous page of a query.
//!
//! A cursor is a position, not a stored result set: nothing is kept on the
//! server between pages, so nothing expires (`expiredCursor` is never
//! answered; the ServiceProviderConfig's `cursorTimeout` says so).
//!
//! - an unfiltered list of users or groups walks the list itself, and the
//!   position is a list slot (`storage::walk`): the first and the last
//!   page cost the same;
//! - a filtered query (index lookup or scan) and the roles walk the
//!   matches in order of (resource type, id), and the position is the last
//!   id returned: ids never change, so every resource that exists and
//!   matches during the whole walk is returned exactly once.
//!
//! The text is `1`, the direction (`n` next, `p` previous), eight hex
//! digits binding it to the query (resource type, filter, sortBy,
//! sortOrder), `.`, then `s<chunk>-<slot>` or `i<hex of type rank and id>`:
//! only characters of RFC 3986 §2.3's unreserved set, as RFC 9865 §2 asks.
//! Cursors are opaque to clients (RFC 9865 §2); a cursor that does not
//! decode, belongs to another query or names a slot the list never had is
//! answered 400 `invalidCursor` (RFC 9865 §2.1).

use crate::error::{Result, ScimError, ScimType};
use crate::storage::walk::Slot;
use sha2::{Digest, Sha256};

/// `cursorTimeout` (RFC 9865 §4): how long a cursor is guaranteed to work.
/// A cursor is a position and holds no time, so it works for as long as the
/// list exists; this is the largest value a client parsing a 32-bit integer
/// can hold (about 68 years).
pub const CURSOR_TIMEOUT_SECS: u64 = i32::MAX as u64;

/// Longest cursor accepted (an id anchor of a long role id fits).
const MAX_CURSOR_LEN: usize = 600;

/// A resource's place in the order of a filtered walk: its resource type's
/// rank (`0` users, `1` groups, `2` roles) followed by its id, compared as
/// strings.
pub type IdKey = String;

/// What a cursor points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// A slot of the kind's list (unfiltered users and groups).
    Slot(Slot),
    /// A resource in (type, id) order (filtered queries, roles).
    Id(IdKey),
}

/// A decoded `cursor` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Empty: the first page (RFC 9865 §2).
    First,
    /// The page after the anchor (a `nextCursor`).
    Next(Anchor),
    /// The page before the anchor (a `previousCursor`).
    Previous(Anchor),
}

/// What a cursor is bound to: the query's resource type (or `/.search`)
/// and the parameters that decide which resources match and in what order.
pub struct Binding(String);

impl Binding {
    /// The binding of a query on `scope` with these parameters.
    pub fn new(
        scope: &str,
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Binding {
        let mut h = Sha256::new();
        for part in [Some(scope), filter, sort_by, sort_order] {
            h.update(part.unwrap_or("").trim().as_bytes());
            h.update([0]);
        }
        Binding(hex(&h.finalize()[..4]))
    }
}

fn invalid(detail: &str) -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidCursor,
        format!(
            "{detail}; send the nextCursor or previousCursor of a previous page of the same \
             query, or an empty cursor for the first page"
        ),
    )
}

/// The error for a cursor that names a position the list never had: the
/// same as for a malformed one, so that an error tells nothing about the
/// data (RFC 9865 §5.2).
pub fn unknown_position() -> ScimError {
    invalid(NOT_ISSUED)
}

const NOT_ISSUED: &str = "the cursor is not one this server issued";

impl Cursor {
    /// Decode the `cursor` parameter of a query bound to `binding`.
    pub fn decode(text: &str, binding: &Binding) -> Result<Cursor> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Cursor::First);
        }
        if text.len() > MAX_CURSOR_LEN || !text.is_ascii() {
            return Err(invalid(NOT_ISSUED));
        }
        let malformed = || invalid(NOT_ISSUED);
        let (head, anchor) = text.split_once('.').ok_or_else(malformed)?;
        let rest = head.strip_prefix('1').ok_or_else(malformed)?;
        let (dir, hash) = rest.split_at_checked(1).ok_or_else(malformed)?;
        if hash != binding.0 {
            return Err(invalid(
                "the cursor belongs to another query (resource type, filter, sortBy or \
                 sortOrder differ)",
            ));
        }
        let anchor = Anchor::decode(anchor).ok_or_else(malformed)?;
        match dir {
            "n" => Ok(Cursor::Next(anchor)),
            "p" => Ok(Cursor::Previous(anchor)),
            _ => Err(malformed()),
        }
    }

    /// The cursor text, bound to `binding`.
    pub fn encode(&self, binding: &Binding) -> String {
        let (dir, anchor) = match self {
            Cursor::First => return String::new(),
            Cursor::Next(a) => ('n', a),
            Cursor::Previous(a) => ('p', a),
        };
        format!("1{dir}{}.{}", binding.0, anchor.encode())
    }
}

impl Anchor {
    fn encode(&self) -> String {
        match self {
            Anchor::Slot(s) => format!("s{}-{}", s.chunk, s.slot),
            Anchor::Id(key) => format!("i{}", hex(key.as_bytes())),
        }
    }

    fn decode(text: &str) -> Option<Anchor> {
        if let Some(slot) = text.strip_prefix('s') {
            let (c, s) = slot.split_once('-')?;
            return Some(Anchor::Slot(Slot {
                chunk: decimal(c)?,
                slot: decimal(s)?,
            }));
        }
        let key = String::from_utf8(unhex(text.strip_prefix('i')?)?).ok()?;
        Some(Anchor::Id(key))
    }
}

/// A decimal without sign or leading zeros, as `encode` writes it.
fn decimal(s: &str) -> Option<usize> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            let pair = s.get(i..i + 2)?;
            if pair.bytes().any(|b| b.is_ascii_uppercase()) {
                return None;
            }
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Binding {
        Binding::new("Users", None, None, None)
    }

    #[test]
    fn cursors_round_trip_in_unreserved_characters() {
        let b = users();
        let cursors = [
            Cursor::Next(Anchor::Slot(Slot {
                chunk: 390,
                slot: 255,
            })),
            Cursor::Previous(Anchor::Slot(Slot { chunk: 0, slot: 0 })),
            Cursor::Next(Anchor::Id("12819c223-7f76-453a".into())),
            Cursor::Previous(Anchor::Id("2Rôle admin/x".into())),
        ];
        for c in cursors {
            let text = c.encode(&b);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
                "{text}"
            );
            assert_eq!(Cursor::decode(&text, &b).unwrap(), c, "{text}");
        }
        assert_eq!(Cursor::decode("", &b).unwrap(), Cursor::First);
        assert_eq!(Cursor::decode("  ", &b).unwrap(), Cursor::First);
    }

    #[test]
    fn foreign_or_damaged_cursors_are_invalid_cursor_errors() {
        let b = users();
        let good = Cursor::Next(Anchor::Slot(Slot { chunk: 3, slot: 7 })).encode(&b);
        let other_query = [
            Binding::new("Groups", None, None, None),
            Binding::new("Users", Some("userName sw \"a\""), None, None),
            Binding::new("Users", None, Some("userName"), None),
        ];
        for o in &other_query {
            let e = Cursor::decode(&good, o).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
        }
        let bad = [
            "x",
            "garbage",
            "2n00000000.s1-2",
            &good.replace(".s3-7", ".s3-"),
            &good.replace(".s3-7", ".s03-7"),
            &good.replace(".s3-7", ".s-1-7"),
            &good.replace(".s3-7", ".s99999999999999999999999-7"),
            &good.replace(".s3-7", ".izz"),
            &good.replace(".s3-7", ".iA0"),
            &good.replace(".s3-7", ".if"),
            &good.replace(".s3-7", ".i"),
            &good.replace(".s3-7", ".iff"),
            &good.replace('n', "q"),
            &"a".repeat(5000),
            "1né",
        ];
        for text in bad {
            let e = Cursor::decode(text, &b).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidCursor), "{text}");
        }
    }
}
