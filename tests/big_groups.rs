//! A group of thousands through the real `.wasm` on the host's SQLite
//! store: its member buckets grow past their split size (docs/storage.md,
//! "Membership: the member trie"), and every member, every user's
//! `groups`, each change and the store checker still agree.

use e2e::{id_of, member_ids, patch, sorted, workspace_root, Host, GROUP, USER};
use serde_json::{json, Value};
use std::process::Command;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// About 75 members of ~70 bytes per level-0 bucket: past 4 KiB, so each
/// bucket splits while the PATCHes add them.
const USERS: usize = 2_400;

/// `n` users created by `POST /Bulk`, from `from` on: their ids.
fn users(host: &Host, from: usize, n: usize) -> Vec<String> {
    let ops: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": {"schemas": [USER], "userName": format!("big{i}"),
                            "displayName": format!("Big Member {i}")}})
        })
        .collect();
    let r = host.send_json(
        "POST",
        "/Bulk",
        &json!({"schemas": [BULK_REQUEST], "Operations": ops}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["status"], "201", "{o}");
            let l = o["location"].as_str().unwrap();
            l.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_group_of_thousands_splits_its_buckets_and_stays_whole() {
    let dir = std::env::temp_dir().join(format!("spin-scim-big-groups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let host = Host::start_on(&dir, &[]);
    let mut ids = Vec::new();
    for from in (0..USERS).step_by(800) {
        ids.extend(users(&host, from, 800));
    }
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "everyone"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    let gpath = format!("/Groups/{gid}");
    for batch in ids.chunks(800) {
        let value: Vec<Value> = batch.iter().map(|id| json!({"value": id})).collect();
        patch(
            &host,
            &gpath,
            json!([{"op": "add", "path": "members", "value": value}]),
        );
    }
    let r = host.get(&gpath);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), sorted(ids.clone()));
    // Removed and re-added one by one, as an IdP does.
    for id in &ids[..5] {
        patch(
            &host,
            &gpath,
            json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
        );
    }
    let r = host.get(&format!("/Users/{}", ids[0]));
    assert_eq!(r.json()["groups"], json!(null), "{}", r.text());
    let q = format!(
        "/Groups?excludedAttributes=members&filter={}",
        e2e::enc(&format!(
            "id eq \"{gid}\" and members.value eq \"{}\"",
            ids[1]
        ))
    );
    assert_eq!(host.get(&q).json()["totalResults"], 0);
    let back: Vec<Value> = ids[..5].iter().map(|id| json!({"value": id})).collect();
    patch(
        &host,
        &gpath,
        json!([{"op": "add", "path": "members", "value": back}]),
    );
    assert_eq!(member_ids(&host.get(&gpath).json()), sorted(ids.clone()));
    for id in [&ids[0], &ids[USERS - 1]] {
        let r = host.get(&format!("/Users/{id}"));
        assert_eq!(r.json()["groups"][0]["value"], gid.as_str(), "{}", r.text());
    }
    // The store as the checker reads it: split nodes, no violation, no leftover.
    drop(host);
    let state = dir.to_string_lossy().to_string();
    let out = Command::new(workspace_root().join("target/host/scim-host"))
        .args(["check", "--state-dir", &state])
        .output()
        .expect("run scim-host check");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let totals = text
        .lines()
        .find(|l| l.contains(" violations, "))
        .unwrap_or("");
    assert!(totals.contains("0 violations, 0 leftovers"), "{text}");
    // Each member stored once: no copy left behind by a split.
    assert!(text.contains(&format!(" {USERS} members,")), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
