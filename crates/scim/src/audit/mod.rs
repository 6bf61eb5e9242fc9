//! The audit trail (issue 19): every successful change of a user, group or
//! role membership is recorded as an event, and the events are read as the
//! read-only SCIM resource `AuditEvent` at `/AuditEvents`.
//!
//! * `event`: what one event holds (names of changed attributes and member
//!   ids, never values) and its SCIM representation;
//! * `log`: the append-only log on the key-value store: one sequence
//!   counter per tenant, one key per event, O(1) store calls per append;
//! * `delta`: the exact member ids a change adds and removes;
//! * `retention`: dropping events past `audit_retention_days`, a few at a
//!   time as events are appended;
//! * `confirm`: on read, which events' changes really happened;
//! * `query`: `GET /AuditEvents` and `GET /AuditEvents/{id}`.
//!
//! The write order (docs/storage.md, "Audit trail"): a change writes its
//! event first ([`Journal::reserve`], written with a create's record;
//! [`Journal::begin_all_with`], with a delete's tombstone and the events of
//! the memberships it removes) and carries the event's number into the
//! record it writes; the store then shows that the change was made (the
//! record with that number, the record a tombstone, the member gone from
//! its bucket). A crash between any two steps leaves at most an event
//! without its change, which the readers drop (`confirm`); never a change
//! without its event.

mod confirm;
mod delta;
pub(crate) mod event;
pub(crate) mod log;
pub(crate) mod query;
mod retention;

pub(crate) use delta::member_delta;
pub(crate) use event::{changed_paths, Op};

use crate::error::Result;
use crate::schema::Kind;
use crate::storage::records::Repo;
use event::Event;

/// Who made the changes of one request, for its events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Actor {
    /// The token's `client_id` (or `azp`, `cid`).
    pub client_id: Option<String>,
    /// The token's `sub`.
    pub subject: Option<String>,
    /// The request's W3C `traceparent`, or an id made for it.
    pub request_id: String,
}

impl Actor {
    /// The actor of a request: the token's client and subject, and the
    /// request's `traceparent` when it is well-formed (W3C Trace Context
    /// §3.2: `version-traceid-parentid-flags`, lower-case hex), else a
    /// fresh UUID.
    #[inline(never)]
    pub(crate) fn new(
        client_id: Option<String>,
        subject: Option<String>,
        traceparent: Option<&str>,
    ) -> Actor {
        let request_id = traceparent
            .map(str::trim)
            .filter(|t| valid_traceparent(t))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Actor {
            client_id,
            subject,
            request_id,
        }
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>` (and later versions of the same shape).
fn valid_traceparent(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
}

/// One change about to be made, as its event records it.
pub(crate) struct Change<'c> {
    /// What kind of change.
    pub op: Op,
    /// The changed resource's type.
    pub kind: Kind,
    /// The changed resource's id.
    pub id: &'c str,
    /// Names of the attributes that change (never values).
    pub attributes: Vec<String>,
    /// Member ids added.
    pub added: Vec<String>,
    /// Member ids removed.
    pub removed: Vec<String>,
    /// The version before (`None`: the resource is new, or not read).
    pub before: Option<u64>,
    /// The version after (`None`: deleted, or not known in advance).
    pub after: Option<u64>,
    /// The event of the version this change starts from (the record's
    /// `audit`): confirmed by this change, since that version was seen.
    pub prev: Option<u64>,
    /// The event whose change causes this one.
    pub cause: Option<u64>,
}

/// An event written before its change: its number goes into the record
/// the change writes, and the event to [`Journal::commit`].
pub(crate) struct Pending {
    seq: u64,
    event: Event,
    prev: Option<u64>,
}

impl Pending {
    /// The event's number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// What writing the event takes: the event, and the confirmation of
    /// the event of the version its change starts from (that version
    /// exists, so its change was made). For [`Journal::reserve`]d events,
    /// written in the same call as the change itself.
    pub(crate) fn entries(&self, repo: &Repo) -> Vec<(String, Vec<u8>)> {
        let mut entries = Vec::new();
        log::entries(repo, self.seq, &self.event, self.prev, &mut entries);
        entries
    }
}

/// The audit trail of one request's tenant: what the write paths call.
pub(crate) struct Journal<'a> {
    repo: &'a Repo<'a>,
    actor: &'a Actor,
    tenant: &'a str,
    enabled: bool,
    retention_days: u64,
}

impl<'a> Journal<'a> {
    /// The journal of `repo`'s tenant; `enabled: false` records nothing.
    pub(crate) fn new(
        repo: &'a Repo<'a>,
        actor: &'a Actor,
        tenant: &'a str,
        enabled: bool,
        retention_days: u64,
    ) -> Journal<'a> {
        Journal {
            repo,
            actor,
            tenant,
            enabled,
            retention_days,
        }
    }

    /// Number the event of `change` without writing it: the caller writes
    /// [`Pending::entries`] in the same call as the change (a create's
    /// record). `None` when the trail is off.
    pub(crate) fn reserve(&self, change: Change) -> Result<Option<Pending>> {
        Ok(self
            .reserve_all(change, Vec::new())?
            .map(|mut all| all.remove(0)))
    }

    /// Number the events of `change` and of the `caused` changes it makes
    /// elsewhere (their `cause` is set to `change`'s event) with one
    /// `increment`, in that order, without writing them.
    fn reserve_all(&self, change: Change, caused: Vec<Change>) -> Result<Option<Vec<Pending>>> {
        if !self.enabled {
            return Ok(None);
        }
        let ms = log::now_ms(self.repo.now);
        let n = 1 + caused.len() as u64;
        let last = log::next(self.repo, n)?;
        let first = last + 1 - n;
        // Retention costs a few store calls on a small share of appends;
        // a failure leaves old events for the next append to drop.
        let _ = retention::prune(self.repo, first, last, ms, self.retention_days);
        let mut out = Vec::with_capacity(n as usize);
        out.push(Pending {
            seq: first,
            event: Event::new(&change, ms, self.tenant, self.actor),
            prev: change.prev,
        });
        for (seq, mut c) in (first + 1..).zip(caused) {
            c.cause = Some(first);
            out.push(Pending {
                seq,
                event: Event::new(&c, ms, self.tenant, self.actor),
                prev: c.prev,
            });
        }
        Ok(Some(out))
    }

    /// Record `change` and the `caused` changes it makes elsewhere (a
    /// user's delete and the memberships it removes) before they are made:
    /// one `increment` numbers them all and one `set-many` writes them all,
    /// with the entries `with` makes of the number of `change`'s event
    /// (`None`: the trail is off; nothing is written then unless `with`
    /// gives entries). A delete writes its record's tombstone so, and the
    /// change and its event land together. Nothing confirms them
    /// afterwards: the store shows each change by itself (the record a
    /// tombstone or gone, the member gone from its bucket; `confirm`). An
    /// error here fails the request before anything visible was written.
    pub(crate) fn begin_all_with(
        &self,
        change: Change,
        caused: Vec<Change>,
        with: impl FnOnce(Option<u64>) -> crate::storage::records::Entries,
    ) -> Result<Option<Vec<Pending>>> {
        let all = self.reserve_all(change, caused)?;
        let mut entries = Vec::new();
        if let Some(all) = &all {
            for p in all {
                log::entries(self.repo, p.seq, &p.event, p.prev, &mut entries);
            }
        }
        entries.extend(with(all.as_ref().map(|a| a[0].seq)));
        if !entries.is_empty() {
            self.repo.store.set_many(&entries)?;
        }
        Ok(all)
    }

    /// A change of members is made, adding and removing these ids (which
    /// concurrent changes of the same group may have made differ from the
    /// planned ones): when they differ, the event is written once more
    /// with them, and confirmed. Otherwise nothing is written: the record
    /// carrying the event's number confirms it.
    pub(crate) fn commit_members(
        &self,
        pending: Option<Pending>,
        added: &[String],
        removed: &[String],
    ) {
        let Some(Pending { seq, mut event, .. }) = pending else {
            return;
        };
        if event.set_members(added, removed) {
            let _ = log::confirm(self.repo, seq, Some(&event));
        }
    }
}
