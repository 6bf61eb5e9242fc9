//! What Spin's Redis store does when its connection is lost, reproduced.
//!
//! Spin 4.0.2 (`crates/key-value-redis`) keeps one redis-rs
//! `ConnectionManager` (redis 0.32) per store. When a command finds the
//! connection gone, that command fails, and the manager reconnects in the
//! background: one attempt at once, then up to six more, separated by
//! redis-rs's backoff (backon's `ExponentialBuilder` with `factor = 100`,
//! its default `min_delay` of 1 s and `max_delay` of 60 s, jitter adding up
//! to the delay again): 1–2 s, then 60–120 s five times. Every command sent
//! meanwhile **waits** for that reconnection instead of failing; when the
//! last attempt fails, they all fail and the next one starts a new round.
//!
//! Measured under `spin up` with `redis-server` stopped for 4 s: the next
//! request answered after 104 s (a 200 once Redis was back), none in
//! between. So under Spin a Redis outage longer than a second or two holds
//! every request for a minute or more, whatever the component does; the
//! engine's 503 path is reached by the command that found the connection
//! lost and after a round gives up.
//!
//! The local host does the same by default. `SCIM_HOST_REDIS_BACKOFF_SCALE`
//! (a factor on every delay, default 1) lets a test keep Spin's shape with
//! shorter waits.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Environment variable scaling every reconnection delay (tests).
pub const BACKOFF_SCALE_VAR: &str = "SCIM_HOST_REDIS_BACKOFF_SCALE";

/// Retries after the first reconnection attempt (redis-rs's default
/// `number_of_retries`).
const RETRIES: usize = 6;

/// The delays between the attempts of one round, before jitter and scale:
/// backon's exponential schedule as redis-rs configures it.
pub fn base_delays() -> [Duration; RETRIES] {
    let (min, factor, max) = (Duration::from_secs(1), 100u32, Duration::from_secs(60));
    let mut out = [Duration::ZERO; RETRIES];
    let mut cur = min;
    for (i, d) in out.iter_mut().enumerate() {
        if i > 0 {
            cur = (cur * factor).min(max);
        }
        *d = cur;
    }
    out
}

/// The state of the one link a store has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Reconnecting,
    /// The last round failed: the next command fails and starts another.
    GaveUp,
}

/// The connection state shared by every command of one store.
pub struct Link {
    state: Mutex<State>,
    changed: Condvar,
    scale: f64,
}

impl Link {
    /// A link that is up, with delays scaled by `scale`.
    pub fn new(scale: f64) -> Arc<Link> {
        Arc::new(Link {
            state: Mutex::new(State::Up),
            changed: Condvar::new(),
            scale: if scale.is_finite() && scale >= 0.0 {
                scale
            } else {
                1.0
            },
        })
    }

    /// A link whose scale comes from [`BACKOFF_SCALE_VAR`].
    pub fn from_env() -> Arc<Link> {
        let scale = std::env::var(BACKOFF_SCALE_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        Link::new(scale)
    }

    /// Before a command: waits while a reconnection runs. `Err` when the
    /// last round gave up; then a new round starts with the attempt
    /// `connect` makes.
    pub fn ready<C: Fn() -> bool + Send + 'static>(
        self: &Arc<Self>,
        connect: impl FnOnce() -> C,
    ) -> Result<(), &'static str> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *state {
                State::Up => return Ok(()),
                State::Reconnecting => {
                    state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                State::GaveUp => {
                    *state = State::Reconnecting;
                    drop(state);
                    self.spawn_round(connect());
                    return Err("reconnecting failed");
                }
            }
        }
    }

    /// A command found the connection lost: start a round unless one runs.
    pub fn lost(self: &Arc<Self>, connect: impl Fn() -> bool + Send + 'static) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state != State::Reconnecting {
            *state = State::Reconnecting;
            drop(state);
            self.spawn_round(connect);
        }
    }

    fn spawn_round(self: &Arc<Self>, connect: impl Fn() -> bool + Send + 'static) {
        let link = self.clone();
        let spawned = std::thread::Builder::new()
            .name("redis-reconnect".into())
            .spawn(move || {
                let up = link.round(&connect);
                link.set(if up { State::Up } else { State::GaveUp });
            });
        if spawned.is_err() {
            self.set(State::GaveUp);
        }
    }

    /// One round: an attempt at once, then one after each delay.
    fn round(&self, connect: &dyn Fn() -> bool) -> bool {
        let mut seed = jitter_seed();
        if connect() {
            return true;
        }
        for delay in base_delays() {
            // backon's jitter: the delay plus up to the delay again.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let jitter = (seed >> 11) as f64 / (1u64 << 53) as f64;
            std::thread::sleep(delay.mul_f64((1.0 + jitter) * self.scale));
            if connect() {
                return true;
            }
        }
        false
    }

    fn set(&self, s: State) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
        self.changed.notify_all();
    }
}

/// A random, non-zero seed for the jitter.
fn jitter_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn delays_are_redis_rs_as_spin_configures_it() {
        let s = Duration::from_secs;
        assert_eq!(base_delays(), [s(1), s(60), s(60), s(60), s(60), s(60)]);
    }

    #[test]
    fn commands_wait_for_the_reconnection_instead_of_failing() {
        // Scale 0.01: 10-20 ms, then 0.6-1.2 s.
        let link = Link::new(0.01);
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        // The server comes back on the third attempt.
        link.lost(move || counted.fetch_add(1, Ordering::SeqCst) >= 2);
        let t = Instant::now();
        assert_eq!(link.ready(|| || true), Ok(()));
        let waited = t.elapsed();
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert!(
            waited >= Duration::from_millis(600),
            "answered after {waited:?}, before the second delay ran out"
        );
    }

    #[test]
    fn a_round_that_gives_up_fails_the_next_command_and_starts_another() {
        let link = Link::new(0.0);
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        link.lost(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            false
        });
        // Waits for the round (7 attempts), then fails.
        assert_eq!(link.ready(|| || true), Err("reconnecting failed"));
        assert_eq!(attempts.load(Ordering::SeqCst), 1 + RETRIES);
        // That failure started a round that succeeds.
        assert_eq!(link.ready(|| || true), Ok(()));
    }
}
