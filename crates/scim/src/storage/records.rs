//! Records, indexes and list order on the key-value store (docs/storage.md).
//!
//! Every multi-key write is ordered so that a crash between two steps leaves
//! only harmless leftovers: index entries and list slots may point at a
//! resource that does not exist (readers check and skip them, writers take
//! them over), never the other way round.

use crate::error::{Result, ScimError};
use crate::schema::Kind;
use crate::storage::kv::{self, Rmw, Store, Swap};
use crate::storage::layout::{IndexAttr, Keys, CHUNK_SIZE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;

/// How often a compare-and-swap is retried before the request gives up with 503.
pub const MAX_RETRIES: usize = 200;

/// An index claim younger than this (seconds) whose resource does not exist
/// yet belongs to a create in progress; older ones are abandoned and may be
/// taken over.
pub const CLAIM_GRACE_SECS: u64 = 30;

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

/// A record key's value, `None` for a [`tombstone`].
fn live_record(raw: Option<Vec<u8>>) -> Option<Vec<u8>> {
    raw.filter(|r| !is_tombstone(r))
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

/// The value of a unique-name key: the id holding the name since `at`, or,
/// with an empty `id`, a released name. A name key, once created, is never
/// deleted: a compare-and-swap of a key that holds a value is the only
/// atomic one every Spin store gives (docs/storage.md), so a release leaves
/// this tombstone for the next claim to swap.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    id: String,
    at: u64,
}

impl Claim {
    fn encode(id: &str, at: u64) -> Vec<u8> {
        serde_json::to_vec(&Claim {
            id: id.to_string(),
            at,
        })
        .expect("claims serialise")
    }
    fn decode(raw: &[u8]) -> Option<Claim> {
        serde_json::from_slice(raw).ok()
    }
}

/// Live ids in a list chunk: a removed id leaves a tombstone (`""`) in its
/// slot.
pub fn live(ids: &[String]) -> usize {
    ids.iter().filter(|id| !id.is_empty()).count()
}

/// Paging structure of a kind: live ids per chunk, and the chunk new ids go to.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Summary {
    counts: Vec<usize>,
}

/// A unique-name claim as read, held by the resource that read it.
#[derive(Debug, Clone)]
pub struct HeldClaim {
    key: String,
    raw: Vec<u8>,
}

impl HeldClaim {
    /// The claim stored at `key` as `raw`, for the store checker to release
    /// an abandoned one with [`Repo::release_claim`].
    pub(crate) fn found(key: String, raw: Vec<u8>) -> HeldClaim {
        HeldClaim { key, raw }
    }
}

/// The holder (`""` once released) and time of a unique-name claim's
/// stored value; `None` when it does not decode.
pub(crate) fn claim_holder(raw: &[u8]) -> Option<(String, u64)> {
    Claim::decode(raw).map(|c| (c.id, c.at))
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

    // ---- unique index (userName, group displayName) ------------------------

    /// The id the unique index maps `folded` to, if any (possibly stale: the
    /// caller checks the record).
    pub fn unique_lookup(&self, kind: Kind, folded: &str) -> Result<Option<String>> {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        Ok(self
            .store
            .get(&key)?
            .and_then(|raw| Claim::decode(&raw))
            .map(|c| c.id)
            .filter(|id| !id.is_empty()))
    }

    /// Claim `folded` for `id`. `is_live(other)` tells whether another id's
    /// claim is still backed by a resource holding that value; a dead claim
    /// older than [`CLAIM_GRACE_SECS`] is taken over. Taken → 409 uniqueness.
    ///
    /// A name never claimed is created through [`kv::create`] (exactly one
    /// of concurrent claimants wins); a released or abandoned one is taken
    /// by compare-and-swap of the value read, which every Spin store
    /// compares.
    pub fn claim_unique<F>(
        &self,
        kind: Kind,
        folded: &str,
        id: &str,
        what: &str,
        is_live: F,
    ) -> Result<()>
    where
        F: Fn(&str) -> Result<bool>,
    {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        let new = Claim::encode(id, self.now);
        let taken = || ScimError::uniqueness(format!("{what} is already taken"));
        for _ in 0..MAX_RETRIES {
            let swap = match self.store.get(&key)? {
                // Losing the creation of a never-used name means another
                // request is claiming it right now.
                None => match self.create_key(&key, &new, &mut Vec::new())? {
                    Swap::Done => return Ok(()),
                    Swap::Conflict => return Err(taken()),
                },
                Some(raw) => {
                    if let Some(c) = Claim::decode(&raw) {
                        if c.id == id {
                            return Ok(());
                        }
                        // Within its grace a claim whose holder has no
                        // record may be a create on its way; a deleted
                        // holder (its record a tombstone: a delete leaves
                        // its name's claim) frees the name at once.
                        let young = self.now.saturating_sub(c.at) < CLAIM_GRACE_SECS;
                        let held = !c.id.is_empty()
                            && if young {
                                !self.is_deleted(kind, &c.id)?
                            } else {
                                is_live(&c.id)?
                            };
                        if held {
                            return Err(taken());
                        }
                    }
                    self.store.compare_and_swap(&key, &raw, &new)?
                }
            };
            if swap == Swap::Done {
                return Ok(());
            }
        }
        Err(busy())
    }

    /// Release the claim on `folded` if it is `id`'s (a tombstone replaces
    /// it). A concurrent takeover of an abandoned claim is not undone: only
    /// our own claim is released.
    pub fn release_unique(&self, kind: Kind, folded: &str, id: &str) -> Result<()> {
        if let Some(held) = self.claim_of(kind, folded, id)? {
            self.release_claim(&held)?;
        }
        Ok(())
    }

    /// `id`'s claim on `folded`, if `id` holds it: its key and the value
    /// read, for [`Self::release_claim`].
    pub fn claim_of(&self, kind: Kind, folded: &str, id: &str) -> Result<Option<HeldClaim>> {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        Ok(self.store.get(&key)?.and_then(|raw| {
            Claim::decode(&raw)
                .is_some_and(|c| c.id == id)
                .then_some(HeldClaim { key, raw })
        }))
    }

    /// Replace a claim read by [`Self::claim_of`] by a tombstone, unless it
    /// changed meanwhile (then it is no longer ours to release).
    pub fn release_claim(&self, held: &HeldClaim) -> Result<()> {
        let tombstone = Claim::encode("", self.now);
        self.store
            .compare_and_swap(&held.key, &held.raw, &tombstone)?;
        Ok(())
    }

    // ---- multi-valued indexes (externalId, emails) ------------------------

    pub fn multi_lookup(&self, kind: Kind, attr: IndexAttr, folded: &str) -> Result<Vec<String>> {
        self.read_id_list(&self.keys.index(kind, attr, folded))
    }

    /// Add (`present`) or remove `id` in the entry of `folded`. A delete
    /// leaves its ids in the entries (docs/storage.md, "Deletes"), so an add
    /// drops the ids it finds there whose record is a [`tombstone`],
    /// reading them once. An id without any record stays: it may be a
    /// create on its way (which adds itself to an existing entry before it
    /// writes its record), and readers skip it meanwhile.
    pub fn multi_set(
        &self,
        kind: Kind,
        attr: IndexAttr,
        folded: &str,
        id: &str,
        present: bool,
    ) -> Result<()> {
        let key = self.keys.index(kind, attr, folded);
        if !present {
            return self.update_id_list(&key, id, false);
        }
        let mut known = vec![id.to_string()];
        let mut dead: Vec<String> = Vec::new();
        for _ in 0..MAX_RETRIES {
            let mut unknown: Vec<String> = Vec::new();
            self.update(&key, |cur| {
                let mut ids = parse_id_list(cur);
                unknown = ids.iter().filter(|x| !known.contains(x)).cloned().collect();
                if !unknown.is_empty() {
                    // Read their records first, then try again.
                    return Ok(None);
                }
                let before = ids.len();
                ids.retain(|x| !dead.contains(x));
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                } else if ids.len() == before {
                    return Ok(None);
                }
                Ok(Some(serde_json::to_vec(&ids).expect("ids serialise")))
            })?;
            if unknown.is_empty() {
                return Ok(());
            }
            let keys: Vec<String> = unknown.iter().map(|x| self.keys.record(kind, x)).collect();
            for (x, raw) in unknown.into_iter().zip(self.store.get_many(&keys)?) {
                // Only a tombstone proves an id dead: a create adds itself
                // to an existing entry before it writes its record.
                if raw.as_deref().is_some_and(is_tombstone) {
                    dead.push(x.clone());
                }
                known.push(x);
            }
        }
        Err(busy())
    }

    // ---- list order -------------------------------------------------------

    /// Append `id` to the list of `kind` (insertion order, stable across pages):
    /// one compare-and-swap of the last chunk. The summary does not count
    /// the last chunk (readers count it from the chunk itself), so an
    /// append does not rewrite it. A chunk is full at [`CHUNK_SIZE`]
    /// slots, tombstones included: slots are never reused, so an id's
    /// position never changes (see [`walk`](super::walk)). The first append
    /// to a full chunk opens the next one in the summary, then counts the
    /// full one there (in this order: see [`Self::recount`]).
    pub fn list_append(&self, kind: Kind, id: &str) -> Result<usize> {
        for _ in 0..MAX_RETRIES {
            let summary = self.summary(kind)?;
            let chunk = summary.counts.len().saturating_sub(1);
            let ckey = self.keys.list_chunk(kind, chunk);
            let mut full = false;
            self.update(&ckey, |cur| {
                let mut ids: Vec<String> = cur
                    .and_then(|c| serde_json::from_slice(c).ok())
                    .unwrap_or_default();
                full = false;
                if ids.iter().any(|x| x == id) {
                    return Ok(None);
                }
                if ids.len() >= CHUNK_SIZE {
                    full = true;
                    return Ok(None);
                }
                ids.push(id.to_string());
                Ok(Some(serde_json::to_vec(&ids).expect("ids")))
            })?;
            if !full {
                if summary.counts.is_empty() {
                    // The list's first chunk: the summary names it.
                    self.recount(kind, 0)?;
                }
                return Ok(chunk);
            }
            // The last chunk is full: open the next one (idempotent), then
            // count the full one, and retry.
            self.recount(kind, chunk + 1)?;
            self.recount(kind, chunk)?;
        }
        Err(busy())
    }

    /// Set chunk `chunk`'s count in the summary from the chunk itself; a
    /// chunk past the summary's end is opened (the summary grows to end
    /// with it). The last chunk's count is not kept (readers count it from
    /// the chunk: [`Self::chunk_counts`]), so nothing is written for it.
    ///
    /// Race-free without a lock: a remover of an id in chunk `c` tombstones
    /// the slot, then recounts here, which skips `c` only while `c` is the
    /// last; the appender that closes `c` opens `c + 1` first and then
    /// counts `c`, reading the chunk after the tombstone whenever the
    /// remover found `c` still last.
    pub(crate) fn recount(&self, kind: Kind, chunk: usize) -> Result<()> {
        let ckey = self.keys.list_chunk(kind, chunk);
        self.update(&self.keys.list_summary(kind), |cur| {
            let mut s: Summary = cur
                .and_then(|c| serde_json::from_slice(c).ok())
                .unwrap_or_default();
            if s.counts.len() == chunk + 1 && cur.is_some() {
                return Ok(None);
            }
            let actual = live(&self.read_id_list(&ckey)?);
            if s.counts.len() <= chunk {
                s.counts.resize(chunk + 1, 0);
            } else if s.counts[chunk] == actual {
                return Ok(None);
            }
            s.counts[chunk] = actual;
            Ok(Some(serde_json::to_vec(&s).expect("summary")))
        })
    }

    /// Remove `id` from the list: from chunk `hint` (the record's) when it is
    /// there, else by looking through the chunks from the newest.
    pub fn list_remove(&self, kind: Kind, id: &str, hint: Option<usize>) -> Result<()> {
        if let Some(c) = hint {
            if self.remove_from_chunk(kind, id, c)? {
                return Ok(());
            }
        }
        let chunks = self.summary(kind)?.counts.len();
        for c in (0..chunks).rev().filter(|c| Some(*c) != hint) {
            if self.remove_from_chunk(kind, id, c)? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn remove_from_chunk(&self, kind: Kind, id: &str, chunk: usize) -> Result<bool> {
        let mut found = false;
        self.update(&self.keys.list_chunk(kind, chunk), |cur| {
            let mut ids: Vec<String> = cur
                .and_then(|c| serde_json::from_slice(c).ok())
                .unwrap_or_default();
            // The slot keeps a tombstone (""), so every other id keeps its
            // position: cursors (RFC 9865) are positions in the list.
            found = false;
            for slot in ids.iter_mut().filter(|x| *x == id) {
                slot.clear();
                found = true;
            }
            Ok(found.then(|| serde_json::to_vec(&ids).expect("ids")))
        })?;
        if found {
            self.recount(kind, chunk)?;
        }
        Ok(found)
    }

    /// Live ids per list chunk, in chunk order: the summary's counts, the
    /// last chunk's read from the chunk (two store calls).
    pub fn chunk_counts(&self, kind: Kind) -> Result<Vec<usize>> {
        let mut counts = self.summary(kind)?.counts;
        if let Some(last) = counts.len().checked_sub(1) {
            counts[last] = live(&self.read_id_list(&self.keys.list_chunk(kind, last))?);
        }
        Ok(counts)
    }

    /// The summary's counts as stored: exact for every chunk but the last,
    /// whose count is not kept (see [`Self::chunk_counts`]).
    pub(crate) fn summary_counts(&self, kind: Kind) -> Result<Vec<usize>> {
        Ok(self.summary(kind)?.counts)
    }

    fn summary(&self, kind: Kind) -> Result<Summary> {
        Ok(self
            .store
            .get(&self.keys.list_summary(kind))?
            .and_then(|c| serde_json::from_slice(&c).ok())
            .unwrap_or_default())
    }

    /// Number of listed ids.
    pub fn list_total(&self, kind: Kind) -> Result<usize> {
        Ok(self.chunk_counts(kind)?.iter().sum())
    }

    /// The ids at 0-based positions `offset..offset+count` and the total. The
    /// work is the summary plus, in one call, the chunks the page touches
    /// and the last chunk (whose count the summary does not keep).
    pub fn list_page(
        &self,
        kind: Kind,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<String>, Vec<usize>)> {
        let mut counts = self.summary(kind)?.counts;
        let mut out = Vec::new();
        let mut chunks_of = Vec::new();
        let Some(last) = counts.len().checked_sub(1) else {
            return Ok((0, out, chunks_of));
        };
        // Chunks before the last are counted exactly; the page may reach
        // into the last one, which is read anyway.
        let mut skip = offset;
        let mut first = 0;
        while first < last && skip >= counts[first] {
            skip -= counts[first];
            first += 1;
        }
        let mut needed = Vec::new();
        let mut have = 0usize;
        let mut c = first;
        while count > 0 && c < last && have < skip + count {
            needed.push(c);
            have += counts[c];
            c += 1;
        }
        needed.push(last);
        let keys: Vec<String> = needed
            .iter()
            .map(|c| self.keys.list_chunk(kind, *c))
            .collect();
        let chunks = self.store.get_many(&keys)?;
        let mut all = Vec::new();
        for (c, raw) in needed.iter().zip(chunks) {
            let ids: Vec<String> = raw
                .and_then(|r| serde_json::from_slice(&r).ok())
                .unwrap_or_default();
            if *c == last {
                counts[last] = live(&ids);
            }
            // The last chunk counts only when the page reaches it.
            if *c == last && (count == 0 || have >= skip + count) {
                continue;
            }
            for id in ids.into_iter().filter(|id| !id.is_empty()) {
                all.push((id, *c));
            }
        }
        let total: usize = counts.iter().sum();
        if count == 0 || offset >= total {
            return Ok((total, out, chunks_of));
        }
        for (id, c) in all.into_iter().skip(skip).take(count) {
            out.push(id);
            chunks_of.push(c);
        }
        Ok((total, out, chunks_of))
    }

    /// Every listed id in list order (for scans; the caller bounds the size).
    pub fn list_all(&self, kind: Kind) -> Result<Vec<String>> {
        let summary = self.summary(kind)?;
        let keys: Vec<String> = (0..summary.counts.len())
            .map(|c| self.keys.list_chunk(kind, c))
            .collect();
        let mut out = Vec::new();
        for raw in self.store.get_many(&keys)?.into_iter().flatten() {
            let ids: Vec<String> = serde_json::from_slice(&raw).unwrap_or_default();
            out.extend(ids.into_iter().filter(|id| !id.is_empty()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::counting::Counting;
    use crate::storage::memory::{Flavor, MemStore};

    #[test]
    fn list_pages_follow_insertion_order_across_chunks() {
        let s = MemStore::new();
        let r = Repo::new(&s, "t", 0);
        let n = CHUNK_SIZE * 2 + 10;
        for i in 0..n {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        assert_eq!(r.list_total(Kind::User).unwrap(), n);
        let (total, page, _) = r.list_page(Kind::User, CHUNK_SIZE - 2, 5).unwrap();
        assert_eq!(total, n);
        let want: Vec<String> = (CHUNK_SIZE - 2..CHUNK_SIZE + 3)
            .map(|i| format!("id{i}"))
            .collect();
        assert_eq!(page, want);
        r.list_remove(Kind::User, "id3", None).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), n - 1);
        let (_, page, _) = r.list_page(Kind::User, 2, 2).unwrap();
        assert_eq!(page, ["id2", "id4"]);
        assert_eq!(r.list_all(Kind::User).unwrap().len(), n - 1);
    }

    /// An append writes the last chunk only (the summary does not count
    /// it); removals keep every count exact, in closed chunks and in the
    /// last one.
    #[test]
    fn an_append_is_one_write_and_counts_stay_exact() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        for i in 0..(CHUNK_SIZE * 2 + 5) {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        s.reset();
        r.list_append(Kind::User, "one-more").unwrap();
        assert_eq!(s.traffic().write_calls, 1, "{:?}", s.traffic());
        let n = CHUNK_SIZE * 2 + 6;
        assert_eq!(r.list_total(Kind::User).unwrap(), n);
        // One id from a closed chunk, one from the last.
        r.list_remove(Kind::User, "id3", Some(0)).unwrap();
        r.list_remove(Kind::User, "one-more", Some(2)).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), n - 2);
        let stored = r.summary_counts(Kind::User).unwrap();
        assert_eq!(stored[..2], [CHUNK_SIZE - 1, CHUNK_SIZE]);
        let (total, page, _) = r.list_page(Kind::User, n - 4, 10).unwrap();
        assert_eq!(total, n - 2);
        let want: Vec<String> = (CHUNK_SIZE * 2 + 3..CHUNK_SIZE * 2 + 5)
            .map(|i| format!("id{i}"))
            .collect();
        assert_eq!(page, want);
        assert_eq!(r.list_page(Kind::User, 0, 0).unwrap().0, n - 2);
    }

    #[test]
    fn a_page_reads_a_bounded_number_of_keys() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        for i in 0..(CHUNK_SIZE * 8) {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        s.reset();
        r.list_page(Kind::User, CHUNK_SIZE * 6, 100).unwrap();
        assert!(s.traffic().reads <= 3, "{:?}", s.traffic());
    }

    #[test]
    fn removal_with_the_records_chunk_reads_one_chunk() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        let mut chunk_of_7 = 0;
        for i in 0..(CHUNK_SIZE * 6) {
            let c = r.list_append(Kind::User, &format!("id{i}")).unwrap();
            if i == 7 {
                chunk_of_7 = c;
            }
        }
        assert_eq!(chunk_of_7, 0);
        s.reset();
        r.list_remove(Kind::User, "id7", Some(chunk_of_7)).unwrap();
        // The chunk, its compare-and-swap, and the recount: not the other five chunks.
        assert!(s.traffic().reads <= 6, "{:?}", s.traffic());
        assert_eq!(r.list_total(Kind::User).unwrap(), CHUNK_SIZE * 6 - 1);
        // A wrong hint still finds it.
        r.list_remove(Kind::User, "id300", Some(0)).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), CHUNK_SIZE * 6 - 2);
    }

    #[test]
    fn unique_claims_conflict_unless_abandoned() {
        let s = MemStore::new();
        let r = Repo::new(&s, "t", 1000);
        r.claim_unique(Kind::User, "bob", "1", "userName", |_| Ok(true))
            .unwrap();
        // Another id, the first still live: 409.
        let e = r
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(true))
            .unwrap_err();
        assert_eq!(e.status, 409);
        // Young but dead (a create in progress): still 409.
        assert!(r
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(false))
            .is_err());
        // Old and dead: taken over.
        let later = Repo::new(&s, "t", 1000 + CLAIM_GRACE_SECS + 1);
        later
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(false))
            .unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("2")
        );
        later.release_unique(Kind::User, "bob", "1").unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("2")
        );
        later.release_unique(Kind::User, "bob", "2").unwrap();
        assert_eq!(later.unique_lookup(Kind::User, "bob").unwrap(), None);
        // Released: free for anyone at once, through the tombstone.
        later
            .claim_unique(Kind::User, "bob", "3", "userName", |_| Ok(true))
            .unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("3")
        );
    }

    /// On both Spin stores, a claim racing another one that lands between
    /// our read and our swap loses, and the other stays.
    #[test]
    fn a_takeover_racing_another_loses_on_every_spin_store() {
        for flavor in [Flavor::SpinSqlite, Flavor::SpinRedis] {
            let s = MemStore::like(flavor);
            let r = Repo::new(&s, "t", 1000);
            r.claim_unique(Kind::User, "bob", "1", "userName", |_| Ok(true))
                .unwrap();
            r.release_unique(Kind::User, "bob", "1").unwrap();
            let key = r.keys.index(Kind::User, IndexAttr::Name, "bob");
            let theirs = Claim::encode("other", 1000);
            let sneak = theirs.clone();
            s.interfere(Box::new(move |k, d| {
                if k == key {
                    d.insert(k.to_string(), sneak.clone());
                }
            }));
            let e = r
                .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(true))
                .unwrap_err();
            assert_eq!(e.status, 409, "{flavor:?}");
            assert_eq!(
                r.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
                Some("other"),
                "{flavor:?}"
            );
        }
    }
}
