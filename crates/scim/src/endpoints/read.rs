//! Reading resources: `GET /{type}/{id}` (RFC 7644 §3.4.1), `GET /{type}`
//! with filter, sort and paging (§3.4.2), `POST /{type}/.search` and
//! `POST /.search` (§3.4.3); pages by index or by cursor (RFC 9865).

use super::index;
use super::precondition::etag_matches;
use super::render::{
    memberships_listed, query_projection, render, respond_one_with, wants, ListKeys,
    UserMemberships, Wants,
};
use super::{canonical_id, empty_role_record, json_body, load_existing, not_found, valid_id, Ctx};
use crate::error::{Result, ScimError};
use crate::filter::IndexLookup;
use crate::http::Response;
use crate::list::cursor::{self, Anchor, Binding, Cursor, IdKey};
use crate::list::{self, Params, Query};
use crate::schema::Kind;
use crate::storage::layout::IndexAttr;
use crate::storage::records::Loaded;
use crate::storage::walk::From;
use serde_json::{Map, Value};

/// Most ids a list scan reads per store round trip.
const SCAN_BATCH: usize = 500;

/// GET /{type}/{id} (RFC 7644 §3.4.1), 304 when `If-None-Match` names the
/// current version.
pub(crate) fn get(ctx: &Ctx, kind: Kind, id: &str) -> Result<Response> {
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
/// GET /{type} (RFC 7644 §3.4.2): the query in the URL.
pub(crate) fn list(ctx: &Ctx, kind: Kind) -> Result<Response> {
    query(ctx, kind, Params::from_query(ctx.req))
}

/// POST /{type}/.search (RFC 7644 §3.4.3): the query in the body.
pub(crate) fn search(ctx: &Ctx, kind: Kind) -> Result<Response> {
    let body = json_body(ctx.req)?;
    query(ctx, kind, Params::from_search(&body)?)
}

/// One page of the resources of `kind` that `params` asks for.
fn query(ctx: &Ctx, kind: Kind, params: Params) -> Result<Response> {
    let rt = ctx.rt(kind);
    let q = params.parse(rt, ctx.cfg)?;
    let mut w = wants(&q.projection, rt, q.filter_needs_members);
    // Members only filtered on, by id, and not answered: looked up, not read.
    if kind != Kind::User && q.sort_by.is_none() && !wants(&q.projection, rt, false).members {
        w.member_probe = q
            .filter
            .as_ref()
            .and_then(crate::storage::members::probe::member_ids);
    }
    if let Some(text) = &q.cursor {
        let binding = binding(rt.name, &params);
        return cursor_page(
            ctx,
            kind,
            &q,
            &w,
            &Cursor::decode(text, &binding)?,
            &binding,
        );
    }
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

/// What a cursor of this query is bound to (RFC 9865 §2: the client repeats
/// every parameter but `cursor`).
fn binding(scope: &str, p: &Params) -> Binding {
    Binding::new(
        scope,
        p.filter.as_deref(),
        p.sort_by.as_deref(),
        p.sort_order.as_deref(),
    )
}

/// A cursor-paged page (RFC 9865 §2). Unfiltered users and groups walk the
/// list from a slot: the summary, the chunks the page spans and its
/// records, wherever the page is. Filtered queries and roles page their
/// matches (found as an index-paged query finds them) in id order.
fn cursor_page(
    ctx: &Ctx,
    kind: Kind,
    q: &Query,
    w: &Wants,
    cursor: &Cursor,
    binding: &Binding,
) -> Result<Response> {
    let rt = ctx.rt(kind);
    if kind == Kind::Role || q.filter.is_some() {
        let mut keyed = Map::new();
        for mut d in matching(ctx, kind, q, w)? {
            let key = id_key(kind, &d);
            q.projection.apply(rt, &mut d);
            keyed.insert(key, d);
        }
        return id_page(keyed, cursor, q.count, binding);
    }
    let from = match cursor {
        Cursor::First => From::Start,
        Cursor::Next(Anchor::Slot(s)) => From::After(*s),
        Cursor::Previous(Anchor::Slot(s)) => From::Before(*s),
        _ => return Err(cursor::unknown_position()),
    };
    let walk = ctx
        .repo
        .walk(kind, from, q.count)?
        .ok_or_else(cursor::unknown_position)?;
    let ids: Vec<String> = walk.ids.iter().map(|(id, _)| id.clone()).collect();
    let mut docs = load_docs(ctx, kind, &ids, w)?;
    docs.iter_mut().for_each(|d| q.projection.apply(rt, d));
    let next = walk
        .ids
        .last()
        .filter(|_| walk.more_after)
        .map(|(_, s)| Cursor::Next(Anchor::Slot(*s)).encode(binding));
    let previous = walk
        .ids
        .first()
        .filter(|_| walk.more_before)
        .map(|(_, s)| Cursor::Previous(Anchor::Slot(*s)).encode(binding));
    Ok(Response::json(
        200,
        &list::cursor_response(walk.total, docs, next, previous),
    ))
}

/// A resource's place in the order filtered cursor pages follow.
fn id_key(kind: Kind, doc: &Value) -> IdKey {
    let rank = match kind {
        Kind::User => '0',
        Kind::Group => '1',
        Kind::Role => '2',
    };
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
    format!("{rank}{id}")
}

/// The page of `keyed` (every match of the query, by [`id_key`]) that
/// `cursor` asks for, in key order: `count` matches after or before its
/// anchor.
fn id_page(
    mut keyed: Map<String, Value>,
    cursor: &Cursor,
    count: usize,
    binding: &Binding,
) -> Result<Response> {
    let mut order: Vec<String> = keyed.keys().cloned().collect();
    order.sort();
    let total = order.len();
    let (start, end) = match cursor {
        Cursor::First => (0, count.min(total)),
        Cursor::Next(Anchor::Id(k)) => {
            let start = order.iter().take_while(|x| *x <= k).count();
            (start, start.saturating_add(count).min(total))
        }
        Cursor::Previous(Anchor::Id(k)) => {
            let end = order.iter().take_while(|x| *x < k).count();
            (end.saturating_sub(count), end)
        }
        _ => return Err(cursor::unknown_position()),
    };
    let keys = &order[start..end];
    let page = keys.iter().filter_map(|k| keyed.remove(k)).collect();
    let (next, previous) = match (keys.first(), keys.last()) {
        (Some(first), Some(last)) => (
            (end < total).then(|| Cursor::Next(Anchor::Id(last.clone())).encode(binding)),
            (start > 0).then(|| Cursor::Previous(Anchor::Id(first.clone())).encode(binding)),
        ),
        _ => (None, None),
    };
    Ok(Response::json(
        200,
        &list::cursor_response(total, page, next, previous),
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
pub(crate) fn search_root(ctx: &Ctx) -> Result<Response> {
    let body = json_body(ctx.req)?;
    let params = Params::from_search(&body)?;
    let mut all = Vec::new();
    let mut keyed = Map::new();
    let mut first_query = None;
    for kind in [Kind::User, Kind::Group, Kind::Role] {
        let rt = ctx.rt(kind);
        let q = params.parse(rt, ctx.cfg)?;
        let w = wants(&q.projection, rt, q.filter_needs_members);
        let mut docs = matching(ctx, kind, &q, &w)?;
        if q.cursor.is_some() {
            // Cursor pages (RFC 9865 §3) follow (type, id) order.
            for mut d in docs {
                let key = id_key(kind, &d);
                q.projection.apply(rt, &mut d);
                keyed.insert(key, d);
            }
            first_query.get_or_insert(q);
            continue;
        }
        if let Some(path) = &q.sort_by {
            list::sort(rt, &mut docs, path, q.descending);
        }
        docs.iter_mut().for_each(|d| q.projection.apply(rt, d));
        all.extend(docs);
        first_query.get_or_insert(q);
    }
    let q = first_query.expect("three resource types");
    if let Some(text) = &q.cursor {
        let binding = binding("/.search", &params);
        return id_page(keyed, &Cursor::decode(text, &binding)?, q.count, &binding);
    }
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
    let rt = ctx.rt(kind);
    if let Some(lookup) = q.filter.as_ref().and_then(|f| f.index_lookup(rt)) {
        return match lookup {
            IndexLookup::Id(id) => Ok(vec![id]),
            IndexLookup::UserName(v) if kind == Kind::User => {
                index::lookup(ctx, kind, IndexAttr::Name, &v)
            }
            IndexLookup::DisplayName(v) if kind == Kind::Group => {
                index::lookup(ctx, kind, IndexAttr::Name, &v)
            }
            IndexLookup::ExternalId(v) => index::lookup(ctx, kind, IndexAttr::ExternalId, &v),
            IndexLookup::Email(v) if kind == Kind::User => {
                index::lookup(ctx, kind, IndexAttr::Email, &v)
            }
            _ => scan_ids(ctx, kind),
        };
    }
    scan_ids(ctx, kind)
}
/// Every id of `kind`, unless there are more than `scan_max`.
fn scan_ids(ctx: &Ctx, kind: Kind) -> Result<Vec<String>> {
    let total = ctx.repo.list_total(kind)?;
    if total > ctx.cfg.scan_max {
        return Err(ScimError::too_many(format!(
            "this filter or sort needs a scan of {total} resources, more than \
             maxScannedResources ({}); \
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
/// Every catalog role, rendered.
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
