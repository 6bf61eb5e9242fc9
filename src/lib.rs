//! The Spin component: a thin adapter from Spin's HTTP trigger, variables and
//! key-value store to the SCIM engine (`crates/scim`).

mod kv;

use futures::StreamExt;
use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::{Request as ScimRequest, Response as ScimResponse};
use scim::storage::kv::{guard_key, Store};
use scim::ScimError;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the SCIM API is mounted (spin.toml's trigger route without `/...`).
const API_PREFIX: &str = "/api/scim/v2";

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let started = Instant::now();
    let method = logged_method(&req.method().to_string());
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
    respond(out, response);
}

/// Hands `response` to Spin with as much of its body as the host buffers
/// (1 MiB in Spin's wasmtime) already written and, when that is all of it,
/// the body finished.
///
/// Spin's HTTP server does not set `TCP_NODELAY`. Setting the response
/// first and writing the body afterwards (what `spin_sdk` does for a
/// returned `Response`) lets the server send the head as soon as it is set
/// and the body as a second small segment, which Nagle's algorithm holds
/// back until the client acknowledges the head, and clients delay that
/// acknowledgement by up to 40 ms: under `spin up`, a p99 of 48 ms for a
/// GET whose own work takes 0.4 ms. A body that is complete when the
/// response is set goes out with its head.
fn respond(out: ResponseOutparam, response: ScimResponse) {
    use spin_sdk::wit::wasi::http0_2_0::types as wasi_http;
    let mut fields: Vec<(String, Vec<u8>)> = response
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    // A known length spares the client chunked framing (RFC 9112 §6.3);
    // 204 and 304 carry none (RFC 9110 §8.6).
    if !matches!(response.status, 204 | 304) {
        fields.push((
            "content-length".to_string(),
            response.body.len().to_string().into_bytes(),
        ));
    }
    let headers = wasi_http::Fields::from_list(&fields).unwrap_or_else(|e| {
        eprintln!("response headers refused by the host: {e:?}");
        wasi_http::Fields::new()
    });
    let head = wasi_http::OutgoingResponse::new(headers);
    let _ = head.set_status_code(response.status);
    let out = out.into_inner();
    let (Ok(body), bytes) = (head.body(), response.body.as_slice()) else {
        wasi_http::ResponseOutparam::set(out, Ok(head));
        return;
    };
    let Ok(stream) = body.write() else {
        wasi_http::ResponseOutparam::set(out, Ok(head));
        return;
    };
    let now = stream
        .check_write()
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
        .min(bytes.len());
    let rest = if now > 0 && stream.write(&bytes[..now]).is_ok() {
        &bytes[now..]
    } else {
        bytes
    };
    if rest.is_empty() {
        drop(stream);
        let _ = wasi_http::OutgoingBody::finish(body, None);
        wasi_http::ResponseOutparam::set(out, Ok(head));
        return;
    }
    wasi_http::ResponseOutparam::set(out, Ok(head));
    // The rest waits for the server to take what is buffered: 4,096 bytes
    // at most per blocking write (wasi:io/streams).
    for chunk in rest.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            // The client went away; nothing left to tell it.
            return;
        }
    }
    drop(stream);
    let _ = wasi_http::OutgoingBody::finish(body, None);
}

async fn serve(req: IncomingRequest) -> Result<scim::api::Outcome, ScimError> {
    let mut head = request_head(&req);
    // Spin resolves each variable anew on every call: read only the
    // settings this route can use.
    let cfg = Config::for_request(
        &|name: &str| {
            spin_sdk::variables::get(name)
                .ok()
                .filter(|v| !v.is_empty())
        },
        &head.method,
        &head.path,
    )
    .map_err(|e| ScimError::internal(format!("configuration: {e}")))?;
    let store = kv::SpinStore::open_default()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let catalog_path = cfg.roles_catalog_path.clone();
    let catalog_source =
        move || std::fs::read_to_string(&catalog_path).map_err(|e| format!("{catalog_path}: {e}"));
    let fetcher = OutboundFetcher {
        timeout: Duration::from_millis(cfg.auth.jwks_timeout_ms),
    };
    // The documentation page's files (spin.toml `files`); which one a
    // request names is the engine's decision.
    let service = Service::new(cfg).with_files(Box::new(|path| {
        std::fs::read(path).map_err(|e| e.to_string())
    }));
    let env = Env {
        store: &store,
        now,
        fetcher: &fetcher,
        catalog_source: &catalog_source,
    };
    let cfg = &service.cfg;
    // Credentials first (RFC 6750 §2.1): a request without one usable
    // Authorization header is answered before a byte of its body is read,
    // so it cannot hold this instance by announcing a body it never sends.
    if let Some(refused) = service.refuse_before_body(&head, &env) {
        return Ok(refused);
    }
    head.base_url =
        match scim::http::base_url(&head.headers, cfg.trust_forwarded_headers, API_PREFIX) {
            Ok(url) => url,
            Err(e) => return Ok(outcome(ScimResponse::error(&e), "(invalid host)")),
        };
    // The route's limit: /Bulk has its own (bulk_max_payload_bytes).
    let Some(body) = read_body(req, service.max_body_bytes_for(&head.path)).await? else {
        // Over the limit: answered without reading the rest of the body.
        return Ok(outcome(
            ScimResponse::error(&service.body_too_large_for(&head.path)),
            "(too large)",
        ));
    };
    let scim_req = ScimRequest { body, ..head };
    warn_about_configuration(cfg, &store, now);
    Ok(service.handle(&scim_req, &env))
}

/// An answer given before the engine saw the whole request.
fn outcome(response: ScimResponse, route: &'static str) -> scim::api::Outcome {
    scim::api::Outcome {
        response,
        route,
        tenant: None,
        client_id: None,
        warnings: Vec::new(),
    }
}

/// The engine's request without its body (and without its base URL, which
/// [`scim::http::base_url`] computes): what can be judged before the body is
/// read. Header names are lower case; values that are not UTF-8 are dropped,
/// except `Authorization`'s, kept (lossily) so that a second one is seen.
fn request_head(req: &IncomingRequest) -> ScimRequest {
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .into_iter()
        .filter_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let v = match String::from_utf8(v) {
                Ok(v) => v,
                Err(e) if k == "authorization" => {
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                }
                Err(_) => return None,
            };
            Some((k, v))
        })
        .collect();
    let path_with_query = req.path_with_query().unwrap_or_default();
    let (full_path, query) = path_with_query
        .split_once('?')
        .unwrap_or((path_with_query.as_str(), ""));
    let path = full_path
        .strip_prefix(API_PREFIX)
        .unwrap_or(full_path)
        .to_string();
    ScimRequest {
        method: req.method().to_string(),
        base_url: String::new(),
        path,
        query: query.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// The request body; `None` when it exceeds `max_body` bytes (the body is
/// read in chunks and reading stops there, so memory stays bounded).
async fn read_body(req: IncomingRequest, max_body: usize) -> Result<Option<Vec<u8>>, ScimError> {
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
    Ok(Some(body))
}

/// The method as the log line records it: the standard ones (RFC 9110
/// §9, RFC 5789) by name, anything else as `_OTHER`, since a method token
/// is client text.
fn logged_method(method: &str) -> String {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    ];
    match KNOWN.iter().find(|m| **m == method) {
        Some(m) => (*m).to_string(),
        None => "_OTHER".to_string(),
    }
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
    write_line(&line);
}

/// A warning line on stderr: `"level": "warn"`, an `event` name and what
/// the event needs; never a token, never personal data.
fn warn_line(event: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({ "level": "warn", "event": event });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    write_line(&line);
}

fn write_line(line: &serde_json::Value) {
    // One write: `eprintln!` on an unbuffered stderr would hand every
    // formatting fragment to the host as a separate `fd_write`.
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &bytes);
}

/// The store key counting, per hour, the requests that found configuration
/// problems.
const CONFIG_WARNED: &str = "_log/config-problems";

/// Logs [`scim::auth::AuthConfig::problems`] as one warning line, once per
/// hour and store. Spin runs every request in a fresh instance, so "once per
/// instance" would be every request: the store's atomic `increment` picks
/// the one request of the hour that logs (after a read, so that the others
/// pay one read and no write). A deployment without problems pays nothing.
fn warn_about_configuration(cfg: &Config, store: &kv::SpinStore, now: u64) {
    let problems = cfg.auth.problems();
    if problems.is_empty() {
        return;
    }
    let hour = now / 3600;
    let key = guard_key(CONFIG_WARNED, hour);
    if !matches!(store.get(&key), Ok(None)) {
        return;
    }
    if let Ok(1) = scim::storage::kv::increment(store, &key, 1) {
        if hour > 0 {
            let _ = store.delete(&guard_key(CONFIG_WARNED, hour - 1));
        }
        warn_line("config", serde_json::json!({ "problems": problems }));
    }
}

/// Fetches a JWKS document with Spin's outbound HTTP (the host must be in
/// spin.toml's `allowed_outbound_hosts`: `jwks_allowed_host`), in bounded
/// time: `timeout` is set as the `wasi:http` connect, first-byte and
/// between-bytes timeouts (Spin's default for each is 600 s) and is the
/// deadline of the whole fetch, checked while waiting for the response head
/// and after every body chunk; the body is cut at
/// [`MAX_JWKS_BYTES`](scim::auth::jwks::MAX_JWKS_BYTES). A hung identity
/// provider holds the one fetching request for `timeout`, a trickling one
/// for at most one between-bytes wait more; the engine's fetch lock keeps
/// every other request from waiting.
struct OutboundFetcher {
    timeout: Duration,
}

impl scim::auth::jwks::JwksFetcher for OutboundFetcher {
    fn fetch(&self, url: &str) -> Result<String, String> {
        use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types as wasi_http};
        let started = Instant::now();
        let (scheme, rest) = url.split_once("://").ok_or("JWKS URL has no scheme")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => wasi_http::Scheme::Https,
            "http" => wasi_http::Scheme::Http,
            _ => return Err("JWKS URL is not http or https".to_string()),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let headers =
            wasi_http::Fields::from_list(&[("accept".to_string(), b"application/json".to_vec())])
                .map_err(|e| format!("request headers: {e:?}"))?;
        let request = wasi_http::OutgoingRequest::new(headers);
        let invalid = |what: &str| format!("JWKS URL: invalid {what}");
        request
            .set_method(&wasi_http::Method::Get)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| invalid("path"))?;
        let options = wasi_http::RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // An error would mean the host does not support that timeout; Spin
        // and the local host support all three.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let pending = outgoing_handler::handle(request, Some(options)).map_err(describe)?;
        // The host bounds the wait for the response head (Spin: DNS,
        // connect, TLS and first byte within the first-byte timeout); the
        // component bounds it too, polling, so that a host that does not
        // (the local host does not bound a TLS handshake) cannot hold it.
        let ready = pending.subscribe();
        while !ready.ready() {
            if started.elapsed() > self.timeout {
                return Err(format!(
                    "no response within {} ms",
                    self.timeout.as_millis()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(ready);
        let response = match pending.get() {
            Some(Ok(Ok(r))) => r,
            Some(Ok(Err(e))) => return Err(describe(e)),
            Some(Err(())) | None => return Err("no response".to_string()),
        };
        let status = response.status();
        if !(200..300).contains(&status) {
            return Err(format!("HTTP status {status}"));
        }
        let limit = scim::auth::jwks::MAX_JWKS_BYTES;
        let body = spin_sdk::http::run(async {
            let mut body = Vec::new();
            let mut chunks = response.take_body_stream();
            while let Some(chunk) = chunks.next().await {
                let chunk =
                    chunk.map_err(|e| format!("reading the body: {}", e.to_debug_string()))?;
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(format!("the document is larger than {limit} bytes"));
                }
                if started.elapsed() > self.timeout {
                    return Err(format!(
                        "the document took longer than {} ms",
                        self.timeout.as_millis()
                    ));
                }
            }
            Ok(body)
        })?;
        String::from_utf8(body).map_err(|_| "JWKS is not UTF-8".to_string())
    }

    fn failed(&self, reason: &str) {
        warn_line("jwks_fetch_failed", serde_json::json!({ "detail": reason }));
    }
}

/// A `wasi:http` error in words (Spin reports a first-byte timeout as
/// `connection-read-timeout`; a between-bytes timeout fails the body read).
fn describe(e: spin_sdk::http::ErrorCode) -> String {
    use spin_sdk::http::ErrorCode as E;
    match e {
        E::ConnectionTimeout => "connect timeout".to_string(),
        E::ConnectionReadTimeout => "timeout waiting for the response".to_string(),
        E::ConnectionRefused => "connection refused".to_string(),
        E::HttpRequestDenied => {
            "the JWKS host is not allowed (jwks_allowed_host, allowed_outbound_hosts)".to_string()
        }
        E::DnsError(_) => "DNS lookup failed".to_string(),
        other => format!("{other:?}"),
    }
}
