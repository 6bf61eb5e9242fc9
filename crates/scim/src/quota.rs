//! An optional per-client hourly request quota, for platforms without an
//! ingress that limits rates (Fermyon Cloud). AFC allows 10,000 requests per
//! hour per client; the limit here is the `rate_limit_per_hour` variable, off
//! (0) by default. Counters live in the key-value store, one per client and
//! fixed hour window, counted by the store's atomic `increment` so concurrent
//! instances count together; a request is judged on a sliding hour (this
//! window's count plus the previous one's, weighted). Refused credentials
//! are charged to the client's address (see `api`).

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

/// Count one request of `client`; `Err(Exceeded)` once the estimated count
/// of the last hour passes `limit`. The count is an `increment` (atomic on
/// every Spin store: no request is lost to a concurrent one). The estimate
/// is a sliding window over two fixed ones: this window's count plus the
/// previous window's, weighted by how much of it still lies within the last
/// hour, so that 2 × `limit` cannot pass around a window boundary.
pub fn charge(repo: &Repo, client: &str, limit: u64) -> Result<std::result::Result<(), Exceeded>> {
    let window = repo.now / WINDOW_SECS;
    let into = repo.now % WINDOW_SECS;
    let k = key(&repo.keys, client, window);
    let count = u64::try_from(crate::storage::kv::increment(repo.store, &k, 1)?).unwrap_or(0);
    if count == 1 && window > 1 {
        // The first request of a window clears the counter the estimate no
        // longer needs (the previous window's stays).
        repo.store.delete(&key(&repo.keys, client, window - 2))?;
    }
    let previous = match window {
        0 => 0,
        w => counter(repo.store.get(&key(&repo.keys, client, w - 1))?.as_deref()),
    };
    let left = WINDOW_SECS - into;
    let estimate = count + (previous * left).div_ceil(WINDOW_SECS);
    if estimate <= limit {
        return Ok(Ok(()));
    }
    // Each second drops `previous / WINDOW_SECS` of the estimate, until the
    // window ends and only this window's count remains.
    let retry_after = if count > limit || previous == 0 {
        left
    } else {
        ((estimate - limit) * WINDOW_SECS)
            .div_ceil(previous)
            .clamp(1, left)
    };
    Ok(Err(Exceeded { retry_after, limit }))
}

/// A counter's value as the store keeps it: 8 bytes little-endian (Spin's
/// SQLite store) or decimal text (Spin's Redis store); absent or unreadable
/// counts 0. Eight ASCII digits read as little-endian would be above 3·10^18,
/// so the two forms never collide.
fn counter(raw: Option<&[u8]>) -> u64 {
    let Some(raw) = raw else { return 0 };
    if !raw.is_empty() && raw.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(raw)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
    }
    <[u8; 8]>::try_from(raw).map_or(0, |b| u64::try_from(i64::from_le_bytes(b)).unwrap_or(0))
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
        // Two hours on, the count starts afresh and the old counters go.
        assert_eq!(charge(&at(t0 + 2 * WINDOW_SECS), "a", 3).unwrap(), Ok(()));
        assert!(
            !s.keys().iter().any(|k| k.ends_with("quota2.a.10")),
            "{:?}",
            s.keys()
        );
    }

    /// Around a window boundary the previous window still counts: a client
    /// that spent its budget at the end of one hour cannot spend it again
    /// at the start of the next, and is let in again as the old requests
    /// age out of the last hour.
    #[test]
    fn twice_the_limit_cannot_pass_around_the_window_boundary() {
        let s = MemStore::new();
        let at = |now| Repo::new(&s, "t", now);
        let w = 10 * WINDOW_SECS;
        for _ in 0..100 {
            assert_eq!(charge(&at(w - 10), "a", 100).unwrap(), Ok(()));
        }
        let e = charge(&at(w + 10), "a", 100).unwrap().unwrap_err();
        assert!(
            e.retry_after >= 1 && e.retry_after <= WINDOW_SECS - 10,
            "{e:?}"
        );
        // Half an hour on, half of the old hour has aged out.
        let mut passed = 0;
        while charge(&at(w + WINDOW_SECS / 2), "a", 100).unwrap().is_ok() {
            passed += 1;
        }
        assert!((45..=52).contains(&passed), "{passed}");
    }

    #[test]
    fn counters_read_back_in_both_stores_forms() {
        assert_eq!(counter(None), 0);
        assert_eq!(counter(Some(&7i64.to_le_bytes())), 7);
        assert_eq!(counter(Some(b"12345678")), 12_345_678);
        assert_eq!(counter(Some(b"42")), 42);
        assert_eq!(counter(Some(b"junk")), 0);
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
