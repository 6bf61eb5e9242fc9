//! Records, indexes and list order on the key-value store (docs/storage.md).
//!
//! Every multi-key write is ordered so that a crash between two steps leaves
//! only harmless leftovers: index entries and list slots may point at a
//! resource that does not exist (readers check and skip them, writers take
//! them over), never the other way round.
//!
//! This file holds the records themselves (and their tombstones) and the
//! read-modify-write every other key is changed by; [`index`] the unique
//! claims and multi-valued index entries; [`list`] the list order that
//! pages and cursors walk. All three are methods of one [`Repo`].

mod index;
mod list;

pub(crate) use index::claim_holder;
pub use index::{HeldClaim, CLAIM_GRACE_SECS};
pub use list::live;

use crate::error::{Result, ScimError};
use crate::schema::Kind;
use crate::storage::kv::{self, Rmw, Store, Swap};
use crate::storage::layout::Keys;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;

/// How often a compare-and-swap is retried before the request gives up with 503.
pub const MAX_RETRIES: usize = 200;

/// A stored resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Revision, bumped on every change (the ETag is `W/"<rev>"`).
    pub rev: u64,
    /// Member buckets that may hold members (bit i: bucket i). Only grows.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub buckets: u32,
    /// The list chunk holding this id (so a delete reads one chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
    /// The audit event of the change that wrote this version (the `audit` module):
    /// what confirms that event on read.
    #[serde(default, rename = "a", skip_serializing_if = "Option::is_none")]
    pub audit: Option<u64>,
    /// The canonical document, without `members`, `groups` and `roles`.
    pub doc: Value,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Record {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.rev)
    }
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("records serialise")
    }
    /// 413 unless the record fits in one store value (Spin's 1 MiB): checked
    /// before a write's first store call, so nothing is half-written.
    pub fn check_size(&self) -> Result<()> {
        let n = serde_json::to_vec(self).map_or(usize::MAX, |v| v.len());
        if n > MAX_RECORD_BYTES {
            return Err(ScimError::new(
                413,
                None,
                format!(
                    "the resource would take {n} bytes stored, more than \
                     maxResourceBytes ({MAX_RECORD_BYTES})"
                ),
            ));
        }
        Ok(())
    }
    pub fn decode(raw: &[u8]) -> Result<Record> {
        serde_json::from_slice(raw).map_err(|e| ScimError::internal(format!("corrupt record: {e}")))
    }
}

/// What a deleted user's or group's record key holds: a tombstone (docs/storage.md,
/// "Deletes"), written in the one call that also writes the delete's audit
/// events, and the proof that the id was deleted (not a create still on
/// its way): the user's name claim and index entries, which the delete
/// leaves, are free at once for the next writer. Readers take it for an
/// absent record. `a` is the delete's audit event, if any.
pub fn tombstone(at: u64, audit: Option<u64>) -> Vec<u8> {
    match audit {
        Some(seq) => format!("{{\"gone\":{at},\"a\":{seq}}}").into_bytes(),
        None => format!("{{\"gone\":{at}}}").into_bytes(),
    }
}

/// Whether a record key's value is a [`tombstone`].
pub fn is_tombstone(raw: &[u8]) -> bool {
    raw.starts_with(b"{\"gone\":")
}

/// A record key's value as every reader of record keys takes it: `None`
/// for a [`tombstone`], as for no value at all. (Only writers that must tell
/// a deleted id from a create on its way look at [`is_tombstone`].)
pub(crate) fn live_record<T: AsRef<[u8]>>(raw: Option<T>) -> Option<T> {
    raw.filter(|r| !is_tombstone(r.as_ref()))
}

/// Largest stored record: one key-value store value.
pub const MAX_RECORD_BYTES: usize = crate::storage::kv::MAX_VALUE_LEN;

/// A record as read, with the bytes a compare-and-swap must expect.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub record: Record,
    pub raw: Vec<u8>,
}

impl Loaded {
    fn decode(raw: Vec<u8>) -> Result<Loaded> {
        Ok(Loaded {
            record: Record::decode(&raw)?,
            raw,
        })
    }
}

pub struct Repo<'a> {
    pub store: &'a dyn Store,
    pub keys: Keys,
    pub now: u64,
    /// Records this request found undecodable and skipped or salvaged: one
    /// note each for the request's log line.
    skipped: RefCell<Vec<String>>,
    /// Inside [`Repo::batch_creations`]: the keys this request won the
    /// creation of and has not written yet.
    deferred: RefCell<Option<Entries>>,
}

/// Values read from the store, in the order of the keys asked for.
pub type Values = Vec<Option<Vec<u8>>>;

/// Keys and their values, to write in one call.
pub type Entries = Vec<(String, Vec<u8>)>;

/// A stored JSON list of ids (membership lists, multi-valued index
/// entries); absent or unreadable: empty.
pub fn parse_id_list(raw: Option<&[u8]>) -> Vec<String> {
    raw.and_then(|c| serde_json::from_slice(c).ok())
        .unwrap_or_default()
}

fn busy() -> ScimError {
    ScimError::new(
        503,
        None,
        "too much concurrent change on the same resource; retry",
    )
}

impl<'a> Repo<'a> {
    pub fn new(store: &'a dyn Store, tenant: &str, now: u64) -> Repo<'a> {
        Repo {
            store,
            keys: Keys::for_tenant(tenant),
            now,
            skipped: RefCell::new(Vec::new()),
            deferred: RefCell::new(None),
        }
    }

    /// Run `f` (claims and index entries of one document) with the keys it
    /// creates written together: each creation's guard is won as it comes
    /// ([`kv::win_creation`]), and the keys won are written in one
    /// `set-many` once `f` returns (one write transaction instead of one per
    /// key), also when it fails, so that no key it won is left unwritten.
    /// Within `f`, a key created earlier in `f` reads absent: `f` creates
    /// each key once.
    pub fn batch_creations<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let (out, won) = self.batch_creations_held(f)?;
        if !won.is_empty() {
            self.store.set_many(&won)?;
        }
        Ok(out)
    }

    /// [`Self::batch_creations`] without the final write when `f`
    /// succeeds: the keys won are handed back for the caller to write in
    /// a later `set-many` of its own (a create's record: one write
    /// transaction less). Until they are written their guards are held, so
    /// the caller writes them on every path, [`Self::write_held`] on a
    /// failure. When `f` fails they are written here.
    pub fn batch_creations_held<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<(T, Entries)> {
        *self.deferred.borrow_mut() = Some(Vec::new());
        let out = f();
        let won = self.deferred.borrow_mut().take().unwrap_or_default();
        match out {
            Ok(out) => Ok((out, won)),
            Err(e) => {
                self.write_held(&won);
                Err(e)
            }
        }
    }

    /// Write keys won by [`Self::batch_creations_held`] whose request then
    /// failed before its own write: claims and entries of an id without a
    /// record, which readers skip and writers take over (docs/storage.md),
    /// rather than guards held for an epoch. Best effort: the request
    /// answers its own error.
    pub fn write_held(&self, won: &Entries) {
        if !won.is_empty() {
            let _ = self.store.set_many(won);
        }
    }

    /// Create `key` (just read absent) with `value` (see [`kv::create`]);
    /// within [`Self::batch_creations`], only its guard now, the write
    /// with the batch.
    fn create_key(
        &self,
        key: &str,
        value: &[u8],
        carry: &mut Entries,
    ) -> crate::storage::kv::StoreResult<Swap> {
        let mut deferred = self.deferred.borrow_mut();
        let Some(won) = deferred.as_mut() else {
            drop(deferred);
            return kv::create_carrying(self.store, key, value, self.now, carry);
        };
        kv::check_value(value)?;
        let swap = kv::win_creation(self.store, key, self.now)?;
        if swap == Swap::Done {
            won.push((key.to_string(), value.to_vec()));
        }
        Ok(swap)
    }

    /// The notes on undecodable records this request met, for its log line.
    pub fn take_skipped(&self) -> Vec<String> {
        std::mem::take(&mut self.skipped.borrow_mut())
    }

    /// `raw` decoded, or `None` with a note: lists and scans skip a record
    /// that does not decode rather than failing the whole page (issue 16).
    fn decode_or_skip(&self, kind: Kind, id: &str, raw: &[u8]) -> Option<Record> {
        match Record::decode(raw) {
            Ok(r) => Some(r),
            Err(e) => {
                self.note(format!("skipped {kind:?} {id}: {}", e.detail));
                None
            }
        }
    }

    fn note(&self, text: String) {
        let mut skipped = self.skipped.borrow_mut();
        // A page meets at most a few; keep the log line bounded anyway.
        if skipped.len() < 10 {
            skipped.push(crate::error::truncate(&text, 300).to_string());
        }
    }

    /// [`Self::load_with`] for a delete: a record that does not decode is
    /// salvaged (its outline and shallow attributes, see
    /// [`salvage`](super::salvage)), so that it can be removed with its
    /// index entries.
    pub fn load_for_delete(
        &self,
        kind: Kind,
        id: &str,
        extra: &[String],
    ) -> Result<(Option<Loaded>, Values)> {
        let (raw, extra_values) = self.load_raw_with(kind, id, extra)?;
        let Some(raw) = raw else {
            return Ok((None, extra_values));
        };
        let record = match Record::decode(&raw) {
            Ok(r) => r,
            Err(e) => {
                let r = super::salvage::salvage(&raw).ok_or(e)?;
                self.note(format!("salvaged {kind:?} {id} to delete it"));
                r
            }
        };
        Ok((Some(Loaded { record, raw }), extra_values))
    }

    // ---- records ----------------------------------------------------------

    pub fn load(&self, kind: Kind, id: &str) -> Result<Option<Loaded>> {
        live_record(self.store.get(&self.keys.record(kind, id))?)
            .map(Loaded::decode)
            .transpose()
    }

    /// Whether `id`'s record is a [`tombstone`]: the resource was deleted
    /// (an absent record may instead belong to a create on its way).
    pub fn is_deleted(&self, kind: Kind, id: &str) -> Result<bool> {
        Ok(self
            .store
            .get(&self.keys.record(kind, id))?
            .is_some_and(|r| is_tombstone(&r)))
    }

    /// Records for `ids` in order; missing ones are `None`.
    pub fn load_many(&self, kind: Kind, ids: &[String]) -> Result<Vec<Option<Record>>> {
        Ok(self.load_many_with(kind, ids, &[])?.0)
    }

    /// [`Self::load_many`], reading the values at `extra` keys in the same
    /// store call (one round trip instead of two); they come back in order.
    pub fn load_many_with(
        &self,
        kind: Kind,
        ids: &[String],
        extra: &[String],
    ) -> Result<(Vec<Option<Record>>, Values)> {
        let mut keys: Vec<String> = ids.iter().map(|id| self.keys.record(kind, id)).collect();
        keys.extend_from_slice(extra);
        let mut values = self.store.get_many(&keys)?;
        let extra_values = values.split_off(ids.len());
        let records = values
            .into_iter()
            .zip(ids)
            .map(|(raw, id)| live_record(raw).and_then(|r| self.decode_or_skip(kind, id, &r)))
            .collect();
        Ok((records, extra_values))
    }

    /// [`Self::load`], reading the values at `extra` keys in the same store
    /// call.
    pub fn load_with(
        &self,
        kind: Kind,
        id: &str,
        extra: &[String],
    ) -> Result<(Option<Loaded>, Values)> {
        let (raw, extra_values) = self.load_raw_with(kind, id, extra)?;
        Ok((raw.map(Loaded::decode).transpose()?, extra_values))
    }

    /// The stored bytes of record `id` and the values at `extra`, in one
    /// store call.
    fn load_raw_with(
        &self,
        kind: Kind,
        id: &str,
        extra: &[String],
    ) -> Result<(Option<Vec<u8>>, Values)> {
        let mut keys = Vec::with_capacity(1 + extra.len());
        keys.push(self.keys.record(kind, id));
        keys.extend_from_slice(extra);
        let mut values = self.store.get_many(&keys)?;
        let extra_values = values.split_off(1);
        Ok((live_record(values.pop().flatten()), extra_values))
    }

    /// Write a record if the stored bytes are still `expected` (`None`: if
    /// there is still none; see [`kv::create`]).
    pub fn swap_record(
        &self,
        kind: Kind,
        id: &str,
        expected: Option<&[u8]>,
        record: &Record,
    ) -> Result<Swap> {
        let key = self.keys.record(kind, id);
        Ok(match expected {
            Some(old) => self.store.compare_and_swap(&key, old, &record.encode())?,
            None => kv::create(self.store, &key, &record.encode(), self.now)?,
        })
    }

    /// Write the record of a resource created by this request under a fresh
    /// random id (nobody else can know the key yet).
    #[cfg(test)]
    pub(crate) fn put_new_record(&self, kind: Kind, id: &str, record: &Record) -> Result<()> {
        Ok(self
            .store
            .set(&self.keys.record(kind, id), &record.encode())?)
    }

    // ---- generic read-modify-write ---------------------------------------

    /// Read `key`, let `f` compute the new bytes (`None`: leave as is) and
    /// compare-and-swap, retrying on conflict.
    pub fn update<F>(&self, key: &str, f: F) -> Result<()>
    where
        F: FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>>,
    {
        self.update_carrying(key, f, &mut Vec::new())
    }

    /// [`Self::update`]; when it creates `key`, the entries of `carry` are
    /// written in the same call ([`kv::create_carrying`]) and `carry` is
    /// emptied. Otherwise `carry` is left for the caller to write.
    pub fn update_carrying<F>(&self, key: &str, mut f: F, carry: &mut Entries) -> Result<()>
    where
        F: FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>>,
    {
        // Creations lost to another request, in a row: the winner's write is
        // its next call, so wait a little for it (a compare-and-swap
        // conflict, by contrast, clears by trying again at once).
        let mut lost_creates = 0;
        for _ in 0..MAX_RETRIES {
            if lost_creates > 0 {
                kv::back_off(lost_creates);
            }
            let mut failed = None;
            let rmw = self.store.read_and_swap(key, &mut |cur| {
                f(cur).unwrap_or_else(|e| {
                    failed = Some(e);
                    None
                })
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            let swap = match rmw {
                Rmw::Done => Swap::Done,
                Rmw::Conflict => Swap::Conflict,
                Rmw::Absent(new) => match self.create_key(key, &new, carry)? {
                    Swap::Conflict => {
                        lost_creates += 1;
                        Swap::Conflict
                    }
                    done => done,
                },
            };
            if swap == Swap::Done {
                return Ok(());
            }
        }
        Err(busy())
    }

    /// Add or remove `id` in the JSON list of ids at `key`.
    pub fn update_id_list(&self, key: &str, id: &str, present: bool) -> Result<()> {
        self.update_id_list_carrying(key, id, present, &mut Vec::new())
    }

    /// [`Self::update_id_list`], writing `carry` with the list when this
    /// call creates it (see [`Self::update_carrying`]).
    pub fn update_id_list_carrying(
        &self,
        key: &str,
        id: &str,
        present: bool,
        carry: &mut Entries,
    ) -> Result<()> {
        self.update_carrying(
            key,
            |cur| {
                let mut ids: Vec<String> = cur
                    .and_then(|c| serde_json::from_slice(c).ok())
                    .unwrap_or_default();
                let has = ids.iter().any(|x| x == id);
                match (present, has) {
                    (true, false) => ids.push(id.to_string()),
                    (false, true) => ids.retain(|x| x != id),
                    _ => return Ok(None),
                }
                Ok(Some(serde_json::to_vec(&ids).expect("ids serialise")))
            },
            carry,
        )
    }

    pub fn read_id_list(&self, key: &str) -> Result<Vec<String>> {
        Ok(parse_id_list(self.store.get(key)?.as_deref()))
    }
}
