//! The printed table, the targets, the scale law and the JSON record.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::scenarios::{LogTimes, Outcome, Scenario};
use crate::{Args, ServerRun};

/// `.wasm` size target: 1.5 MiB.
pub const WASM_MAX_BYTES: u64 = 3 * 1024 * 1024 / 2;
/// Allowed ratio between sizes for the scale law.
pub const SCALE_TOLERANCE: f64 = 1.5;

/// The one line printed when the scenarios did not run under `spin up`.
pub fn no_spin(args: &Args) -> &'static str {
    if args.spin_off {
        "spin up: not measured (--no-spin)"
    } else {
        "spin up: not measured: no `spin` executable on PATH (put Spin 4 on PATH, or pass --spin-bin FILE)"
    }
}

/// Every scenario at least this many times the peer's speed, in the local
/// host (issue 20).
pub const MIN_MULTIPLE_HOST: f64 = 5.0;
/// The same under real `spin up`.
pub const MIN_MULTIPLE_SPIN: f64 = 2.0;

/// UTC `YYYYMMDD-HHMMSS`.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn thousands(x: f64) -> String {
    let v = x.round() as i64;
    let s = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// One line for the progress log.
pub fn summary(o: &Outcome) -> String {
    match &o.full {
        Some(f) => format!(
            "{:.2} s for {} users in {} pages (page p50 {} ms, p99 {} ms)",
            f.total.as_secs_f64(),
            f.users,
            f.pages,
            ms(o.stats.quantile_ms(0.5)),
            ms(o.stats.quantile_ms(0.99))
        ),
        None => format!(
            "{:>8} req/s  p50 {:>6} ms  p99 {:>6} ms  ({} ok, {} failed)",
            thousands(o.stats.rps()),
            ms(o.stats.quantile_ms(0.5)),
            ms(o.stats.quantile_ms(0.99)),
            o.stats.ok,
            o.stats.errors
        ),
    }
}

/// The throughput (or, for the full read, 1/total time) of an outcome.
fn speed(o: &Outcome) -> Option<f64> {
    if !o.usable() {
        return None;
    }
    match &o.full {
        Some(f) => Some(1.0 / f.total.as_secs_f64().max(1e-9)),
        None => Some(o.stats.rps()),
    }
}

/// Ours relative to the peer (> 1: ours is ahead), and whether it is only a
/// lower bound (the peer did not finish).
fn ratio(ours: Option<&Outcome>, peer: Option<&Outcome>) -> Option<(f64, bool)> {
    let (o, p) = (ours?, peer?);
    let so = speed(o)?;
    match speed(p) {
        Some(sp) => Some((so / sp, false)),
        None => {
            // An unfinished full read: the peer took at least as long as it ran.
            let f = p.full.as_ref()?;
            (p.stats.errors == 0 && !f.complete).then_some((f.total.as_secs_f64() * so, true))
        }
    }
}

fn cells(o: Option<&Outcome>) -> [String; 3] {
    let Some(o) = o else {
        return ["-".into(), "-".into(), "-".into()];
    };
    if !o.usable() && o.full.as_ref().is_none_or(|f| f.pages == 0) {
        return ["n/a".into(), "-".into(), "-".into()];
    }
    let first = match &o.full {
        Some(f) if f.complete => format!("{:.2} s", f.total.as_secs_f64()),
        Some(f) => format!(">{:.0} s", f.total.as_secs_f64()),
        None => thousands(o.stats.rps()),
    };
    [
        first,
        ms(o.stats.quantile_ms(0.5)),
        ms(o.stats.quantile_ms(0.99)),
    ]
}

pub struct Report<'a> {
    pub args: &'a Args,
    pub stamp: &'a str,
    pub wasm_bytes: u64,
    pub ours: &'a ServerRun,
    /// The same `.wasm` under real `spin up`, when a `spin` was found.
    pub spin: Option<&'a ServerRun>,
    pub peer: Option<&'a ServerRun>,
    pub small: Option<&'a ServerRun>,
    pub wall: Duration,
    /// 1-minute load average before and after the run.
    pub load: (Option<f64>, Option<f64>),
    /// The native engine profile section, if run.
    pub native: Option<&'a str>,
}

/// The 1-minute load average (`/proc/loadavg`).
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Check {
    name: String,
    measured: String,
    pass: Option<bool>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Report<'_> {
    fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| self.ours.outcome(*s).is_some())
            .collect()
    }

    fn targets(&self) -> Vec<Check> {
        let mut out = Vec::new();
        let o = |s| self.ours.outcome(s);
        for (s, what) in [
            (Scenario::GetUser, "GET /Users/{id}"),
            (Scenario::FilterUserName, "filter userName eq"),
        ] {
            let name = format!("{what} >= 5,000 req/s and p99 <= 5 ms");
            out.push(match o(s).filter(|x| x.usable()) {
                Some(x) => Check {
                    name,
                    measured: format!(
                        "{} req/s, p99 {} ms",
                        thousands(x.stats.rps()),
                        ms(x.stats.quantile_ms(0.99))
                    ),
                    pass: Some(x.stats.rps() >= 5000.0 && x.stats.quantile_ms(0.99) <= 5.0),
                },
                None => Check {
                    name,
                    measured: "not measured".into(),
                    pass: None,
                },
            });
        }
        let name = "POST /Users >= 1,000 req/s".to_string();
        out.push(match o(Scenario::Post).filter(|x| x.usable()) {
            Some(x) => Check {
                name,
                measured: format!("{} req/s", thousands(x.stats.rps())),
                pass: Some(x.stats.rps() >= 1000.0),
            },
            None => Check {
                name,
                measured: "not measured".into(),
                pass: None,
            },
        });
        let name = format!(
            "PATCH adding 1 member to the {}-member group: p99 <= 10 ms",
            thousands(self.ours.n.min(crate::scenarios::BIG_GROUP) as f64)
        );
        out.push(match o(Scenario::PatchGroupAdd).filter(|x| x.usable()) {
            Some(x) => Check {
                name,
                measured: format!("p99 {} ms", ms(x.stats.quantile_ms(0.99))),
                pass: Some(x.stats.quantile_ms(0.99) <= 10.0),
            },
            None => Check {
                name,
                measured: "not measured".into(),
                pass: None,
            },
        });
        if let Some(peer) = self.peer {
            let mut behind = Vec::new();
            let mut compared = 0;
            let mut without = Vec::new();
            for s in self.scenarios() {
                match ratio(o(s), peer.outcome(s)) {
                    Some((r, _)) => {
                        compared += 1;
                        if r <= 1.0 {
                            behind.push(format!("{} ({r:.2}x)", s.label()));
                        }
                    }
                    None => without.push(s.label()),
                }
            }
            let mut measured = if behind.is_empty() {
                format!("ahead in {compared} of {compared} compared")
            } else {
                format!("behind in: {}", behind.join(", "))
            };
            if !without.is_empty() {
                let _ = write!(measured, "; not comparable: {}", without.join(", "));
            }
            out.push(Check {
                name: "every scenario ahead of the peer".into(),
                measured,
                pass: (compared > 0).then_some(behind.is_empty()),
            });
            out.push(self.multiple(self.ours, peer, MIN_MULTIPLE_HOST, "local host"));
            if let Some(spin) = self.spin {
                out.push(self.multiple(spin, peer, MIN_MULTIPLE_SPIN, "spin up"));
            }
        }
        out.push(Check {
            name: ".wasm <= 1.5 MiB".into(),
            measured: format!("{} ({} bytes)", mib(self.wasm_bytes), self.wasm_bytes),
            pass: Some(self.wasm_bytes <= WASM_MAX_BYTES),
        });
        out
    }

    /// Every scenario of `run` at least `min` times the peer's speed.
    fn multiple(&self, run: &ServerRun, peer: &ServerRun, min: f64, under: &str) -> Check {
        let mut short = Vec::new();
        let mut compared = 0;
        for s in self.scenarios() {
            if let Some((r, lower_bound)) = ratio(run.outcome(s), peer.outcome(s)) {
                compared += 1;
                if r < min && !lower_bound {
                    short.push(format!("{} ({r:.2}x)", s.label()));
                }
            }
        }
        Check {
            name: format!("every scenario >= {min}x the peer under {under}"),
            measured: if short.is_empty() {
                format!("{compared} of {compared} compared")
            } else {
                format!("short in: {}", short.join(", "))
            },
            pass: (compared > 0).then_some(short.is_empty()),
        }
    }

    fn scale_law(&self) -> Vec<Check> {
        let Some(small) = self.small else {
            return Vec::new();
        };
        let big = self.ours;
        let (ns, nb) = (small.n, big.n);
        let mut out = Vec::new();
        let within = |a: f64, b: f64| a.max(b) / a.min(b).max(1e-12);
        for s in Scenario::ALL.into_iter().filter(|s| s.is_point()) {
            let (Some(a), Some(b)) = (small.outcome(s), big.outcome(s)) else {
                continue;
            };
            let name = format!("point/indexed: {}", s.label());
            if !(a.usable() && b.usable()) {
                out.push(Check {
                    name,
                    measured: "not measured at both sizes".into(),
                    pass: None,
                });
                continue;
            }
            let r = within(a.stats.rps(), b.stats.rps());
            out.push(Check {
                name,
                measured: format!(
                    "{} req/s at {}, {} req/s at {} ({r:.2}x apart, <= {SCALE_TOLERANCE}x){}",
                    thousands(a.stats.rps()),
                    thousands(ns as f64),
                    thousands(b.stats.rps()),
                    thousands(nb as f64),
                    guest_p50s(a, b)
                ),
                pass: Some(r <= SCALE_TOLERANCE),
            });
        }
        // A list page costs the same whatever N (each page compared with
        // the same page at the small size).
        for s in [
            Scenario::ListFirst,
            Scenario::ListLast,
            Scenario::CursorFirst,
            Scenario::CursorLast,
        ] {
            let (Some(a), Some(b)) = (
                small.outcome(s).filter(|o| o.usable()),
                big.outcome(s).filter(|o| o.usable()),
            ) else {
                continue;
            };
            let r = within(a.stats.rps(), b.stats.rps());
            out.push(Check {
                name: format!("list page independent of size: {}", s.label()),
                measured: format!(
                    "{} req/s at {}, {} req/s at {} ({r:.2}x apart, <= {SCALE_TOLERANCE}x){}",
                    thousands(a.stats.rps()),
                    thousands(ns as f64),
                    thousands(b.stats.rps()),
                    thousands(nb as f64),
                    guest_p50s(a, b)
                ),
                pass: Some(r <= SCALE_TOLERANCE),
            });
        }
        if let (Some(a), Some(b)) = (
            small
                .outcome(Scenario::FullRead)
                .and_then(|o| o.full.clone()),
            big.outcome(Scenario::FullRead).and_then(|o| o.full.clone()),
        ) {
            let name = "full paged read linear in N".to_string();
            if a.complete && b.complete {
                let per_a = a.total.as_secs_f64() / ns as f64 * 1e6;
                let per_b = b.total.as_secs_f64() / nb as f64 * 1e6;
                // Linear: a user costs no more at the large size. It may
                // cost less: below 10,000 users every user is in the big
                // group, whose buckets each page of members reads.
                let r = per_b / per_a.max(1e-12);
                out.push(Check {
                    name,
                    measured: format!(
                        "{:.2} s for {}, {:.2} s for {}: {per_a:.1} vs {per_b:.1} µs per user \
                         ({r:.2}x the small size's, <= {SCALE_TOLERANCE}x)",
                        a.total.as_secs_f64(),
                        thousands(ns as f64),
                        b.total.as_secs_f64(),
                        thousands(nb as f64)
                    ),
                    pass: Some(r <= SCALE_TOLERANCE),
                });
            } else {
                out.push(Check {
                    name,
                    measured: "did not complete at both sizes".into(),
                    pass: Some(false),
                });
            }
        }
        out
    }

    pub fn text(&self) -> String {
        let mut t = String::new();
        let a = self.args;
        let peer_name = self.peer.map(|p| p.server).unwrap_or("peer");
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "spin-scim benchmark {} — N = {} users, {} connections, {} s warm-up + {} s per scenario, {} cores ({})",
            self.stamp,
            thousands(self.ours.n as f64),
            a.plan.concurrency,
            a.plan.warmup.as_secs_f64(),
            a.plan.duration.as_secs_f64(),
            cores(),
            cpu_model()
        );
        let _ = writeln!(t);
        let w = 38;
        // Column groups: ours in the local host, ours under `spin up` (when
        // measured), the peer; then ours/peer (and spin up/peer).
        let mut runs: Vec<(&str, Option<&ServerRun>)> = vec![("spin-scim", Some(self.ours))];
        if let Some(spin) = self.spin {
            runs.push(("spin up", Some(spin)));
        }
        runs.push((peer_name, self.peer));
        let mut head = format!("{:<w$}", "scenario");
        for (name, _) in &runs {
            let _ = write!(
                head,
                " | {:>17} {:>7} {:>7}",
                format!("{name} req/s"),
                "p50 ms",
                "p99 ms"
            );
        }
        let _ = write!(head, " | {:>9}", "ours/peer");
        if self.spin.is_some() {
            let _ = write!(head, " {:>9}", "spin/peer");
        }
        let _ = writeln!(t, "{head}");
        let _ = writeln!(t, "{}", "-".repeat(head.chars().count()));
        let mut notes: Vec<String> = Vec::new();
        let fmt_ratio = |r: Option<(f64, bool)>| match r {
            Some((r, false)) => format!("{r:.2}x"),
            Some((r, true)) => format!(">{r:.1}x"),
            None => "-".into(),
        };
        for s in self.scenarios() {
            let p = self.peer.and_then(|p| p.outcome(s));
            let mut label = s.label().to_string();
            let mut row = String::new();
            for (name, run) in &runs {
                let x = run.and_then(|r| r.outcome(s));
                let [c1, c2, c3] = if run.is_some() {
                    cells(x)
                } else {
                    ["-".into(), "-".into(), "-".into()]
                };
                let _ = write!(row, " | {c1:>17} {c2:>7} {c3:>7}");
                if let Some(n) = x.and_then(|x| x.note.as_ref()) {
                    notes.push(format!("[{}] {name}, {}: {n}", notes.len() + 1, s.label()));
                    let _ = write!(label, " [{}]", notes.len());
                }
            }
            let _ = write!(row, " | {:>9}", fmt_ratio(ratio(self.ours.outcome(s), p)));
            if let Some(spin) = self.spin {
                let _ = write!(row, " {:>9}", fmt_ratio(ratio(spin.outcome(s), p)));
            }
            let _ = writeln!(t, "{label:<w$}{row}");
        }
        let _ = writeln!(
            t,
            "(full paged read: total time instead of req/s, one connection; p50/p99 per page; \
             ratio = peer time / our time)"
        );
        for n in &notes {
            let _ = writeln!(t, "{n}");
        }
        if self.spin.is_none() {
            let _ = writeln!(t, "{}", no_spin(a));
        }
        for run in [Some(self.ours), self.spin, self.peer, self.small]
            .into_iter()
            .flatten()
        {
            if let Some(e) = &run.error {
                let _ = writeln!(t, "{} (N = {}): {e}", run.server, run.n);
            }
            for r in &run.remarks {
                let _ = writeln!(t, "{} (N = {}): {r}", run.server, thousands(run.n as f64));
            }
        }

        for run in [Some(self.ours), self.spin].into_iter().flatten() {
            if !run.outcomes.iter().any(|o| o.guest.is_some()) {
                continue;
            }
            let _ = writeln!(t);
            let _ = writeln!(
                t,
                "Where the time goes ({}, N = {}): client latency vs the component's own \
                 duration_ms (its request log: handler start to response, excluding instantiation \
                 and the host's HTTP); \"outside\" = client p50 - guest p50; \"instance\": the \
                 per-request instance setup (store, WASI context, instantiation; the host's \
                 request log, instantiate_ms; the local host only), part of \"outside\"",
                run.server,
                thousands(run.n as f64)
            );
            let _ = writeln!(
                t,
                "{:<w$} | {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
                "scenario",
                "client p50",
                "guest p50",
                "guest p99",
                "outside",
                "instance p50",
                "instance p99"
            );
            for o in &run.outcomes {
                let Some(g) = &o.guest else { continue };
                let c = o.stats.quantile_ms(0.5);
                let (i50, i99) = o
                    .instance
                    .as_ref()
                    .map_or(("-".to_string(), "-".to_string()), |i| {
                        (ms(i.p50_ms), ms(i.p99_ms))
                    });
                let _ = writeln!(
                    t,
                    "{:<w$} | {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
                    o.scenario.label(),
                    ms(c),
                    ms(g.p50_ms),
                    ms(g.p99_ms),
                    ms(c - g.p50_ms),
                    i50,
                    i99
                );
            }
        }

        if let Some(n) = self.native {
            let _ = writeln!(t);
            t.push_str(n);
        }

        let _ = writeln!(t);
        let _ = writeln!(t, "Footprint:");
        let _ = writeln!(
            t,
            "  .wasm                          {} ({} bytes)",
            mib(self.wasm_bytes),
            self.wasm_bytes
        );
        for run in [Some(self.ours), self.spin, self.peer, self.small]
            .into_iter()
            .flatten()
        {
            let mem = |m: Option<(u64, u64)>| match m {
                Some((hwm, rss)) => format!(
                    "VmHWM {:.0} MiB, VmRSS {:.0} MiB",
                    hwm as f64 / 1024.0,
                    rss as f64 / 1024.0
                ),
                None => "-".into(),
            };
            let who = format!("{} (N = {})", run.server, thousands(run.n as f64));
            let _ = writeln!(
                t,
                "  {who:<30} memory after preload {}; at the end {}",
                mem(run.mem_after_preload),
                mem(run.mem_end)
            );
            if let Some((bytes, files)) = &run.store_bytes {
                let _ = writeln!(
                    t,
                    "  {:<30} store on disk {} ({}; after the write scenarios)",
                    "",
                    mib(*bytes),
                    files.join(", ")
                );
            }
            if let (Some(u), Some(g)) = (run.preload_users, run.preload_groups) {
                let _ = writeln!(
                    t,
                    "  {:<30} preload {:.1} s ({} users/s) + groups {:.1} s",
                    "",
                    u.as_secs_f64(),
                    thousands(run.n as f64 / u.as_secs_f64().max(1e-9)),
                    g.as_secs_f64()
                );
            }
        }
        if let Some(e) = self.ours.outcome(Scenario::Empty).filter(|o| o.usable()) {
            let instance = e
                .instance
                .as_ref()
                .map(|i| {
                    format!(
                        "; of it, the fresh instance p50 {} ms, p99 {} ms",
                        ms(i.p50_ms),
                        ms(i.p99_ms)
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "  per-request fixed cost         near-empty request p50 {} ms (HTTP + fresh instance + \
                 guest setup{instance})",
                ms(e.stats.quantile_ms(0.5))
            );
        }

        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "Targets (release .wasm in the local host, {} cores; reported, never enforced):",
            cores()
        );
        for c in self.targets() {
            let _ = writeln!(t, "  {}  {:<62} {}", verdict(c.pass), c.name, c.measured);
        }
        let law = self.scale_law();
        if !law.is_empty() {
            let _ = writeln!(t);
            let _ = writeln!(
                t,
                "Scale law (spin-scim at {} and at {} users):",
                thousands(self.small.map(|s| s.n).unwrap_or(0) as f64),
                thousands(self.ours.n as f64)
            );
            for c in law {
                let _ = writeln!(t, "  {}  {:<62} {}", verdict(c.pass), c.name, c.measured);
            }
            let _ = writeln!(
                t,
                "  (the big group has min(N, 10,000) members, so below 10,000 users its member buckets \
                 are smaller: costs that read member buckets differ between the sizes for that reason)"
            );
        }
        let _ = writeln!(t);
        let f = |l: Option<f64>| l.map(|x| format!("{x:.2}")).unwrap_or("?".into());
        let _ = writeln!(
            t,
            "Wall time {:.0} s; 1-min load average {} before the run, {} after{}.",
            self.wall.as_secs_f64(),
            f(self.load.0),
            f(self.load.1),
            if self.load.0.is_some_and(|l| l > 1.0) {
                " (WARNING: other processes were competing for the cores; numbers are low)"
            } else {
                ""
            }
        );
        t
    }

    pub fn json(&self) -> Value {
        let a = self.args;
        let checks = |v: Vec<Check>| -> Value {
            v.into_iter()
                .map(|c| json!({"name": c.name, "measured": c.measured, "pass": c.pass}))
                .collect()
        };
        json!({
            "timestamp": self.stamp,
            "machine": {"cores": cores(), "cpu": cpu_model()},
            "config": {
                "n": self.ours.n,
                "concurrency": a.plan.concurrency,
                "warmup_s": a.plan.warmup.as_secs_f64(),
                "duration_s": a.plan.duration.as_secs_f64(),
                "full_read_max_s": a.full_read_max.as_secs_f64(),
                "scale_n": self.small.map(|s| s.n),
            },
            "wasm_bytes": self.wasm_bytes,
            "ours": run_json(self.ours),
            "spin_up": self.spin.map(run_json),
            "peer": self.peer.map(run_json),
            "ours_small": self.small.map(run_json),
            "ratios": self.scenarios().into_iter().map(|s| {
                let r = ratio(self.ours.outcome(s), self.peer.and_then(|p| p.outcome(s)));
                let rs = self.spin.and_then(|spin| ratio(spin.outcome(s), self.peer.and_then(|p| p.outcome(s))));
                json!({"scenario": s.key(), "ours_over_peer": r.map(|x| x.0), "lower_bound": r.map(|x| x.1),
                       "spin_up_over_peer": rs.map(|x| x.0)})
            }).collect::<Vec<_>>(),
            "targets": checks(self.targets()),
            "scale_law": checks(self.scale_law()),
            "wall_s": self.wall.as_secs_f64(),
            "native_profile": self.native.map(|n| n.lines().collect::<Vec<_>>()),
            "loadavg_before": self.load.0,
            "loadavg_after": self.load.1,
        })
    }
}

/// The component's own p50 at both sizes (its request log), when known:
/// what the engine and the store cost, apart from the HTTP path and the
/// scheduling a busy machine adds.
fn guest_p50s(small: &Outcome, big: &Outcome) -> String {
    match (&small.guest, &big.guest) {
        (Some(a), Some(b)) => format!("; component p50 {} / {} ms", ms(a.p50_ms), ms(b.p50_ms)),
        _ => String::new(),
    }
}

fn verdict(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "n/a ",
    }
}

fn log_times_json(l: &LogTimes) -> Value {
    json!({
        "count": l.count,
        "p50_ms": l.p50_ms,
        "p99_ms": l.p99_ms,
        "mean_ms": l.mean_ms,
    })
}

fn num_or_null(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn run_json(run: &ServerRun) -> Value {
    json!({
        "server": run.server,
        "n": run.n,
        "error": run.error,
        "remarks": run.remarks,
        "preload_users_s": run.preload_users.map(|d| d.as_secs_f64()),
        "preload_groups_s": run.preload_groups.map(|d| d.as_secs_f64()),
        "memory_after_preload_kib": run.mem_after_preload.map(|(h, r)| json!({"vm_hwm": h, "vm_rss": r})),
        "memory_end_kib": run.mem_end.map(|(h, r)| json!({"vm_hwm": h, "vm_rss": r})),
        "store_bytes": run.store_bytes.as_ref().map(|s| s.0),
        "store_files": run.store_bytes.as_ref().map(|s| s.1.clone()),
        "scenarios": run.outcomes.iter().map(|o| json!({
            "key": o.scenario.key(),
            "label": o.scenario.label(),
            "usable": o.usable(),
            "ok": o.stats.ok,
            "errors": o.stats.errors,
            "elapsed_s": o.stats.elapsed.as_secs_f64(),
            "rps": num_or_null(o.stats.rps()),
            "p50_ms": num_or_null(o.stats.quantile_ms(0.5)),
            "p90_ms": num_or_null(o.stats.quantile_ms(0.9)),
            "p99_ms": num_or_null(o.stats.quantile_ms(0.99)),
            "max_ms": num_or_null(o.stats.quantile_ms(1.0)),
            "mean_ms": num_or_null(o.stats.mean_ms()),
            "connections_per_request": o.stats.connects_per_req,
            "exhausted": o.stats.exhausted,
            "first_error": o.stats.first_error,
            "note": o.note,
            "guest": o.guest.as_ref().map(log_times_json),
            "instance": o.instance.as_ref().map(log_times_json),
            "full_read": o.full.as_ref().map(|f| json!({
                "total_s": f.total.as_secs_f64(),
                "pages": f.pages,
                "users": f.users,
                "distinct": f.distinct,
                "complete": f.complete,
            })),
        })).collect::<Vec<_>>(),
    })
}
