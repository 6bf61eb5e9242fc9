//! The storage layout: every key the engine writes, in one place. See
//! docs/storage.md for the design and its invariants.
//!
//! All keys of a tenant share the prefix `t/<tenant>/`; a key never exceeds
//! 256 bytes whatever the client sends, because client-chosen values are
//! normalised ([`fold`]) and, when long or unusual, replaced by their SHA-256.

use crate::schema::Kind;
use crate::text;
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

/// The form of an indexed value in its key: [`crate::text::comparable`],
/// i.e. NFC, then Unicode full case folding unless `case_exact` (RFC 7643
/// §2.2 `caseExact`). Filters compare in the same form, so a value found by
/// an index read is one the filter matches, and the other way round. ASCII
/// values fold to their ASCII lower case, as they always did.
pub fn fold(value: &str, case_exact: bool) -> String {
    text::comparable(value, case_exact).into_owned()
}

/// The key form an older build gave `value` (`str::to_lowercase`, or the
/// value as sent when `case_exact`), when it differs from [`fold`]'s: only
/// for some non-ASCII values (a final sigma, `ß`, `µ`, NFD spellings, …).
/// Claims and lookups consult it too, so names stored before the one
/// Unicode rule are still found and still unique (docs/storage.md).
pub fn legacy_fold(value: &str, case_exact: bool) -> Option<String> {
    if value.is_ascii() {
        return None;
    }
    let old = if case_exact {
        value.to_string()
    } else {
        value.to_lowercase()
    };
    (old != fold(value, case_exact)).then_some(old)
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

/// Levels a group's member trie may grow below its level-0 bucket: each
/// level uses 5 more bits of [`member_path`]'s 64-bit hash (60 of them).
pub const MEMBER_DEPTH: usize = 12;

/// Children of a split member node (5 bits of the hash per level).
pub const MEMBER_FANOUT: u8 = 32;

/// The path of member `member_id` in a member trie (docs/storage.md,
/// "Membership"): `[bucket_of(id), c1, …, c12]`. Level 0 is today's bucket
/// (FNV-1a, so stores written before the trie are its depth-0 case); the
/// deeper levels take 5 bits each, highest first, of the first 8 bytes of
/// the id's SHA-256, independent of level 0's hash (FNV's low bits are the
/// same for its 32- and 64-bit forms, so a second FNV would not spread).
pub fn member_path(member_id: &str) -> [u8; MEMBER_DEPTH + 1] {
    let digest = Sha256::digest(member_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let h = u64::from_be_bytes(first);
    let mut path = [0u8; MEMBER_DEPTH + 1];
    path[0] = bucket_of(member_id) as u8;
    for (level, slot) in path.iter_mut().enumerate().skip(1) {
        *slot = ((h >> (64 - 5 * level)) & 31) as u8;
    }
    path
}

impl Keys {
    pub fn for_tenant(tenant: &str) -> Keys {
        Keys {
            ns: format!("t/{}/", key_part(tenant)),
        }
    }
    /// The keys of the tenant whose keys start with `prefix` (`t/<tenant>/`
    /// as stored), for the store checker, which meets tenants by their keys.
    pub fn for_prefix(prefix: &str) -> Keys {
        Keys {
            ns: prefix.to_string(),
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
    /// The member trie node at `path` (level-0 bucket first, then one
    /// child index per level): `m/<kind>/<id>/<b>/<c1>/…`. A one-element
    /// path is [`Keys::members`].
    pub fn member_node(&self, kind: Kind, id: &str, path: &[u8]) -> String {
        let mut key = format!("{}m/{}/{}", self.ns, kind.code(), key_part(id));
        for p in path {
            key.push('/');
            key.push_str(&p.to_string());
        }
        key
    }
    /// The groups (or roles) a user belongs to: `container` is Group or Role.
    pub fn memberships(&self, container: Kind, user_id: &str) -> String {
        format!("{}u/{}/{}", self.ns, container.code(), key_part(user_id))
    }
    /// A key of the audit log (the `audit` module): `a/seq`, `a/tail`,
    /// `a/e/<seq>`, `a/c/<seq>`.
    pub fn audit(&self, name: &str) -> String {
        format!("{}a/{}", self.ns, name)
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
        (Some("a"), n) if n >= 3 => format!("a/{}", p[1]),
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
            k.member_node(Kind::Group, &long, &[31; MEMBER_DEPTH + 1]),
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
    fn index_keys_follow_the_one_unicode_rule() {
        let k = Keys::for_tenant("t");
        let key = |v: &str, exact: bool| k.index(Kind::User, IndexAttr::Name, &fold(v, exact));
        // Final sigma, capitals, a mid-word sigma: one key (issue 16).
        assert_eq!(key("bfb1οδος", false), key("bfb1ΟΔΟΣ", false));
        assert_eq!(key("bfb1οδος", false), key("bfb1οδοσ", false));
        // NFC and NFD spellings: one key, case-exact or not.
        assert_eq!(key("caf\u{e9}", false), key("CAFE\u{301}", false));
        assert_eq!(key("Caf\u{e9}", true), key("Cafe\u{301}", true));
        assert_ne!(key("Caf\u{e9}", true), key("CAF\u{c9}", true));
        // Full case folding.
        assert_eq!(key("Straße", false), key("STRASSE", false));
        // ASCII keys are what they always were.
        assert_eq!(
            key("BJensen@Example.com", false),
            key("bjensen@example.com", false)
        );
        assert!(key("BJensen@Example.com", false).ends_with("/bjensen@example.com"));
    }

    #[test]
    fn legacy_keys_differ_only_where_the_old_fold_did() {
        // The old index key of a final sigma kept the ς.
        assert_eq!(legacy_fold("ΟΔΟΣ", false).as_deref(), Some("οδος"));
        assert_eq!(legacy_fold("οδος", false).as_deref(), Some("οδος"));
        assert_eq!(legacy_fold("Straße", false).as_deref(), Some("straße"));
        assert_eq!(
            legacy_fold("cafe\u{301}", false).as_deref(),
            Some("cafe\u{301}")
        );
        assert_eq!(
            legacy_fold("Cafe\u{301}", true).as_deref(),
            Some("Cafe\u{301}")
        );
        // Most non-ASCII names keep their key: NFC Latin, Cyrillic, CJK.
        for same in ["Élodie Ünal", "Алёна", "山田太郎", "Łukasz"] {
            assert_eq!(legacy_fold(same, false), None, "{same}");
            assert_eq!(legacy_fold(same, true), None, "{same}");
        }
        assert_eq!(legacy_fold("BJENSEN", false), None);
    }

    #[test]
    fn folding_follows_case_exactness_and_buckets_are_stable() {
        assert_eq!(fold("Ab", false), "ab");
        assert_eq!(fold("Ab", true), "Ab");
        assert_eq!(legacy_fold("Ab", false), None);
        assert_eq!(
            bucket_of("2819c223-7f76-453a-919d-413861904646"),
            bucket_of("2819c223-7f76-453a-919d-413861904646")
        );
        let spread: std::collections::HashSet<u32> =
            (0..1000).map(|i| bucket_of(&format!("user-{i}"))).collect();
        assert_eq!(spread.len() as u32, MEMBER_BUCKETS);
    }

    #[test]
    fn member_paths_start_at_the_bucket_and_spread_below_it() {
        let k = Keys::for_tenant("t");
        let id = "2819c223-7f76-453a-919d-413861904646";
        let p = member_path(id);
        assert_eq!(p[0] as u32, bucket_of(id));
        assert_eq!(p, member_path(id));
        assert_eq!(
            k.member_node(Kind::Group, "g", &p[..1]),
            k.members(Kind::Group, "g", bucket_of(id))
        );
        assert_eq!(
            k.member_node(Kind::Group, "g", &[3, 17, 0]),
            "t/t/m/G/g/3/17/0"
        );
        // Ids of one level-0 bucket spread over all 32 children, at every level.
        let ids: Vec<String> = (0..20_000)
            .map(|i| format!("user-{i}"))
            .filter(|id| bucket_of(id) == 5)
            .collect();
        for level in 1..=3 {
            let spread: std::collections::HashSet<u8> =
                ids.iter().map(|id| member_path(id)[level]).collect();
            assert_eq!(spread.len(), MEMBER_FANOUT as usize, "level {level}");
        }
    }
}
