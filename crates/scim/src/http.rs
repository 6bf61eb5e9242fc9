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
    /// The SCIM error response of `e` (RFC 7644 §3.12).
    pub fn error(e: &ScimError) -> Response {
        Response::json(e.status, &e.to_json())
    }
    /// This response with one more header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
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
