//! The engine's view of an HTTP exchange: plain owned data, so the engine
//! runs the same under Spin, under the local host and in unit tests.

use crate::error::ScimError;
use serde_json::Value;

/// Media type of every SCIM response (RFC 7644 §3.1, §8.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

/// One HTTP request as the engine sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The method, upper case as sent (`GET`, `PATCH`, …).
    pub method: String,
    /// The path below the SCIM base, e.g. `/Users/2819c223`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, at most `max_body_bytes` (the adapter cuts it there).
    pub body: Vec<u8>,
    /// Absolute base URL of the SCIM API, e.g. `https://h/api/scim/v2`,
    /// used for `meta.location` and `Location`.
    pub base_url: String,
}

impl Request {
    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order: one per header line with that
    /// (case-insensitive) name. Where a repeated header is an attack
    /// (`Authorization`, RFC 6750 §3.1 `invalid_request`), count them.
    pub fn header_values<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `return` preference of a `Prefer` header (RFC 7240 §4.2):
    /// `return=minimal` or `return=representation`, whichever comes first
    /// among the request's preferences. Unknown preferences are ignored, as
    /// RFC 7240 §2 asks.
    pub fn prefer_return(&self) -> Option<Return> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("prefer"))
            .flat_map(|(_, v)| v.split(','))
            .find_map(|pref| {
                // A preference's own value comes before any `;` parameters.
                let (name, value) = pref.split(';').next()?.split_once('=')?;
                if !name.trim().eq_ignore_ascii_case("return") {
                    return None;
                }
                match value.trim().trim_matches('"').to_ascii_lowercase().as_str() {
                    "minimal" => Some(Return::Minimal),
                    "representation" => Some(Return::Representation),
                    _ => None,
                }
            })
    }

    /// Decoded query parameters, in order. `+` is a space
    /// (application/x-www-form-urlencoded), `%XX` is decoded; invalid UTF-8
    /// is replaced rather than rejected.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    /// A query parameter by case-insensitive name (RFC 7644 §3.4.2 parameter
    /// names are case-insensitive in practice: IdPs send `Filter`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// The absolute base URL of the API as the client addressed it
/// (`scheme://authority` + `api_prefix`), for `Location` and `meta.location`
/// (RFC 7644 §3.1). `headers` are the request's (lower-case names).
///
/// The scheme and authority come from `spin-full-url` (which Spin builds from
/// the request), else `Host` (RFC 9110 §7.2). `X-Forwarded-Proto` and
/// `X-Forwarded-Host` replace them only when `trust_forwarded` says a proxy
/// in front sets them; a client could send them otherwise. A proxy appends
/// to a list it received, so the last value (the nearest proxy's) counts.
///
/// Whatever is used is validated: the scheme must be `http` or `https`, the
/// authority a host name, IPv4 address or bracketed IPv6 address with an
/// optional port (RFC 3986 §3.2, no user info, no path). Anything else is a
/// 400 (RFC 9112 §3.2 answers an invalid `Host` so), never reflected.
pub fn base_url(
    headers: &[(String, String)],
    trust_forwarded: bool,
    api_prefix: &str,
) -> Result<String, ScimError> {
    let first = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    // The nearest proxy's value: the last element of the last header line.
    let forwarded = |name: &str| {
        headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let full = first("spin-full-url").unwrap_or("");
    let (mut scheme, rest) = match full.split_once("://") {
        Some((s, rest)) => (s.to_string(), rest),
        None => ("http".to_string(), ""),
    };
    let mut host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|a| !a.is_empty())
        .or_else(|| first("host").filter(|h| !h.is_empty()))
        .unwrap_or("localhost")
        .to_string();
    if trust_forwarded {
        if let Some(p) = forwarded("x-forwarded-proto") {
            scheme = p.to_string();
        }
        if let Some(h) = forwarded("x-forwarded-host") {
            host = h.to_string();
        }
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(ScimError::new(
            400,
            None,
            "the request's scheme is not http or https",
        ));
    }
    if !valid_authority(&host) {
        return Err(ScimError::new(
            400,
            None,
            "the request's host is not a valid host name with an optional port",
        ));
    }
    Ok(format!("{scheme}://{host}{api_prefix}"))
}

/// `host[:port]` (RFC 3986 §3.2.2, §3.2.3), restricted to what a base URL
/// may carry: a registered name of letters, digits, `-`, `.`, `_` (at most
/// 253 bytes), or a bracketed IPv6 address, and a port of 1–65535.
fn valid_authority(a: &str) -> bool {
    let (host, port) = if let Some(v6) = a.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return false;
        };
        if addr.is_empty()
            || addr.len() > 45
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return false,
            },
        }
    } else {
        match a.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(a), None),
        }
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            && !h.starts_with(['.', '-'])
    });
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    });
    host_ok && port_ok
}

/// Decode `%XX` escapes and `+` (as a space) in a query component; invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a client prefers a successful write to answer (RFC 7240 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// No body: `204 No Content` with the new `ETag`.
    Minimal,
    /// The resource, as a GET would return it.
    Representation,
}

impl Return {
    /// The `Preference-Applied` value (RFC 7240 §3) for this preference.
    pub fn applied(self) -> &'static str {
        match self {
            Return::Minimal => "return=minimal",
            Return::Representation => "return=representation",
        }
    }
}

/// One HTTP response as the engine produces it.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (JSON, or empty).
    pub body: Vec<u8>,
}

impl Response {
    /// A SCIM JSON response.
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), SCIM_CONTENT_TYPE.into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
    /// A response whose body is already serialised JSON.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), SCIM_CONTENT_TYPE.into())],
            body,
        }
    }
    /// A response without a body (204, 304).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// The SCIM error response of `e` (RFC 7644 §3.12). A 503 (the store
    /// unreachable, or too much concurrent change) says when to try again:
    /// `Retry-After: 1` (RFC 9110 §10.2.3), unless the caller sets another.
    pub fn error(e: &ScimError) -> Response {
        let r = Response::json(e.status, &e.to_json());
        if e.status == 503 {
            return r.with_header("retry-after", "1");
        }
        r
    }
    /// This response with one more header (replacing `retry-after`, which
    /// is single-valued).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        let name = name.to_ascii_lowercase();
        if name == "retry-after" {
            self.headers.retain(|(k, _)| *k != name);
        }
        self.headers.push((name, value.into()));
        self
    }
    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store outage answers 503 with when to retry (issue 21: requests
    /// during a Redis outage), once, and a caller's own value wins.
    #[test]
    fn unavailable_says_when_to_retry() {
        let e = ScimError::from(crate::storage::kv::StoreError("connection refused".into()));
        let r = Response::error(&e);
        assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
        let r = r.with_header("Retry-After", "5");
        let all: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k == "retry-after")
            .collect();
        assert_eq!(all.len(), 1);
        assert_eq!(r.header("retry-after"), Some("5"));
        assert_eq!(
            Response::error(&ScimError::new(409, None, "x")).header("retry-after"),
            None
        );
    }

    #[test]
    fn query_parameters_are_decoded_and_case_insensitive() {
        let r = Request {
            query: "Filter=userName+eq+%22a%40b.c%22&count=5&bad=%zz%".into(),
            ..Default::default()
        };
        assert_eq!(r.query_param("filter").unwrap(), "userName eq \"a@b.c\"");
        assert_eq!(r.query_param("COUNT").unwrap(), "5");
        assert_eq!(r.query_param("bad").unwrap(), "%zz%");
        assert_eq!(r.query_param("missing"), None);
    }

    fn base(headers: &[(&str, &str)], trusted: bool) -> Result<String, u16> {
        let h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        base_url(&h, trusted, "/api").map_err(|e| e.status)
    }

    #[test]
    fn the_base_url_trusts_forwarded_headers_only_when_told_and_validates_always() {
        let full = ("spin-full-url", "http://svc.local:3000/api/Users?x=1");
        let hostile = [
            full,
            ("x-forwarded-proto", "javascript"),
            ("x-forwarded-host", "attacker.example"),
        ];
        assert_eq!(base(&[full], false).unwrap(), "http://svc.local:3000/api");
        assert_eq!(base(&hostile, false).unwrap(), "http://svc.local:3000/api");
        assert_eq!(base(&hostile, true), Err(400));
        let proxied = [
            full,
            ("x-forwarded-proto", "HTTPS"),
            ("x-forwarded-host", "a.example, scim.example.com:8443"),
        ];
        assert_eq!(
            base(&proxied, true).unwrap(),
            "https://scim.example.com:8443/api"
        );
        assert_eq!(base(&proxied, false).unwrap(), "http://svc.local:3000/api");
        // Without spin-full-url: Host, else localhost.
        assert_eq!(
            base(&[("host", "h.example")], false).unwrap(),
            "http://h.example/api"
        );
        assert_eq!(base(&[], false).unwrap(), "http://localhost/api");
        assert_eq!(
            base(&[("host", "[::1]:80")], false).unwrap(),
            "http://[::1]:80/api"
        );
        for bad in [
            "a/b", "a\\b", "u@h", "h:", "h:0", "h:65536", "h:1x", "<x>", "a b", "[::1", "[]",
            "[::1]x", "[zz]", ".h", "-h", "h:80:80",
        ] {
            assert_eq!(base(&[("host", bad)], false), Err(400), "{bad}");
            assert_eq!(
                base(&[full, ("x-forwarded-host", bad)], true),
                Err(400),
                "{bad}"
            );
        }
        for bad in ["ftp", "javascript", "https://x", ""] {
            let r = base(&[("spin-full-url", &format!("{bad}://h/api"))], false);
            assert_eq!(r, Err(400), "{bad}");
        }
    }

    #[test]
    fn repeated_headers_are_all_seen() {
        let r = Request {
            headers: vec![
                ("authorization".into(), "Bearer a".into()),
                ("accept".into(), "x".into()),
                ("Authorization".into(), "Bearer b".into()),
            ],
            ..Default::default()
        };
        assert_eq!(
            r.header_values("AUTHORIZATION").collect::<Vec<_>>(),
            ["Bearer a", "Bearer b"]
        );
        assert_eq!(r.header("authorization"), Some("Bearer a"));
        assert_eq!(r.header_values("none").count(), 0);
    }

    fn with_prefer(values: &[&str]) -> Request {
        Request {
            headers: values
                .iter()
                .map(|v| ("prefer".to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn prefer_return_follows_rfc_7240() {
        assert_eq!(with_prefer(&[]).prefer_return(), None);
        assert_eq!(
            with_prefer(&["return=minimal"]).prefer_return(),
            Some(Return::Minimal)
        );
        // Case, quotes, parameters and other preferences around it.
        assert_eq!(
            with_prefer(&["respond-async, Return = \"Representation\"; x=1"]).prefer_return(),
            Some(Return::Representation)
        );
        assert_eq!(
            with_prefer(&["wait=10", "return=minimal"]).prefer_return(),
            Some(Return::Minimal)
        );
        // The first return preference wins; unknown values are ignored.
        assert_eq!(
            with_prefer(&["return=bogus, return=representation, return=minimal"]).prefer_return(),
            Some(Return::Representation)
        );
        assert_eq!(with_prefer(&["returned=minimal"]).prefer_return(), None);
    }
}
