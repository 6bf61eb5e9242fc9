//! Group and role membership on the store (docs/storage.md, "Membership").
//!
//! Members of a group or role live in a hash trie ([`trie`]): [`MEMBER_BUCKETS`]
//! level-0 buckets chosen by a hash of the user id, each split into 32
//! children (and so on) once it holds more than a few KiB, so adding or
//! removing one member rewrites one small leaf whatever the size of the
//! group. Each user also has a list of the groups (and roles) it is in, kept
//! as a superset: it is written before a member is added and after a member
//! is removed, and readers confirm each entry against the member's leaf.

pub mod preload;
pub mod probe;
pub mod trie;

use crate::error::{Result, ScimError};
use crate::patch::MemberOp;
use crate::schema::Kind;
use crate::storage::layout::{bucket_of, member_path, MEMBER_BUCKETS, MEMBER_DEPTH};
use crate::storage::records::{Repo, Values};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use trie::{belongs, leaf_members, Leaf};

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Stored {
    /// The member as a SCIM `members` value (RFC 7643 §4.2).
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut v = json!({
            "value": self.value,
            "$ref": format!("{base_url}/Users/{}", self.value),
            "type": "User",
        });
        if let Some(d) = &self.display {
            v["display"] = Value::String(d.clone());
        }
        v
    }
}

/// A member as the client sees it, serialised without a JSON tree.
#[derive(Serialize)]
struct MemberOut<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Append `members` as a JSON array to `out` (the same shape as
/// [`Stored::to_json`], written directly).
pub fn write_json(out: &mut Vec<u8>, members: &[Stored], base_url: &str) {
    let items: Vec<MemberOut> = members
        .iter()
        .map(|m| MemberOut {
            value: &m.value,
            reference: format!("{base_url}/Users/{}", m.value),
            display: m.display.as_deref(),
            kind: "User",
        })
        .collect();
    serde_json::to_writer(out, &items).expect("members serialise");
}

/// Bit of a bucket in `Record::buckets`.
pub fn bit(bucket: u32) -> u32 {
    1 << bucket
}

/// The members a bucket's raw value holds (none when absent or unreadable).
pub fn decode(raw: Option<&[u8]>) -> Vec<Stored> {
    raw.and_then(|r| serde_json::from_slice(r).ok())
        .unwrap_or_default()
}

/// The level-0 buckets marked in bitmap `bits`, as trie paths.
pub fn roots(bits: u32) -> Vec<Vec<u8>> {
    (0..MEMBER_BUCKETS)
        .filter(|b| bits & bit(*b) != 0)
        .map(|b| vec![b as u8])
        .collect()
}

/// All members of a container whose record has bucket bitmap `buckets`.
pub fn read_all(repo: &Repo, kind: Kind, id: &str, buckets: u32) -> Result<Vec<Stored>> {
    Ok(read_at_most(repo, kind, id, buckets, usize::MAX)?.unwrap_or_default())
}

/// The members under the level-0 buckets in `bits`, in no order.
pub fn read_buckets(repo: &Repo, kind: Kind, id: &str, bits: u32) -> Result<Vec<Stored>> {
    let mut out = Vec::new();
    trie::walk(repo, kind, id, roots(bits), |node| {
        out.extend(leaf_members(node.raw));
        Ok(true)
    })?;
    Ok(out)
}

/// All members of a container (sorted by id), or `None` as soon as they
/// turn out to be more than `max`: the walk stops there, so memory stays
/// bounded by `max` members and one batch of leaves.
pub fn read_at_most(
    repo: &Repo,
    kind: Kind,
    id: &str,
    buckets: u32,
    max: usize,
) -> Result<Option<Vec<Stored>>> {
    let mut out = Vec::new();
    let mut over = false;
    trie::walk(repo, kind, id, roots(buckets), |node| {
        out.extend(leaf_members(node.raw));
        over = out.len() > max;
        Ok(!over)
    })?;
    if over {
        return Ok(None);
    }
    out.sort_by(|a, b| a.value.cmp(&b.value));
    Ok(Some(out))
}

/// Most members one response may carry, summed over a list's page
/// (`maxMembersPerResponse`, README "Limits"): a larger group is read with
/// `excludedAttributes=members`, as Entra ID and Okta read groups, and
/// membership tested with a `members.value eq` filter.
pub const MAX_MEMBERS_PER_RESPONSE: usize = 100_000;

const TOO_MANY_MEMBERS: &str = "this response would carry more group members than \
     maxMembersPerResponse";

/// The 400 `tooMany` (RFC 7644 §3.12) of a response that would carry more
/// than [`MAX_MEMBERS_PER_RESPONSE`] members.
pub fn too_many_members() -> ScimError {
    ScimError::too_many(format!(
        "{TOO_MANY_MEMBERS} ({MAX_MEMBERS_PER_RESPONSE}); read the group with excludedAttributes=members, and \
         test a membership with filter=id eq \"<groupId>\" and members.value eq \"<userId>\""
    ))
}

/// Whether `e` is [`too_many_members`]'s refusal.
pub fn is_too_many_members(e: &ScimError) -> bool {
    e.status == 400 && e.detail.starts_with(TOO_MANY_MEMBERS)
}

/// For each `(container kind, container id, user id)`: whether the
/// container holds the user (its leaf read, no member list parsed).
pub fn holds(repo: &Repo, queries: &[(Kind, &str, &str)]) -> Result<Vec<bool>> {
    Ok(holds_and(repo, queries, Vec::new())?.0)
}

/// [`holds`], with the values of `extra` keys read in the same first call.
pub fn holds_and(
    repo: &Repo,
    queries: &[(Kind, &str, &str)],
    extra: Vec<String>,
) -> Result<(Vec<bool>, Values)> {
    let (leaves, values) = trie::leaves_and(repo, queries, extra)?;
    let held = leaves
        .iter()
        .zip(queries)
        .map(|(leaf, q)| {
            leaf.raw
                .as_deref()
                .is_some_and(|raw| !trie::is_marker(raw) && bucket_has(raw, q.2))
        })
        .collect();
    Ok((held, values))
}

/// Whether the raw bytes of a bucket hold member `user_id`, without parsing
/// the bucket (see [`entry_at`]).
pub fn bucket_has(bucket: &[u8], user_id: &str) -> bool {
    entry_at(bucket, user_id).is_some()
}

/// Where member `user_id`'s entry starts in the raw bytes of a bucket. The
/// stored form is compact JSON `[{"v":"<id>",…},…]` (the value first, as
/// [`Stored`] serialises), and inside a JSON string a quote is always
/// escaped, so `{"v":"<id>"` occurs only as the start of that entry.
fn entry_at(bucket: &[u8], user_id: &str) -> Option<usize> {
    let needle = format!("{{\"v\":{}", Value::String(user_id.to_string()));
    memchr::memmem::find(bucket, needle.as_bytes())
}

/// 413 unless the leaves `ops` add members to stay within one store value
/// (Spin's 1 MiB) once written: checked before a write's first store call,
/// so that a PATCH, PUT or POST never applies in part (RFC 7644 §3.5.2:
/// PATCH is atomic). Level-0 buckets whose bit is not in `existing` (the
/// record's bitmap, a superset of the buckets holding members) are empty
/// and not read; in the others each added member's leaf is found
/// ([`trie::leaves`], level by level). Conservative: an added member
/// already present counts as growth, and so do the additions of a whole
/// level-0 bucket as if they landed in one leaf.
pub fn check_room(
    repo: &Repo,
    kind: Kind,
    id: &str,
    existing: u32,
    ops: &[MemberOp],
) -> Result<()> {
    // Bytes each added member takes, and their sum per level-0 bucket.
    let mut added: Vec<(&str, usize)> = Vec::new();
    let mut cleared = false;
    for op in ops {
        match op {
            MemberOp::RemoveAll => {
                cleared = true;
                added.clear();
            }
            MemberOp::Add(ms) => {
                for m in ms {
                    let entry = Stored {
                        value: m.value.clone(),
                        display: m.display.clone(),
                    };
                    let n = serde_json::to_vec(&entry).map_or(usize::MAX, |v| v.len() + 1);
                    added.push((&m.value, n));
                }
            }
            MemberOp::Remove(_) | MemberOp::RemoveWhere(_) => {}
        }
    }
    let limit = crate::storage::kv::MAX_VALUE_LEN;
    let mut per_bucket: HashMap<u32, usize> = HashMap::new();
    for (user, n) in &added {
        let e = per_bucket.entry(bucket_of(user)).or_default();
        *e = e.saturating_add(*n);
    }
    // Conservative: as if each bucket's additions landed in one leaf.
    if let Some(n) = per_bucket.values().find(|n| **n > limit) {
        return Err(bucket_full(*n, limit));
    }
    // Members landing in existing buckets: the leaves they land in.
    let queries: Vec<(Kind, &str, &str)> = added
        .iter()
        .filter(|(user, _)| !cleared && existing & bit(bucket_of(user)) != 0)
        .map(|(user, _)| (kind, id, *user))
        .collect();
    if queries.is_empty() {
        return Ok(());
    }
    let leaves: Vec<Leaf> = trie::leaves(repo, &queries)?;
    let mut growth: HashMap<&str, usize> = HashMap::new();
    for (leaf, (user, n)) in leaves.iter().zip(
        added
            .iter()
            .filter(|(user, _)| !cleared && existing & bit(bucket_of(user)) != 0),
    ) {
        debug_assert_eq!(member_path(user)[..leaf.path.len()], leaf.path[..]);
        let e = growth
            .entry(leaf.key.as_str())
            .or_insert_with(|| leaf.raw.as_ref().map_or(0, Vec::len));
        *e = e.saturating_add(*n);
        if *e > limit {
            return Err(bucket_full(*e, limit));
        }
    }
    Ok(())
}

fn bucket_full(n: usize, limit: usize) -> crate::ScimError {
    crate::ScimError::new(
        413,
        None,
        format!(
            "these members would need {n} bytes in one of the group's member buckets, more \
             than maxResourceBytes ({limit}), the store's limit for one value; \
             add fewer members, or shorter \
             display names"
        ),
    )
}

/// Buckets an operation list touches (for the record's bitmap and for reads).
pub fn touched(ops: &[MemberOp], existing: u32) -> u32 {
    let mut bits = 0;
    for op in ops {
        match op {
            MemberOp::Add(ms) => ms.iter().for_each(|m| bits |= bit(bucket_of(&m.value))),
            MemberOp::Remove(ids) => ids.iter().for_each(|id| bits |= bit(bucket_of(id))),
            MemberOp::RemoveAll | MemberOp::RemoveWhere(_) => bits |= existing,
        }
    }
    bits
}

/// Buckets that gain members (set in the record before the bucket is written).
pub fn added_bits(ops: &[MemberOp]) -> u32 {
    let mut bits = 0;
    for op in ops {
        if let MemberOp::Add(ms) = op {
            ms.iter().for_each(|m| bits |= bit(bucket_of(&m.value)));
        }
    }
    bits
}

/// Apply `ops` in order to one leaf's members: the leaf at path `node`,
/// which takes the added members whose path starts there. Returns whether
/// anything changed and the members the ops removed for good (re-added
/// ones are not).
fn apply_to_bucket<F>(
    members: &mut Vec<Stored>,
    node: &[u8],
    ops: &[MemberOp],
    remove_where: &F,
) -> (bool, Vec<String>)
where
    F: Fn(&crate::filter::Filter, &Stored) -> bool,
{
    let mut changed = false;
    let mut removed: Vec<String> = Vec::new();
    let mut take = |members: &mut Vec<Stored>, gone: &dyn Fn(&Stored) -> bool| {
        let before = members.len();
        members.retain(|m| {
            let out = gone(m);
            if out {
                removed.push(m.value.clone());
            }
            !out
        });
        members.len() != before
    };
    for op in ops {
        match op {
            MemberOp::Add(ms) => {
                // Position of each member id: linear in the bucket and the op.
                let mut at: HashMap<String, usize> = members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.value.clone(), i))
                    .collect();
                for m in ms.iter().filter(|m| belongs(node, &m.value)) {
                    match at.get(&m.value) {
                        Some(&i) => {
                            if m.display.is_some() && members[i].display != m.display {
                                members[i].display = m.display.clone();
                                changed = true;
                            }
                        }
                        None => {
                            at.insert(m.value.clone(), members.len());
                            members.push(Stored {
                                value: m.value.clone(),
                                display: m.display.clone(),
                            });
                            changed = true;
                        }
                    }
                }
            }
            MemberOp::Remove(ids) => {
                let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
                changed |= take(members, &|m| gone.contains(m.value.as_str()));
            }
            MemberOp::RemoveAll => changed |= take(members, &|_| true),
            MemberOp::RemoveWhere(f) => changed |= take(members, &|m| remove_where(f, m)),
        }
    }
    if !removed.is_empty() {
        let kept: HashSet<&str> = members.iter().map(|m| m.value.as_str()).collect();
        let mut seen = HashSet::new();
        removed.retain(|v| !kept.contains(v.as_str()) && seen.insert(v.clone()));
    }
    (changed, removed)
}

/// The leaf `raw` at path `node` with `ops` applied, written without parsing it, when
/// `ops` only adds members it does not hold yet (an IdP adding one user to a
/// group): the new members are appended to the stored JSON array as
/// `serde_json` would write them. `None` when the ops need the general path.
fn appended(raw: Option<&[u8]>, node: &[u8], ops: &[MemberOp]) -> Option<Vec<u8>> {
    let [MemberOp::Add(ms)] = ops else {
        return None;
    };
    let body = match raw {
        None => &b""[..],
        Some(r) => r.strip_prefix(b"[")?.strip_suffix(b"]")?,
    };
    let mut out = Vec::with_capacity(body.len() + 2 + 64 * ms.len());
    out.push(b'[');
    out.extend_from_slice(body);
    let mut added: Vec<&str> = Vec::new();
    for m in ms.iter().filter(|m| belongs(node, &m.value)) {
        if added.contains(&m.value.as_str()) || bucket_has(body, &m.value) {
            return None;
        }
        added.push(&m.value);
        if out.len() > 1 {
            out.push(b',');
        }
        let stored = Stored {
            value: m.value.clone(),
            display: m.display.clone(),
        };
        serde_json::to_writer(&mut out, &stored).ok()?;
    }
    if added.is_empty() {
        return None;
    }
    out.push(b']');
    Some(out)
}

/// The bucket `raw` without member `id`, cut out of the stored JSON without
/// parsing the rest, when `ops` only removes that one member and the bucket
/// holds it (a user leaving a group, a user deleted). `None` when the ops
/// need the general path.
fn without_one<'o>(raw: Option<&[u8]>, ops: &'o [MemberOp]) -> Option<(Vec<u8>, &'o str)> {
    let [MemberOp::Remove(ids)] = ops else {
        return None;
    };
    let [id] = ids.as_slice() else {
        return None;
    };
    let raw = raw?;
    // Entries are flat objects of strings; the value is unique in a bucket.
    let start = entry_at(raw, id)?;
    let mut end = None;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in raw.iter().enumerate().skip(start + 1) {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b'}') => {
                end = Some(i + 1);
                break;
            }
            _ => {}
        }
    }
    let end = end?;
    let (cut_start, cut_end) = if raw.get(end) == Some(&b',') {
        (start, end + 1)
    } else if start > 0 && raw[start - 1] == b',' {
        (start - 1, end)
    } else {
        (start, end)
    };
    let mut out = Vec::with_capacity(raw.len() - (cut_end - cut_start));
    out.extend_from_slice(&raw[..cut_start]);
    out.extend_from_slice(&raw[cut_end..]);
    Some((out, id.as_str()))
}

/// The members a change removed, whose membership lists must drop the
/// container (additions were listed before the bucket was written), and
/// the members it added (for the audit trail).
#[derive(Debug, Default)]
pub struct Delta {
    pub removed: Vec<String>,
    pub added: Vec<String>,
}

/// Write `ops` to the trie under the level-0 buckets in `bits`, each leaf
/// with its own compare-and-swap loop (concurrent changes to other members
/// never conflict with this one, and a conflict on the same leaf re-applies
/// the ops). A node found split is left for its children: all 32 for ops
/// that apply to every member (`RemoveAll`, `RemoveWhere`), otherwise those
/// the named members' paths reach. A leaf left larger than
/// [`trie::SPLIT_BYTES`] is split.
pub fn write_buckets<F>(
    repo: &Repo,
    kind: Kind,
    id: &str,
    bits: u32,
    ops: &[MemberOp],
    remove_where: F,
) -> Result<Delta>
where
    F: Fn(&crate::filter::Filter, &Stored) -> bool,
{
    let every = ops
        .iter()
        .any(|op| matches!(op, MemberOp::RemoveAll | MemberOp::RemoveWhere(_)));
    // The paths of the members the ops name (to descend only where needed).
    let named: Vec<[u8; MEMBER_DEPTH + 1]> = if every {
        Vec::new()
    } else {
        ops.iter()
            .flat_map(|op| match op {
                MemberOp::Add(ms) => ms.iter().map(|m| member_path(&m.value)).collect(),
                MemberOp::Remove(ids) => ids.iter().map(|id| member_path(id)).collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let mut delta = Delta::default();
    let mut work = roots(bits);
    while let Some(node) = work.pop() {
        let key = repo.keys.member_node(kind, id, &node);
        let mut removed = Vec::new();
        let mut added = Vec::new();
        let mut split = false;
        let mut written = 0;
        repo.update(&key, |cur| {
            split = cur.is_some_and(trie::is_marker);
            written = 0;
            if split {
                return Ok(None);
            }
            if let Some(bytes) = appended(cur, &node, ops) {
                removed.clear();
                added = added_to(&node, ops);
                written = bytes.len();
                return Ok(Some(bytes));
            }
            added.clear();
            if let Some((bytes, gone)) = without_one(cur, ops) {
                removed = vec![gone.to_string()];
                written = bytes.len();
                return Ok(Some(bytes));
            }
            let mut members = decode(cur);
            let before: Vec<String> = members.iter().map(|m| m.value.clone()).collect();
            let (changed, gone) = apply_to_bucket(&mut members, &node, ops, &remove_where);
            removed = gone;
            added = fresh(&before, &members);
            if !changed {
                return Ok(None);
            }
            let bytes = serde_json::to_vec(&members).expect("members serialise");
            written = bytes.len();
            Ok(Some(bytes))
        })?;
        if split {
            let level = node.len();
            let mut kids: Vec<u8> = if every {
                (0..crate::storage::layout::MEMBER_FANOUT).collect()
            } else {
                named
                    .iter()
                    .filter(|p| p.starts_with(&node))
                    .map(|p| p[level])
                    .collect()
            };
            kids.sort_unstable();
            kids.dedup();
            work.extend(kids.into_iter().map(|c| trie::child(&node, c)));
            continue;
        }
        delta.removed.extend(removed);
        delta.added.extend(added);
        if written > trie::SPLIT_BYTES {
            trie::split(repo, kind, id, &node)?;
        }
    }
    Ok(delta)
}

/// The ids of `after` that are not in `before`.
#[inline(never)]
fn fresh(before: &[String], after: &[Stored]) -> Vec<String> {
    let before: HashSet<&str> = before.iter().map(String::as_str).collect();
    after
        .iter()
        .filter(|m| !before.contains(m.value.as_str()))
        .map(|m| m.value.clone())
        .collect()
}

/// The ids an `Add`-only op list appends to the leaf at `node` (when
/// [`appended`] applies: none of them was there).
fn added_to(node: &[u8], ops: &[MemberOp]) -> Vec<String> {
    ops.iter()
        .flat_map(|op| match op {
            MemberOp::Add(ms) => ms.iter().map(|m| m.value.clone()).collect(),
            _ => Vec::new(),
        })
        .filter(|id| belongs(node, id))
        .collect()
}

/// Remove every member node of a container (after its record is gone):
/// the trie is walked, and its keys deleted a batch at a time.
pub fn delete_all(repo: &Repo, kind: Kind, id: &str, buckets: u32) -> Result<()> {
    let mut keys = Vec::new();
    for b in (0..MEMBER_BUCKETS).filter(|b| buckets & bit(*b) != 0) {
        let key = repo.keys.members(kind, id, b);
        // The level-0 buckets' creation guards (docs/storage.md).
        keys.extend(crate::storage::kv::guard_keys(&key, repo.now));
    }
    trie::walk(repo, kind, id, roots(buckets), |node| {
        if node.raw.is_some() {
            keys.push(node.key.to_string());
        }
        Ok(true)
    })?;
    for batch in keys.chunks(1024) {
        repo.store.delete_many(batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::Member;

    fn member(value: &str, display: Option<&str>) -> Member {
        Member {
            value: value.into(),
            display: display.map(str::to_string),
            kind: Some("User".into()),
        }
    }

    /// Ids whose bucket is `b`.
    fn ids_in_bucket(b: u32, n: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("{i:08x}-0000-4000-8000-000000000000"))
            .filter(|id| bucket_of(id) == b)
            .take(n)
            .collect()
    }

    /// A bucket near the store's value limit refuses more members before
    /// anything is written; an empty or cleared bucket does not need a read.
    #[test]
    fn check_room_refuses_what_would_pass_the_value_limit() {
        use crate::storage::counting::Counting;
        use crate::storage::kv::{Store, MAX_VALUE_LEN};
        use crate::storage::memory::MemStore;
        let store = Counting::new(MemStore::new());
        let repo = Repo::new(&store, "t", 0);
        let ids = ids_in_bucket(3, 2);
        let key = repo.keys.members(Kind::Group, "g", 3);
        store.set(&key, &vec![b' '; MAX_VALUE_LEN - 40]).unwrap();
        let add = |id: &str, display: Option<&str>| [MemberOp::Add(vec![member(id, display)])];
        // 3 is in the record's bitmap: read, and refused with a display name.
        let e = check_room(
            &repo,
            Kind::Group,
            "g",
            bit(3),
            &add(&ids[0], Some("a long name")),
        )
        .unwrap_err();
        assert_eq!(e.status, 413);
        assert!(check_room(&repo, Kind::Group, "g", bit(3), &add(&ids[1], None)).is_err());
        // Not in the bitmap: nothing stored there, nothing read.
        store.reset();
        check_room(&repo, Kind::Group, "g", 0, &add(&ids[0], None)).unwrap();
        assert_eq!(store.traffic().calls, 0);
        // A PUT replaces the members: the bucket's current size does not count.
        let mut ops = vec![MemberOp::RemoveAll];
        ops.extend(add(&ids[0], None));
        check_room(&repo, Kind::Group, "g", bit(3), &ops).unwrap();
        // Far too many added members for one bucket: refused without a read.
        let huge = "d".repeat(4_000);
        let many: Vec<Member> = ids_in_bucket(5, 300)
            .iter()
            .map(|id| member(id, Some(&huge)))
            .collect();
        store.reset();
        assert!(check_room(&repo, Kind::Group, "g", 0, &[MemberOp::Add(many)]).is_err());
        assert_eq!(store.traffic().calls, 0);
    }

    /// What the general path writes for `ops` on `raw` (None: no change).
    fn general(raw: Option<&[u8]>, b: u32, ops: &[MemberOp]) -> Option<Vec<u8>> {
        let mut members = decode(raw);
        let (changed, _) = apply_to_bucket(&mut members, &[b as u8], ops, &|_, _| false);
        changed.then(|| serde_json::to_vec(&members).unwrap())
    }

    #[test]
    fn appending_new_members_writes_what_parsing_would() {
        let b = 7;
        let ids = ids_in_bucket(b, 6);
        let start: Vec<Stored> = ids[..3]
            .iter()
            .map(|v| Stored {
                value: v.clone(),
                display: Some(format!("User \"{v}\" \u{e9}")),
            })
            .collect();
        let raw = serde_json::to_vec(&start).unwrap();
        let other_bucket = ids_in_bucket(b + 1, 1).remove(0);
        for (existing, add) in [
            (
                Some(raw.as_slice()),
                vec![member(&ids[3], Some("Dee \\ \"q\""))],
            ),
            (
                Some(raw.as_slice()),
                vec![member(&ids[3], None), member(&ids[4], Some("E"))],
            ),
            (Some(&b"[]"[..]), vec![member(&ids[5], None)]),
            (
                None,
                vec![member(&ids[5], Some("F")), member(&other_bucket, None)],
            ),
        ] {
            let ops = [MemberOp::Add(add)];
            let fast = appended(existing, &[b as u8], &ops).expect("the fast path applies");
            assert_eq!(fast, general(existing, b, &ops).unwrap());
            let _: Vec<Stored> = serde_json::from_slice(&fast).unwrap();
        }
    }

    #[test]
    fn removing_one_member_writes_what_parsing_would() {
        let b = 9;
        let ids = ids_in_bucket(b, 5);
        // Displays that look like the JSON around them.
        let displays = [
            Some("}, {\"v\":\"x\"} \\".to_string()),
            None,
            Some(format!("{{\"v\":\"{}\"}}", ids[3])),
            Some("plain".to_string()),
        ];
        let stored: Vec<Stored> = ids[..4]
            .iter()
            .zip(&displays)
            .map(|(v, d)| Stored {
                value: v.clone(),
                display: d.clone(),
            })
            .collect();
        let raw = serde_json::to_vec(&stored).unwrap();
        let one = serde_json::to_vec(&stored[..1]).unwrap();
        for (bucket, id) in [
            (&raw, &ids[0]),
            (&raw, &ids[1]),
            (&raw, &ids[2]),
            (&raw, &ids[3]),
            (&one, &ids[0]),
        ] {
            let ops = [MemberOp::Remove(vec![id.clone()])];
            let (fast, gone) = without_one(Some(bucket), &ops).expect("the fast path applies");
            assert_eq!(gone, id.as_str());
            assert_eq!(
                fast,
                general(Some(bucket), b, &ops).unwrap(),
                "removing {id}"
            );
        }
        // Not a member, several ids, nothing stored, other ops.
        let remove = |ids: &[String]| [MemberOp::Remove(ids.to_vec())];
        assert!(without_one(Some(&raw), &remove(&ids[4..5])).is_none());
        assert!(without_one(Some(&raw), &remove(&ids[..2])).is_none());
        assert!(without_one(None, &remove(&ids[..1])).is_none());
        assert!(without_one(Some(&raw), &[MemberOp::RemoveAll]).is_none());
    }

    #[test]
    fn the_fast_path_declines_what_it_cannot_append() {
        let b = 3;
        let ids = ids_in_bucket(b, 2);
        let raw = serde_json::to_vec(&[Stored {
            value: ids[0].clone(),
            display: None,
        }])
        .unwrap();
        let add = |ms: Vec<Member>| [MemberOp::Add(ms)];
        // Already a member (a display update goes through the general path).
        assert!(appended(
            Some(&raw),
            &[b as u8],
            &add(vec![member(&ids[0], Some("new"))])
        )
        .is_none());
        // The same new member twice in one op.
        let twice = add(vec![member(&ids[1], None), member(&ids[1], Some("x"))]);
        assert!(appended(Some(&raw), &[b as u8], &twice).is_none());
        assert_eq!(
            general(Some(&raw), b, &twice).map(|v| decode(Some(&v)).len()),
            Some(2)
        );
        // Nothing for this bucket, other ops, a value that is not an array.
        assert!(appended(
            Some(&raw),
            &[(b + 1) as u8],
            &add(vec![member(&ids[1], None)])
        )
        .is_none());
        let ops = [
            MemberOp::RemoveAll,
            MemberOp::Add(vec![member(&ids[1], None)]),
        ];
        assert!(appended(Some(&raw), &[b as u8], &ops).is_none());
        assert!(appended(Some(b"{}"), &[b as u8], &add(vec![member(&ids[1], None)])).is_none());
    }

    #[test]
    fn removals_report_only_members_gone_for_good() {
        let b = 5;
        let ids = ids_in_bucket(b, 3);
        let mut members: Vec<Stored> = ids
            .iter()
            .map(|v| Stored {
                value: v.clone(),
                display: None,
            })
            .collect();
        let ops = [
            MemberOp::RemoveAll,
            MemberOp::Add(vec![member(&ids[1], None)]),
            MemberOp::Remove(vec![ids[0].clone(), "not-a-member".into()]),
        ];
        let (changed, mut removed) = apply_to_bucket(&mut members, &[b as u8], &ops, &|_, _| false);
        removed.sort();
        let mut want = vec![ids[0].clone(), ids[2].clone()];
        want.sort();
        assert!(changed);
        assert_eq!(removed, want);
        assert_eq!(members.len(), 1);
        // Adding who is there already, with the same display, changes nothing.
        let same = [MemberOp::Add(vec![member(&ids[1], None)])];
        assert_eq!(
            apply_to_bucket(&mut members, &[b as u8], &same, &|_, _| false),
            (false, vec![])
        );
    }

    #[test]
    fn bucket_membership_is_found_without_parsing_and_never_inside_a_display() {
        let id = "2819c223-7f76-453a-919d-413861904646";
        let other = "0b6f1b1e-0000-4000-8000-00000000dead";
        let tricky = Stored {
            value: other.into(),
            // A display that spells out the needle: quotes get escaped.
            display: Some(format!("\"v\":\"{id}\"")),
        };
        let bucket = serde_json::to_vec(&vec![tricky.clone()]).unwrap();
        assert!(!bucket_has(&bucket, id));
        assert!(bucket_has(&bucket, other));
        let with = serde_json::to_vec(&vec![
            tricky,
            Stored {
                value: id.into(),
                display: None,
            },
        ])
        .unwrap();
        assert!(bucket_has(&with, id));
        assert!(!bucket_has(b"", id));
    }
}
