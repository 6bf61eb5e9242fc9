//! [`Counting`]: a [`Store`] around another that counts what a request costs
//! on the key-value store — host calls (each one crosses the component
//! boundary and, on Spin's SQLite store, is a transaction of its own), keys
//! and bytes read and written, reads by key family — and can record each
//! call. The one call-counting store of the project: unit tests, the
//! engine's integration tests and the native bench all use it.

use super::kv::{CasReport, Change, Store, StoreResult};
use super::layout::family;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// One call of the raw [`Store`] interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// [`Store::get`].
    Get,
    /// [`Store::batch_get`].
    GetMany,
    /// [`Store::set`].
    Set,
    /// [`Store::set_many`].
    SetMany,
    /// [`Store::delete`].
    Delete,
    /// [`Store::delete_many`].
    DeleteMany,
    /// [`Store::increment`].
    Increment,
    /// [`Store::cas`].
    Cas,
}

/// A recorded call: what it was and which keys it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation.
    pub op: Op,
    /// The keys, in the order the call named them.
    pub keys: Vec<String>,
}

/// Store traffic since the counter started or was last [reset](Counting::reset).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// Calls of the raw interface (host calls under Spin).
    pub calls: u64,
    /// Keys read (an absent key counts).
    pub reads: u64,
    /// Bytes of the values read.
    pub read_bytes: u64,
    /// Keys written or deleted (a compare-and-swap counts when it tried to
    /// write, whatever the store reported).
    pub writes: u64,
    /// Bytes of the values written (8 per increment, 0 per delete).
    pub write_bytes: u64,
    /// Calls that wrote: each one a write transaction of its own on Spin's
    /// SQLite store (an fsync'd commit under `spin up`), whatever the
    /// number of keys. A compare-and-swap counts when it tried to write.
    pub write_calls: u64,
}

/// Reads of one key family (`r/U`, `m/G`, …): how many keys, how many bytes.
pub type FamilyReads = BTreeMap<String, (u64, u64)>;

/// A store that counts the traffic through it to `inner`.
pub struct Counting<S> {
    inner: S,
    traffic: Cell<Traffic>,
    by_family: RefCell<FamilyReads>,
    /// `Some` while recording calls.
    calls: RefCell<Option<Vec<Call>>>,
}

impl<S: Store> Counting<S> {
    /// Count the traffic to `inner` (without recording calls).
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            traffic: Cell::new(Traffic::default()),
            by_family: RefCell::new(BTreeMap::new()),
            calls: RefCell::new(None),
        }
    }
    /// Count, and record every call too (see [`Counting::take_calls`]).
    pub fn recording(inner: S) -> Self {
        let c = Self::new(inner);
        *c.calls.borrow_mut() = Some(Vec::new());
        c
    }
    /// The store counted.
    pub fn inner(&self) -> &S {
        &self.inner
    }
    /// The traffic so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic.get()
    }
    /// Reads so far by key family (`r/U`, `m/G`, `l/U/<chunk>`, …).
    pub fn reads_by_family(&self) -> FamilyReads {
        self.by_family.borrow().clone()
    }
    /// The calls recorded since the last take (empty unless recording).
    pub fn take_calls(&self) -> Vec<Call> {
        self.calls
            .borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
    /// Start counting from zero (recorded calls are dropped too).
    pub fn reset(&self) {
        self.traffic.set(Traffic::default());
        self.by_family.borrow_mut().clear();
        self.take_calls();
    }

    fn call(&self, op: Op, keys: &mut dyn Iterator<Item = &str>) {
        let mut t = self.traffic.get();
        t.calls += 1;
        self.traffic.set(t);
        if let Some(calls) = self.calls.borrow_mut().as_mut() {
            calls.push(Call {
                op,
                keys: keys.map(str::to_string).collect(),
            });
        }
    }
    fn read(&self, key: &str, value: Option<&[u8]>) {
        let n = value.map_or(0, |v| v.len() as u64);
        let mut t = self.traffic.get();
        t.reads += 1;
        t.read_bytes += n;
        self.traffic.set(t);
        let mut families = self.by_family.borrow_mut();
        let e = families.entry(family(key)).or_default();
        e.0 += 1;
        e.1 += n;
    }
    fn write_call(&self) {
        let mut t = self.traffic.get();
        t.write_calls += 1;
        self.traffic.set(t);
    }
    fn wrote(&self, bytes: usize) {
        let mut t = self.traffic.get();
        t.writes += 1;
        t.write_bytes += bytes as u64;
        self.traffic.set(t);
    }
}

impl<S: Store> Store for Counting<S> {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.call(Op::Get, &mut std::iter::once(key));
        let v = self.inner.get(key)?;
        self.read(key, v.as_deref());
        Ok(v)
    }
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.call(Op::GetMany, &mut keys.iter().map(String::as_str));
        let vs = self.inner.batch_get(keys)?;
        for (k, v) in keys.iter().zip(&vs) {
            self.read(k, v.as_deref());
        }
        Ok(vs)
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.call(Op::Set, &mut std::iter::once(key));
        self.write_call();
        self.wrote(value.len());
        self.inner.set(key, value)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        self.call(Op::SetMany, &mut entries.iter().map(|(k, _)| k.as_str()));
        self.write_call();
        entries.iter().for_each(|(_, v)| self.wrote(v.len()));
        self.inner.set_many(entries)
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        self.call(Op::Delete, &mut std::iter::once(key));
        self.write_call();
        self.wrote(0);
        self.inner.delete(key)
    }
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        self.call(Op::DeleteMany, &mut keys.iter().map(String::as_str));
        self.write_call();
        keys.iter().for_each(|_| self.wrote(0));
        self.inner.delete_many(keys)
    }
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        self.call(Op::Increment, &mut std::iter::once(key));
        self.write_call();
        self.wrote(8);
        self.inner.increment(key, delta)
    }
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        self.call(Op::Cas, &mut std::iter::once(key));
        let (mut seen, mut wrote) = (None, 0);
        let report = self.inner.cas(key, &mut |cur| {
            seen = Some(cur.map_or(0, <[u8]>::len));
            let new = change(cur);
            wrote = new.as_ref().map_or(0, Vec::len);
            new
        })?;
        if let Some(n) = seen {
            // `current()` read the key.
            let mut t = self.traffic.get();
            t.reads += 1;
            t.read_bytes += n as u64;
            self.traffic.set(t);
        }
        if report != CasReport::Skipped {
            self.write_call();
            self.wrote(wrote);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemStore;

    #[test]
    fn counts_keys_bytes_and_calls_and_records_them_when_asked() {
        let s = Counting::recording(MemStore::new());
        s.set("t/a/r/U/1", b"abc").unwrap();
        s.get("t/a/r/U/1").unwrap();
        s.batch_get(&["t/a/r/U/1".into(), "t/a/r/U/2".into()])
            .unwrap();
        s.delete_many(&["t/a/r/U/1".into()]).unwrap();
        let t = s.traffic();
        assert_eq!(
            t,
            Traffic {
                calls: 4,
                reads: 3,
                read_bytes: 6,
                writes: 2,
                write_bytes: 3,
                write_calls: 2,
            }
        );
        assert_eq!(s.reads_by_family().get("r/U"), Some(&(3, 6)));
        let calls = s.take_calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[2].op, Op::GetMany);
        assert_eq!(calls[2].keys, vec!["t/a/r/U/1", "t/a/r/U/2"]);
        s.reset();
        assert_eq!(s.traffic(), Traffic::default());
        assert!(s.take_calls().is_empty());
    }

    #[test]
    fn a_compare_and_swap_reads_once_and_writes_only_when_it_tries() {
        let s = Counting::new(MemStore::new());
        s.set("k", b"a").unwrap();
        s.reset();
        s.cas("k", &mut |_| None).unwrap();
        assert_eq!((s.traffic().reads, s.traffic().writes), (1, 0));
        s.cas("k", &mut |_| Some(b"bb".to_vec())).unwrap();
        assert_eq!((s.traffic().reads, s.traffic().writes), (2, 1));
        assert_eq!(s.traffic().write_bytes, 2);
        assert_eq!(s.traffic().write_calls, 1);
        assert!(s.take_calls().is_empty(), "not recording");
    }
}
