//! The engine's [`Store`] over Spin's key-value store: `wasi:keyvalue`
//! store and batch for reads and writes, `wasi:keyvalue/atomics` for
//! `increment` and compare-and-swap. Only Spin's calls are made here, passed
//! on with what Spin answered; the engine (`scim::storage::kv`) makes them correct
//! where Spin's answers are not (docs/storage.md).

use scim::storage::kv::{
    check_key, check_value, CasReport, Change, Store, StoreError, StoreResult,
};
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store as kv};

pub struct SpinStore {
    bucket: kv::Bucket,
}

fn err(e: kv::Error) -> StoreError {
    StoreError(match e {
        kv::Error::NoSuchStore => "no such store".into(),
        kv::Error::AccessDenied => "access denied".into(),
        kv::Error::Other(s) => s,
    })
}

impl SpinStore {
    pub fn open_default() -> StoreResult<SpinStore> {
        Ok(SpinStore {
            bucket: kv::open("default").map_err(err)?,
        })
    }
}

impl Store for SpinStore {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        check_key(key)?;
        self.bucket.get(key).map_err(err)
    }

    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        for k in keys {
            check_key(k)?;
        }
        let found = batch::get_many(&self.bucket, keys).map_err(err)?;
        // get-many may return fewer entries, in any order, and one entry
        // for a key asked twice: index by key.
        let map: std::collections::HashMap<String, Option<Vec<u8>>> = found.into_iter().collect();
        Ok(keys.iter().map(|k| map.get(k).cloned().flatten()).collect())
    }

    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        check_key(key)?;
        check_value(value)?;
        self.bucket.set(key, value).map_err(err)
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<()> {
        for (k, v) in entries {
            check_key(k)?;
            check_value(v)?;
        }
        batch::set_many(&self.bucket, entries).map_err(err)
    }

    fn delete(&self, key: &str) -> StoreResult<()> {
        check_key(key)?;
        self.bucket.delete(key).map_err(err)
    }

    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        batch::delete_many(&self.bucket, keys).map_err(err)
    }

    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        check_key(key)?;
        atomics::increment(&self.bucket, key, delta).map_err(err)
    }

    /// `cas.new`, `cas.current`, `swap`: the value is read through the
    /// handle itself, so a read-modify-write costs one read. The handle
    /// that a failed swap hands back is dropped unread.
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        check_key(key)?;
        let cas = atomics::Cas::new(&self.bucket, key).map_err(err)?;
        let current = cas.current().map_err(err)?;
        let Some(new) = change(current.as_deref()) else {
            return Ok(CasReport::Skipped);
        };
        check_value(&new)?;
        match atomics::swap(cas, &new) {
            Ok(()) => Ok(CasReport::Swapped),
            Err(atomics::CasError::CasFailed(_)) => Ok(CasReport::Failed),
            Err(atomics::CasError::StoreError(e)) => Err(err(e)),
        }
    }
}
