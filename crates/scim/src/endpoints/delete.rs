//! Deleting resources: `DELETE /{type}/{id}` (RFC 7644 §3.6). Roles come
//! from the catalog and are not deleted.

use super::index::{index_after, indexed, Indexed};
use super::precondition::check_if_match;
use super::{not_found, valid_id, Ctx};
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
