//! The storage layout: every key the engine writes, in one place. See
//! docs/storage.md for the design and its invariants.
//!
//! All keys of a tenant share the prefix `t/<tenant>/`; a key never exceeds
//! 256 bytes whatever the client sends, because client-chosen values are
//! case-folded and, when long or unusual, replaced by their SHA-256.

use crate::schema::Kind;
use sha2::{Digest, Sha256};

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::User => "U",
            Kind::Group => "G",
            Kind::Role => "R",
        }
    }
}

/// The indexed attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAttr {
    /// User userName, Group displayName: unique, one id.
    Name,
    /// externalId: a list of ids.
    ExternalId,
    /// Any email value: a list of ids.
    Email,
}

impl IndexAttr {
    fn code(self) -> &'static str {
        match self {
            IndexAttr::Name => "n",
            IndexAttr::ExternalId => "x",
            IndexAttr::Email => "e",
        }
    }
}

/// Members are spread over this many buckets per group or role, so adding or
/// removing one member rewrites about 1/32 of the list.
pub const MEMBER_BUCKETS: u32 = 32;

/// List chunks hold at most this many ids.
pub const CHUNK_SIZE: usize = 256;

#[derive(Debug, Clone)]
pub struct Keys {
    ns: String,
}

/// Make a client value safe and bounded for use inside a key.
fn key_part(value: &str) -> String {
    let safe = value.len() <= 96
        && !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+-=".contains(&b));
    if safe {
        value.to_string()
    } else {
        let digest = Sha256::digest(value.as_bytes());
        let mut s = String::with_capacity(65);
        s.push('~');
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// The folded form of an indexed value: lower-cased unless `case_exact`
/// (RFC 7643 §2.2 `caseExact`).
pub fn fold(value: &str, case_exact: bool) -> String {
    if case_exact {
        value.to_string()
    } else {
        value.to_lowercase()
    }
}

/// The member bucket of a user id.
pub fn bucket_of(member_id: &str) -> u32 {
    // FNV-1a: stable across builds and platforms.
    let mut h: u32 = 0x811c9dc5;
    for b in member_id.as_bytes() {
        h ^= *b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    h % MEMBER_BUCKETS
}

impl Keys {
    pub fn for_tenant(tenant: &str) -> Keys {
        Keys {
            ns: format!("t/{}/", key_part(tenant)),
        }
    }
    pub fn record(&self, kind: Kind, id: &str) -> String {
        format!("{}r/{}/{}", self.ns, kind.code(), key_part(id))
    }
    /// `folded` is the value after [`fold`].
    pub fn index(&self, kind: Kind, attr: IndexAttr, folded: &str) -> String {
        format!(
            "{}i/{}/{}/{}",
            self.ns,
            kind.code(),
            attr.code(),
            key_part(folded)
        )
    }
    pub fn list_summary(&self, kind: Kind) -> String {
        format!("{}l/{}", self.ns, kind.code())
    }
    pub fn list_chunk(&self, kind: Kind, chunk: usize) -> String {
        format!("{}l/{}/{}", self.ns, kind.code(), chunk)
    }
    pub fn members(&self, kind: Kind, id: &str, bucket: u32) -> String {
        format!("{}m/{}/{}/{}", self.ns, kind.code(), key_part(id), bucket)
    }
    /// The groups (or roles) a user belongs to: `container` is Group or Role.
    pub fn memberships(&self, container: Kind, user_id: &str) -> String {
        format!("{}u/{}/{}", self.ns, container.code(), key_part(user_id))
    }
    /// A key for engine bookkeeping (JWKS cache, quotas).
    pub fn meta(&self, name: &str) -> String {
        format!("{}_/{}", self.ns, key_part(name))
    }
}

/// The family of a key (docs/storage.md), without tenant and ids: `r/U`
/// (user records), `m/G` (group member buckets), `l/U/<chunk>` (list
/// chunks), `i/U/n` (the userName index), … For cost reports.
pub fn family(key: &str) -> String {
    let rest = key
        .strip_prefix("t/")
        .and_then(|k| k.split_once('/'))
        .map_or(key, |(_, r)| r);
    let p: Vec<&str> = rest.split('/').collect();
    match (p.first().copied(), p.len()) {
        (Some("i"), n) if n >= 3 => format!("i/{}/{}", p[1], p[2]),
        (Some("l"), 2) => format!("l/{}", p[1]),
        (Some("l"), _) => format!("l/{}/<chunk>", p.get(1).unwrap_or(&"")),
        (Some(f @ ("r" | "m" | "u")), n) if n >= 2 => format!("{f}/{}", p[1]),
        (Some(f), _) => f.to_string(),
        (None, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_short_whatever_the_client_sends() {
        let k = Keys::for_tenant(&"tenant-with-an-odd name/../".repeat(30));
        let long = "x".repeat(10_000);
        for key in [
            k.record(Kind::User, &long),
            k.index(Kind::User, IndexAttr::Name, &long),
            k.index(Kind::User, IndexAttr::Email, "a b/c\u{0}"),
            k.members(Kind::Group, &long, 31),
            k.memberships(Kind::Role, &long),
        ] {
            assert!(key.len() <= 256, "{} bytes: {key}", key.len());
            assert!(!key.contains(' ') && !key.contains('\u{0}'));
        }
    }

    #[test]
    fn tenants_have_disjoint_namespaces() {
        let a = Keys::for_tenant("a");
        let b = Keys::for_tenant("b");
        assert_ne!(a.record(Kind::User, "1"), b.record(Kind::User, "1"));
        assert!(a.record(Kind::User, "1").starts_with("t/a/"));
    }

    #[test]
    fn folding_follows_case_exactness_and_buckets_are_stable() {
        assert_eq!(fold("Ab", false), "ab");
        assert_eq!(fold("Ab", true), "Ab");
        assert_eq!(
            bucket_of("2819c223-7f76-453a-919d-413861904646"),
            bucket_of("2819c223-7f76-453a-919d-413861904646")
        );
        let spread: std::collections::HashSet<u32> =
            (0..1000).map(|i| bucket_of(&format!("user-{i}"))).collect();
        assert_eq!(spread.len() as u32, MEMBER_BUCKETS);
    }
}
