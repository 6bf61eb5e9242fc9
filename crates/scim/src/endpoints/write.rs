//! Writing resources: `POST /{type}` (RFC 7644 §3.3), `PUT /{type}/{id}`
//! (§3.5.1) and `PATCH /{type}/{id}` (§3.5.2). PUT and PATCH share one
//! loop: read the record, compute the new document, claim its new index
//! entries, swap the record if nobody changed it meanwhile, then release the
//! old entries and write member buckets.

use super::index::{index_after, index_before, indexed, Indexed};
use super::precondition::check_if_match;
use super::render::{respond_one, role_doc};
use super::{canonical_id, empty_role_record, json_body, load_existing, not_found, valid_id, Ctx};
use crate::audit;
use crate::document;
use crate::error::{Result, ScimError};
use crate::http::Response;
use crate::patch::{self, Member, MemberOp};
use crate::schema::{self, Kind};
use crate::storage::kv::Swap;
use crate::storage::members::{self, Stored};
use crate::storage::records::Record;
use serde_json::{json, Value};

/// POST /{type} (RFC 7644 §3.3): a new resource with a server-assigned id.
pub(crate) fn create(ctx: &Ctx, kind: Kind) -> Result<Response> {
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
    let mut rec = Record {
        rev: 1,
        buckets: members::added_bits(&ops),
        // Sized at its widest until the list slot is known.
        chunk: Some(usize::MAX),
        // Sized at its widest until the audit event's number is known.
        audit: Some(u64::MAX),
        doc,
    };
    // Everything that could refuse the request, before the first write.
    rec.check_size()?;
    members::check_room(&ctx.repo, kind, &id, 0, &ops)?;
    let new_ix = indexed(ctx, kind, &rec.doc);
    // Order (docs/storage.md): the guards of claims and index entries,
    // list slot, users' lists, then in one write the claims and entries,
    // the record and its audit event (numbered only now: a refused request
    // leaves no trace), then member buckets.
    let (_, won) = ctx
        .repo
        .batch_creations_held(|| index_before(ctx, kind, &id, &Indexed::default(), &new_ix))?;
    let event = match create_record(ctx, kind, &id, &mut rec, &ops, won.clone()) {
        Ok(event) => event,
        Err(e) => {
            ctx.repo.write_held(&won);
            return Err(e);
        }
    };
    let delta = apply_members(ctx, kind, &id, 0, &ops)?;
    ctx.journal()
        .commit_members(event, &delta.added, &delta.removed);
    respond_one(ctx, kind, &id, rec, 201)
}

/// The steps of a create after its guards: the list slot, the members'
/// lists, then one `set-many` of the claims and index entries won
/// (`won`), the audit event and the record. Returns the pending event.
fn create_record(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    rec: &mut Record,
    ops: &[MemberOp],
    mut entries: crate::storage::records::Entries,
) -> Result<Option<audit::Pending>> {
    rec.chunk = Some(ctx.repo.list_append(kind, id)?);
    for uid in added_ids(ops) {
        ctx.repo
            .update_id_list(&ctx.repo.keys.memberships(kind, &uid), id, true)?;
    }
    let mut attributes = audit::changed_paths(&json!({}), &rec.doc);
    let added = added_ids(ops);
    if !added.is_empty() {
        attributes.push("members".into());
    }
    // Numbered now, written with the record (one store call: the event and
    // the change it records land together).
    let event = ctx.journal().reserve(audit::Change {
        op: audit::Op::Create,
        kind,
        id,
        attributes,
        added,
        removed: Vec::new(),
        before: None,
        after: Some(rec.rev),
        prev: None,
        cause: None,
    })?;
    rec.audit = event.as_ref().map(audit::Pending::seq);
    if let Some(e) = &event {
        entries.extend(e.entries(&ctx.repo));
    }
    // A fresh random id: nobody else can know the record's key yet.
    entries.push((ctx.repo.keys.record(kind, id), rec.encode()));
    ctx.repo.store.set_many(&entries)?;
    Ok(event)
}

/// PUT /{type}/{id} (RFC 7644 §3.5.1): the body replaces the resource.
pub(crate) fn put(ctx: &Ctx, kind: Kind, id: &str) -> Result<Response> {
    let body = json_body(ctx.req)?;
    let id = canonical_id(kind, id);
    let rec = update(ctx, kind, &id, audit::Op::Replace, &|old| {
        put_document(ctx, kind, &id, old, &body)
    })?;
    respond_one(ctx, kind, &id, rec, 200)
}

/// PATCH /{type}/{id} (RFC 7644 §3.5.2): the operations apply to the
/// stored resource ([`patch::apply`]).
pub(crate) fn patch(ctx: &Ctx, kind: Kind, id: &str) -> Result<Response> {
    let body = json_body(ctx.req)?;
    let id = canonical_id(kind, id);
    let rec = update(ctx, kind, &id, audit::Op::Patch, &|old| {
        patch_document(ctx, kind, &id, old, &body)
    })?;
    patch_reply(ctx, kind, &id, rec)
}

/// What a PUT or PATCH makes of the stored record.
struct Edit {
    /// The new stored document (without members).
    doc: Value,
    /// Member changes, applied to the buckets after the record.
    member_ops: Vec<MemberOp>,
    /// Whether anything changed: if not, nothing is written.
    changed: bool,
}

/// The loop PUT and PATCH share: read the record, check `If-Match`, `edit`
/// it, claim new index entries, swap the record if nobody changed it since
/// the read (else start over), then release old entries and write member
/// buckets. Returns the record as stored.
fn update(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    op: audit::Op,
    edit: &dyn Fn(&Record) -> Result<Edit>,
) -> Result<Record> {
    for _ in 0..crate::storage::records::MAX_RETRIES {
        let loaded = load_existing(ctx, kind, id)?;
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
        let Edit {
            mut doc,
            member_ops,
            changed,
        } = edit(&old)?;
        if !changed {
            return Ok(old);
        }
        let ops = resolve_members(ctx, member_ops)?;
        if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("lastModified".into(), Value::String(ctx.now_rfc3339()));
        }
        let mut rec = Record {
            rev: old.rev + 1,
            buckets: old.buckets | members::added_bits(&ops),
            chunk: old.chunk,
            // Sized at its widest until the audit event's number is known.
            audit: Some(u64::MAX),
            doc,
        };
        // Everything that could refuse the request, before the first write.
        rec.check_size()?;
        members::check_room(&ctx.repo, kind, id, old.buckets, &ops)?;
        let old_ix = indexed(ctx, kind, &old.doc);
        let new_ix = indexed(ctx, kind, &rec.doc);
        ctx.repo
            .batch_creations(|| index_before(ctx, kind, id, &old_ix, &new_ix))?;
        // The audit event before the record (docs/storage.md, "Audit
        // trail"), after the claims that may still refuse the request: the
        // member ids this change really adds and removes, read before the
        // buckets change.
        // With the trail off, no event: neither the buckets' read nor the
        // documents' diff is needed.
        let (added, removed, attributes) = if ctx.cfg.audit_enabled {
            let (added, removed) =
                audit::member_delta(&ctx.repo, kind, id, old.buckets, &ops, |f, m| {
                    member_matches(ctx, kind, f, m)
                })?;
            let mut attributes = audit::changed_paths(&old.doc, &rec.doc);
            if !added.is_empty() || !removed.is_empty() {
                attributes.push("members".into());
            }
            (added, removed, attributes)
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        let event = ctx.journal().reserve(audit::Change {
            op,
            kind,
            id,
            attributes,
            added,
            removed,
            before: raw.as_ref().map(|_| old.rev),
            after: Some(rec.rev),
            prev: old.audit,
            cause: None,
        })?;
        // The event is written with the first membership list this change
        // creates (a user's first group: one write instead of two), else
        // alone, before the record.
        let mut carry = event
            .as_ref()
            .map(|e| e.entries(&ctx.repo))
            .unwrap_or_default();
        for uid in added_ids(&ops) {
            ctx.repo.update_id_list_carrying(
                &ctx.repo.keys.memberships(kind, &uid),
                id,
                true,
                &mut carry,
            )?;
        }
        if !carry.is_empty() {
            ctx.repo.store.set_many(&carry)?;
        }
        rec.audit = event.as_ref().map(audit::Pending::seq);
        match ctx.repo.swap_record(kind, id, raw.as_deref(), &rec)? {
            Swap::Done => {
                index_after(ctx, kind, id, &old_ix, &new_ix)?;
                let delta = apply_members(ctx, kind, id, old.buckets, &ops)?;
                ctx.journal()
                    .commit_members(event, &delta.added, &delta.removed);
                return Ok(rec);
            }
            Swap::Conflict => {
                // Someone changed it meanwhile. Undo our new claims (best
                // effort) and start over from the new version; with If-Match
                // the next pass answers 412.
                let _ = index_after(ctx, kind, id, &new_ix, &old_ix);
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

/// The answer to a successful PATCH: the resource with 200, subject to
/// `attributes` / `excludedAttributes`, or 204 No Content with the new
/// `ETag` (RFC 7644 §3.5.2 allows both). Which one: the
/// client's `Prefer: return=minimal|representation` (RFC 7240 §4.2) when it
/// sends one (then `Preference-Applied` says so); else the resource when it
/// asked for a projection; else the resource for users (small, and what
/// Okta reads back) and `group_patch_response` for groups and roles (204 by
/// default: a group of 10,000 members is a megabyte of JSON that IdPs such
/// as Entra ID never read, and reading it back costs more than the change).
/// A group with more members than one response may carry
/// (`maxMembersPerResponse`) gets 204 whatever was asked.
fn patch_reply(ctx: &Ctx, kind: Kind, id: &str, rec: Record) -> Result<Response> {
    use crate::http::Return;
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
    let etag = rec.etag();
    let (reply, applied) = match wanted {
        Return::Representation => match respond_one(ctx, kind, id, rec, 200) {
            // The change is made; a group too large for one response gets
            // the other answer RFC 7644 §3.5.2 allows, not an error.
            Err(e) if members::is_too_many_members(&e) => (
                Response::empty(204).with_header("etag", etag),
                Return::Minimal,
            ),
            r => (r?, wanted),
        },
        Return::Minimal => (Response::empty(204).with_header("etag", etag), wanted),
    };
    Ok(match preferred {
        Some(_) => reply.with_header("preference-applied", applied.applied()),
        None => reply,
    })
}

/// PUT (RFC 7644 §3.5.1): the body replaces the resource; readOnly
/// attributes are ignored; `id` must not change.
fn put_document(ctx: &Ctx, kind: Kind, id: &str, old: &Record, body: &Value) -> Result<Edit> {
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
        return Ok(Edit {
            doc,
            member_ops: ops,
            changed: true,
        });
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
    Ok(Edit {
        doc,
        member_ops: ops,
        changed: true,
    })
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
fn patch_document(ctx: &Ctx, kind: Kind, id: &str, old: &Record, body: &Value) -> Result<Edit> {
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
        return Ok(Edit {
            doc: old.doc.clone(),
            member_ops: Vec::new(),
            changed: false,
        });
    }
    if kind == Kind::Role {
        // Only members and externalId may change; patch::apply already
        // refused catalog attributes.
        let mut new = old.doc.clone();
        set_role_external_id(ctx, &mut new, doc.get("externalId"))?;
        return Ok(Edit {
            doc: new,
            member_ops: outcome.member_ops,
            changed: true,
        });
    }
    let meta = old.doc.get("meta").cloned().unwrap_or_else(|| json!({}));
    let mut doc = document::normalize(rt, &doc)?;
    let o = doc.as_object_mut().expect("object");
    o.remove("members");
    o.insert("id".into(), Value::String(id.to_string()));
    o.insert("meta".into(), meta);
    let changed = doc != old.doc || !outcome.member_ops.is_empty();
    Ok(Edit {
        doc,
        member_ops: outcome.member_ops,
        changed,
    })
}

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

/// Whether stored member `m` of a `kind` container matches the filter of a
/// `RemoveWhere` (RFC 7644 §3.5.2.2 `members[...]`).
fn member_matches(ctx: &Ctx, kind: Kind, f: &crate::filter::Filter, m: &Stored) -> bool {
    let rt = ctx.rt(kind);
    let members_attr = rt
        .schema
        .attribute("members")
        .expect("containers have members");
    f.matches_element(rt, members_attr, &m.to_json(ctx.base()))
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
/// The members really added and removed.
fn apply_members(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old_buckets: u32,
    ops: &[MemberOp],
) -> Result<members::Delta> {
    if ops.is_empty() {
        return Ok(members::Delta::default());
    }
    let bits = members::touched(ops, old_buckets | members::added_bits(ops));
    let delta = members::write_buckets(&ctx.repo, kind, id, bits, ops, |f, m: &Stored| {
        member_matches(ctx, kind, f, m)
    })?;
    for uid in &delta.removed {
        ctx.repo
            .update_id_list(&ctx.repo.keys.memberships(kind, uid), id, false)?;
    }
    Ok(delta)
}
