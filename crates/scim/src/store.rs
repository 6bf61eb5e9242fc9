//! The key-value store the engine runs on. The component implements it over
//! Spin's key-value store (`wasi:keyvalue` store/batch/atomics); tests use
//! [`MemStore`]. Keys are at most [`MAX_KEY_LEN`] bytes and values at most
//! [`MAX_VALUE_LEN`] bytes: Spin's limits, enforced here too so that what
//! passes in unit tests passes on Spin.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

pub const MAX_KEY_LEN: usize = 256;
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

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

pub type StoreResult<T> = Result<T, StoreError>;

/// Outcome of a compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// The stored value was not the expected one; nothing was written.
    Conflict,
}

/// Computes a key's new value from its current one (`None`: no change), for
/// [`Store::read_and_swap`].
pub type Change<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

pub trait Store {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Values for `keys`, in the same order.
    fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(k)).collect()
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()>;
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }
    fn delete(&self, key: &str) -> StoreResult<()>;
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
    /// Write `new` at `key` only if the stored value equals `expected`
    /// (`None`: only if the key is absent). Atomic where the host offers
    /// `wasi:keyvalue/atomics`; see docs/storage.md for hosts without it.
    fn compare_and_swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8])
        -> StoreResult<Swap>;
    /// One attempt at a read-modify-write of `key`: read the value, let
    /// `change` compute the new one (`None`: leave it as is, answered
    /// `Done`) and write it only if the stored value has not changed
    /// meanwhile. This default reads with `get` and writes with
    /// [`Store::compare_and_swap`]; a store with compare-and-swap handles
    /// (`wasi:keyvalue/atomics` `cas`) reads once and compares on the host.
    fn read_and_swap(&self, key: &str, change: &mut Change) -> StoreResult<Swap> {
        let cur = self.get(key)?;
        match change(cur.as_deref()) {
            None => Ok(Swap::Done),
            Some(new) => self.compare_and_swap(key, cur.as_deref(), &new),
        }
    }
}

pub fn check_key(key: &str) -> StoreResult<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError(format!("key longer than {MAX_KEY_LEN} bytes")));
    }
    Ok(())
}

pub fn check_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(StoreError(format!(
            "value larger than {MAX_VALUE_LEN} bytes"
        )));
    }
    Ok(())
}

/// An in-memory store for tests, with Spin's limits. It counts operations so
/// tests can assert how much work a request does.
#[derive(Default)]
pub struct MemStore {
    data: RefCell<BTreeMap<String, Vec<u8>>>,
    ops: RefCell<OpCounts>,
}

/// Number of keys read and written, for cost assertions in tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpCounts {
    pub reads: usize,
    pub writes: usize,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn ops(&self) -> OpCounts {
        *self.ops.borrow()
    }
    pub fn reset_ops(&self) {
        *self.ops.borrow_mut() = OpCounts::default();
    }
    pub fn len(&self) -> usize {
        self.data.borrow().len()
    }
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
        self.ops.borrow_mut().reads += 1;
        Ok(self.data.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        check_key(key)?;
        check_value(value)?;
        self.ops.borrow_mut().writes += 1;
        self.data
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        check_key(key)?;
        self.ops.borrow_mut().writes += 1;
        self.data.borrow_mut().remove(key);
        Ok(())
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> StoreResult<Swap> {
        check_key(key)?;
        check_value(new)?;
        let mut ops = self.ops.borrow_mut();
        ops.reads += 1;
        let mut data = self.data.borrow_mut();
        if data.get(key).map(|v| v.as_slice()) != expected {
            return Ok(Swap::Conflict);
        }
        ops.writes += 1;
        data.insert(key.to_string(), new.to_vec());
        Ok(Swap::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_inserts_only_when_absent_and_swaps_only_on_match() {
        let s = MemStore::new();
        assert_eq!(s.compare_and_swap("k", None, b"a").unwrap(), Swap::Done);
        assert_eq!(s.compare_and_swap("k", None, b"b").unwrap(), Swap::Conflict);
        assert_eq!(
            s.compare_and_swap("k", Some(b"x"), b"b").unwrap(),
            Swap::Conflict
        );
        assert_eq!(
            s.compare_and_swap("k", Some(b"a"), b"b").unwrap(),
            Swap::Done
        );
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn spin_limits_are_enforced() {
        let s = MemStore::new();
        assert!(s.set(&"k".repeat(257), b"v").is_err());
        assert!(s.set(&"k".repeat(256), b"v").is_ok());
        assert!(s.set("big", &vec![0u8; MAX_VALUE_LEN + 1]).is_err());
    }
}
