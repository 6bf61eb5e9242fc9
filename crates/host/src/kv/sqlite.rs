//! SQLite key-value backend, compatible with Spin's default store: one file
//! (`.spin/sqlite_key_value.db` by default) with a table
//! `spin_key_value(store, key, value)`, the `store` column being the label.
//!
//! The database runs in WAL mode with a busy timeout. The backend's own
//! read-modify-writes (compare-and-swap, increment) run in a
//! `BEGIN IMMEDIATE` transaction, atomic when several host processes share
//! the file; what the guest gets of them is as weak as Spin's (see
//! [`super::CasSemantics`] and [`SqliteStore::increment_as_spin`]).
//!
//! Calls run inline on the async worker that makes them (a point read or
//! write takes microseconds; a thread handoff per call cost more than the
//! call), first without waiting for locks. Only when SQLite reports the
//! database busy (another process holds the write lock) is the call
//! repeated off the worker with the busy timeout (see [`SqliteDb::run`]).
//!
//! WAL checkpoints (copying the log back into the database file, with an
//! fsync) run on a background thread with its own connection instead of
//! inside whichever write crossed SQLite's auto-checkpoint threshold, so
//! no request pays for them, and keep the log from growing without end
//! under writes that never pause (see [`checkpoint_loop`]). Should that
//! thread fall behind (starved of CPU on a busy machine), the writers bound
//! the log themselves (see [`note_log_frames`]).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::{BackendKind, KvBackend, KvError, KvResult, SwapOutcome};

/// How long a writer waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// rusqlite's default busy timeout, which Spin's SQLite store keeps.
const SPIN_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Batches up to this many keys run inline on an async worker; larger ones
/// (and listing every key) run off it, as they may take milliseconds.
const INLINE_BATCH_MAX: usize = 64;

/// How long the checkpointer lets writes gather after the first one.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// Frames (pages) the write-ahead log may hold before the checkpointer
/// starts it over (16 MiB at SQLite's default 4 KiB pages).
const WAL_LIMIT_FRAMES: i64 = 4096;

/// Frames past which the writer that commits starts the log over itself,
/// whatever that costs it: the checkpointer has fallen behind.
const WAL_HARD_LIMIT_FRAMES: i64 = 4 * WAL_LIMIT_FRAMES;

/// How long a `RESTART` checkpoint waits for another process's writer (or
/// for the checkpointer's own `PASSIVE` round) before it gives up and
/// leaves the log to the next try (see [`restart_log`]).
const RESTART_WAIT: Duration = Duration::from_millis(50);

thread_local! {
    /// Frames in the log after the last commit on this thread (set by
    /// [`note_log_frames`], taken by [`SqliteDb::bound_log`]).
    static LOG_FRAMES: Cell<i64> = const { Cell::new(0) };
}

/// SQLite's write-ahead-log hook, called on the committing thread after
/// every commit of this process's connection: records how many frames the
/// log holds. It must not fail: an error here would fail the statement
/// whose commit has already happened.
fn note_log_frames(_wal: &Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    LOG_FRAMES.with(|f| f.set(i64::from(frames)));
    Ok(())
}

/// Copies every frame of the log back and has the next write start it from
/// its beginning (`PRAGMA wal_checkpoint(RESTART)`), waiting at most
/// [`RESTART_WAIT`] for other connections. Leaves the busy timeout at zero,
/// the connection's setting outside the slow path.
fn restart_log(conn: &Connection) {
    let _ = conn.busy_timeout(RESTART_WAIT);
    let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
    let _ = conn.busy_timeout(Duration::ZERO);
}

fn sql_err(e: rusqlite::Error) -> KvError {
    KvError::Other(format!("sqlite: {e}"))
}

/// Why one attempt at a call failed.
enum Fail {
    Sql(rusqlite::Error),
    Kv(KvError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<KvError> for Fail {
    fn from(e: KvError) -> Self {
        Fail::Kv(e)
    }
}

impl Fail {
    /// Another connection holds a lock the attempt needed. Nothing was
    /// written: autocommit statements did not run, and a transaction that
    /// failed (at `BEGIN IMMEDIATE`, a read or `COMMIT`) was rolled back.
    fn is_busy(&self) -> bool {
        matches!(self, Fail::Sql(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
    }

    fn into_kv(self) -> KvError {
        match self {
            Fail::Sql(e) => sql_err(e),
            Fail::Kv(e) => e,
        }
    }
}

type Attempt<T> = std::result::Result<T, Fail>;

/// A transaction begun and committed with cached statements (no SQL is
/// parsed per call), rolled back when dropped uncommitted.
struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Tx<'c> {
    /// `BEGIN` (a read snapshot from the first read on), or
    /// `BEGIN IMMEDIATE`: the write lock up front.
    fn begin(conn: &'c Connection, behavior: TransactionBehavior) -> Attempt<Self> {
        let sql = match behavior {
            TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
            TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
            _ => "BEGIN",
        };
        conn.prepare_cached(sql)?.execute([])?;
        Ok(Tx { conn, open: true })
    }

    fn commit(self) -> Attempt<()> {
        self.end("COMMIT")
    }

    fn rollback(self) -> Attempt<()> {
        self.end("ROLLBACK")
    }

    fn end(mut self, sql: &str) -> Attempt<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // SQLite may have rolled back already (some errors do).
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// One SQLite database file (shared by every label stored in it).
pub struct SqliteDb {
    /// The one connection of this process. Its busy timeout is zero except
    /// while a call runs on the slow path.
    conn: Mutex<Connection>,
    /// Set while a slow-path call holds `conn` (it may wait up to
    /// [`BUSY_TIMEOUT`] for another process): calls from async workers then
    /// queue off the worker too instead of blocking it on the mutex.
    slow: AtomicBool,
    location: Option<PathBuf>,
    /// Wakes the checkpointer after a write (file databases only).
    wrote: Option<SyncSender<()>>,
    /// Checkpoints the background thread has run.
    #[cfg_attr(not(test), allow(dead_code))]
    checkpoints: Arc<AtomicU64>,
    /// Set by the checkpointer when the log has grown past
    /// [`WAL_LIMIT_FRAMES`] and its `PASSIVE` rounds have copied most of it
    /// back: the next call to take the connection starts the log over.
    restart_due: Arc<AtomicBool>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> KvResult<Arc<Self>> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    KvError::Other(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        let conn = Connection::open(path).map_err(sql_err)?;
        Self::init(conn, Some(path.to_path_buf()), true)
    }

    /// A private in-memory database (`type = "spin"` without a `path`).
    pub fn in_memory() -> KvResult<Arc<Self>> {
        let conn = Connection::open_in_memory().map_err(sql_err)?;
        Self::init(conn, None, false)
    }

    /// `checkpointer`: whether to start the background checkpointer (file
    /// databases only; tests leave it out to see the writers' own bound).
    fn init(
        conn: Connection,
        location: Option<PathBuf>,
        checkpointer: bool,
    ) -> KvResult<Arc<Self>> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
        if location.is_some() {
            // Readers never block writers, and concurrent writers (also in
            // other processes) queue on the busy timeout.
            let _mode: String = conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(sql_err)?;
            // Checkpoints are the background thread's (see the module doc).
            conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;")
                .map_err(sql_err)?;
            conn.wal_hook(Some(note_log_frames));
        }
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )
        .map_err(sql_err)?;
        conn.busy_timeout(Duration::ZERO).map_err(sql_err)?;
        let checkpoints = Arc::new(AtomicU64::new(0));
        let restart_due = Arc::new(AtomicBool::new(false));
        let wrote = match &location {
            Some(path) if checkpointer => {
                let (tx, rx) = sync_channel(1);
                let checkpointer = Connection::open(path).map_err(sql_err)?;
                let count = checkpoints.clone();
                let due = restart_due.clone();
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(checkpointer, due, rx, count))
                    .map_err(|e| KvError::Other(format!("cannot start the checkpointer: {e}")))?;
                Some(tx)
            }
            _ => None,
        };
        Ok(Arc::new(SqliteDb {
            conn: Mutex::new(conn),
            slow: AtomicBool::new(false),
            location,
            wrote,
            checkpoints,
            restart_due,
        }))
    }

    /// [`Self::run_sized`] for a call that may write: wakes the
    /// checkpointer.
    fn write<T>(&self, short: bool, f: impl FnMut(&mut Connection) -> Attempt<T>) -> KvResult<T> {
        let result = self.run_sized(short, f);
        if let Some(wrote) = &self.wrote {
            // Full: a wake-up is already pending.
            let _ = wrote.try_send(());
        }
        result
    }

    /// Runs `f` on the connection. On an async worker it first runs right
    /// here without waiting for SQLite locks; if the database is busy (or
    /// a slow call holds the connection), or off any async runtime, it runs
    /// under [`super::blocking`] with the [`BUSY_TIMEOUT`]. `f` may so run
    /// twice, the first attempt having written nothing (see
    /// [`Fail::is_busy`]).
    fn run<T>(&self, f: impl FnMut(&mut Connection) -> Attempt<T>) -> KvResult<T> {
        self.run_sized(true, f)
    }

    /// [`Self::run`] for a call that may be long (a scan of every key, a
    /// large batch) when `short` is false: it then goes off the worker
    /// straight away.
    fn run_sized<T>(
        &self,
        short: bool,
        mut f: impl FnMut(&mut Connection) -> Attempt<T>,
    ) -> KvResult<T> {
        if short && super::on_async_worker() && !self.slow.load(Ordering::Acquire) {
            let attempt = {
                let mut conn = self.lock();
                let attempt = f(&mut conn);
                Self::bound_log(&conn);
                attempt
            };
            match attempt {
                Err(e) if e.is_busy() => {}
                done => return done.map_err(Fail::into_kv),
            }
        }
        super::blocking(|| {
            let mut conn = self.lock();
            self.slow.store(true, Ordering::Release);
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
            let result = f(&mut conn);
            let _ = conn.busy_timeout(Duration::ZERO);
            Self::bound_log(&conn);
            self.slow.store(false, Ordering::Release);
            result
        })
        .map_err(Fail::into_kv)
    }

    /// A view of this database for one store label.
    pub fn store(self: &Arc<Self>, label: &str) -> SqliteStore {
        SqliteStore {
            db: self.clone(),
            name: label.to_string(),
        }
    }

    /// Takes this process's connection, first starting the log over if the
    /// checkpointer asked for it (see [`checkpoint_loop`]).
    fn lock(&self) -> MutexGuard<'_, Connection> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if self.restart_due.load(Ordering::Relaxed)
            && self.restart_due.swap(false, Ordering::AcqRel)
        {
            restart_log(&conn);
        }
        conn
    }

    /// After a call on `conn` (still held): if its commit left the log past
    /// [`WAL_HARD_LIMIT_FRAMES`], the checkpointer has fallen behind the
    /// writers (starved of CPU, say), and this writer starts the log over
    /// itself, so the log stays bounded however the threads are scheduled.
    fn bound_log(conn: &Connection) {
        if LOG_FRAMES.with(|f| f.replace(0)) > WAL_HARD_LIMIT_FRAMES {
            restart_log(conn);
        }
    }

    /// Checkpoints the WAL into the main file (without waiting on others).
    pub fn checkpoint(&self) {
        if self.location.is_some() {
            let conn = self.lock();
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }
}

/// The checkpointer thread: after a write, waits [`CHECKPOINT_DELAY`] for
/// more, then checkpoints what it can without blocking anyone (`PASSIVE`:
/// readers and writers carry on; frames still in use by a reader wait for
/// the next round). Ends when its [`SqliteDb`] is dropped.
///
/// SQLite starts the log over from its beginning only when a write finds
/// every frame copied back, which under writes that never pause does not
/// happen: the log would grow without end (GiBs in `make bench`). So when it
/// holds more than [`WAL_LIMIT_FRAMES`], the checkpointer runs two more
/// `PASSIVE` rounds and sets `restart_due`: the next call to take this
/// process's connection runs a `RESTART` checkpoint under its mutex (no
/// writer of this process can be in the way), which copies the few frames
/// left and makes the next write start at the beginning of the file again.
/// `RESTART`, not `TRUNCATE`: the file keeps its size and is overwritten in
/// place (truncating and growing it again cost 40-80 ms per round here,
/// against 4-6 ms). The restart is the caller's, not this thread's: a
/// thread waiting for the mutex can be starved by writers that take it
/// back to back (CI saw the log pass 128 MiB within 2 s that way).
fn checkpoint_loop(
    conn: Connection,
    restart_due: Arc<AtomicBool>,
    wrote: Receiver<()>,
    count: Arc<AtomicU64>,
) {
    let _ = conn.busy_timeout(RESTART_WAIT);
    while wrote.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_DELAY);
        // The checkpoint below covers the writes that came meanwhile.
        let _ = wrote.try_recv();
        // Columns: busy (0/1), frames in the log, frames copied back.
        let Ok(log_frames) =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
        else {
            continue;
        };
        count.fetch_add(1, Ordering::Relaxed);
        if log_frames > WAL_LIMIT_FRAMES {
            // Each round copies what was written during the one before, so
            // the last one, under the lock, has little left to copy.
            for _ in 0..2 {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
            restart_due.store(true, Ordering::Release);
        }
    }
}

/// Reads a value column, tolerating rows not written as BLOBs (Spin's own
/// `increment` writes an INTEGER).
fn value_bytes(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_le_bytes().to_vec(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

/// Decodes a counter written by `increment`: 8 bytes, little-endian, as
/// Spin's SQLite store writes it (`i64::to_le_bytes`). Spin panics on a value
/// of another length (`expect("incorrect length")`, which also poisons its
/// connection lock); this host answers an error instead.
pub fn decode_counter(bytes: &[u8]) -> KvResult<i64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        KvError::Other(format!(
            "cannot increment: the stored value is {} bytes, not a 64-bit little-endian integer \
             (Spin panics here)",
            bytes.len()
        ))
    })?;
    Ok(i64::from_le_bytes(arr))
}

/// One label inside a [`SqliteDb`].
pub struct SqliteStore {
    db: Arc<SqliteDb>,
    name: String,
}

const SELECT: &str = "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2";
const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT(store, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2";

fn select(conn: &Connection, store: &str, key: &str) -> Attempt<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached(SELECT)?
        .query_row(params![store, key], |r| Ok(value_bytes(r.get_ref(0)?)))
        .optional()?)
}

impl SqliteStore {
    /// Adds `delta` to the counter at `key` in one transaction begun with
    /// `behavior`: 8 bytes, little-endian, as Spin stores counters.
    fn add(
        &self,
        conn: &Connection,
        behavior: TransactionBehavior,
        key: &str,
        delta: i64,
    ) -> Attempt<i64> {
        let tx = Tx::begin(conn, behavior)?;
        let current = match select(&tx, &self.name, key)? {
            None => 0,
            Some(bytes) => decode_counter(&bytes)?,
        };
        let new = current.checked_add(delta).ok_or_else(|| {
            KvError::Other(format!("cannot increment {current} by {delta}: overflow"))
        })?;
        tx.prepare_cached(UPSERT)?.execute(params![
            self.name,
            key,
            new.to_le_bytes().as_slice()
        ])?;
        tx.commit()?;
        Ok(new)
    }
}

impl KvBackend for SqliteStore {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.db.run(|conn| select(conn, &self.name, key))
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.db.write(true, |conn| {
            conn.prepare_cached(UPSERT)?
                .execute(params![self.name, key, value])?;
            Ok(())
        })
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.db.write(true, |conn| {
            conn.prepare_cached(DELETE)?
                .execute(params![self.name, key])?;
            Ok(())
        })
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![self.name, key])?)
        })
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.db.run_sized(false, |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let rows = stmt.query_map(params![self.name], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn keys_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> KvResult<(Vec<String>, Option<String>)> {
        // In key order from the primary key's index: the cursor is the last
        // key of the previous page.
        let page = self.db.run_sized(false, |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key FROM spin_key_value WHERE store = ?1 AND key > ?2 \
                 ORDER BY key LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![self.name, cursor.unwrap_or(""), limit as i64],
                |r| r.get::<_, String>(0),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let next = (page.len() >= limit)
            .then(|| page.last().cloned())
            .flatten();
        Ok((page, next))
    }

    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        // One read transaction, so the values come from one snapshot.
        self.db.run_sized(keys.len() <= INLINE_BATCH_MAX, |conn| {
            let tx = Tx::begin(conn, TransactionBehavior::Deferred)?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push((k.clone(), select(&tx, &self.name, k)?));
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        self.db.write(entries.len() <= INLINE_BATCH_MAX, |conn| {
            let tx = Tx::begin(conn, TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(UPSERT)?;
                for (k, v) in entries {
                    stmt.execute(params![self.name, k, v])?;
                }
            }
            tx.commit()
        })
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.db.write(keys.len() <= INLINE_BATCH_MAX, |conn| {
            let tx = Tx::begin(conn, TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(DELETE)?;
                for k in keys {
                    stmt.execute(params![self.name, k])?;
                }
            }
            tx.commit()
        })
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.db.write(true, |conn| {
            self.add(conn, TransactionBehavior::Immediate, key, delta)
        })
    }

    /// Spin's `increment` (crate `key-value-spin`): a deferred transaction
    /// that reads, then writes, tried once. SQLite does not wait for a lock
    /// that a read transaction must upgrade (that could deadlock), so when
    /// another process holds the write lock at that moment the call fails
    /// at once with "database is locked", having written nothing.
    fn increment_as_spin(&self, key: &str, delta: i64) -> KvResult<i64> {
        let result = super::blocking(|| {
            let conn = self.db.lock();
            let _ = conn.busy_timeout(SPIN_BUSY_TIMEOUT);
            let attempt = self.add(&conn, TransactionBehavior::Deferred, key, delta);
            let _ = conn.busy_timeout(Duration::ZERO);
            attempt
        });
        if let Some(wrote) = &self.db.wrote {
            let _ = wrote.try_send(());
        }
        result.map_err(|e| match e.is_busy() {
            true => KvError::Other("database is locked".into()),
            false => e.into_kv(),
        })
    }

    fn swap(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<SwapOutcome> {
        self.db.write(true, |conn| {
            // IMMEDIATE takes the write lock up front: nobody (in this
            // process or another) can change the row between the check and
            // the write.
            let tx = Tx::begin(conn, TransactionBehavior::Immediate)?;
            let found = select(&tx, &self.name, key)?;
            if found.as_deref() != expected {
                tx.rollback()?;
                return Ok(SwapOutcome::Conflict(found));
            }
            tx.prepare_cached(UPSERT)?
                .execute(params![self.name, key, value])?;
            tx.commit()?;
            Ok(SwapOutcome::Swapped)
        })
    }

    fn flush(&self) {
        self.db.checkpoint();
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn describe(&self) -> String {
        match self.db.location() {
            Some(p) => format!("SQLite {:?}", p.display().to_string()),
            None => "SQLite (in memory)".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{CasSemantics, Store, MAX_VALUE_BYTES};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    /// A fresh database path under the system temp dir.
    fn temp_db() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scim-host-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("sqlite_key_value.db")
    }

    fn open_store(path: &Path, label: &str) -> Store {
        Store::new(label, Arc::new(SqliteDb::open(path).unwrap().store(label)))
    }

    /// A store with the true compare-and-swap of `--strict-kv`.
    fn open_strict(path: &Path, label: &str) -> Store {
        open_store(path, label).with_semantics(CasSemantics::Strict)
    }

    /// Spin's SQLite `swap` (crate `key-value-spin`): after `current()` found
    /// a value it compares by value; after it found none it upserts, so a
    /// second creator overwrites the first and both are told they won.
    #[test]
    fn spin_semantics_compare_present_values_and_upsert_absent_ones() {
        let path = temp_db();
        let s = open_store(&path, "default");
        assert_eq!(s.semantics(), CasSemantics::Spin);
        let mut c1 = s.cas("id").unwrap();
        let mut c2 = s.cas("id").unwrap();
        assert_eq!(c1.current().unwrap(), None);
        assert_eq!(c2.current().unwrap(), None);
        assert!(c1.swap(b"one").is_ok());
        assert!(
            c2.swap(b"two").is_ok(),
            "Spin's upsert succeeds a second time"
        );
        assert_eq!(s.get("id").unwrap(), Some(b"two".to_vec()));

        // A present value is compared: the stale one fails, with a fresh CAS.
        let mut a = s.cas("id").unwrap();
        let mut b = s.cas("id").unwrap();
        a.current().unwrap();
        b.current().unwrap();
        a.swap(b"three").unwrap();
        match b.swap(b"four") {
            Err(Ok(fresh)) => assert_eq!(fresh.snapshot(), Some(&b"three"[..])),
            other => panic!("expected cas-failed, got {other:?}"),
        }
        // Without current() the swap is an upsert too.
        s.cas("id").unwrap().swap(b"blind").unwrap();
        assert_eq!(s.get("id").unwrap(), Some(b"blind".to_vec()));
        // A value deleted after current() is not recreated.
        let mut gone = s.cas("id").unwrap();
        gone.current().unwrap();
        s.delete("id").unwrap();
        assert!(matches!(gone.swap(b"x"), Err(Ok(_))));
        assert_eq!(s.get("id").unwrap(), None);
    }

    #[test]
    fn crud_and_labels() {
        let path = temp_db();
        let a = open_store(&path, "default");
        let b = open_store(&path, "other");
        assert_eq!(a.get("k").unwrap(), None);
        assert!(!a.exists("k").unwrap());
        a.set("k", b"v1").unwrap();
        a.set("k", b"v2").unwrap();
        assert_eq!(a.get("k").unwrap().as_deref(), Some(&b"v2"[..]));
        assert!(a.exists("k").unwrap());
        // Labels are separate namespaces in the same file.
        assert_eq!(b.get("k").unwrap(), None);
        b.set("z", b"").unwrap();
        assert_eq!(b.get("z").unwrap(), Some(vec![]));
        assert_eq!(a.keys().unwrap(), vec!["k".to_string()]);
        a.delete("k").unwrap();
        a.delete("k").unwrap();
        assert_eq!(a.get("k").unwrap(), None);

        a.set_many(&[("x".into(), b"1".to_vec()), ("y".into(), b"2".to_vec())])
            .unwrap();
        assert_eq!(
            a.get_many(&["y".into(), "nope".into(), "x".into()])
                .unwrap(),
            vec![
                ("y".to_string(), Some(b"2".to_vec())),
                ("nope".to_string(), None),
                ("x".to_string(), Some(b"1".to_vec())),
            ]
        );
        a.delete_many(&["x".into(), "nope".into()]).unwrap();
        assert_eq!(a.keys().unwrap(), vec!["y".to_string()]);

        // Data survives reopening the file.
        drop(a);
        let a2 = open_store(&path, "default");
        assert_eq!(a2.get("y").unwrap(), Some(b"2".to_vec()));
        a2.set("big", &vec![1u8; MAX_VALUE_BYTES]).unwrap();
    }

    #[test]
    fn strict_cas_snapshot_and_conflict() {
        let path = temp_db();
        let s = open_strict(&path, "default");
        s.set("k", b"a").unwrap();

        let mut cas = s.cas("k").unwrap();
        assert_eq!(cas.current().unwrap().as_deref(), Some(&b"a"[..]));
        // The snapshot does not move when the value changes.
        s.set("k", b"b").unwrap();
        assert_eq!(cas.snapshot(), Some(&b"a"[..]));
        let refreshed = match cas.swap(b"c") {
            Err(Ok(refreshed)) => refreshed,
            other => panic!("expected cas-failed, got {other:?}"),
        };
        assert_eq!(s.get("k").unwrap(), Some(b"b".to_vec()));
        // The returned CAS carries the latest value and can be retried.
        assert_eq!(refreshed.snapshot(), Some(&b"b"[..]));
        refreshed.swap(b"c").unwrap();
        assert_eq!(s.get("k").unwrap(), Some(b"c".to_vec()));

        // Unchanged value: swap succeeds.
        let mut cas = s.cas("k").unwrap();
        cas.current().unwrap();
        cas.swap(b"d").unwrap();
        assert_eq!(s.get("k").unwrap(), Some(b"d".to_vec()));

        // A deleted key no longer matches the snapshot.
        let mut cas = s.cas("k").unwrap();
        cas.current().unwrap();
        s.delete("k").unwrap();
        match cas.swap(b"e") {
            Err(Ok(c)) => assert_eq!(c.snapshot(), None),
            other => panic!("expected cas-failed, got {other:?}"),
        }
        assert_eq!(s.get("k").unwrap(), None);

        // "Still absent" snapshot: insert-if-absent.
        let mut cas = s.cas("new").unwrap();
        assert_eq!(cas.current().unwrap(), None);
        cas.swap(b"1").unwrap();
        let mut late = s.cas("other").unwrap();
        late.current().unwrap();
        s.set("other", b"x").unwrap();
        assert!(matches!(late.swap(b"y"), Err(Ok(_))));
        assert_eq!(s.get("other").unwrap(), Some(b"x".to_vec()));
    }

    #[test]
    fn strict_insert_if_absent_two_contenders_one_connection() {
        let path = temp_db();
        let s = open_strict(&path, "default");
        let c1 = s.cas("id").unwrap();
        let c2 = s.cas("id").unwrap();
        let r1 = c1.swap(b"one");
        let r2 = c2.swap(b"two");
        assert!(r1.is_ok());
        match r2 {
            Err(Ok(c)) => assert_eq!(c.snapshot(), Some(&b"one"[..])),
            other => panic!("second contender must fail, got {other:?}"),
        }
        assert_eq!(s.get("id").unwrap(), Some(b"one".to_vec()));
    }

    #[test]
    fn strict_insert_if_absent_across_connections_exactly_one_wins() {
        // Two connections to the same file stand in for two host processes.
        for round in 0..20 {
            let path = temp_db();
            let a = open_strict(&path, "default");
            let b = open_strict(&path, "default");
            let key = format!("user:{round}");
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = [(a.clone(), "A"), (b.clone(), "B")]
                .into_iter()
                .map(|(store, who)| {
                    let barrier = barrier.clone();
                    let key = key.clone();
                    std::thread::spawn(move || {
                        let mut cas = store.cas(&key).unwrap();
                        assert_eq!(cas.current().unwrap(), None);
                        barrier.wait();
                        cas.swap(who.as_bytes()).is_ok()
                    })
                })
                .collect();
            let wins: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(
                wins.iter().filter(|w| **w).count(),
                1,
                "round {round}: {wins:?}"
            );
            let winner = if wins[0] { "A" } else { "B" };
            assert_eq!(a.get(&key).unwrap(), Some(winner.as_bytes().to_vec()));
            assert_eq!(b.get(&key).unwrap(), Some(winner.as_bytes().to_vec()));
        }
    }

    #[test]
    fn strict_cas_counter_has_no_lost_updates_across_connections() {
        let path = temp_db();
        let threads = 4;
        let per_thread = 50;
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                // Each thread has its own connection, like separate processes.
                let store = open_strict(&path, "default");
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        crate::kv::cas_increment(&store, "counter");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = open_store(&path, "default");
        assert_eq!(
            s.get("counter").unwrap(),
            Some((threads * per_thread).to_string().into_bytes())
        );
    }

    /// Spin's `increment` does not wait for another process's write lock:
    /// its read transaction cannot upgrade, so it fails at once and writes
    /// nothing. The strict one waits its turn.
    #[test]
    fn spin_increment_fails_at_once_while_another_process_writes() {
        let path = temp_db();
        let spin = open_store(&path, "default");
        let strict = open_strict(&path, "default");
        spin.increment("n", 1).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = std::time::Instant::now();
        match spin.increment("n", 1) {
            Err(KvError::Other(m)) => assert_eq!(m, "database is locked"),
            other => panic!("expected database is locked, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "it did not wait"
        );
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            other.execute_batch("COMMIT").unwrap();
        });
        assert_eq!(strict.increment("n", 1).unwrap(), 2);
        release.join().unwrap();
        assert_eq!(spin.increment("n", 1).unwrap(), 3);
    }

    #[test]
    fn increment_is_atomic_across_connections() {
        let path = temp_db();
        let s = open_store(&path, "default");
        assert_eq!(s.increment("n", 5).unwrap(), 5);
        assert_eq!(s.increment("n", -2).unwrap(), 3);
        // Stored as Spin stores it: 8 bytes, little-endian.
        assert_eq!(s.get("n").unwrap(), Some(3i64.to_le_bytes().to_vec()));
        s.set("text", b"abc").unwrap();
        assert!(matches!(s.increment("text", 1), Err(KvError::Other(_))));
        s.set("max", &i64::MAX.to_le_bytes()).unwrap();
        assert!(matches!(s.increment("max", 1), Err(KvError::Other(_))));

        // Four processes: strict increments all land; Spin's may fail
        // "database is locked" (writing nothing) and are tried again, and
        // none is lost or counted twice either way.
        for strict in [true, false] {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let store = match strict {
                        true => open_strict(&path, "default"),
                        false => open_store(&path, "default"),
                    };
                    std::thread::spawn(move || {
                        for _ in 0..100 {
                            while let Err(e) = store.increment("hits", 1) {
                                assert!(!strict, "{e}");
                                assert_eq!(e, KvError::Other("database is locked".into()));
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        assert_eq!(s.increment("hits", 0).unwrap(), 800);
    }

    /// On an async worker a call first runs without waiting for locks; when
    /// another process holds the write lock it waits for it off the worker
    /// (other tasks keep running) and succeeds, instead of failing busy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn worker_calls_wait_for_another_process_lock_off_the_worker() {
        let path = temp_db();
        let s = open_store(&path, "default");
        s.set("k", b"before").unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        let start = std::time::Instant::now();
        let writer = {
            let s = s.clone();
            tokio::spawn(async move { s.set("k", b"after") })
        };
        // The one worker is not stuck in the writer's wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(start.elapsed() < Duration::from_millis(250));
        assert!(!writer.is_finished());
        writer.await.unwrap().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(250));
        assert_eq!(s.get("k").unwrap(), Some(b"after".to_vec()));
        let cas = s.cas("k").unwrap();
        cas.swap(b"swapped").unwrap();
        assert_eq!(s.get("k").unwrap(), Some(b"swapped".to_vec()));
        release.join().unwrap();
    }

    /// CAS from async workers over two connections (two processes): the
    /// inline attempt and the busy fallback lose no update.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cas_from_workers_has_no_lost_updates_across_connections() {
        let path = temp_db();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                // Two tasks per connection.
                let store = open_strict(&path, "default");
                let store = if i % 2 == 0 { store } else { store.clone() };
                tokio::spawn(async move {
                    for _ in 0..50 {
                        crate::kv::cas_increment(&store, "counter");
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let s = open_store(&path, "default");
        assert_eq!(s.get("counter").unwrap(), Some(b"200".to_vec()));
    }

    #[test]
    fn checkpoints_run_in_the_background() {
        let path = temp_db();
        let db = SqliteDb::open(&path).unwrap();
        let autocheckpoint: i64 = db
            .lock()
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0, "writes must not checkpoint inline");
        let s = Store::new("default", Arc::new(db.store("default")));
        assert_eq!(db.checkpoints.load(Ordering::Relaxed), 0);
        for i in 0..50 {
            s.set(&format!("k{i}"), &[7u8; 4096]).unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db.checkpoints.load(Ordering::Relaxed) == 0 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint ran");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(s.get("k49").unwrap(), Some(vec![7u8; 4096]));
    }

    #[test]
    fn the_log_stays_bounded_under_continuous_writes() {
        // Writes that never pause (here from several threads, as a busy
        // host's workers make them) leave no moment at which a PASSIVE
        // checkpoint has copied the whole log, and SQLite only starts the
        // log over from its beginning after such a moment: without more,
        // the -wal file grows for as long as the writes go on (GiBs in
        // `make bench` at 100,000 users).
        let path = temp_db();
        let db = SqliteDb::open(&path).unwrap();
        let store: Arc<dyn KvBackend> = Arc::new(db.store("default"));
        let wal = path.with_extension("db-wal");
        let limit = (WAL_LIMIT_FRAMES as u64) * 4096;
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3u64)
            .map(|t| {
                let store = store.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("k{}", (i * 7919 + t * 104_729) % 20_000);
                        store.set(&key, &[i as u8; 1500]).unwrap();
                        i += 1;
                    }
                    i
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        let mut largest = 0u64;
        while std::time::Instant::now() < deadline && largest < 8 * limit {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        let written: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        assert!(
            largest < 8 * limit,
            "the log reached {largest} bytes after {written} writes; bound {}",
            8 * limit
        );
        drop((store, db));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn writers_bound_the_log_when_the_checkpointer_falls_behind() {
        // No checkpointer at all: the extreme of one starved of CPU. The
        // writers' own bound must hold the log near WAL_HARD_LIMIT_FRAMES
        // (without it, this test's writes leave a 210 MiB log).
        let path = temp_db();
        let conn = Connection::open(&path).unwrap();
        let db = SqliteDb::init(conn, Some(path.clone()), false).unwrap();
        let store = db.store("default");
        let hard = (WAL_HARD_LIMIT_FRAMES as u64) * 4096;
        let mut written = 0u64;
        let mut i = 0u64;
        let mut value = Vec::new();
        while written < 3 * hard {
            // A new value each time: SQLite skips rewriting unchanged pages.
            value = vec![i as u8; 60 * 1024];
            store.set(&format!("k{}", i % 64), &value).unwrap();
            written += value.len() as u64;
            i += 1;
        }
        let wal = std::fs::metadata(path.with_extension("db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < hard + hard / 4,
            "the log reached {wal} bytes after {written} bytes written; bound {hard}"
        );
        assert_eq!(
            store.get(&format!("k{}", (i - 1) % 64)).unwrap(),
            Some(value)
        );
        drop((store, db));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn reads_integer_rows_written_by_spin() {
        let path = temp_db();
        let s = open_store(&path, "default");
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES ('default', 'n', 41)",
            [],
        )
        .unwrap();
        assert_eq!(s.increment("n", 1).unwrap(), 42);
    }
}
