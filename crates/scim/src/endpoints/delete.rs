//! Deleting resources: `DELETE /{type}/{id}` (RFC 7644 §3.6). Roles come
//! from the catalog and are not deleted.

use super::index::{index_after, indexed, Indexed};
use super::precondition::check_if_match;
use super::{not_found, valid_id, Ctx};
use crate::audit;
use crate::error::Result;
use crate::http::Response;
use crate::patch::MemberOp;
use crate::schema::Kind;
use crate::storage::kv;
use crate::storage::layout::bucket_of;
use crate::storage::members;
use crate::storage::records::{parse_id_list, Record};
use serde_json::Value;

/// DELETE /Users/{id}: memberships first (the user is still visible meanwhile), then in one
/// store call the record (now gone everywhere), its membership lists and
/// its userName claim, then the other index entries and the list slot.
pub(crate) fn delete_user(ctx: &Ctx, id: &str) -> Result<Response> {
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
    // A record that no longer decodes is salvaged, to go with its claims.
    let (loaded, lists) = ctx.repo.load_for_delete(kind, id, &list_keys)?;
    let loaded = loaded.ok_or_else(|| not_found(kind, id))?;
    check_if_match(ctx.req, Some(&loaded.record))?;
    let mut ix = indexed(ctx, kind, &loaded.record.doc);
    // The audit event before anything changes (docs/storage.md, "Audit
    // trail"), then one per group or role the user leaves.
    let event = ctx.journal().begin(deleted(kind, id, &loaded.record))?;
    for (container, raw) in containers.into_iter().zip(lists) {
        for cid in parse_id_list(raw.as_deref()) {
            let cause = event.as_ref().map(audit::Pending::seq);
            let left = leaves(ctx, container, &cid, id, cause)?;
            let ops = [MemberOp::Remove(vec![id.to_string()])];
            members::write_buckets(
                &ctx.repo,
                container,
                &cid,
                members::bit(bucket_of(id)),
                &ops,
                |_, _| false,
            )?;
            ctx.journal().commit(left);
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
    ctx.journal().commit(event);
    Ok(Response::empty(204))
}

/// The audit record of deleting `kind` `id` whose record is `rec`.
fn deleted<'c>(kind: Kind, id: &'c str, rec: &Record) -> audit::Change<'c> {
    audit::Change {
        op: audit::Op::Delete,
        kind,
        id,
        attributes: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        before: Some(rec.rev),
        after: None,
        prev: rec.audit,
        cause: None,
    }
}

/// The audit event of user `uid` leaving `container` `cid` because of
/// event `cause` (its delete), when the user is a member there (the
/// user's membership list is a superset; docs/storage.md).
fn leaves(
    ctx: &Ctx,
    container: Kind,
    cid: &str,
    uid: &str,
    cause: Option<u64>,
) -> Result<Option<audit::Pending>> {
    if cause.is_none() {
        return Ok(None);
    }
    if !members::holds(&ctx.repo, &[(container, cid, uid)])?[0] {
        return Ok(None);
    }
    ctx.journal().begin(audit::Change {
        op: audit::Op::Patch,
        kind: container,
        id: cid,
        attributes: vec!["members".into()],
        added: Vec::new(),
        removed: vec![uid.to_string()],
        before: None,
        after: None,
        prev: None,
        cause,
    })
}

/// DELETE /Groups/{id}: the record first (members' `groups` confirm
/// against it, so the group disappears from them at once), then the member
/// buckets, index entries and list slot.
pub(crate) fn delete_group(ctx: &Ctx, id: &str) -> Result<Response> {
    let kind = Kind::Group;
    if !valid_id(id) {
        return Err(not_found(kind, id));
    }
    let (loaded, _) = ctx.repo.load_for_delete(kind, id, &[])?;
    let loaded = loaded.ok_or_else(|| not_found(kind, id))?;
    check_if_match(ctx.req, Some(&loaded.record))?;
    let ix = indexed(ctx, kind, &loaded.record.doc);
    // The audit event, then the record: members' `groups` confirm against
    // it, so the group disappears from them at once.
    let mut change = deleted(kind, id, &loaded.record);
    if ctx.cfg.audit_enabled {
        // Who loses access with the group: its members, named in the event.
        change.removed = members::read_all(&ctx.repo, kind, id, loaded.record.buckets)?
            .into_iter()
            .map(|m| m.value)
            .collect();
        if !change.removed.is_empty() {
            change.attributes.push("members".into());
        }
    }
    let event = ctx.journal().begin(change)?;
    ctx.repo.delete_record(kind, id)?;
    members::delete_all(&ctx.repo, kind, id, loaded.record.buckets)?;
    index_after(ctx, kind, id, &ix, &Indexed::default())?;
    ctx.repo.list_remove(kind, id, loaded.record.chunk)?;
    ctx.journal().commit(event);
    Ok(Response::empty(204))
}

/// New version of a container whose members changed behind its record.
fn bump(ctx: &Ctx, kind: Kind, id: &str) -> Result<()> {
    let now = ctx.now_rfc3339();
    ctx.repo.update(&ctx.repo.keys.record(kind, id), |cur| {
        let Some(cur) = cur else { return Ok(None) };
        // A group record that no longer decodes keeps its version.
        let Ok(mut rec) = Record::decode(cur) else {
            return Ok(None);
        };
        rec.rev += 1;
        if let Some(m) = rec.doc.get_mut("meta").and_then(Value::as_object_mut) {
            m.insert("lastModified".into(), Value::String(now.clone()));
        }
        Ok(Some(rec.encode()))
    })
}
