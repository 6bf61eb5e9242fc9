//! The audit trail's cost (issue 19): the write scenarios (POST, PATCH of a
//! user, PATCH adding a member to the big group, DELETE) measured on ours
//! with `audit_enabled` off and on, alternately, at the scale law's small
//! size; the target is at most 15 % fewer requests per second with it on.

use crate::scenarios::Scenario;
use crate::{bench_ours_with, Args, ServerRun};
use serde_json::{json, Value};

/// The scenarios compared.
const WRITES: [Scenario; 4] = [
    Scenario::Post,
    Scenario::PatchUser,
    Scenario::PatchGroupAdd,
    Scenario::Delete,
];

/// Most throughput the trail may cost, in percent.
pub const MAX_SLOWDOWN_PCT: f64 = 15.0;

/// Passes per setting, alternated (off, on, off, on, …): the best of each
/// counts, so a burst of load from elsewhere hurts neither side alone
/// (two were not enough on a shared machine: a side could lose 30 %).
const PASSES: usize = 3;

/// One scenario: best req/s and the p50 (µs) of that pass, off and on.
pub struct Row {
    pub scenario: Scenario,
    pub off: Option<(f64, u32)>,
    pub on: Option<(f64, u32)>,
}

impl Row {
    /// How much slower with the trail on, in percent of the throughput off.
    pub fn slowdown_pct(&self) -> Option<f64> {
        let (off, on) = (self.off?.0, self.on?.0);
        (off > 0.0).then(|| (off - on) / off * 100.0)
    }
}

fn best(runs: &[ServerRun], s: Scenario) -> Option<(f64, u32)> {
    runs.iter()
        .filter_map(|r| r.outcome(s))
        .filter(|o| o.stats.ok > 0 && o.stats.errors == 0)
        .map(|o| {
            let lat = &o.stats.lat_us;
            (o.stats.rps(), lat.get(lat.len() / 2).copied().unwrap_or(0))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Measure the write scenarios with the trail off and on.
pub fn run(args: &Args, stamp: &str, secret: &str, token: &str) -> Vec<Row> {
    let mut only = args.clone();
    only.only = Some(WRITES.iter().map(|s| s.key().to_string()).collect());
    let n = args.scale_n;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for pass in 0..PASSES {
        for (enabled, runs) in [("false", &mut off), ("true", &mut on)] {
            eprintln!(
                "scim-bench: audit pass {} with audit_enabled={enabled} at N = {n}…",
                pass + 1
            );
            let tag = format!("audit-{enabled}-{pass}");
            let env = [("SPIN_VARIABLE_AUDIT_ENABLED", enabled)];
            runs.push(bench_ours_with(&only, n, stamp, secret, token, &tag, &env));
        }
    }
    WRITES
        .iter()
        .map(|s| Row {
            scenario: *s,
            off: best(&off, *s),
            on: best(&on, *s),
        })
        .collect()
}

/// The table and the target lines.
pub fn text(rows: &[Row]) -> String {
    let mut out = format!(
        "\nAudit trail: writes with audit_enabled off and on (best of {PASSES} alternating passes each)\n",
    );
    out.push_str(&format!(
        "{:<34} {:>10} {:>10} {:>9} {:>9} {:>9}\n",
        "scenario", "req/s off", "req/s on", "p50 off", "p50 on", "slower"
    ));
    let ms = |us: u32| format!("{:.2} ms", us as f64 / 1000.0);
    for r in rows {
        let cell = |v: Option<(f64, u32)>, f: &dyn Fn((f64, u32)) -> String| {
            v.map(f).unwrap_or_else(|| "-".into())
        };
        out.push_str(&format!(
            "{:<34} {:>10} {:>10} {:>9} {:>9} {:>9}\n",
            r.scenario.label(),
            cell(r.off, &|(rps, _)| format!("{rps:.0}")),
            cell(r.on, &|(rps, _)| format!("{rps:.0}")),
            cell(r.off, &|(_, p)| ms(p)),
            cell(r.on, &|(_, p)| ms(p)),
            r.slowdown_pct()
                .map(|p| format!("{p:.1} %"))
                .unwrap_or_else(|| "-".into()),
        ));
    }
    for r in rows {
        let verdict = match r.slowdown_pct() {
            Some(p) if p <= MAX_SLOWDOWN_PCT => "PASS",
            Some(_) => "FAIL",
            None => "n/a",
        };
        out.push_str(&format!(
            "{verdict}  {} with the audit trail at most {MAX_SLOWDOWN_PCT:.0} % slower\n",
            r.scenario.label()
        ));
    }
    out
}

/// The rows for the JSON results.
pub fn json(rows: &[Row]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario.key(),
                    "rps_off": r.off.map(|v| v.0),
                    "rps_on": r.on.map(|v| v.0),
                    "p50_us_off": r.off.map(|v| v.1),
                    "p50_us_on": r.on.map(|v| v.1),
                    "slowdown_pct": r.slowdown_pct(),
                    "target_pct": MAX_SLOWDOWN_PCT,
                })
            })
            .collect(),
    )
}
