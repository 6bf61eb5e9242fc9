//! Redis key-value backend (`type = "redis"` in the runtime config), like
//! Spin's: keys are stored as they are (one Redis database per label),
//! `increment` is `INCRBY`, compare-and-swap is `WATCH`/`MULTI`/`EXEC`;
//! [`super::CasSemantics::Spin`] then reports it, and `get-many`, as Spin's
//! Redis store does. A lost connection is handled as Spin's redis-rs
//! connection manager handles it: the command that finds it lost fails, and
//! the ones after it wait for the reconnection ([`super::reconnect`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Client, Connection, RedisResult};

use super::reconnect::Link;
use super::{KvBackend, KvError, KvResult, SwapOutcome};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_IDLE: usize = 16;

fn redis_err(e: redis::RedisError) -> KvError {
    KvError::Other(format!("redis: {e}"))
}

pub struct RedisStore {
    client: Client,
    /// The URL without credentials, for messages.
    display: String,
    idle: Arc<Mutex<Vec<Connection>>>,
    link: Arc<Link>,
}

impl RedisStore {
    /// Checks the URL; connections are made on first use.
    pub fn new(url: &str) -> KvResult<Self> {
        let client = Client::open(url).map_err(redis_err)?;
        Ok(RedisStore {
            client,
            display: redact(url),
            idle: Arc::new(Mutex::new(Vec::new())),
            link: Link::from_env(),
        })
    }

    /// Runs `f` on a pooled connection, off the async runtime's worker (a
    /// network round trip). A connection that saw an error is dropped
    /// rather than reused (it may hold a WATCH or a half-read reply).
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> KvResult<T> {
        super::blocking(|| self.with_conn_here(f))
    }

    fn with_conn_here<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> KvResult<T> {
        self.link
            .ready(|| self.connector())
            .map_err(|e| KvError::Other(format!("redis: {e}")))?;
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => match self.client.get_connection_with_timeout(CONNECT_TIMEOUT) {
                Ok(c) => c,
                Err(e) => {
                    self.lost(&e);
                    return Err(redis_err(e));
                }
            },
        };
        let result = f(&mut conn);
        match &result {
            Ok(_) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
            Err(e) => self.lost(e),
        }
        result.map_err(redis_err)
    }

    /// After an error: if it says the connection is gone, every pooled
    /// connection goes too and a reconnection round starts.
    fn lost(&self, e: &redis::RedisError) {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
        {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
            self.link.lost(self.connector());
        }
    }

    /// One reconnection attempt: a new connection, kept in the pool.
    fn connector(&self) -> impl Fn() -> bool + Send + 'static {
        let (client, idle) = (self.client.clone(), self.idle.clone());
        move || match client.get_connection_with_timeout(CONNECT_TIMEOUT) {
            Ok(c) => {
                idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                true
            }
            Err(_) => false,
        }
    }
}

/// `redis://user:pass@host:port/0` -> `redis://host:port/0`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl KvBackend for RedisStore {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.with_conn(|c| redis::cmd("GET").arg(key).query(c))
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.with_conn(|c| redis::cmd("SET").arg(key).arg(value).query(c))
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.with_conn(|c| redis::cmd("DEL").arg(key).query::<i64>(c))
            .map(drop)
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        self.with_conn(|c| redis::cmd("EXISTS").arg(key).query(c))
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.with_conn(|c| redis::cmd("KEYS").arg("*").query(c))
    }

    fn keys_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> KvResult<(Vec<String>, Option<String>)> {
        // SCAN: a key present for the whole walk is listed (perhaps twice).
        let (next, keys): (String, Vec<String>) = self.with_conn(|c| {
            redis::cmd("SCAN")
                .arg(cursor.unwrap_or("0"))
                .arg("COUNT")
                .arg(limit)
                .query(c)
        })?;
        Ok((keys, (next != "0").then_some(next)))
    }

    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> =
            self.with_conn(|c| redis::cmd("MGET").arg(keys).query(c))?;
        Ok(keys.iter().cloned().zip(values).collect())
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with_conn(|c| {
            let mut cmd = redis::cmd("MSET");
            for (k, v) in entries {
                cmd.arg(k).arg(v.as_slice());
            }
            cmd.query(c)
        })
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with_conn(|c| redis::cmd("DEL").arg(keys).query::<i64>(c))
            .map(drop)
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.with_conn(|c| redis::cmd("INCRBY").arg(key).arg(delta).query(c))
    }

    fn swap(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<SwapOutcome> {
        self.with_conn(|c| {
            redis::cmd("WATCH").arg(key).query::<()>(c)?;
            let found: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(c)?;
            if found.as_deref() != expected {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(SwapOutcome::Conflict(found));
            }
            // EXEC answers nil when the watched key changed after WATCH.
            let done: Option<()> = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(key)
                .arg(value)
                .ignore()
                .query(c)?;
            match done {
                Some(()) => Ok(SwapOutcome::Swapped),
                None => {
                    let now: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(c)?;
                    Ok(SwapOutcome::Conflict(now))
                }
            }
        })
    }

    fn kind(&self) -> super::BackendKind {
        super::BackendKind::Redis
    }

    fn describe(&self) -> String {
        format!("Redis at {}", self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("redis://u:p@h:1/0"), "redis://h:1/0");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(RedisStore::new("http://nope").is_err());
        assert!(RedisStore::new("redis://127.0.0.1:6379/0").is_ok());
    }

    /// Runs against a live server when `SCIM_HOST_TEST_REDIS` is set,
    /// e.g. `SCIM_HOST_TEST_REDIS=redis://127.0.0.1:6379/15`.
    #[test]
    fn live_redis() {
        let Ok(url) = std::env::var("SCIM_HOST_TEST_REDIS") else {
            eprintln!("SCIM_HOST_TEST_REDIS not set: skipping the live Redis test");
            return;
        };
        let s = RedisStore::new(&url).unwrap();
        let prefix = format!("scim-host-test-{}-", std::process::id());
        let k = |n: &str| format!("{prefix}{n}");
        s.delete_many(&[k("a"), k("b"), k("n"), k("cas")]).unwrap();
        s.set(&k("a"), b"1").unwrap();
        assert_eq!(s.get(&k("a")).unwrap(), Some(b"1".to_vec()));
        assert!(s.exists(&k("a")).unwrap());
        assert_eq!(
            s.get_many(&[k("a"), k("b")]).unwrap(),
            vec![(k("a"), Some(b"1".to_vec())), (k("b"), None)]
        );
        assert_eq!(s.increment(&k("n"), 3).unwrap(), 3);
        assert_eq!(s.increment(&k("n"), 2).unwrap(), 5);
        assert_eq!(s.swap(&k("cas"), None, b"x").unwrap(), SwapOutcome::Swapped);
        assert_eq!(
            s.swap(&k("cas"), None, b"y").unwrap(),
            SwapOutcome::Conflict(Some(b"x".to_vec()))
        );
        assert_eq!(
            s.swap(&k("cas"), Some(b"x"), b"z").unwrap(),
            SwapOutcome::Swapped
        );
        assert_eq!(s.get(&k("cas")).unwrap(), Some(b"z".to_vec()));

        // Concurrent CAS counters on separate clients lose no update.
        let counter = k("counter");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = crate::kv::Store::new(
                    "default",
                    std::sync::Arc::new(RedisStore::new(&url).unwrap()),
                )
                .with_semantics(crate::kv::CasSemantics::Strict);
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        crate::kv::cas_increment(&store, &counter);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.get(&counter).unwrap(), Some(b"200".to_vec()));

        // As Spin: the swap applies when the key is unchanged since
        // current(), and reports a failure either way; get_many is KEYS.
        let spin = crate::kv::Store::new(
            "default",
            std::sync::Arc::new(RedisStore::new(&url).unwrap()),
        );
        let mut cas = spin.cas(&k("cas")).unwrap();
        assert_eq!(cas.current().unwrap(), Some(b"z".to_vec()));
        assert!(matches!(cas.swap(b"w"), Err(Ok(_))));
        assert_eq!(s.get(&k("cas")).unwrap(), Some(b"w".to_vec()));
        let mut stale = spin.cas(&k("cas")).unwrap();
        stale.current().unwrap();
        s.set(&k("cas"), b"moved").unwrap();
        assert!(matches!(stale.swap(b"lost"), Err(Ok(_))));
        assert_eq!(s.get(&k("cas")).unwrap(), Some(b"moved".to_vec()));
        assert!(spin.get_many(&[k("a"), k("b")]).is_err());
        assert_eq!(spin.get_many(&[k("b")]).unwrap(), vec![]);
        assert!(spin.get_many(&[k("a")]).is_err());

        s.delete_many(&[k("a"), k("b"), k("n"), k("cas"), counter])
            .unwrap();
    }
}
