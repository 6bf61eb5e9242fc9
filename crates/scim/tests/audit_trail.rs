//! The audit trail (issue 19) through the engine, in-process: an event for
//! every change (and for the memberships a user's delete removes), nothing
//! but names and member ids in it, `/AuditEvents` read-only behind its own
//! scope and per tenant, its filters, order and paging, retention by age,
//! the switch, the cost of an append, and the write order under a crash
//! at every store call of a write sequence.

use scim::api::{Env, Service};
use scim::auth::{mint_hs256, DevClaims};
use scim::config::Config;
use scim::http::Request;
use scim::storage::counting::Counting;
use scim::storage::kv::Store;
use scim::storage::memory::{Dying, Flavor, MemStore};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const SECRET: &str = "audit-tests-secret-0123456789abcdef";
const T0: u64 = 1_800_000_000;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn token(scopes: &[&str], client: &str, tenant: Option<&str>) -> String {
    let claims = DevClaims {
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        client_id: Some(client.into()),
        subject: Some(format!("{client}-sub")),
        tenant: tenant.map(|t| ("zid".to_string(), t.to_string())),
        ttl_secs: 10 * 365 * 86_400,
        issued_at: Some(T0),
        ..Default::default()
    };
    mint_hs256(SECRET, &claims).unwrap()
}

fn config(edit: impl FnOnce(&mut Config)) -> Service {
    let mut cfg = Config::default();
    cfg.auth.hs256_secret = Some(SECRET.into());
    cfg.auth.tenant_claim = Some("zid".into());
    edit(&mut cfg);
    Service::new(cfg)
}

/// One request: status and JSON body.
#[allow(clippy::too_many_arguments)]
fn call(
    svc: &Service,
    store: &dyn Store,
    now: u64,
    token: &str,
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut hs = vec![
        ("authorization".to_string(), format!("Bearer {token}")),
        (
            "content-type".to_string(),
            "application/scim+json".to_string(),
        ),
    ];
    hs.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let req = Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: hs,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        base_url: "https://scim.example/api/scim/v2".into(),
    };
    let catalog = || {
        Ok(r#"{"roles":[{"id":"9b1c0e6e-4f2a-4c55-9d1e-0a1b2c3d4e5f","displayName":"Accountant"}]}"#.to_string())
    };
    let env = Env {
        store,
        now,
        fetcher: &scim::auth::jwks::NoFetcher,
        catalog_source: &catalog,
    };
    let r = svc.handle(&req, &env).response;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// A writer and an auditor of tenant `t1` on one store.
struct Setup<'s> {
    svc: Service,
    store: &'s dyn Store,
    writer: String,
    auditor: String,
}

impl<'s> Setup<'s> {
    fn new(store: &'s dyn Store, svc: Service) -> Setup<'s> {
        Setup {
            svc,
            store,
            writer: token(&["scim.write"], "idp-1", Some("t1")),
            auditor: token(&["scim.audit"], "auditor", Some("t1")),
        }
    }
    fn write(&self, now: u64, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(
            &self.svc,
            self.store,
            now,
            &self.writer,
            method,
            path,
            "",
            body,
            &[("traceparent", TRACE)],
        )
    }
    fn audit(&self, query: &str) -> (u16, Value) {
        call(
            &self.svc,
            self.store,
            T0 + 1000,
            &self.auditor,
            "GET",
            "/AuditEvents",
            query,
            None,
            &[],
        )
    }
    /// Every event, oldest first.
    fn events(&self) -> Vec<Value> {
        let (s, v) = self.audit("sortBy=meta.created&sortOrder=ascending&count=1000");
        assert_eq!(s, 200, "{v}");
        v["Resources"].as_array().cloned().unwrap_or_default()
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "password": "s3cret-Pa55", "name": {"givenName": "Ann"}})
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn every_change_records_one_event_with_names_and_member_ids_only() {
    let store = MemStore::new();
    let s = Setup::new(&store, config(|_| {}));
    let (st, u) = s.write(T0, "POST", "/Users", Some(user("ann@example.com")));
    assert_eq!(st, 201);
    let uid = u["id"].as_str().unwrap().to_string();
    let (_, u2) = s.write(T0, "POST", "/Users", Some(user("bob@example.com")));
    let uid2 = u2["id"].as_str().unwrap().to_string();
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "name.familyName", "value": "Secretname"},
        {"op": "replace", "path": "password", "value": "n3w-Pa55"}]});
    assert_eq!(
        s.write(T0 + 1, "PATCH", &format!("/Users/{uid}"), Some(patch))
            .0,
        200
    );
    let (st, g) = s.write(
        T0 + 2,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Closers",
        "members": [{"value": uid}]})),
    );
    assert_eq!(st, 201);
    let gid = g["id"].as_str().unwrap().to_string();
    // A group PUT: the member ids it really adds and removes.
    let put = json!({"schemas": [GROUP], "displayName": "Closers", "members": [{"value": uid2}]});
    assert_eq!(
        s.write(T0 + 3, "PUT", &format!("/Groups/{gid}"), Some(put))
            .0,
        200
    );
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]});
    s.write(T0 + 4, "PATCH", &format!("/Groups/{gid}"), Some(add));
    // Adding a member twice still moves the group's version: recorded,
    // with no member added.
    let same = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]});
    s.write(T0 + 4, "PATCH", &format!("/Groups/{gid}"), Some(same));
    // Deleting a user removes it from its group: two events.
    assert_eq!(
        s.write(T0 + 5, "DELETE", &format!("/Users/{uid}"), None).0,
        204
    );
    assert_eq!(
        s.write(T0 + 6, "DELETE", &format!("/Groups/{gid}"), None).0,
        204
    );
    // A refused change records nothing.
    assert_eq!(
        s.write(T0 + 6, "POST", "/Users", Some(user("bob@example.com")))
            .0,
        409
    );

    let events = s.events();
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().into(),
                e["resourceType"].as_str().unwrap().into(),
                e["resourceId"].as_str().unwrap().into(),
            )
        })
        .collect();
    let row = |o: &str, t: &str, id: &str| (o.to_string(), t.to_string(), id.to_string());
    assert_eq!(
        summary,
        [
            row("create", "User", &uid),
            row("create", "User", &uid2),
            row("patch", "User", &uid),
            row("create", "Group", &gid),
            row("replace", "Group", &gid),
            row("patch", "Group", &gid),
            row("patch", "Group", &gid),
            row("delete", "User", &uid),
            row("patch", "Group", &gid),
            row("delete", "Group", &gid),
        ]
    );
    let e = &events[2];
    assert_eq!(strs(&e["attributes"]), ["name"]);
    assert_eq!(
        (e["versionBefore"].as_str(), e["versionAfter"].as_str()),
        (Some("W/\"1\""), Some("W/\"2\""))
    );
    assert_eq!(e["clientId"], "idp-1");
    assert_eq!(e["subject"], "idp-1-sub");
    assert_eq!(e["tenant"], "t1");
    assert_eq!(e["requestId"], TRACE);
    assert_eq!(
        e["schemas"][0],
        "urn:spin-scim:params:scim:schemas:AuditEvent"
    );
    assert!(
        e["meta"]["created"].as_str().unwrap().ends_with(".000Z"),
        "{e}"
    );
    assert_eq!(strs(&events[3]["membersAdded"]), [uid.as_str()]);
    assert_eq!(strs(&events[4]["membersAdded"]), [uid2.as_str()]);
    assert_eq!(strs(&events[4]["membersRemoved"]), [uid.as_str()]);
    assert_eq!(strs(&events[5]["membersAdded"]), [uid.as_str()]);
    assert_eq!(events[6]["membersAdded"], Value::Null);
    assert_eq!(strs(&events[8]["membersRemoved"]), [uid.as_str()]);
    assert_eq!(events[8]["causedBy"], events[7]["id"]);
    assert_eq!(strs(&events[9]["membersRemoved"]), [uid2.as_str()]);
    // Names, never values: no user name, family name or password anywhere.
    let all = serde_json::to_string(&events).unwrap();
    for secret in [
        "ann@example.com",
        "Secretname",
        "s3cret",
        "n3w-Pa55",
        "password",
        "Closers",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    // GET by id answers the same event.
    let id = events[7]["id"].as_str().unwrap();
    let (st, one) = call(
        &s.svc,
        &store,
        T0,
        &s.auditor,
        "GET",
        &format!("/AuditEvents/{id}"),
        "",
        None,
        &[],
    );
    assert_eq!(st, 200);
    assert_eq!(one, events[7]);
}

#[test]
fn the_trail_has_its_own_scope_its_own_tenant_and_is_read_only() {
    let store = MemStore::new();
    let s = Setup::new(&store, config(|_| {}));
    s.write(T0, "POST", "/Users", Some(user("a@x")));
    for scopes in [
        vec!["scim.read"],
        vec!["scim.write"],
        vec!["scim.read", "scim.write"],
    ] {
        let t = token(&scopes, "c", Some("t1"));
        let (st, v) = call(&s.svc, &store, T0, &t, "GET", "/AuditEvents", "", None, &[]);
        assert_eq!(st, 403, "{scopes:?}: {v}");
        let (st, _) = call(
            &s.svc,
            &store,
            T0,
            &t,
            "GET",
            "/AuditEvents/1",
            "",
            None,
            &[],
        );
        assert_eq!(st, 403);
    }
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let path = if method == "POST" {
            "/AuditEvents"
        } else {
            "/AuditEvents/1"
        };
        let (st, v) = call(
            &s.svc,
            &store,
            T0,
            &s.auditor,
            method,
            path,
            "",
            Some(json!({})),
            &[],
        );
        assert_eq!(st, 405, "{method}: {v}");
        assert_eq!(
            v["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    assert_eq!(s.events().len(), 1);
    // Another tenant's auditor sees nothing of t1.
    let other = token(&["scim.audit"], "auditor", Some("t2"));
    let (st, v) = call(
        &s.svc,
        &store,
        T0,
        &other,
        "GET",
        "/AuditEvents",
        "",
        None,
        &[],
    );
    assert_eq!((st, v["totalResults"].as_u64()), (200, Some(0)));
    let (st, _) = call(
        &s.svc,
        &store,
        T0,
        &other,
        "GET",
        "/AuditEvents/1",
        "",
        None,
        &[],
    );
    assert_eq!(st, 404);
    // Ids that are no event number are 404s.
    for id in ["0", "01", "x", "-1", "99999999999999999999"] {
        let (st, _) = call(
            &s.svc,
            &store,
            T0,
            &s.auditor,
            "GET",
            &format!("/AuditEvents/{id}"),
            "",
            None,
            &[],
        );
        assert_eq!(st, 404, "{id}");
    }
    // A configured audit scope replaces the default.
    let svc = config(|c| c.auth.audit_scope = "afc.auditor".into());
    let t = token(&["afc.auditor"], "c", Some("t1"));
    assert_eq!(
        call(&svc, &store, T0, &t, "GET", "/AuditEvents", "", None, &[]).0,
        200
    );
    assert_eq!(
        call(
            &svc,
            &store,
            T0,
            &s.auditor,
            "GET",
            "/AuditEvents",
            "",
            None,
            &[]
        )
        .0,
        403
    );
}

#[test]
fn filters_order_and_paging() {
    let store = MemStore::new();
    let s = Setup::new(&store, config(|c| c.scan_max = 50));
    let mut ids = Vec::new();
    // One user created per minute, each patched once by another client.
    let other = token(&["scim.write"], "idp-2", Some("t1"));
    for i in 0..20u64 {
        let (_, u) = s.write(
            T0 + 60 * i,
            "POST",
            "/Users",
            Some(user(&format!("u{i}@x"))),
        );
        let id = u["id"].as_str().unwrap().to_string();
        let p = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
        call(
            &s.svc,
            &store,
            T0 + 60 * i + 30,
            &other,
            "PATCH",
            &format!("/Users/{id}"),
            "",
            Some(p),
            &[],
        );
        ids.push(id);
    }
    let total = |q: &str| {
        let (st, v) = s.audit(q);
        assert_eq!(st, 200, "{q}: {v}");
        v["totalResults"].as_u64().unwrap()
    };
    assert_eq!(total(""), 40);
    let q = |f: &str| format!("filter={}", urlencode(f));
    assert_eq!(total(&q(&format!("resourceId eq \"{}\"", ids[3]))), 2);
    assert_eq!(total(&q("operation eq \"patch\"")), 20);
    assert_eq!(total(&q("clientId eq \"idp-2\"")), 20);
    assert_eq!(total(&q("resourceType eq \"Group\"")), 0);
    let at = |secs: u64| rfc3339(T0 + secs);
    // Minutes 5 to 9: five creates and five patches.
    let window = format!(
        "meta.created ge \"{}\" and meta.created lt \"{}\"",
        at(300),
        at(600)
    );
    assert_eq!(total(&q(&window)), 10);
    let window = format!(
        "meta.created gt \"{}\" and meta.created le \"{}\" and operation eq \"create\"",
        at(300),
        at(600)
    );
    assert_eq!(total(&q(&window)), 5);
    // Order: newest first by default; oldest first on request.
    let (_, v) = s.audit("count=1");
    assert_eq!(v["Resources"][0]["operation"], "patch");
    assert_eq!(v["Resources"][0]["resourceId"], ids[19].as_str());
    let (_, v) = s.audit("count=1&sortBy=meta.created");
    assert_eq!(v["Resources"][0]["resourceId"], ids[0].as_str());
    let (_, v) = s.audit("count=1&sortBy=meta.created&sortOrder=descending");
    assert_eq!(v["Resources"][0]["resourceId"], ids[19].as_str());
    // Paging: startIndex is 1-based; pages do not overlap.
    let (_, p1) = s.audit("sortOrder=ascending&startIndex=1&count=3");
    let (_, p2) = s.audit("sortOrder=ascending&startIndex=4&count=3");
    assert_eq!(
        (p1["itemsPerPage"].as_u64(), p1["totalResults"].as_u64()),
        (Some(3), Some(40))
    );
    assert_eq!(p2["startIndex"], 4);
    assert_eq!(p2["Resources"][0]["resourceId"], ids[1].as_str());
    assert_ne!(p1["Resources"][2]["id"], p2["Resources"][0]["id"]);
    // Projection.
    let (_, v) = s.audit("count=1&attributes=operation");
    let keys: BTreeSet<&str> = v["Resources"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["id", "operation", "schemas"]));
    assert_eq!(s.audit("sortBy=resourceId").0, 400);
    // Past filter_scan_max events in range: 400 tooMany, unless bounded by time.
    for i in 20..31u64 {
        s.write(
            T0 + 60 * i,
            "POST",
            "/Users",
            Some(user(&format!("u{i}@x"))),
        );
    }
    let (st, v) = s.audit("");
    assert_eq!((st, v["scimType"].as_str()), (400, Some("tooMany")), "{v}");
    assert_eq!(total(&q(&format!("meta.created ge \"{}\"", at(1200)))), 11);
}

fn rfc3339(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn retention_drops_old_events_as_new_ones_arrive_and_the_switch_turns_it_off() {
    let store = MemStore::new();
    let s = Setup::new(&store, config(|c| c.audit_retention_days = 10));
    for i in 0..20 {
        s.write(T0, "POST", "/Users", Some(user(&format!("old{i}@x"))));
    }
    let later = T0 + 11 * 86_400;
    for i in 0..24 {
        s.write(later, "POST", "/Users", Some(user(&format!("new{i}@x"))));
    }
    let (_, v) = call(
        &s.svc,
        &store,
        later,
        &s.auditor,
        "GET",
        "/AuditEvents",
        "count=100",
        None,
        &[],
    );
    assert_eq!(v["totalResults"], 24, "old events dropped");
    assert_eq!(
        call(
            &s.svc,
            &store,
            later,
            &s.auditor,
            "GET",
            "/AuditEvents/1",
            "",
            None,
            &[]
        )
        .0,
        404
    );
    let keys = store_keys(&store);
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with("a/e/1") || k.ends_with("a/c/1")),
        "{keys:?}"
    );

    let off = MemStore::new();
    let s = Setup::new(&off, config(|c| c.audit_enabled = false));
    s.write(T0, "POST", "/Users", Some(user("a@x")));
    assert!(s.events().is_empty());
    assert!(!store_keys(&off).iter().any(|k| k.contains("/a/")));
}

fn store_keys(store: &MemStore) -> Vec<String> {
    store.keys()
}

#[test]
fn an_append_costs_a_constant_number_of_store_calls() {
    let calls = |enabled: bool, before: usize| {
        let store = Counting::new(MemStore::new());
        let s = Setup::new(&store, config(|c| c.audit_enabled = enabled));
        for i in 0..before {
            s.write(T0, "POST", "/Users", Some(user(&format!("p{i}@x"))));
        }
        store.reset();
        // Eight creates: one of them looks at the retention tail.
        for i in 0..8 {
            s.write(T0, "POST", "/Users", Some(user(&format!("n{i}@x"))));
        }
        store.traffic().calls
    };
    let extra_small = calls(true, 8) - calls(false, 8);
    let extra_large = calls(true, 400) - calls(false, 400);
    // Per create: an increment (the event is written with the record, in
    // the one call that writes it), and 2 reads on one create in 8.
    assert_eq!(
        extra_small,
        8 + 2,
        "store calls the trail adds to 8 creates"
    );
    assert_eq!(
        extra_large, extra_small,
        "the same whatever the log's length"
    );
}

/// What the store shows after a write sequence, against what its events
/// say: every visible version of every resource has its event, and every
/// member of the group was added by an event; when the sequence ran to its
/// end (`exact`), the group's members are what its events added and
/// removed. (A request that died between a group's record and its member
/// buckets leaves an event listing member changes that were not made:
/// docs/storage.md, "Audit trail".)
fn check_events_match_store(s: &Setup, users: &[String], gid: &str, label: &str, exact: bool) {
    let events = s.events();
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut members: BTreeSet<String> = BTreeSet::new();
    let mut ever_added: BTreeSet<String> = BTreeSet::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    for e in &events {
        let rid = e["resourceId"].as_str().unwrap().to_string();
        if let Some(v) = e["versionAfter"].as_str() {
            versions
                .entry(rid.clone())
                .or_default()
                .insert(v.to_string());
        }
        if e["operation"] == "delete" {
            deleted.insert(rid.clone());
        }
        if rid == gid {
            members.extend(strs(&e["membersAdded"]));
            ever_added.extend(strs(&e["membersAdded"]));
            for m in strs(&e["membersRemoved"]) {
                members.remove(&m);
            }
        }
    }
    let get = |path: &str| {
        call(
            &s.svc,
            s.store,
            T0 + 100,
            &s.writer,
            "GET",
            path,
            "",
            None,
            &[],
        )
    };
    let gid_list: Vec<String> = (!gid.is_empty())
        .then(|| gid.to_string())
        .into_iter()
        .collect();
    for id in users.iter().chain(&gid_list) {
        let path = if id == gid {
            format!("/Groups/{id}")
        } else {
            format!("/Users/{id}")
        };
        let (st, v) = get(&path);
        match st {
            200 => {
                let version = v["meta"]["version"].as_str().unwrap().to_string();
                // A group's version also moves when a deleted user leaves it
                // (that event has no version); a user's never does.
                if id != gid {
                    assert!(
                        versions.get(id).is_some_and(|vs| vs.contains(&version)),
                        "{label}: {path} at {version} without its event: {events:#?}"
                    );
                }
                assert!(
                    !deleted.contains(id),
                    "{label}: {path} exists, its delete event shown"
                );
                if id == gid {
                    let shown: BTreeSet<String> = v["members"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|m| m["value"].as_str().unwrap().to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    assert!(
                        shown.is_subset(&ever_added),
                        "{label}: a member without an event adding it {events:#?}"
                    );
                    if exact {
                        assert_eq!(
                            shown, members,
                            "{label}: members against events {events:#?}"
                        );
                    }
                }
            }
            404 => assert!(
                deleted.contains(id) || !versions.contains_key(id),
                "{label}: {path} gone without a delete event"
            ),
            other => panic!("{label}: {path} answered {other}: {v}"),
        }
    }
}

/// Kill the store at every write of a sequence (creates, a PATCH, a group
/// PUT, member changes, a user's delete leaving the group), restart, and
/// compare the events with the store, on both Spin store flavours.
#[test]
fn a_crash_at_any_store_write_never_leaves_a_change_without_its_event() {
    for flavor in [Flavor::SpinSqlite, Flavor::SpinRedis] {
        let mut budget = 0;
        loop {
            let inner = MemStore::like(flavor);
            let dying = Dying::new(&inner, budget);
            let s = Setup::new(&dying, config(|_| {}));
            let finished = script(&s);
            let label = format!("{flavor:?}, killed after {budget} writes");
            drop(s);
            // Restart: the same data, a live store.
            let alive = Dying::new(&inner, usize::MAX);
            let s2 = Setup::new(&alive, config(|_| {}));
            let (users, gid) = script_ids(&s2);
            check_events_match_store(&s2, &users, &gid, &label, finished);
            if finished {
                break;
            }
            budget += 1;
        }
        assert!(budget > 40, "the script writes {budget} times");
    }
}

/// The write sequence; whether it ran to its end.
fn script(s: &Setup) -> bool {
    let ok = |(st, _): (u16, Value)| (200..300).contains(&st);
    let id = |(st, v): (u16, Value)| (st == 201).then(|| v["id"].as_str().unwrap().to_string());
    let Some(a) = id(s.write(T0, "POST", "/Users", Some(user("a@x")))) else {
        return false;
    };
    let Some(b) = id(s.write(T0, "POST", "/Users", Some(user("b@x")))) else {
        return false;
    };
    let Some(g) = id(s.write(
        T0,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": a}]})),
    )) else {
        return false;
    };
    let p = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    ok(s.write(T0, "PATCH", &format!("/Users/{a}"), Some(p)))
        && ok(s.write(T0, "PUT", &format!("/Groups/{g}"), Some(json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": a}, {"value": b}]}))))
        && ok(s.write(T0, "PATCH", &format!("/Groups/{g}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]}))))
        && ok(s.write(T0, "DELETE", &format!("/Users/{a}"), None))
        && ok(s.write(T0, "PATCH", &format!("/Users/{b}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "y"}]}))))
}

/// The ids the script created, from the list endpoints and the events (a
/// deleted user appears in events only).
fn script_ids(s: &Setup) -> (Vec<String>, String) {
    let mut users = BTreeSet::new();
    let mut gid = String::new();
    for e in s.events() {
        match e["resourceType"].as_str() {
            Some("User") => {
                users.insert(e["resourceId"].as_str().unwrap().to_string());
            }
            Some("Group") => gid = e["resourceId"].as_str().unwrap().to_string(),
            _ => {}
        }
    }
    let (_, v) = call(
        &s.svc,
        s.store,
        T0,
        &s.writer,
        "GET",
        "/Users",
        "count=100",
        None,
        &[],
    );
    for u in v["Resources"].as_array().cloned().unwrap_or_default() {
        users.insert(u["id"].as_str().unwrap().to_string());
    }
    let (_, v) = call(
        &s.svc,
        s.store,
        T0,
        &s.writer,
        "GET",
        "/Groups",
        "count=100",
        None,
        &[],
    );
    if let Some(g) = v["Resources"].as_array().and_then(|a| a.first()) {
        gid = g["id"].as_str().unwrap().to_string();
    }
    (users.into_iter().collect(), gid)
}

/// Store calls and write calls (each a transaction of its own on Spin's
/// SQLite store: an fsync'd commit under `spin up`) of each kind of change,
/// with the trail off and on; retention's look at the tail (two reads on
/// one append in 8) is left out. Pinned, so that a change of the write path
/// shows here. The minimum of each, and why, is in docs/storage.md
/// ("Write transactions per request").
#[test]
fn store_calls_per_change_are_pinned() {
    use scim::storage::counting::Op;
    let now = T0 + 100; // not in a creation guard's margin (two increments)
    let mut table = Vec::new();
    for enabled in [false, true] {
        let store = Counting::recording(MemStore::new());
        let s = Setup::new(&store, config(|c| c.audit_enabled = enabled));
        let post = |name: &str| {
            let body = json!({"schemas": [USER], "userName": name,
                "externalId": format!("x-{name}"), "emails": [{"value": name}]});
            let (st, v) = s.write(now, "POST", "/Users", Some(body));
            assert_eq!(st, 201, "{v}");
            v["id"].as_str().unwrap().to_string()
        };
        // A group with members in every bucket, like a big one.
        let others: Vec<String> = (0..400).map(|i| post(&format!("o{i}@x"))).collect();
        let members: Vec<Value> = others.iter().map(|o| json!({"value": o})).collect();
        let (st, g) = s.write(
            now,
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "G", "members": members})),
        );
        assert_eq!(st, 201);
        let gid = g["id"].as_str().unwrap().to_string();
        let mut cost = |label: &str, status: u16, (st, v): (u16, Value)| {
            assert_eq!(st, status, "{label}: {v}");
            let calls: Vec<_> = store
                .take_calls()
                .into_iter()
                .filter(|c| !(c.op == Op::Get && c.keys[0].contains("/a/")))
                .collect();
            let t = store.traffic();
            store.reset();
            if std::env::var("SHOW_CALLS").is_ok() {
                for c in &calls {
                    eprintln!(
                        "{enabled} {label} {:?} {:?}",
                        c.op,
                        c.keys
                            .iter()
                            .map(|k| k.get(..30).unwrap_or(k))
                            .collect::<Vec<_>>()
                    );
                }
            }
            table.push((enabled, label.to_string(), calls.len(), t.write_calls));
        };
        store.reset();
        let id = post("u@x");
        cost("POST user", 201, (201, Value::Null));
        let put = json!({"schemas": [USER], "userName": "u@x", "externalId": "x-u@x",
            "emails": [{"value": "u@x"}], "title": "t"});
        cost(
            "PUT user",
            200,
            s.write(now, "PUT", &format!("/Users/{id}"), Some(put)),
        );
        let p = json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "P"}]});
        cost(
            "PATCH user",
            200,
            s.write(now, "PATCH", &format!("/Users/{id}"), Some(p)),
        );
        let add = json!({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": id}]}]});
        cost(
            "PATCH group add",
            204,
            s.write(now, "PATCH", &format!("/Groups/{gid}"), Some(add)),
        );
        cost(
            "DELETE user in a group",
            204,
            s.write(now, "DELETE", &format!("/Users/{id}"), None),
        );
        let plain = post("w@x");
        store.reset();
        cost(
            "DELETE user",
            204,
            s.write(now, "DELETE", &format!("/Users/{plain}"), None),
        );
        // The trail's cost of a delete does not grow with the groups left.
        let twice = post("v@x");
        for name in ["G2", "G3"] {
            let g = json!({"schemas": [GROUP], "displayName": name,
                "members": [{"value": twice}]});
            assert_eq!(s.write(now, "POST", "/Groups", Some(g)).0, 201);
        }
        store.reset();
        cost(
            "DELETE user in two groups",
            204,
            s.write(now, "DELETE", &format!("/Users/{twice}"), None),
        );
        let g = json!({"schemas": [GROUP], "displayName": "G4", "externalId": "x-G4",
            "members": [{"value": others[0]}]});
        let (st, g4) = s.write(now, "POST", "/Groups", Some(g));
        assert_eq!(st, 201);
        store.reset();
        cost(
            "DELETE group",
            204,
            s.write(
                now,
                "DELETE",
                &format!("/Groups/{}", g4["id"].as_str().unwrap()),
                None,
            ),
        );
    }
    let got: Vec<String> = table
        .iter()
        .map(|(on, l, c, w)| {
            format!(
                "audit {}: {l}: {c} calls, {w} writes",
                if *on { "on" } else { "off" }
            )
        })
        .collect();
    // The minimum of each, and why: docs/storage.md, "Write transactions
    // per request". In short: a create wins a guard per new indexed value
    // (Spin has no insert-if-absent), takes the list slot (one
    // compare-and-swap), then writes the keys won with the record (and its
    // event) in one call; an update is one compare-and-swap, and the trail
    // adds the event number and the event (a compare-and-swap carries one
    // key); a delete is its record's tombstone (with its events, however
    // many groups it leaves: one increment and one write) and its list
    // slot, leaving its name claim and index entries to the next writer.
    let want = [
        "audit off: POST user: 10 calls, 5 writes",
        "audit off: PUT user: 3 calls, 1 writes",
        "audit off: PATCH user: 3 calls, 1 writes",
        "audit off: PATCH group add: 8 calls, 4 writes",
        "audit off: DELETE user in a group: 7 calls, 5 writes",
        "audit off: DELETE user: 4 calls, 2 writes",
        "audit off: DELETE user in two groups: 9 calls, 7 writes",
        "audit off: DELETE group: 6 calls, 3 writes",
        "audit on: POST user: 11 calls, 6 writes",
        "audit on: PUT user: 5 calls, 3 writes",
        "audit on: PATCH user: 5 calls, 3 writes",
        "audit on: PATCH group add: 10 calls, 5 writes",
        "audit on: DELETE user in a group: 10 calls, 7 writes",
        "audit on: DELETE user: 5 calls, 3 writes",
        "audit on: DELETE user in two groups: 12 calls, 9 writes",
        "audit on: DELETE group: 8 calls, 4 writes",
    ];
    assert_eq!(got, want, "{got:#?}");
}
