//! The resource endpoints `/Users`, `/Groups` and `/Roles` (RFC 7644 §3.3–§3.6):
//! create, read, list, replace, patch and delete, on the storage layout of
//! [`crate::storage::records`] and [`crate::storage::members`].

use crate::config::Config;
use crate::document;
use crate::error::{Result, ScimError};
use crate::http::{Request, Response};
use crate::list::{self, Params, Query};
use crate::patch::{self, Member, MemberOp};
use crate::projection::Projection;
use crate::roles::Catalog;
use crate::schema::Kind;
use crate::schema::{self, Registry, ResourceType};
use crate::storage::kv::{self, Swap};
use crate::storage::layout::{bucket_of, fold, IndexAttr};
use crate::storage::members::{self, Stored};
use crate::storage::records::{parse_id_list, Loaded, Record, Repo};
use serde_json::{json, Map, Value};
use std::cell::OnceCell;
use std::collections::HashMap;

/// Most ids a list scan reads per store round trip.
const SCAN_BATCH: usize = 500;

/// Everything a resource request works with.
pub struct Ctx<'a> {
    pub cfg: &'a Config,
    pub registry: &'a Registry,
    pub repo: Repo<'a>,
    pub req: &'a Request,
    /// Reads the role catalog file, when a request needs it.
    pub catalog_source: &'a dyn Fn() -> std::result::Result<String, String>,
    pub catalog: OnceCell<Result<Catalog>>,
}

impl<'a> Ctx<'a> {
    fn base(&self) -> &str {
        &self.req.base_url
    }
    fn catalog(&self) -> Result<&Catalog> {
        self.catalog
            .get_or_init(|| crate::roles::load((self.catalog_source)()))
            .as_ref()
            .map_err(Clone::clone)
    }
    fn rt(&self, kind: Kind) -> &'a ResourceType {
        match kind {
            Kind::User => &self.registry.user,
            Kind::Group => &self.registry.group,
            Kind::Role => &self.registry.role,
        }
    }
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

/// `/Users...`, `/Groups...`, `/Roles...`: `rest` is what follows the
/// resource segment.
pub fn handle(ctx: &Ctx, kind: Kind, rest: &[&str]) -> Result<Response> {
    let m = ctx.req.method.as_str();
    match (m, rest) {
        ("GET", []) => list(ctx, kind, Params::from_query(ctx.req)),
        ("POST", [s]) if *s == ".search" => {
            let body = json_body(ctx.req)?;
            list(ctx, kind, Params::from_search(&body)?)
        }
        ("POST", []) if kind == Kind::Role => Err(not_allowed("roles come from the catalog: POST")),
        ("POST", []) => create(ctx, kind),
        ("GET", [id]) => get(ctx, kind, id),
        ("PUT", [id]) => write(ctx, kind, id, Write::Put),
        ("PATCH", [id]) => write(ctx, kind, id, Write::Patch),
        ("DELETE", [_]) if kind == Kind::Role => {
            Err(not_allowed("roles come from the catalog: DELETE"))
        }
        ("DELETE", [id]) => delete(ctx, kind, id),
        (_, []) | (_, [_]) => Err(not_allowed(&format!("{m} here"))),
        _ => Err(ScimError::not_found("no such endpoint")),
    }
}

fn not_allowed(what: &str) -> ScimError {
    ScimError::new(
        405,
        None,
        format!("method not allowed: {}", crate::error::truncate(what, 64)),
    )
}

/// Parse a JSON request body (RFC 7644 §3.1: `application/scim+json`, and
/// `application/json` as IdPs send it). Other media types answer 415.
pub fn json_body(req: &Request) -> Result<Value> {
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

fn valid_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()
}

fn not_found(kind: Kind, id: &str) -> ScimError {
    let shown = if valid_id(id) { id } else { "(invalid id)" };
    ScimError::not_found(format!("{kind:?} {shown} not found"))
}

fn query_projection(ctx: &Ctx, kind: Kind) -> Result<Projection> {
    Projection::parse(
        ctx.rt(kind),
        ctx.req.query_param("attributes").as_deref(),
        ctx.req.query_param("excludedAttributes").as_deref(),
    )
}

// ---- preconditions (RFC 7644 §3.14) -----------------------------------------

fn etag_matches(header: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

fn check_if_match(req: &Request, current: Option<&Record>) -> Result<()> {
    if let Some(h) = req.header("if-match") {
        let ok = match current {
            Some(r) => etag_matches(h, &r.etag()),
            None => false,
        };
        if !ok {
            return Err(ScimError::new(
                412,
                None,
                "If-Match does not match the resource's current version",
            ));
        }
    }
    Ok(())
}

// ---- rendering ----------------------------------------------------------------

/// What a rendering needs to read besides the record.
struct Wants {
    members: bool,
    groups: bool,
    roles: bool,
}

/// `force`: a filter or sort needs the memberships whatever the projection keeps.
fn wants(proj: &Projection, rt: &ResourceType, force: bool) -> Wants {
    Wants {
        members: force || proj.wants(rt, "members"),
        groups: force || proj.wants(rt, "groups"),
        roles: force || proj.wants(rt, "roles"),
    }
}

fn location(base: &str, rt: &ResourceType, id: &str) -> String {
    format!("{base}{}/{id}", rt.endpoint)
}

/// The full client view of a stored resource (before projection).
fn render(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    rec: Record,
    w: &Wants,
    ms: Option<UserMemberships>,
) -> Result<Value> {
    let rt = ctx.rt(kind);
    let etag = rec.etag();
    let mut doc = rec.doc;
    if kind == Kind::Role {
        let mut role = role_doc(ctx, id)?;
        if let (Some(meta), Some(stored)) = (role.get_mut("meta"), doc.get_mut("meta")) {
            *meta = stored.take();
        }
        if let Some(ext) = doc.get_mut("externalId") {
            role["externalId"] = ext.take();
        }
        doc = role;
    }
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("corrupt record"))?;
    obj.insert("id".into(), Value::String(id.to_string()));
    match kind {
        Kind::User => {
            let ms = match ms {
                Some(ms) => ms,
                None => memberships_of(ctx, &[id], w)?
                    .remove(id)
                    .unwrap_or_default(),
            };
            if !ms.groups.is_empty() {
                obj.insert("groups".into(), Value::Array(ms.groups));
            }
            if !ms.roles.is_empty() {
                obj.insert("roles".into(), Value::Array(ms.roles));
            }
        }
        Kind::Group | Kind::Role => {
            if w.members {
                let ms = members::read_all(&ctx.repo, kind, id, rec.buckets)?;
                if !ms.is_empty() {
                    obj.insert(
                        "members".into(),
                        Value::Array(ms.iter().map(|m| m.to_json(ctx.base())).collect()),
                    );
                }
            }
        }
    }
    let meta = obj
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(m) = meta.as_object_mut() {
        m.insert("resourceType".into(), Value::String(rt.name.to_string()));
        m.insert(
            "location".into(),
            Value::String(location(ctx.base(), rt, id)),
        );
        m.insert("version".into(), Value::String(etag));
    }
    Ok(doc)
}

/// The catalog entry of a role as a document.
fn role_doc(ctx: &Ctx, id: &str) -> Result<Value> {
    let def = ctx
        .catalog()?
        .get(id)
        .ok_or_else(|| not_found(Kind::Role, id))?;
    let mut d = json!({
        "schemas": [schema::ROLE],
        "id": def.id,
        "displayName": def.display_name,
        "meta": {},
    });
    if let Some(desc) = &def.description {
        d["description"] = Value::String(desc.clone());
    }
    Ok(d)
}

/// `User.groups` and `User.roles` of one user.
#[derive(Debug, Default)]
struct UserMemberships {
    groups: Vec<Value>,
    roles: Vec<Value>,
}

/// `User.groups` / `User.roles` of many users in two batched store reads:
/// the users' membership lists, then the member buckets and group records
/// they name. Each list entry is confirmed against the bucket (the lists are
/// supersets, see members.rs) by a byte search, without parsing the bucket.
fn memberships_of(ctx: &Ctx, ids: &[&str], w: &Wants) -> Result<HashMap<String, UserMemberships>> {
    let lists = ListKeys::new(ctx, ids, w);
    if lists.keys.is_empty() {
        return Ok(HashMap::new());
    }
    let values = ctx.repo.store.get_many(&lists.keys)?;
    memberships_listed(ctx, lists.owners.into_iter().zip(values).collect())
}

/// The membership lists a rendering of users wants (`groups`, `roles`):
/// their keys, and for each key the user and container kind it lists. A
/// caller that reads the users' records reads these in the same store call.
struct ListKeys<'i> {
    keys: Vec<String>,
    owners: Vec<(&'i str, Kind)>,
}

impl<'i> ListKeys<'i> {
    fn new(ctx: &Ctx, ids: &[&'i str], w: &Wants) -> ListKeys<'i> {
        let containers: Vec<Kind> = [(w.groups, Kind::Group), (w.roles, Kind::Role)]
            .into_iter()
            .filter_map(|(wanted, c)| wanted.then_some(c))
            .collect();
        let mut keys = Vec::with_capacity(ids.len() * containers.len());
        let mut owners = Vec::with_capacity(keys.capacity());
        for id in ids {
            for c in &containers {
                keys.push(ctx.repo.keys.memberships(*c, id));
                owners.push((*id, *c));
            }
        }
        ListKeys { keys, owners }
    }
}

/// A user's stored membership list for one container kind.
type Listed<'i> = ((&'i str, Kind), Option<Vec<u8>>);

/// [`memberships_of`] from membership lists already read.
fn memberships_listed(ctx: &Ctx, lists: Vec<Listed>) -> Result<HashMap<String, UserMemberships>> {
    let mut out: HashMap<String, UserMemberships> = HashMap::new();
    // (user, container kind, container id) for every listed membership.
    let mut pairs: Vec<(&str, Kind, String)> = Vec::new();
    for ((uid, c), raw) in lists {
        let listed = parse_id_list(raw.as_deref());
        pairs.extend(listed.into_iter().map(|cid| (uid, c, cid)));
    }
    if pairs.is_empty() {
        return Ok(out);
    }
    let mut group_ids: Vec<String> = pairs
        .iter()
        .filter(|(_, c, _)| *c == Kind::Group)
        .map(|(_, _, g)| g.clone())
        .collect();
    group_ids.sort();
    group_ids.dedup();
    // Each bucket once: the users of a page share a container's buckets
    // (32 of them), and a bucket of a large group is tens of KiB.
    let mut keys: Vec<String> = Vec::new();
    let mut bucket_slot: HashMap<(Kind, &str, u32), usize> = HashMap::new();
    let slots: Vec<usize> = pairs
        .iter()
        .map(|(uid, c, cid)| {
            *bucket_slot
                .entry((*c, cid.as_str(), bucket_of(uid)))
                .or_insert_with(|| {
                    keys.push(ctx.repo.keys.members(*c, cid, bucket_of(uid)));
                    keys.len() - 1
                })
        })
        .collect();
    let bucket_count = keys.len();
    keys.extend(
        group_ids
            .iter()
            .map(|g| ctx.repo.keys.record(Kind::Group, g)),
    );
    let mut buckets = ctx.repo.store.get_many(&keys)?;
    let group_recs: HashMap<&str, Record> = group_ids
        .iter()
        .zip(buckets.split_off(bucket_count))
        .filter_map(|(g, raw)| Some((g.as_str(), Record::decode(&raw?).ok()?)))
        .collect();
    let catalog = if pairs.iter().any(|(_, c, _)| *c == Kind::Role) {
        Some(ctx.catalog()?)
    } else {
        None
    };
    for ((uid, c, cid), slot) in pairs.iter().zip(slots) {
        if !buckets[slot]
            .as_deref()
            .is_some_and(|b| members::bucket_has(b, uid))
        {
            continue;
        }
        let entry = out.entry(uid.to_string()).or_default();
        match c {
            Kind::Group => {
                let Some(rec) = group_recs.get(cid.as_str()) else {
                    continue;
                }; // deleted
                let mut v = json!({
                    "value": cid,
                    "$ref": location(ctx.base(), &ctx.registry.group, cid),
                    "type": "direct",
                });
                if let Some(d) = rec.doc.get("displayName") {
                    v["display"] = d.clone();
                }
                entry.groups.push(v);
            }
            _ => {
                let Some(def) = catalog.and_then(|cat| cat.get(cid)) else {
                    continue;
                };
                entry.roles.push(json!({
                    "value": def.id,
                    "$ref": location(ctx.base(), &ctx.registry.role, &def.id),
                    "display": def.display_name,
                    "type": "direct",
                }));
            }
        }
    }
    Ok(out)
}

fn respond_one(ctx: &Ctx, kind: Kind, id: &str, rec: Record, status: u16) -> Result<Response> {
    respond_one_with(
        ctx,
        kind,
        id,
        rec,
        status,
        query_projection(ctx, kind)?,
        None,
    )
}

/// [`respond_one`] with the request's projection parsed and, for a user,
/// its memberships already read (`ms`).
fn respond_one_with(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    rec: Record,
    status: u16,
    proj: Projection,
    ms: Option<UserMemberships>,
) -> Result<Response> {
    let rt = ctx.rt(kind);
    let mut w = wants(&proj, rt, false);
    // Without projection parameters, members are written straight from the
    // buckets into the body instead of through a JSON tree: a group of
    // 10,000 members would otherwise cost most of the request.
    let direct_members = kind != Kind::User && proj.is_default() && w.members;
    if direct_members {
        w.members = false;
    }
    let (etag, buckets) = (rec.etag(), rec.buckets);
    let mut doc = render(ctx, kind, id, rec, &w, ms)?;
    proj.apply(rt, &mut doc);
    let mut body = serde_json::to_vec(&doc).map_err(|e| ScimError::internal(e.to_string()))?;
    if direct_members {
        let ms = members::read_all(&ctx.repo, kind, id, buckets)?;
        if !ms.is_empty() && body.last() == Some(&b'}') {
            body.pop();
            body.extend_from_slice(b",\"members\":");
            members::write_json(&mut body, &ms, ctx.base());
            body.push(b'}');
        }
    }
    let mut r = Response::json_bytes(status, body).with_header("etag", etag);
    if status == 201 {
        r = r.with_header("location", location(ctx.base(), rt, id));
    }
    Ok(r)
}

// ---- GET /{type}/{id} ---------------------------------------------------------

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

fn empty_role_record() -> Record {
    Record {
        rev: 0,
        buckets: 0,
        chunk: None,
        doc: json!({}),
    }
}

fn get(ctx: &Ctx, kind: Kind, id: &str) -> Result<Response> {
    let proj = query_projection(ctx, kind)?;
    let (loaded, ms) = if kind == Kind::User {
        let (loaded, ms) = load_user(ctx, id, &wants(&proj, ctx.rt(kind), false))?;
        (Some(loaded), Some(ms))
    } else {
        (load_existing(ctx, kind, id)?, None)
    };
    let rec = loaded.map(|l| l.record).unwrap_or_else(empty_role_record);
    let id = canonical_id(kind, id);
    if let Some(h) = ctx.req.header("if-none-match") {
        if etag_matches(h, &rec.etag()) {
            return Ok(Response::empty(304).with_header("etag", rec.etag()));
        }
    }
    respond_one_with(ctx, kind, &id, rec, 200, proj, ms)
}

/// A user's record and the memberships `w` wants, in one store read for the
/// record and its membership lists (404 if there is no such user).
fn load_user(ctx: &Ctx, id: &str, w: &Wants) -> Result<(Loaded, UserMemberships)> {
    if !valid_id(id) {
        return Err(not_found(Kind::User, id));
    }
    let lists = ListKeys::new(ctx, &[id], w);
    let (loaded, values) = ctx.repo.load_with(Kind::User, id, &lists.keys)?;
    let loaded = loaded.ok_or_else(|| not_found(Kind::User, id))?;
    let ms = memberships_listed(ctx, lists.owners.into_iter().zip(values).collect())?
        .remove(id)
        .unwrap_or_default();
    Ok((loaded, ms))
}

fn canonical_id(kind: Kind, id: &str) -> String {
    if kind == Kind::Role {
        id.to_ascii_lowercase()
    } else {
        id.to_string()
    }
}

// ---- GET /{type} and POST /{type}/.search -------------------------------------

fn list(ctx: &Ctx, kind: Kind, params: Params) -> Result<Response> {
    let rt = ctx.rt(kind);
    let q = params.parse(rt, ctx.cfg)?;
    let w = wants(&q.projection, rt, q.filter_needs_members);
    if kind != Kind::Role && q.filter.is_none() && q.sort_by.is_none() {
        // A page costs the page: the list summary, the chunks it spans, the records.
        let (total, ids, _) = ctx.repo.list_page(kind, q.start_index - 1, q.count)?;
        let mut docs = load_docs(ctx, kind, &ids, &w)?;
        docs.iter_mut().for_each(|d| q.projection.apply(rt, d));
        return Ok(Response::json(
            200,
            &list::response(total, q.start_index, docs),
        ));
    }
    let mut docs = matching(ctx, kind, &q, &w)?;
    if let Some(path) = &q.sort_by {
        list::sort(rt, &mut docs, path, q.descending);
    }
    let total = docs.len();
    let mut page: Vec<Value> = docs
        .into_iter()
        .skip(q.start_index - 1)
        .take(q.count)
        .collect();
    page.iter_mut().for_each(|d| q.projection.apply(rt, d));
    Ok(Response::json(
        200,
        &list::response(total, q.start_index, page),
    ))
}

/// Every resource of `kind` matching the query's filter, in list order.
fn matching(ctx: &Ctx, kind: Kind, q: &Query, w: &Wants) -> Result<Vec<Value>> {
    let rt = ctx.rt(kind);
    let mut docs = if kind == Kind::Role {
        role_docs(ctx, w)?
    } else {
        load_docs(ctx, kind, &candidates(ctx, kind, q)?, w)?
    };
    if let Some(f) = &q.filter {
        docs.retain(|d| f.matches(rt, d));
    }
    Ok(docs)
}

/// POST /.search at the root (RFC 7644 §3.4.3): the query over every
/// resource type; results carry their own `schemas` and `meta.resourceType`.
pub fn search_root(ctx: &Ctx) -> Result<Response> {
    let body = json_body(ctx.req)?;
    let params = Params::from_search(&body)?;
    let mut all = Vec::new();
    let mut first_query = None;
    for kind in [Kind::User, Kind::Group, Kind::Role] {
        let rt = ctx.rt(kind);
        let q = params.parse(rt, ctx.cfg)?;
        let w = wants(&q.projection, rt, q.filter_needs_members);
        let mut docs = matching(ctx, kind, &q, &w)?;
        if let Some(path) = &q.sort_by {
            list::sort(rt, &mut docs, path, q.descending);
        }
        docs.iter_mut().for_each(|d| q.projection.apply(rt, d));
        all.extend(docs);
        first_query.get_or_insert(q);
    }
    let q = first_query.expect("three resource types");
    let total = all.len();
    let page: Vec<Value> = all
        .into_iter()
        .skip(q.start_index - 1)
        .take(q.count)
        .collect();
    Ok(Response::json(
        200,
        &list::response(total, q.start_index, page),
    ))
}

/// Ids a filtered or sorted list must examine: an index lookup when the
/// filter allows one, else every id (bounded by `filter_scan_max`).
fn candidates(ctx: &Ctx, kind: Kind, q: &Query) -> Result<Vec<String>> {
    use crate::filter::IndexLookup;
    let rt = ctx.rt(kind);
    if let Some(lookup) = q.filter.as_ref().and_then(|f| f.index_lookup(rt)) {
        let exact = ctx.name_case_exact();
        return match lookup {
            IndexLookup::Id(id) => Ok(vec![id]),
            IndexLookup::UserName(v) if kind == Kind::User => Ok(ctx
                .repo
                .unique_lookup(kind, &fold(&v, exact))?
                .into_iter()
                .collect()),
            IndexLookup::DisplayName(v) if kind == Kind::Group => Ok(ctx
                .repo
                .unique_lookup(kind, &fold(&v, exact))?
                .into_iter()
                .collect()),
            IndexLookup::ExternalId(v) => ctx.repo.multi_lookup(kind, IndexAttr::ExternalId, &v),
            IndexLookup::Email(v) if kind == Kind::User => {
                ctx.repo
                    .multi_lookup(kind, IndexAttr::Email, &fold(&v, false))
            }
            _ => scan_ids(ctx, kind),
        };
    }
    scan_ids(ctx, kind)
}

fn scan_ids(ctx: &Ctx, kind: Kind) -> Result<Vec<String>> {
    let total = ctx.repo.list_total(kind)?;
    if total > ctx.cfg.scan_max {
        return Err(ScimError::too_many(format!(
            "this filter or sort needs a scan of {total} resources, more than the limit of {}; \
             filter by id, userName, externalId, displayName or emails with eq",
            ctx.cfg.scan_max
        )));
    }
    ctx.repo.list_all(kind)
}

/// Load and render `ids` (missing ones skipped), in order.
fn load_docs(ctx: &Ctx, kind: Kind, ids: &[String], w: &Wants) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::new();
    for batch in ids.chunks(SCAN_BATCH) {
        let batch: Vec<String> = batch
            .iter()
            .filter(|id| valid_id(id) && seen.insert((*id).clone()))
            .cloned()
            .collect();
        // Users' records and membership lists in one read.
        let ids: Vec<&str> = batch.iter().map(String::as_str).collect();
        let lists = match kind {
            Kind::User => ListKeys::new(ctx, &ids, w),
            _ => ListKeys::new(ctx, &[], w),
        };
        let (recs, values) = ctx.repo.load_many_with(kind, &batch, &lists.keys)?;
        let found: std::collections::HashSet<&str> = ids
            .iter()
            .zip(&recs)
            .filter_map(|(id, r)| r.as_ref().map(|_| *id))
            .collect();
        let mut ms = memberships_listed(
            ctx,
            lists
                .owners
                .into_iter()
                .zip(values)
                .filter(|((uid, _), _)| found.contains(uid))
                .collect(),
        )?;
        for (id, rec) in batch.iter().zip(recs) {
            if let Some(rec) = rec {
                let m = (kind == Kind::User).then(|| ms.remove(id.as_str()).unwrap_or_default());
                out.push(render(ctx, kind, id, rec, w, m)?);
            }
        }
    }
    Ok(out)
}

fn role_docs(ctx: &Ctx, w: &Wants) -> Result<Vec<Value>> {
    let catalog = ctx.catalog()?;
    let ids: Vec<String> = catalog
        .roles
        .iter()
        .map(|r| r.id.to_ascii_lowercase())
        .collect();
    let recs = ctx.repo.load_many(Kind::Role, &ids)?;
    let mut docs = Vec::with_capacity(ids.len());
    for (id, rec) in ids.iter().zip(recs) {
        let rec = rec.unwrap_or_else(empty_role_record);
        docs.push(render(ctx, Kind::Role, id, rec, w, None)?);
    }
    Ok(docs)
}

// ---- indexes of a document ------------------------------------------------------

#[derive(Default, PartialEq)]
struct Indexed {
    name: Option<String>,
    external: Option<String>,
    emails: Vec<String>,
}

fn indexed(ctx: &Ctx, kind: Kind, doc: &Value) -> Indexed {
    let exact = ctx.name_case_exact();
    let name_attr = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
        Kind::Role => return Indexed::default(),
    };
    let mut emails: Vec<String> = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(|v| fold(v, false))
                .collect()
        })
        .unwrap_or_default();
    emails.sort();
    emails.dedup();
    Indexed {
        name: doc
            .get(name_attr)
            .and_then(Value::as_str)
            .map(|v| fold(v, exact)),
        external: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string),
        emails,
    }
}

/// Claim and add the index entries `new` has and `old` lacks (before the record is written).
fn index_before(ctx: &Ctx, kind: Kind, id: &str, old: &Indexed, new: &Indexed) -> Result<()> {
    if let Some(n) = &new.name {
        if old.name.as_ref() != Some(n) {
            let what = if kind == Kind::User {
                "userName"
            } else {
                "displayName"
            };
            ctx.repo.claim_unique(kind, n, id, what, |other| {
                Ok(match ctx.repo.load(kind, other)? {
                    Some(l) => indexed(ctx, kind, &l.record.doc).name.as_ref() == Some(n),
                    None => false,
                })
            })?;
        }
    }
    if let Some(x) = &new.external {
        if old.external.as_ref() != Some(x) {
            ctx.repo
                .multi_set(kind, IndexAttr::ExternalId, x, id, true)?;
        }
    }
    for e in new.emails.iter().filter(|e| !old.emails.contains(e)) {
        ctx.repo.multi_set(kind, IndexAttr::Email, e, id, true)?;
    }
    Ok(())
}

/// Drop the index entries `old` has and `new` lacks (after the record is written).
fn index_after(ctx: &Ctx, kind: Kind, id: &str, old: &Indexed, new: &Indexed) -> Result<()> {
    if let Some(n) = &old.name {
        if new.name.as_ref() != Some(n) {
            ctx.repo.release_unique(kind, n, id)?;
        }
    }
    if let Some(x) = &old.external {
        if new.external.as_ref() != Some(x) {
            ctx.repo
                .multi_set(kind, IndexAttr::ExternalId, x, id, false)?;
        }
    }
    for e in old.emails.iter().filter(|e| !new.emails.contains(e)) {
        ctx.repo.multi_set(kind, IndexAttr::Email, e, id, false)?;
    }
    Ok(())
}

// ---- members --------------------------------------------------------------------

/// Split `members` off a normalised document into an Add op.
fn take_members(doc: &mut Value) -> Result<Vec<Member>> {
    let Some(ms) = doc.as_object_mut().and_then(|o| o.remove("members")) else {
        return Ok(Vec::new());
    };
    ms.as_array()
        .map(|a| a.iter().map(patch::parse_member).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// Keep only Add members that are existing users (AFC: unknown ids are
/// ignored). `display` is the one the client sent (RFC 7643 §2.4: immutable,
/// so a client sets it with the value), else the user's name.
fn resolve_members(ctx: &Ctx, ops: Vec<MemberOp>) -> Result<Vec<MemberOp>> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            MemberOp::Add(ms) => {
                let ms: Vec<Member> = ms.into_iter().filter(|m| valid_id(&m.value)).collect();
                let ids: Vec<String> = ms.iter().map(|m| m.value.clone()).collect();
                let users = ctx.repo.load_many(Kind::User, &ids)?;
                let mut kept = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for ((id, sent), rec) in ids.iter().zip(&ms).zip(users) {
                    let Some(rec) = rec else { continue };
                    let display = sent.display.clone().or_else(|| {
                        rec.doc
                            .get("displayName")
                            .or_else(|| rec.doc.get("userName"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    });
                    if seen.insert(id.clone()) {
                        kept.push(Member {
                            value: id.clone(),
                            display,
                            kind: Some("User".into()),
                        });
                    }
                }
                out.push(MemberOp::Add(kept));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn added_ids(ops: &[MemberOp]) -> Vec<String> {
    let mut ids = Vec::new();
    for op in ops {
        if let MemberOp::Add(ms) = op {
            ids.extend(ms.iter().map(|m| m.value.clone()));
        }
    }
    ids
}

/// After the record is written: write the buckets and the users' lists.
fn apply_members(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old_buckets: u32,
    ops: &[MemberOp],
) -> Result<()> {
    if ops.is_empty() {
        return Ok(());
    }
    let rt = ctx.rt(kind);
    let members_attr = rt
        .schema
        .attribute("members")
        .expect("containers have members");
    let base = ctx.base().to_string();
    let bits = members::touched(ops, old_buckets | members::added_bits(ops));
    let delta = members::write_buckets(&ctx.repo, kind, id, bits, ops, |f, m: &Stored| {
        f.matches_element(rt, members_attr, &m.to_json(&base))
    })?;
    for uid in &delta.removed {
        ctx.repo
            .update_id_list(&ctx.repo.keys.memberships(kind, uid), id, false)?;
    }
    Ok(())
}

// ---- POST /{type} -----------------------------------------------------------------

fn create(ctx: &Ctx, kind: Kind) -> Result<Response> {
    let rt = ctx.rt(kind);
    let body = json_body(ctx.req)?;
    let mut doc = document::normalize(rt, &body)?;
    let member_list = take_members(&mut doc)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = ctx.now_rfc3339();
    {
        let o = doc
            .as_object_mut()
            .expect("normalised documents are objects");
        o.insert("id".into(), Value::String(id.clone()));
        o.insert(
            "meta".into(),
            json!({"resourceType": rt.name, "created": now, "lastModified": now}),
        );
    }
    let ops = if member_list.is_empty() {
        Vec::new()
    } else {
        resolve_members(ctx, vec![MemberOp::Add(member_list)])?
    };
    let new_ix = indexed(ctx, kind, &doc);
    // Order (docs/storage.md): claims and indexes, list slot, users' lists,
    // the record, then member buckets.
    index_before(ctx, kind, &id, &Indexed::default(), &new_ix)?;
    let chunk = ctx.repo.list_append(kind, &id)?;
    for uid in added_ids(&ops) {
        ctx.repo
            .update_id_list(&ctx.repo.keys.memberships(kind, &uid), &id, true)?;
    }
    let rec = Record {
        rev: 1,
        buckets: members::added_bits(&ops),
        chunk: Some(chunk),
        doc,
    };
    ctx.repo.put_new_record(kind, &id, &rec)?;
    apply_members(ctx, kind, &id, 0, &ops)?;
    respond_one(ctx, kind, &id, rec, 201)
}

// ---- PUT and PATCH /{type}/{id} -----------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Write {
    Put,
    Patch,
}

fn write(ctx: &Ctx, kind: Kind, id: &str, how: Write) -> Result<Response> {
    let body = json_body(ctx.req)?;
    let id = canonical_id(kind, id);
    for _ in 0..crate::storage::records::MAX_RETRIES {
        let loaded = load_existing(ctx, kind, &id)?;
        let (old, raw) = match &loaded {
            Some(l) => (l.record.clone(), Some(l.raw.clone())),
            None => (empty_role_record(), None),
        };
        check_if_match(
            ctx.req,
            loaded.as_ref().map(|l| &l.record).or(
                // A role without a record still has version W/"0".
                if kind == Kind::Role { Some(&old) } else { None },
            ),
        )?;
        let (mut doc, ops, changed) = match how {
            Write::Put => put_document(ctx, kind, &id, &old, &body)?,
            Write::Patch => patch_document(ctx, kind, &id, &old, &body)?,
        };
        if !changed {
            return write_reply(ctx, kind, &id, old, how);
        }
        let ops = resolve_members(ctx, ops)?;
        if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("lastModified".into(), Value::String(ctx.now_rfc3339()));
        }
        let old_ix = indexed(ctx, kind, &old.doc);
        let new_ix = indexed(ctx, kind, &doc);
        index_before(ctx, kind, &id, &old_ix, &new_ix)?;
        for uid in added_ids(&ops) {
            ctx.repo
                .update_id_list(&ctx.repo.keys.memberships(kind, &uid), &id, true)?;
        }
        let rec = Record {
            rev: old.rev + 1,
            buckets: old.buckets | members::added_bits(&ops),
            chunk: old.chunk,
            doc,
        };
        match ctx.repo.swap_record(kind, &id, raw.as_deref(), &rec)? {
            Swap::Done => {
                index_after(ctx, kind, &id, &old_ix, &new_ix)?;
                apply_members(ctx, kind, &id, old.buckets, &ops)?;
                return write_reply(ctx, kind, &id, rec, how);
            }
            Swap::Conflict => {
                // Someone changed it meanwhile. Undo our new claims (best
                // effort) and start over from the new version; with If-Match
                // the next pass answers 412.
                let _ = index_after(ctx, kind, &id, &new_ix, &old_ix);
                continue;
            }
        }
    }
    Err(ScimError::new(
        503,
        None,
        "too much concurrent change on this resource; retry",
    ))
}

/// The answer to a successful PUT or PATCH.
///
/// PUT returns the resource (RFC 7644 §3.5.1). PATCH returns either the
/// resource with 200, subject to `attributes` / `excludedAttributes`, or 204
/// No Content with the new `ETag` (§3.5.2 allows both). Which one: the
/// client's `Prefer: return=minimal|representation` (RFC 7240 §4.2) when it
/// sends one (then `Preference-Applied` says so); else the resource when it
/// asked for a projection; else the resource for users (small, and what
/// Okta reads back) and `group_patch_response` for groups and roles (204 by
/// default: a group of 10,000 members is a megabyte of JSON that IdPs such
/// as Entra ID never read, and reading it back costs more than the change).
fn write_reply(ctx: &Ctx, kind: Kind, id: &str, rec: Record, how: Write) -> Result<Response> {
    use crate::http::Return;
    if how == Write::Put {
        return respond_one(ctx, kind, id, rec, 200);
    }
    let preferred = ctx.req.prefer_return();
    let wanted = preferred.unwrap_or_else(|| {
        let projection = ctx.req.query_param("attributes").is_some()
            || ctx.req.query_param("excludedAttributes").is_some();
        if projection || kind == Kind::User {
            Return::Representation
        } else {
            ctx.cfg.group_patch_response
        }
    });
    let reply = match wanted {
        Return::Representation => respond_one(ctx, kind, id, rec, 200)?,
        Return::Minimal => Response::empty(204).with_header("etag", rec.etag()),
    };
    Ok(match preferred {
        Some(p) => reply.with_header("preference-applied", p.applied()),
        None => reply,
    })
}

/// PUT (RFC 7644 §3.5.1): the body replaces the resource; readOnly
/// attributes are ignored; `id` must not change.
fn put_document(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old: &Record,
    body: &Value,
) -> Result<(Value, Vec<MemberOp>, bool)> {
    let rt = ctx.rt(kind);
    if let Some(sent) = body
        .as_object()
        .and_then(|o| schema::get_ci(o, "id"))
        .and_then(Value::as_str)
    {
        if !sent.eq_ignore_ascii_case(id) {
            return Err(ScimError::mutability(
                "id is immutable and does not match the URL",
            ));
        }
    }
    if kind == Kind::Role {
        check_role_catalog_attrs(ctx, id, body)?;
        let mut ops = vec![MemberOp::RemoveAll];
        let ms = body
            .as_object()
            .and_then(|o| schema::get_ci(o, "members"))
            .cloned()
            .unwrap_or(Value::Null);
        let list = match ms {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .iter()
                .map(patch::parse_member)
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(ScimError::invalid_value("members must be an array")),
        };
        ops.push(MemberOp::Add(list));
        let mut doc = old.doc.clone();
        let sent = body
            .as_object()
            .and_then(|o| schema::get_ci(o, "externalId"));
        set_role_external_id(ctx, &mut doc, sent)?;
        return Ok((doc, ops, true));
    }
    let mut doc = document::normalize(rt, body)?;
    let member_list = take_members(&mut doc)?;
    let o = doc.as_object_mut().expect("object");
    o.insert("id".into(), Value::String(id.to_string()));
    o.insert(
        "meta".into(),
        old.doc.get("meta").cloned().unwrap_or_else(|| json!({})),
    );
    let ops = if kind == Kind::Group {
        vec![MemberOp::RemoveAll, MemberOp::Add(member_list)]
    } else {
        Vec::new()
    };
    Ok((doc, ops, true))
}

/// A role's `externalId`, kept in its record: RFC 7643 §3.1 defines it, readWrite,
/// for every resource, catalog roles too. `None` or null unassigns it.
fn set_role_external_id(ctx: &Ctx, doc: &mut Value, sent: Option<&Value>) -> Result<()> {
    let value = match sent {
        Some(v) if !v.is_null() => {
            document::normalize(ctx.rt(Kind::Role), &json!({ "externalId": v }))?
                .get("externalId")
                .cloned()
        }
        _ => None,
    };
    let o = doc
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("corrupt record"))?;
    match value {
        Some(v) => o.insert("externalId".into(), v),
        None => o.remove("externalId"),
    };
    Ok(())
}

/// Role catalog attributes are read-only: a PUT may repeat them, not change them.
fn check_role_catalog_attrs(ctx: &Ctx, id: &str, body: &Value) -> Result<()> {
    let def = ctx
        .catalog()?
        .get(id)
        .ok_or_else(|| not_found(Kind::Role, id))?;
    let Some(o) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the resource must be a JSON object",
        ));
    };
    if let Some(v) = schema::get_ci(o, "displayName") {
        if v.as_str() != Some(def.display_name.as_str()) {
            return Err(ScimError::mutability(
                "a role's displayName comes from the catalog and cannot change",
            ));
        }
    }
    if let Some(v) = schema::get_ci(o, "description") {
        if !v.is_null() && v.as_str() != def.description.as_deref() {
            return Err(ScimError::mutability(
                "a role's description comes from the catalog and cannot change",
            ));
        }
    }
    Ok(())
}

/// PATCH (RFC 7644 §3.5.2) on the stored document; members become ops.
fn patch_document(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old: &Record,
    body: &Value,
) -> Result<(Value, Vec<MemberOp>, bool)> {
    let rt = ctx.rt(kind);
    let mut doc = if kind == Kind::Role {
        let mut d = role_doc(ctx, id)?;
        if let Some(o) = d.as_object_mut() {
            o.remove("meta");
            if let Some(ext) = old.doc.get("externalId") {
                o.insert("externalId".into(), ext.clone());
            }
        }
        d
    } else {
        old.doc.clone()
    };
    let outcome = patch::apply(rt, &mut doc, body)?;
    if !outcome.changed {
        return Ok((old.doc.clone(), Vec::new(), false));
    }
    if kind == Kind::Role {
        // Only members and externalId may change; patch::apply already
        // refused catalog attributes.
        let mut new = old.doc.clone();
        set_role_external_id(ctx, &mut new, doc.get("externalId"))?;
        return Ok((new, outcome.member_ops, true));
    }
    let meta = old.doc.get("meta").cloned().unwrap_or_else(|| json!({}));
    let mut doc = document::normalize(rt, &doc)?;
    let o = doc.as_object_mut().expect("object");
    o.remove("members");
    o.insert("id".into(), Value::String(id.to_string()));
    o.insert("meta".into(), meta);
    let changed = doc != old.doc || !outcome.member_ops.is_empty();
    Ok((doc, outcome.member_ops, changed))
}

// ---- DELETE /{type}/{id} --------------------------------------------------------------

fn delete(ctx: &Ctx, kind: Kind, id: &str) -> Result<Response> {
    match kind {
        Kind::User => delete_user(ctx, id),
        Kind::Group => delete_group(ctx, id),
        Kind::Role => unreachable!("DELETE on roles answers 405 before this"),
    }
}

/// Memberships first (the user is still visible meanwhile), then in one
/// store call the record (now gone everywhere), its membership lists and
/// its userName claim, then the other index entries and the list slot.
fn delete_user(ctx: &Ctx, id: &str) -> Result<Response> {
    let kind = Kind::User;
    if !valid_id(id) {
        return Err(not_found(kind, id));
    }
    let containers = [Kind::Group, Kind::Role];
    let list_keys: Vec<String> = containers
        .iter()
        .map(|c| ctx.repo.keys.memberships(*c, id))
        .collect();
    // The record and the membership lists in one read.
    let (loaded, lists) = ctx.repo.load_with(kind, id, &list_keys)?;
    let loaded = loaded.ok_or_else(|| not_found(kind, id))?;
    check_if_match(ctx.req, Some(&loaded.record))?;
    let mut ix = indexed(ctx, kind, &loaded.record.doc);
    for (container, raw) in containers.into_iter().zip(lists) {
        for cid in parse_id_list(raw.as_deref()) {
            let ops = [MemberOp::Remove(vec![id.to_string()])];
            members::write_buckets(
                &ctx.repo,
                container,
                &cid,
                members::bit(bucket_of(id)),
                &ops,
                |_, _| false,
            )?;
            bump(ctx, container, &cid)?;
        }
    }
    // Read while the record still holds the name: no other user can have
    // claimed it meanwhile (see Repo::claim_unique).
    let claim = match ix.name.take() {
        Some(name) => ctx.repo.claim_of(kind, &name, id)?,
        None => None,
    };
    let mut gone = vec![ctx.repo.keys.record(kind, id)];
    for list in list_keys {
        // The lists' creation guards go too (docs/storage.md).
        gone.extend(kv::guard_keys(&list, ctx.repo.now));
        gone.push(list);
    }
    ctx.repo.store.delete_many(&gone)?;
    // The user is gone: its name is released (a tombstone, see
    // Repo::claim_unique).
    if let Some(held) = claim {
        ctx.repo.release_claim(&held)?;
    }
    index_after(ctx, kind, id, &ix, &Indexed::default())?;
    ctx.repo.list_remove(kind, id, loaded.record.chunk)?;
    Ok(Response::empty(204))
}

fn delete_group(ctx: &Ctx, id: &str) -> Result<Response> {
    let kind = Kind::Group;
    let loaded = load_existing(ctx, kind, id)?.ok_or_else(|| not_found(kind, id))?;
    check_if_match(ctx.req, Some(&loaded.record))?;
    let ix = indexed(ctx, kind, &loaded.record.doc);
    // The record first: members' `groups` confirm against it, so the group
    // disappears from them at once.
    ctx.repo.delete_record(kind, id)?;
    members::delete_all(&ctx.repo, kind, id, loaded.record.buckets)?;
    index_after(ctx, kind, id, &ix, &Indexed::default())?;
    ctx.repo.list_remove(kind, id, loaded.record.chunk)?;
    Ok(Response::empty(204))
}

/// New version of a container whose members changed behind its record.
fn bump(ctx: &Ctx, kind: Kind, id: &str) -> Result<()> {
    let now = ctx.now_rfc3339();
    ctx.repo.update(&ctx.repo.keys.record(kind, id), |cur| {
        let Some(cur) = cur else { return Ok(None) };
        let mut rec = Record::decode(cur)?;
        rec.rev += 1;
        if let Some(m) = rec.doc.get_mut("meta").and_then(Value::as_object_mut) {
            m.insert("lastModified".into(), Value::String(now.clone()));
        }
        Ok(Some(rec.encode()))
    })
}
