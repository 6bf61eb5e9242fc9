//! Retention by age (`audit_retention_days`): an append now and then drops
//! the oldest events past the retention, a bounded batch at a time,
//! starting from the tail; nothing ever scans the log.

use super::event::Event;
use super::log;
use crate::error::Result;
use crate::storage::records::Repo;

/// One append in this many looks at the tail.
pub const PRUNE_EVERY: u64 = 8;
/// Most events one look drops: four times the append rate, so a backlog
/// (after raising the retention, or a quiet tenant) shrinks steadily.
pub const PRUNE_BATCH: u64 = 32;

/// Drop expired events at the tail, when the numbers just handed out
/// (`first ..= seq`, one `increment`) hold one of every [`PRUNE_EVERY`].
/// Costs two reads when nothing is due.
pub fn prune(repo: &Repo, first: u64, seq: u64, now_ms: u64, days: u64) -> Result<()> {
    if seq / PRUNE_EVERY == first.saturating_sub(1) / PRUNE_EVERY {
        return Ok(());
    }
    let cutoff = now_ms.saturating_sub(days.saturating_mul(86_400_000));
    let tail = log::tail(repo)?;
    let end = (tail + PRUNE_BATCH).min(seq);
    if end <= tail {
        return Ok(());
    }
    // The tail event alone first: most of the time it is not due.
    let oldest = log::read(repo, &[tail])?.pop().flatten();
    if oldest.as_ref().is_some_and(|e| e.ms() >= cutoff) {
        return Ok(());
    }
    let seqs: Vec<u64> = (tail..end).collect();
    let events = log::read(repo, &seqs)?;
    let new_tail = expired_prefix(&seqs, &events, cutoff);
    if new_tail == tail {
        return Ok(());
    }
    let mut gone = Vec::new();
    for s in tail..new_tail {
        gone.push(log::event_key(repo, s));
        gone.push(log::confirm_key(repo, s));
        gone.push(log::seen_key(repo, s));
    }
    // The tail moves after the deletes: a crash in between leaves keys
    // the next look deletes again.
    repo.store.delete_many(&gone)?;
    repo.store
        .set(&log::tail_key(repo), new_tail.to_string().as_bytes())?;
    Ok(())
}

/// Where the tail moves: just past the last expired event before the first
/// event still kept. A missing event before an expired one is a number
/// whose append died long ago and goes too; a missing event after the last
/// expired one may be an append in progress and stays.
fn expired_prefix(seqs: &[u64], events: &[Option<Event>], cutoff: u64) -> u64 {
    let mut new_tail = seqs.first().copied().unwrap_or(0);
    for (s, e) in seqs.iter().zip(events) {
        match e {
            Some(e) if e.ms() < cutoff => new_tail = s + 1,
            Some(_) => break,
            None => {}
        }
    }
    new_tail
}
