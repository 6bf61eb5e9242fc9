//! The audit log's keys (docs/storage.md, "Audit trail"): every event
//! decodes and has a number the log handed out; confirmations belong to an
//! event; an event below the tail (retention moved past it) is never read.
//!
//! An event whose change never happened is not a problem here: readers drop
//! it (`audit::confirm`), by design.

use super::{Problem, Walk};
use crate::audit::event::Event;
use crate::audit::log;
use crate::error::Result;

impl Walk<'_> {
    /// `a/…` of the tenant at `prefix` (`parts`: the key after it).
    pub(super) fn audit(&mut self, prefix: &str, key: &str, parts: &[&str]) -> Result<()> {
        self.report.audit_keys += 1;
        let seq = |n: &str| n.parse::<u64>().ok().filter(|s| *s > 0);
        match parts {
            // The counter and the tail: read by the rules below.
            ["a", "seq"] | ["a", "tail"] => Ok(()),
            ["a", "e", n] => match seq(n) {
                Some(s) => self.event(prefix, key, s),
                None => self.unknown(),
            },
            ["a", "c" | "s", n] => match seq(n) {
                Some(s) => self.confirmation(prefix, key, s),
                None => self.unknown(),
            },
            _ => self.unknown(),
        }
    }

    /// `a/e/<seq>`: decodes, numbered at most the counter; below the tail
    /// a leftover of retention (an append that finished after retention
    /// passed its number), deleted with its confirmations.
    fn event(&mut self, prefix: &str, key: &str, seq: u64) -> Result<()> {
        let repo = self.repo(prefix);
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        if Event::decode(&raw).is_none() {
            self.violation(Problem::Undecodable, key, "not an audit event".into());
            return Ok(());
        }
        let head = log::head(&repo)?;
        if seq > head {
            self.violation(
                Problem::EventBeyondSequence,
                key,
                format!("event {seq}, the counter at {head}"),
            );
            return Ok(());
        }
        let tail = log::tail(&repo)?;
        if seq < tail {
            self.leftover(
                Problem::ExpiredEvent,
                key,
                format!("event {seq}, the tail at {tail}"),
                |w| {
                    let repo = w.repo(prefix);
                    Ok(w.store.delete_many(&[
                        log::event_key(&repo, seq),
                        log::confirm_key(&repo, seq),
                        log::seen_key(&repo, seq),
                    ])?)
                },
            )?;
        }
        Ok(())
    }

    /// `a/c/<seq>`, `a/s/<seq>`: their event exists (retention deletes an
    /// event with its confirmations in one call; a confirmation written
    /// after that by a late request is left behind).
    fn confirmation(&mut self, prefix: &str, key: &str, seq: u64) -> Result<()> {
        let repo = self.repo(prefix);
        if self.store.get(&log::event_key(&repo, seq))?.is_some() {
            return Ok(());
        }
        // Deleted meanwhile (a write in flight): nothing to say.
        if self.store.get(key)?.is_none() {
            return Ok(());
        }
        self.leftover(
            Problem::OrphanConfirmation,
            key,
            format!("confirms event {seq}, which is gone"),
            |w| Ok(w.store.delete(key)?),
        )
    }
}
