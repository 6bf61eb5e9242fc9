//! No lost updates under concurrency (issue #3 point 8, docs/storage.md):
//! compare-and-swap through `wasi:keyvalue/atomics`, against one host and
//! against two host processes sharing one store file.

use e2e::{id_of, member_ids, new_user, send_patch, sorted, Host};
use serde_json::json;
use std::sync::Arc;

/// 16 concurrent PATCHes, each adding a different member to one group,
/// spread over `hosts`: every member lands.
fn concurrent_member_adds(hosts: &[Arc<Host>]) {
    let users: Vec<String> = (0..16)
        .map(|i| new_user(&hosts[0], &format!("member{i}")))
        .collect();
    let r = hosts[0].send_json("POST", "/Groups", &json!({"displayName": "Busy"}));
    let gid = id_of(&r.json());
    let threads: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, uid)| {
            let host = hosts[i % hosts.len()].clone();
            let (gid, uid) = (gid.clone(), uid.clone());
            std::thread::spawn(move || {
                send_patch(
                    &host,
                    &format!("/Groups/{gid}"),
                    json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
                )
                .status
            })
        })
        .collect();
    for t in threads {
        // A group's PATCH answers 204 (README, "PATCH responses").
        assert_eq!(t.join().unwrap(), 204);
    }
    for host in hosts {
        let g = host.get(&format!("/Groups/{gid}")).json();
        assert_eq!(
            member_ids(&g),
            sorted(users.clone()),
            "a member add was lost"
        );
        // Every user sees the group.
        for uid in &users {
            assert_eq!(
                host.get(&format!("/Users/{uid}")).json()["groups"][0]["value"],
                gid.as_str()
            );
        }
    }
}

/// 8 concurrent POSTs of one userName: exactly one 201, seven 409s.
fn user_name_race(hosts: &[Arc<Host>]) {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let host = hosts[i % hosts.len()].clone();
            std::thread::spawn(move || {
                host.send_json("POST", "/Users", &json!({"userName": "contested"}))
                    .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    for host in hosts {
        let r = host.get("/Users?filter=userName%20eq%20%22contested%22");
        assert_eq!(r.json()["totalResults"], 1);
    }
}

#[test]
fn one_host_loses_no_member_update() {
    concurrent_member_adds(&[Arc::new(Host::start())]);
}

#[test]
fn one_host_has_exactly_one_user_name_winner() {
    user_name_race(&[Arc::new(Host::start())]);
}

#[test]
fn two_hosts_sharing_one_store_lose_nothing() {
    let first = Host::start();
    let second = Host::start_on(&first.state_dir, &[]);
    let hosts = [Arc::new(first), Arc::new(second)];
    concurrent_member_adds(&hosts);
    user_name_race(&hosts);
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
fn two_hosts_sharing_redis_lose_no_member_update() {
    let Some(url) = redis_url(1) else {
        eprintln!("skipped: SCIM_E2E_REDIS_URL is not set (make test sets it)");
        return;
    };
    let hosts = [
        Arc::new(Host::start_redis(&url, &[])),
        Arc::new(Host::start_redis(&url, &[])),
    ];
    concurrent_member_adds(&hosts);
}

#[test]
fn two_hosts_sharing_redis_have_one_user_name_winner() {
    let Some(url) = redis_url(2) else {
        eprintln!("skipped: SCIM_E2E_REDIS_URL is not set (make test sets it)");
        return;
    };
    let hosts = [
        Arc::new(Host::start_redis(&url, &[])),
        Arc::new(Host::start_redis(&url, &[])),
    ];
    user_name_race(&hosts);
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
    }
    assert_eq!(a.get("/Users").json()["totalResults"], 0);
}
