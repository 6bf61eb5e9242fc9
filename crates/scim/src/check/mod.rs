//! The store checker: reads a whole store, key by key, and verifies every
//! invariant docs/storage.md states ("Write order and its invariants"):
//!
//! - every unique-name claim (`userName`, group `displayName`) is held by a
//!   live resource with that name, or is within its grace
//!   (`CLAIM_GRACE_SECS`), or is a tombstone; every resource holds its
//!   name's claim, so no name is held twice;
//! - every externalId / email entry lists live resources with that value,
//!   and every resource is listed under its values;
//! - list chunks hold live ids, once each, and the summary's counts agree
//!   with them; every resource is in the chunk its record names;
//! - bucket members are live users in the bucket their id hashes to, in a
//!   bucket the container's bitmap marks, and their membership lists name
//!   the container (lists are supersets);
//! - membership lists belong to live users;
//! - creation guards older than two epochs are never consulted again.
//!
//! What breaks an invariant in the way docs/storage.md documents for an
//! interrupted write is a *leftover* ([`Problem::is_leftover`]), repaired
//! with [`Options::repair`] by the same store calls the engine makes;
//! anything else is a *violation*, reported and left alone.
//!
//! Memory is bounded: keys come a page at a time from a [`KeyList`] (Spin's
//! `list-keys` with a cursor), each key is checked with a bounded number of
//! reads (large buckets and lists in batches of [`BATCH`]), and the
//! [`Report`] keeps counts and a few examples. Run it on a store no
//! instance is writing to: a write in flight looks like a leftover, and a
//! repair could undo its first step.

mod audit;
mod lists;
mod membership;
mod report;
mod resources;
#[cfg(test)]
mod tests;

pub use report::{Problem, Report, MAX_EXAMPLES};

use crate::error::Result;
use crate::schema::Kind;
use crate::storage::kv::Store;
use crate::storage::kv::{StoreResult, GUARD_EPOCH_SECS};
use crate::storage::layout::Keys;
use crate::storage::memory::MemStore;
use crate::storage::records::{Repo, Values};

/// Store reads of many keys go out in batches of at most this many.
pub const BATCH: usize = 256;

/// A store's keys, a page at a time (`wasi:keyvalue/store.list-keys`):
/// `cursor` is `None` for the first page, then what the previous page
/// answered; `None` back means there is no further page.
pub trait KeyList {
    /// One page of keys, and the cursor of the next.
    fn list_keys(&self, cursor: Option<&str>) -> StoreResult<(Vec<String>, Option<String>)>;
}

/// How to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `user_name_case_exact`, as the service runs with: names are keyed in
    /// that form (docs/storage.md, "The index key rule").
    pub name_case_exact: bool,
    /// Seconds since the Unix epoch: claims younger than the grace and
    /// guards of the last two epochs are current.
    pub now: u64,
    /// Repair the leftovers found.
    pub repair: bool,
}

/// Check (and with [`Options::repair`] repair) every key `keys` lists.
pub fn run(store: &dyn Store, keys: &dyn KeyList, opts: &Options) -> Result<Report> {
    let mut walk = Walk {
        store,
        opts,
        report: Report::default(),
    };
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = keys.list_keys(cursor.as_deref())?;
        for key in &page {
            walk.report.keys += 1;
            walk.visit(key)?;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(walk.report)
}

/// The state of one run.
pub(super) struct Walk<'a> {
    pub(super) store: &'a dyn Store,
    pub(super) opts: &'a Options,
    pub(super) report: Report,
}

impl<'a> Walk<'a> {
    /// Check one key, by its family (docs/storage.md, "Keys").
    fn visit(&mut self, key: &str) -> Result<()> {
        if let Some(epoch) = guard_epoch(key) {
            return self.guard(key, epoch);
        }
        // Keys outside a tenant (`_jwks/…`, `_log/…`) are caches and
        // counters with no invariant between them.
        let Some((tenant, rest)) = key.strip_prefix("t/").and_then(|k| k.split_once('/')) else {
            return Ok(());
        };
        let prefix = format!("t/{tenant}/");
        let parts: Vec<&str> = rest.split('/').collect();
        let kind = parts.get(1).and_then(|c| kind_of(c));
        match (parts.as_slice(), kind) {
            (["r", _, id], Some(kind)) => self.record(&prefix, key, kind, id),
            (["i", _, attr, _], Some(kind)) => self.index(&prefix, key, kind, attr),
            (["l", _], Some(kind)) => self.summary(&prefix, key, kind),
            (["l", _, chunk], Some(kind)) => match chunk.parse() {
                Ok(c) => self.chunk(&prefix, key, kind, c),
                Err(_) => self.unknown(),
            },
            (["m", _, id, bucket], Some(kind)) => match bucket.parse() {
                Ok(b) => self.bucket(&prefix, key, kind, id, b),
                Err(_) => self.unknown(),
            },
            // A node of a split bucket (`m/<kind>/<id>/<b>/<c>/…`).
            (["m", _, id, path @ ..], Some(kind)) => {
                match path
                    .iter()
                    .map(|p| p.parse())
                    .collect::<std::result::Result<Vec<u8>, _>>()
                {
                    Ok(path) => self.member_node(&prefix, key, kind, id, &path),
                    Err(_) => self.unknown(),
                }
            }
            (["u", _, user], Some(kind)) => self.memberships(&prefix, key, kind, user),
            // Quota counters: one hourly window at a time, nothing to check.
            (["_", ..], _) => Ok(()),
            // The audit log (`a/seq`, `a/tail`, `a/e/<seq>`, `a/c/<seq>`,
            // `a/s/<seq>`; docs/storage.md, "Audit trail").
            (["a", ..], _) => self.audit(&prefix, key, &parts),
            _ => self.unknown(),
        }
    }

    fn unknown(&mut self) -> Result<()> {
        self.report.unknown_keys += 1;
        Ok(())
    }

    /// A creation guard: current within two epochs (docs/storage.md,
    /// "Known leftovers": a checker may drop older ones).
    fn guard(&mut self, key: &str, epoch: u64) -> Result<()> {
        if epoch + 2 < self.opts.now / GUARD_EPOCH_SECS {
            self.leftover(Problem::OldGuard, key, format!("epoch {epoch}"), |w| {
                Ok(w.store.delete(key)?)
            })?;
        }
        Ok(())
    }

    /// The repository of the tenant whose keys start with `prefix`.
    pub(super) fn repo(&self, prefix: &str) -> Repo<'a> {
        let mut repo = Repo::new(self.store, "", self.opts.now);
        repo.keys = Keys::for_prefix(prefix);
        repo
    }

    /// Note a leftover and, when repairing, fix it with `fix`.
    pub(super) fn leftover(
        &mut self,
        problem: Problem,
        key: &str,
        detail: String,
        fix: impl FnOnce(&Self) -> Result<()>,
    ) -> Result<()> {
        debug_assert!(problem.is_leftover());
        self.report.found(problem, key, detail);
        if self.opts.repair {
            fix(self)?;
            self.report.repaired(problem);
        }
        Ok(())
    }

    /// Note a violation.
    pub(super) fn violation(&mut self, problem: Problem, key: &str, detail: String) {
        debug_assert!(!problem.is_leftover());
        self.report.found(problem, key, detail);
    }

    /// Values of `keys`, read in batches of [`BATCH`].
    pub(super) fn get_all(&self, keys: &[String]) -> Result<Values> {
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(BATCH) {
            out.extend(self.store.get_many(batch)?);
        }
        Ok(out)
    }
}

/// The kind a key's kind code names.
fn kind_of(code: &str) -> Option<Kind> {
    match code {
        "U" => Some(Kind::User),
        "G" => Some(Kind::Group),
        "R" => Some(Kind::Role),
        _ => None,
    }
}

/// The epoch of a creation guard key (`<key>#g<epoch>`, see
/// [`guard_key`](crate::storage::kv::guard_key)); `None` for other keys. No
/// other key holds `#`: client values in keys are restricted or hashed.
fn guard_epoch(key: &str) -> Option<u64> {
    let (_, epoch) = key.rsplit_once("#g")?;
    if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    epoch.parse().ok()
}

/// The in-memory store lists its keys in order, a few at a time (so tests
/// walk several pages).
impl KeyList for MemStore {
    fn list_keys(&self, cursor: Option<&str>) -> StoreResult<(Vec<String>, Option<String>)> {
        const PAGE: usize = 7;
        let page: Vec<String> = self
            .keys()
            .into_iter()
            .filter(|k| cursor.is_none_or(|c| k.as_str() > c))
            .take(PAGE)
            .collect();
        let next = (page.len() == PAGE).then(|| page[PAGE - 1].clone());
        Ok((page, next))
    }
}
