//! List order: the summary (`l/<kind>`) counts the ids of each chunk
//! (`l/<kind>/<chunk>`) but the last (readers count that one from the
//! chunk), tombstones (`""`) of removed ids aside, and each
//! chunk holds live ids once
//! (docs/storage.md, "Known leftovers": a slot without a record, a count
//! off by one).

use super::{Problem, Walk, BATCH};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::records::{live, live_record, parse_id_list};
use serde::Deserialize;
use std::collections::HashSet;

/// The summary as stored (other fields, if any, are not the checker's).
#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    counts: Vec<usize>,
}

impl Walk<'_> {
    /// Chunk counts of the summary at `prefix`, `None` when absent.
    fn counts(&self, prefix: &str, kind: Kind) -> Result<Option<Vec<usize>>> {
        let repo = self.repo(prefix);
        Ok(self
            .store
            .get(&repo.keys.list_summary(kind))?
            .and_then(|raw| serde_json::from_slice::<Summary>(&raw).ok())
            .map(|s| s.counts))
    }

    /// `l/<kind>`: each count against its chunk.
    pub(super) fn summary(&mut self, prefix: &str, key: &str, kind: Kind) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        let Ok(summary) = serde_json::from_slice::<Summary>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a list summary".into());
            return Ok(());
        };
        let repo = self.repo(prefix);
        let keys: Vec<String> = (0..summary.counts.len())
            .map(|c| repo.keys.list_chunk(kind, c))
            .collect();
        // A batch of chunks at a time: all of them together are every id
        // of the kind (40 MB at a million users), and the checker's memory
        // must not grow with the store. The last chunk's count is not kept
        // (appends do not rewrite the summary).
        let counted = keys.len().saturating_sub(1);
        for (b, batch) in keys[..counted].chunks(BATCH).enumerate() {
            let chunks = self.get_all(batch)?;
            for (i, raw) in chunks.iter().enumerate() {
                let c = b * BATCH + i;
                let actual = live(&parse_id_list(raw.as_deref()));
                if actual != summary.counts[c] {
                    self.leftover(
                        Problem::ListCountOff,
                        key,
                        format!("chunk {c}: counted {}, holds {actual}", summary.counts[c]),
                        |w| w.repo(prefix).recount(kind, c),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// `l/<kind>/<chunk>`: live ids, each once, and a count in the summary.
    pub(super) fn chunk(&mut self, prefix: &str, key: &str, kind: Kind, c: usize) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        let Ok(ids) = serde_json::from_slice::<Vec<String>>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a list of ids".into());
            return Ok(());
        };
        let counted = self.counts(prefix, kind)?.is_some_and(|n| c < n.len());
        if !counted {
            self.leftover(
                Problem::ListCountOff,
                key,
                format!("chunk {c} is not counted in the summary"),
                |w| w.repo(prefix).recount(kind, c),
            )?;
        }
        // A removed id leaves a tombstone (`""`) in its slot.
        let ids: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
        let mut seen = HashSet::new();
        for id in &ids {
            if !seen.insert(id.as_str()) {
                self.violation(Problem::DuplicateListSlot, key, format!("{id} twice"));
            }
        }
        let records = {
            let repo = self.repo(prefix);
            let keys: Vec<String> = ids.iter().map(|id| repo.keys.record(kind, id)).collect();
            self.get_all(&keys)?
        };
        for (id, record) in ids.iter().zip(records) {
            if live_record(record.as_deref()).is_none() {
                self.leftover(
                    Problem::OrphanListSlot,
                    key,
                    format!("{id} has no record"),
                    |w| w.repo(prefix).list_remove(kind, id, Some(c)),
                )?;
            }
        }
        Ok(())
    }
}
