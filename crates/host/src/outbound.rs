//! `allowed_outbound_hosts`: which outbound HTTP requests a component may
//! make, in Spin's `scheme://host[:port]` syntax (`*` wildcards for the
//! scheme, the host, a leading `*.` subdomain, or the port; no port means
//! the scheme's default port).
//!
//! Timeouts: an allowed request is sent by wasmtime-wasi-http's
//! `default_send_request` (`host.rs`), which applies the `wasi:http`
//! request options as Spin 4.0.2 does (`factor-outbound-http/src/wasi.rs`):
//! each unset one defaults to 600 s; `connect-timeout` bounds the TCP
//! connect, `first-byte-timeout` the wait for the response head
//! (`connection-read-timeout` when it fires), `between-bytes-timeout` every
//! gap between body frames (a timer reset per frame, as Spin's
//! `BetweenBytesTimeoutBody`). Checked end to end by `tests/jwks_url.rs`,
//! under both. One difference is left: Spin runs DNS, connect and the TLS
//! handshake inside its first-byte timeout, wasmtime bounds DNS and connect
//! by the connect timeout and the TLS handshake not at all: a TLS peer that
//! stalls its handshake is cut off by Spin, not here. (The component keeps
//! its own deadline, so its JWKS fetch ends in time under both;
//! `tests/jwks_url.rs` checks that too.) The fix belongs in `host.rs`: wrap
//! `default_send_request` in `tokio::time::timeout(first_byte_timeout, ..)`.

use wasmtime::{bail, format_err, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern<T> {
    Any,
    Exact(T),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`: any subdomain of `example.com`.
    Subdomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    scheme: Pattern<String>,
    host: HostPattern,
    /// `None` = the default port of the request's scheme.
    port: Option<Pattern<u16>>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    fn parse(s: &str) -> Result<Self> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format_err!("{s:?} must be of the form scheme://host[:port]"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("{s:?}: paths are not allowed");
        }
        let scheme = match scheme {
            "*" => Pattern::Any,
            "http" | "https" => Pattern::Exact(scheme.to_string()),
            other => bail!("{s:?}: unsupported scheme {other:?}"),
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format_err!("{s:?}: invalid IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format_err!("{s:?}: invalid port"))?,
                ),
            };
            (h, port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomain(suffix.to_string())
        } else if host.is_empty() || host.contains('*') {
            bail!("{s:?}: invalid host");
        } else {
            HostPattern::Exact(host)
        };
        let port = match port {
            None => None,
            Some("*") => Some(Pattern::Any),
            Some(p) => Some(Pattern::Exact(
                p.parse()
                    .map_err(|_| format_err!("{s:?}: invalid port {p:?}"))?,
            )),
        };
        Ok(AllowedHost { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if let Pattern::Exact(s) = &self.scheme {
            if s != scheme {
                return false;
            }
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomain(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|p| p.ends_with('.') && p.len() > 1),
        };
        if !host_ok {
            return false;
        }
        let Some(port) = port.or_else(|| default_port(scheme)) else {
            return false;
        };
        match &self.port {
            Some(Pattern::Any) => true,
            Some(Pattern::Exact(p)) => *p == port,
            None => default_port(scheme) == Some(port),
        }
    }
}

/// The outbound policy of one component.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Vec<AllowedHost>,
}

impl OutboundPolicy {
    /// Parses the (already template-expanded) `allowed_outbound_hosts`.
    /// Empty entries (e.g. from a variable left empty) are skipped.
    pub fn new(entries: &[String]) -> Result<Self> {
        let allowed = entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(AllowedHost::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(OutboundPolicy { allowed })
    }

    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether a request to `uri` is allowed.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed
            .iter()
            .any(|a| a.allows(scheme, host, uri.port_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn allows(p: &OutboundPolicy, uri: &str) -> bool {
        p.allows(&uri.parse().unwrap())
    }

    #[test]
    fn matching() {
        let p = policy(&[
            "https://login.example.com",
            "http://127.0.0.1:8080",
            "https://*.idp.test:*",
        ]);
        assert!(allows(&p, "https://login.example.com/keys"));
        assert!(allows(&p, "https://login.example.com:443/keys"));
        assert!(!allows(&p, "https://login.example.com:8443/keys"));
        assert!(!allows(&p, "http://login.example.com/keys"));
        assert!(allows(&p, "http://127.0.0.1:8080/jwks.json"));
        assert!(!allows(&p, "http://127.0.0.1:8081/jwks.json"));
        assert!(allows(&p, "https://a.idp.test:9999/x"));
        assert!(!allows(&p, "https://idp.test/x"));
        assert!(!allows(&p, "https://evil.com/x"));
        assert!(policy(&[]).is_empty());
        assert!(!allows(&policy(&[]), "https://login.example.com/"));
        assert!(allows(&policy(&["*://*:*"]), "http://anything:1234/"));
        assert!(allows(
            &policy(&["https://[::1]:8443"]),
            "https://[::1]:8443/"
        ));
    }

    #[test]
    fn parsing() {
        assert!(OutboundPolicy::new(&["example.com".into()]).is_err());
        assert!(OutboundPolicy::new(&["ftp://example.com".into()]).is_err());
        assert!(OutboundPolicy::new(&["https://example.com/path".into()]).is_err());
        assert!(OutboundPolicy::new(&["https://example.com:x".into()]).is_err());
        assert!(OutboundPolicy::new(&["".into(), " ".into()])
            .unwrap()
            .is_empty());
    }
}
