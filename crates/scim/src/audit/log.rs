//! The append-only log on the key-value store (docs/storage.md, "Audit
//! trail"). Per tenant:
//!
//! | key | value |
//! |---|---|
//! | `a/seq` | counter (`increment` only): the last event number handed out |
//! | `a/e/<seq>` | the event (written once, never rewritten) |
//! | `a/c/<seq>` | `1`: the event's change was made, confirmed by its request (the event was rewritten with the member ids really changed) |
//! | `a/s/<seq>` | `1`: the event's change was made, as the next change of the same resource saw |
//! | `a/tail` | the lowest event number retention has not dropped (a hint) |
//!
//! An append is one `increment` and one `set-many` (the event, and the
//! confirmation of the version the change starts from); a delete appends
//! its own event and those of the memberships it removes the same way, all
//! numbered by one `increment` and written by one `set-many`. A
//! confirmation `a/c/<seq>` is written only when a change of members turned
//! out other than planned (with the event, rewritten). Nothing grows: the
//! log is a sequence of fixed keys.

use super::event::Event;
use crate::error::Result;
use crate::storage::kv;
use crate::storage::records::Repo;

/// The event at `seq`.
pub fn event_key(repo: &Repo, seq: u64) -> String {
    repo.keys.audit(&format!("e/{seq}"))
}

/// The confirmation of event `seq`.
pub fn confirm_key(repo: &Repo, seq: u64) -> String {
    repo.keys.audit(&format!("c/{seq}"))
}

/// The retention tail.
pub fn tail_key(repo: &Repo) -> String {
    repo.keys.audit("tail")
}

fn seq_key(repo: &Repo) -> String {
    repo.keys.audit("seq")
}

/// Milliseconds now: the system clock, when it agrees with the request's
/// time (`now_secs`); the request's second otherwise (tests set it).
pub fn now_ms(now_secs: u64) -> u64 {
    let sys = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if sys / 1000 == now_secs {
        sys
    } else {
        now_secs * 1000
    }
}

/// `n` new event numbers from the tenant's counter, in one `increment`:
/// the last of them (they are `last - n + 1 ..= last`).
pub fn next(repo: &Repo, n: u64) -> Result<u64> {
    Ok(kv::increment(repo.store, &seq_key(repo), n as i64)? as u64)
}

/// What appending `event` as `seq` writes, added to `entries`: the event
/// and the confirmation of `prev` (the event of the version this change
/// was computed from: that version exists, so its change was made).
pub fn entries(
    repo: &Repo,
    seq: u64,
    event: &Event,
    prev: Option<u64>,
    entries: &mut Vec<(String, Vec<u8>)>,
) {
    entries.push((event_key(repo, seq), event.encode()));
    if let Some(p) = prev {
        entries.push((seen_key(repo, p), b"1".to_vec()));
    }
}

/// The confirmation, by the next change of the same resource, that event
/// `seq`'s change was made (its member lists are the planned ones).
pub fn seen_key(repo: &Repo, seq: u64) -> String {
    repo.keys.audit(&format!("s/{seq}"))
}

/// Confirm event `seq`: its change was made. With `event`, the event is
/// written again first, in the same call (its final member lists).
pub fn confirm(repo: &Repo, seq: u64, event: Option<&Event>) -> Result<()> {
    let mut entries = Vec::new();
    if let Some(e) = event {
        entries.push((event_key(repo, seq), e.encode()));
    }
    entries.push((confirm_key(repo, seq), b"1".to_vec()));
    Ok(repo.store.set_many(&entries)?)
}

/// The last event number handed out (0: none yet). Read with `get`: Spin's
/// stores keep counters as 8 little-endian bytes (SQLite) or decimal text
/// (Redis); a read never changes them.
pub fn head(repo: &Repo) -> Result<u64> {
    let raw = repo.store.get(&seq_key(repo))?;
    Ok(raw.map_or(0, |r| decode_counter(&r)))
}

fn decode_counter(raw: &[u8]) -> u64 {
    if let Ok(b) = <[u8; 8]>::try_from(raw) {
        // Eight ASCII digits are decimal text, not little-endian bytes.
        if !raw.iter().all(u8::is_ascii_digit) {
            return i64::from_le_bytes(b).max(0) as u64;
        }
    }
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map_or(0, |n| n.max(0) as u64)
}

/// The lowest event number that may still exist (1 when nothing was
/// dropped yet).
pub fn tail(repo: &Repo) -> Result<u64> {
    let raw = repo.store.get(&tail_key(repo))?;
    Ok(raw.map_or(1, |r| decode_counter(&r)).max(1))
}

/// The events at `seqs`, in order (`None`: absent or unreadable).
pub fn read(repo: &Repo, seqs: &[u64]) -> Result<Vec<Option<Event>>> {
    let keys: Vec<String> = seqs.iter().map(|s| event_key(repo, *s)).collect();
    Ok(repo
        .store
        .get_many(&keys)?
        .into_iter()
        .map(|raw| raw.and_then(|r| Event::decode(&r)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::decode_counter;

    #[test]
    fn counters_read_back_from_either_store_format() {
        assert_eq!(decode_counter(&42i64.to_le_bytes()), 42);
        assert_eq!(decode_counter(b"42"), 42);
        assert_eq!(decode_counter(b"12345678"), 12_345_678);
        assert_eq!(decode_counter(b"junk"), 0);
    }
}
