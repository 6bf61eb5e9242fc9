//! The audit trail over HTTP, on the real .wasm in the local host: the
//! auditor's view (its own scope, a time filter, the trace id), the switch,
//! and the write order under `kill -9`: hosts killed at random moments
//! while clients write, then restarted on the same store, never show a
//! change without its event (issue 19).

use e2e::{create, enc, id_of, token_with, Host, Resp, Rng, BASE};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const AUDIT_URN: &str = "urn:spin-scim:params:scim:schemas:AuditEvent";
const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn auditor() -> String {
    token_with(&["scim.audit"], None)
}

fn as_auditor(host: &Host, path: &str) -> Resp {
    let bearer = format!("Bearer {}", auditor());
    host.request("GET", path, &[("authorization", &bearer)], None)
}

/// Every event, oldest first, page by page.
fn all_events(host: &Host) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let r = as_auditor(
            host,
            &format!(
                "/AuditEvents?sortBy=meta.created&count=1000&startIndex={}",
                out.len() + 1
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let page = v["Resources"].as_array().cloned().unwrap_or_default();
        let total = v["totalResults"].as_u64().unwrap() as usize;
        out.extend(page);
        if out.len() >= total {
            return out;
        }
    }
}

#[test]
fn an_auditor_reads_who_changed_what_and_when() {
    let host = Host::start();
    let before = now_rfc3339();
    let body =
        serde_json::to_vec(&json!({"userName": "audited@example.com", "password": "Pa55-word"}))
            .unwrap();
    let r = host.request(
        "POST",
        "/Users",
        &[
            ("content-type", "application/scim+json"),
            ("traceparent", TRACE),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let uid = id_of(&r.json());
    // The read and write scopes do not grant the trail.
    assert_eq!(host.get("/AuditEvents").status, 403);
    let filter = enc(&format!(
        "meta.created ge \"{before}\" and resourceId eq \"{uid}\""
    ));
    let r = as_auditor(&host, &format!("/AuditEvents?filter={filter}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["totalResults"], 1, "{v}");
    let e = &v["Resources"][0];
    assert_eq!(e["schemas"], json!([AUDIT_URN]));
    assert_eq!(
        (
            e["operation"].as_str(),
            e["resourceType"].as_str(),
            e["clientId"].as_str()
        ),
        (Some("create"), Some("User"), Some("e2e"))
    );
    assert_eq!(e["requestId"], TRACE);
    let text = e.to_string();
    assert!(
        !text.contains("audited@example.com") && !text.contains("Pa55"),
        "{text}"
    );
    let id = e["id"].as_str().unwrap();
    assert_eq!(as_auditor(&host, &format!("/AuditEvents/{id}")).json(), *e);
    // Declared in discovery; read-only.
    let types = host.get("/ResourceTypes").json();
    assert!(types["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["endpoint"] == "/AuditEvents"));
    assert_eq!(host.get(&format!("/Schemas/{AUDIT_URN}")).status, 200);
    let bearer = format!("Bearer {}", auditor());
    let r = host.request(
        "DELETE",
        &format!("/AuditEvents/{id}"),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 405);
}

#[test]
fn audit_enabled_false_records_nothing() {
    let host = Host::start_with(&[("SPIN_VARIABLE_AUDIT_ENABLED", "false")]);
    create(&host, "/Users", json!({"userName": "quiet@example.com"}));
    assert!(all_events(&host).is_empty());
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// ---- kill -9 under a write load -----------------------------------------

/// One request that may find the host gone: `None` then.
fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/scim+json"),
    ];
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let target = format!("{BASE}{path}");
    let r = e2e::try_request(
        addr,
        method,
        &target,
        &headers,
        bytes.as_deref(),
        Duration::from_secs(20),
    )
    .ok()?;
    Some((
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    ))
}

/// What one client does until the host is gone: create users, change
/// them, move them in and out of the shared group, delete some.
fn client_load(addr: String, token: String, gid: String, seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = Rng(seed | 1);
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let step = rng.below(6);
        let r = match (step, mine.len()) {
            (0, _) | (_, 0) => {
                let body = json!({"userName": format!("load-{seed}-{n}@example.com")});
                let r = try_request(&addr, "POST", "/Users", &token, Some(&body));
                if let Some((201, v)) = &r {
                    mine.push(v["id"].as_str().unwrap().to_string());
                }
                r
            }
            (1, k) => {
                let uid = &mine[rng.below(k as u64) as usize];
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": format!("t{n}")}]});
                try_request(
                    &addr,
                    "PATCH",
                    &format!("/Users/{uid}"),
                    &token,
                    Some(&body),
                )
            }
            (2 | 3, k) => {
                let uid = &mine[rng.below(k as u64) as usize];
                let op = if step == 2 {
                    json!({"op": "add", "path": "members", "value": [{"value": uid}]})
                } else {
                    json!({"op": "remove", "path": format!("members[value eq \"{uid}\"]")})
                };
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
                try_request(
                    &addr,
                    "PATCH",
                    &format!("/Groups/{gid}"),
                    &token,
                    Some(&body),
                )
            }
            (4, k) => {
                let uid = mine.swap_remove(rng.below(k as u64) as usize);
                try_request(&addr, "DELETE", &format!("/Users/{uid}"), &token, None)
            }
            (_, k) => {
                let a = &mine[rng.below(k as u64) as usize];
                let b = &mine[rng.below(k as u64) as usize];
                let body = json!({"displayName": "audited-group", "members": [{"value": a}, {"value": b}]});
                try_request(&addr, "PUT", &format!("/Groups/{gid}"), &token, Some(&body))
            }
        };
        if r.is_none() {
            return; // the host is gone
        }
    }
}

/// The store against the events: every user's current version has its
/// event; every deleted user with events has its delete event; every
/// member of the group was added by an event.
fn check_trail(host: &Host, gid: &str, round: usize, seed: u64) {
    let events = all_events(host);
    let label = format!("round {round}, seed {seed:#x}");
    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut deleted: BTreeSet<&str> = BTreeSet::new();
    let mut ever_added: BTreeSet<&str> = BTreeSet::new();
    for e in &events {
        let rid = e["resourceId"].as_str().unwrap();
        if let Some(v) = e["versionAfter"].as_str() {
            versions.entry(rid).or_default().insert(v);
        }
        if e["operation"] == "delete" {
            deleted.insert(rid);
        }
        if rid == gid {
            ever_added.extend(
                e["membersAdded"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| m.as_str().unwrap()),
            );
        }
    }
    let mut start = 1;
    loop {
        let v = host
            .get(&format!("/Users?count=1000&startIndex={start}"))
            .json();
        let page = v["Resources"].as_array().cloned().unwrap_or_default();
        for u in &page {
            let id = u["id"].as_str().unwrap();
            let version = u["meta"]["version"].as_str().unwrap();
            assert!(
                versions.get(id).is_some_and(|vs| vs.contains(version)),
                "{label}: user {id} at {version} has no event"
            );
            assert!(
                !deleted.contains(id),
                "{label}: user {id} exists but its delete is shown"
            );
        }
        start += page.len();
        if page.is_empty() || start > v["totalResults"].as_u64().unwrap() as usize {
            break;
        }
    }
    for id in &deleted {
        if versions.contains_key(id) && *id != gid {
            assert_eq!(
                host.get(&format!("/Users/{id}")).status,
                404,
                "{label}: deleted {id} is back"
            );
        }
    }
    let group = host.get(&format!("/Groups/{gid}")).json();
    for m in group["members"].as_array().into_iter().flatten() {
        let m = m["value"].as_str().unwrap();
        let about: Vec<&Value> = events
            .iter()
            .filter(|e| e.to_string().contains(m))
            .collect();
        assert!(
            ever_added.contains(m),
            "{label}: member {m} without an event adding it; its events: {about:#?}"
        );
    }
}

#[test]
fn killing_the_host_under_a_write_load_never_leaves_a_change_without_its_event() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Rng(seed | 1);
    let dir = std::env::temp_dir().join(format!("spin-scim-audit-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let writer = token_with(&["scim.read", "scim.write"], None);
    let gid = {
        let host = Host::start_on(&dir, &[]);
        id_of(&create(
            &host,
            "/Groups",
            json!({"displayName": "audited-group"}),
        ))
    };
    for round in 0..4 {
        let host = Host::start_on(&dir, &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (addr, token, gid, stop) =
                    (host.addr.clone(), writer.clone(), gid.clone(), stop.clone());
                let s = rng.next_u64() ^ c;
                std::thread::spawn(move || client_load(addr, token, gid, s, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        drop(host); // SIGKILL to the host's process group
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let host = Host::start_on(&dir, &[]);
        check_trail(&host, &gid, round, seed);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
