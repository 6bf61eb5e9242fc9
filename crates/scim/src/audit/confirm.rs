//! Which events' changes were made, as the readers decide it
//! (docs/storage.md, "Audit trail"). An event is written before its change,
//! so a crash can leave an event whose change never happened; it is dropped
//! on read. An event counts when:
//!
//! 1. its confirmation exists: `a/c/<seq>`, written when the change was
//!    done (with the event's final member lists), or `a/s/<seq>`, written
//!    by the next change of the same resource, which saw its version; else
//! 2. the store shows the change itself: the resource's record carries the
//!    event's number (create, replace, patch); the record is gone (delete);
//!    the member is gone from its bucket (a membership a user's delete
//!    removed). Then
//! 3. confirmations are read once more for the events still in doubt: a
//!    next change may have confirmed one and overwritten the record between
//!    the two reads.
//!
//! Events still in doubt are dropped: their change has not happened (or is
//! in progress and not visible yet).
//!
//! A change of members writes the record first and the member buckets
//! after it (docs/storage.md, "Write order"), so a crash in between leaves
//! a record that shows the event while some members were never added or
//! removed. An event shown by its record alone (case 2) therefore lists
//! only the member changes the buckets show ([`trim_members`]). An event
//! the next change confirmed keeps its lists as planned: the buckets may
//! have changed since, so they no longer tell (docs/storage.md names this
//! limit).

use super::event::Event;
use super::log;
use crate::error::Result;
use crate::storage::layout::bucket_of;
use crate::storage::members::bucket_has;
use crate::storage::records::{Record, Repo};

/// Whether an event's change was made, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Confirmed by the request that made the change: the event is final.
    Confirmed,
    /// Confirmed by the next change of the resource: the change was made;
    /// the event lists the member changes as planned.
    Seen,
    /// Shown by the store only: member changes are to be checked against
    /// the buckets ([`trim_members`]).
    ByStore,
    /// Not made (or not yet visible): dropped.
    No,
}

/// For each `(seq, event)`, whether its change was made.
pub fn applied(repo: &Repo, events: &[(u64, Event)]) -> Result<Vec<Seen>> {
    // Both confirmations of each event, in one call.
    let confirms = |idx: &[usize]| -> Result<Vec<Seen>> {
        let keys: Vec<String> = idx
            .iter()
            .flat_map(|i| {
                let seq = events[*i].0;
                [log::confirm_key(repo, seq), log::seen_key(repo, seq)]
            })
            .collect();
        Ok(repo
            .store
            .get_many(&keys)?
            .chunks(2)
            .map(|pair| match (&pair[0], &pair[1]) {
                (Some(_), _) => Seen::Confirmed,
                (None, Some(_)) => Seen::Seen,
                (None, None) => Seen::No,
            })
            .collect())
    };
    let all: Vec<usize> = (0..events.len()).collect();
    let mut seen = confirms(&all)?;
    let confirmed: Vec<bool> = seen.iter().map(|s| *s != Seen::No).collect();
    let doubt: Vec<usize> = all.into_iter().filter(|i| !confirmed[*i]).collect();
    if doubt.is_empty() {
        return Ok(seen);
    }
    let mut ok = confirmed;
    // 2: the store's own evidence, read before the confirmations again.
    let evidence: Vec<(usize, String)> = doubt
        .iter()
        .filter_map(|i| evidence_key(repo, &events[*i].1).map(|k| (*i, k)))
        .collect();
    let keys: Vec<String> = evidence.iter().map(|(_, k)| k.clone()).collect();
    let values = repo.store.get_many(&keys)?;
    for ((i, _), raw) in evidence.iter().zip(values) {
        let (seq, e) = &events[*i];
        ok[*i] = shows_change(*seq, e, raw.as_deref());
        if ok[*i] {
            seen[*i] = Seen::ByStore;
        }
    }
    // 3: confirmations once more for what is still in doubt.
    let doubt: Vec<usize> = doubt.into_iter().filter(|i| !ok[*i]).collect();
    if !doubt.is_empty() {
        for (i, c) in doubt.iter().zip(confirms(&doubt)?) {
            seen[*i] = c;
        }
    }
    Ok(seen)
}

/// Keep only the member changes of `e` (a create, replace or patch of a
/// group or role shown by its record alone) that its buckets show: added
/// ids present, removed ids absent.
pub fn trim_members(repo: &Repo, e: &mut Event) -> Result<()> {
    let Some(kind) = e.kind() else {
        return Ok(());
    };
    let (add, rem) = (e.members(true), e.members(false));
    if e.caused() || e.is_delete() || (add.is_empty() && rem.is_empty()) {
        return Ok(());
    }
    let ids: Vec<&String> = add.iter().chain(&rem).collect();
    let keys: Vec<String> = ids
        .iter()
        .map(|m| repo.keys.members(kind, e.rid(), bucket_of(m)))
        .collect();
    let present: Vec<bool> = repo
        .store
        .get_many(&keys)?
        .iter()
        .zip(&ids)
        .map(|(b, m)| b.as_deref().is_some_and(|b| bucket_has(b, m)))
        .collect();
    let keep = |list: &[String], flags: &[bool], want: bool| -> Vec<String> {
        list.iter()
            .zip(flags)
            .filter(|(_, p)| **p == want)
            .map(|(m, _)| m.clone())
            .collect()
    };
    let (a, r) = present.split_at(add.len());
    let (add, rem) = (keep(&add, a, true), keep(&rem, r, false));
    e.set_members(&add, &rem);
    Ok(())
}

/// The key whose value shows whether `e`'s change was made.
fn evidence_key(repo: &Repo, e: &Event) -> Option<String> {
    let kind = e.kind()?;
    if e.caused() {
        // A membership removed by a user's delete: that member's bucket.
        let member = e.members(false).into_iter().next()?;
        return Some(repo.keys.members(kind, e.rid(), bucket_of(&member)));
    }
    Some(repo.keys.record(kind, e.rid()))
}

/// Whether the value at [`evidence_key`] shows event `seq`'s change.
fn shows_change(seq: u64, e: &Event, raw: Option<&[u8]>) -> bool {
    if e.caused() {
        return e
            .members(false)
            .first()
            .is_some_and(|m| !raw.is_some_and(|b| bucket_has(b, m)));
    }
    if e.is_delete() {
        return raw.is_none();
    }
    raw.and_then(|r| Record::decode(r).ok())
        .is_some_and(|r| r.audit == Some(seq))
}
