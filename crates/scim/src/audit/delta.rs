//! The member ids a change of a group's or role's members really adds and
//! removes, for its event: the change's operations replayed on the members
//! of the buckets they touch (read before anything is written). Operations that change nothing (adding a member twice,
//! removing one who is not there) are not reported.

use crate::error::Result;
use crate::filter::Filter;
use crate::patch::MemberOp;
use crate::schema::Kind;
use crate::storage::layout::bucket_of;
use crate::storage::members::{self, Stored};
use crate::storage::records::Repo;
use std::collections::HashSet;

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
    // The common cases, adding or removing listed members: each id looked
    // up in its leaf, nothing parsed.
    if let [MemberOp::Add(_)] | [MemberOp::Remove(_)] = ops {
        let (ids, adding): (Vec<&String>, bool) = match &ops[0] {
            MemberOp::Add(ms) => (ms.iter().map(|m| &m.value).collect(), true),
            MemberOp::Remove(ids) => (ids.iter().collect(), false),
            _ => unreachable!("matched above"),
        };
        let stored: Vec<&String> = ids
            .iter()
            .copied()
            .filter(|id| bits & members::bit(bucket_of(id)) != 0)
            .collect();
        let queries: Vec<(Kind, &str, &str)> =
            stored.iter().map(|u| (kind, id, u.as_str())).collect();
        let held: HashSet<&str> = stored
            .iter()
            .zip(members::holds(repo, &queries)?)
            .filter_map(|(u, h)| h.then_some(u.as_str()))
            .collect();
        let mut changed: Vec<String> = ids
            .into_iter()
            .filter(|id| held.contains(id.as_str()) != adding)
            .cloned()
            .collect();
        changed.sort();
        changed.dedup();
        return Ok(if adding {
            (changed, Vec::new())
        } else {
            (Vec::new(), changed)
        });
    }
    // Otherwise the members of those buckets, and the ops replayed on the
    // set of ids (no ordered map: this runs on every change of members).
    let mut current: Vec<Stored> = members::read_buckets(repo, kind, id, bits)?;
    let before: HashSet<String> = current.iter().map(|m| m.value.clone()).collect();
    let mut present = before.clone();
    for op in ops {
        match op {
            MemberOp::Add(ms) => {
                for m in ms {
                    if present.insert(m.value.clone()) {
                        current.push(Stored {
                            value: m.value.clone(),
                            display: m.display.clone(),
                        });
                    }
                }
            }
            MemberOp::Remove(ids) => ids.iter().for_each(|i| {
                present.remove(i);
            }),
            MemberOp::RemoveAll => present.clear(),
            MemberOp::RemoveWhere(f) => {
                for m in &current {
                    if remove_where(f, m) {
                        present.remove(&m.value);
                    }
                }
            }
        }
    }
    let mut added: Vec<String> = present.difference(&before).cloned().collect();
    let mut removed: Vec<String> = before.difference(&present).cloned().collect();
    added.sort();
    removed.sort();
    Ok((added, removed))
}
