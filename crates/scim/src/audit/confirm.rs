//! Which events' changes were made, as the readers decide it
//! (docs/storage.md, "Audit trail"). An event is written before its change,
//! so a crash can leave an event whose change never happened; it is dropped
//! on read. An event counts when:
//!
//! 1. its confirmation exists: `a/c/<seq>`, written when a change of
//!    members was rewritten with its final lists, or `a/s/<seq>`, written
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
//! Most events are shown by the store alone (case 2): no change writes a
//! confirmation unless its member lists turned out other than planned
//! (then the event is rewritten and confirmed). A user is never created
//! again under the same id (ids are fresh random UUIDs), so a record gone
//! stays gone and a member gone from a container's bucket after the user's
//! delete was written stays gone. A
//! change of members writes the record first and the member buckets after
//! it (docs/storage.md, "Write order"), so an event of a request that died
//! in between lists member changes that were never made (docs/storage.md
//! names this limit).

use super::event::Event;
use super::log;
use crate::error::Result;
use crate::storage::members::{bucket_has, trie};
use crate::storage::records::{Record, Repo};

/// For each `(seq, event)`, whether its change was made.
pub fn applied(repo: &Repo, events: &[(u64, Event)]) -> Result<Vec<bool>> {
    // Both confirmations of each event, in one call.
    let confirms = |idx: &[usize]| -> Result<Vec<bool>> {
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
            .map(|pair| pair.iter().any(Option::is_some))
            .collect())
    };
    let all: Vec<usize> = (0..events.len()).collect();
    let mut ok = confirms(&all)?;
    let doubt: Vec<usize> = all.into_iter().filter(|i| !ok[*i]).collect();
    if doubt.is_empty() {
        return Ok(ok);
    }
    // 2: the store's own evidence, read before the confirmations again.
    let evidence: Vec<(usize, String)> = doubt
        .iter()
        .map(|i| Ok(evidence_key(repo, &events[*i].1)?.map(|k| (*i, k))))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let keys: Vec<String> = evidence.iter().map(|(_, k)| k.clone()).collect();
    let values = repo.store.get_many(&keys)?;
    for ((i, _), raw) in evidence.iter().zip(values) {
        let (seq, e) = &events[*i];
        ok[*i] = shows_change(*seq, e, raw.as_deref());
    }
    // 3: confirmations once more for what is still in doubt.
    let doubt: Vec<usize> = doubt.into_iter().filter(|i| !ok[*i]).collect();
    if !doubt.is_empty() {
        for (i, c) in doubt.iter().zip(confirms(&doubt)?) {
            ok[*i] = c;
        }
    }
    Ok(ok)
}

/// The key whose value shows whether `e`'s change was made.
fn evidence_key(repo: &Repo, e: &Event) -> Result<Option<String>> {
    let Some(kind) = e.kind() else {
        return Ok(None);
    };
    if e.caused() {
        // A membership removed by a user's delete: that member's leaf.
        let Some(member) = e.members(false).into_iter().next() else {
            return Ok(None);
        };
        let leaf = trie::leaves(repo, &[(kind, e.rid(), &member)])?;
        return Ok(leaf.into_iter().next().map(|l| l.key));
    }
    Ok(Some(repo.keys.record(kind, e.rid())))
}

/// Whether the value at [`evidence_key`] shows event `seq`'s change.
fn shows_change(seq: u64, e: &Event, raw: Option<&[u8]>) -> bool {
    if e.caused() {
        return e
            .members(false)
            .first()
            // (A leaf split since it was found shows nothing.)
            .is_some_and(|m| !raw.is_some_and(|b| trie::is_marker(b) || bucket_has(b, m)));
    }
    if e.is_delete() {
        // A deleted user's record is a tombstone (docs/storage.md).
        return crate::storage::records::live_record(raw).is_none();
    }
    raw.and_then(|r| Record::decode(r).ok())
        .is_some_and(|r| r.audit == Some(seq))
}
