//! The Spin component: a thin adapter from Spin's HTTP trigger, variables and
//! key-value store to the SCIM engine (`crates/scim`).

mod kv;

use futures::StreamExt;
use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::{Request as ScimRequest, Response as ScimResponse};
use scim::ScimError;
use spin_sdk::http::{IncomingRequest, Request, Response};
use spin_sdk::http_component;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the SCIM API is mounted (spin.toml's trigger route without `/...`).
const API_PREFIX: &str = "/api/scim/v2";

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let (response, route, tenant, client_id, warnings) = match serve(req).await {
        Ok(o) => (o.response, o.route, o.tenant, o.client_id, o.warnings),
        Err(e) => (
            ScimResponse::error(&e),
            "(unavailable)",
            None,
            None,
            Vec::new(),
        ),
    };
    log_line(
        &method,
        route,
        response.status,
        started,
        tenant,
        client_id,
        warnings,
    );
    let mut builder = Response::builder();
    builder.status(response.status);
    for (k, v) in &response.headers {
        builder.header(k.as_str(), v.as_str());
    }
    // A known length spares the client chunked framing (RFC 9112 §6.3);
    // 204 and 304 carry none (RFC 9110 §8.6).
    if !matches!(response.status, 204 | 304) {
        builder.header("content-length", response.body.len().to_string());
    }
    builder.body(response.body).build()
}

async fn serve(req: IncomingRequest) -> Result<scim::api::Outcome, ScimError> {
    let cfg = Config::from_vars(&|name: &str| {
        spin_sdk::variables::get(name)
            .ok()
            .filter(|v| !v.is_empty())
    })
    .map_err(|e| ScimError::internal(format!("configuration: {e}")))?;
    let Some(scim_req) = to_scim_request(req, cfg.max_body_bytes).await? else {
        // Over the limit: answered without reading the rest of the body.
        return Ok(scim::api::Outcome {
            response: ScimResponse::error(&ScimError::new(
                413,
                None,
                format!("request body larger than {} bytes", cfg.max_body_bytes),
            )),
            route: "(too large)",
            tenant: None,
            client_id: None,
            warnings: Vec::new(),
        });
    };
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
        &scim_req,
        &Env {
            store: &store,
            now,
            fetcher: &OutboundFetcher,
            catalog_source: &catalog_source,
        },
    ))
}

/// The engine's request; `None` when the body exceeds `max_body` bytes (the
/// body is read in chunks and reading stops there, so memory stays bounded).
async fn to_scim_request(
    req: IncomingRequest,
    max_body: usize,
) -> Result<Option<ScimRequest>, ScimError> {
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), String::from_utf8(v).ok()?)))
        .collect();
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let path_with_query = req.path_with_query().unwrap_or_default();
    let (full_path, query) = path_with_query
        .split_once('?')
        .unwrap_or((path_with_query.as_str(), ""));
    let path = full_path
        .strip_prefix(API_PREFIX)
        .unwrap_or(full_path)
        .to_string();
    let query = query.to_string();
    let method = req.method().to_string();
    let base_url = base_url(&header);
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ScimError::invalid_syntax("the request body could not be read"))?;
        if body.len() + chunk.len() > max_body {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(ScimRequest {
        method,
        base_url,
        path,
        query,
        headers,
        body,
    }))
}

/// `scheme://authority/api/scim/v2` as the client addressed it. Spin passes the
/// full URL in `spin-full-url`; a proxy in front may pass `x-forwarded-*`.
fn base_url(header: &dyn Fn(&str) -> Option<String>) -> String {
    let full = header("spin-full-url").unwrap_or_default();
    let (scheme, rest) = full.split_once("://").unwrap_or(("http", full.as_str()));
    let authority = rest.split('/').next().unwrap_or("");
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| scheme.to_string());
    let host = header("x-forwarded-host")
        .or_else(|| Some(authority.to_string()).filter(|a| !a.is_empty()))
        .or_else(|| header("host"))
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
    warnings: Vec<String>,
) {
    let mut line = serde_json::json!({
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "tenant": tenant,
        "client_id": client_id,
    });
    // Stored records the request could not decode (ids, never content).
    if !warnings.is_empty() {
        line["warnings"] = serde_json::json!(warnings);
    }
    // One write: `eprintln!` on an unbuffered stderr would hand every
    // formatting fragment to the host as a separate `fd_write`.
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &bytes);
}

/// Fetches a JWKS document with Spin's outbound HTTP (the host must be in
/// spin.toml's `allowed_outbound_hosts`).
struct OutboundFetcher;

impl scim::auth::jwks::JwksFetcher for OutboundFetcher {
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
