//! A document's index entries (docs/storage.md): its unique name
//! (`userName` / `displayName`, RFC 7643 §4.1.1 and §4.2), `externalId` and
//! email values, and the order in which a write claims and releases them.

use super::Ctx;
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::layout::{fold, IndexAttr};
use serde_json::Value;

/// The index entries of one document, as stored (case-folded where the
/// attribute is case-insensitive).
#[derive(Default, PartialEq)]
pub(super) struct Indexed {
    /// The unique name, folded unless names are case-exact.
    pub(super) name: Option<String>,
    /// `externalId`, exactly as sent (RFC 7643 §3.1: caseExact).
    pub(super) external: Option<String>,
    /// Every email value, folded, sorted, without duplicates.
    pub(super) emails: Vec<String>,
}
/// The index entries of `doc`.
pub(super) fn indexed(ctx: &Ctx, kind: Kind, doc: &Value) -> Indexed {
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
pub(super) fn index_before(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old: &Indexed,
    new: &Indexed,
) -> Result<()> {
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
pub(super) fn index_after(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    old: &Indexed,
    new: &Indexed,
) -> Result<()> {
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
