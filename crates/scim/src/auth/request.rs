//! Where a request's credentials come from, checked before anything costly:
//! which routes need them (`required_for`), and whether the
//! request presents exactly one `Authorization: Bearer` header of the right
//! shape ([`presented`]). [`precheck`] runs both on a request head, so the
//! component can refuse before it reads a body: a client without a token
//! must not hold an instance while it sends (or never sends) megabytes.
//!
//! RFC 6750 §2.1: the token travels in the `Authorization` header. §2.3
//! (`access_token` in the query) is refused, as it always was here (401
//! `invalid_request`: URLs end up in logs). Two `Authorization` headers are
//! refused with 400 `invalid_request` (§3.1: a request that "repeats the same
//! parameter"): honouring either would let whatever sits in front of the
//! service (a proxy that adds one, a log that records one) disagree with it
//! about who is calling.

use super::token::bearer_token;
use super::{AuthConfig, AuthError};
use crate::http::Request;
use crate::route::Route;

/// Whether a request to `route` needs a bearer token: every known route,
/// except discovery when `discovery_requires_auth` is off. Unknown routes
/// answer 404 without credentials: there is nothing there to protect.
pub(crate) fn required_for(cfg: &AuthConfig, route: &Route) -> bool {
    *route != Route::Unknown
        && !route.is_docs_page()
        && (!route.is_discovery() || cfg.discovery_requires_auth)
}

/// The one `Authorization` header value of `req`, if it has the shape of a
/// bearer token (RFC 6750 §2.1: scheme, b64token, three JWS parts, not too
/// long). Refused: a token in the query (401 `invalid_request`), two or more
/// `Authorization` headers (400 `invalid_request`), none (401 without an
/// error code), another scheme or a malformed token (401). The signature
/// and claims are not looked at: [`super::authenticate`] does that.
pub fn presented(req: &Request) -> Result<&str, AuthError> {
    if req
        .query_pairs()
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("access_token"))
    {
        return Err(AuthError::invalid_request(
            401,
            "tokens in the query string are not accepted",
            "tokens in the query string are not accepted; use the Authorization header",
        ));
    }
    let mut values = req.header_values("authorization");
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::invalid_request(
            400,
            "more than one Authorization header",
            "more than one Authorization header: send exactly one",
        ));
    }
    bearer_token(first)?;
    Ok(first.unwrap_or_default())
}

/// A request refused on its head alone, with the route template for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why (its [`AuthError::response`] is the answer).
    pub error: AuthError,
    /// The route template (`/Users/{id}`), never the concrete path.
    pub route: &'static str,
}

/// What can be decided about `head`'s credentials before its body is read
/// (`head.body` is not looked at): `Err` when the route needs a token and
/// [`presented`] refuses. Reading no store and fetching nothing, it costs
/// microseconds; the full verification follows in
/// `Service::handle` (the `api` module).
pub fn precheck(cfg: &AuthConfig, head: &Request) -> Result<(), Refused> {
    let route = Route::parse(&head.path);
    if !required_for(cfg, &route) {
        return Ok(());
    }
    presented(head).map(|_| ()).map_err(|error| Refused {
        error,
        route: route.template(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(path: &str, query: &str, authorization: &[&str]) -> Request {
        Request {
            method: "POST".into(),
            path: path.into(),
            query: query.into(),
            headers: authorization
                .iter()
                .map(|v| ("authorization".to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    const JWT: &str = "Bearer aaa.bbb.ccc";

    #[test]
    fn the_head_alone_refuses_missing_repeated_and_malformed_credentials() {
        let cfg = AuthConfig::default();
        let status = |path: &str, query: &str, a: &[&str]| {
            precheck(&cfg, &head(path, query, a)).map_err(|r| (r.error.status, r.route))
        };
        assert_eq!(status("/Users", "", &[JWT]), Ok(()));
        assert_eq!(status("/Users", "", &[]), Err((401, "/Users")));
        assert_eq!(
            status("/Users/x", "", &["Basic abc"]),
            Err((401, "/Users/{id}"))
        );
        assert_eq!(status("/Users", "", &["Bearer x"]), Err((401, "/Users")));
        assert_eq!(status("/Users", "", &[JWT, JWT]), Err((400, "/Users")));
        assert_eq!(status("/Users", "", &[JWT, ""]), Err((400, "/Users")));
        assert_eq!(
            status("/Users", "count=1&Access_Token=x", &[JWT]),
            Err((401, "/Users"))
        );
        // Unknown routes need nothing; discovery only when configured.
        assert_eq!(status("/Nope", "", &[JWT, JWT]), Ok(()));
        assert_eq!(status("/Schemas", "", &[]), Err((401, "/Schemas")));
        let open = AuthConfig {
            discovery_requires_auth: false,
            ..Default::default()
        };
        assert!(precheck(&open, &head("/Schemas", "", &[])).is_ok());
        assert!(precheck(&open, &head("/Users", "", &[])).is_err());
    }

    #[test]
    fn two_authorization_headers_are_an_invalid_request() {
        let e = presented(&head("/Users", "", &[JWT, JWT])).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.www_authenticate,
            "Bearer realm=\"scim\", error=\"invalid_request\", \
             error_description=\"more than one Authorization header\""
        );
        let r = e.response();
        assert_eq!(r.status, 400);
        assert_eq!(
            r.header("www-authenticate"),
            Some(e.www_authenticate.as_str())
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["schemas"][0], crate::error::ERROR_SCHEMA);
        assert_eq!(presented(&head("/Users", "", &[JWT])), Ok(JWT));
    }
}
