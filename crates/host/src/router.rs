//! Spin HTTP route matching: exact routes, `:name` segments and a trailing
//! `/...` wildcard, under the application base path.

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Index of the trigger (and so of the component runtime) it leads to.
    pub target: usize,
    /// The route as written in the manifest, e.g. `/api/scim/v2/...`.
    pub raw: String,
    /// The route without the wildcard indicator, e.g. `/api/scim/v2`.
    pub component_route: String,
    /// Base path plus raw route, e.g. `/shop/users/...`.
    pub matched_route: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// The result of matching a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub target: usize,
    pub raw: &'a str,
    pub component_route: &'a str,
    pub matched_route: &'a str,
    /// The part of the path matched by the wildcard (`/Users/1`), or `""`.
    pub path_info: String,
    /// `:name` parameters.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    base: String,
    routes: Vec<Route>,
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl Router {
    /// `base` is the normalised application base (`/` or `/shop`).
    pub fn new(base: &str) -> Self {
        Router {
            base: base.to_string(),
            routes: Vec::new(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn add(&mut self, raw: &str, target: usize) {
        let (pattern, wildcard) = match raw.strip_suffix("/...") {
            Some(p) => (p, true),
            None if raw == "..." => ("", true),
            None => (raw, false),
        };
        let base = if self.base == "/" { "" } else { &self.base };
        let mut segments = Vec::new();
        for s in split(base).into_iter().chain(split(pattern)) {
            match s.strip_prefix(':') {
                Some(name) => segments.push(Segment::Param(name.to_string())),
                None => segments.push(Segment::Literal(s.to_string())),
            }
        }
        let component_route = if pattern.is_empty() {
            String::new()
        } else {
            pattern.to_string()
        };
        self.routes.push(Route {
            target,
            raw: raw.to_string(),
            component_route,
            matched_route: format!("{base}{raw}"),
            segments,
            wildcard,
        });
    }

    /// Finds the most specific route for `path` (no query string).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let parts = split(path);
        let mut best: Option<(usize, (bool, usize, usize), RouteMatch<'_>)> = None;
        for (i, r) in self.routes.iter().enumerate() {
            let Some(m) = r.matches(path, &parts) else {
                continue;
            };
            let literals = r
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            // Exact routes beat wildcards; then more literal segments; then
            // more segments. Ties go to the route declared first.
            let score = (!r.wildcard, r.segments.len(), literals);
            if best.as_ref().is_none_or(|(_, s, _)| score > *s) {
                best = Some((i, score, m));
            }
        }
        best.map(|(_, _, m)| m)
    }
}

impl Route {
    fn matches<'a>(&'a self, path: &str, parts: &[&str]) -> Option<RouteMatch<'a>> {
        if parts.len() < self.segments.len()
            || (!self.wildcard && parts.len() != self.segments.len())
        {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), part.to_string())),
            }
        }
        let path_info = if self.wildcard {
            // Skip the matched segments in the original path, keeping the
            // remainder verbatim (including a trailing slash).
            let mut rest = path;
            for _ in 0..self.segments.len() {
                rest = rest.trim_start_matches('/');
                rest = match rest.find('/') {
                    Some(i) => &rest[i..],
                    None => "",
                };
            }
            rest.to_string()
        } else {
            String::new()
        };
        Some(RouteMatch {
            target: self.target,
            raw: &self.raw,
            component_route: &self.component_route,
            matched_route: &self.matched_route,
            path_info,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_prefix() {
        let mut r = Router::new("/");
        r.add("/api/scim/v2/...", 0);
        let m = r.route("/api/scim/v2/Users").unwrap();
        assert_eq!(m.path_info, "/Users");
        assert_eq!(m.raw, "/api/scim/v2/...");
        assert_eq!(m.component_route, "/api/scim/v2");
        assert_eq!(m.matched_route, "/api/scim/v2/...");
        assert_eq!(r.route("/api/scim/v2").unwrap().path_info, "");
        assert_eq!(r.route("/api/scim/v2/").unwrap().path_info, "/");
        assert_eq!(
            r.route("/api/scim/v2/Users/abc/").unwrap().path_info,
            "/Users/abc/"
        );
        assert!(r.route("/api/scim/v2x").is_none());
        assert!(r.route("/api/scim").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let mut r = Router::new("/");
        r.add("/...", 0);
        r.add("/api/...", 1);
        r.add("/api/health", 2);
        assert_eq!(r.route("/x").unwrap().target, 0);
        assert_eq!(r.route("/").unwrap().target, 0);
        assert_eq!(r.route("/").unwrap().path_info, "/");
        assert_eq!(r.route("/x/y").unwrap().path_info, "/x/y");
        assert_eq!(r.route("/api/x").unwrap().target, 1);
        assert_eq!(r.route("/api/health").unwrap().target, 2);
        assert_eq!(r.route("/api/health/x").unwrap().target, 1);
    }

    #[test]
    fn params_and_base() {
        let mut r = Router::new("/shop");
        r.add("/users/:id", 0);
        let m = r.route("/shop/users/42").unwrap();
        assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
        assert_eq!(m.matched_route, "/shop/users/:id");
        assert!(r.route("/users/42").is_none());
        assert!(r.route("/shop/users/42/x").is_none());
    }
}
