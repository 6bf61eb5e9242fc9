//! The HTTP/1.1 front end: routing, Spin request headers, one fresh
//! instance per request, the request log, the network-side limits (see
//! `limits`) and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use wasmtime::{format_err, Result, Store};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::host::{ComponentEnv, HostState};
use crate::limits::{self, Limits, TimedBody};
use crate::router::{RouteMatch, Router};
use crate::stdio::GuestStderr;

/// Everything needed to run one component per request.
pub struct ComponentRuntime {
    pub id: String,
    pub pre: ProxyPre<HostState>,
    pub env: Arc<ComponentEnv>,
    pub environment: Vec<(String, String)>,
    pub preopens: Vec<(PathBuf, String)>,
}

pub struct App {
    pub router: Router,
    /// Indexed by route target.
    pub components: Vec<Arc<ComponentRuntime>>,
    pub quiet: bool,
    pub local_addr: SocketAddr,
    /// Cloned into each running guest task; the count tells how many are
    /// still running at shutdown.
    inflight: Arc<()>,
    /// One permit per instance slot of the engine's pooling allocator: a
    /// request beyond that many running guests answers 500, as its
    /// instantiation fails under Spin.
    slots: Arc<Semaphore>,
    /// Header and body timeouts, connection cap (see `limits`).
    limits: Limits,
}

impl App {
    pub fn new(
        router: Router,
        components: Vec<Arc<ComponentRuntime>>,
        quiet: bool,
        local_addr: SocketAddr,
        max_instances: usize,
        limits: Limits,
    ) -> Self {
        App {
            router,
            components,
            quiet,
            local_addr,
            inflight: Arc::new(()),
            slots: Arc::new(Semaphore::new(max_instances)),
            limits,
        }
    }
}

const SCIM_ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error response (`application/scim+json`).
pub fn scim_error(status: StatusCode, detail: &str) -> Response<HyperOutgoingBody> {
    // Fields in the order RFC 7644 shows them.
    let body = format!(
        "{{\"schemas\":[\"{SCIM_ERROR_SCHEMA}\"],\"status\":\"{}\",\"detail\":{}}}",
        status.as_str(),
        json_string(detail)
    );
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    resp
}

/// A response with no body (Spin's answer to a path no route matches).
fn empty_response(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(
        Full::new(Bytes::new())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Formats a UTC timestamp as RFC 3339 with milliseconds.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut year = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    if month <= 2 {
        year += 1;
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Milliseconds with microsecond precision, as a JSON number.
fn millis(d: Duration) -> serde_json::Value {
    serde_json::Value::from((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
}

/// The request log line (fields in a fixed order). `route`: the trigger
/// route that matched, as written in the manifest (`/api/scim/v2/...`), or
/// `null` when none did. Never the request's path or query: they hold ids,
/// user names and email addresses (`/Users/alice@example.com`,
/// `?filter=userName eq "…"`); the component's own log line names the SCIM
/// route template (`/Users/{id}`). Spin's `http.route` span attribute is
/// the same trigger route. `instance`: how long the request's fresh
/// component instance took to set up (store, WASI context, instantiation),
/// when the request reached the component.
fn log_line(
    ts: &str,
    method: &str,
    route: Option<&str>,
    status: u16,
    elapsed: Duration,
    instance: Option<Duration>,
) -> String {
    let instance = instance
        .map(|d| format!(",\"instantiate_ms\":{}", millis(d)))
        .unwrap_or_default();
    let route = route.map_or_else(|| "null".to_string(), json_string);
    format!(
        "{{\"ts\":{},\"method\":{},\"route\":{route},\"status\":{status},\"duration_ms\":{}{instance}}}",
        json_string(ts),
        json_string(method),
        millis(elapsed)
    )
}

/// The method as logged: the standard ones by name, any other (a client
/// can send any token there) as `_OTHER`, as OpenTelemetry's
/// `http.request.method` convention has it.
fn log_method(m: &hyper::Method) -> &'static str {
    use hyper::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// Request log lines go through a bounded queue to a writer thread, so a
/// slow or unread stdout (a test harness that only reads the `Serving`
/// line) never blocks request handling; lines are dropped when the queue
/// is full, and write errors (closed pipe) are ignored.
static LOG_PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn log_request(
    method: &str,
    route: Option<&str>,
    status: u16,
    elapsed: Duration,
    instance: Option<Duration>,
) {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::{sync_channel, SyncSender};
    use std::sync::OnceLock;
    static QUEUE: OnceLock<Option<SyncSender<String>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<String>(4096);
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                use std::io::Write;
                // Lines that queued up meanwhile go out in one write; the
                // output is flushed whenever the queue is empty.
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
                while let Ok(mut line) = rx.recv() {
                    let mut written = 0;
                    loop {
                        let _ = writeln!(out, "{line}");
                        written += 1;
                        match rx.try_recv() {
                            Ok(next) => line = next,
                            Err(_) => break,
                        }
                    }
                    let _ = out.flush();
                    LOG_PENDING.fetch_sub(written, Ordering::SeqCst);
                }
            })
            .ok()
            .map(|_| tx)
    });
    let ts = rfc3339(std::time::SystemTime::now());
    let line = log_line(&ts, method, route, status, elapsed, instance);
    if let Some(tx) = queue {
        LOG_PENDING.fetch_add(1, Ordering::SeqCst);
        if tx.try_send(line).is_err() {
            LOG_PENDING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Waits (up to 2 s) until queued request log lines are written.
pub fn flush_request_log() {
    let deadline = Instant::now() + Duration::from_secs(2);
    while LOG_PENDING.load(std::sync::atomic::Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl App {
    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> std::result::Result<Response<HyperOutgoingBody>, Infallible> {
        let start = Instant::now();
        let method = log_method(req.method());
        // The path is used for routing only: it is never logged (ids, user
        // names and email addresses), nor is the query string.
        let path = req.uri().path().to_string();
        let mut instance = None;
        let route = self.router.route(&path);
        let resp = match &route {
            // As Spin's HTTP trigger answers a path no route matches: 404
            // with an empty body.
            None => empty_response(StatusCode::NOT_FOUND),
            Some(m) => match self.prepare_request(m, req, client) {
                Err(_) => scim_error(
                    StatusCode::BAD_REQUEST,
                    "Bad request: invalid Host header or request target",
                ),
                Ok((req, stalled)) => match self.invoke(m, req, stalled, &mut instance).await {
                    Ok(resp) => resp,
                    Err(e) => {
                        eprintln!("scim-host: {method} {}: {e:?}", m.raw);
                        scim_error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Internal error: the component failed to handle the request",
                        )
                    }
                },
            },
        };
        if !self.quiet {
            log_request(
                method,
                route.as_ref().map(|m| m.raw),
                resp.status().as_u16(),
                start.elapsed(),
                instance,
            );
        }
        Ok(resp)
    }

    fn prepare_request(
        &self,
        m: &RouteMatch<'_>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Result<(Request<TimedBody>, oneshot::Receiver<()>)> {
        let (mut parts, body) = req.into_parts();
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| self.local_addr.to_string());
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let full_url = format!("http://{host}{path_and_query}");
        parts.uri = hyper::Uri::builder()
            .scheme("http")
            .authority(host.as_str())
            .path_and_query(path_and_query.as_str())
            .build()
            .map_err(|e| format_err!("bad request URI: {e}"))?;
        if !parts.headers.contains_key(HOST) {
            parts.headers.insert(HOST, HeaderValue::from_str(&host)?);
        }

        // Clients must not be able to forge the headers Spin sets.
        let forged: Vec<HeaderName> = parts
            .headers
            .keys()
            .filter(|k| k.as_str().starts_with("spin-"))
            .cloned()
            .collect();
        for k in forged {
            parts.headers.remove(k);
        }
        let mut set = |name: HeaderName, value: &str| -> Result<()> {
            parts.headers.insert(name, HeaderValue::from_str(value)?);
            Ok(())
        };
        // Static names: no parsing or allocation per request.
        set(HeaderName::from_static("spin-full-url"), &full_url)?;
        set(HeaderName::from_static("spin-path-info"), &m.path_info)?;
        set(
            HeaderName::from_static("spin-matched-route"),
            m.matched_route,
        )?;
        set(
            HeaderName::from_static("spin-base-path"),
            self.router.base(),
        )?;
        set(HeaderName::from_static("spin-raw-component-route"), m.raw)?;
        set(
            HeaderName::from_static("spin-component-route"),
            m.component_route,
        )?;
        set(
            HeaderName::from_static("spin-client-addr"),
            &client.to_string(),
        )?;
        for (name, value) in &m.params {
            let name = format!("spin-path-match-{name}");
            set(HeaderName::from_bytes(name.as_bytes())?, value)?;
        }
        let (body, stalled) = TimedBody::new(body, self.limits.body);
        Ok((Request::from_parts(parts, body), stalled))
    }

    /// Runs the request in a fresh instance of the matched component. Sets
    /// `instance` to the time the instance took to set up once the
    /// component has answered. `stalled` resolves when the request body
    /// stalled (see `TimedBody`): the client is answered 408 at once.
    async fn invoke(
        &self,
        m: &RouteMatch<'_>,
        req: Request<TimedBody>,
        stalled: oneshot::Receiver<()>,
        instance: &mut Option<Duration>,
    ) -> Result<Response<HyperOutgoingBody>> {
        let rt = self.components[m.target].clone();
        // As under Spin: with every pool slot taken, instantiation fails
        // (wasmtime's pooling allocator refuses) and the request answers
        // 500; it does not wait for a slot.
        let slot =
            self.slots.clone().try_acquire_owned().map_err(|_| {
                format_err!("no free instance slot (SPIN_MAX_INSTANCE_COUNT reached)")
            })?;

        let setup = Instant::now();
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().stderr(GuestStderr);
        for (k, v) in &rt.environment {
            wasi.env(k, v);
        }
        for (host_dir, guest) in &rt.preopens {
            wasi.preopened_dir(host_dir, guest, FsPerms::ReadOnly)?;
        }
        let mut guest = Guest {
            store: Store::new(
                rt.pre.engine(),
                HostState::new(wasi.build(), rt.env.clone()),
            ),
            _slot: slot,
        };
        let store = &mut guest.store;
        // Yield to the runtime at every epoch tick (see `EPOCH_TICK`).
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);

        let (sender, receiver) = oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = rt.pre.clone();
        let token = self.inflight.clone();
        let id = rt.id.clone();
        // Nanoseconds; written by the task before the component can answer.
        let ready = Arc::new(AtomicU64::new(0));
        let ready_in_task = ready.clone();

        // The guest runs in its own task so that it can keep streaming the
        // body after the response head has been handed to hyper.
        let task = tokio::task::spawn(async move {
            let _inflight = token;
            let result: Result<()> = async {
                let proxy = pre.instantiate_async(&mut guest.store).await?;
                let nanos = u64::try_from(setup.elapsed().as_nanos()).unwrap_or(u64::MAX);
                ready_in_task.store(nanos.max(1), Ordering::Release);
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut guest.store, req, out)
                    .await
            }
            .await;
            drop(guest);
            if let Err(e) = &result {
                eprintln!("scim-host: component {id:?} failed: {e:?}");
            }
            result.is_ok()
        });

        // If the client goes away before the response head is ready, hyper
        // drops this future: stop the guest too.
        let mut abort = AbortOnDrop(Some(task.abort_handle()));
        let answer = tokio::select! {
            // First: a guest answering the body error it was just given
            // (the timeout is reported before the error reaches it) must
            // not win over the timeout.
            biased;
            _ = limits::timed_out(stalled) => {
                // The network side decided, as an ingress's body timeout
                // would: the client gets 408 and the connection closes. The
                // guest has been given the error a Spin guest reads when its
                // client goes away mid-body, and runs on to its end as under
                // Spin (its answer goes nowhere); it frees its instance slot
                // when it returns.
                abort.disarm();
                let mut resp = scim_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "Request Timeout: the request body stalled",
                );
                resp.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                return Ok(resp);
            }
            answer = receiver => answer,
        };
        match answer {
            Ok(Ok(resp)) => {
                abort.disarm();
                let nanos = ready.load(Ordering::Acquire);
                *instance = (nanos > 0).then(|| Duration::from_nanos(nanos));
                Ok(resp)
            }
            Ok(Err(code)) => Err(format_err!("component returned an error code: {code:?}")),
            Err(_) => {
                let ok = task.await.unwrap_or(false);
                if ok {
                    Err(format_err!(
                        "component {:?} returned without setting a response",
                        rt.id
                    ))
                } else {
                    Err(format_err!("component {:?} trapped (see above)", rt.id))
                }
            }
        }
    }
}

/// A request's store and the pool slot it runs in. Fields drop in order:
/// the instance returns its slot to the allocator before the permit lets
/// another request take it.
struct Guest {
    store: Store<HostState>,
    _slot: OwnedSemaphorePermit,
}

/// Aborts a task when dropped, unless disarmed.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl AbortOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` resolves, then stops accepting and
/// waits (up to 30 s) for open connections and running guests to finish.
///
/// Each connection is served by hyper's HTTP/1 server with the header
/// timeout (`--header-timeout`; it also closes a keep-alive connection
/// left idle that long) and the send timeout (`--send-timeout`), while at
/// most `--max-connections` are open; beyond that a connection is answered
/// 503 at once (see `limits::refuse`). Spin 4.0.2 has none of these (see
/// `limits`).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    let limits = app.limits;
    let open = limits.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let refusals = Arc::new(Semaphore::new(limits::MAX_REFUSALS));
    let refusal: Arc<[u8]> =
        limits::refusal("Service Unavailable: too many connections; retry shortly").into();
    // Whether the last connection was refused (the limit is logged once
    // per episode, not once per connection).
    let mut refusing = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("scim-host: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // No TCP_NODELAY: Spin's HTTP trigger never sets it
                // (crates/trigger-http/src/server.rs, `serve_http`), so a
                // response whose body follows its head in a second small
                // write waits for the client's delayed ACK there too.
                let permit = match &open {
                    None => None,
                    Some(open) => match open.clone().try_acquire_owned() {
                        Ok(p) => Some(p),
                        Err(_) => {
                            if !refusing {
                                refusing = true;
                                eprintln!(
                                    "scim-host: {} connections open (--max-connections): \
                                     answering new ones 503 until some close",
                                    limits.max_connections.unwrap_or_default()
                                );
                            }
                            // Beyond MAX_REFUSALS refusals at once, closed
                            // without an answer.
                            if let Ok(turn) = refusals.clone().try_acquire_owned() {
                                let refusal = refusal.clone();
                                conns.spawn(async move {
                                    limits::refuse(stream, &refusal).await;
                                    drop(turn);
                                });
                            }
                            while conns.try_join_next().is_some() {}
                            continue;
                        }
                    },
                };
                refusing = false;
                let app = app.clone();
                let mut stop = stop_rx.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |req| app.clone().handle(req, client));
                    let mut builder = http1::Builder::new();
                    builder
                        .keep_alive(true)
                        // hyper's header timer starts when it waits for a
                        // request head: at the connection's start and after
                        // each response (an idle keep-alive connection).
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(limits.header_timeout);
                    // Writes that make no progress for the send timeout fail
                    // (the client reads nothing).
                    let io = TokioIo::new(limits::SendTimeout::new(stream, limits.send_timeout));
                    let conn = builder.serve_connection(io, service);
                    tokio::pin!(conn);
                    let result = tokio::select! {
                        r = conn.as_mut() => r,
                        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        // A timed-out head (slow or idle client) is
                        // housekeeping, not worth a line each.
                        if !e.is_incomplete_message() && !e.is_timeout() {
                            eprintln!("scim-host: connection from {client}: {e}");
                        }
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
        while Arc::strong_count(&app.inflight) > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    if drained.is_err() {
        eprintln!("scim-host: gave up waiting for in-flight requests after {DRAIN_TIMEOUT:?}");
        conns.abort_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_764_070_911_123);
        assert_eq!(rfc3339(t), "2025-11-25T11:41:51.123Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn scim_error_body() {
        let r = scim_error(StatusCode::NOT_FOUND, "no \"route\"");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/scim+json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no \"route\""}"#
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], "404");
    }

    #[test]
    fn log_line_format() {
        let line = log_line(
            "2026-01-01T00:00:00.000Z",
            "GET",
            Some("/api/scim/v2/..."),
            200,
            Duration::from_micros(812),
            Some(Duration::from_micros(95)),
        );
        assert_eq!(
            line,
            r#"{"ts":"2026-01-01T00:00:00.000Z","method":"GET","route":"/api/scim/v2/...","status":200,"duration_ms":0.812,"instantiate_ms":0.095}"#
        );
        // Answered by the host itself (no route): no instance.
        let line = log_line("t", "GET", None, 404, Duration::from_micros(5), None);
        assert_eq!(
            line,
            r#"{"ts":"t","method":"GET","route":null,"status":404,"duration_ms":0.005}"#
        );
    }

    #[test]
    fn logged_methods() {
        use hyper::Method;
        assert_eq!(log_method(&Method::GET), "GET");
        assert_eq!(log_method(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"ALICE").unwrap();
        assert_eq!(log_method(&custom), "_OTHER");
    }
}
