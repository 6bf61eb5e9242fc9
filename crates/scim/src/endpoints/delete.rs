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
use crate::storage::records::{parse_id_list, tombstone, Record};
use serde_json::Value;

/// DELETE /Users/{id}: the audit events first (the delete's and one per
/// group or role the user leaves, in one write), then the memberships (the
/// user is still visible meanwhile), then the record becomes a tombstone
/// (in the events' write when the user is in no group or role: the change
/// and its event in one call), its membership lists go, and its list slot.
/// Its name claim and index entries stay: the tombstone frees them for the
/// next writer (docs/storage.md, "Deletes").
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
    let has_lists = lists.iter().any(Option::is_some);
    // The containers the user's lists name (a superset of those it is in).
    let listed: Vec<(Kind, String)> = containers
        .into_iter()
        .zip(lists)
        .flat_map(|(c, raw)| {
            parse_id_list(raw.as_deref())
                .into_iter()
                .map(move |g| (c, g))
        })
        .collect();
    // For the audit trail, one read: the leaf of the member trie that holds
    // the user in each listed container (deeper levels, if split, in more
    // reads).
    let queries: Vec<(Kind, &str, &str)> = if ctx.cfg.audit_enabled {
        listed.iter().map(|(c, g)| (*c, g.as_str(), id)).collect()
    } else {
        Vec::new()
    };
    let held = if queries.is_empty() {
        Vec::new()
    } else {
        members::holds_and(&ctx.repo, &queries, Vec::new())?.0
    };
    // The audit events before anything changes (docs/storage.md, "Audit
    // trail"): the delete's, and one per container the user is a member
    // of, all in one write; with them the tombstone when no membership
    // has to go first.
    let left: Vec<audit::Change> = listed
        .iter()
        .zip(held)
        .filter(|(_, member)| *member)
        .map(|((c, g), _)| leaves(*c, g, id))
        .collect();
    let record_key = ctx.repo.keys.record(kind, id);
    let now = ctx.repo.now;
    let alone = listed.is_empty();
    let events = ctx
        .journal()
        .begin_all_with(deleted(kind, id, &loaded.record), left, |seq| {
            if alone {
                vec![(record_key.clone(), tombstone(now, seq))]
            } else {
                Vec::new()
            }
        })?;
    if !alone {
        for (container, cid) in &listed {
            let ops = [MemberOp::Remove(vec![id.to_string()])];
            members::write_buckets(
                &ctx.repo,
                *container,
                cid,
                members::bit(bucket_of(id)),
                &ops,
                |_, _| false,
            )?;
            bump(ctx, *container, cid)?;
        }
        // The user is gone from every read path now.
        let seq = events.as_ref().map(|e| e[0].seq());
        ctx.repo.store.set(&record_key, &tombstone(now, seq))?;
    }
    if has_lists {
        let mut gone = Vec::new();
        for list in list_keys {
            // The lists' creation guards go too (docs/storage.md).
            gone.extend(kv::guard_keys(&list, now));
            gone.push(list);
        }
        ctx.repo.store.delete_many(&gone)?;
    }
    // Index entries stay (the tombstone frees them).
    release_legacy_entries(ctx, kind, id, &loaded.record)?;
    ctx.repo.list_remove(kind, id, loaded.record.chunk)?;
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

/// The audit record of user `uid` leaving `container` `cid` because of its
/// delete (the cause is set by [`audit::Journal::begin_all_with`]).
fn leaves<'c>(container: Kind, cid: &'c str, uid: &str) -> audit::Change<'c> {
    audit::Change {
        op: audit::Op::Patch,
        kind: container,
        id: cid,
        attributes: vec!["members".into()],
        added: Vec::new(),
        removed: vec![uid.to_string()],
        before: None,
        after: None,
        prev: None,
        cause: None,
    }
}

/// DELETE /Groups/{id}: the record becomes a tombstone first, in the call
/// that writes the audit event (members' `groups` confirm against it, so
/// the group disappears from them at once), then the member buckets and the
/// list slot go. Its name claim and externalId entry stay: the tombstone
/// frees them for the next writer, as a user's (docs/storage.md, "Deletes").
pub(crate) fn delete_group(ctx: &Ctx, id: &str) -> Result<Response> {
    let kind = Kind::Group;
    if !valid_id(id) {
        return Err(not_found(kind, id));
    }
    let (loaded, _) = ctx.repo.load_for_delete(kind, id, &[])?;
    let loaded = loaded.ok_or_else(|| not_found(kind, id))?;
    check_if_match(ctx.req, Some(&loaded.record))?;
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
    // The event and the tombstone in one write; nothing confirms the event
    // afterwards: the tombstone shows the change.
    let record_key = ctx.repo.keys.record(kind, id);
    let now = ctx.repo.now;
    ctx.journal().begin_all_with(change, Vec::new(), |seq| {
        vec![(record_key.clone(), tombstone(now, seq))]
    })?;
    members::delete_all(&ctx.repo, kind, id, loaded.record.buckets)?;
    release_legacy_entries(ctx, kind, id, &loaded.record)?;
    ctx.repo.list_remove(kind, id, loaded.record.chunk)?;
    Ok(Response::empty(204))
}

/// Remove a deleted resource's index entries under the keys an older build
/// wrote (nothing else ever removes those); its other entries stay, freed
/// by its tombstone.
fn release_legacy_entries(ctx: &Ctx, kind: Kind, id: &str, rec: &Record) -> Result<()> {
    let ix = indexed(ctx, kind, &rec.doc);
    if ix.legacy.is_empty() {
        return Ok(());
    }
    let legacy = Indexed {
        legacy: ix.legacy,
        ..Indexed::default()
    };
    index_after(ctx, kind, id, &legacy, &Indexed::default())
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
