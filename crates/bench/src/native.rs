//! `scim-bench --native`: the same scenarios run in-process against the
//! SCIM engine (no wasm, no HTTP, an in-memory store), to tell how much of
//! a request is the engine's own work and how much key-value traffic it
//! makes. The component builds its configuration and `Service` on every
//! request; that setup is measured too.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::Request;
use scim::storage::counting::{Counting, Traffic};
use scim::storage::memory::MemStore;
use serde_json::{json, Value};

use crate::scenarios::{external_id, user_body, user_name, Scenario, BIG_GROUP, GROUP, PATCH_OP};

/// The traffic counters in the table's column order.
fn snapshot(t: Traffic) -> [u64; 5] {
    [t.calls, t.reads, t.read_bytes, t.writes, t.write_bytes]
}

struct NoFetch;

impl scim::auth::jwks::JwksFetcher for NoFetch {
    fn fetch(&self, _url: &str) -> Result<String, String> {
        Err("no outbound HTTP in the native bench".into())
    }
}

const SECRET: &str = "native-bench-secret-0123456789abcdef0123456789";

fn vars(name: &str) -> Option<String> {
    match name {
        "token_hs256_secret" => Some(SECRET.into()),
        "discovery_requires_auth" => Some("false".into()),
        _ => None,
    }
}

struct Engine<'a> {
    service: Service,
    store: &'a Counting<MemStore>,
    token: String,
    catalog: Box<dyn Fn() -> Result<String, String>>,
}

impl Engine<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let req = Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {}", self.token)),
                ("content-type".into(), "application/scim+json".into()),
            ],
            body: body
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
            base_url: "http://127.0.0.1/api/scim/v2".into(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let out = self.service.handle(
            &req,
            &Env {
                store: self.store,
                now,
                fetcher: &NoFetch,
                catalog_source: &*self.catalog,
            },
        );
        let v = serde_json::from_slice(&out.response.body).unwrap_or(Value::Null);
        (out.response.status, v)
    }
}

fn id(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Runs the native profile at `n` users; returns the printed section.
pub fn run(n: usize, per_scenario: Duration, only: Option<&[String]>) -> Result<String, String> {
    let store = Counting::new(MemStore::new());
    let token = scim::auth::mint_hs256(
        SECRET,
        &scim::auth::DevClaims {
            scopes: vec!["scim.read".into(), "scim.write".into()],
            client_id: Some("scim-bench".into()),
            ttl_secs: 6 * 3600,
            ..Default::default()
        },
    )?;
    let cfg = Config::from_vars(&vars)?;
    let e = Engine {
        service: Service::new(cfg),
        store: &store,
        token,
        catalog: Box::new(|| std::fs::read_to_string("roles.json").map_err(|e| e.to_string())),
    };
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (s, v) = e.call(
            "POST",
            "/Users",
            Some(&user_body(
                &user_name(i),
                &external_id(i),
                &format!("User{i} Bench"),
            )),
        );
        if s != 201 {
            return Err(format!("native POST /Users: {s} {v}"));
        }
        ids.push(id(&v));
    }
    let preload = t.elapsed();
    let (_, g) = e.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": [GROUP], "displayName": "bench-big"})),
    );
    let gid = id(&g);
    let members = n.min(BIG_GROUP);
    for batch in ids[..members].chunks(crate::scenarios::MEMBER_BATCH) {
        let value: Vec<Value> = batch.iter().map(|id| json!({"value": id})).collect();
        e.call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": value}]})),
        );
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Native engine profile (N = {n}, no wasm, no HTTP, in-memory store; preload {:.0} µs/user): \
         engine time and key-value traffic per request",
        preload.as_secs_f64() * 1e6 / n as f64
    );
    let w = 38;
    let _ = writeln!(
        out,
        "{:<w$} | {:>9} {:>9} {:>9} {:>10} {:>9} {:>10}",
        "scenario", "µs/req", "kv calls", "kv reads", "KiB read", "kv writes", "KiB written"
    );
    // The per-request setup of the component: configuration and Service.
    {
        let t = Instant::now();
        let mut k = 0u64;
        while t.elapsed() < per_scenario / 2 {
            let cfg = Config::from_vars(&vars)?;
            std::hint::black_box(Service::new(cfg));
            k += 1;
        }
        let _ = writeln!(
            out,
            "{:<w$} | {:>9.1} {:>9} {:>9} {:>10} {:>9} {:>10}",
            "(setup: Config + Service::new)",
            t.elapsed().as_secs_f64() * 1e6 / k as f64,
            "-",
            "-",
            "-",
            "-",
            "-"
        );
    }
    let mut rng = crate::load::Rng::new(42);
    let mut created: Vec<String> = Vec::new();
    let (mut next_member, mut next_delete) = (0usize, 0usize);
    for s in Scenario::ALL {
        if s == Scenario::FullRead || only.is_some_and(|o| !o.iter().any(|k| k == s.key())) {
            continue;
        }
        let last_cursor = match s {
            Scenario::CursorLast => crate::scenarios::last_page_cursor(n, |q| {
                let (status, v) = e.call("GET", &format!("/Users?{q}"), None);
                (status == 200)
                    .then_some(v)
                    .ok_or(format!("GET /Users?{q}: {status}"))
            })?,
            _ => String::new(),
        };
        let before = snapshot(store.traffic());
        let families_before = store.reads_by_family();
        let t = Instant::now();
        let mut k = 0u64;
        let mut failed = None;
        while t.elapsed() < per_scenario && k < 100_000 {
            let i = rng.below(n);
            let (status, v) = match s {
                Scenario::Empty => e.call("GET", "/ServiceProviderConfig", None),
                Scenario::GetUser => e.call("GET", &format!("/Users/{}", ids[i]), None),
                Scenario::FilterUserName => e.call(
                    "GET",
                    &format!(
                        "/Users?filter={}",
                        crate::http::encode(&format!("userName eq \"{}\"", user_name(i)))
                    ),
                    None,
                ),
                Scenario::FilterExternalId => e.call(
                    "GET",
                    &format!(
                        "/Users?filter={}",
                        crate::http::encode(&format!("externalId eq \"{}\"", external_id(i)))
                    ),
                    None,
                ),
                Scenario::ListFirst => e.call("GET", "/Users?startIndex=1&count=100", None),
                Scenario::ListLast => e.call(
                    "GET",
                    &format!("/Users?startIndex={}&count=100", n - 100),
                    None,
                ),
                Scenario::CursorFirst => e.call("GET", "/Users?cursor=&count=100", None),
                Scenario::CursorLast => e.call(
                    "GET",
                    &format!("/Users?cursor={last_cursor}&count=100"),
                    None,
                ),
                Scenario::FullRead => unreachable!(),
                Scenario::Post => {
                    let name = format!("native{k}@bench.example");
                    let r = e.call(
                        "POST",
                        "/Users",
                        Some(&user_body(
                            &name,
                            &format!("native-ext-{k}"),
                            "Native Bench",
                        )),
                    );
                    created.push(id(&r.1));
                    r
                }
                Scenario::Put => {
                    let mut b =
                        user_body(&user_name(i), &external_id(i), &format!("User{i} Put{k}"));
                    b["id"] = json!(ids[i]);
                    e.call("PUT", &format!("/Users/{}", ids[i]), Some(&b))
                }
                Scenario::PatchUser => e.call(
                    "PATCH",
                    &format!("/Users/{}", ids[i]),
                    Some(&json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": format!("Patched {k}")}
                    ]})),
                ),
                Scenario::PatchGroupAdd => {
                    // Users the group does not hold: created ones, then
                    // preloaded ones beyond the first 10,000.
                    let j = next_member;
                    let uid = if j < created.len() {
                        created[j].clone()
                    } else {
                        match ids.get(members + j - created.len()) {
                            Some(u) => u.clone(),
                            None => break,
                        }
                    };
                    next_member += 1;
                    e.call(
                        "PATCH",
                        &format!("/Groups/{gid}"),
                        Some(&json!({"schemas": [PATCH_OP], "Operations": [
                            {"op": "add", "path": "members", "value": [{"value": uid}]}
                        ]})),
                    )
                }
                Scenario::Delete => {
                    let Some(uid) = created.get(next_delete) else {
                        break;
                    };
                    next_delete += 1;
                    e.call("DELETE", &format!("/Users/{uid}"), None)
                }
            };
            k += 1;
            if !(200..300).contains(&status) && failed.is_none() {
                failed = Some(format!(
                    "{status} {}",
                    v.to_string().chars().take(200).collect::<String>()
                ));
            }
        }
        let elapsed = t.elapsed();
        let after = snapshot(store.traffic());
        let per = |i: usize| (after[i] - before[i]) as f64 / k.max(1) as f64;
        let _ = writeln!(
            out,
            "{:<w$} | {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>9.1} {:>10.1}{}",
            s.label(),
            elapsed.as_secs_f64() * 1e6 / k.max(1) as f64,
            per(0),
            per(1),
            per(2) / 1024.0,
            per(3),
            per(4) / 1024.0,
            failed
                .map(|f| format!("  [failed: {f}]"))
                .unwrap_or_default()
        );
        // Where the bytes read come from, largest first.
        let mut fams: Vec<(String, f64, f64)> = store
            .reads_by_family()
            .iter()
            .map(|(f, (c, b))| {
                let (c0, b0) = families_before.get(f).copied().unwrap_or_default();
                let k = k.max(1) as f64;
                (f.clone(), (c - c0) as f64 / k, (b - b0) as f64 / k)
            })
            .filter(|(_, c, _)| *c > 0.0)
            .collect();
        fams.sort_by(|a, b| b.2.total_cmp(&a.2));
        if !fams.is_empty() {
            let list: Vec<String> = fams
                .iter()
                .take(5)
                .map(|(f, c, b)| format!("{f} {c:.1}x {:.1} KiB", b / 1024.0))
                .collect();
            let _ = writeln!(out, "{:<w$} |   reads by key: {}", "", list.join(", "));
        }
    }
    Ok(out)
}
