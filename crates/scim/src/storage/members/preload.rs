//! Growing a fresh group to many members in one pass, with the engine's own
//! layout code ([`super::trie`]): for the bench (`make bench-members`),
//! which measures changes of one member in a group of a million without a
//! million PATCHes first. Members need no user records: adding or removing
//! one member never reads the others'.

use super::{bit, trie, Stored};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::kv::Store;
use crate::storage::layout::bucket_of;
use crate::storage::records::{Record, Repo};

/// Write `members` (`(user id, display)`) as the members of group `id`
/// of `tenant`, whose record exists and has none yet: each level-0 bucket
/// as a leaf, or split as a trie grown one member at a time would be
/// (leaves of at most [`trie::SPLIT_BYTES`]); then the record's bitmap.
pub fn preload_group(
    store: &dyn Store,
    tenant: &str,
    now: u64,
    id: &str,
    members: impl IntoIterator<Item = (String, Option<String>)>,
) -> Result<()> {
    let repo = Repo::new(store, tenant, now);
    let mut buckets: Vec<Vec<Stored>> = (0..32).map(|_| Vec::new()).collect();
    for (value, display) in members {
        buckets[bucket_of(&value) as usize].push(Stored { value, display });
    }
    let mut bits = 0;
    for (b, ms) in buckets.into_iter().enumerate() {
        if ms.is_empty() {
            continue;
        }
        bits |= bit(b as u32);
        let node = [b as u8];
        let key = repo.keys.member_node(Kind::Group, id, &node);
        let bytes = serde_json::to_vec(&ms).expect("members serialise");
        let mut entries = Vec::new();
        if bytes.len() > trie::SPLIT_BYTES {
            trie::subtree(&repo, Kind::Group, id, &node, ms, &mut entries);
            entries.push((key, trie::MARKER.to_vec()));
        } else {
            entries.push((key, bytes));
        }
        for batch in entries.chunks(1024) {
            store.set_many(batch)?;
        }
    }
    repo.update(&repo.keys.record(Kind::Group, id), |cur| {
        let Some(cur) = cur else { return Ok(None) };
        let mut rec = Record::decode(cur)?;
        rec.buckets |= bits;
        Ok(Some(rec.encode()))
    })
}
