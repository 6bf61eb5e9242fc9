//! The engine called in-process, as the component calls it, with a dev
//! token that may read and write (shared by the engine's integration tests).

use scim::api::{Env, Outcome, Service};
use scim::auth::{mint_hs256, DevClaims};
use scim::config::Config;
use scim::http::Request;
use scim::storage::kv::Store;
use serde_json::Value;

const SECRET: &str = "engine-tests-secret-0123456789abcdef";
const NOW: u64 = 1_700_000_000;

pub struct Api<S> {
    svc: Service,
    pub store: S,
    token: String,
}

impl<S: Store> Api<S> {
    /// The default configuration, accepting HS256 tokens, over `store`.
    #[allow(dead_code)] // not every test binary uses it
    pub fn new(store: S) -> Api<S> {
        Api::with_scopes(store, &["scim.write"])
    }

    /// As [`Api::new`], with a token holding `scopes`.
    #[allow(dead_code)] // not every test binary uses it
    pub fn with_scopes(store: S, scopes: &[&str]) -> Api<S> {
        let mut cfg = Config::default();
        cfg.auth.hs256_secret = Some(SECRET.into());
        let claims = DevClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ttl_secs: 3600,
            issued_at: Some(NOW),
            ..Default::default()
        };
        Api {
            svc: Service::new(cfg),
            store,
            token: mint_hs256(SECRET, &claims).unwrap(),
        }
    }

    /// Status and JSON body (`Null` when there is none).
    pub fn call(&self, method: &str, path: &str, query: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.outcome(method, path, query, body).response;
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    /// The whole outcome: response and what the log line records.
    pub fn outcome(&self, method: &str, path: &str, query: &str, body: Option<Value>) -> Outcome {
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
        let env = Env {
            store: &self.store,
            now: NOW + 10,
            fetcher: &scim::auth::jwks::NoFetcher,
            catalog_source: &catalog,
        };
        self.svc.handle(&req, &env)
    }

    /// POSTs `body` to `path`, expects 201 and returns the new id.
    #[allow(dead_code)] // not every test file creates this way
    pub fn create(&self, path: &str, body: Value) -> String {
        let (status, v) = self.call("POST", path, "", Some(body));
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }
}

/// The member ids of a group as GET returns it, in order.
#[allow(dead_code)] // not every test file reads members
pub fn member_ids(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["value"].as_str()).collect())
        .unwrap_or_default()
}
