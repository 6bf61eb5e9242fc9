//! Key-value storage behind `fermyon:spin/key-value` and `wasi:keyvalue`.
//!
//! Backends implement [`KvBackend`] (blocking calls, one instance per store
//! label); [`Store`] wraps a backend, enforces Spin's size limits and gives
//! the guest Spin's compare-and-swap, weak spots included
//! ([`CasSemantics`]).

use std::sync::Arc;

pub mod reconnect;
pub mod redis;
pub mod sqlite;

/// Spin's limit on key length, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Spin's limit on value size, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Errors shared by both key-value interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    StoreTableFull,
    Other(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::NoSuchStore => f.write_str("no such store"),
            KvError::AccessDenied => f.write_str("access denied"),
            KvError::StoreTableFull => f.write_str("store table full"),
            KvError::Other(m) => f.write_str(m),
        }
    }
}

pub type KvResult<T> = std::result::Result<T, KvError>;

/// Outcome of a compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The stored value still matched the snapshot and was replaced.
    Swapped,
    /// The stored value had changed; this is the value found instead.
    Conflict(Option<Vec<u8>>),
}

/// Whether the current thread is a worker of a multi-threaded tokio
/// runtime (where a long wait would stall other requests' tasks).
pub fn on_async_worker() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

/// Runs a call that may wait (network I/O, another process's lock)
/// without stalling other tasks on this worker: on a multi-threaded
/// runtime the worker hands its other tasks to another thread first
/// (`block_in_place`); elsewhere `f` simply runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if on_async_worker() {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// A key-value store for one label. Methods are synchronous and are called
/// directly from the async runtime's worker threads: a backend whose calls
/// may wait for long (network I/O, lock waits) wraps the wait in
/// [`blocking`] itself, so that short calls (a SQLite read) pay no thread
/// handoff.
pub trait KvBackend: Send + Sync {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()>;
    fn delete(&self, key: &str) -> KvResult<()>;
    fn exists(&self, key: &str) -> KvResult<bool> {
        Ok(self.get(key)?.is_some())
    }
    fn keys(&self) -> KvResult<Vec<String>>;
    /// About `limit` keys after `cursor` (`None`: from the start), and the
    /// cursor of the next page (`None`: no more): Spin's `list-keys` with a
    /// cursor, for the store checker, which must not hold every key.
    fn keys_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> KvResult<(Vec<String>, Option<String>)>;
    /// One entry per requested key, in request order, `None` when absent.
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        keys.iter().map(|k| Ok((k.clone(), self.get(k)?))).collect()
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }
    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
    /// Atomically adds `delta` (absent = 0) and returns the new value.
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64>;
    /// `increment` as Spin runs it on this backend, where that is weaker
    /// (SQLite: may fail at once when another process writes).
    fn increment_as_spin(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.increment(key, delta)
    }
    /// Atomically replaces the value of `key` with `value` if the stored
    /// value equals `expected` (`None` = the key must still be absent). The
    /// guest sees this through [`Cas::swap`], as weak as Spin by default.
    fn swap(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<SwapOutcome>;
    /// Makes pending writes durable before the process exits.
    fn flush(&self) {}
    /// Which Spin store this backend stands in for.
    fn kind(&self) -> BackendKind;
    /// A short human description, e.g. `SQLite ".spin/sqlite_key_value.db"`.
    fn describe(&self) -> String;
}

pub fn check_key(key: &str) -> KvResult<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::Other(format!(
            "key is too large: {} bytes, the limit is {MAX_KEY_BYTES} bytes",
            key.len()
        )));
    }
    Ok(())
}

pub fn check_value(value: &[u8]) -> KvResult<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::Other(format!(
            "value is too large: {} bytes, the limit is {MAX_VALUE_BYTES} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// Which backend a store runs on: Spin's compare-and-swap and batch reads
/// behave differently on each (see [`CasSemantics::Spin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Redis,
}

/// How strong the compare-and-swap (and the batch read) that a store gives
/// the guest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CasSemantics {
    /// Exactly what Spin 3.0 to 4.0.2 does (crates `key-value-spin` and
    /// `key-value-redis`, unchanged over those releases), weak spots
    /// included; the default, so that nothing passes here that fails under
    /// `spin up`:
    /// - SQLite: `increment` is a deferred transaction (read, then write)
    ///   that fails at once with "database is locked" when another process
    ///   holds the write lock as it upgrades.
    /// - SQLite: `swap` after `current()` found a value is
    ///   `UPDATE … WHERE value = <that value>`, a real compare; after
    ///   `current()` found nothing (or was never called) it is an upsert that
    ///   succeeds even if another request created the key meanwhile.
    /// - Redis: `current()` is `WATCH` + `GET` and `swap` is
    ///   `MULTI SET EXEC` followed by `UNWATCH <key>`, which Redis refuses
    ///   (`UNWATCH` takes no argument): the write applies when the key was not
    ///   changed since `current()`, and `swap` reports `cas-failed` every
    ///   time. `get_many` sends `KEYS k1 k2 …` instead of `MGET`: an error
    ///   for two keys or more, an empty answer for one absent key, an error
    ///   for one present key.
    #[default]
    Spin,
    /// A true compare-and-swap on every backend (insert-if-absent included)
    /// and a working `get_many`: stronger than Spin (`--strict-kv`).
    Strict,
}

/// A backend for one label, with Spin's limits enforced.
#[derive(Clone)]
pub struct Store {
    pub label: String,
    backend: Arc<dyn KvBackend>,
    semantics: CasSemantics,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("label", &self.label)
            .field("backend", &self.backend.describe())
            .field("semantics", &self.semantics)
            .finish()
    }
}

impl Store {
    /// A store with Spin's semantics ([`CasSemantics::Spin`]).
    pub fn new(label: impl Into<String>, backend: Arc<dyn KvBackend>) -> Self {
        Store {
            label: label.into(),
            backend,
            semantics: CasSemantics::Spin,
        }
    }

    pub fn with_semantics(mut self, semantics: CasSemantics) -> Self {
        self.semantics = semantics;
        self
    }

    #[cfg(test)]
    pub fn semantics(&self) -> CasSemantics {
        self.semantics
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    pub fn flush(&self) {
        self.backend.flush()
    }

    pub fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        check_key(key)?;
        self.backend.get(key)
    }

    pub fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        check_key(key)?;
        check_value(value)?;
        self.backend.set(key, value)
    }

    pub fn delete(&self, key: &str) -> KvResult<()> {
        check_key(key)?;
        self.backend.delete(key)
    }

    pub fn exists(&self, key: &str) -> KvResult<bool> {
        check_key(key)?;
        self.backend.exists(key)
    }

    pub fn keys(&self) -> KvResult<Vec<String>> {
        self.backend.keys()
    }

    /// A page of keys ([`KvBackend::keys_page`]).
    pub fn keys_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> KvResult<(Vec<String>, Option<String>)> {
        self.backend.keys_page(cursor, limit)
    }

    pub fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        keys.iter().try_for_each(|k| check_key(k))?;
        if self.semantics == CasSemantics::Spin && self.backend.kind() == BackendKind::Redis {
            return self.redis_keys_as_spin_sends_it(keys);
        }
        self.backend.get_many(keys)
    }

    /// Spin's Redis `get_many` runs `KEYS <k1> <k2> …` and reads the answer
    /// as (key, value) pairs. Keys made by the engine hold no glob
    /// characters, so one key matches at most itself.
    fn redis_keys_as_spin_sends_it(
        &self,
        keys: &[String],
    ) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        match keys {
            [] => Ok(Vec::new()),
            [one] => match self.backend.exists(one)? {
                false => Ok(Vec::new()),
                true => Err(KvError::Other(
                    "Response was of incompatible type - TypeError: \"Bulk response of wrong \
                     dimension\" (response was bulk-string)"
                        .into(),
                )),
            },
            _ => Err(KvError::Other(
                "ERR wrong number of arguments for 'keys' command".into(),
            )),
        }
    }

    pub fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        entries.iter().try_for_each(|(k, v)| {
            check_key(k)?;
            check_value(v)
        })?;
        self.backend.set_many(entries)
    }

    pub fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        keys.iter().try_for_each(|k| check_key(k))?;
        self.backend.delete_many(keys)
    }

    pub fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        check_key(key)?;
        match self.semantics {
            CasSemantics::Spin => self.backend.increment_as_spin(key, delta),
            CasSemantics::Strict => self.backend.increment(key, delta),
        }
    }

    /// Starts a compare-and-swap (`cas.new`). As in Spin, nothing is read
    /// until [`Cas::current`].
    pub fn cas(&self, key: &str) -> KvResult<Cas> {
        check_key(key)?;
        Ok(Cas {
            store: self.clone(),
            key: key.to_string(),
            snapshot: None,
            read: false,
        })
    }
}

/// A compare-and-swap in progress (`wasi:keyvalue/atomics.cas`).
#[derive(Debug, Clone)]
pub struct Cas {
    store: Store,
    key: String,
    /// The value the last [`Cas::current`] read.
    snapshot: Option<Vec<u8>>,
    /// Whether [`Cas::current`] was called (Spin's Redis store `WATCH`es
    /// the key there).
    read: bool,
}

impl Cas {
    /// Reads the key's value now and remembers it for [`Cas::swap`]
    /// (`cas.current`: Spin reads on every call).
    pub fn current(&mut self) -> KvResult<Option<Vec<u8>>> {
        let v = self.store.backend.get(&self.key)?;
        self.snapshot.clone_from(&v);
        self.read = true;
        Ok(v)
    }

    /// The value the last [`Cas::current`] saw.
    #[cfg(test)]
    pub fn snapshot(&self) -> Option<&[u8]> {
        self.snapshot.as_deref()
    }

    /// `atomics.swap`, with the store's [`CasSemantics`]. On `cas-failed`
    /// returns `Err(Ok(cas))` with a fresh CAS whose `current()` has been
    /// read (as Spin does); store errors are `Err(Err(e))`.
    pub fn swap(self, value: &[u8]) -> std::result::Result<(), std::result::Result<Cas, KvError>> {
        check_value(value).map_err(Err)?;
        let backend = &self.store.backend;
        let compared = |expected: Option<&[u8]>| -> KvResult<bool> {
            Ok(backend.swap(&self.key, expected, value)? == SwapOutcome::Swapped)
        };
        let swapped = match (self.store.semantics, backend.kind()) {
            (CasSemantics::Strict, _) => compared(self.snapshot.as_deref()),
            (CasSemantics::Spin, BackendKind::Sqlite) => match &self.snapshot {
                // `INSERT … ON CONFLICT DO UPDATE`: no compare at all.
                None => backend.set(&self.key, value).map(|()| true),
                // `UPDATE … WHERE value = :old_value`.
                Some(old) => compared(Some(old)),
            },
            (CasSemantics::Spin, BackendKind::Redis) => {
                // MULTI SET EXEC applies unless the WATCHed key changed (no
                // WATCH without current()); then UNWATCH fails, so the
                // outcome is reported as a failure whatever happened.
                let applied = if self.read {
                    compared(self.snapshot.as_deref())
                } else {
                    backend.set(&self.key, value).map(|()| true)
                };
                applied.map(|_| false)
            }
        };
        match swapped {
            Ok(true) => Ok(()),
            Ok(false) => {
                let mut fresh = self.store.cas(&self.key).map_err(Err)?;
                fresh.current().map_err(Err)?;
                Err(Ok(fresh))
            }
            Err(e) => Err(Err(e)),
        }
    }
}

/// Test helper: add one to the decimal counter at `key` by compare-and-swap,
/// retrying on conflict (the no-lost-update tests of every backend use it).
#[cfg(test)]
pub(crate) fn cas_increment(store: &Store, key: &str) {
    let mut cas = store.cas(key).unwrap();
    cas.current().unwrap();
    loop {
        let n: u64 = cas
            .snapshot()
            .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
            .unwrap_or(0);
        match cas.swap((n + 1).to_string().as_bytes()) {
            Ok(()) => return,
            Err(Ok(fresh)) => cas = fresh,
            Err(Err(e)) => panic!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let store = Store::new(
            "default",
            Arc::new(sqlite::SqliteDb::in_memory().unwrap().store("default")),
        );
        let key_ok = "k".repeat(MAX_KEY_BYTES);
        let key_big = "k".repeat(MAX_KEY_BYTES + 1);
        // Multi-byte characters count in bytes.
        let key_big_utf8 = "é".repeat(MAX_KEY_BYTES / 2 + 1);
        let val_ok = vec![7u8; MAX_VALUE_BYTES];
        let val_big = vec![7u8; MAX_VALUE_BYTES + 1];

        store.set(&key_ok, &val_ok).unwrap();
        assert_eq!(store.get(&key_ok).unwrap().unwrap().len(), MAX_VALUE_BYTES);
        for key in [&key_big, &key_big_utf8] {
            assert!(
                matches!(store.set(key, b"v"), Err(KvError::Other(m)) if m.contains("key is too large"))
            );
            assert!(matches!(store.get(key), Err(KvError::Other(_))));
            assert!(matches!(store.delete(key), Err(KvError::Other(_))));
            assert!(matches!(store.exists(key), Err(KvError::Other(_))));
            assert!(matches!(store.increment(key, 1), Err(KvError::Other(_))));
            assert!(store.cas(key).is_err());
            assert!(store.get_many(&[key.to_string()]).is_err());
            assert!(store.delete_many(&[key.to_string()]).is_err());
        }
        assert!(
            matches!(store.set("k", &val_big), Err(KvError::Other(m)) if m.contains("value is too large"))
        );
        assert!(store
            .set_many(&[("a".into(), b"1".to_vec()), ("b".into(), val_big.clone())])
            .is_err());
        // Nothing of the rejected batch was written.
        assert_eq!(store.get("a").unwrap(), None);
        let cas = store.cas("k").unwrap();
        assert!(matches!(cas.swap(&val_big), Err(Err(KvError::Other(_)))));
        assert_eq!(store.get("k").unwrap(), None);
    }
}
