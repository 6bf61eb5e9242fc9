//! The SCIM HTTP API (RFC 7644 §3): admits a [`Request`] (credentials,
//! scopes, quota), routes it through the one route table to the endpoint
//! that serves it, and turns every failure into a SCIM error response.

use crate::auth::jwks::{CachedKeys, JwksFetcher};
use crate::auth::{self, Access, AuthError, Principal};
use crate::config::Config;
use crate::discovery;
use crate::endpoints::{delete, me, not_allowed, read, write, Ctx};
use crate::error::{truncate, ScimError};
use crate::http::{Request, Response};
use crate::openapi;
use crate::route::Route;
use crate::schema::{Kind, Registry};
use crate::storage::kv::Store;
use crate::storage::records::Repo;
use serde_json::Value;

/// What a request needs from its surroundings.
pub struct Env<'a> {
    /// The key-value store (Spin's in the component).
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
    /// The HTTP response.
    pub response: Response,
    /// The route template (`/Users/{id}`), never the concrete path.
    pub route: &'static str,
    /// The tenant of a valid token, if the request had one.
    pub tenant: Option<String>,
    /// The OAuth client id of a valid token (never the token).
    pub client_id: Option<String>,
    /// What the log line should warn about: stored records this request
    /// could not decode and skipped (or salvaged to delete). Key names and
    /// ids only, never document content.
    pub warnings: Vec<String>,
}

/// The SCIM service: configuration and schemas, built once per request by
/// the component (cheap) and once per process in tests.
pub struct Service {
    /// The configuration.
    pub cfg: Config,
    /// The schemas and resource types the configuration selects.
    pub registry: Registry,
    /// Reads a file of the component by its path there (the documentation
    /// page's assets); `None`: the page's files are not available.
    files: Option<FileReader>,
}

/// Reads a file of the component (`std::fs::read` under Spin).
pub type FileReader = Box<dyn Fn(&str) -> Result<Vec<u8>, String>>;

/// Key under which the fetched JWKS is cached (shared by all tenants).
const JWKS_CACHE: &str = "_jwks/cache";

impl Service {
    /// A service for `cfg`, with its schema registry built once.
    pub fn new(cfg: Config) -> Service {
        let registry = Registry::new(&cfg.schema);
        Service {
            cfg,
            registry,
            files: None,
        }
    }

    /// This service, reading the documentation page's files with `files`.
    pub fn with_files(mut self, files: FileReader) -> Service {
        self.files = Some(files);
        self
    }

    /// `route`, or [`Route::Unknown`] when it is documentation and
    /// `docs_enabled` is off: then nothing of it exists.
    fn unless_docs_off<'r>(&self, route: Route<'r>) -> Route<'r> {
        match route {
            Route::OpenApi | Route::Docs(_) if !self.cfg.docs_enabled => Route::Unknown,
            r => r,
        }
    }

    /// The documentation page's `name` (`""`: the page): its file, or its
    /// generated settings (RFC 7644 says nothing of it; see `openapi::page`).
    fn docs_page(&self, req: &Request, name: &str) -> Result<Response, ScimError> {
        if name.is_empty() && req.path.ends_with('/') {
            // The page's assets are relative to `/docs`, not `/docs/`.
            let page = format!("{}/docs", base_path(&req.base_url));
            return Ok(Response::empty(308).with_header("location", page));
        }
        if name == openapi::page::SETTINGS {
            return Ok(openapi::page::settings(
                self.cfg.auth.discovery_requires_auth,
            ));
        }
        let (Some(asset), Some(files)) = (openapi::page::asset(name), self.files.as_ref()) else {
            return Err(ScimError::not_found(format!(
                "no documentation file {:?}",
                truncate(name, 64)
            )));
        };
        openapi::page::serve(asset, files(&asset.path()))
    }

    /// Serve one request: admit it (credentials, scopes, quota), then
    /// dispatch it. Every failure becomes a SCIM error
    /// response.
    pub fn handle(&self, req: &Request, env: &Env) -> Outcome {
        let route = self.unless_docs_off(Route::parse(&req.path));
        let mut principal = None;
        let mut warnings = Vec::new();
        let response = match self.admit(req, env, &route, &mut principal) {
            Ok(tenant) => self
                .dispatch(req, env, route, &tenant, principal.as_ref(), &mut warnings)
                .unwrap_or_else(|e| Response::error(&e)),
            Err(refused) => refused,
        };
        Outcome {
            response,
            route: route.template(),
            tenant: principal.as_ref().map(|p: &Principal| p.tenant.clone()),
            client_id: principal.and_then(|p| p.client_id),
            warnings,
        }
    }

    /// The route table: one `match` on (method, route). `principal` is the
    /// token's (its client and subject go into audit events, its `/Me` claim
    /// names the user of `/Me`). Notes on stored records that did not
    /// decode go to `warnings`. `/Bulk` runs each of its operations through
    /// here too.
    pub(crate) fn dispatch(
        &self,
        req: &Request,
        env: &Env,
        route: Route,
        tenant: &str,
        principal: Option<&Principal>,
        warnings: &mut Vec<String>,
    ) -> Result<Response, ScimError> {
        let base = req.base_url.as_str();
        let reg = &self.registry;
        let ctx = Ctx::new(
            &self.cfg,
            reg,
            Repo::new(env.store, tenant, env.now),
            req,
            env.catalog_source,
        )
        .with_actor(
            crate::audit::Actor::new(
                principal.and_then(|p| p.client_id.clone()),
                principal.and_then(|p| p.subject.clone()),
                req.header("traceparent"),
            ),
            tenant,
        );
        let json = |v: Value| Ok(Response::json(200, &v));
        // RFC 7644 §3.4.3: `.search` under a type answers POST only; other
        // methods treat the segment as an id, as any other.
        let route = match route {
            Route::Search(kind) if req.method != "POST" => Route::Resource(kind, ".search"),
            r => r,
        };
        let response = match (req.method.as_str(), route) {
            ("GET" | "HEAD", Route::ServiceProviderConfig) => {
                json(discovery::service_provider_config(&self.cfg, base))
            }
            ("GET" | "HEAD", Route::ResourceTypes) => json(discovery::resource_types(reg, base)),
            ("GET" | "HEAD", Route::ResourceType(name)) => {
                json(discovery::resource_type(reg, name, base)?)
            }
            ("GET" | "HEAD", Route::Schemas) => json(discovery::schemas(reg, base)),
            ("GET" | "HEAD", Route::Schema(urn)) => json(discovery::schema(reg, urn, base)?),
            ("GET" | "HEAD", Route::OpenApi) => {
                json(openapi::document(reg, &self.cfg, base_path(base)))
            }
            ("GET" | "HEAD", Route::Docs(name)) => self.docs_page(req, name),
            (m, Route::Docs(_)) => Err(method_not_allowed(m)),
            (m, r) if r.is_discovery() => Err(method_not_allowed(m)),

            // The audit trail: read-only.
            (_, Route::AuditEvents) => crate::audit::query::serve(
                &Repo::new(env.store, tenant, env.now),
                &self.cfg,
                &reg.audit,
                req,
                None,
            ),
            (_, Route::AuditEvent(id)) => crate::audit::query::serve(
                &Repo::new(env.store, tenant, env.now),
                &self.cfg,
                &reg.audit,
                req,
                Some(id),
            ),

            ("GET", Route::Resources(kind)) => read::list(&ctx, kind),
            ("POST", Route::Search(kind)) => read::search(&ctx, kind),
            ("POST", Route::RootSearch) => read::search_root(&ctx),
            ("GET", Route::Resource(kind, id)) => read::get(&ctx, kind, id),

            ("POST", Route::Resources(Kind::Role)) => {
                Err(not_allowed("roles come from the catalog: POST"))
            }
            ("POST", Route::Resources(kind)) => write::create(&ctx, kind),
            ("PUT", Route::Resource(kind, id)) => write::put(&ctx, kind, id),
            ("PATCH", Route::Resource(kind, id)) => write::patch(&ctx, kind, id),

            ("DELETE", Route::Resource(Kind::User, id)) => delete::delete_user(&ctx, id),
            ("DELETE", Route::Resource(Kind::Group, id)) => delete::delete_group(&ctx, id),
            ("DELETE", Route::Resource(Kind::Role, _)) => {
                Err(not_allowed("roles come from the catalog: DELETE"))
            }
            (m, Route::Resources(_) | Route::Resource(..)) => {
                Err(not_allowed(&format!("{m} here")))
            }

            // RFC 7644 §3.11: the authenticated subject's User.
            (m, Route::Me) => me::serve(&ctx, m, principal.and_then(|p| p.me.as_deref())),

            // RFC 7644 §3.7.
            ("POST", Route::Bulk) => {
                let caller = BulkCaller {
                    svc: self,
                    env,
                    tenant,
                    principal,
                };
                crate::bulk::serve(&caller, req, warnings)
            }
            (m, Route::Bulk) => Err(method_not_allowed(m)),
            _ => Err(ScimError::not_found(format!(
                "no SCIM endpoint at {:?}",
                truncate(&req.path, 200)
            ))),
        };
        warnings.extend(ctx.take_skipped());
        response
    }

    /// Credentials judged from the request's head alone (`head.body` is not
    /// looked at), before the adapter reads a body: the refusal when the
    /// route needs a token and the head has no usable one (none, two, not
    /// Bearer, not JWT-shaped, or one in the query). Counted against the
    /// quota like every refusal.
    pub fn refuse_before_body(&self, head: &Request, env: &Env) -> Option<Outcome> {
        if self.unless_docs_off(Route::parse(&head.path)) == Route::Unknown {
            return None;
        }
        let refused = auth::precheck(&self.cfg.auth, head).err()?;
        Some(Outcome {
            response: self.refusal(head, env, &refused.error),
            route: refused.route,
            tenant: None,
            client_id: None,
            warnings: Vec::new(),
        })
    }

    /// The response to a refused credential: the SCIM error, the
    /// `WWW-Authenticate` challenge (RFC 6750 §3) and `Retry-After` when they
    /// apply. With a
    /// request quota set, refusals count against the client's address
    /// (`spin-client-addr`, without its port), so that guessing tokens is
    /// limited too: past the quota, 429.
    fn refusal(&self, req: &Request, env: &Env, e: &AuthError) -> Response {
        let limit = self.cfg.rate_limit_per_hour;
        if limit > 0 {
            let addr = req
                .header("spin-client-addr")
                .map(client_ip)
                .unwrap_or("unknown");
            let repo = Repo::new(env.store, auth::DEFAULT_TENANT, env.now);
            match crate::quota::charge(&repo, &format!("addr:{addr}"), limit) {
                Err(e) => return Response::error(&e),
                Ok(Err(over)) => {
                    return Response::error(&over.to_scim())
                        .with_header("retry-after", over.retry_after.to_string())
                }
                Ok(Ok(())) => {}
            }
        }
        e.response()
    }

    /// Whether the request may proceed, and for which tenant: its bearer
    /// token (RFC 6750 §2.1, never the query), the scope its method needs,
    /// and the client's hourly quota. Unknown routes and, unless configured
    /// otherwise, discovery need no credentials. `principal` is filled as
    /// soon as the token is valid, for the log line.
    fn admit(
        &self,
        req: &Request,
        env: &Env,
        route: &Route,
        principal: &mut Option<Principal>,
    ) -> Result<String, Response> {
        if req.body.len() > self.body_limit(route) {
            return Err(Response::error(&self.body_too_large(route)));
        }
        // Unknown routes answer 404 without looking at credentials: there is
        // nothing there to protect.
        if auth::required_for(&self.cfg.auth, route) {
            // One Authorization header, never a token in the query (RFC 6750
            // §2.3: URLs end up in logs and browser histories).
            let authorization = auth::presented(req).map_err(|e| self.refusal(req, env, &e))?;
            let keys = CachedKeys::new(
                self.cfg.auth.jwks_sources(),
                env.store,
                env.fetcher,
                JWKS_CACHE,
                env.now,
            );
            let p = auth::authenticate(&self.cfg.auth, Some(authorization), &keys, env.now)
                .map_err(|e| self.refusal(req, env, &e))?;
            let access = if matches!(route, Route::AuditEvents | Route::AuditEvent(_)) {
                Access::Audit
            } else if route.only_reads(&req.method) {
                Access::Read
            } else {
                Access::Write
            };
            let checked = auth::authorize(&self.cfg.auth, &p, access);
            *principal = Some(p);
            checked.map_err(|e| self.refusal(req, env, &e))?;
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
            match crate::quota::charge(&repo, client, limit) {
                Err(e) => return Err(Response::error(&e)),
                Ok(Err(over)) => {
                    return Err(Response::error(&over.to_scim())
                        .with_header("retry-after", over.retry_after.to_string()))
                }
                Ok(Ok(())) => {}
            }
        }
        Ok(tenant)
    }
}

/// Request body limits: `max_body_bytes`, and for `/Bulk` its own
/// `bulk_max_payload_bytes` (RFC 7644 §3.7.4, `bulk.maxPayloadSize`).
impl Service {
    /// The largest body a request to `path` (below the API prefix) may
    /// carry: the adapter stops reading there and answers
    /// [`Service::body_too_large_for`].
    pub fn max_body_bytes_for(&self, path: &str) -> usize {
        self.body_limit(&Route::parse(path))
    }

    /// The 413 of a body over [`Service::max_body_bytes_for`], naming the
    /// limit and its value.
    pub fn body_too_large_for(&self, path: &str) -> ScimError {
        self.body_too_large(&Route::parse(path))
    }

    fn body_limit(&self, route: &Route) -> usize {
        match route {
            Route::Bulk => self.cfg.bulk_max_payload_bytes,
            _ => self.cfg.max_body_bytes,
        }
    }

    fn body_too_large(&self, route: &Route) -> ScimError {
        let detail = match route {
            Route::Bulk => format!(
                "the bulk request body is larger than maxPayloadSize \
                 (bulk_max_payload_bytes: {} bytes)",
                self.cfg.bulk_max_payload_bytes
            ),
            _ => format!(
                "request body larger than maxBodyBytes ({} bytes)",
                self.cfg.max_body_bytes
            ),
        };
        ScimError::new(413, None, detail)
    }
}

/// The service as `/Bulk` runs its operations: through [`Service::dispatch`]
/// as the bulk request's tenant and principal.
struct BulkCaller<'a> {
    svc: &'a Service,
    env: &'a Env<'a>,
    tenant: &'a str,
    principal: Option<&'a Principal>,
}

impl crate::bulk::Dispatch for BulkCaller<'_> {
    fn config(&self) -> &Config {
        &self.svc.cfg
    }

    fn endpoint(&self, kind: Kind) -> &'static str {
        self.svc.registry.of(kind).endpoint
    }

    fn dispatch(
        &self,
        req: &Request,
        route: Route,
        warnings: &mut Vec<String>,
    ) -> Result<Response, ScimError> {
        self.svc
            .dispatch(req, self.env, route, self.tenant, self.principal, warnings)
    }
}

/// The IP address of a `spin-client-addr` value (`ip:port`, `[v6]:port`).
fn client_ip(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((ip, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            ip.trim_start_matches('[').trim_end_matches(']')
        }
        _ => addr,
    }
}

/// The path of a base URL (`https://h/api/scim/v2` → `/api/scim/v2`).
fn base_path(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// 405 on a discovery endpoint.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemStore;

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
