//! The route table's left half: a request path parsed once into a [`Route`]
//! (RFC 7644 §3.2 lists the endpoints). The service dispatches on
//! (method, route) in one `match`, and the request log records the route's
//! [`template`](Route::template), never the concrete path.

use crate::schema::Kind;

/// Where a request goes, independent of its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/ServiceProviderConfig` (RFC 7644 §4).
    ServiceProviderConfig,
    /// `/ResourceTypes` (RFC 7644 §4).
    ResourceTypes,
    /// `/ResourceTypes/{name}`.
    ResourceType(&'a str),
    /// `/Schemas` (RFC 7644 §4).
    Schemas,
    /// `/Schemas/{id}`.
    Schema(&'a str),
    /// `/Users`, `/Groups`, `/Roles`: list or create.
    Resources(Kind),
    /// `/{type}/.search` (RFC 7644 §3.4.3).
    Search(Kind),
    /// `/{type}/{id}`: one resource.
    Resource(Kind, &'a str),
    /// `/.search` at the root (RFC 7644 §3.4.3).
    RootSearch,
    /// `/Bulk` (RFC 7644 §3.7).
    Bulk,
    /// `/Me` (RFC 7644 §3.11).
    Me,
    /// `/openapi.json`: the OpenAPI document (the `openapi` module).
    OpenApi,
    /// `/docs` (the page, `""`) and `/docs/{asset}`: the documentation page.
    Docs(&'a str),
    /// `/AuditEvents`: the audit trail, read-only (the `audit` module).
    AuditEvents,
    /// `/AuditEvents/{id}`: one audit event.
    AuditEvent(&'a str),
    /// Anything else.
    Unknown,
}

impl<'a> Route<'a> {
    /// The route of `path` (what follows the API prefix; empty segments are
    /// ignored, endpoint names compare case-insensitively).
    pub fn parse(path: &'a str) -> Route<'a> {
        let mut segs = path.split('/').filter(|s| !s.is_empty());
        let (first, second) = (segs.next(), segs.next());
        if segs.next().is_some() {
            return Route::Unknown;
        }
        let Some(first) = first else {
            return Route::Unknown;
        };
        let is = |name: &str| first.eq_ignore_ascii_case(name);
        let kind = if is("Users") {
            Some(Kind::User)
        } else if is("Groups") {
            Some(Kind::Group)
        } else if is("Roles") {
            Some(Kind::Role)
        } else {
            None
        };
        match (kind, second) {
            (Some(k), None) => return Route::Resources(k),
            (Some(k), Some(".search")) => return Route::Search(k),
            (Some(k), Some(id)) => return Route::Resource(k, id),
            (None, _) => {}
        }
        match second {
            None if is("ServiceProviderConfig") => Route::ServiceProviderConfig,
            None if is("ResourceTypes") => Route::ResourceTypes,
            None if is("Schemas") => Route::Schemas,
            None if first == ".search" => Route::RootSearch,
            None if is("Bulk") => Route::Bulk,
            None if is("Me") => Route::Me,
            None if is("openapi.json") => Route::OpenApi,
            None if is("docs") => Route::Docs(""),
            Some(asset) if is("docs") => Route::Docs(asset),
            Some(name) if is("ResourceTypes") => Route::ResourceType(name),
            Some(id) if is("Schemas") => Route::Schema(id),
            None if is("AuditEvents") => Route::AuditEvents,
            Some(id) if is("AuditEvents") => Route::AuditEvent(id),
            _ => Route::Unknown,
        }
    }

    /// The route template for the log line: never ids or other client data.
    pub fn template(&self) -> &'static str {
        match self {
            Route::ServiceProviderConfig => "/ServiceProviderConfig",
            Route::ResourceTypes => "/ResourceTypes",
            Route::ResourceType(_) => "/ResourceTypes/{name}",
            Route::Schemas => "/Schemas",
            Route::Schema(_) => "/Schemas/{id}",
            Route::Resources(Kind::User) => "/Users",
            Route::Resources(Kind::Group) => "/Groups",
            Route::Resources(Kind::Role) => "/Roles",
            Route::Search(Kind::User) => "/Users/.search",
            Route::Search(Kind::Group) => "/Groups/.search",
            Route::Search(Kind::Role) => "/Roles/.search",
            Route::Resource(Kind::User, _) => "/Users/{id}",
            Route::Resource(Kind::Group, _) => "/Groups/{id}",
            Route::Resource(Kind::Role, _) => "/Roles/{id}",
            Route::RootSearch => "/.search",
            Route::Bulk => "/Bulk",
            Route::Me => "/Me",
            Route::OpenApi => "/openapi.json",
            Route::Docs("") => "/docs",
            Route::Docs(_) => "/docs/{asset}",
            Route::AuditEvents => "/AuditEvents",
            Route::AuditEvent(_) => "/AuditEvents/{id}",
            Route::Unknown => "(unknown)",
        }
    }

    /// Discovery endpoints (RFC 7644 §4), which may be served without
    /// credentials.
    pub fn is_discovery(&self) -> bool {
        matches!(
            self,
            Route::ServiceProviderConfig
                | Route::ResourceTypes
                | Route::ResourceType(_)
                | Route::Schemas
                | Route::Schema(_)
                | Route::OpenApi
        )
    }

    /// The documentation page's files (`/docs`), which hold no data and
    /// never need a token: a browser cannot send one for a page.
    pub fn is_docs_page(&self) -> bool {
        matches!(self, Route::Docs(_))
    }

    /// Whether `method` on this route only reads: GET, HEAD and the POST
    /// of a `.search` (RFC 7644 §3.4.3 "SHALL NOT alter state").
    pub fn only_reads(&self, method: &str) -> bool {
        match method {
            "GET" | "HEAD" => true,
            "POST" => matches!(self, Route::Search(_) | Route::RootSearch),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_parses_to_its_route_and_template() {
        let cases = [
            ("/ServiceProviderConfig", "/ServiceProviderConfig"),
            ("/serviceproviderconfig/", "/ServiceProviderConfig"),
            ("/ResourceTypes", "/ResourceTypes"),
            ("/resourcetypes/User", "/ResourceTypes/{name}"),
            ("/Schemas", "/Schemas"),
            ("/Schemas/urn:x", "/Schemas/{id}"),
            ("/Users", "/Users"),
            ("//users", "/Users"),
            ("/Users/.search", "/Users/.search"),
            ("/Users/abc", "/Users/{id}"),
            ("/GROUPS/abc", "/Groups/{id}"),
            ("/Roles", "/Roles"),
            ("/Roles/.search", "/Roles/.search"),
            ("/.search", "/.search"),
            ("/Bulk", "/Bulk"),
            ("/Me", "/Me"),
            ("/openapi.json", "/openapi.json"),
            ("/docs", "/docs"),
            ("/docs/", "/docs"),
            ("/docs/swagger-ui.css", "/docs/{asset}"),
            ("/docs/a/b", "(unknown)"),
            ("/AuditEvents", "/AuditEvents"),
            ("/auditevents/42", "/AuditEvents/{id}"),
            ("/AuditEvents/42/x", "(unknown)"),
            ("/", "(unknown)"),
            ("/Users/a/b", "(unknown)"),
            ("/ServiceProviderConfig/x", "(unknown)"),
            ("/Nope", "(unknown)"),
            ("/.SEARCH", "(unknown)"),
        ];
        for (path, template) in cases {
            assert_eq!(Route::parse(path).template(), template, "{path}");
        }
        assert_eq!(
            Route::parse("/Groups/g1"),
            Route::Resource(Kind::Group, "g1")
        );
        // `.search` under a type is matched exactly, as RFC 7644 §3.4.3 spells it.
        assert_eq!(
            Route::parse("/Users/.SEARCH"),
            Route::Resource(Kind::User, ".SEARCH")
        );
    }

    #[test]
    fn searches_only_read_and_every_other_post_writes() {
        let search = Route::parse("/Users/.search");
        assert!(search.only_reads("POST"));
        assert!(Route::RootSearch.only_reads("POST"));
        assert!(!Route::parse("/Users").only_reads("POST"));
        assert!(!Route::parse("/Users/x").only_reads("PATCH"));
        assert!(Route::parse("/Users/x").only_reads("GET"));
        assert!(Route::parse("/Schemas").is_discovery());
        assert!(!Route::parse("/Users").is_discovery());
    }
}
