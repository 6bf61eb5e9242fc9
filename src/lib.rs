//! The Spin component: a thin adapter from Spin's HTTP trigger, variables and
//! key-value store to the SCIM engine (`crates/scim`).

mod kv;

use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::{Request as ScimRequest, Response as ScimResponse};
use scim::ScimError;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the SCIM API is mounted (spin.toml's trigger route without `/...`).
const API_PREFIX: &str = "/api/scim/v2";

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let started = Instant::now();
    let scim_req = to_scim_request(&req);
    let (response, route, tenant, client_id) = match serve(&scim_req) {
        Ok(o) => (o.response, o.route, o.tenant, o.client_id),
        Err(e) => (ScimResponse::error(&e), "(unavailable)", None, None),
    };
    log_line(
        &scim_req.method,
        route,
        response.status,
        started,
        tenant,
        client_id,
    );
    let mut builder = Response::builder();
    builder.status(response.status);
    for (k, v) in &response.headers {
        builder.header(k.as_str(), v.as_str());
    }
    builder.body(response.body).build()
}

fn serve(req: &ScimRequest) -> Result<scim::api::Outcome, ScimError> {
    let cfg = Config::from_vars(&|name: &str| {
        spin_sdk::variables::get(name)
            .ok()
            .filter(|v| !v.is_empty())
    })
    .map_err(|e| ScimError::internal(format!("configuration: {e}")))?;
    let store = kv::SpinStore::open_default()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let catalog_path = cfg.roles_catalog_path.clone();
    let catalog_source =
        move || std::fs::read_to_string(&catalog_path).map_err(|e| format!("{catalog_path}: {e}"));
    let service = Service::new(cfg);
    Ok(service.handle(
        req,
        &Env {
            store: &store,
            now,
            fetcher: &OutboundFetcher,
            catalog_source: &catalog_source,
        },
    ))
}

/// Fetches a JWKS document with Spin's outbound HTTP (the host must be in
/// spin.toml's `allowed_outbound_hosts`).
struct OutboundFetcher;

impl scim::jwks::JwksFetcher for OutboundFetcher {
    fn fetch(&self, url: &str) -> Result<String, String> {
        let request = Request::get(url)
            .header("accept", "application/json")
            .build();
        let response: Response = spin_sdk::http::run(spin_sdk::http::send(request))
            .map_err(|e| format!("JWKS fetch failed: {e}"))?;
        let status = *response.status();
        if !(200..300).contains(&status) {
            return Err(format!("JWKS fetch answered HTTP {status}"));
        }
        String::from_utf8(response.into_body()).map_err(|_| "JWKS is not UTF-8".to_string())
    }
}

fn to_scim_request(req: &Request) -> ScimRequest {
    let headers: Vec<(String, String)> = req
        .headers()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
        .collect();
    let full_path = req.path();
    let path = full_path
        .strip_prefix(API_PREFIX)
        .unwrap_or(full_path)
        .to_string();
    ScimRequest {
        method: req.method().to_string(),
        base_url: base_url(req),
        path,
        query: req.query().to_string(),
        headers,
        body: req.body().to_vec(),
    }
}

/// `scheme://authority/api/scim/v2` as the client addressed it. Spin passes the
/// full URL in `spin-full-url`; a proxy in front may pass `x-forwarded-*`.
fn base_url(req: &Request) -> String {
    let hv = |n: &str| req.header(n).and_then(|v| v.as_str()).map(str::to_string);
    let full = hv("spin-full-url").unwrap_or_default();
    let (scheme, rest) = full.split_once("://").unwrap_or(("http", full.as_str()));
    let authority = rest.split('/').next().unwrap_or("");
    let scheme = hv("x-forwarded-proto").unwrap_or_else(|| scheme.to_string());
    let host = hv("x-forwarded-host")
        .or_else(|| Some(authority.to_string()).filter(|a| !a.is_empty()))
        .or_else(|| hv("host"))
        .unwrap_or_else(|| "localhost".into());
    format!("{scheme}://{host}{API_PREFIX}")
}

/// One JSON line per request on stderr: no tokens, no personal data, only the
/// route template.
fn log_line(
    method: &str,
    route: &str,
    status: u16,
    started: Instant,
    tenant: Option<String>,
    client_id: Option<String>,
) {
    let line = serde_json::json!({
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "tenant": tenant,
        "client_id": client_id,
    });
    eprintln!("{line}");
}
