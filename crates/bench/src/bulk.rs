//! The /Bulk scenario (RFC 7644 §3.7): 1,000 user creates as one
//! `POST /Bulk` against the same 1,000 creates as single `POST /Users`
//! (on one keep-alive connection), both over HTTP to a fresh local host
//! (ours only: the peer, scim2-server, offers no /Bulk). Each is run
//! `ROUNDS` times on new user names; the report gives users/s of each
//! (median round) and their ratio.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::{Conn, Req, Target};
use crate::scenarios::{external_id, user_body, Logs};
use crate::servers;

/// Creates per round: the default `bulk_max_operations`.
pub const CREATES: usize = 1000;
/// Rounds of each way; the median counts.
const ROUNDS: usize = 3;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// What the scenario measured.
#[derive(Debug, Clone)]
pub struct BulkResult {
    /// Median time of 1,000 single POSTs.
    pub singles: Duration,
    /// Median time of one Bulk of 1,000 POSTs.
    pub bulk: Duration,
    /// Every round's times, singles then bulk.
    pub rounds: Vec<(Duration, Duration)>,
}

impl BulkResult {
    fn rate(d: Duration) -> f64 {
        CREATES as f64 / d.as_secs_f64().max(1e-9)
    }
    /// The report lines.
    pub fn text(&self) -> String {
        let (s, b) = (Self::rate(self.singles), Self::rate(self.bulk));
        format!(
            "\n/Bulk (RFC 7644 §3.7): {CREATES} user creates over HTTP, one connection, \
             median of {ROUNDS} rounds\n  \
             {CREATES} single POST /Users : {:>8.1} ms  {:>8.0} users/s\n  \
             one POST /Bulk           : {:>8.1} ms  {:>8.0} users/s\n  \
             ratio bulk/single        : {:>8.2}x\n",
            self.singles.as_secs_f64() * 1000.0,
            s,
            self.bulk.as_secs_f64() * 1000.0,
            b,
            b / s
        )
    }
    /// The JSON record.
    pub fn json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        json!({
            "creates": CREATES,
            "rounds": self.rounds.iter().map(|(s, b)| json!({"singles_ms": ms(*s), "bulk_ms": ms(*b)})).collect::<Vec<_>>(),
            "singles_ms": ms(self.singles),
            "bulk_ms": ms(self.bulk),
            "singles_users_per_s": Self::rate(self.singles),
            "bulk_users_per_s": Self::rate(self.bulk),
            "ratio": Self::rate(self.bulk) / Self::rate(self.singles),
        })
    }
}

fn user(round: usize, way: &str, i: usize) -> Value {
    let name = format!("bulk-{way}-{round}-{i}@bench.example");
    user_body(&name, &external_id(i), &format!("Bulk{i} Bench"))
}

/// 1,000 single POSTs on `conn`: the elapsed time.
fn singles(conn: &mut Conn, round: usize) -> Result<Duration, String> {
    let bodies: Vec<Req> = (0..CREATES)
        .map(|i| Req::json("POST", "/Users", &user(round, "single", i)))
        .collect();
    let start = Instant::now();
    for req in &bodies {
        match conn.send(req, true) {
            Ok(r) if r.status == 201 => {}
            Ok(r) => return Err(format!("POST /Users: HTTP {}", r.status)),
            Err(e) => return Err(format!("POST /Users: {e}")),
        }
    }
    Ok(start.elapsed())
}

/// One Bulk of 1,000 POSTs on `conn`: the elapsed time; every operation
/// must answer 201.
fn one_bulk(conn: &mut Conn, round: usize) -> Result<Duration, String> {
    let ops: Vec<Value> = (0..CREATES)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                   "data": user(round, "bulk", i)})
        })
        .collect();
    let req = Req::json(
        "POST",
        "/Bulk",
        &json!({"schemas": [BULK_REQUEST], "Operations": ops}),
    );
    let start = Instant::now();
    let r = conn
        .send(&req, true)
        .map_err(|e| format!("POST /Bulk: {e}"))?;
    let took = start.elapsed();
    if r.status != 200 {
        return Err(format!("POST /Bulk: HTTP {}", r.status));
    }
    let v = r.json().ok_or("POST /Bulk: no JSON")?;
    let created = v["Operations"]
        .as_array()
        .map(|a| a.iter().filter(|o| o["status"] == "201").count())
        .unwrap_or(0);
    if created != CREATES {
        return Err(format!("POST /Bulk: {created} of {CREATES} created"));
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Run the scenario on a fresh local host (its own state dir, removed after).
pub fn run(
    host_bin: &Path,
    manifest: &Path,
    out: &Path,
    stamp: &str,
    secret: &str,
    token: &str,
) -> Result<BulkResult, String> {
    let state = std::env::temp_dir().join(format!("scim-bench-{}-bulk", std::process::id()));
    let logs = Logs {
        guest: out.join(format!("{stamp}-host-bulk.log")),
        access: out.join(format!("{stamp}-access-bulk.log")),
    };
    let runtime = servers::Runtime::Host(host_bin.to_path_buf());
    let mut server = servers::start_ours(&runtime, manifest, &state, secret, token, &logs, &[])?;
    let target: Target = server.target.clone();
    let result = (|| {
        let mut conn = Conn::new(&target);
        let mut rounds = Vec::new();
        for round in 0..ROUNDS {
            let s = singles(&mut conn, round)?;
            // A connection of its own: Conn retries a request once on a
            // reused connection that failed, and a Bulk must not run twice.
            let b = one_bulk(&mut Conn::new(&target), round)?;
            eprintln!(
                "scim-bench: bulk round {round}: {CREATES} singles {:.0} ms, one bulk {:.0} ms",
                s.as_secs_f64() * 1000.0,
                b.as_secs_f64() * 1000.0
            );
            rounds.push((s, b));
        }
        Ok(BulkResult {
            singles: median(rounds.iter().map(|r| r.0).collect()),
            bulk: median(rounds.iter().map(|r| r.1).collect()),
            rounds,
        })
    })();
    server.stop();
    let _ = std::fs::remove_dir_all(&state);
    if result.is_ok() {
        let _ = std::fs::remove_file(&logs.guest);
        let _ = std::fs::remove_file(&logs.access);
    }
    result
}
