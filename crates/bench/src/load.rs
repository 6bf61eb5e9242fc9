//! The load generator: a fixed number of worker threads, each with one
//! keep-alive connection, sending requests back to back (closed loop) for a
//! warm-up period and then a measured period.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::{Conn, Req, Resp, Target};

/// xorshift64*: a small, fast, seedable generator (no dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// How one scenario is run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a worker needs to make its next request: its own random generator
/// and its index. `None` ends the worker (its targets are used up).
pub type Generator<'a> = dyn Fn(&mut Rng, usize) -> Option<Req> + Sync + 'a;
/// Called with every successful (2xx) response, outside the timed part.
pub type OnResponse<'a> = dyn Fn(&Req, &Resp) + Sync + 'a;

/// Measured results of one scenario.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Successful requests in the measured period.
    pub ok: u64,
    /// Failed requests (non-2xx or I/O errors) in the measured period.
    pub errors: u64,
    /// The measured period, until the last measured response.
    pub elapsed: Duration,
    /// Latencies of the successful measured requests, sorted, in µs.
    pub lat_us: Vec<u32>,
    /// One example of a failure, for the report.
    pub first_error: Option<String>,
    /// Whether the workers ran out of targets before the period ended.
    pub exhausted: bool,
    /// TCP connections opened per request (1.0 for servers without keep-alive).
    pub connects_per_req: f64,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.elapsed.as_secs_f64()
        }
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.lat_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.lat_us.len() as f64 - 1.0) * q).round() as usize;
        self.lat_us[i.min(self.lat_us.len() - 1)] as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        if self.lat_us.is_empty() {
            return f64::NAN;
        }
        self.lat_us.iter().map(|&x| x as f64).sum::<f64>() / self.lat_us.len() as f64 / 1000.0
    }
}

struct Shared {
    ok: u64,
    errors: u64,
    lat: Vec<u32>,
    first_error: Option<String>,
    last_done: Option<Instant>,
    requests: u64,
    connects: u64,
}

fn describe_failure(r: &std::io::Result<Resp>) -> String {
    match r {
        Ok(resp) => {
            let body = String::from_utf8_lossy(&resp.body);
            let body: String = body.chars().take(300).collect();
            format!("HTTP {}: {body}", resp.status)
        }
        Err(e) => format!("I/O error: {e}"),
    }
}

/// Runs `gen` against `target` with `plan.concurrency` connections: a
/// warm-up of `plan.warmup`, then `plan.duration` measured.
pub fn run(
    target: &Target,
    auth: bool,
    plan: Plan,
    gen: &Generator<'_>,
    on_response: &OnResponse<'_>,
    on_measure_start: &(dyn Fn() + Sync),
) -> Stats {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let stop_at = measure_from + plan.duration;
    let exhausted = AtomicBool::new(false);
    let seed = seed();
    let shared = Mutex::new(Shared {
        ok: 0,
        errors: 0,
        lat: Vec::new(),
        first_error: None,
        last_done: None,
        requests: 0,
        connects: 0,
    });
    std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
            on_measure_start();
        });
        for w in 0..plan.concurrency {
            let (shared, exhausted) = (&shared, &exhausted);
            scope.spawn(move || {
                let mut rng = Rng::new(seed + w as u64 * 7919);
                let mut conn = Conn::new(target);
                let (mut ok, mut errors, mut requests) = (0u64, 0u64, 0u64);
                let mut lat = Vec::with_capacity(1 << 16);
                let mut first_error = None;
                let mut last_done = None;
                loop {
                    let now = Instant::now();
                    if now >= stop_at {
                        break;
                    }
                    let Some(req) = gen(&mut rng, w) else {
                        exhausted.store(true, Ordering::Relaxed);
                        break;
                    };
                    let t0 = Instant::now();
                    let r = conn.send(&req, auth);
                    let t1 = Instant::now();
                    let measured = t0 >= measure_from;
                    let good = matches!(&r, Ok(resp) if (200..300).contains(&resp.status));
                    if measured {
                        requests += 1;
                        last_done = Some(t1);
                        if good {
                            ok += 1;
                            lat.push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
                        } else {
                            errors += 1;
                        }
                    }
                    if good {
                        on_response(&req, r.as_ref().expect("good response"));
                    } else if first_error.is_none() {
                        first_error = Some(format!(
                            "{} {}: {}",
                            req.method,
                            short(&req.path),
                            describe_failure(&r)
                        ));
                    }
                }
                let mut s = shared.lock().expect("stats lock");
                s.ok += ok;
                s.errors += errors;
                s.requests += requests;
                s.connects += conn.connects;
                s.lat.extend_from_slice(&lat);
                if s.first_error.is_none() {
                    s.first_error = first_error;
                }
                s.last_done = match (s.last_done, last_done) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            });
        }
    });
    let mut s = shared.into_inner().expect("stats lock");
    s.lat.sort_unstable();
    Stats {
        ok: s.ok,
        errors: s.errors,
        elapsed: s
            .last_done
            .map(|t| t.saturating_duration_since(measure_from))
            .unwrap_or_default(),
        lat_us: s.lat,
        first_error: s.first_error,
        exhausted: exhausted.into_inner(),
        connects_per_req: if s.requests == 0 {
            0.0
        } else {
            s.connects as f64 / s.requests as f64
        },
    }
}

/// A different seed per run (the same distribution).
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5C1A)
}

fn short(path: &str) -> String {
    path.chars().take(120).collect()
}

/// Runs `count` jobs (`job(i)` for `i in 0..count`) on `concurrency`
/// connections, as fast as possible; returns how long it took. Failures
/// are returned as messages (at most a few).
pub fn run_jobs(
    target: &Target,
    concurrency: usize,
    count: usize,
    job: &(dyn Fn(&mut Conn, usize) -> Result<(), String> + Sync),
) -> (Duration, Vec<String>) {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| {
                let mut conn = Conn::new(target);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    if let Err(e) = job(&mut conn, i) {
                        let mut errs = errors.lock().expect("errors lock");
                        if errs.len() < 5 {
                            errs.push(e);
                        }
                    }
                }
            });
        }
    });
    (start.elapsed(), errors.into_inner().expect("errors lock"))
}
