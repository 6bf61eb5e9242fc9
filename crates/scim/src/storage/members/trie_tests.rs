//! The member trie on stores as weak as Spin's: splits at the threshold,
//! changes and lookups after splits, a change racing a split (both store
//! flavours), a crash at each write of a split, and a store written before
//! the trie (one big level-0 bucket) migrating on first touch.

use super::*;
use crate::patch::{Member, MemberOp};
use crate::storage::counting::Counting;
use crate::storage::kv::Store;
use crate::storage::members::{bit, holds, read_all, write_buckets, Delta};
use crate::storage::memory::{Dying, Flavor, MemStore};
use std::cell::Cell;
use std::rc::Rc;

const G: &str = "g";
/// Not within `GUARD_MARGIN_SECS` of an epoch's start.
const NOW: u64 = 1_000_100;

fn uid(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

/// `n` user ids of level-0 bucket `b`, from the `skip`-th on.
fn in_bucket(b: u32, skip: usize, n: usize) -> Vec<String> {
    (0..)
        .map(uid)
        .filter(|id| bucket_of(id) == b)
        .skip(skip)
        .take(n)
        .collect()
}

fn stored(id: &str) -> Stored {
    Stored {
        value: id.to_string(),
        display: Some(format!("User {}", &id[..8])),
    }
}

/// `op` on member `id`, as the endpoints write it: its level-0 bucket.
fn change(repo: &Repo, id: &str, op: MemberOp) -> Result<Delta> {
    write_buckets(repo, Kind::Group, G, bit(bucket_of(id)), &[op], |_, _| {
        false
    })
}

fn add(repo: &Repo, id: &str) -> Result<Delta> {
    let m = Member {
        value: id.to_string(),
        display: stored(id).display,
        kind: Some("User".into()),
    };
    change(repo, id, MemberOp::Add(vec![m]))
}

fn remove(repo: &Repo, id: &str) -> Result<Delta> {
    change(repo, id, MemberOp::Remove(vec![id.to_string()]))
}

fn members(repo: &Repo) -> Vec<String> {
    read_all(repo, Kind::Group, G, u32::MAX)
        .unwrap()
        .into_iter()
        .map(|m| m.value)
        .collect()
}

fn holds_all(repo: &Repo, ids: &[String]) -> Vec<bool> {
    let q: Vec<(Kind, &str, &str)> = ids.iter().map(|u| (Kind::Group, G, u.as_str())).collect();
    holds(repo, &q).unwrap()
}

fn node(store: &dyn Store, path: &[u8]) -> Option<Vec<u8>> {
    let repo = Repo::new(store, "t", NOW);
    store
        .get(&repo.keys.member_node(Kind::Group, G, path))
        .unwrap()
}

/// Every reachable node of bucket `b`: markers have all 32 children, leaves
/// hold members whose path reaches them and are no larger than a split
/// leaves them (unless at the deepest level).
fn assert_well_formed(store: &dyn Store, b: u8) {
    let mut stack = vec![vec![b]];
    while let Some(path) = stack.pop() {
        let Some(raw) = node(store, &path) else {
            assert_eq!(path.len(), 1, "a split node's child {path:?} is missing");
            continue;
        };
        if is_marker(&raw) {
            stack.extend((0..MEMBER_FANOUT).map(|c| child(&path, c)));
            continue;
        }
        let ms: Vec<Stored> = serde_json::from_slice(&raw).unwrap();
        for m in &ms {
            assert!(
                belongs(&path, &m.value),
                "{} misplaced in {path:?}",
                m.value
            );
        }
        assert!(
            raw.len() <= SPLIT_BYTES + 200,
            "{path:?}: {} bytes",
            raw.len()
        );
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_bucket_splits_past_the_threshold_and_every_member_stays_found() {
    let store = Counting::new(MemStore::new());
    let repo = Repo::new(&store, "t", NOW);
    let ids = in_bucket(4, 0, 600);
    for (i, id) in ids.iter().enumerate() {
        let d = add(&repo, id).unwrap();
        assert_eq!(d.added, vec![id.clone()]);
        let root = node(&store, &[4]).unwrap();
        // Never a leaf much larger than the threshold: it splits at once.
        assert!(is_marker(&root) || root.len() <= SPLIT_BYTES, "after {i}");
    }
    assert!(is_marker(&node(&store, &[4]).unwrap()));
    assert_well_formed(&store, 4);
    assert_eq!(members(&repo), sorted(ids.clone()));
    assert!(holds_all(&repo, &ids).iter().all(|h| *h));
    // Adding a member is one small leaf's worth of writes.
    let more = in_bucket(4, 600, 20);
    for id in &more {
        store.reset();
        add(&repo, id).unwrap();
        let t = store.traffic();
        assert!(t.write_bytes <= 2 * SPLIT_BYTES as u64 + 64, "{t:?}");
    }
    // Removing every other member: gone from lookups and reads, the others stay.
    let (gone, kept): (Vec<_>, Vec<_>) = ids
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let gone: Vec<String> = gone.into_iter().map(|(_, id)| id).collect();
    let mut kept: Vec<String> = kept.into_iter().map(|(_, id)| id).collect();
    for id in &gone {
        assert_eq!(remove(&repo, id).unwrap().removed, vec![id.clone()]);
    }
    assert!(holds_all(&repo, &gone).iter().all(|h| !*h));
    assert!(holds_all(&repo, &kept).iter().all(|h| *h));
    kept.extend(more);
    assert_eq!(members(&repo), sorted(kept));
    // A member of another bucket is not found in this one.
    assert_eq!(holds_all(&repo, &in_bucket(5, 0, 1)), vec![false]);
    assert_well_formed(&store, 4);
}

/// Members of bucket 4 as stored by a build before the trie: one array.
fn legacy_bucket(store: &dyn Store, ids: &[String]) {
    let repo = Repo::new(store, "t", NOW);
    let ms: Vec<Stored> = ids.iter().map(|id| stored(id)).collect();
    store
        .set(
            &repo.keys.members(Kind::Group, G, 4),
            &serde_json::to_vec(&ms).unwrap(),
        )
        .unwrap();
}

#[test]
fn a_change_racing_a_split_lands_on_both_spin_stores() {
    for flavor in [Flavor::SpinSqlite, Flavor::SpinRedis] {
        // A member added between the split's read and its swap.
        let store = MemStore::like(flavor);
        let repo = Repo::new(&store, "t", NOW);
        let ids = in_bucket(4, 0, 120);
        legacy_bucket(&store, &ids);
        let late = in_bucket(4, 120, 1).remove(0);
        let key = repo.keys.members(Kind::Group, G, 4);
        let once = Rc::new(Cell::new(true));
        let (k, l, o) = (key.clone(), late.clone(), once.clone());
        store.interfere(Box::new(move |at, data| {
            if at == k && o.replace(false) {
                let cur = data.get(&k).unwrap();
                let mut ms: Vec<Stored> = serde_json::from_slice(cur).unwrap();
                ms.push(stored(&l));
                data.insert(k.clone(), serde_json::to_vec(&ms).unwrap());
            }
        }));
        split(&repo, Kind::Group, G, &[4]).unwrap();
        assert!(!once.get(), "the race ran");
        assert!(is_marker(&node(&store, &[4]).unwrap()), "{flavor:?}");
        let mut all = ids.clone();
        all.push(late.clone());
        assert_eq!(members(&repo), sorted(all.clone()), "{flavor:?}");
        assert_well_formed(&store, 4);

        // An add whose swap loses to a split: it lands in the child.
        let store = MemStore::like(flavor);
        let repo = Repo::new(&store, "t", NOW);
        legacy_bucket(&store, &ids);
        let mut entries = Vec::new();
        let ms: Vec<Stored> = ids.iter().map(|id| stored(id)).collect();
        subtree(&repo, Kind::Group, G, &[4], ms, &mut entries);
        let once = Rc::new(Cell::new(true));
        let (k, o) = (key.clone(), once.clone());
        store.interfere(Box::new(move |at, data| {
            if at == k && o.replace(false) {
                for (ek, ev) in &entries {
                    data.insert(ek.clone(), ev.clone());
                }
                data.insert(k.clone(), MARKER.to_vec());
            }
        }));
        assert_eq!(add(&repo, &late).unwrap().added, vec![late.clone()]);
        assert!(!once.get(), "the race ran");
        assert_eq!(members(&repo), sorted(all), "{flavor:?}");
        assert_eq!(holds_all(&repo, std::slice::from_ref(&late)), vec![true]);
        assert_well_formed(&store, 4);
    }
}

#[test]
fn a_crash_at_any_write_of_a_split_loses_no_member() {
    // Just under the threshold: the next add writes the leaf, wins the
    // split guard, writes 32 children one by one (set-many is not atomic
    // under Spin) and swaps the marker in.
    let ids = in_bucket(4, 0, 200);
    let fill = (1..200)
        .find(|n| {
            let ms: Vec<Stored> = ids[..*n].iter().map(|id| stored(id)).collect();
            serde_json::to_vec(&ms).unwrap().len() > SPLIT_BYTES - 40
        })
        .unwrap();
    let (before, next) = (&ids[..fill], &ids[fill]);
    let mut finished = false;
    for budget in 0.. {
        let inner = MemStore::new();
        legacy_bucket(&inner, before);
        let dying = Dying::new(&inner, budget);
        let died = add(&Repo::new(&dying, "t", NOW), next).is_err();
        // Restarted: everything acknowledged before is there; the new
        // member is there once its leaf write (the first write) was made.
        let repo = Repo::new(&inner, "t", NOW);
        let mut want: Vec<String> = before.to_vec();
        if budget > 0 {
            want.push(next.clone());
        }
        assert_eq!(members(&repo), sorted(want.clone()), "budget {budget}");
        assert!(
            holds_all(&repo, &want).iter().all(|h| *h),
            "budget {budget}"
        );
        assert_well_formed(&inner, 4);
        // Later changes work, and split the leaf once the guard's epochs
        // have passed.
        let later = Repo::new(&inner, "t", NOW + 3 * GUARD_EPOCH_SECS);
        let extra = &ids[fill + 1];
        add(&later, extra).unwrap();
        remove(&later, &before[0]).unwrap();
        want.push(extra.clone());
        want.retain(|id| *id != before[0]);
        assert_eq!(members(&later), sorted(want), "budget {budget}");
        assert!(is_marker(&node(&inner, &[4]).unwrap()), "budget {budget}");
        assert_well_formed(&inner, 4);
        if !died {
            finished = true;
            assert!(budget > 30, "a split takes its 32 children's writes");
            break;
        }
    }
    assert!(finished);
}

#[test]
fn a_bucket_written_before_the_trie_splits_on_first_touch() {
    // 3,000 members in one level-0 bucket (about 130 KiB), as earlier
    // builds wrote a group of about 100,000, and a small bucket beside it.
    let store = Counting::new(MemStore::new());
    let repo = Repo::new(&store, "t", NOW);
    let ids = in_bucket(4, 0, 3_000);
    legacy_bucket(&store, &ids);
    let small = in_bucket(5, 0, 3);
    let ms: Vec<Stored> = small.iter().map(|id| stored(id)).collect();
    store
        .set(
            &repo.keys.members(Kind::Group, G, 5),
            &serde_json::to_vec(&ms).unwrap(),
        )
        .unwrap();
    let mut all: Vec<String> = ids.iter().chain(&small).cloned().collect();
    // Read as before: the depth-0 case of the trie.
    assert_eq!(members(&repo), sorted(all.clone()));
    assert!(holds_all(&repo, &all).iter().all(|h| *h));
    // The first change splits it.
    remove(&repo, &ids[7]).unwrap();
    all.retain(|id| *id != ids[7]);
    assert!(is_marker(&node(&store, &[4]).unwrap()));
    assert_well_formed(&store, 4);
    assert_eq!(members(&repo), sorted(all.clone()));
    assert!(holds_all(&repo, &all).iter().all(|h| *h));
    assert_eq!(holds_all(&repo, &[ids[7].clone()]), vec![false]);
    // From then on a change writes one small leaf, not the 130 KiB bucket.
    store.reset();
    let new = in_bucket(4, 3_000, 1).remove(0);
    add(&repo, &new).unwrap();
    remove(&repo, &ids[8]).unwrap();
    assert!(
        store.traffic().write_bytes < 2 * SPLIT_BYTES as u64,
        "{:?}",
        store.traffic()
    );
    // The small bucket did not change.
    assert!(!is_marker(&node(&store, &[5]).unwrap()));
    assert_eq!(holds_all(&repo, &[small[0].clone(), new]), vec![true, true]);
}

#[test]
fn ops_on_every_member_reach_every_leaf() {
    let store = MemStore::new();
    let repo = Repo::new(&store, "t", NOW);
    let ids = in_bucket(4, 0, 500);
    legacy_bucket(&store, &ids);
    split(&repo, Kind::Group, G, &[4]).unwrap();
    assert!(is_marker(&node(&store, &[4]).unwrap()));
    // A PUT's replacement: every member removed, two added back.
    let keep: Vec<Member> = ids[..2]
        .iter()
        .map(|id| Member {
            value: id.clone(),
            display: None,
            kind: None,
        })
        .collect();
    let d = write_buckets(
        &repo,
        Kind::Group,
        G,
        bit(4),
        &[MemberOp::RemoveAll, MemberOp::Add(keep)],
        |_, _| false,
    )
    .unwrap();
    assert_eq!(d.removed.len(), 498);
    assert_eq!(members(&repo), sorted(ids[..2].to_vec()));
    assert_well_formed(&store, 4);
    // Deleting the group removes every node it has.
    crate::storage::members::delete_all(&repo, Kind::Group, G, bit(4)).unwrap();
    assert!(
        store
            .keys()
            .iter()
            .all(|k| !k.contains("/m/G/") || k.contains("#g")),
        "{:?}",
        store.keys()
    );
}

#[test]
fn a_leaf_of_one_long_member_is_not_split() {
    let store = MemStore::new();
    let repo = Repo::new(&store, "t", NOW);
    let id = in_bucket(4, 0, 1).remove(0);
    let m = Member {
        value: id.clone(),
        display: Some("d".repeat(4_096)),
        kind: None,
    };
    change(&repo, &id, MemberOp::Add(vec![m])).unwrap();
    let root = node(&store, &[4]).unwrap();
    assert!(root.len() > SPLIT_BYTES && !is_marker(&root));
    assert_eq!(
        store.len(),
        2,
        "the leaf and its creation guard: {:?}",
        store.keys()
    );
}
