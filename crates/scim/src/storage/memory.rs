//! [`MemStore`]: an in-memory [`Store`] for tests and the native bench that
//! is exactly as weak as the Spin store it stands in for (docs/storage.md,
//! "What Spin's stores guarantee"): a test that passes on it does not rely
//! on more than Spin gives.

use super::kv::{check_key, check_value, CasReport, Change, Store, StoreError, StoreResult};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// Which Spin store a [`MemStore`] behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Spin's default SQLite store: `swap` compares a value `current()`
    /// found and upserts when it found none.
    #[default]
    SpinSqlite,
    /// Spin's Redis store: `swap` applies unless the key changed since
    /// `current()` and always reports `cas-failed`; `get_many` fails for
    /// more than one key, and for one key that exists.
    SpinRedis,
}

/// Called between a CAS's `current()` and its `swap` with the key and the
/// data: a test writes there what a concurrent request would.
pub type Interference = Box<dyn FnMut(&str, &mut BTreeMap<String, Vec<u8>>)>;

/// An in-memory store for tests, as weak as the Spin store it stands in for
/// ([`Flavor`]). [`Counting`](super::counting::Counting) around it tells how
/// much work a request does.
#[derive(Default)]
pub struct MemStore {
    data: RefCell<BTreeMap<String, Vec<u8>>>,
    flavor: Flavor,
    interference: RefCell<Option<Interference>>,
}

impl MemStore {
    /// Like Spin's default SQLite store.
    pub fn new() -> Self {
        Self::default()
    }
    /// Like the Spin store `flavor`, weak spots included.
    pub fn like(flavor: Flavor) -> Self {
        MemStore {
            flavor,
            ..Self::default()
        }
    }
    /// Run `f` between every CAS's read and its swap.
    pub fn interfere(&self, f: Interference) {
        *self.interference.borrow_mut() = Some(f);
    }
    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.data.borrow().len()
    }
    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.data.borrow().is_empty()
    }
    /// All keys (tests only: Spin's equivalent is O(store)).
    pub fn keys(&self) -> Vec<String> {
        self.data.borrow().keys().cloned().collect()
    }
}

impl Store for MemStore {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self.data.borrow().get(key).cloned())
    }
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if self.flavor == Flavor::SpinRedis {
            // `KEYS k1 k2 …`, read as (key, value) pairs.
            let exists = keys
                .first()
                .is_some_and(|k| self.data.borrow().contains_key(k));
            if keys.len() > 1 || exists {
                return Err(StoreError(
                    "ERR wrong number of arguments for 'keys'".into(),
                ));
            }
        }
        keys.iter().map(|k| self.get(k)).collect()
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        check_key(key)?;
        check_value(value)?;
        self.data
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        check_key(key)?;
        self.data.borrow_mut().remove(key);
        Ok(())
    }
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        check_key(key)?;
        let mut data = self.data.borrow_mut();
        // As Spin's SQLite store keeps counters: 8 bytes, little-endian
        // (its Redis store: decimal text; the engine never reads them back).
        let now = match data.get(key) {
            None => 0,
            Some(v) => i64::from_le_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| StoreError("increment of a value that is no counter".into()))?,
            ),
        };
        let new = now + delta;
        data.insert(key.to_string(), new.to_le_bytes().to_vec());
        Ok(new)
    }
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        check_key(key)?;
        let seen = self.data.borrow().get(key).cloned();
        let Some(new) = change(seen.as_deref()) else {
            return Ok(CasReport::Skipped);
        };
        check_value(&new)?;
        if let Some(f) = self.interference.borrow_mut().as_mut() {
            f(key, &mut self.data.borrow_mut());
        }
        let mut data = self.data.borrow_mut();
        let unchanged = data.get(key) == seen.as_ref();
        let applies = match (self.flavor, &seen) {
            // INSERT … ON CONFLICT DO UPDATE: no compare.
            (Flavor::SpinSqlite, None) => true,
            // UPDATE … WHERE value = :old; Redis: WATCH … EXEC.
            _ => unchanged,
        };
        if applies {
            data.insert(key.to_string(), new);
        }
        Ok(match (self.flavor, applies) {
            (Flavor::SpinRedis, _) | (_, false) => CasReport::Failed,
            (Flavor::SpinSqlite, true) => CasReport::Swapped,
        })
    }
}

/// A store that dies after `budget` writes, as if the host were killed
/// there: that write and every later call fail (crash tests). `set_many`
/// and `delete_many` go key by key, so a batch may die half-way, as a
/// store without atomic batches would.
pub struct Dying<'s> {
    inner: &'s MemStore,
    budget: Cell<usize>,
}

impl<'s> Dying<'s> {
    /// `inner`, dying after `budget` writes.
    pub fn new(inner: &'s MemStore, budget: usize) -> Dying<'s> {
        Dying {
            inner,
            budget: Cell::new(budget),
        }
    }

    fn spend(&self) -> StoreResult<()> {
        match self.budget.get() {
            0 => Err(StoreError("killed".into())),
            n => {
                self.budget.set(n - 1);
                Ok(())
            }
        }
    }

    fn alive(&self) -> StoreResult<()> {
        match self.budget.get() {
            0 => Err(StoreError("killed".into())),
            _ => Ok(()),
        }
    }
}

impl Store for Dying<'_> {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.alive()?;
        self.inner.get(key)
    }
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.alive()?;
        self.inner.batch_get(keys)
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.spend()?;
        self.inner.set(key, value)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        self.spend()?;
        self.inner.delete(key)
    }
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        self.spend()?;
        self.inner.increment(key, delta)
    }
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        self.spend()?;
        self.inner.cas(key, change)
    }
}
