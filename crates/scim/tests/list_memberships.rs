//! `User.groups` on list pages: a page reads the member buckets of all its
//! users in one batch, each bucket once, so many users share a bucket read.
//! Every user must still get exactly the groups it is in.

use scim::api::{Env, Service};
use scim::auth::{mint_hs256, DevClaims};
use scim::config::Config;
use scim::http::Request;
use scim::store::MemStore;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const SECRET: &str = "list-memberships-secret-0123456789";
const NOW: u64 = 1_700_000_000;

struct Api {
    svc: Service,
    store: MemStore,
    token: String,
}

impl Api {
    fn new() -> Api {
        let mut cfg = Config::default();
        cfg.auth.hs256_secret = Some(SECRET.into());
        let token = mint_hs256(
            SECRET,
            &DevClaims {
                scopes: vec!["scim.write".into()],
                ttl_secs: 3600,
                issued_at: Some(NOW),
                ..Default::default()
            },
        )
        .unwrap();
        Api {
            svc: Service::new(cfg),
            store: MemStore::new(),
            token,
        }
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
            base_url: "https://scim.example/api/scim/v2".into(),
        };
        let catalog = || Ok(r#"{"roles":[]}"#.to_string());
        let r = self
            .svc
            .handle(
                &req,
                &Env {
                    store: &self.store,
                    now: NOW + 10,
                    fetcher: &scim::jwks::NoFetcher,
                    catalog_source: &catalog,
                },
            )
            .response;
        let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, v)
    }

    fn create(&self, path: &str, body: Value) -> String {
        let (status, v) = self.call("POST", path, "", Some(body));
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }
}

fn groups_on_page(page: &Value) -> BTreeMap<String, BTreeSet<String>> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let groups = u["groups"]
                .as_array()
                .map(|gs| {
                    gs.iter()
                        .map(|g| g["value"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (u["id"].as_str().unwrap().to_string(), groups)
        })
        .collect()
}

#[test]
fn every_user_on_a_page_gets_exactly_its_groups() {
    let api = Api::new();
    // 90 users over 32 buckets: most buckets hold several of them.
    let users: Vec<String> = (0..90)
        .map(|i| api.create("/Users", json!({"userName": format!("user{i}")})))
        .collect();
    let groups: Vec<String> = (0..3)
        .map(|g| api.create("/Groups", json!({"displayName": format!("group{g}")})))
        .collect();
    let mut expected: BTreeMap<String, BTreeSet<String>> =
        users.iter().map(|u| (u.clone(), BTreeSet::new())).collect();
    for (g, gid) in groups.iter().enumerate() {
        // Group g holds every user whose index is divisible by g + 2.
        let members: Vec<&String> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| i % (g + 2) == 0)
            .map(|(_, u)| u)
            .collect();
        let value: Vec<Value> = members.iter().map(|u| json!({"value": u})).collect();
        let (status, v) = api.call(
            "PATCH",
            &format!("/Groups/{gid}"),
            "",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": value}]
            })),
        );
        assert!(status == 200 || status == 204, "{status} {v}");
        for u in members {
            expected.get_mut(u).unwrap().insert(gid.clone());
        }
    }
    // One member leaves group 0 again: its list entry may outlive the
    // membership, the bucket decides.
    let (status, _) = api.call(
        "PATCH",
        &format!("/Groups/{}", groups[0]),
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}]
        })),
    );
    assert!(status == 200 || status == 204);
    expected.get_mut(&users[0]).unwrap().remove(&groups[0]);

    let (status, page) = api.call("GET", "/Users", "startIndex=1&count=100", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(groups_on_page(&page), expected);
    // A filtered page renders through the same batch.
    let (status, page) = api.call(
        "GET",
        "/Users",
        "filter=userName%20sw%20%22user1%22&count=100",
        None,
    );
    assert_eq!(status, 200, "{page}");
    let want: BTreeMap<String, BTreeSet<String>> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| format!("user{i}").starts_with("user1"))
        .map(|(_, u)| (u.clone(), expected[u].clone()))
        .collect();
    assert_eq!(want.len(), 11);
    assert_eq!(groups_on_page(&page), want);
}
