//! The SCIM HTTP API (RFC 7644 §3): routes a [`Request`] to the endpoint that
//! serves it and turns every failure into a SCIM error response.

use crate::auth::jwks::{CachedKeys, JwksFetcher};
use crate::auth::{self, Access, AuthError, Principal};
use crate::config::Config;
use crate::discovery;
use crate::error::ScimError;
use crate::http::{Request, Response};
use crate::resources::{self, Ctx};
use crate::schema::Kind;
use crate::schema::Registry;
use crate::storage::kv::Store;
use crate::storage::records::Repo;
use std::cell::OnceCell;

/// What a request needs from its surroundings.
pub struct Env<'a> {
    pub store: &'a dyn Store,
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// Fetches a JWKS document (Spin outbound HTTP in the component).
    pub fetcher: &'a dyn JwksFetcher,
    /// Reads the role catalog file.
    pub catalog_source: &'a dyn Fn() -> Result<String, String>,
}

/// The response plus what the request log line records about it.
pub struct Outcome {
    pub response: Response,
    /// The route template (`/Users/{id}`), never the concrete path.
    pub route: &'static str,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
}

pub struct Service {
    pub cfg: Config,
    pub registry: Registry,
}

/// Key under which the fetched JWKS is cached (shared by all tenants).
const JWKS_CACHE: &str = "_jwks/cache";

impl Service {
    pub fn new(cfg: Config) -> Service {
        let registry = Registry::new(&cfg.schema);
        Service { cfg, registry }
    }

    pub fn handle(&self, req: &Request, env: &Env) -> Outcome {
        let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
        let route = route_of(&segs);
        let mut principal = None;
        let result = self.authenticated(req, env, &segs, route, &mut principal);
        let response = match result {
            Ok(r) => r,
            Err(Failure::Auth(e)) => {
                let r = Response::error(&e.to_scim());
                if e.www_authenticate.is_empty() {
                    r
                } else {
                    r.with_header("www-authenticate", e.www_authenticate.clone())
                }
            }
            Err(Failure::Scim(e)) => Response::error(&e),
        };
        Outcome {
            response,
            route,
            tenant: principal.as_ref().map(|p: &Principal| p.tenant.clone()),
            client_id: principal.and_then(|p| p.client_id),
        }
    }

    fn authenticated(
        &self,
        req: &Request,
        env: &Env,
        segs: &[&str],
        route: &'static str,
        principal: &mut Option<Principal>,
    ) -> Result<Response, Failure> {
        if req.body.len() > self.cfg.max_body_bytes {
            return Err(ScimError::new(
                413,
                None,
                format!("request body larger than {} bytes", self.cfg.max_body_bytes),
            )
            .into());
        }
        let discovery = matches!(
            route,
            "/ServiceProviderConfig"
                | "/ResourceTypes"
                | "/ResourceTypes/{name}"
                | "/Schemas"
                | "/Schemas/{id}"
        );
        // Unknown routes answer 404 without looking at credentials: there is
        // nothing there to protect.
        let known = route != "(unknown)";
        if known && (!discovery || self.cfg.auth.discovery_requires_auth) {
            // RFC 6750 §2.3 allows tokens in the query; we never accept them:
            // URLs end up in logs and browser histories.
            if req
                .query_pairs()
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("access_token"))
            {
                return Err(Failure::Auth(AuthError {
                    status: 401,
                    www_authenticate: format!(
                        "Bearer realm=\"{}\", error=\"invalid_request\", \
                         error_description=\"tokens in the query string are not accepted\"",
                        auth::REALM
                    ),
                    detail:
                        "tokens in the query string are not accepted; use the Authorization header"
                            .into(),
                }));
            }
            let keys = CachedKeys::new(
                self.cfg.auth.jwks_sources(),
                env.store,
                env.fetcher,
                JWKS_CACHE,
                env.now,
            );
            let p = auth::authenticate(&self.cfg.auth, req.header("authorization"), &keys, env.now)
                .map_err(Failure::Auth)?;
            let access = match (req.method.as_str(), segs.last()) {
                ("GET" | "HEAD", _) => Access::Read,
                ("POST", Some(&".search")) => Access::Read,
                _ => Access::Write,
            };
            let checked = auth::authorize(&self.cfg.auth, &p, access);
            *principal = Some(p);
            checked.map_err(Failure::Auth)?;
        }
        let tenant = principal
            .as_ref()
            .map(|p| p.tenant.clone())
            .unwrap_or_else(|| auth::DEFAULT_TENANT.to_string());
        if let (Some(p), limit @ 1..) = (principal.as_ref(), self.cfg.rate_limit_per_hour) {
            let client = p
                .client_id
                .as_deref()
                .or(p.subject.as_deref())
                .unwrap_or("anonymous");
            let repo = Repo::new(env.store, &tenant, env.now);
            if let Err(over) = crate::quota::charge(&repo, client, limit)? {
                return Ok(Response::error(&over.to_scim())
                    .with_header("retry-after", over.retry_after.to_string()));
            }
        }
        self.dispatch(req, env, segs, &tenant)
            .map_err(Failure::Scim)
    }

    fn dispatch(
        &self,
        req: &Request,
        env: &Env,
        segs: &[&str],
        tenant: &str,
    ) -> Result<Response, ScimError> {
        let get_only = || -> Result<(), ScimError> {
            if req.method == "GET" || req.method == "HEAD" {
                Ok(())
            } else {
                Err(method_not_allowed(&req.method))
            }
        };
        let first = segs.first().copied().unwrap_or("");
        let base = req.base_url.as_str();
        if first.eq_ignore_ascii_case("ServiceProviderConfig") && segs.len() == 1 {
            get_only()?;
            return Ok(Response::json(
                200,
                &discovery::service_provider_config(&self.cfg, base),
            ));
        }
        if first.eq_ignore_ascii_case("ResourceTypes") && segs.len() <= 2 {
            get_only()?;
            return match segs.get(1) {
                None => Ok(Response::json(
                    200,
                    &discovery::resource_types(&self.registry, base),
                )),
                Some(name) => self
                    .registry
                    .resource_types()
                    .into_iter()
                    .find(|rt| rt.name.eq_ignore_ascii_case(name))
                    .map(|rt| Response::json(200, &rt.to_json(base)))
                    .ok_or_else(|| {
                        ScimError::not_found(format!("no resource type {:?}", truncate(name, 64)))
                    }),
            };
        }
        if first.eq_ignore_ascii_case("Schemas") && segs.len() <= 2 {
            get_only()?;
            return match segs.get(1) {
                None => Ok(Response::json(
                    200,
                    &discovery::schemas(&self.registry, base),
                )),
                Some(urn) => self
                    .registry
                    .schema(urn)
                    .map(|s| Response::json(200, &s.to_json(base)))
                    .ok_or_else(|| {
                        ScimError::not_found(format!("no schema {:?}", truncate(urn, 200)))
                    }),
            };
        }
        let kind = match first.to_ascii_lowercase().as_str() {
            "users" => Some(Kind::User),
            "groups" => Some(Kind::Group),
            "roles" => Some(Kind::Role),
            _ => None,
        };
        let ctx = || Ctx {
            cfg: &self.cfg,
            registry: &self.registry,
            repo: Repo::new(env.store, tenant, env.now),
            req,
            catalog_source: env.catalog_source,
            catalog: OnceCell::new(),
        };
        if let Some(kind) = kind {
            if segs.len() <= 2 {
                return resources::handle(&ctx(), kind, &segs[1..]);
            }
        }
        if first == ".search" && segs.len() == 1 && req.method == "POST" {
            return resources::search_root(&ctx());
        }
        if (first.eq_ignore_ascii_case("Bulk") || first.eq_ignore_ascii_case("Me"))
            && segs.len() == 1
        {
            // RFC 7644 §3.7 / §3.11: not offered (ServiceProviderConfig says so).
            return Err(ScimError::new(
                501,
                None,
                format!("/{first} is not supported by this server"),
            ));
        }
        Err(ScimError::not_found(format!(
            "no SCIM endpoint at {:?}",
            truncate(&req.path, 200)
        )))
    }
}

enum Failure {
    Auth(AuthError),
    Scim(ScimError),
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure::Scim(e)
    }
}

fn method_not_allowed(method: &str) -> ScimError {
    ScimError::new(
        405,
        None,
        format!(
            "method {} not allowed on this endpoint",
            truncate(method, 16)
        ),
    )
}

/// Cut a client-supplied string for an error message.
use crate::error::truncate;

/// The route template for the log line: never ids or other client data.
fn route_of(segs: &[&str]) -> &'static str {
    let first = segs.first().map(|s| s.to_ascii_lowercase());
    match (first.as_deref(), segs.len()) {
        (Some("serviceproviderconfig"), 1) => "/ServiceProviderConfig",
        (Some("resourcetypes"), 1) => "/ResourceTypes",
        (Some("resourcetypes"), 2) => "/ResourceTypes/{name}",
        (Some("schemas"), 1) => "/Schemas",
        (Some("schemas"), 2) => "/Schemas/{id}",
        (Some("users"), 1) => "/Users",
        (Some("users"), 2) if segs[1] == ".search" => "/Users/.search",
        (Some("users"), 2) => "/Users/{id}",
        (Some("groups"), 1) => "/Groups",
        (Some("groups"), 2) if segs[1] == ".search" => "/Groups/.search",
        (Some("groups"), 2) => "/Groups/{id}",
        (Some("roles"), 1) => "/Roles",
        (Some("roles"), 2) if segs[1] == ".search" => "/Roles/.search",
        (Some("roles"), 2) => "/Roles/{id}",
        (Some(".search"), 1) => "/.search",
        _ => "(unknown)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kv::MemStore;

    fn get(svc: &Service, path: &str) -> Outcome {
        let store = MemStore::new();
        let req = Request {
            method: "GET".into(),
            path: path.into(),
            base_url: "http://h/api/scim/v2".into(),
            ..Default::default()
        };
        let no_catalog = || Err("none".to_string());
        svc.handle(
            &req,
            &Env {
                store: &store,
                now: 0,
                fetcher: &crate::auth::jwks::NoFetcher,
                catalog_source: &no_catalog,
            },
        )
    }

    #[test]
    fn discovery_routes_answer_and_unknown_routes_are_scim_404s() {
        let mut cfg = Config::default();
        cfg.auth.discovery_requires_auth = false;
        let svc = Service::new(cfg);
        let o = get(&svc, "/ServiceProviderConfig");
        assert_eq!(o.response.status, 200);
        assert_eq!(o.route, "/ServiceProviderConfig");
        assert_eq!(get(&svc, "/resourcetypes/user").response.status, 200);
        assert_eq!(
            get(&svc, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
                .response
                .status,
            200
        );
        let o = get(&svc, "/Users");
        assert_eq!(o.response.status, 401, "no key configured: refused");
        let o = get(&svc, "/Nope/../x");
        assert_eq!(o.response.status, 404);
        let body: serde_json::Value = serde_json::from_slice(&o.response.body).unwrap();
        assert_eq!(body["schemas"][0], crate::error::ERROR_SCHEMA);
        assert_eq!(o.route, "(unknown)");
    }
}
