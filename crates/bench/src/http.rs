//! A minimal HTTP/1.1 client over `std::net::TcpStream`: one keep-alive
//! connection per worker, reopened when the server closes it (HTTP/1.0
//! servers such as Python's `wsgiref` close after every response).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A request relative to a server's SCIM base path.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    /// Below the base path, e.g. `/Users/123?attributes=id`.
    pub path: String,
    pub body: Option<Vec<u8>>,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req {
            method: "GET",
            path: path.into(),
            body: None,
        }
    }

    pub fn delete(path: impl Into<String>) -> Req {
        Req {
            method: "DELETE",
            path: path.into(),
            body: None,
        }
    }

    pub fn json(method: &'static str, path: impl Into<String>, body: &serde_json::Value) -> Req {
        Req {
            method,
            path: path.into(),
            body: Some(serde_json::to_vec(body).expect("serialisable body")),
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Where to send requests.
#[derive(Debug, Clone)]
pub struct Target {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The SCIM base path, e.g. `/api/scim/v2` or `/v2`.
    pub base: String,
    /// Sent as `Authorization: Bearer …` when set (and `auth` is on).
    pub token: Option<String>,
}

/// One connection to a target, reopened on demand.
pub struct Conn {
    target: Target,
    stream: Option<BufReader<TcpStream>>,
    /// How many times the connection was (re)opened.
    pub connects: u64,
}

const IO_TIMEOUT: Duration = Duration::from_secs(120);

impl Conn {
    pub fn new(target: &Target) -> Conn {
        Conn {
            target: target.clone(),
            stream: None,
            connects: 0,
        }
    }

    fn open(&mut self) -> std::io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.target.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            self.connects += 1;
            self.stream = Some(BufReader::with_capacity(64 * 1024, s));
        }
        Ok(self.stream.as_mut().expect("just opened"))
    }

    /// Sends `req` with the bearer token (when `auth`) and reads the whole
    /// response. A request on a reused connection that the server closed
    /// meanwhile is retried once on a fresh connection.
    pub fn send(&mut self, req: &Req, auth: bool) -> std::io::Result<Resp> {
        let reused = self.stream.is_some();
        match self.exchange(req, auth) {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                self.stream = None;
                self.exchange(req, auth)
            }
            Err(e) => Err(e),
        }
    }

    fn exchange(&mut self, req: &Req, auth: bool) -> std::io::Result<Resp> {
        let mut head = format!(
            "{} {}{} HTTP/1.1\r\nhost: {}\r\naccept: application/scim+json\r\n",
            req.method, self.target.base, req.path, self.target.addr
        );
        if auth {
            if let Some(t) = &self.target.token {
                head.push_str("authorization: Bearer ");
                head.push_str(t);
                head.push_str("\r\n");
            }
        }
        match &req.body {
            Some(b) => {
                head.push_str("content-type: application/scim+json\r\n");
                head.push_str(&format!("content-length: {}\r\n\r\n", b.len()));
            }
            None => head.push_str("\r\n"),
        }
        let mut out = head.into_bytes();
        if let Some(b) = &req.body {
            out.extend_from_slice(b);
        }
        let result = (|| {
            let s = self.open()?;
            s.get_mut().write_all(&out)?;
            read_response(s)
        })();
        match result {
            Ok((resp, keep)) => {
                if !keep {
                    self.stream = None;
                }
                Ok(resp)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one response; returns it and whether the connection stays open.
fn read_response(s: &mut BufReader<TcpStream>) -> std::io::Result<(Resp, bool)> {
    let mut line = String::new();
    if s.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the response",
        ));
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut keep = version.eq_ignore_ascii_case("HTTP/1.1");
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Err(bad("connection closed inside the response head"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("connection") {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    keep = false;
                } else if v.contains("keep-alive") {
                    keep = true;
                }
            }
        }
    }
    let mut body = Vec::new();
    if status == 204 || status == 304 {
        // No body.
    } else if chunked {
        loop {
            line.clear();
            s.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if s.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            s.read_exact(&mut body[start..])?;
            line.clear();
            s.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        s.read_exact(&mut body)?;
    } else {
        s.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((Resp { status, body }, keep))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
