//! `scim-bench --members SIZES [--ops K]` (`make bench-members`): one
//! member added to and removed from a group of each size (default 1,000,
//! 100,000 and 1,000,000 members), run in-process against the engine on an
//! in-memory store as weak as Spin's (no wasm, no HTTP: what the member
//! layout costs, not the transport). The group is grown with the engine's
//! own layout code (`scim::storage::preload_group`), then each change is a
//! real PATCH as an identity provider sends it: `add` of one member, and
//! `remove` with `members[value eq "…"]`. Reports p50/p99 latency and the
//! store calls and bytes each change writes and reads; then the reads
//! Entra ID and Okta make of such a group (`excludedAttributes=members`,
//! and a membership test by filter).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::Request;
use scim::storage::counting::{Counting, Traffic};
use scim::storage::memory::MemStore;
use serde_json::{json, Value};

const SECRET: &str = "members-bench-secret-0123456789abcdef0123456789";
/// Issue 21: a change of one member is p99 <= 10 ms and writes a few KiB,
/// whatever the group's size.
const TARGET_P99_MS: f64 = 10.0;
const TARGET_WRITE_BYTES: u64 = 8 * 1024;
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct NoFetch;

impl scim::auth::jwks::JwksFetcher for NoFetch {
    fn fetch(&self, _url: &str) -> Result<String, String> {
        Err("no outbound HTTP in the members bench".into())
    }
}

struct Engine {
    service: Service,
    store: Counting<MemStore>,
    token: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Engine {
    fn new() -> Result<Engine, String> {
        let vars = |name: &str| (name == "token_hs256_secret").then(|| SECRET.to_string());
        let token = scim::auth::mint_hs256(
            SECRET,
            &scim::auth::DevClaims {
                scopes: vec!["scim.read".into(), "scim.write".into()],
                client_id: Some("scim-bench".into()),
                ttl_secs: 6 * 3600,
                ..Default::default()
            },
        )?;
        Ok(Engine {
            service: Service::new(Config::from_vars(&vars)?),
            store: Counting::new(MemStore::new()),
            token,
        })
    }

    fn call(&self, method: &str, path: &str, query: &str, body: Option<Value>) -> (u16, Value) {
        let req = Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {}", self.token)),
                ("content-type".into(), "application/scim+json".into()),
            ],
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            base_url: "http://127.0.0.1/api/scim/v2".into(),
        };
        let no_roles = || Err("no role catalog in the members bench".to_string());
        let out = self.service.handle(
            &req,
            &Env {
                store: &self.store,
                now: now(),
                fetcher: &NoFetch,
                catalog_source: &no_roles,
            },
        );
        let v = serde_json::from_slice(&out.response.body).unwrap_or(Value::Null);
        (out.response.status, v)
    }

    fn create(&self, path: &str, body: Value) -> Result<String, String> {
        match self.call("POST", path, "", Some(body)) {
            (201, v) => Ok(v["id"].as_str().unwrap_or_default().to_string()),
            (s, v) => Err(format!("POST {path}: {s} {v}")),
        }
    }
}

/// Latencies and store traffic of one kind of request.
#[derive(Default)]
struct Sample {
    times: Vec<Duration>,
    traffic: Vec<Traffic>,
}

impl Sample {
    fn pct(&self, p: f64) -> f64 {
        let mut t = self.times.clone();
        t.sort();
        let i = ((t.len() as f64 * p).ceil() as usize).clamp(1, t.len().max(1)) - 1;
        t.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
    fn mean(&self, f: impl Fn(&Traffic) -> u64) -> f64 {
        self.traffic.iter().map(&f).sum::<u64>() as f64 / self.traffic.len().max(1) as f64
    }
    fn max(&self, f: impl Fn(&Traffic) -> u64) -> u64 {
        self.traffic.iter().map(f).max().unwrap_or(0)
    }
}

/// Time `f` and count the store traffic it makes; fail on a non-2xx.
fn measure(e: &Engine, s: &mut Sample, f: impl FnOnce() -> (u16, Value)) -> Result<(), String> {
    e.store.reset();
    let t = Instant::now();
    let (status, v) = f();
    s.times.push(t.elapsed());
    s.traffic.push(e.store.traffic());
    if !(200..300).contains(&status) {
        return Err(format!("{status} {v}"));
    }
    Ok(())
}

/// The measured numbers at one group size, as printed.
fn one_size(n: usize, ops: usize) -> Result<String, String> {
    let e = Engine::new()?;
    let users: Vec<String> = (0..ops)
        .map(|i| {
            e.create(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": format!("member{i}@bench.example"),
                       "displayName": format!("Member {i}")}),
            )
        })
        .collect::<Result<_, _>>()?;
    let gid = e.create(
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": format!("all users ({n})")}),
    )?;
    let t = Instant::now();
    scim::storage::preload_group(
        &e.store,
        "default",
        now(),
        &gid,
        (0..n).map(|i| {
            (
                format!("00000000-0000-4000-8000-{i:012x}"),
                Some(format!("Preloaded Member {i}")),
            )
        }),
    )
    .map_err(|err| format!("preload: {}", err.detail))?;
    let preload = t.elapsed();
    let (mut add, mut remove, mut get, mut probe) = Default::default();
    let path = format!("/Groups/{gid}");
    for u in &users {
        measure(&e, &mut add, || {
            e.call(
                "PATCH",
                &path,
                "",
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": u}]}]})),
            )
        })?;
    }
    for u in &users {
        measure(&e, &mut remove, || {
            e.call(
                "PATCH",
                &path,
                "",
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "remove", "path": format!("members[value eq \"{u}\"]")}]})),
            )
        })?;
    }
    for u in users.iter().take(50) {
        measure(&e, &mut get, || {
            e.call("GET", &path, "excludedAttributes=members", None)
        })?;
        let filter = format!("id eq \"{gid}\" and members.value eq \"{u}\"");
        let query = format!(
            "excludedAttributes=members&filter={}",
            filter.replace(' ', "%20").replace('"', "%22")
        );
        measure(&e, &mut probe, || e.call("GET", "/Groups", &query, None))?;
    }
    let row = |what: &str, s: &Sample| {
        format!(
            "{n:>9} | {what:<34} | {:>7.3} {:>7.3} | {:>5.1} {:>6.1} {:>7.1} | {:>5.1} {:>6.1} {:>7.1}\n",
            s.pct(0.5),
            s.pct(0.99),
            s.mean(|t| t.calls),
            s.mean(|t| t.reads),
            s.mean(|t| t.read_bytes) / 1024.0,
            s.mean(|t| t.writes),
            s.mean(|t| t.write_bytes) / 1024.0,
            s.max(|t| t.write_bytes) as f64 / 1024.0,
        )
    };
    let pass = [&add, &remove]
        .iter()
        .all(|s| s.pct(0.99) <= TARGET_P99_MS && s.max(|t| t.write_bytes) <= TARGET_WRITE_BYTES);
    Ok(format!(
        "{}{}{}{}{n:>9} | preload {:.1} s, {} keys in the store; target (p99 <= {TARGET_P99_MS} ms, \
         <= {} KiB written per change): {}\n",
        row("PATCH add one member", &add),
        row("PATCH remove members[value eq]", &remove),
        row("GET excludedAttributes=members", &get),
        row("GET filter id and members.value eq", &probe),
        preload.as_secs_f64(),
        e.store.inner().len(),
        TARGET_WRITE_BYTES / 1024,
        if pass { "PASS" } else { "FAIL" },
    ))
}

const USAGE: &str = "\
scim-bench --members [SIZES] [--ops K]: one member added to and removed
from groups of SIZES members (comma-separated; default 1000,100000,1000000),
K times each (default 200), in-process on an in-memory store.
";

/// Run the members bench when the first argument is `--members`.
pub fn run_if_asked() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("--members") {
        return None;
    }
    let mut sizes = vec![1_000, 100_000, 1_000_000];
    let mut ops = 200;
    let mut it = args.into_iter().skip(1).peekable();
    while let Some(a) = it.next() {
        let parsed = match a.as_str() {
            "--ops" => it.next().and_then(|v| v.parse().ok()).map(|k| ops = k),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Some(ExitCode::SUCCESS);
            }
            list => list
                .split(',')
                .map(|s| s.replace('_', "").parse().ok())
                .collect::<Option<Vec<usize>>>()
                .map(|s| sizes = s),
        };
        if parsed.is_none() {
            eprintln!("scim-bench --members: bad argument {a:?}\n{USAGE}");
            return Some(ExitCode::from(2));
        }
    }
    println!(
        "group membership at size (in-process engine, in-memory store as weak as Spin's; \
         {ops} changes each)\n\
         {:>9} | {:<34} | {:>7} {:>7} | {:>5} {:>6} {:>7} | {:>5} {:>6} {:>7}",
        "members",
        "request",
        "p50 ms",
        "p99 ms",
        "calls",
        "reads",
        "KiB rd",
        "wr",
        "KiB wr",
        "max KiB"
    );
    for n in sizes {
        match one_size(n, ops.max(1)) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("scim-bench --members: at {n} members: {e}");
                return Some(ExitCode::FAILURE);
            }
        }
    }
    Some(ExitCode::SUCCESS)
}
