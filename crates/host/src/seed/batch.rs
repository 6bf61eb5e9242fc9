//! The store the seeder writes through: the engine's [`Store`] over one
//! SQLite connection to the host's store file (`spin_key_value`, the same
//! table, label and encodings as [`crate::kv::sqlite`]), inside a write
//! transaction that stays open across many requests and is committed by
//! [`BatchStore::commit`].
//!
//! Every call sees the writes made before it in the transaction, and no
//! other connection writes meanwhile (the transaction holds SQLite's write
//! lock from `BEGIN IMMEDIATE`), so each call is exactly what it would be
//! on Spin's store with one request at a time: a compare-and-swap compares
//! with what the key holds, an increment adds to it. What the batch gives
//! up is Spin's commit per call: a crash loses the open transaction (whole
//! requests, never part of one, since only [`BatchStore::commit`] commits),
//! which a preload can afford.

use std::cell::Cell;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use scim::storage::kv::{
    CasReport, Change, Store, StoreError, StoreResult, MAX_KEY_LEN, MAX_VALUE_LEN,
};

use crate::kv::sqlite::{decode_counter, BUSY_TIMEOUT};

const SELECT: &str = "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2";
const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT(store, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2";

/// SQLite's page cache while seeding (KiB, as `PRAGMA cache_size` takes a
/// negative count): the index pages of a million users' keys stay in memory.
const CACHE_KIB: i64 = 128 * 1024;

/// One label of a SQLite store file, written in batches.
pub struct BatchStore {
    conn: Connection,
    label: String,
    /// Whether a transaction is open.
    open: Cell<bool>,
}

fn sql(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

fn check_key(key: &str) -> StoreResult<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError(format!("key longer than {MAX_KEY_LEN} bytes")));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(StoreError(format!(
            "value larger than {MAX_VALUE_LEN} bytes"
        )));
    }
    Ok(())
}

/// A value column as bytes (Spin's own `increment` may have written an
/// INTEGER), as the host's backend reads it.
fn bytes(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_le_bytes().to_vec(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

impl BatchStore {
    /// Opens (creating if needed) the store file at `path` for `label`, in
    /// WAL mode as the host keeps it. Durability per commit is off
    /// (`synchronous=OFF`): [`BatchStore::finish`] checkpoints and syncs
    /// once at the end.
    pub fn open(path: &Path, label: &str) -> Result<BatchStore, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous=OFF; PRAGMA cache_size=-{CACHE_KIB};
             CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
             );"
        ))
        .map_err(|e| e.to_string())?;
        Ok(BatchStore {
            conn,
            label: label.to_string(),
            open: Cell::new(false),
        })
    }

    /// Begins the transaction if none is open (holding the write lock).
    fn begin(&self) -> StoreResult<()> {
        if !self.open.get() {
            self.conn
                .prepare_cached("BEGIN IMMEDIATE")
                .and_then(|mut s| s.execute([]))
                .map_err(sql)?;
            self.open.set(true);
        }
        Ok(())
    }

    /// Commits what the transaction holds (nothing to do when none is open).
    pub fn commit(&self) -> Result<(), String> {
        if self.open.get() {
            self.conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]))
                .map_err(|e| format!("commit: {e}"))?;
            self.open.set(false);
        }
        Ok(())
    }

    /// Commits, copies the write-ahead log into the database file, empties
    /// it, and syncs the file.
    pub fn finish(&self) -> Result<(), String> {
        self.commit()?;
        self.conn
            .execute_batch("PRAGMA synchronous=FULL;")
            .map_err(|e| e.to_string())?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| format!("checkpoint: {e}"))
    }

    fn read(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.conn
            .prepare_cached(SELECT)
            .and_then(|mut s| {
                s.query_row(params![self.label, key], |r| Ok(bytes(r.get_ref(0)?)))
                    .optional()
            })
            .map_err(sql)
    }

    fn write(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        check_key(key)?;
        check_value(value)?;
        self.begin()?;
        self.conn
            .prepare_cached(UPSERT)
            .and_then(|mut s| s.execute(params![self.label, key, value]))
            .map_err(sql)?;
        Ok(())
    }
}

impl Drop for BatchStore {
    fn drop(&mut self) {
        // An open transaction left behind by an error: whole requests only.
        if self.open.get() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Store for BatchStore {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        check_key(key)?;
        self.read(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.write(key, value)
    }

    fn delete(&self, key: &str) -> StoreResult<()> {
        check_key(key)?;
        self.begin()?;
        self.conn
            .prepare_cached(DELETE)
            .and_then(|mut s| s.execute(params![self.label, key]))
            .map_err(sql)?;
        Ok(())
    }

    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        check_key(key)?;
        // 8 bytes, little-endian: how Spin's SQLite store keeps counters.
        let current = match self.read(key)? {
            None => 0,
            Some(b) => decode_counter(&b).map_err(|e| StoreError(e.to_string()))?,
        };
        let new = current
            .checked_add(delta)
            .ok_or_else(|| StoreError(format!("cannot increment {current} by {delta}")))?;
        self.write(key, &new.to_le_bytes())?;
        Ok(new)
    }

    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        check_key(key)?;
        let current = self.read(key)?;
        let Some(new) = change(current.as_deref()) else {
            return Ok(CasReport::Skipped);
        };
        // Nobody else writes inside the transaction: the value read is the
        // value swapped, as a compare-and-swap that succeeds.
        self.write(key, &new)?;
        Ok(CasReport::Swapped)
    }
}
