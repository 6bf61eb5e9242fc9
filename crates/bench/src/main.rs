//! `scim-bench`: the benchmark behind `make bench` (issue #8).
//!
//! Starts the local host (`scim-host`) with the release `.wasm` and a fresh
//! store on 127.0.0.1, preloads N users and the groups, measures every
//! scenario with a closed-loop load generator (fixed concurrency, keep-alive
//! HTTP/1.1, warm-up then a bounded measured period), does the same under
//! real `spin up` when a `spin` executable is on `PATH`, and against
//! the peer (`scim2-server`, the Python reference server, in a venv under
//! `bench/.venv`), optionally repeats ours at 1,000 users for the scale law,
//! prints the table, the targets and the scale law, and writes JSON to
//! `bench/results/<timestamp>.json`. Loopback only; every loop is bounded.

mod audit;
mod bulk;
mod http;
mod load;
mod members;
mod native;
mod report;
mod scenarios;
mod servers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use load::Plan;
use scenarios::{Logs, Outcome, Scenario, World};

const USAGE: &str = "\
scim-bench: benchmark spin-scim in the local host (and under real `spin up`
when `spin` is on PATH), side by side with a peer

Usage: scim-bench [OPTIONS]   (run from the workspace root; `make bench` does)

Options:
      --n N               users to preload [default: 10000]
      --scale             also run ours at --scale-n users and check the scale law
      --scale-n N         the small size of the scale law [default: 1000]
      --no-peer           do not run the peer (scim2-server)
      --preload MODE      how ours gets its N users: http (POST /Users, 4
                          connections), seed (`scim-host seed`: the engine's
                          own create in-process, batched SQLite transactions;
                          groups still over HTTP) or auto: seed above
                          100,000 users, where the peer and `spin up` are
                          not run either [default: auto]
      --no-spin           do not run the scenarios under real `spin up`
      --spin-bin FILE     the `spin` executable [default: `spin` on PATH;
                          without one, `spin up` is not measured]
      --spin-runtime-config FILE
                          run `spin up` with this runtime config (e.g. its
                          key-value store on Redis: bench/spin-redis.toml);
                          default: Spin's SQLite store
      --duration SECS     measured period per scenario [default: 5]
      --warmup SECS       warm-up per scenario [default: 1]
      --concurrency C     connections per scenario [default: 4]
      --full-read-max S   give up the full paged read after S seconds [default: 60, or
                          15 s per 100,000 users where that is more]
      --only LIST         run only these scenarios (comma-separated keys)
      --no-native         skip the native engine profile (in-process, no wasm)
      --no-bulk           skip the /Bulk scenario (1,000 creates: one Bulk vs single POSTs)
      --bulk-only         only the /Bulk scenario (no preload, no peer)
      --no-audit          skip the audit trail pass (writes with the trail on and off)
      --audit-only        only the audit trail pass
      --native-only       only the native engine profile (no servers)
      --host-bin FILE     [default: target/host/scim-host]
      --manifest FILE     [default: spin.toml]
      --wasm FILE         the .wasm whose size is reported
                          [default: target/wasm32-wasip1/release/spin_scim.wasm]
      --out DIR           where the JSON goes [default: bench/results]
  -h, --help
";

#[derive(Debug, Clone)]
pub struct Args {
    pub n: usize,
    pub scale: bool,
    pub scale_n: usize,
    pub peer: bool,
    /// `--preload`: `Some(true)` seed, `Some(false)` HTTP, `None` auto.
    pub preload_seed: Option<bool>,
    /// The `spin` executable to run the scenarios under `spin up` too.
    pub spin: Option<PathBuf>,
    /// `--no-spin` was given.
    pub spin_off: bool,
    /// `--spin-runtime-config`: passed to `spin up` as
    /// `--runtime-config-file` (its key-value store, e.g. Redis).
    pub spin_runtime_config: Option<PathBuf>,
    pub plan: Plan,
    pub full_read_max: Duration,
    pub only: Option<Vec<String>>,
    pub native: bool,
    pub native_only: bool,
    pub bulk: bool,
    pub bulk_only: bool,
    pub audit: bool,
    pub audit_only: bool,
    pub host_bin: PathBuf,
    pub manifest: PathBuf,
    pub wasm: PathBuf,
    pub out: PathBuf,
}

fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        n: 10_000,
        scale: false,
        scale_n: 1_000,
        peer: true,
        preload_seed: None,
        spin: servers::spin_on_path(),
        spin_off: false,
        spin_runtime_config: None,
        plan: Plan {
            concurrency: 4,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
        },
        full_read_max: Duration::from_secs(60),
        only: None,
        native: true,
        native_only: false,
        bulk: true,
        bulk_only: false,
        audit: true,
        audit_only: false,
        host_bin: "target/host/scim-host".into(),
        manifest: "spin.toml".into(),
        wasm: "target/wasm32-wasip1/release/spin_scim.wasm".into(),
        out: "bench/results".into(),
    };
    let mut it = argv.into_iter();
    let mut full_read_max = None;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let num = |v: String| -> Result<usize, String> {
            v.replace('_', "")
                .parse()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        let secs = |v: String| -> Result<Duration, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| *s >= 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{flag}: not a number of seconds: {v}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--n" | "-n" => a.n = num(value()?)?,
            "--scale" => a.scale = true,
            "--scale-n" => a.scale_n = num(value()?)?,
            "--no-peer" => a.peer = false,
            "--preload" => {
                a.preload_seed = match value()?.as_str() {
                    "auto" => None,
                    "seed" => Some(true),
                    "http" => Some(false),
                    other => return Err(format!("--preload: {other:?} is not http, seed or auto")),
                }
            }
            "--no-spin" => a.spin_off = true,
            "--spin-runtime-config" => a.spin_runtime_config = Some(value()?.into()),
            "--spin-bin" => a.spin = Some(value()?.into()),
            "--no-native" => a.native = false,
            "--native-only" => a.native_only = true,
            "--no-bulk" => a.bulk = false,
            "--bulk-only" => a.bulk_only = true,
            "--no-audit" => a.audit = false,
            "--audit-only" => a.audit_only = true,
            "--duration" => a.plan.duration = secs(value()?)?,
            "--warmup" => a.plan.warmup = secs(value()?)?,
            "--concurrency" => a.plan.concurrency = num(value()?)?.max(1),
            "--full-read-max" => full_read_max = Some(secs(value()?)?),
            "--only" => a.only = Some(value()?.split(',').map(|s| s.trim().to_string()).collect()),
            "--host-bin" => a.host_bin = value()?.into(),
            "--manifest" => a.manifest = value()?.into(),
            "--wasm" => a.wasm = value()?.into(),
            "--out" => a.out = value()?.into(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // A million users take about a minute to read on a busy 2-core machine.
    a.full_read_max = full_read_max
        .unwrap_or_else(|| Duration::from_secs_f64((a.n as f64 * 15.0 / 100_000.0).max(60.0)));
    if a.n < 2 * scenarios::PAGE {
        return Err(format!("--n must be at least {}", 2 * scenarios::PAGE));
    }
    if let Some(only) = &a.only {
        for k in only {
            if !Scenario::ALL.iter().any(|s| s.key() == k) {
                return Err(format!("--only: unknown scenario {k:?}"));
            }
        }
    }
    Ok(Some(a))
}

/// Above this many users, nothing is preloaded over HTTP by default: ours
/// is seeded (`scim-host seed`), and the peer and `spin up`, which can
/// only be preloaded over HTTP, are not run.
pub const HTTP_PRELOAD_MAX: usize = 100_000;

/// The native profile keeps every key in memory: it runs at most at this
/// many users.
pub const NATIVE_MAX: usize = 100_000;

impl Args {
    /// Whether ours is preloaded by `scim-host seed` in this invocation
    /// (every size alike, so the scale law compares like with like).
    pub fn seeds(&self) -> bool {
        self.preload_seed.unwrap_or(self.n > HTTP_PRELOAD_MAX)
    }
}

/// Why a server that can only be preloaded over HTTP is not run at `n`.
/// `how`: why its preload is what it is.
fn too_big_for_http(n: usize, how: &str) -> Option<String> {
    (n > HTTP_PRELOAD_MAX).then(|| {
        format!(
            "not measured at N = {n}: {how}, far too long above {HTTP_PRELOAD_MAX} users \
             (only the local host is measured; a smaller N compares the servers)"
        )
    })
}

const PEER_PRELOAD: &str = "the peer keeps its data in memory and is preloaded over HTTP \
                            (one TCP connection per request)";
const SPIN_PRELOAD: &str = "`spin up` is preloaded over HTTP, and its store commits and syncs \
                            every write call (a few users per second)";

/// Everything measured on one server at one size.
#[derive(Debug)]
pub struct ServerRun {
    pub server: &'static str,
    pub n: usize,
    pub outcomes: Vec<Outcome>,
    pub preload_users: Option<Duration>,
    pub preload_groups: Option<Duration>,
    /// `(VmHWM, VmRSS)` in KiB after the preload and at the end.
    pub mem_after_preload: Option<(u64, u64)>,
    pub mem_end: Option<(u64, u64)>,
    pub store_bytes: Option<(u64, Vec<String>)>,
    /// Why this run has no (or only some) numbers.
    pub error: Option<String>,
    /// What to know about the server (e.g. no keep-alive).
    pub remarks: Vec<String>,
}

impl ServerRun {
    fn failed(server: &'static str, n: usize, error: String) -> ServerRun {
        ServerRun {
            server,
            n,
            outcomes: Vec::new(),
            preload_users: None,
            preload_groups: None,
            mem_after_preload: None,
            mem_end: None,
            store_bytes: None,
            error: Some(error),
            remarks: Vec::new(),
        }
    }

    pub fn outcome(&self, s: Scenario) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.scenario == s)
    }
}

fn selected(args: &Args) -> Vec<Scenario> {
    Scenario::ALL
        .into_iter()
        .filter(|s| {
            args.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|k| k == s.key()))
        })
        .collect()
}

/// Preloads and measures every selected scenario against a started server.
/// `seeded`: the users are there already (ids by index, and how long the
/// seeding took); only the groups are created.
fn measure(
    args: &Args,
    server: &mut servers::Server,
    n: usize,
    logs: Option<&Logs>,
    seeded: Option<(Vec<String>, Duration)>,
) -> ServerRun {
    let name = server.name;
    let target = server.target.clone();
    let was_seeded = seeded.is_some();
    let preloaded = match seeded {
        Some((ids, took)) => {
            eprintln!("scim-bench: {name}: {n} users seeded; creating the groups…");
            scenarios::preload_groups(&target, ids, took)
        }
        None => {
            eprintln!("scim-bench: {name}: preloading {n} users and the groups…");
            scenarios::preload(&target, n, args.plan.concurrency)
        }
    };
    let world: World = match preloaded {
        Ok(w) => w,
        Err(e) => return ServerRun::failed(name, n, e),
    };
    eprintln!(
        "scim-bench: {name}: preloaded in {:.1} s (users) + {:.1} s (groups)",
        world.preload_users.as_secs_f64(),
        world.preload_groups.as_secs_f64()
    );
    let mut run = ServerRun {
        server: name,
        n,
        outcomes: Vec::new(),
        preload_users: Some(world.preload_users),
        preload_groups: Some(world.preload_groups),
        mem_after_preload: server.memory_kib(),
        mem_end: None,
        store_bytes: None,
        error: None,
        remarks: Vec::new(),
    };
    if was_seeded {
        run.remarks.push(
            "users preloaded by `scim-host seed` (the engine's own POST /Users in-process, \
             10,000 per SQLite transaction, on the store file the host then serves), groups \
             over HTTP"
                .into(),
        );
    }
    for s in selected(args) {
        if !server.alive() {
            run.error = Some(format!("{name} exited during the run"));
            break;
        }
        let o = scenarios::run(s, &target, &world, args.plan, args.full_read_max, logs);
        eprintln!(
            "scim-bench: {name}: {:<34} {}{}",
            s.label(),
            report::summary(&o),
            o.note
                .as_ref()
                .map(|n| format!("  [{n}]"))
                .unwrap_or_default()
        );
        run.outcomes.push(o);
    }
    if run
        .outcomes
        .iter()
        .any(|o| o.full.is_none() && o.stats.connects_per_req > 0.9)
    {
        run.remarks.push(
            "answers HTTP/1.0 and closes the connection after every response: \
             one TCP connection per request (counted in its latency)"
                .into(),
        );
    }
    run.mem_end = server.memory_kib();
    if let Some(dir) = &server.state_dir {
        run.store_bytes = Some(servers::store_bytes(dir));
    }
    run
}

/// Ours at `n` users with extra environment (`SPIN_VARIABLE_*`), on a
/// fresh store named by `tag`.
pub fn bench_ours_with(
    args: &Args,
    n: usize,
    stamp: &str,
    secret: &str,
    token: &str,
    tag: &str,
    env: &[(&str, &str)],
) -> ServerRun {
    let state = std::env::temp_dir().join(format!("scim-bench-{}-{tag}", std::process::id()));
    let logs = Logs {
        guest: args.out.join(format!("{stamp}-host-{tag}.log")),
        access: args.out.join(format!("{stamp}-access-{tag}.log")),
    };
    let mut server = match servers::start_ours(
        &servers::Runtime::Host(args.host_bin.clone()),
        &args.manifest,
        &state,
        secret,
        token,
        &logs,
        env,
    ) {
        Ok(s) => s,
        Err(e) => return ServerRun::failed("spin-scim", n, e),
    };
    let run = measure(args, &mut server, n, Some(&logs), None);
    server.stop();
    let _ = std::fs::remove_dir_all(&state);
    if run.error.is_none() {
        let _ = std::fs::remove_file(&logs.guest);
        let _ = std::fs::remove_file(&logs.access);
    }
    run
}

fn bench_ours(args: &Args, n: usize, stamp: &str, secret: &str, token: &str) -> ServerRun {
    let runtime = servers::Runtime::Host(args.host_bin.clone());
    bench_wasm(args, &runtime, n, stamp, secret, token)
}

/// The same `.wasm`, the same scenarios, under real `spin up`.
fn bench_spin(
    args: &Args,
    spin: &Path,
    n: usize,
    stamp: &str,
    secret: &str,
    token: &str,
) -> ServerRun {
    if let Some(rc) = &args.spin_runtime_config {
        eprintln!(
            "scim-bench: spin up: stores from the runtime config {} (not Spin's default SQLite)",
            rc.display()
        );
    }
    let runtime = servers::Runtime::Spin(spin.to_path_buf(), args.spin_runtime_config.clone());
    bench_wasm(args, &runtime, n, stamp, secret, token)
}

fn bench_wasm(
    args: &Args,
    runtime: &servers::Runtime,
    n: usize,
    stamp: &str,
    secret: &str,
    token: &str,
) -> ServerRun {
    let tag = match runtime {
        servers::Runtime::Host(_) => "host",
        servers::Runtime::Spin(..) => "spin",
    };
    let state = std::env::temp_dir().join(format!("scim-bench-{}-{tag}-n{n}", std::process::id()));
    let logs = Logs {
        guest: args.out.join(format!("{stamp}-{tag}-n{n}.log")),
        access: args.out.join(format!("{stamp}-{tag}-access-n{n}.log")),
    };
    // Only the local host's store can be seeded (`spin up` keeps its own).
    let seeded = match runtime {
        servers::Runtime::Host(bin) if args.seeds() => {
            eprintln!("scim-bench: seeding {n} users with scim-host seed…");
            match servers::seed_users(bin, &args.manifest, &state, n, &[]) {
                Ok(s) => Some(s),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&state);
                    return ServerRun::failed(runtime.name(), n, e);
                }
            }
        }
        _ => None,
    };
    let started = match seeded {
        Some(_) => {
            servers::start_ours_on(runtime, &args.manifest, &state, secret, token, &logs, &[])
        }
        None => servers::start_ours(runtime, &args.manifest, &state, secret, token, &logs, &[]),
    };
    let mut server = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&state);
            return ServerRun::failed(runtime.name(), n, e);
        }
    };
    eprintln!(
        "scim-bench: {} (pid {}) on http://{}{} with N = {n}",
        runtime.name(),
        server.pid(),
        server.target.addr,
        server.target.base
    );
    let run = measure(args, &mut server, n, Some(&logs), seeded);
    server.stop();
    let _ = std::fs::remove_dir_all(&state);
    if run.error.is_none() {
        // Tens of MB of request log lines; kept only when something failed.
        let _ = std::fs::remove_file(&logs.guest);
        let _ = std::fs::remove_file(&logs.access);
    }
    run
}

fn bench_peer(args: &Args, n: usize) -> ServerRun {
    if let Some(why) = too_big_for_http(n, PEER_PRELOAD) {
        return ServerRun::failed("scim2-server", n, why);
    }
    let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let exe = match servers::ensure_peer(&root) {
        Ok(e) => e,
        Err(e) => return ServerRun::failed("scim2-server", n, format!("peer unavailable: {e}")),
    };
    let mut server = match servers::start_peer(&exe) {
        Ok(s) => s,
        Err(e) => return ServerRun::failed("scim2-server", n, e),
    };
    eprintln!(
        "scim-bench: scim2-server (pid {}) on http://{}{} with N = {n}",
        server.pid(),
        server.target.addr,
        server.target.base
    );
    let run = measure(args, &mut server, n, None, None);
    server.stop();
    run
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut s: String = b.iter().map(|x| format!("{x:02x}")).collect();
    s.push_str(&format!("{nanos:x}"));
    s
}

fn main() -> ExitCode {
    if let Some(code) = members::run_if_asked() {
        return code;
    }
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scim-bench: {e} (see --help)");
            return ExitCode::from(2);
        }
    };
    if args.native_only {
        return match native::run(
            args.n,
            args.plan.duration.min(Duration::from_secs(2)),
            args.only.as_deref(),
        ) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("scim-bench: native profile failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    for (what, p) in [
        ("host", &args.host_bin),
        ("manifest", &args.manifest),
        ("wasm", &args.wasm),
    ] {
        if !Path::new(p).exists() {
            eprintln!(
                "scim-bench: the {what} {} is missing: run `make bench` (it builds it)",
                p.display()
            );
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("scim-bench: cannot create {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let started = std::time::SystemTime::now();
    let stamp = report::timestamp(started);
    let secret = random_secret();
    let token = match scim::auth::mint_hs256(
        &secret,
        &scim::auth::DevClaims {
            scopes: vec!["scim.read".into(), "scim.write".into()],
            client_id: Some("scim-bench".into()),
            ttl_secs: 6 * 3600,
            ..Default::default()
        },
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("scim-bench: cannot mint a token: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wasm_bytes = std::fs::metadata(&args.wasm).map(|m| m.len()).unwrap_or(0);
    let run_bulk = || {
        eprintln!("scim-bench: /Bulk scenario ({} creates)…", bulk::CREATES);
        let r = bulk::run(
            &args.host_bin,
            &args.manifest,
            &args.out,
            &stamp,
            &secret,
            &token,
        );
        match &r {
            Ok(b) => {
                print!("{}", b.text());
                let path = args.out.join(format!("{stamp}-bulk.json"));
                let _ = std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&b.json()).unwrap_or_default() + "\n",
                );
            }
            Err(e) => eprintln!("scim-bench: /Bulk scenario failed: {e}"),
        }
        r
    };
    if args.bulk_only {
        return match run_bulk() {
            Ok(_) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let clock = Instant::now();
    let load_start = report::loadavg();
    if load_start.is_some_and(|l| l > 1.0) {
        eprintln!(
            "scim-bench: warning: load average {:.2} before the run: other processes compete \
             for the cores and the numbers will be low",
            load_start.unwrap_or_default()
        );
    }

    if args.audit_only {
        print!(
            "{}",
            audit::text(&audit::run(&args, &stamp, &secret, &token))
        );
        return ExitCode::SUCCESS;
    }
    let ours = bench_ours(&args, args.n, &stamp, &secret, &token);
    // Without `spin`, the report says so in one line (report::no_spin).
    let spin = match (&args.spin, args.spin_off) {
        (Some(_), false) if args.n > HTTP_PRELOAD_MAX => Some(ServerRun::failed(
            "spin up",
            args.n,
            too_big_for_http(args.n, SPIN_PRELOAD).unwrap_or_default(),
        )),
        (Some(bin), false) => Some(bench_spin(&args, bin, args.n, &stamp, &secret, &token)),
        _ => None,
    };
    let peer = args.peer.then(|| bench_peer(&args, args.n));
    let small = (args.scale && args.scale_n != args.n)
        .then(|| bench_ours(&args, args.scale_n, &stamp, &secret, &token));

    let native = args.native.then(|| {
        let n = args.n.min(NATIVE_MAX);
        eprintln!("scim-bench: native engine profile at N = {n}…");
        native::run(n, Duration::from_secs(1), args.only.as_deref())
            .unwrap_or_else(|e| format!("native profile failed: {e}\n"))
    });

    let r = report::Report {
        args: &args,
        stamp: &stamp,
        wasm_bytes,
        ours: &ours,
        spin: spin.as_ref(),
        peer: peer.as_ref(),
        small: small.as_ref(),
        wall: clock.elapsed(),
        load: (load_start, report::loadavg()),
        native: native.as_deref(),
    };
    print!("{}", r.text());
    let mut json = r.json();
    if args.audit {
        let rows = audit::run(&args, &stamp, &secret, &token);
        print!("{}", audit::text(&rows));
        json["audit"] = audit::json(&rows);
    }
    let path = args.out.join(format!("{stamp}.json"));
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
    ) {
        Ok(()) => println!("Results: {}", path.display()),
        Err(e) => eprintln!("scim-bench: cannot write {}: {e}", path.display()),
    }
    if args.bulk {
        let _ = run_bulk();
    }
    // Targets and scale law are reported, never enforced: a slow machine
    // must not fail the build. Only a run that could not measure fails.
    if ours.error.is_some() && ours.outcomes.is_empty() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
