//! The client's view of a stored resource (RFC 7643 §3.1 `meta`, §4.1.2
//! `User.groups`, RFC 7644 §3.9 `attributes`/`excludedAttributes`): the
//! record, its memberships or members, and the single-resource response.

use super::{not_found, Ctx};
use crate::error::{Result, ScimError};
use crate::http::Response;
use crate::projection::Projection;
use crate::schema::{self, Kind, ResourceType};
use crate::storage::members;
use crate::storage::records::{live_record, parse_id_list, Record};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
/// The request's `attributes` / `excludedAttributes` (RFC 7644 §3.9).
pub(super) fn query_projection(ctx: &Ctx, kind: Kind) -> Result<Projection> {
    Projection::parse(
        ctx.rt(kind),
        ctx.req.query_param("attributes").as_deref(),
        ctx.req.query_param("excludedAttributes").as_deref(),
    )
}

/// What a rendering needs to read besides the record.
pub(super) struct Wants {
    /// A group's or role's `members`.
    pub(super) members: bool,
    /// A user's `groups`.
    pub(super) groups: bool,
    /// A user's `roles`.
    pub(super) roles: bool,
    /// Members the response may still carry (`maxMembersPerResponse`).
    pub(super) member_budget: std::cell::Cell<usize>,
    /// Read only these members (those of them a container holds): a filter
    /// that asks only `members.value eq` of members kept out of the output
    /// (`storage::members::probe`).
    pub(super) member_probe: Option<Vec<String>>,
}

/// `force`: a filter or sort needs the memberships whatever the projection keeps.
pub(super) fn wants(proj: &Projection, rt: &ResourceType, force: bool) -> Wants {
    Wants {
        members: force || proj.wants(rt, "members"),
        groups: force || proj.wants(rt, "groups"),
        roles: force || proj.wants(rt, "roles"),
        member_budget: std::cell::Cell::new(members::MAX_MEMBERS_PER_RESPONSE),
        member_probe: None,
    }
}
/// The members of container `id` for a response: counted against the
/// response's budget ([`members::MAX_MEMBERS_PER_RESPONSE`], summed over a
/// list's page), 400 `tooMany` beyond it, before more than the budget is
/// read.
fn read_members(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    buckets: u32,
    w: &Wants,
) -> Result<Vec<members::Stored>> {
    let left = w.member_budget.get();
    let ms = members::read_at_most(&ctx.repo, kind, id, buckets, left)?
        .ok_or_else(members::too_many_members)?;
    w.member_budget.set(left - ms.len());
    Ok(ms)
}

/// Those of `ids` that container `id` holds, each looked up in its leaf
/// (as sent and, as member ids compare case-insensitively, in lower case).
fn probed_members(ctx: &Ctx, kind: Kind, id: &str, ids: &[String]) -> Result<Vec<members::Stored>> {
    let mut wanted: Vec<String> = ids.to_vec();
    wanted.extend(ids.iter().map(|i| i.to_lowercase()));
    wanted.sort();
    wanted.dedup();
    let queries: Vec<(Kind, &str, &str)> = wanted.iter().map(|u| (kind, id, u.as_str())).collect();
    let held = members::holds(&ctx.repo, &queries)?;
    Ok(wanted
        .into_iter()
        .zip(held)
        .filter(|(_, h)| *h)
        .map(|(value, _)| members::Stored {
            value,
            display: None,
        })
        .collect())
}

/// A resource's URL (RFC 7643 §3.1 `meta.location`).
pub(super) fn location(base: &str, rt: &ResourceType, id: &str) -> String {
    format!("{base}{}/{id}", rt.endpoint)
}

/// The full client view of a stored resource (before projection).
pub(super) fn render(
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
                let ms = match &w.member_probe {
                    Some(ids) => probed_members(ctx, kind, id, ids)?,
                    None => read_members(ctx, kind, id, rec.buckets, w)?,
                };
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
pub(super) fn role_doc(ctx: &Ctx, id: &str) -> Result<Value> {
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
pub(super) struct UserMemberships {
    /// `User.groups` values.
    groups: Vec<Value>,
    /// `User.roles` values.
    roles: Vec<Value>,
}

/// `User.groups` / `User.roles` of many users in two batched store reads:
/// the users' membership lists, then the member buckets and group records
/// they name. Each list entry is confirmed against the bucket (the lists are
/// supersets, see storage/members.rs) by a byte search, without parsing the bucket.
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
pub(super) struct ListKeys<'i> {
    /// The lists' keys.
    pub(super) keys: Vec<String>,
    /// For each key: the user and the container kind it lists.
    pub(super) owners: Vec<(&'i str, Kind)>,
}

impl<'i> ListKeys<'i> {
    /// The lists of `ids` that `w` wants.
    pub(super) fn new(ctx: &Ctx, ids: &[&'i str], w: &Wants) -> ListKeys<'i> {
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
pub(super) type Listed<'i> = ((&'i str, Kind), Option<Vec<u8>>);

/// [`memberships_of`] from membership lists already read.
pub(super) fn memberships_listed(
    ctx: &Ctx,
    lists: Vec<Listed>,
) -> Result<HashMap<String, UserMemberships>> {
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
    // Each membership confirmed in the member's leaf (each leaf read once:
    // the users of a page share a container's nodes).
    let queries: Vec<(Kind, &str, &str)> = pairs
        .iter()
        .map(|(uid, c, cid)| (*c, cid.as_str(), *uid))
        .collect();
    let keys: Vec<String> = group_ids
        .iter()
        .map(|g| ctx.repo.keys.record(Kind::Group, g))
        .collect();
    // The groups' records in the same first read.
    let (held, recs) = members::holds_and(&ctx.repo, &queries, keys)?;
    let group_recs: HashMap<&str, Record> = group_ids
        .iter()
        .zip(recs)
        .filter_map(|(g, raw)| Some((g.as_str(), Record::decode(&live_record(raw)?).ok()?)))
        .collect();
    let catalog = if pairs.iter().any(|(_, c, _)| *c == Kind::Role) {
        Some(ctx.catalog()?)
    } else {
        None
    };
    for ((uid, c, cid), held) in pairs.iter().zip(held) {
        if !held {
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
/// The single-resource response: the rendered resource with its `ETag`
/// (and `Location` for 201, RFC 7644 §3.3).
pub(super) fn respond_one(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    rec: Record,
    status: u16,
) -> Result<Response> {
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
pub(super) fn respond_one_with(
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
        let ms = read_members(ctx, kind, id, buckets, &w)?;
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
