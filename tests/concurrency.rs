//! Races that must come out right on every store Spin offers
//! (docs/storage.md, "What Spin's stores guarantee"): each race is repeated
//! [`rounds`] times (50 unless `SCIM_E2E_RACE_ROUNDS` says otherwise) on one
//! host, on two host processes sharing one SQLite file, and on two hosts
//! sharing one Redis database. The host's stores behave as Spin's do, weak
//! compare-and-swap included, so a pass here is a pass under `spin up`.

use e2e::{id_of, member_ids, new_user, send_patch, sorted, Host};
use serde_json::json;
use std::sync::Arc;

fn rounds() -> usize {
    std::env::var("SCIM_E2E_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// Runs `n` requests at once, request `i` on host `i % hosts.len()`, and
/// answers their statuses sorted.
fn at_once<F>(hosts: &[Arc<Host>], n: usize, request: F) -> Vec<u16>
where
    F: Fn(&Host, usize) -> u16 + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let host = hosts[i % hosts.len()].clone();
            let (request, barrier) = (request.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                request(&host, i)
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    statuses
}

/// One winner (`won`), seven 409s, and on every host exactly one resource
/// under `endpoint` whose `attr` is `value`.
fn assert_one_winner(
    hosts: &[Arc<Host>],
    statuses: &[u16],
    won: u16,
    (endpoint, attr, value): (&str, &str, &str),
    round: usize,
) {
    let mut expected = vec![409; statuses.len()];
    expected[0] = won;
    expected.sort();
    assert_eq!(statuses, expected, "{endpoint} round {round}");
    let q = format!("{endpoint}?filter={attr}%20eq%20%22{value}%22");
    for host in hosts {
        let total = host.get(&q).json()["totalResults"].as_u64().unwrap();
        assert_eq!(total, 1, "{endpoint} round {round}");
    }
}

/// 8 concurrent POSTs to `endpoint` of one new unique `attr` (a userName,
/// a group displayName): exactly one 201, seven 409s, and one resource with
/// that value.
fn name_races(hosts: &[Arc<Host>], endpoint: &'static str, attr: &str) {
    for round in 0..rounds() {
        let name = format!("Contested-{round}");
        let body = json!({ attr: name });
        let statuses = at_once(hosts, 8, move |h, _| {
            h.send_json("POST", endpoint, &body).status
        });
        assert_one_winner(hosts, &statuses, 201, (endpoint, attr, &name), round);
    }
}

/// 16 concurrent PATCHes, each adding a different member to one new group:
/// every member lands, and every user sees the group.
fn member_add_races(hosts: &[Arc<Host>]) {
    let users: Arc<Vec<String>> = Arc::new(
        (0..16)
            .map(|i| new_user(&hosts[0], &format!("member{i}")))
            .collect(),
    );
    for round in 0..rounds() {
        let r = hosts[0].send_json(
            "POST",
            "/Groups",
            &json!({"displayName": format!("Busy {round}")}),
        );
        let gid = id_of(&r.json());
        let (g, u) = (gid.clone(), users.clone());
        let statuses = at_once(hosts, 16, move |h, i| {
            send_patch(
                h,
                &format!("/Groups/{g}"),
                json!([{"op": "add", "path": "members", "value": [{"value": u[i]}]}]),
            )
            .status
        });
        // A group's PATCH answers 204 (README, "PATCH responses").
        assert_eq!(statuses, [204; 16], "round {round}");
        for host in hosts {
            let g = host.get(&format!("/Groups/{gid}")).json();
            assert_eq!(
                member_ids(&g),
                sorted(users.to_vec()),
                "round {round}: a member add was lost"
            );
        }
        let host = &hosts[round % hosts.len()];
        for uid in users.iter() {
            let groups = host.get(&format!("/Users/{uid}")).json()["groups"].clone();
            assert!(
                groups
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["value"] == gid.as_str()),
                "round {round}: {uid} does not see the group"
            );
        }
    }
}

/// 8 concurrent PUTs renaming 8 users to one new userName: exactly one
/// succeeds, the others answer 409 and keep their names.
fn rename_races(hosts: &[Arc<Host>]) {
    for round in 0..rounds() {
        let ids: Arc<Vec<String>> = Arc::new(
            (0..8)
                .map(|i| new_user(&hosts[0], &format!("r{round}-u{i}")))
                .collect(),
        );
        let target = format!("renamed-{round}");
        let (ids2, t) = (ids.clone(), target.clone());
        let statuses = at_once(hosts, 8, move |h, i| {
            h.send_json(
                "PUT",
                &format!("/Users/{}", ids2[i]),
                &json!({"userName": t}),
            )
            .status
        });
        assert_one_winner(
            hosts,
            &statuses,
            200,
            ("/Users", "userName", &target),
            round,
        );
        let renamed = ids
            .iter()
            .enumerate()
            .filter(|(i, id)| {
                let name = hosts[0].get(&format!("/Users/{id}")).json()["userName"].clone();
                assert!(
                    name == target.as_str() || name == format!("r{round}-u{i}").as_str(),
                    "round {round}: {name}"
                );
                name == target.as_str()
            })
            .count();
        assert_eq!(renamed, 1, "round {round}");
    }
}

fn all_races(hosts: &[Arc<Host>]) {
    name_races(hosts, "/Users", "userName");
    name_races(hosts, "/Groups", "displayName");
    member_add_races(hosts);
    rename_races(hosts);
}

#[test]
fn one_host_wins_every_race_once() {
    all_races(&[Arc::new(Host::start())]);
}

#[test]
fn two_processes_on_one_sqlite_file_win_every_race_once() {
    let first = Host::start();
    let second = Host::start_on(&first.state_dir, &[]);
    let hosts = [Arc::new(first), Arc::new(second)];
    all_races(&hosts);
    // Reads after writes are consistent across the two instances.
    let id = new_user(&hosts[0], "written-on-one");
    let r = hosts[1].get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["userName"], "written-on-one");
}

/// Two host processes over one Redis database (Spin's `type = "redis"`
/// store), as many SpinKube replicas run. `make test` starts a local
/// redis-server and sets `SCIM_E2E_REDIS_URL`; without it these cases have
/// nothing to run against and say so.
fn redis_url(db: u8) -> Option<String> {
    let base = std::env::var("SCIM_E2E_REDIS_URL").ok()?;
    Some(format!("{}/{db}", base.trim_end_matches('/')))
}

#[test]
fn two_hosts_sharing_redis_win_every_race_once() {
    let Some(url) = redis_url(1) else {
        eprintln!("skipped: SCIM_E2E_REDIS_URL is not set (make test sets it)");
        return;
    };
    let hosts = [
        Arc::new(Host::start_redis(&url, &[])),
        Arc::new(Host::start_redis(&url, &[])),
    ];
    all_races(&hosts);
}

#[test]
fn two_hosts_sharing_redis_read_each_others_writes() {
    let Some(url) = redis_url(3) else {
        eprintln!("skipped: SCIM_E2E_REDIS_URL is not set (make test sets it)");
        return;
    };
    let (a, b) = (Host::start_redis(&url, &[]), Host::start_redis(&url, &[]));
    for i in 0..20 {
        let (writer, reader) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = new_user(writer, &format!("rw{i}"));
        let r = reader.get(&format!("/Users/{id}"));
        assert_eq!(r.status, 200, "read after write on the other instance");
        let patched = send_patch(
            writer,
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "displayName", "value": format!("v{i}")}]),
        );
        assert_eq!(patched.status, 200);
        let etag = patched.header("etag").unwrap().to_string();
        let r = reader.get(&format!("/Users/{id}"));
        assert_eq!(r.json()["displayName"], format!("v{i}"));
        assert_eq!(r.header("etag").unwrap(), etag);
        assert_eq!(
            reader
                .request("DELETE", &format!("/Users/{id}"), &[], None)
                .status,
            204
        );
        assert_eq!(writer.get(&format!("/Users/{id}")).status, 404);
        // The name is free again at once, on either instance.
        let again = new_user(reader, &format!("rw{i}"));
        assert_eq!(
            writer
                .request("DELETE", &format!("/Users/{again}"), &[], None)
                .status,
            204
        );
    }
    assert_eq!(a.get("/Users").json()["totalResults"], 0);
}
