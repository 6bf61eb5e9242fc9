//! The list order of a kind (docs/storage.md, "Keys" and "Costs"): chunks of ids
//! in insertion order and a summary counting the live ids of every chunk
//! but the last, which index paging, cursors and scans read.

use super::{busy, Repo, MAX_RETRIES};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::layout::CHUNK_SIZE;
use serde::{Deserialize, Serialize};

/// Live ids in a list chunk: a removed id leaves a tombstone (`""`) in its
/// slot.
pub fn live(ids: &[String]) -> usize {
    ids.iter().filter(|id| !id.is_empty()).count()
}

/// Paging structure of a kind: live ids per chunk, and the chunk new ids go to.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Summary {
    counts: Vec<usize>,
}

impl Repo<'_> {
    // ---- list order -------------------------------------------------------

    /// Append `id` to the list of `kind` (insertion order, stable across pages):
    /// one compare-and-swap of the last chunk. The summary does not count
    /// the last chunk (readers count it from the chunk itself), so an
    /// append does not rewrite it. A chunk is full at [`CHUNK_SIZE`]
    /// slots, tombstones included: slots are never reused, so an id's
    /// position never changes (see [`walk`](super::walk)). The first append
    /// to a full chunk opens the next one in the summary, then counts the
    /// full one there (in this order: see [`Self::recount`]).
    pub fn list_append(&self, kind: Kind, id: &str) -> Result<usize> {
        for _ in 0..MAX_RETRIES {
            let summary = self.summary(kind)?;
            let chunk = summary.counts.len().saturating_sub(1);
            let ckey = self.keys.list_chunk(kind, chunk);
            let mut full = false;
            self.update(&ckey, |cur| {
                let mut ids: Vec<String> = cur
                    .and_then(|c| serde_json::from_slice(c).ok())
                    .unwrap_or_default();
                full = false;
                if ids.iter().any(|x| x == id) {
                    return Ok(None);
                }
                if ids.len() >= CHUNK_SIZE {
                    full = true;
                    return Ok(None);
                }
                ids.push(id.to_string());
                Ok(Some(serde_json::to_vec(&ids).expect("ids")))
            })?;
            if !full {
                if summary.counts.is_empty() {
                    // The list's first chunk: the summary names it.
                    self.recount(kind, 0)?;
                }
                return Ok(chunk);
            }
            // The last chunk is full: open the next one (idempotent), then
            // count the full one, and retry.
            self.recount(kind, chunk + 1)?;
            self.recount(kind, chunk)?;
        }
        Err(busy())
    }

    /// Set chunk `chunk`'s count in the summary from the chunk itself; a
    /// chunk past the summary's end is opened (the summary grows to end
    /// with it). The last chunk's count is not kept (readers count it from
    /// the chunk: [`Self::chunk_counts`]), so nothing is written for it.
    ///
    /// Race-free without a lock: a remover of an id in chunk `c` tombstones
    /// the slot, then recounts here, which skips `c` only while `c` is the
    /// last; the appender that closes `c` opens `c + 1` first and then
    /// counts `c`, reading the chunk after the tombstone whenever the
    /// remover found `c` still last.
    pub(crate) fn recount(&self, kind: Kind, chunk: usize) -> Result<()> {
        let ckey = self.keys.list_chunk(kind, chunk);
        self.update(&self.keys.list_summary(kind), |cur| {
            let mut s: Summary = cur
                .and_then(|c| serde_json::from_slice(c).ok())
                .unwrap_or_default();
            if s.counts.len() == chunk + 1 && cur.is_some() {
                return Ok(None);
            }
            let actual = live(&self.read_id_list(&ckey)?);
            if s.counts.len() <= chunk {
                s.counts.resize(chunk + 1, 0);
            } else if s.counts[chunk] == actual {
                return Ok(None);
            }
            s.counts[chunk] = actual;
            Ok(Some(serde_json::to_vec(&s).expect("summary")))
        })
    }

    /// Remove `id` from the list: from chunk `hint` (the record's) when it is
    /// there, else by looking through the chunks from the newest.
    pub fn list_remove(&self, kind: Kind, id: &str, hint: Option<usize>) -> Result<()> {
        if let Some(c) = hint {
            if self.remove_from_chunk(kind, id, c)? {
                return Ok(());
            }
        }
        let chunks = self.summary(kind)?.counts.len();
        for c in (0..chunks).rev().filter(|c| Some(*c) != hint) {
            if self.remove_from_chunk(kind, id, c)? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn remove_from_chunk(&self, kind: Kind, id: &str, chunk: usize) -> Result<bool> {
        let mut found = false;
        self.update(&self.keys.list_chunk(kind, chunk), |cur| {
            let mut ids: Vec<String> = cur
                .and_then(|c| serde_json::from_slice(c).ok())
                .unwrap_or_default();
            // The slot keeps a tombstone (""), so every other id keeps its
            // position: cursors (RFC 9865) are positions in the list.
            found = false;
            for slot in ids.iter_mut().filter(|x| *x == id) {
                slot.clear();
                found = true;
            }
            Ok(found.then(|| serde_json::to_vec(&ids).expect("ids")))
        })?;
        if found {
            self.recount(kind, chunk)?;
        }
        Ok(found)
    }

    /// Live ids per list chunk, in chunk order: the summary's counts, the
    /// last chunk's read from the chunk (two store calls).
    pub fn chunk_counts(&self, kind: Kind) -> Result<Vec<usize>> {
        let mut counts = self.summary(kind)?.counts;
        if let Some(last) = counts.len().checked_sub(1) {
            counts[last] = live(&self.read_id_list(&self.keys.list_chunk(kind, last))?);
        }
        Ok(counts)
    }

    /// The summary's counts as stored: exact for every chunk but the last,
    /// whose count is not kept (see [`Self::chunk_counts`]).
    pub(crate) fn summary_counts(&self, kind: Kind) -> Result<Vec<usize>> {
        Ok(self.summary(kind)?.counts)
    }

    fn summary(&self, kind: Kind) -> Result<Summary> {
        Ok(self
            .store
            .get(&self.keys.list_summary(kind))?
            .and_then(|c| serde_json::from_slice(&c).ok())
            .unwrap_or_default())
    }

    /// Number of listed ids.
    pub fn list_total(&self, kind: Kind) -> Result<usize> {
        Ok(self.chunk_counts(kind)?.iter().sum())
    }

    /// The ids at 0-based positions `offset..offset+count` and the total. The
    /// work is the summary plus, in one call, the chunks the page touches
    /// and the last chunk (whose count the summary does not keep).
    pub fn list_page(
        &self,
        kind: Kind,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<String>, Vec<usize>)> {
        let mut counts = self.summary(kind)?.counts;
        let mut out = Vec::new();
        let mut chunks_of = Vec::new();
        let Some(last) = counts.len().checked_sub(1) else {
            return Ok((0, out, chunks_of));
        };
        // Chunks before the last are counted exactly; the page may reach
        // into the last one, which is read anyway.
        let mut skip = offset;
        let mut first = 0;
        while first < last && skip >= counts[first] {
            skip -= counts[first];
            first += 1;
        }
        let mut needed = Vec::new();
        let mut have = 0usize;
        let mut c = first;
        while count > 0 && c < last && have < skip + count {
            needed.push(c);
            have += counts[c];
            c += 1;
        }
        needed.push(last);
        let keys: Vec<String> = needed
            .iter()
            .map(|c| self.keys.list_chunk(kind, *c))
            .collect();
        let chunks = self.store.get_many(&keys)?;
        let mut all = Vec::new();
        for (c, raw) in needed.iter().zip(chunks) {
            let ids: Vec<String> = raw
                .and_then(|r| serde_json::from_slice(&r).ok())
                .unwrap_or_default();
            if *c == last {
                counts[last] = live(&ids);
            }
            // The last chunk counts only when the page reaches it.
            if *c == last && (count == 0 || have >= skip + count) {
                continue;
            }
            for id in ids.into_iter().filter(|id| !id.is_empty()) {
                all.push((id, *c));
            }
        }
        let total: usize = counts.iter().sum();
        if count == 0 || offset >= total {
            return Ok((total, out, chunks_of));
        }
        for (id, c) in all.into_iter().skip(skip).take(count) {
            out.push(id);
            chunks_of.push(c);
        }
        Ok((total, out, chunks_of))
    }

    /// Every listed id in list order (for scans; the caller bounds the size).
    pub fn list_all(&self, kind: Kind) -> Result<Vec<String>> {
        let summary = self.summary(kind)?;
        let keys: Vec<String> = (0..summary.counts.len())
            .map(|c| self.keys.list_chunk(kind, c))
            .collect();
        let mut out = Vec::new();
        for raw in self.store.get_many(&keys)?.into_iter().flatten() {
            let ids: Vec<String> = serde_json::from_slice(&raw).unwrap_or_default();
            out.extend(ids.into_iter().filter(|id| !id.is_empty()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::counting::Counting;
    use crate::storage::memory::MemStore;

    #[test]
    fn list_pages_follow_insertion_order_across_chunks() {
        let s = MemStore::new();
        let r = Repo::new(&s, "t", 0);
        let n = CHUNK_SIZE * 2 + 10;
        for i in 0..n {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        assert_eq!(r.list_total(Kind::User).unwrap(), n);
        let (total, page, _) = r.list_page(Kind::User, CHUNK_SIZE - 2, 5).unwrap();
        assert_eq!(total, n);
        let want: Vec<String> = (CHUNK_SIZE - 2..CHUNK_SIZE + 3)
            .map(|i| format!("id{i}"))
            .collect();
        assert_eq!(page, want);
        r.list_remove(Kind::User, "id3", None).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), n - 1);
        let (_, page, _) = r.list_page(Kind::User, 2, 2).unwrap();
        assert_eq!(page, ["id2", "id4"]);
        assert_eq!(r.list_all(Kind::User).unwrap().len(), n - 1);
    }

    /// An append writes the last chunk only (the summary does not count
    /// it); removals keep every count exact, in closed chunks and in the
    /// last one.
    #[test]
    fn an_append_is_one_write_and_counts_stay_exact() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        for i in 0..(CHUNK_SIZE * 2 + 5) {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        s.reset();
        r.list_append(Kind::User, "one-more").unwrap();
        assert_eq!(s.traffic().write_calls, 1, "{:?}", s.traffic());
        let n = CHUNK_SIZE * 2 + 6;
        assert_eq!(r.list_total(Kind::User).unwrap(), n);
        // One id from a closed chunk, one from the last.
        r.list_remove(Kind::User, "id3", Some(0)).unwrap();
        r.list_remove(Kind::User, "one-more", Some(2)).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), n - 2);
        let stored = r.summary_counts(Kind::User).unwrap();
        assert_eq!(stored[..2], [CHUNK_SIZE - 1, CHUNK_SIZE]);
        let (total, page, _) = r.list_page(Kind::User, n - 4, 10).unwrap();
        assert_eq!(total, n - 2);
        let want: Vec<String> = (CHUNK_SIZE * 2 + 3..CHUNK_SIZE * 2 + 5)
            .map(|i| format!("id{i}"))
            .collect();
        assert_eq!(page, want);
        assert_eq!(r.list_page(Kind::User, 0, 0).unwrap().0, n - 2);
    }

    #[test]
    fn a_page_reads_a_bounded_number_of_keys() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        for i in 0..(CHUNK_SIZE * 8) {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        s.reset();
        r.list_page(Kind::User, CHUNK_SIZE * 6, 100).unwrap();
        assert!(s.traffic().reads <= 3, "{:?}", s.traffic());
    }

    #[test]
    fn removal_with_the_records_chunk_reads_one_chunk() {
        let s = Counting::new(MemStore::new());
        let r = Repo::new(&s, "t", 0);
        let mut chunk_of_7 = 0;
        for i in 0..(CHUNK_SIZE * 6) {
            let c = r.list_append(Kind::User, &format!("id{i}")).unwrap();
            if i == 7 {
                chunk_of_7 = c;
            }
        }
        assert_eq!(chunk_of_7, 0);
        s.reset();
        r.list_remove(Kind::User, "id7", Some(chunk_of_7)).unwrap();
        // The chunk, its compare-and-swap, and the recount: not the other five chunks.
        assert!(s.traffic().reads <= 6, "{:?}", s.traffic());
        assert_eq!(r.list_total(Kind::User).unwrap(), CHUNK_SIZE * 6 - 1);
        // A wrong hint still finds it.
        r.list_remove(Kind::User, "id300", Some(0)).unwrap();
        assert_eq!(r.list_total(Kind::User).unwrap(), CHUNK_SIZE * 6 - 2);
    }
}
