//! The resource endpoints `/Users`, `/Groups` and `/Roles` (RFC 7644 §3.3–§3.6),
//! one file per verb: [`read`] (GET one, GET a list, POST `.search`),
//! [`write`] (POST, PUT, PATCH), [`delete`]; with [`render`] (the client's
//! view of a stored resource), [`index`] (a document's index entries) and
//! [`precondition`] (ETags); [`me`] serves `/Me` through them. This file
//! holds what they share: the request context and the lookups every verb
//! starts with.

pub(crate) mod delete;
pub(crate) mod index;
pub(crate) mod me;
mod precondition;
pub(crate) mod read;
mod render;
pub(crate) mod write;

use crate::config::Config;
use crate::error::{Result, ScimError};
use crate::http::Request;
use crate::roles::Catalog;
use crate::schema::{Kind, Registry, ResourceType};
use crate::storage::records::{Loaded, Record, Repo};
use serde_json::{json, Value};
use std::cell::OnceCell;

/// Everything a resource request works with.
pub(crate) struct Ctx<'a> {
    cfg: &'a Config,
    registry: &'a Registry,
    repo: Repo<'a>,
    req: &'a Request,
    /// Reads the role catalog file, when a request needs it.
    catalog_source: &'a dyn Fn() -> std::result::Result<String, String>,
    /// The catalog, read at most once per request.
    catalog: OnceCell<Result<Catalog>>,
    /// Who makes this request's changes, for the audit trail.
    actor: crate::audit::Actor,
    /// The tenant, for the audit trail.
    tenant: &'a str,
}

impl<'a> Ctx<'a> {
    /// The context of one request of `tenant`.
    pub(crate) fn new(
        cfg: &'a Config,
        registry: &'a Registry,
        repo: Repo<'a>,
        req: &'a Request,
        catalog_source: &'a dyn Fn() -> std::result::Result<String, String>,
    ) -> Ctx<'a> {
        Ctx {
            cfg,
            registry,
            repo,
            req,
            catalog_source,
            catalog: OnceCell::new(),
            actor: crate::audit::Actor::default(),
            tenant: crate::auth::DEFAULT_TENANT,
        }
    }
    /// The same context, recording changes as `actor`'s in `tenant`.
    pub(crate) fn with_actor(self, actor: crate::audit::Actor, tenant: &'a str) -> Ctx<'a> {
        Ctx {
            actor,
            tenant,
            ..self
        }
    }
    /// The audit trail this request's changes are recorded in.
    fn journal(&self) -> crate::audit::Journal<'_> {
        crate::audit::Journal::new(
            &self.repo,
            &self.actor,
            self.tenant,
            self.cfg.audit_enabled,
            self.cfg.audit_retention_days,
        )
    }
    /// Notes on stored records this request could not decode.
    pub(crate) fn take_skipped(&self) -> Vec<String> {
        self.repo.take_skipped()
    }
    /// The base URL resource locations start with.
    fn base(&self) -> &str {
        &self.req.base_url
    }
    /// The role catalog.
    fn catalog(&self) -> Result<&Catalog> {
        self.catalog
            .get_or_init(|| crate::roles::load((self.catalog_source)()))
            .as_ref()
            .map_err(Clone::clone)
    }
    /// The resource type of `kind`.
    fn rt(&self, kind: Kind) -> &'a ResourceType {
        self.registry.of(kind)
    }
    /// The request time as `meta` timestamps write it (RFC 3339).
    fn now_rfc3339(&self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp(self.repo.now as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
    /// Whether the unique name of `kind` is compared case-exactly.
    fn name_case_exact(&self) -> bool {
        self.cfg.schema.user_name_case_exact
    }
}

pub(crate) use crate::error::not_allowed;

/// Parse a JSON request body (RFC 7644 §3.1: `application/scim+json`, and
/// `application/json` as IdPs send it). Other media types answer 415.
pub(crate) fn json_body(req: &Request) -> Result<Value> {
    if let Some(ct) = req.header("content-type") {
        let mt = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mt == "application/scim+json" || mt == "application/json" || mt.is_empty()) {
            return Err(ScimError::new(
                415,
                None,
                "request bodies must be application/scim+json or application/json",
            ));
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty"));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}
/// Ids are UUIDs (the server assigns them, RFC 7643 §3.1); anything else
/// cannot name a resource.
fn valid_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()
}
/// 404 for `kind` `id`, without echoing an id that is no UUID.
fn not_found(kind: Kind, id: &str) -> ScimError {
    let shown = if valid_id(id) { id } else { "(invalid id)" };
    ScimError::not_found(format!("{kind:?} {shown} not found"))
}
/// The stored resource `id`, or 404. A catalog role without a record yet
/// is `None`.
fn load_existing(ctx: &Ctx, kind: Kind, id: &str) -> Result<Option<Loaded>> {
    if !valid_id(id) {
        return Err(not_found(kind, id));
    }
    if kind == Kind::Role {
        ctx.catalog()?.get(id).ok_or_else(|| not_found(kind, id))?;
        // A role without a record has no members yet.
        return ctx.repo.load(kind, &id.to_ascii_lowercase());
    }
    match ctx.repo.load(kind, id)? {
        Some(l) => Ok(Some(l)),
        None => Err(not_found(kind, id)),
    }
}
/// The record of a catalog role nobody has written yet.
fn empty_role_record() -> Record {
    Record {
        rev: 0,
        buckets: 0,
        chunk: None,
        audit: None,
        doc: json!({}),
    }
}

/// Role ids are case-insensitive; their records are keyed in lowercase.
fn canonical_id(kind: Kind, id: &str) -> String {
    if kind == Kind::Role {
        id.to_ascii_lowercase()
    } else {
        id.to_string()
    }
}
