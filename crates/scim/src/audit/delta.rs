//! The member ids a change of a group's or role's members really adds and
//! removes, for its event: the change's operations replayed on the members
//! of the buckets they touch (read in one call, before anything is
//! written). Operations that change nothing (adding a member twice,
//! removing one who is not there) are not reported.

use crate::error::Result;
use crate::filter::Filter;
use crate::patch::MemberOp;
use crate::schema::Kind;
use crate::storage::layout::MEMBER_BUCKETS;
use crate::storage::members::{self, Stored};
use crate::storage::records::Repo;
use std::collections::BTreeMap;

/// (added, removed) member ids, each sorted, of `ops` applied to container
/// `id` whose record has bucket bitmap `buckets`. `remove_where` decides a
/// `RemoveWhere` filter on a stored member, as the bucket writer does.
pub(crate) fn member_delta(
    repo: &Repo,
    kind: Kind,
    id: &str,
    buckets: u32,
    ops: &[MemberOp],
    remove_where: impl Fn(&Filter, &Stored) -> bool,
) -> Result<(Vec<String>, Vec<String>)> {
    if ops.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let bits = members::touched(ops, buckets) & buckets;
    let keys: Vec<String> = (0..MEMBER_BUCKETS)
        .filter(|b| bits & members::bit(*b) != 0)
        .map(|b| repo.keys.members(kind, id, b))
        .collect();
    let mut before: BTreeMap<String, Stored> = BTreeMap::new();
    if !keys.is_empty() {
        for raw in repo.store.get_many(&keys)?.into_iter().flatten() {
            let stored: Vec<Stored> = serde_json::from_slice(&raw).unwrap_or_default();
            before.extend(stored.into_iter().map(|m| (m.value.clone(), m)));
        }
    }
    let mut after = before.clone();
    for op in ops {
        match op {
            MemberOp::Add(ms) => {
                for m in ms {
                    after.entry(m.value.clone()).or_insert_with(|| Stored {
                        value: m.value.clone(),
                        display: m.display.clone(),
                    });
                }
            }
            MemberOp::Remove(ids) => {
                for i in ids {
                    after.remove(i);
                }
            }
            MemberOp::RemoveAll => after.clear(),
            MemberOp::RemoveWhere(f) => after.retain(|_, m| !remove_where(f, m)),
        }
    }
    let added = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    Ok((added, removed))
}
