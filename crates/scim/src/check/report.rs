//! What the store checker found: each [`Problem`] is either a documented
//! leftover of an interrupted write (docs/storage.md, "Known leftovers",
//! repaired by `--repair`) or a violation of an invariant (never repaired:
//! it needs a person to look). The report holds counts and a bounded
//! number of examples, so its size does not grow with the store.

use std::collections::BTreeMap;
use std::fmt;

/// How many examples a report keeps.
pub const MAX_EXAMPLES: usize = 20;

/// One kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    // ---- leftovers of interrupted writes (repairable) --------------------
    /// A unique-name claim past its grace whose holder no longer exists or
    /// no longer has that name (a create, rename or delete that stopped
    /// before its release). Repair: the claim becomes a tombstone.
    AbandonedClaim,
    /// An externalId or email entry listing an id that does not exist or
    /// no longer has that value. Repair: the id leaves the entry.
    StaleIndexEntry,
    /// A list slot whose id has no record. Repair: the slot is removed.
    OrphanListSlot,
    /// A list summary count that differs from its chunk. Repair: recount.
    ListCountOff,
    /// A user's membership list naming a group (role) that is gone or does
    /// not hold the user (the list is a superset by design). Repair: the
    /// entry is dropped.
    StaleMembership,
    /// The membership list of a user that does not exist. Repair: deleted.
    OrphanMembershipList,
    /// A member bucket of a group (role) that does not exist (a delete that
    /// stopped after the record). Repair: deleted.
    OrphanBucket,
    /// A member node under a node that is not a split marker: a child
    /// written by a split that stopped before its compare-and-swap (never
    /// read). Repair: deleted.
    UnfinishedSplit,
    /// An audit event numbered below the log's tail (an append that
    /// finished after retention passed its number; never read). Repair:
    /// deleted with its confirmations.
    ExpiredEvent,
    /// An audit confirmation (`a/c/…`, `a/s/…`) whose event is gone.
    /// Repair: deleted.
    OrphanConfirmation,
    /// A creation guard older than two epochs (never consulted again).
    /// Repair: deleted.
    OldGuard,
    // ---- violations -------------------------------------------------------
    /// A value that does not decode (a record, claim, list or bucket).
    Undecodable,
    /// A record stored under a key its own id does not give.
    MisplacedRecord,
    /// A resource whose name's claim is held by another id or missing: two
    /// resources share a userName (displayName), or a claim was lost.
    NameNotClaimed,
    /// A resource missing from the index entry of its externalId or email.
    MissingIndexEntry,
    /// A resource missing from the list chunk its record names.
    RecordNotListed,
    /// An id listed twice in one list chunk.
    DuplicateListSlot,
    /// A member that is not a live user.
    DanglingMember,
    /// A member in a bucket its id does not hash to.
    MisplacedMember,
    /// A bucket holding members whose bit the container's record lacks
    /// (its members are invisible).
    BucketNotInBitmap,
    /// A member whose membership list lacks the container (the list must be
    /// a superset).
    MembershipNotListed,
    /// A child of a split member node that is missing (its members would be
    /// lost: a split writes all 32 children before the marker).
    SplitChildMissing,
    /// An audit event numbered beyond the log's counter (numbers come from
    /// it, so one was written outside the engine or the counter went back).
    EventBeyondSequence,
}

impl Problem {
    /// Whether this is a documented leftover, which `--repair` fixes.
    pub fn is_leftover(self) -> bool {
        self <= Problem::OldGuard
    }
    /// The short name printed in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Problem::AbandonedClaim => "abandoned-claim",
            Problem::StaleIndexEntry => "stale-index-entry",
            Problem::OrphanListSlot => "orphan-list-slot",
            Problem::ListCountOff => "list-count-off",
            Problem::StaleMembership => "stale-membership",
            Problem::OrphanMembershipList => "orphan-membership-list",
            Problem::OrphanBucket => "orphan-bucket",
            Problem::UnfinishedSplit => "unfinished-split",
            Problem::ExpiredEvent => "expired-event",
            Problem::OrphanConfirmation => "orphan-confirmation",
            Problem::OldGuard => "old-guard",
            Problem::Undecodable => "undecodable",
            Problem::MisplacedRecord => "misplaced-record",
            Problem::NameNotClaimed => "name-not-claimed",
            Problem::MissingIndexEntry => "missing-index-entry",
            Problem::RecordNotListed => "record-not-listed",
            Problem::DuplicateListSlot => "duplicate-list-slot",
            Problem::DanglingMember => "dangling-member",
            Problem::MisplacedMember => "misplaced-member",
            Problem::BucketNotInBitmap => "bucket-not-in-bitmap",
            Problem::MembershipNotListed => "membership-not-listed",
            Problem::SplitChildMissing => "split-child-missing",
            Problem::EventBeyondSequence => "event-beyond-sequence",
        }
    }
}

/// What a check saw and found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Keys read from the store's key listing.
    pub keys: u64,
    /// Records read: users, groups, roles.
    pub users: u64,
    /// Group records read.
    pub groups: u64,
    /// Role records read.
    pub roles: u64,
    /// Tombstones of deleted users and groups (docs/storage.md, "Deletes").
    pub deleted: u64,
    /// Members read in buckets.
    pub members: u64,
    /// Keys of the audit log.
    pub audit_keys: u64,
    /// Keys of no family the checker knows.
    pub unknown_keys: u64,
    found: BTreeMap<Problem, u64>,
    repaired: BTreeMap<Problem, u64>,
    /// The first [`MAX_EXAMPLES`] findings: the problem, where (a key with
    /// client values redacted) and what.
    pub examples: Vec<(Problem, String, String)>,
}

impl Report {
    pub(super) fn found(&mut self, problem: Problem, key: &str, detail: String) {
        *self.found.entry(problem).or_default() += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push((problem, shown(key), detail));
        }
    }
    pub(super) fn repaired(&mut self, problem: Problem) {
        *self.repaired.entry(problem).or_default() += 1;
    }
    /// How often `problem` was found.
    pub fn count(&self, problem: Problem) -> u64 {
        self.found.get(&problem).copied().unwrap_or(0)
    }
    /// How often `problem` was repaired.
    pub fn repaired_count(&self, problem: Problem) -> u64 {
        self.repaired.get(&problem).copied().unwrap_or(0)
    }
    /// Leftovers found.
    pub fn leftovers(&self) -> u64 {
        self.sum(|p| p.is_leftover(), &self.found)
    }
    /// Leftovers repaired.
    pub fn repairs(&self) -> u64 {
        self.sum(|_| true, &self.repaired)
    }
    /// Violations found.
    pub fn violations(&self) -> u64 {
        self.sum(|p| !p.is_leftover(), &self.found)
    }
    /// Every problem found, with its count.
    pub fn problems(&self) -> impl Iterator<Item = (Problem, u64)> + '_ {
        self.found.iter().map(|(p, n)| (*p, *n))
    }
    fn sum(&self, f: impl Fn(Problem) -> bool, of: &BTreeMap<Problem, u64>) -> u64 {
        of.iter().filter(|(p, _)| f(**p)).map(|(_, n)| n).sum()
    }
}

/// `key` with the client value of an index key (`i/U/n/<userName>`, an
/// email, an externalId) replaced by `…`: a report is printed and may be
/// kept, and must not carry personal data.
fn shown(key: &str) -> String {
    let Some((ns, rest)) = key
        .strip_prefix("t/")
        .and_then(|k| k.split_once('/'))
        .map(|(t, r)| (format!("t/{t}/"), r))
    else {
        return key.to_string();
    };
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["i", kind, attr, _] => format!("{ns}i/{kind}/{attr}/…"),
        _ => key.to_string(),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} keys: {} users, {} groups, {} roles, {} members, {} audit log \
             keys{}{}",
            self.keys,
            self.users,
            self.groups,
            self.roles,
            self.members,
            self.audit_keys,
            if self.deleted > 0 {
                format!(", {} tombstones of deleted resources", self.deleted)
            } else {
                String::new()
            },
            if self.unknown_keys > 0 {
                format!(", {} keys of no known family", self.unknown_keys)
            } else {
                String::new()
            }
        )?;
        for (p, n) in &self.found {
            let class = if p.is_leftover() {
                "leftover"
            } else {
                "VIOLATION"
            };
            let fixed = self.repaired_count(*p);
            let fixed = if fixed > 0 {
                format!(" ({fixed} repaired)")
            } else {
                String::new()
            };
            writeln!(f, "{class:>9} {:<24} {n}{fixed}", p.name())?;
        }
        for (p, key, detail) in &self.examples {
            writeln!(f, "  e.g. {}: {key}: {detail}", p.name())?;
        }
        write!(
            f,
            "{} violations, {} leftovers, {} repaired",
            self.violations(),
            self.leftovers(),
            self.repairs()
        )
    }
}
