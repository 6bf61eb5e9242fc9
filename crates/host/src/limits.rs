//! Network-side limits: how long a client may take to send a request head
//! and a request body, how long it may leave a response unread, and how
//! many connections are served at once.
//!
//! Real Spin 4.0.2 has none of them. Its HTTP trigger
//! (`crates/trigger-http/src/server.rs`, `serve_http` / `serve_connection`)
//! accepts every connection in a loop and serves each with
//! `hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())`,
//! setting only `http1().max_buf_size` (`--http1-max-buf-size`). No timer is
//! given to hyper, so hyper's default 30 s `header_read_timeout` is dropped
//! (`hyper::common::time::Time::check`: "timeout has default, but no timer
//! set"); there is no body read timeout and no write timeout, keep-alive
//! connections stay open while idle, and there is no connection limit: half
//! a request line or 10 of 100 announced body bytes hold the connection —
//! and, for the body, the guest instance reading it — until the client goes
//! away (measured: still open after 45 s and 90 s under `spin up`; 300 idle
//! connections all accepted). `--request-timeout` exists but, in 4.0.2, acts
//! on WASIp3 components only. The deployment guide (deploy/README.md,
//! "Limits Spin does not have") puts these limits in the ingress in front of
//! Spin; the local host has them itself, and `--header-timeout 0
//! --body-idle-timeout 0 --body-timeout 0 --send-timeout 0
//! --max-connections 0` gives back Spin's unlimited behaviour.
//!
//! The limits act on the network side only: the guest sees nothing that it
//! could not see under Spin behind such an ingress. A stalled body ends in
//! the same body-stream error a Spin guest gets when its client goes away
//! mid-body (`ErrorCode::HttpProtocolError`, what Spin's
//! `hyper_response_error` maps a hyper body error to), an unread response in
//! the closed stream it gets when its client goes away mid-response, and the
//! guest runs on to its end as under Spin; only the client's answer (408,
//! 503, or a closed connection) comes from the host.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// Default: most time from a connection's start (or the end of its
/// previous response, on a keep-alive connection) to the end of the next
/// request head.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default: most time a request body may send nothing while the guest
/// waits for it.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Default: most time a request body may take in all, from the guest's
/// first read (a 1 MiB body, the component's default limit, at 20 KB/s).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default: most time a response may wait to be sent because the client
/// reads nothing (as nginx's `send_timeout`, between two writes).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default: most connections served at once. A 2-core machine runs two
/// guests at a time; 128 connections keep every core busy with plenty of
/// requests queued, and bound what slow or idle clients can hold.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// How long a refused connection is given to read its 503 before it is
/// closed, and how many refusals run at once (beyond that, over-limit
/// connections are closed without an answer).
const REFUSAL_LINGER: Duration = Duration::from_secs(2);
pub const MAX_REFUSALS: usize = 64;

/// The host's network-side limits; `None` is "no limit" (as `spin up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Option<Duration>,
    pub body: BodyTimeouts,
    pub send_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Some(DEFAULT_HEADER_TIMEOUT),
            body: BodyTimeouts {
                idle: Some(DEFAULT_BODY_IDLE_TIMEOUT),
                total: Some(DEFAULT_BODY_TIMEOUT),
            },
            send_timeout: Some(DEFAULT_SEND_TIMEOUT),
            max_connections: Some(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

/// Parses a timeout: seconds (`5`, `2.5`, `5s`) or milliseconds (`500ms`);
/// `0` or `off` is no timeout.
pub fn parse_timeout(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (number, scale) = match s.strip_suffix("ms") {
        Some(n) => (n, 1e-3),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let secs = number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * scale <= 86_400.0)
        .ok_or_else(|| {
            format!("{s:?} is not a timeout (seconds, e.g. 5 or 2.5s, or 500ms; 0 or off: none)")
        })?
        * scale;
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

/// Parses a connection count; `0` or `off` is no limit.
pub fn parse_count(s: &str) -> Result<Option<usize>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a count (0 or off: no limit)"))?;
    Ok((n > 0).then_some(n))
}

/// How long a request body may take: at most `idle` without data, and at
/// most `total` in all, while the guest waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyTimeouts {
    pub idle: Option<Duration>,
    pub total: Option<Duration>,
}

/// A request body whose reads fail once the client has sent nothing for
/// `idle`, or has not finished within `total` of the guest's first read,
/// while the guest waits for it.
///
/// The clocks bite only while a read is pending (the guest asked for data
/// and none has arrived): a guest that reads slowly, or not at all, is not
/// the client's stall. `total` bounds a body trickled a byte at a time,
/// which resets any idle clock. When one expires, the body drops the
/// connection's body (hyper then stops reading the request and closes the
/// connection after the answer), tells the server through `on_timeout`,
/// and returns `HttpProtocolError`: what a Spin guest reads when its client
/// goes away mid-body.
pub struct TimedBody<B = Incoming> {
    inner: Option<B>,
    limits: BodyTimeouts,
    /// When the guest first read.
    started: Option<Instant>,
    /// Armed while a read is pending.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    on_timeout: Option<oneshot::Sender<()>>,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`; the receiver resolves (with `Ok`) when the body timed
    /// out, and fails when the body is dropped without timing out.
    pub fn new(inner: B, limits: BodyTimeouts) -> (TimedBody<B>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let body = TimedBody {
            inner: Some(inner),
            limits,
            started: None,
            timer: None,
            armed: false,
            on_timeout: Some(tx),
        };
        (body, rx)
    }

    /// When a read pending from `now` times out, if ever.
    fn deadline(&self, now: Instant) -> Option<Instant> {
        let idle = self.limits.idle.map(|d| now + d);
        let total = self.limits.total.zip(self.started).map(|(d, t)| t + d);
        match (idle, total) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let now = Instant::now();
        this.started.get_or_insert(now);
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.armed {
                    let Some(deadline) = this.deadline(now) else {
                        return Poll::Pending;
                    };
                    match &mut this.timer {
                        Some(timer) => timer.as_mut().reset(deadline),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                    this.armed = true;
                }
                let Some(timer) = this.timer.as_mut() else {
                    return Poll::Pending;
                };
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.inner = None;
                this.timer = None;
                if let Some(tx) = this.on_timeout.take() {
                    let _ = tx.send(());
                }
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpProtocolError)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

/// A connection whose writes fail once one has made no progress for
/// `limit`: the client reads nothing (a response it never reads, or
/// pipelined requests whose answers it never collects). hyper then drops
/// the connection, and the guest still writing the response reads a closed
/// stream, as when its client goes away under Spin. Without it a client
/// that stops reading holds its connection (and its place under
/// `--max-connections`) for good, and, for a response larger than the
/// host's body buffer (2 MiB), the instance writing it.
pub struct SendTimeout<S> {
    inner: S,
    limit: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<S> SendTimeout<S> {
    pub fn new(inner: S, limit: Option<Duration>) -> SendTimeout<S> {
        SendTimeout {
            inner,
            limit,
            timer: None,
            armed: false,
        }
    }

    /// Passes a write's outcome through, arming the clock while it is
    /// pending and failing it once the clock expires.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.armed = false;
            return r;
        }
        let Some(limit) = self.limit else {
            return r;
        };
        let deadline = Instant::now() + limit;
        if !self.armed {
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match self.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => {
                self.armed = false;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "send timeout: the client reads nothing",
                )))
            }
            _ => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The answer to a connection beyond `--max-connections`.
pub fn refusal(detail: &str) -> Vec<u8> {
    let body = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],\"status\":\"503\",\"detail\":{}}}",
        serde_json::Value::String(detail.to_string())
    );
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/scim+json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Answers a connection beyond the limit with 503 at once, without waiting
/// for its request: an idle connection is answered too. The answer is
/// written, the sending side shut, and whatever the client sends is read
/// and discarded for up to [`REFUSAL_LINGER`], so that closing does not
/// reset the connection before the client has read the answer.
pub async fn refuse(mut stream: TcpStream, answer: &[u8]) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// A future that never resolves when the receiver fails (the body was
/// dropped without timing out), and resolves when the body timed out.
pub async fn timed_out(rx: oneshot::Receiver<()>) {
    if rx.await.is_err() {
        std::future::pending::<Infallible>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timeouts() {
        let s = |x: u64| Ok(Some(Duration::from_secs(x)));
        assert_eq!(parse_timeout("5"), s(5));
        assert_eq!(parse_timeout("5s"), s(5));
        assert_eq!(parse_timeout(" 30 "), s(30));
        assert_eq!(parse_timeout("2.5"), Ok(Some(Duration::from_millis(2500))));
        assert_eq!(parse_timeout("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert_eq!(parse_timeout("0s"), Ok(None));
        assert_eq!(parse_timeout("off"), Ok(None));
        for bad in ["", "-1", "five", "5m", "1e9", "NaN", "inf"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_counts() {
        assert_eq!(parse_count("128"), Ok(Some(128)));
        assert_eq!(parse_count("0"), Ok(None));
        assert_eq!(parse_count("OFF"), Ok(None));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("many").is_err());
    }

    /// A body fed by a channel, as hyper's `Incoming` is fed by the
    /// connection.
    struct ChanBody(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for ChanBody {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    type Next = Option<Result<Frame<Bytes>, wasmtime_wasi_http::Error>>;

    /// The next frame, or `None` when none comes within `wait`.
    async fn next(body: &mut TimedBody<ChanBody>, wait: Duration) -> Option<Next> {
        use http_body_util::BodyExt;
        tokio::time::timeout(wait, body.frame()).await.ok()
    }

    fn data(n: Option<Next>) -> Bytes {
        match n {
            Some(Some(Ok(f))) => f.into_data().unwrap(),
            other => panic!("expected a data frame, got {other:?}"),
        }
    }

    const IDLE: Duration = Duration::from_millis(200);

    fn idle(d: Duration) -> BodyTimeouts {
        BodyTimeouts {
            idle: Some(d),
            total: None,
        }
    }

    #[tokio::test]
    async fn a_stalled_body_fails_after_the_idle_time() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (mut body, timeout) = TimedBody::new(ChanBody(rx), idle(IDLE));
        tx.send(Bytes::from_static(b"{\"userName")).await.unwrap();
        assert_eq!(data(next(&mut body, IDLE).await), "{\"userName");
        let start = std::time::Instant::now();
        match next(&mut body, 20 * IDLE).await {
            Some(Some(Err(wasmtime_wasi_http::Error::HttpProtocolError))) => {}
            other => panic!("expected the disconnect error, got {other:?}"),
        }
        assert!(start.elapsed() >= IDLE, "{:?}", start.elapsed());
        // The server learns of it; the body has ended (the connection's
        // body is dropped, so hyper stops reading it).
        tokio::time::timeout(IDLE, timed_out(timeout))
            .await
            .expect("the timeout is reported");
        assert!(body.is_end_stream());
        assert!(matches!(next(&mut body, IDLE).await, Some(None)));
        // The sender sees the body gone.
        assert!(tx.send(Bytes::from_static(b"late")).await.is_err());
    }

    #[tokio::test]
    async fn the_clock_runs_only_while_the_guest_waits() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (mut body, timeout) = TimedBody::new(ChanBody(rx), idle(IDLE));
        // Pending for a while, then data in time.
        let feed = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(IDLE / 2).await;
            feed.send(Bytes::from_static(b"a")).await.unwrap();
        });
        assert_eq!(data(next(&mut body, 10 * IDLE).await), "a");
        // The guest does not read for longer than the idle time: not the
        // client's stall.
        tokio::time::sleep(3 * IDLE).await;
        tx.send(Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(data(next(&mut body, IDLE).await), "b");
        // A fresh wait gets the whole idle time again.
        let feed = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(IDLE / 2).await;
            feed.send(Bytes::from_static(b"c")).await.unwrap();
        });
        assert_eq!(data(next(&mut body, 10 * IDLE).await), "c");
        drop(tx);
        assert!(matches!(next(&mut body, IDLE).await, Some(None)));
        drop(body);
        // Dropped without timing out: the server is never told otherwise.
        assert!(tokio::time::timeout(IDLE, timed_out(timeout))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn no_idle_timeout_waits_as_spin_does() {
        let (_tx, rx) = tokio::sync::mpsc::channel(4);
        let (mut body, _timeout) = TimedBody::new(ChanBody(rx), BodyTimeouts::default());
        assert!(next(&mut body, 3 * IDLE).await.is_none());
    }

    #[tokio::test]
    async fn a_trickled_body_fails_after_the_total_time() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let limits = BodyTimeouts {
            idle: Some(10 * IDLE),
            total: Some(3 * IDLE),
        };
        let (mut body, timeout) = TimedBody::new(ChanBody(rx), limits);
        // A byte every IDLE / 2: the idle clock never expires.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE / 2).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    return;
                }
            }
        });
        let start = std::time::Instant::now();
        let mut bytes = 0;
        loop {
            match next(&mut body, 30 * IDLE).await {
                Some(Some(Ok(_))) => bytes += 1,
                Some(Some(Err(wasmtime_wasi_http::Error::HttpProtocolError))) => break,
                other => panic!("expected data, then the disconnect error: {other:?}"),
            }
        }
        let took = start.elapsed();
        assert!(took >= 3 * IDLE && took < 15 * IDLE, "{took:?}");
        assert!(bytes >= 2, "{bytes}");
        tokio::time::timeout(IDLE, timed_out(timeout))
            .await
            .expect("the timeout is reported");
    }

    #[tokio::test]
    async fn writes_fail_once_the_reader_stops() {
        let (near, mut far) = tokio::io::duplex(256);
        let mut conn = SendTimeout::new(near, Some(IDLE));
        // While the far side reads (slowly, within the limit), writes go on.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                tokio::time::sleep(IDLE / 4).await;
                let _ = far.read(&mut buf).await;
            }
            far // then it stops reading, and keeps the stream open
        });
        let chunk = [7u8; 64];
        let start = std::time::Instant::now();
        let err = loop {
            if let Err(e) = conn.write_all(&chunk).await {
                break e;
            }
            assert!(start.elapsed() < 50 * IDLE, "writes never fail");
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Ten reads, IDLE / 4 apart, then the limit.
        let took = start.elapsed();
        assert!(took >= IDLE * 10 / 4 + IDLE, "{took:?}");
        assert!(took < 20 * IDLE, "{took:?}");
        let _far = reader.await.unwrap();
    }

    #[tokio::test]
    async fn no_send_timeout_waits_as_spin_does() {
        let (near, _far) = tokio::io::duplex(64);
        let mut conn = SendTimeout::new(near, None);
        conn.write_all(&[1u8; 64]).await.unwrap();
        let more = tokio::time::timeout(3 * IDLE, conn.write_all(&[1u8; 64])).await;
        assert!(more.is_err(), "the write waits");
    }

    #[test]
    fn refusal_is_a_complete_response() {
        let r = refusal("too many connections");
        let text = String::from_utf8(r).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], "503");
        assert_eq!(v["detail"], "too many connections");
    }
}
