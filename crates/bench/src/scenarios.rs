//! The data set (N users, one group of up to 10,000 members, ten small
//! groups) and the scenarios measured against every server.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::{encode, Conn, Req, Target};
use crate::load::{self, Plan, Stats};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Members of the big group (at most N).
pub const BIG_GROUP: usize = 10_000;
/// Members added per PATCH while preloading.
pub const MEMBER_BATCH: usize = 500;
const SMALL_GROUPS: usize = 10;
const SMALL_GROUP_MEMBERS: usize = 100;
/// Page size of the list scenarios and of the full read.
pub const PAGE: usize = 100;

pub fn user_name(i: usize) -> String {
    format!("user{i}@bench.example")
}

pub fn external_id(i: usize) -> String {
    format!("ext-{i}")
}

/// A typical provisioned user (what an IdP sends).
pub fn user_body(user_name: &str, external_id: &str, display: &str) -> Value {
    let (given, family) = display.split_once(' ').unwrap_or((display, "Bench"));
    json!({
        "schemas": [USER],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": given, "familyName": family},
        "displayName": display,
        "active": true,
        "emails": [{"value": user_name, "type": "work", "primary": true}],
    })
}

fn check(r: std::io::Result<crate::http::Resp>, what: &str) -> Result<Value, String> {
    match r {
        Ok(resp) if (200..300).contains(&resp.status) => Ok(resp.json().unwrap_or(Value::Null)),
        Ok(resp) => Err(format!(
            "{what}: HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(300)
                .collect::<String>()
        )),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

/// POST /Users (unmeasured: preload and top-ups); the new id.
fn create_user(conn: &mut Conn, body: &Value) -> Result<String, String> {
    let v = check(
        conn.send(&Req::json("POST", "/Users", body), true),
        "POST /Users",
    )?;
    id_of(&v).ok_or_else(|| "POST /Users: no id in the response".to_string())
}

/// The preloaded data of one server, and the pools the write scenarios
/// draw from.
pub struct World {
    pub n: usize,
    /// Preloaded users, by index (`user{i}@bench.example`, `ext-{i}`).
    pub ids: Vec<String>,
    pub group_id: String,
    /// The users the point scenarios (GET, filters, PUT, PATCH of a user)
    /// pick from: members of the big group and of no small group, so that
    /// a request does the same work at every N (at 1,000 users every user
    /// is in the big group and most in a small one; at 100,000 most users
    /// are in neither) and the scale law compares like with like.
    pub probe: Vec<usize>,
    /// Users created by the POST scenario, in order.
    pub created: Mutex<Vec<String>>,
    next_member: AtomicUsize,
    next_delete: AtomicUsize,
    post_seq: AtomicUsize,
    edit_seq: AtomicUsize,
    /// Preload timings.
    pub preload_users: Duration,
    pub preload_groups: Duration,
}

/// The preloaded user `i`, as every preload creates it.
pub fn preload_user(i: usize) -> Value {
    user_body(&user_name(i), &external_id(i), &format!("User{i} Bench"))
}

/// Creates N users and the groups, with `concurrency` connections.
pub fn preload(target: &Target, n: usize, concurrency: usize) -> Result<World, String> {
    let slots: Mutex<Vec<String>> = Mutex::new(vec![String::new(); n]);
    let job = |conn: &mut Conn, i: usize| -> Result<(), String> {
        slots.lock().expect("slots")[i] = create_user(conn, &preload_user(i))?;
        Ok(())
    };
    let (preload_users, errors) = load::run_jobs(target, concurrency, n, &job);
    if let Some(e) = errors.first() {
        return Err(format!("preloading users: {e}"));
    }
    let ids = slots.into_inner().expect("slots");
    preload_groups(target, ids, preload_users)
}

/// Creates the groups over users already there (`ids`, by index: user
/// `i` is [`preload_user`]`(i)`), which took `preload_users`, and checks
/// that every user is listed.
pub fn preload_groups(
    target: &Target,
    ids: Vec<String>,
    preload_users: Duration,
) -> Result<World, String> {
    let n = ids.len();
    let start = Instant::now();
    let mut conn = Conn::new(target);
    let big = json!({"schemas": [GROUP], "displayName": "bench-big"});
    let group_id = id_of(&check(
        conn.send(&Req::json("POST", "/Groups", &big), true),
        "POST /Groups",
    )?)
    .ok_or("POST /Groups: no id")?;
    for batch in big_group_indices(n)
        .map(|i| ids[i].clone())
        .collect::<Vec<_>>()
        .chunks(MEMBER_BATCH)
    {
        let members: Vec<Value> = batch.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": members}
        ]});
        check(
            conn.send(
                &Req::json("PATCH", format!("/Groups/{group_id}"), &body),
                true,
            ),
            "PATCH /Groups (preload members)",
        )?;
    }
    let mut in_small = HashSet::new();
    for g in 0..SMALL_GROUPS {
        let members: Vec<Value> = (0..SMALL_GROUP_MEMBERS.min(n))
            .map(|j| (g * 997 + j * 31) % n)
            .inspect(|i| {
                in_small.insert(*i);
            })
            .map(|i| json!({"value": ids[i]}))
            .collect();
        let body = json!({"schemas": [GROUP], "displayName": format!("bench-small-{g}"), "members": members});
        check(
            conn.send(&Req::json("POST", "/Groups", &body), true),
            "POST /Groups (small)",
        )?;
    }
    // The preload is complete: every user is listed.
    let v = check(
        conn.send(&Req::get("/Users?count=1"), true),
        "GET /Users?count=1",
    )?;
    let total = v.get("totalResults").and_then(Value::as_u64).unwrap_or(0);
    if total != n as u64 {
        return Err(format!(
            "after the preload, totalResults is {total}, not {n}"
        ));
    }
    let mut probe: Vec<usize> = big_group_indices(n)
        .filter(|i| !in_small.contains(i))
        .collect();
    if probe.is_empty() {
        probe = (0..n).collect();
    }
    Ok(World {
        n,
        ids,
        group_id,
        probe,
        created: Mutex::new(Vec::new()),
        next_member: AtomicUsize::new(0),
        next_delete: AtomicUsize::new(0),
        post_seq: AtomicUsize::new(0),
        edit_seq: AtomicUsize::new(0),
        preload_users,
        preload_groups: start.elapsed(),
    })
}

/// The scenarios, in the order they run (reads first; the full paged read
/// runs after the list pages, before any write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// GET /ServiceProviderConfig without a token: the near-empty request.
    Empty,
    GetUser,
    FilterUserName,
    FilterExternalId,
    ListFirst,
    ListLast,
    /// RFC 9865 cursor paging: the first page (`cursor=`).
    CursorFirst,
    /// The last page, by the cursor a walk to it was given.
    CursorLast,
    FullRead,
    Post,
    Put,
    PatchUser,
    PatchGroupAdd,
    Delete,
}

impl Scenario {
    pub const ALL: [Scenario; 14] = [
        Scenario::Empty,
        Scenario::GetUser,
        Scenario::FilterUserName,
        Scenario::FilterExternalId,
        Scenario::ListFirst,
        Scenario::ListLast,
        Scenario::CursorFirst,
        Scenario::CursorLast,
        Scenario::FullRead,
        Scenario::Post,
        Scenario::Put,
        Scenario::PatchUser,
        Scenario::PatchGroupAdd,
        Scenario::Delete,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Scenario::Empty => "near_empty",
            Scenario::GetUser => "get_user",
            Scenario::FilterUserName => "filter_username",
            Scenario::FilterExternalId => "filter_externalid",
            Scenario::ListFirst => "list_first_page",
            Scenario::ListLast => "list_last_page",
            Scenario::CursorFirst => "cursor_first_page",
            Scenario::CursorLast => "cursor_last_page",
            Scenario::FullRead => "full_paged_read",
            Scenario::Post => "post_user",
            Scenario::Put => "put_user",
            Scenario::PatchUser => "patch_user_replace",
            Scenario::PatchGroupAdd => "patch_group_add_member",
            Scenario::Delete => "delete_user",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Empty => "GET /ServiceProviderConfig (near-empty)",
            Scenario::GetUser => "GET /Users/{id}",
            Scenario::FilterUserName => "filter userName eq",
            Scenario::FilterExternalId => "filter externalId eq",
            Scenario::ListFirst => "list page (start, 100)",
            Scenario::ListLast => "list page (startIndex=N-100)",
            Scenario::CursorFirst => "cursor page (cursor=, 100)",
            Scenario::CursorLast => "cursor page (last 100, by cursor)",
            Scenario::FullRead => "full paged read, count=100",
            Scenario::Post => "POST /Users",
            Scenario::Put => "PUT /Users/{id}",
            Scenario::PatchUser => "PATCH replace on a user",
            Scenario::PatchGroupAdd => "PATCH add 1 member, big group",
            Scenario::Delete => "DELETE /Users/{id}",
        }
    }

    /// Point operations and indexed lookups: independent of N (scale law).
    pub fn is_point(self) -> bool {
        matches!(
            self,
            Scenario::GetUser
                | Scenario::FilterUserName
                | Scenario::FilterExternalId
                | Scenario::Post
                | Scenario::Put
                | Scenario::PatchUser
                | Scenario::PatchGroupAdd
                | Scenario::Delete
        )
    }
}

/// The result of one scenario on one server.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub stats: Stats,
    /// Full paged read only: total time, pages, users seen.
    pub full: Option<FullRead>,
    /// Why there is no number, or what to know about it.
    pub note: Option<String>,
    /// Time inside the component, from its request log (ours only): its
    /// `duration_ms`, from the start of its handler to the response,
    /// excluding instantiation and the host's HTTP handling.
    pub guest: Option<LogTimes>,
    /// Per-request instance setup (store, WASI context, instantiation),
    /// from the host's request log (`instantiate_ms`; ours only).
    pub instance: Option<LogTimes>,
}

/// Where the host under test writes its request logs: the component's
/// lines (its stderr) and the host's own access lines (its stdout).
pub struct Logs {
    pub guest: PathBuf,
    pub access: PathBuf,
}

/// One duration field of the successful (2xx) request log lines written
/// over the measured period.
#[derive(Debug, Clone)]
pub struct LogTimes {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

/// Where a log file ends now.
pub fn log_offset(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// Reads the `field` (milliseconds) of the request log lines of `log`
/// between two offsets.
pub fn log_times(log: &Path, from: u64, to: u64, field: &str) -> Option<LogTimes> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    f.take(to.saturating_sub(from)).read_to_end(&mut buf).ok()?;
    let mut ms: Vec<f64> = String::from_utf8_lossy(&buf)
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v.get("status")
                .and_then(Value::as_u64)
                .is_some_and(|s| (200..300).contains(&s))
        })
        .filter_map(|v| v.get(field).and_then(Value::as_f64))
        .collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[(((ms.len() - 1) as f64) * p).round() as usize];
    Some(LogTimes {
        count: ms.len(),
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
    })
}

impl Outcome {
    /// Whether the scenario produced a number worth comparing.
    pub fn usable(&self) -> bool {
        match &self.full {
            Some(f) => f.complete,
            None => self.stats.ok > 0 && self.stats.errors * 100 <= self.stats.ok,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FullRead {
    pub total: Duration,
    pub pages: usize,
    pub users: usize,
    pub distinct: usize,
    pub complete: bool,
}

/// The cursor (RFC 9865) of the page holding the last [`PAGE`] of `n`
/// users, found by walking there with pages of up to 1,000; `get` sends a
/// `GET /Users?…` query and answers its JSON. An error when the server
/// gives no `nextCursor` (no cursor paging).
pub fn last_page_cursor(
    n: usize,
    mut get: impl FnMut(&str) -> Result<Value, String>,
) -> Result<String, String> {
    let (mut cursor, mut at) = (String::new(), 0);
    while at + PAGE < n {
        let step = (n - PAGE - at).min(1000);
        let page = get(&format!("cursor={cursor}&count={step}"))?;
        cursor = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .ok_or("no nextCursor: the server does not page by cursor (RFC 9865)")?
            .to_string();
        at += step;
    }
    Ok(cursor)
}

/// Reads every user, 100 per page, on one connection, up to `max` long.
fn full_read(target: &Target, world: &World, max: Duration) -> Outcome {
    let mut conn = Conn::new(target);
    let mut lat = Vec::new();
    let mut seen = HashSet::with_capacity(world.n);
    let (mut users, mut pages, mut errors) = (0usize, 0usize, 0u64);
    let mut first_error = None;
    let mut total_results = world.n;
    let start = Instant::now();
    let mut index = 1;
    let mut complete = false;
    while start.elapsed() < max {
        let req = Req::get(format!("/Users?startIndex={index}&count={PAGE}"));
        let t0 = Instant::now();
        let r = conn.send(&req, true);
        let dt = t0.elapsed();
        let page = match r {
            Ok(resp) if resp.status == 200 => resp.json(),
            Ok(resp) => {
                first_error = Some(format!("HTTP {}", resp.status));
                None
            }
            Err(e) => {
                first_error = Some(e.to_string());
                None
            }
        };
        let Some(page) = page else {
            errors += 1;
            break;
        };
        lat.push(dt.as_micros().min(u32::MAX as u128) as u32);
        pages += 1;
        if let Some(t) = page.get("totalResults").and_then(Value::as_u64) {
            total_results = t as usize;
        }
        let items = page
            .get("Resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for r in items {
            if let Some(id) = r.get("id").and_then(Value::as_str) {
                seen.insert(id.to_string());
            }
        }
        users += items.len();
        index += PAGE;
        if items.is_empty() || index > total_results {
            complete = true;
            break;
        }
    }
    let total = start.elapsed();
    lat.sort_unstable();
    let note = if !complete && errors == 0 {
        Some(format!(
            "not finished within {:.0} s: {users} of {} users in {pages} pages",
            max.as_secs_f64(),
            world.n
        ))
    } else if seen.len() != world.n {
        Some(format!("saw {} distinct users of {}", seen.len(), world.n))
    } else {
        None
    };
    Outcome {
        scenario: Scenario::FullRead,
        stats: Stats {
            ok: pages as u64,
            errors,
            elapsed: total,
            lat_us: lat,
            first_error,
            exhausted: false,
            connects_per_req: 0.0,
        },
        full: Some(FullRead {
            total,
            pages,
            users,
            distinct: seen.len(),
            complete: complete && errors == 0,
        }),
        note,
        guest: None,
        instance: None,
    }
}

/// A user the big group does not hold yet: one created by the POST
/// scenario, else a preloaded user beyond the first 10,000.
fn next_non_member(world: &World) -> Option<String> {
    let k = world.next_member.fetch_add(1, Ordering::Relaxed);
    let created = world.created.lock().expect("created");
    if k < created.len() {
        return Some(created[k].clone());
    }
    let outside = outside_big_group(world.n);
    let j = outside.start + (k - created.len());
    outside.contains(&j).then(|| world.ids[j].clone())
}

/// Users to delete: those created by POST first, then preloaded users from
/// the end.
fn next_to_delete(world: &World) -> Option<String> {
    let k = world.next_delete.fetch_add(1, Ordering::Relaxed);
    let created = world.created.lock().expect("created");
    if k < created.len() {
        return Some(created[k].clone());
    }
    let back = k - created.len();
    (back < world.n).then(|| world.ids[world.n - 1 - back].clone())
}

/// Before the PATCH-add scenario: users not yet in the big group, created
/// (unmeasured) until there are twice as many as the POST scenario made in
/// its period, so a server as fast at PATCH as at POST, or twice as fast,
/// does not run out of users to add before the period ends. They join
/// `created`, which the DELETE scenario draws from next.
fn top_up_non_members(target: &Target, world: &World, concurrency: usize) -> Result<(), String> {
    let made = world.created.lock().expect("created").len();
    let used = world.next_member.load(Ordering::Relaxed);
    let available = (made + outside_big_group(world.n).len()).saturating_sub(used);
    let missing = (2 * made).saturating_sub(available);
    if missing == 0 {
        return Ok(());
    }
    let tag = std::process::id();
    let job = |conn: &mut Conn, k: usize| -> Result<(), String> {
        let name = format!("extra{k}-{tag}@bench.example");
        let body = user_body(&name, &format!("extra-ext-{k}"), &format!("Extra{k} Bench"));
        let id = create_user(conn, &body)?;
        world.created.lock().expect("created").push(id);
        Ok(())
    };
    let (_, errors) = load::run_jobs(target, concurrency, missing, &job);
    match errors.first() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

/// The preloaded users (by index) in the big group: all of them up to
/// [`BIG_GROUP`] users; beyond, the first and the last [`BIG_GROUP`]/2, so
/// the list pages at the start and at the end hold members at every N (the
/// scale law compares the same kind of page).
fn big_group_indices(n: usize) -> impl Iterator<Item = usize> {
    let outside = outside_big_group(n);
    (0..outside.start).chain(outside.end..n)
}

/// The preloaded users (by index) not in the big group: those between its
/// two halves (none up to [`BIG_GROUP`] users).
fn outside_big_group(n: usize) -> std::ops::Range<usize> {
    let members = n.min(BIG_GROUP);
    let head = members.div_ceil(2);
    head..n - (members - head)
}

/// Runs one scenario against a server holding `world`.
pub fn run(
    scenario: Scenario,
    target: &Target,
    world: &World,
    plan: Plan,
    full_read_max: Duration,
    logs: Option<&Logs>,
) -> Outcome {
    let from = Mutex::new((0u64, 0u64));
    let mark = || {
        if let Some(l) = logs {
            *from.lock().expect("offsets") = (log_offset(&l.guest), log_offset(&l.access));
        }
    };
    let mut outcome = run_scenario(scenario, target, world, plan, full_read_max, &mark);
    if let Some(l) = logs {
        // Let the last lines reach the files.
        std::thread::sleep(Duration::from_millis(50));
        let (guest, access) = *from.lock().expect("offsets");
        outcome.guest = log_times(&l.guest, guest, log_offset(&l.guest), "duration_ms");
        outcome.instance = log_times(&l.access, access, log_offset(&l.access), "instantiate_ms");
    }
    outcome
}

fn run_scenario(
    scenario: Scenario,
    target: &Target,
    world: &World,
    plan: Plan,
    full_read_max: Duration,
    mark: &(dyn Fn() + Sync),
) -> Outcome {
    if scenario == Scenario::FullRead {
        mark();
        return full_read(target, world, full_read_max);
    }
    if scenario == Scenario::PatchGroupAdd {
        if let Err(e) = top_up_non_members(target, world, plan.concurrency) {
            eprintln!("scim-bench: could not create more users to add: {e}");
        }
    }
    let n = world.n;
    let mut last_cursor = String::new();
    if scenario == Scenario::CursorLast {
        let mut conn = Conn::new(target);
        let found = last_page_cursor(n, |q| {
            check(
                conn.send(&Req::get(format!("/Users?{q}")), true),
                "GET /Users?cursor=…",
            )
        });
        match found {
            Ok(c) => last_cursor = c,
            Err(e) => return not_measured(scenario, e),
        }
    }
    let tag = std::process::id();
    let probe = |rng: &mut load::Rng| world.probe[rng.below(world.probe.len())];
    let gen = |rng: &mut load::Rng, _w: usize| -> Option<Req> {
        Some(match scenario {
            Scenario::Empty => Req::get("/ServiceProviderConfig"),
            Scenario::GetUser => Req::get(format!("/Users/{}", world.ids[probe(rng)])),
            Scenario::FilterUserName => Req::get(format!(
                "/Users?filter={}",
                encode(&format!("userName eq \"{}\"", user_name(probe(rng))))
            )),
            Scenario::FilterExternalId => Req::get(format!(
                "/Users?filter={}",
                encode(&format!("externalId eq \"{}\"", external_id(probe(rng))))
            )),
            Scenario::ListFirst => Req::get(format!("/Users?startIndex=1&count={PAGE}")),
            Scenario::ListLast => Req::get(format!(
                "/Users?startIndex={}&count={PAGE}",
                n.saturating_sub(PAGE).max(1)
            )),
            Scenario::CursorFirst => Req::get(format!("/Users?cursor=&count={PAGE}")),
            Scenario::CursorLast => Req::get(format!("/Users?cursor={last_cursor}&count={PAGE}")),
            Scenario::FullRead => unreachable!("handled above"),
            Scenario::Post => {
                let k = world.post_seq.fetch_add(1, Ordering::Relaxed);
                let name = format!("new{k}-{tag}@bench.example");
                Req::json(
                    "POST",
                    "/Users",
                    &user_body(&name, &format!("new-ext-{k}"), &format!("New{k} Bench")),
                )
            }
            Scenario::Put => {
                let i = probe(rng);
                let k = world.edit_seq.fetch_add(1, Ordering::Relaxed);
                let mut body =
                    user_body(&user_name(i), &external_id(i), &format!("User{i} Put{k}"));
                body["id"] = json!(world.ids[i]);
                Req::json("PUT", format!("/Users/{}", world.ids[i]), &body)
            }
            Scenario::PatchUser => {
                let i = probe(rng);
                let k = world.edit_seq.fetch_add(1, Ordering::Relaxed);
                Req::json(
                    "PATCH",
                    format!("/Users/{}", world.ids[i]),
                    &json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": format!("Patched {k}")}
                    ]}),
                )
            }
            Scenario::PatchGroupAdd => {
                let uid = next_non_member(world)?;
                Req::json(
                    "PATCH",
                    format!("/Groups/{}", world.group_id),
                    &json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": uid}]}
                    ]}),
                )
            }
            Scenario::Delete => Req::delete(format!("/Users/{}", next_to_delete(world)?)),
        })
    };
    let on_response = |req: &Req, resp: &crate::http::Resp| {
        if scenario == Scenario::Post && req.method == "POST" {
            if let Some(id) = resp.json().as_ref().and_then(id_of) {
                world.created.lock().expect("created").push(id);
            }
        }
    };
    let auth = scenario != Scenario::Empty;
    let stats = load::run(target, auth, plan, &gen, &on_response, mark);
    let mut notes = Vec::new();
    if stats.exhausted {
        notes.push("ran out of targets before the end of the period".to_string());
    }
    if stats.errors > 0 {
        notes.push(format!(
            "{} failed: {}",
            stats.errors,
            stats.first_error.clone().unwrap_or_default()
        ));
    } else if stats.ok == 0 {
        notes.push(format!(
            "no successful request: {}",
            stats.first_error.clone().unwrap_or_default()
        ));
    }
    Outcome {
        scenario,
        stats,
        full: None,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        guest: None,
        instance: None,
    }
}

/// An outcome with no number, and why.
fn not_measured(scenario: Scenario, why: String) -> Outcome {
    Outcome {
        scenario,
        stats: Stats::default(),
        full: None,
        note: Some(why),
        guest: None,
        instance: None,
    }
}
