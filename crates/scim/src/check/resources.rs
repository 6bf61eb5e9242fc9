//! Records and their index entries: every resource holds the claim of its
//! unique name and is listed under its externalId and emails and in its
//! list chunk; every claim and entry points at a resource with that value
//! (docs/storage.md, "Write order and its invariants", 1 to 3).

use super::{Problem, Walk};
use crate::endpoints::index::{entries, Indexed};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::layout::IndexAttr;
use crate::storage::records::{
    claim_holder, is_tombstone, parse_id_list, HeldClaim, Record, Repo, CLAIM_GRACE_SECS,
};
use serde_json::Value;

impl Walk<'_> {
    /// `r/<kind>/<id>`.
    pub(super) fn record(
        &mut self,
        prefix: &str,
        key: &str,
        kind: Kind,
        id_part: &str,
    ) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        if is_tombstone(&raw) {
            // A deleted user or group: its claim and entries may still
            // name it.
            self.report.deleted += 1;
            return Ok(());
        }
        let record = match Record::decode(&raw) {
            Ok(r) => r,
            Err(e) => {
                self.violation(Problem::Undecodable, key, e.detail);
                return Ok(());
            }
        };
        match kind {
            Kind::User => self.report.users += 1,
            Kind::Group => self.report.groups += 1,
            Kind::Role => self.report.roles += 1,
        }
        let repo = self.repo(prefix);
        let id = match record.doc.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => id_part.to_string(),
        };
        if repo.keys.record(kind, &id) != key {
            self.violation(Problem::MisplacedRecord, key, format!("its id is {id}"));
            return Ok(());
        }
        // Roles come from the catalog: no name claim, index entry or list.
        if kind == Kind::Role {
            return Ok(());
        }
        let ix = entries(self.opts.name_case_exact, kind, &record.doc);
        let expected = index_keys(&repo, kind, &ix);
        let mut keys: Vec<String> = expected.iter().map(|(_, k)| k.clone()).collect();
        let chunk_key = record.chunk.map(|c| repo.keys.list_chunk(kind, c));
        keys.extend(chunk_key.clone());
        let values = self.get_all(&keys)?;
        // The name: its key (or its legacy key) holds this id.
        let names: Vec<(&String, &Option<Vec<u8>>)> = expected
            .iter()
            .zip(&values)
            .filter(|((a, _), _)| *a == IndexAttr::Name)
            .map(|((_, k), v)| (k, v))
            .collect();
        let holders: Vec<String> = names
            .iter()
            .filter_map(|(_, v)| v.as_deref().and_then(claim_holder).map(|(h, _)| h))
            .collect();
        if !names.is_empty() && !holders.contains(&id) {
            let held = holders
                .iter()
                .find(|h| !h.is_empty())
                .map_or("nobody".to_string(), |h| format!("id {h}"));
            self.violation(
                Problem::NameNotClaimed,
                key,
                format!("its name's claim is held by {held}"),
            );
        }
        // externalId and emails: the entry (or the legacy one) lists it.
        for attr in [IndexAttr::ExternalId, IndexAttr::Email] {
            let mut wanted = Vec::new();
            match attr {
                IndexAttr::ExternalId => wanted.extend(ix.external.clone()),
                _ => wanted.extend(ix.emails.clone()),
            }
            for value in wanted {
                let mut candidates = vec![repo.keys.index(kind, attr, &value)];
                // The legacy key of this value, when there is one.
                candidates.extend(
                    ix.legacy
                        .iter()
                        .filter(|(a, _)| *a == attr)
                        .map(|(_, l)| repo.keys.index(kind, attr, l)),
                );
                let listed = expected.iter().zip(&values).any(|((_, k), v)| {
                    candidates.contains(k) && parse_id_list(v.as_deref()).contains(&id)
                });
                if !listed {
                    let what = if attr == IndexAttr::Email {
                        "an email"
                    } else {
                        "its externalId"
                    };
                    self.violation(
                        Problem::MissingIndexEntry,
                        key,
                        format!("not listed under {what}"),
                    );
                }
            }
        }
        // The list slot.
        let listed = match (&chunk_key, values.last()) {
            (Some(_), Some(v)) => parse_id_list(v.as_deref()).contains(&id),
            _ => repo.list_all(kind)?.contains(&id),
        };
        if !listed {
            self.violation(
                Problem::RecordNotListed,
                key,
                format!("not in list chunk {:?}", record.chunk),
            );
        }
        Ok(())
    }

    /// `i/<kind>/<attr>/<value>`.
    pub(super) fn index(&mut self, prefix: &str, key: &str, kind: Kind, attr: &str) -> Result<()> {
        let attr = match attr {
            "n" => IndexAttr::Name,
            "x" => IndexAttr::ExternalId,
            "e" => IndexAttr::Email,
            _ => return self.unknown(),
        };
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        if attr == IndexAttr::Name {
            return self.claim(prefix, key, kind, raw);
        }
        let Ok(ids) = serde_json::from_slice::<Vec<String>>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a list of ids".into());
            return Ok(());
        };
        for batch in ids.chunks(super::BATCH) {
            let keys: Vec<String> = {
                let repo = self.repo(prefix);
                batch.iter().map(|id| repo.keys.record(kind, id)).collect()
            };
            let raws = self.get_all(&keys)?;
            for (id, raw) in batch.iter().zip(raws) {
                // A delete leaves its ids in the entries (the next add
                // drops them): not a leftover.
                if raw.as_deref().is_some_and(is_tombstone) {
                    continue;
                }
                let holds = raw.and_then(|r| Record::decode(&r).ok()).is_some_and(|r| {
                    let repo = self.repo(prefix);
                    let ix = entries(self.opts.name_case_exact, kind, &r.doc);
                    index_keys(&repo, kind, &ix)
                        .iter()
                        .any(|(a, k)| *a == attr && k == key)
                });
                if !holds {
                    self.leftover(
                        Problem::StaleIndexEntry,
                        key,
                        format!("lists {id}, which does not have this value"),
                        |w| w.repo(prefix).update_id_list(key, id, false),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// A unique-name claim (`i/<kind>/n/<name>`).
    fn claim(&mut self, prefix: &str, key: &str, kind: Kind, raw: Vec<u8>) -> Result<()> {
        let Some((holder, at)) = claim_holder(&raw) else {
            self.violation(Problem::Undecodable, key, "not a claim".into());
            return Ok(());
        };
        if holder.is_empty() || self.opts.now.saturating_sub(at) < CLAIM_GRACE_SECS {
            return Ok(());
        }
        let repo = self.repo(prefix);
        let live = match repo.store.get(&repo.keys.record(kind, &holder))? {
            // A delete leaves its name's claim (the next claimant takes it
            // over at once): not a leftover.
            Some(r) if is_tombstone(&r) => return Ok(()),
            Some(r) => Record::decode(&r).is_ok_and(|r| {
                let ix = entries(self.opts.name_case_exact, kind, &r.doc);
                index_keys(&repo, kind, &ix)
                    .iter()
                    .any(|(a, k)| *a == IndexAttr::Name && k == key)
            }),
            None => false,
        };
        if !live {
            self.leftover(
                Problem::AbandonedClaim,
                key,
                format!("held by {holder}, which does not have this name"),
                |w| {
                    w.repo(prefix)
                        .release_claim(&HeldClaim::found(key.to_string(), raw))
                },
            )?;
        }
        Ok(())
    }
}

/// The index keys a resource with entries `ix` is found under: its name,
/// externalId and emails, and their legacy keys.
fn index_keys(repo: &Repo, kind: Kind, ix: &Indexed) -> Vec<(IndexAttr, String)> {
    let mut out = Vec::new();
    if let Some(n) = &ix.name {
        out.push((IndexAttr::Name, repo.keys.index(kind, IndexAttr::Name, n)));
    }
    if let Some(x) = &ix.external {
        out.push((
            IndexAttr::ExternalId,
            repo.keys.index(kind, IndexAttr::ExternalId, x),
        ));
    }
    for e in &ix.emails {
        out.push((IndexAttr::Email, repo.keys.index(kind, IndexAttr::Email, e)));
    }
    for (a, l) in &ix.legacy {
        out.push((*a, repo.keys.index(kind, *a, l)));
    }
    out
}
