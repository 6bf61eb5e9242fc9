//! The key-value store the engine runs on, and how the engine stays correct
//! on it although Spin's atomics are weak (docs/storage.md, "What Spin's
//! stores guarantee").
//!
//! [`Store`] has two layers. Its required methods are Spin's key-value
//! interface as a component sees it (`wasi:keyvalue` store, batch and
//! atomics), trusted no further than Spin deserves: [`Store::batch_get`]
//! may fail (Spin's Redis store sends `KEYS`), and [`Store::cas`] reports
//! what Spin's `swap` reported, which is a lie in two places (SQLite upserts
//! when the key was absent; Redis reports a failure after applying the
//! write). Its provided methods are what the engine calls, and are correct
//! on every Spin store:
//! - [`Store::get_many`] falls back to one `get` per key when the batch
//!   read fails;
//! - [`Store::compare_and_swap`] and [`Store::read_and_swap`] only swap a
//!   key that holds a value (where Spin compares), and resolve a reported
//!   failure by reading the value back;
//! - a key that is absent is created by [`create`], arbitrated by
//!   `increment` (atomic on every Spin store): of all concurrent creators
//!   exactly one wins.
//!
//! The component implements the required methods over Spin; tests use
//! [`MemStore`](super::memory::MemStore), which reproduces Spin's SQLite or Redis store, weak spots
//! included. Keys are at most [`MAX_KEY_LEN`] bytes and values at most
//! [`MAX_VALUE_LEN`] bytes: Spin's limits, enforced here too so that what
//! passes in unit tests passes on Spin.

use std::fmt;

use sha2::{Digest, Sha256};

/// Longest key Spin's key-value stores accept, in bytes.
pub const MAX_KEY_LEN: usize = 256;
/// Largest value Spin's key-value stores accept, in bytes.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// Creation guards ([`create`]) are counted per epoch of this many seconds:
/// the longest a creator that died between winning and writing can hold a
/// key (plus [`GUARD_MARGIN_SECS`]). Long against the margin, so that few
/// creates fall in a margin and pay a second increment.
pub const GUARD_EPOCH_SECS: u64 = 300;
/// A creator this close (seconds) to the start of an epoch must also win the
/// previous epoch's guard, so two creators on either side of an epoch
/// boundary (or on two instances whose clocks differ by less than this)
/// never both win. It bounds too how long a create may take between reading
/// a key absent and claiming its guard.
pub const GUARD_MARGIN_SECS: u64 = 30;

/// A store call failed; the text says why (never a key's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key-value store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for crate::ScimError {
    fn from(e: StoreError) -> Self {
        crate::ScimError::new(503, None, e.to_string())
    }
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Outcome of a compare-and-swap, as the engine may rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The swap applied: the key now holds our value.
    Done,
    /// The stored value was not the expected one (or the key was absent);
    /// nothing of ours was written.
    Conflict,
}

/// Outcome of one read-modify-write attempt ([`Store::read_and_swap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rmw {
    /// Written (or nothing to change).
    Done,
    /// The value changed meanwhile; nothing of ours was written.
    Conflict,
    /// The key was absent: nothing was written, and this is the value the
    /// change computed. Create it with [`create`].
    Absent(Vec<u8>),
}

/// What Spin's `swap` reported for one [`Store::cas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasReport {
    /// `change` returned `None`: no swap was attempted.
    Skipped,
    /// `swap` answered success.
    Swapped,
    /// `swap` answered `cas-failed` (on Spin's Redis store: every time,
    /// written or not).
    Failed,
}

/// Computes a key's new value from its current one (`None`: no change).
pub type Change<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// The key-value store: Spin's raw interface (required methods) and what
/// the engine builds on it (provided methods). See the module documentation.
pub trait Store {
    // ---- Spin's interface, as weak as Spin ---------------------------------

    /// `wasi:keyvalue/store.get`: the value of `key`, if any.
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// `wasi:keyvalue/batch.get-many`: values for `keys`, in order. May fail
    /// where Spin's does (its Redis store); call [`Store::get_many`].
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(k)).collect()
    }
    /// `wasi:keyvalue/store.set`: `key` holds `value` (no compare).
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()>;
    /// `wasi:keyvalue/batch.set-many`: every entry set (not atomic on Spin).
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }
    /// `wasi:keyvalue/store.delete`: `key` is absent (absent already is fine).
    fn delete(&self, key: &str) -> StoreResult<()>;
    /// `wasi:keyvalue/batch.delete-many`: every key deleted (not atomic on Spin).
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
    /// `wasi:keyvalue/atomics.increment`: adds `delta` (absent counts as 0)
    /// and answers the new value, atomically on every Spin store. A key used
    /// as a counter must never be written otherwise: Spin's SQLite store
    /// keeps counters as 8 little-endian bytes and panics on anything else.
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64>;
    /// One `wasi:keyvalue/atomics` compare-and-swap as Spin runs it: open a
    /// handle on `key`, read its value (`current`), let `change` compute the
    /// new one (`None`: stop there) and `swap`. Answers what Spin's `swap`
    /// reported, which is not always what happened: engine code calls
    /// [`Store::compare_and_swap`] or [`Store::read_and_swap`] instead.
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport>;

    // ---- what the engine calls: correct on every Spin store ---------------

    /// Values for `keys`, in order: one batch read, or one read per key when
    /// the batch read fails (Spin's Redis store).
    fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        match keys {
            [] => Ok(Vec::new()),
            [one] => Ok(vec![self.get(one)?]),
            _ => self
                .batch_get(keys)
                .or_else(|_| keys.iter().map(|k| self.get(k)).collect()),
        }
    }

    /// Write `new` at `key` only if the key holds `expected`. An absent key
    /// is a conflict: create keys with [`create`].
    fn compare_and_swap(&self, key: &str, expected: &[u8], new: &[u8]) -> StoreResult<Swap> {
        check_value(new)?;
        let report = self.cas(key, &mut |cur| {
            (cur == Some(expected)).then(|| new.to_vec())
        })?;
        resolve(self, key, report, new)
    }

    /// One attempt at a read-modify-write of `key`: read the value, let
    /// `change` compute the new one (`None`: leave it, answered `Done`) and
    /// write it only if the stored value has not changed meanwhile. An
    /// absent key is not written: the computed value comes back in
    /// [`Rmw::Absent`] for [`create`].
    fn read_and_swap(&self, key: &str, change: &mut Change) -> StoreResult<Rmw> {
        let mut absent = None;
        let mut wrote = None;
        let mut too_big = false;
        let report = self.cas(key, &mut |cur| {
            let new = change(cur)?;
            if new.len() > MAX_VALUE_LEN {
                too_big = true;
                return None;
            }
            match cur {
                // Spin's SQLite `swap` would upsert here, without a compare.
                None => {
                    absent = Some(new);
                    None
                }
                Some(_) => {
                    wrote = Some(new.clone());
                    Some(new)
                }
            }
        })?;
        if too_big {
            return Err(value_too_large());
        }
        if let Some(new) = absent {
            return Ok(Rmw::Absent(new));
        }
        match wrote {
            None => Ok(Rmw::Done),
            Some(new) => Ok(match resolve(self, key, report, &new)? {
                Swap::Done => Rmw::Done,
                Swap::Conflict => Rmw::Conflict,
            }),
        }
    }
}

/// What a `swap` of `new` at `key` really did, from what Spin reported. A
/// success is true (the engine only swaps keys that hold a value, which
/// Spin's SQLite store compares). A failure is true on SQLite but reported
/// on Redis for writes that applied too, so the value is read back: if it is
/// `new`, the key holds what this write wanted.
fn resolve<S: Store + ?Sized>(
    store: &S,
    key: &str,
    report: CasReport,
    new: &[u8],
) -> StoreResult<Swap> {
    Ok(match report {
        CasReport::Swapped => Swap::Done,
        CasReport::Skipped => Swap::Conflict,
        CasReport::Failed => {
            if store.get(key)?.as_deref() == Some(new) {
                Swap::Done
            } else {
                Swap::Conflict
            }
        }
    })
}

/// The counter that arbitrates creating `key` in `epoch`.
pub fn guard_key(key: &str, epoch: u64) -> String {
    let plain = format!("{key}#g{epoch}");
    if plain.len() <= MAX_KEY_LEN {
        return plain;
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("~g/{hex}#g{epoch}")
}

/// The guards that a create of `key` at `now` may have taken: deleted with
/// the key, so that it can be created again at once.
pub fn guard_keys(key: &str, now: u64) -> [String; 2] {
    let epoch = now / GUARD_EPOCH_SECS;
    [
        guard_key(key, epoch),
        guard_key(key, epoch.saturating_sub(1)),
    ]
}

/// Create `key` (just read absent) with `value`, such that of all
/// concurrent creators exactly one answers `Done`; the others answer
/// `Conflict` and re-read (they then find the winner's value, or, while
/// the winner is between its two calls, still nothing and try again).
///
/// Spin's SQLite store turns a swap of an absent key into an upsert, so
/// compare-and-swap cannot arbitrate creation. `increment` can, on every
/// store: the creator whose increment of the key's guard answers 1 wins.
/// The guard is per epoch of [`GUARD_EPOCH_SECS`], so that a winner that
/// died before writing holds the key for one epoch at most; near an epoch's
/// start the previous epoch's guard must be won too (see
/// [`GUARD_MARGIN_SECS`]).
pub fn create<S: Store + ?Sized>(
    store: &S,
    key: &str,
    value: &[u8],
    now: u64,
) -> StoreResult<Swap> {
    create_carrying(store, key, value, now, &mut Vec::new())
}

/// [`create`], writing the entries of `carry` in the same call as the key
/// when this creator wins (one `set-many` instead of a `set`: a write
/// transaction saved); `carry` is then emptied, and left as it was
/// otherwise. For entries that must be written before some later step
/// anyway and may go as early as this key (an audit event: see
/// [`Repo::update_carrying`](super::records::Repo::update_carrying)).
pub fn create_carrying<S: Store + ?Sized>(
    store: &S,
    key: &str,
    value: &[u8],
    now: u64,
    carry: &mut Vec<(String, Vec<u8>)>,
) -> StoreResult<Swap> {
    check_value(value)?;
    if win_creation(store, key, now)? == Swap::Conflict {
        return Ok(Swap::Conflict);
    }
    if carry.is_empty() {
        store.set(key, value)?;
    } else {
        let mut entries = vec![(key.to_string(), value.to_vec())];
        entries.append(carry);
        store.set_many(&entries)?;
    }
    Ok(Swap::Done)
}

/// The arbitration of [`create`] alone: `Done` when this creator won the
/// right to write `key` (just read absent), which it must then do at once
/// (a winner that never writes holds the key for an epoch).
pub fn win_creation<S: Store + ?Sized>(store: &S, key: &str, now: u64) -> StoreResult<Swap> {
    let epoch = now / GUARD_EPOCH_SECS;
    if increment(store, &guard_key(key, epoch), 1)? != 1 {
        return Ok(Swap::Conflict);
    }
    if epoch > 0
        && now % GUARD_EPOCH_SECS < GUARD_MARGIN_SECS
        && increment(store, &guard_key(key, epoch - 1), 1)? != 1
    {
        return Ok(Swap::Conflict);
    }
    Ok(Swap::Done)
}

/// How often [`increment`] tries again while the store is locked.
const LOCKED_RETRIES: usize = 50;

/// [`Store::increment`], tried again while Spin's SQLite store answers
/// "database is locked". Its `increment` is one deferred transaction that
/// reads, then writes; SQLite fails such an upgrade at once, without its
/// busy timeout, when another process (two `spin up` on one file) holds
/// the write lock, and the transaction is rolled back: nothing was added,
/// so trying again counts once. Any other error is final.
pub fn increment<S: Store + ?Sized>(store: &S, key: &str, delta: i64) -> StoreResult<i64> {
    let mut attempt = 0;
    loop {
        match store.increment(key, delta) {
            Err(e) if e.0.contains("database is locked") && attempt < LOCKED_RETRIES => {
                attempt += 1;
                back_off(attempt + 1);
            }
            done => return done,
        }
    }
}

/// The pause before trying again after losing `lost` times in a row (1, 2,
/// …) to another request: none the first time (the winner may have written
/// already), then growing to 16 ms, so that a creator whose guard increment
/// won (and whose write is its very next call) gets the time to make it,
/// even on a loaded machine. 200 attempts wait about three seconds in all.
pub fn back_off(lost: usize) {
    let ms = match lost {
        0..=1 => return,
        2..=4 => 1,
        5..=8 => 4,
        _ => 16,
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// Spin's key length limit ([`MAX_KEY_LEN`]), checked before a call.
pub fn check_key(key: &str) -> StoreResult<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError(format!("key longer than {MAX_KEY_LEN} bytes")));
    }
    Ok(())
}

fn value_too_large() -> StoreError {
    StoreError(format!("value larger than {MAX_VALUE_LEN} bytes"))
}

/// Spin's value size limit ([`MAX_VALUE_LEN`]), checked before a call.
pub fn check_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(value_too_large());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::{Flavor, MemStore};

    fn both() -> [MemStore; 2] {
        [
            MemStore::like(Flavor::SpinSqlite),
            MemStore::like(Flavor::SpinRedis),
        ]
    }

    /// The weak spots are reproduced: SQLite's swap of an absent key is an
    /// upsert reported as a success; Redis reports a failure after writing.
    #[test]
    fn the_raw_cas_is_as_weak_as_spins() {
        let s = MemStore::like(Flavor::SpinSqlite);
        s.interfere(Box::new(|k, d| {
            d.insert(k.to_string(), b"theirs".to_vec());
        }));
        let r = s.cas("k", &mut |_| Some(b"mine".to_vec())).unwrap();
        assert_eq!(r, CasReport::Swapped);
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"mine"[..]));

        let s = MemStore::like(Flavor::SpinRedis);
        s.set("k", b"a").unwrap();
        let r = s.cas("k", &mut |_| Some(b"b".to_vec())).unwrap();
        assert_eq!(r, CasReport::Failed);
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"b"[..]));
        assert!(s.batch_get(&["k".into(), "x".into()]).is_err());
    }

    #[test]
    fn compare_and_swap_tells_the_truth_on_both_stores() {
        for s in both() {
            // Absent: never written by a compare-and-swap.
            assert_eq!(s.compare_and_swap("k", b"a", b"b").unwrap(), Swap::Conflict);
            assert_eq!(s.get("k").unwrap(), None);
            s.set("k", b"a").unwrap();
            assert_eq!(s.compare_and_swap("k", b"x", b"b").unwrap(), Swap::Conflict);
            assert_eq!(s.compare_and_swap("k", b"a", b"b").unwrap(), Swap::Done);
            assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"b"[..]));
            // A concurrent write between read and swap: a conflict, and the
            // other write stays.
            s.interfere(Box::new(|k, d| {
                d.insert(k.to_string(), b"theirs".to_vec());
            }));
            assert_eq!(s.compare_and_swap("k", b"b", b"c").unwrap(), Swap::Conflict);
            assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"theirs"[..]));
        }
    }

    #[test]
    fn read_and_swap_hands_absent_keys_to_create() {
        for s in both() {
            let r = s.read_and_swap("k", &mut |_| Some(b"v".to_vec())).unwrap();
            assert_eq!(r, Rmw::Absent(b"v".to_vec()));
            assert_eq!(s.get("k").unwrap(), None, "nothing written");
            assert_eq!(create(&s, "k", b"v", 1000).unwrap(), Swap::Done);
            let r = s.read_and_swap("k", &mut |c| {
                assert_eq!(c, Some(&b"v"[..]));
                Some(b"w".to_vec())
            });
            assert_eq!(r.unwrap(), Rmw::Done);
            assert_eq!(s.read_and_swap("k", &mut |_| None).unwrap(), Rmw::Done);
            assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"w"[..]));
        }
    }

    #[test]
    fn exactly_one_concurrent_creator_wins() {
        for s in both() {
            // Eight creators that all read the key absent.
            let wins = (0..8)
                .filter(|i| {
                    create(&s, "k", format!("c{i}").as_bytes(), 10_000).unwrap() == Swap::Done
                })
                .count();
            assert_eq!(wins, 1);
            assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"c0"[..]));
        }
    }

    #[test]
    fn creators_on_either_side_of_an_epoch_boundary_do_not_both_win() {
        let end_of_epoch = 10 * GUARD_EPOCH_SECS - 1;
        for (first, second) in [
            (end_of_epoch, end_of_epoch + 2),
            (end_of_epoch + 2, end_of_epoch),
        ] {
            let s = MemStore::new();
            assert_eq!(create(&s, "k", b"a", first).unwrap(), Swap::Done);
            assert_eq!(create(&s, "k", b"b", second).unwrap(), Swap::Conflict);
        }
        // Well past the margin a new epoch arbitrates alone: a winner that
        // died before writing holds the key for an epoch at most.
        let s = MemStore::new();
        s.increment(&guard_key("k", 10), 1).unwrap();
        assert_eq!(
            create(&s, "k", b"a", 10 * GUARD_EPOCH_SECS + 5).unwrap(),
            Swap::Conflict
        );
        let later = 11 * GUARD_EPOCH_SECS + GUARD_MARGIN_SECS;
        assert_eq!(create(&s, "k", b"a", later).unwrap(), Swap::Done);
    }

    #[test]
    fn deleting_the_guards_lets_a_key_be_created_again_at_once() {
        let s = MemStore::new();
        assert_eq!(create(&s, "k", b"a", 5000).unwrap(), Swap::Done);
        let mut gone = vec!["k".to_string()];
        gone.extend(guard_keys("k", 5001));
        s.delete_many(&gone).unwrap();
        assert_eq!(create(&s, "k", b"b", 5002).unwrap(), Swap::Done);
    }

    #[test]
    fn get_many_falls_back_where_the_batch_read_fails() {
        for s in both() {
            s.set("a", b"1").unwrap();
            let got = s.get_many(&["a".into(), "b".into(), "a".into()]).unwrap();
            assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"1".to_vec())]);
            assert_eq!(
                s.get_many(&["a".into()]).unwrap(),
                vec![Some(b"1".to_vec())]
            );
        }
    }

    /// A store whose first increments fail as Spin's SQLite store does
    /// while another process writes.
    struct Locked {
        inner: MemStore,
        failures: std::cell::Cell<usize>,
    }

    impl Store for Locked {
        fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> StoreResult<()> {
            self.inner.delete(key)
        }
        fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
            if self.failures.get() > 0 {
                self.failures.set(self.failures.get() - 1);
                return Err(StoreError(
                    "SqliteFailure(Error { code: DatabaseBusy, extended_code: 5 }, \
                     Some(\"database is locked\"))"
                        .into(),
                ));
            }
            self.inner.increment(key, delta)
        }
        fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
            self.inner.cas(key, change)
        }
    }

    #[test]
    fn a_locked_increment_is_tried_again_and_counts_once() {
        let s = Locked {
            inner: MemStore::new(),
            failures: std::cell::Cell::new(3),
        };
        assert_eq!(create(&s, "k", b"v", 1000).unwrap(), Swap::Done);
        assert_eq!(
            s.inner
                .increment(&guard_key("k", 1000 / GUARD_EPOCH_SECS), 0)
                .unwrap(),
            1
        );
        // Other errors are final.
        s.failures.set(LOCKED_RETRIES + 1);
        assert!(increment(&s, "n", 1).is_err());
    }

    #[test]
    fn long_keys_get_hashed_guards() {
        let k = "k".repeat(MAX_KEY_LEN);
        assert!(guard_key(&k, 123).len() <= MAX_KEY_LEN);
        assert_ne!(guard_key(&k, 1), guard_key(&k, 2));
    }

    #[test]
    fn spin_limits_are_enforced() {
        let s = MemStore::new();
        assert!(s.set(&"k".repeat(257), b"v").is_err());
        assert!(s.set(&"k".repeat(256), b"v").is_ok());
        assert!(s.set("big", &vec![0u8; MAX_VALUE_LEN + 1]).is_err());
        assert!(create(&s, "big", &vec![0u8; MAX_VALUE_LEN + 1], 1).is_err());
    }
}
