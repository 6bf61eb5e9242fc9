//! An optional per-client hourly request quota, for platforms without an
//! ingress that limits rates (Fermyon Cloud). AFC allows 10,000 requests per
//! hour per client; the limit here is the `rate_limit_per_hour` variable, off
//! (0) by default. Counters live in the key-value store, one per client and
//! fixed hour window, counted by the store's atomic `increment` so concurrent
//! instances count together.

use crate::error::{Result, ScimError};
use crate::storage::layout::Keys;
use crate::storage::records::Repo;

/// Seconds in a quota window.
pub const WINDOW_SECS: u64 = 3600;

/// A request over the quota: 429 with the seconds until the window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after: u64,
    pub limit: u64,
}

impl Exceeded {
    pub fn to_scim(&self) -> ScimError {
        ScimError::new(
            429,
            None,
            format!(
                "request quota of {} per hour exceeded; retry after {} seconds",
                self.limit, self.retry_after
            ),
        )
    }
}

/// The counter of `client` in `window`. Named `quota2.` since counters
/// became `increment`s: earlier releases kept decimal text under `quota.`,
/// and Spin's SQLite `increment` panics on a value that is not 8 bytes.
fn key(keys: &Keys, client: &str, window: u64) -> String {
    keys.meta(&format!("quota2.{client}.{window}"))
}

/// Count one request of `client`; `Err(Exceeded)` once the count passes
/// `limit`. The count is an `increment` (atomic on every Spin store: no
/// request is lost to a concurrent one).
pub fn charge(repo: &Repo, client: &str, limit: u64) -> Result<std::result::Result<(), Exceeded>> {
    let window = repo.now / WINDOW_SECS;
    let k = key(&repo.keys, client, window);
    let count = u64::try_from(crate::storage::kv::increment(repo.store, &k, 1)?).unwrap_or(0);
    if count == 1 && window > 0 {
        // The first request of a window clears the previous window's counter.
        repo.store.delete(&key(&repo.keys, client, window - 1))?;
    }
    if count > limit {
        return Ok(Err(Exceeded {
            retry_after: (window + 1) * WINDOW_SECS - repo.now,
            limit,
        }));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kv::Store;
    use crate::storage::memory::MemStore;

    #[test]
    fn the_quota_is_per_client_and_per_hour() {
        let s = MemStore::new();
        let at = |now| Repo::new(&s, "t", now);
        let t0 = 10 * WINDOW_SECS + 100;
        for _ in 0..3 {
            assert_eq!(charge(&at(t0), "a", 3).unwrap(), Ok(()));
        }
        let e = charge(&at(t0), "a", 3).unwrap().unwrap_err();
        assert_eq!(e.retry_after, WINDOW_SECS - 100);
        assert_eq!(e.to_scim().status, 429);
        // Another client is not affected.
        assert_eq!(charge(&at(t0), "b", 3).unwrap(), Ok(()));
        // The next hour starts afresh and drops the old counter.
        assert_eq!(charge(&at(t0 + WINDOW_SECS), "a", 3).unwrap(), Ok(()));
        assert!(
            !s.keys().iter().any(|k| k.ends_with("quota2.a.10")),
            "{:?}",
            s.keys()
        );
    }

    /// A counter an earlier release wrote (decimal text, by compare-and-swap)
    /// is never incremented: Spin's SQLite store would panic on it.
    #[test]
    fn counters_of_earlier_releases_are_left_alone() {
        let s = MemStore::new();
        let r = Repo::new(&s, "t", 10 * WINDOW_SECS);
        s.set(&r.keys.meta("quota.a.10"), b"7").unwrap();
        assert_eq!(charge(&r, "a", 3).unwrap(), Ok(()));
        assert_eq!(
            s.get(&r.keys.meta("quota.a.10")).unwrap().as_deref(),
            Some(&b"7"[..])
        );
    }
}
