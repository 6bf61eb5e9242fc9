//! No lost updates under concurrency (issue #3 point 8, docs/storage.md):
//! compare-and-swap through `wasi:keyvalue/atomics`, against one host and
//! against two host processes sharing one store file.

use e2e::Host;
use serde_json::json;
use std::sync::Arc;

fn user(host: &Host, name: &str) -> String {
    let r = host.send_json("POST", "/Users", &json!({"userName": name}));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// 16 concurrent PATCHes, each adding a different member to one group,
/// spread over `hosts`: every member lands.
fn concurrent_member_adds(hosts: &[Arc<Host>]) {
    let users: Vec<String> = (0..16)
        .map(|i| user(&hosts[0], &format!("member{i}")))
        .collect();
    let r = hosts[0].send_json("POST", "/Groups", &json!({"displayName": "Busy"}));
    let gid = r.json()["id"].as_str().unwrap().to_string();
    let threads: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, uid)| {
            let host = hosts[i % hosts.len()].clone();
            let (gid, uid) = (gid.clone(), uid.clone());
            std::thread::spawn(move || {
                host.send_json(
                    "PATCH",
                    &format!("/Groups/{gid}"),
                    &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]}),
                )
                .status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    for host in hosts {
        let g = host.get(&format!("/Groups/{gid}")).json();
        let mut got: Vec<String> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut want = users.clone();
        want.sort();
        assert_eq!(got, want, "a member add was lost");
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
    let id = user(&hosts[0], "written-on-one");
    let r = hosts[1].get(&format!("/Users/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["userName"], "written-on-one");
}
