//! The service over a fresh [`MemStore`], called as a client would: with a
//! bearer token (HS256, read and write scopes) and a SCIM body. For unit
//! tests that need whole requests (index entries, the store checker).

use crate::api::{Env, Service};
use crate::auth::{mint_hs256, DevClaims};
use crate::config::Config;
use crate::http::Request;
use crate::storage::memory::MemStore;
use serde_json::Value;

const SECRET: &str = "unit-test-secret-0123456789abcdef0123";

/// A service, its store, a token it accepts, and the time it runs at.
pub(crate) struct Client {
    pub svc: Service,
    pub store: MemStore,
    pub token: String,
    pub now: u64,
}

impl Client {
    /// `cfg` with the test secret, running at `now` (seconds).
    pub fn new(mut cfg: Config, now: u64) -> Client {
        cfg.auth.hs256_secret = Some(SECRET.into());
        let claims = DevClaims {
            scopes: vec!["scim.read".into(), "scim.write".into()],
            ttl_secs: 600,
            ..Default::default()
        };
        Client {
            svc: Service::new(cfg),
            store: MemStore::new(),
            token: mint_hs256(SECRET, &claims).expect("a dev token"),
            now,
        }
    }

    /// The real time: tokens are checked against it.
    pub fn wall_clock() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    /// Status and JSON body of `method path?query` with `body`.
    pub fn call(&self, method: &str, path: &str, query: &str, body: Option<Value>) -> (u16, Value) {
        let req = Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {}", self.token)),
                ("content-type".into(), "application/scim+json".into()),
            ],
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            base_url: "http://h/api/scim/v2".into(),
        };
        let no_catalog = || Err("none".to_string());
        let env = Env {
            store: &self.store,
            now: self.now,
            fetcher: &crate::auth::jwks::NoFetcher,
            catalog_source: &no_catalog,
        };
        let o = self.svc.handle(&req, &env);
        let body = serde_json::from_slice(&o.response.body).unwrap_or(Value::Null);
        (o.response.status, body)
    }
}
