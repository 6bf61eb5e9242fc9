//! The member trie of a group or role (docs/storage.md, "Membership"): the
//! 32 level-0 buckets `m/<kind>/<id>/<b>` of earlier builds, each of which
//! splits, once it holds more than [`SPLIT_BYTES`], into 32 children
//! `…/<b>/<c>` keyed by the next 5 bits of the member's hash
//! ([`member_path`]), and so on down to [`MEMBER_DEPTH`] levels. Adding or
//! removing one member rewrites one leaf of a few KiB whatever the size of
//! the group, and a store written before the trie is its depth-0 case: the
//! first change of an over-sized bucket splits it (migration on first
//! touch).
//!
//! A node holds either members (a leaf: the JSON array of
//! [`Stored`](super::Stored)) or [`MARKER`] (split: its 32 children hold
//! them). The leaf of a member is the first node on its path that is not a
//! marker; children of a node that is not a marker are ignored (leftovers
//! of a split that died, overwritten by the next split).
//!
//! A split, crash-safe on Spin's weak stores (docs/storage.md, "What Spin's
//! stores guarantee"):
//! 1. one splitter per node: it wins the node's split guard (an
//!    `increment`, as creation guards are won); others leave the leaf as it
//!    is (it is only larger than it needs to be);
//! 2. one `set-many` writes the node's new subtree: its 32 children (and,
//!    for children still too large, theirs), all of them, empty ones too;
//! 3. a compare-and-swap against exactly the value it copied turns the node
//!    into a marker. A concurrent change of the node fails it; the splitter
//!    reads again and repeats 2 and 3. A change that lost to the marker
//!    reads the path again and lands in the child.
//!
//! So every marker's 32 children were written before it became one, and a
//! crash before step 3 leaves only unreachable children.

use super::{decode, Stored};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::kv::{self, guard_key, Swap, GUARD_EPOCH_SECS, GUARD_MARGIN_SECS};
use crate::storage::layout::{bucket_of, member_path, MEMBER_DEPTH, MEMBER_FANOUT};
use crate::storage::records::{Repo, Values, MAX_RETRIES};
use std::collections::HashMap;

/// A leaf larger than this after a change is split: a leaf stays a few KiB
/// (about 60 members with short display names), so a change of one member
/// writes that much whatever the size of the group.
pub const SPLIT_BYTES: usize = 4096;

/// The value of a split node. Not a JSON array, so readers of earlier
/// builds would take it for an empty bucket rather than fail.
pub const MARKER: &[u8] = b"{\"split\":32}";

/// Keys read in one batch while walking a trie.
const WALK_BATCH: usize = 1024;

/// Whether a node's value is a split marker.
pub fn is_marker(raw: &[u8]) -> bool {
    raw.first() == Some(&b'{')
}

/// Whether member `user_id` belongs under node `node` (a path prefix).
pub fn belongs(node: &[u8], user_id: &str) -> bool {
    match node {
        [] => true,
        [b] => bucket_of(user_id) == *b as u32,
        _ => member_path(user_id).starts_with(node),
    }
}

/// One node of a trie as read.
pub struct Node<'a> {
    /// Its key.
    pub key: &'a str,
    /// Its value (`None`: absent).
    pub raw: Option<&'a [u8]>,
}

/// Visit every node reachable from the level-0 buckets `roots` of container
/// `id`, level by level (one batched read per level and [`WALK_BATCH`]
/// keys): markers, then their children. `visit` answers whether to go on.
pub fn walk(
    repo: &Repo,
    kind: Kind,
    id: &str,
    roots: Vec<Vec<u8>>,
    mut visit: impl FnMut(Node) -> Result<bool>,
) -> Result<()> {
    let mut level = roots;
    while !level.is_empty() {
        let mut next = Vec::new();
        for batch in level.chunks(WALK_BATCH) {
            let keys: Vec<String> = batch
                .iter()
                .map(|p| repo.keys.member_node(kind, id, p))
                .collect();
            for ((path, key), raw) in batch.iter().zip(&keys).zip(repo.store.get_many(&keys)?) {
                let raw = raw.as_deref();
                if !visit(Node { key, raw })? {
                    return Ok(());
                }
                if raw.is_some_and(is_marker) && path.len() <= MEMBER_DEPTH {
                    next.extend((0..MEMBER_FANOUT).map(|c| child(path, c)));
                }
            }
        }
        level = next;
    }
    Ok(())
}

/// `path` extended by child index `c`.
pub fn child(path: &[u8], c: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(path.len() + 1);
    p.extend_from_slice(path);
    p.push(c);
    p
}

/// A member's leaf as read: its path, key and value.
pub struct Leaf {
    /// The leaf's path.
    pub path: Vec<u8>,
    /// The leaf's key.
    pub key: String,
    /// The leaf's value (`None`: absent, no members).
    pub raw: Option<Vec<u8>>,
}

/// The leaf of each `(container kind, container id, user id)`: the paths
/// are read level by level, every query's node of one level in one batched
/// read (a group that never split costs one read, as before the trie).
pub fn leaves(repo: &Repo, queries: &[(Kind, &str, &str)]) -> Result<Vec<Leaf>> {
    Ok(leaves_and(repo, queries, Vec::new())?.0)
}

/// [`leaves`], with the values of `extra` keys read in its first batch
/// (one store call for a caller that needs both).
pub fn leaves_and(
    repo: &Repo,
    queries: &[(Kind, &str, &str)],
    mut extra: Vec<String>,
) -> Result<(Vec<Leaf>, Values)> {
    let mut extra_values = Vec::new();
    let paths: Vec<[u8; MEMBER_DEPTH + 1]> = queries.iter().map(|q| member_path(q.2)).collect();
    let mut depth = vec![1usize; queries.len()];
    let mut out: Vec<Option<Leaf>> = queries.iter().map(|_| None).collect();
    loop {
        let open: Vec<usize> = (0..queries.len()).filter(|i| out[*i].is_none()).collect();
        if open.is_empty() && extra.is_empty() {
            break;
        }
        // Each key once: the users of a page share a container's nodes.
        let mut keys: Vec<String> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        let slots: Vec<usize> = open
            .iter()
            .map(|i| {
                let (kind, cid, _) = queries[*i];
                let key = repo.keys.member_node(kind, cid, &paths[*i][..depth[*i]]);
                *slot.entry(key.clone()).or_insert_with(|| {
                    keys.push(key);
                    keys.len() - 1
                })
            })
            .collect();
        let own = keys.len();
        keys.append(&mut extra);
        let mut values: Vec<Option<Vec<u8>>> = repo.store.get_many(&keys)?;
        if values.len() > own {
            extra_values = values.split_off(own);
        }
        for (i, s) in open.into_iter().zip(slots) {
            let raw = values[s].as_deref();
            if raw.is_some_and(is_marker) && depth[i] <= MEMBER_DEPTH {
                depth[i] += 1;
                continue;
            }
            let (kind, cid, _) = queries[i];
            let path = paths[i][..depth[i]].to_vec();
            out[i] = Some(Leaf {
                key: repo.keys.member_node(kind, cid, &path),
                path,
                // The last query of a key takes its value, the others copy.
                raw: values[s].clone(),
            });
        }
        values.clear();
    }
    let leaves = out
        .into_iter()
        .map(|l| l.expect("every query ends"))
        .collect();
    Ok((leaves, extra_values))
}

/// Split leaf `node` of container `id` if it is still larger than
/// [`SPLIT_BYTES`] and this request wins its split guard (see the module
/// documentation for the steps). Gives up quietly after [`MAX_RETRIES`]
/// conflicts: the leaf is then only larger than it needs to be.
pub fn split(repo: &Repo, kind: Kind, id: &str, node: &[u8]) -> Result<()> {
    split_over(repo, kind, id, node, SPLIT_BYTES)
}

/// [`split`] of a leaf larger than `over` bytes (tests split small leaves;
/// the subtree below still splits at [`SPLIT_BYTES`]).
pub(crate) fn split_over(
    repo: &Repo,
    kind: Kind,
    id: &str,
    node: &[u8],
    over: usize,
) -> Result<()> {
    if node.len() > MEMBER_DEPTH {
        return Ok(());
    }
    let key = repo.keys.member_node(kind, id, node);
    // What to split, if anything: read before the guard is taken.
    let to_split = |cur: Option<Vec<u8>>| -> Option<(Vec<u8>, Vec<Stored>)> {
        let cur = cur.filter(|c| !is_marker(c) && c.len() > over)?;
        // Not a member array: left for the store checker.
        let members: Vec<Stored> = serde_json::from_slice(&cur).ok()?;
        // One member with a long display name: nothing to spread.
        (members.len() > 1).then_some((cur, members))
    };
    if to_split(repo.store.get(&key)?).is_none() || !win_split_guard(repo, &key)? {
        return Ok(());
    }
    for _ in 0..MAX_RETRIES {
        let Some((cur, members)) = to_split(repo.store.get(&key)?) else {
            return Ok(());
        };
        let mut entries = Vec::new();
        subtree(repo, kind, id, node, members, &mut entries);
        repo.store.set_many(&entries)?;
        if repo.store.compare_and_swap(&key, &cur, MARKER)? == Swap::Done {
            return Ok(());
        }
    }
    Ok(())
}

/// The entries of node `node`'s children holding `members`: all 32 of them,
/// and below each child still larger than [`SPLIT_BYTES`] its own subtree.
pub(crate) fn subtree(
    repo: &Repo,
    kind: Kind,
    id: &str,
    node: &[u8],
    members: Vec<Stored>,
    entries: &mut Vec<(String, Vec<u8>)>,
) {
    let level = node.len();
    let mut kids: Vec<Vec<Stored>> = (0..MEMBER_FANOUT).map(|_| Vec::new()).collect();
    for m in members {
        kids[member_path(&m.value)[level] as usize].push(m);
    }
    for (c, kid) in kids.into_iter().enumerate() {
        let path = child(node, c as u8);
        let key = repo.keys.member_node(kind, id, &path);
        let bytes = serde_json::to_vec(&kid).expect("members serialise");
        if bytes.len() > SPLIT_BYTES && kid.len() > 1 && path.len() <= MEMBER_DEPTH {
            entries.push((key, MARKER.to_vec()));
            subtree(repo, kind, id, &path, kid, entries);
        } else {
            entries.push((key, bytes));
        }
    }
}

/// Whether this request may split the node at `key`: the one whose
/// `increment` of the node's split guard answers 1, in this epoch (and,
/// near its start, the previous one), as creation guards are won
/// (`kv::create`). A splitter that dies holds the node for an epoch at most.
fn win_split_guard(repo: &Repo, key: &str) -> Result<bool> {
    let lock = format!("{key}/split");
    let epoch = repo.now / GUARD_EPOCH_SECS;
    if kv::increment(repo.store, &guard_key(&lock, epoch), 1)? != 1 {
        return Ok(false);
    }
    if epoch > 0
        && repo.now % GUARD_EPOCH_SECS < GUARD_MARGIN_SECS
        && kv::increment(repo.store, &guard_key(&lock, epoch - 1), 1)? != 1
    {
        return Ok(false);
    }
    Ok(true)
}

/// The members of a leaf's raw value (none for a marker or absent node).
pub fn leaf_members(raw: Option<&[u8]>) -> Vec<Stored> {
    match raw {
        Some(r) if is_marker(r) => Vec::new(),
        r => decode(r),
    }
}

#[cfg(test)]
#[path = "trie_tests.rs"]
mod tests;
