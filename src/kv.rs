//! The engine's [`Store`] over Spin's key-value store: `wasi:keyvalue`
//! store/batch for reads and writes, `wasi:keyvalue/atomics` for
//! compare-and-swap (feature `atomics`, on by default).

use scim::store::{check_key, check_value, Store, StoreError, StoreResult, Swap};
use spin_sdk::wit::wasi::keyvalue::{batch, store as kv};

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

    fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        for k in keys {
            check_key(k)?;
        }
        let found = batch::get_many(&self.bucket, keys).map_err(err)?;
        // get-many may return fewer entries, in any order: index by key.
        let mut map: std::collections::HashMap<String, Option<Vec<u8>>> =
            found.into_iter().collect();
        Ok(keys.iter().map(|k| map.remove(k).flatten()).collect())
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

    #[cfg(feature = "atomics")]
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> StoreResult<Swap> {
        use spin_sdk::wit::wasi::keyvalue::atomics;
        check_key(key)?;
        check_value(new)?;
        let cas = atomics::Cas::new(&self.bucket, key).map_err(err)?;
        if cas.current().map_err(err)?.as_deref() != expected {
            return Ok(Swap::Conflict);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(Swap::Done),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::Conflict),
            Err(atomics::CasError::StoreError(e)) => Err(err(e)),
        }
    }

    /// The value is read through the `cas` handle itself, so the engine's
    /// read-modify-write costs one read, and the comparison happens on the
    /// host (against the snapshot the handle took) instead of in the guest.
    #[cfg(feature = "atomics")]
    fn read_and_swap(&self, key: &str, change: &mut scim::store::Change) -> StoreResult<Swap> {
        use spin_sdk::wit::wasi::keyvalue::atomics;
        check_key(key)?;
        let cas = atomics::Cas::new(&self.bucket, key).map_err(err)?;
        let current = cas.current().map_err(err)?;
        let Some(new) = change(current.as_deref()) else {
            return Ok(Swap::Done);
        };
        check_value(&new)?;
        match atomics::swap(cas, &new) {
            Ok(()) => Ok(Swap::Done),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::Conflict),
            Err(atomics::CasError::StoreError(e)) => Err(err(e)),
        }
    }

    /// Without `wasi:keyvalue/atomics` this is a read followed by a write:
    /// correct for one writer at a time, racy across concurrent writers
    /// (docs/storage.md says what that weakens).
    #[cfg(not(feature = "atomics"))]
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> StoreResult<Swap> {
        if self.get(key)?.as_deref() != expected {
            return Ok(Swap::Conflict);
        }
        self.set(key, new)?;
        Ok(Swap::Done)
    }
}
