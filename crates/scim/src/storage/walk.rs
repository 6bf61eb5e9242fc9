//! Walking a kind's list from a position: the storage side of cursor
//! paging (RFC 9865 §2).
//!
//! A list is a row of chunks of at most [`CHUNK_SIZE`] slots
//! (docs/storage.md). A new id takes the next slot of the last chunk; a
//! removed id leaves a tombstone (`""`) in its slot; slots are never reused
//! and ids never move. So a [`Slot`] names one id for the life of the list,
//! and a walk that moves strictly forward from slot to slot meets every id
//! listed during the whole walk exactly once, whatever is created or
//! removed meanwhile (new ids are met when they land after the walk's
//! position).
//!
//! A page reads the summary (live ids per chunk, the last chunk aside),
//! then in one call the chunks it spans, skipping those the summary counts
//! empty, and the last chunk (for its count): never the chunks before it,
//! so the first and the last page cost the same.

use super::layout::CHUNK_SIZE;
use super::records::{live, parse_id_list, Repo};
use crate::error::Result;
use crate::schema::Kind;

/// A place in a list: slot `slot` of chunk `chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The chunk number.
    pub chunk: usize,
    /// The slot within the chunk.
    pub slot: usize,
}

/// Where a page starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// The first page.
    Start,
    /// The page right after this slot.
    After(Slot),
    /// The page right before this slot.
    Before(Slot),
}

/// One page of a walk.
#[derive(Debug, Default)]
pub struct Walk {
    /// The page's ids in list order, with their slots.
    pub ids: Vec<(String, Slot)>,
    /// Listed ids follow the page (as read).
    pub more_after: bool,
    /// Listed ids precede the page (as read).
    pub more_before: bool,
    /// Listed ids in all (the summary's count).
    pub total: usize,
}

impl Repo<'_> {
    /// Up to `count` listed ids of `kind` from `from`, in list order;
    /// `None` when `from` names a slot the list never had.
    pub fn walk(&self, kind: Kind, from: From, count: usize) -> Result<Option<Walk>> {
        // Exact for every chunk but the last, which the page's read counts.
        let mut counts = self.summary_counts(kind)?;
        if counts.is_empty() {
            return Ok(match from {
                From::Start => Some(Walk::default()),
                _ => None,
            });
        }
        let valid = |s: &Slot| s.chunk < counts.len() && s.slot < CHUNK_SIZE;
        match from {
            From::After(s) | From::Before(s) if !valid(&s) => return Ok(None),
            From::Start => self.forward(kind, &mut counts, Slot { chunk: 0, slot: 0 }, count),
            From::After(s) => {
                let first = Slot {
                    chunk: s.chunk,
                    slot: s.slot + 1,
                };
                self.forward(kind, &mut counts, first, count)
            }
            From::Before(s) => self.backward(kind, &mut counts, s, count),
        }
        .map(Some)
    }

    /// The page starting at slot `first` (inclusive). `counts` are the
    /// summary's; the last chunk is read with the page, for its count.
    fn forward(&self, kind: Kind, counts: &mut [usize], first: Slot, count: usize) -> Result<Walk> {
        let last = counts.len() - 1;
        // Chunks to read: from the first one on, until the summary says
        // they hold the page (at most `first.slot` of the first chunk's
        // ids lie before the page). Whatever lies beyond tells whether
        // more follow.
        let mut plan = Vec::new();
        let mut planned = 0;
        let mut c = first.chunk;
        while c < last && planned < count {
            if counts[c] > 0 {
                plan.push(c);
                planned += match c == first.chunk {
                    true => counts[c].saturating_sub(first.slot),
                    false => counts[c],
                };
            }
            c += 1;
        }
        // The page reaches the last chunk, or only its count is needed.
        let reaches_last = c == last && planned < count;
        plan.push(last);
        let mut walk = Walk::default();
        let mut before_first = false;
        for (c, ids) in plan.iter().zip(self.read_chunks(kind, &plan)?) {
            if *c == last {
                counts[last] = live(&ids);
                if !reaches_last {
                    continue;
                }
            }
            for (i, id) in ids.into_iter().enumerate() {
                if id.is_empty() {
                    continue;
                }
                if *c == first.chunk && i < first.slot {
                    before_first = true;
                } else {
                    walk.ids.push((id, Slot { chunk: *c, slot: i }));
                }
            }
        }
        if reaches_last {
            c = last + 1;
        }
        walk.total = counts.iter().sum();
        walk.more_after = walk.ids.len() > count || counts[c..].iter().any(|n| *n > 0);
        walk.ids.truncate(count);
        walk.more_before = before_first || counts[..first.chunk].iter().any(|n| *n > 0);
        Ok(walk)
    }

    /// The page ending right before slot `end` (exclusive). `counts` are
    /// the summary's; the last chunk is read with the page, for its count.
    /// Until it is read, at most `end.slot` of its ids are taken to lie
    /// before `end` (exact without tombstones); when fewer do, the chunks
    /// below are read in a second call.
    fn backward(&self, kind: Kind, counts: &mut [usize], end: Slot, count: usize) -> Result<Walk> {
        let last = counts.len() - 1;
        let before_end = |c: usize, ids: &[String]| {
            ids.iter()
                .enumerate()
                .filter(|(i, id)| !id.is_empty() && (c < end.chunk || *i < end.slot))
                .count()
        };
        let mut read: Vec<(usize, Vec<String>)> = Vec::new();
        let mut lowest = end.chunk + 1;
        let mut planned = 0;
        let mut last_read = false;
        loop {
            let mut plan = Vec::new();
            while lowest > 0 && planned < count {
                lowest -= 1;
                let n = match lowest == last && !last_read {
                    true => CHUNK_SIZE,
                    false => counts[lowest],
                };
                if n > 0 {
                    plan.push(lowest);
                    planned += match lowest == end.chunk {
                        true => n.saturating_sub(CHUNK_SIZE - end.slot),
                        false => n,
                    };
                }
            }
            if !last_read && !plan.contains(&last) {
                plan.push(last);
            }
            if plan.is_empty() {
                break;
            }
            for (c, ids) in plan.iter().zip(self.read_chunks(kind, &plan)?) {
                if *c == last {
                    counts[last] = live(&ids);
                    last_read = true;
                }
                if *c <= end.chunk {
                    read.push((*c, ids));
                }
            }
            planned = read.iter().map(|(c, ids)| before_end(*c, ids)).sum();
            if planned >= count || lowest == 0 {
                break;
            }
        }
        read.sort_by_key(|r| std::cmp::Reverse(r.0));
        let mut walk = Walk {
            total: counts.iter().sum(),
            ..Walk::default()
        };
        let mut from_end = false;
        let mut reversed = Vec::new();
        for (c, ids) in read {
            for (i, id) in ids.into_iter().enumerate().rev() {
                if id.is_empty() {
                    continue;
                }
                if c == end.chunk && i >= end.slot {
                    from_end = true;
                } else {
                    reversed.push((id, Slot { chunk: c, slot: i }));
                }
            }
        }
        walk.more_before = reversed.len() > count || counts[..lowest].iter().any(|n| *n > 0);
        reversed.truncate(count);
        reversed.reverse();
        walk.ids = reversed;
        walk.more_after = from_end || counts[end.chunk + 1..].iter().any(|n| *n > 0);
        Ok(walk)
    }

    /// The id lists of chunks `chunks`, in one store call.
    fn read_chunks(&self, kind: Kind, chunks: &[usize]) -> Result<Vec<Vec<String>>> {
        if chunks.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = chunks
            .iter()
            .map(|c| self.keys.list_chunk(kind, *c))
            .collect();
        Ok(self
            .store
            .get_many(&keys)?
            .iter()
            .map(|raw| parse_id_list(raw.as_deref()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::counting::Counting;
    use crate::storage::memory::MemStore;

    fn ids(w: &Walk) -> Vec<String> {
        w.ids.iter().map(|(id, _)| id.clone()).collect()
    }

    fn names(r: std::ops::Range<usize>) -> Vec<String> {
        r.map(|i| format!("id{i}")).collect()
    }

    fn filled(s: &dyn crate::storage::kv::Store, n: usize) -> Repo<'_> {
        let r = Repo::new(s, "t", 0);
        for i in 0..n {
            r.list_append(Kind::User, &format!("id{i}")).unwrap();
        }
        r
    }

    #[test]
    fn forward_pages_cross_chunks_and_say_what_remains() {
        let s = MemStore::new();
        let r = filled(&s, CHUNK_SIZE + 20);
        let first = r.walk(Kind::User, From::Start, 10).unwrap().unwrap();
        assert_eq!(ids(&first), names(0..10));
        assert!(first.more_after && !first.more_before);
        assert_eq!(first.total, CHUNK_SIZE + 20);
        let (_, at) = first.ids[9];
        let next = r
            .walk(Kind::User, From::After(at), CHUNK_SIZE)
            .unwrap()
            .unwrap();
        assert_eq!(ids(&next), names(10..CHUNK_SIZE + 10));
        assert!(next.more_after && next.more_before);
        let (_, at) = *next.ids.last().unwrap();
        let last = r.walk(Kind::User, From::After(at), 10).unwrap().unwrap();
        assert_eq!(ids(&last), names(CHUNK_SIZE + 10..CHUNK_SIZE + 20));
        assert!(!last.more_after && last.more_before);
        // Back from the last page's first slot: the ten before it.
        let back = r
            .walk(Kind::User, From::Before(last.ids[0].1), 10)
            .unwrap()
            .unwrap();
        assert_eq!(ids(&back), names(CHUNK_SIZE..CHUNK_SIZE + 10));
        assert!(back.more_after && back.more_before);
        let back = r
            .walk(Kind::User, From::Before(first.ids[5].1), 10)
            .unwrap()
            .unwrap();
        assert_eq!(ids(&back), names(0..5));
        assert!(!back.more_before);
    }

    /// Removals keep every other id in its slot: a walk resumes right
    /// after its last id even when that id (and its neighbours) are gone.
    #[test]
    fn removals_never_move_an_id() {
        let s = MemStore::new();
        let r = filled(&s, 40);
        let page = r.walk(Kind::User, From::Start, 10).unwrap().unwrap();
        let (_, at) = page.ids[9];
        for i in [5, 8, 9, 10, 11] {
            r.list_remove(Kind::User, &format!("id{i}"), None).unwrap();
        }
        let next = r.walk(Kind::User, From::After(at), 5).unwrap().unwrap();
        assert_eq!(ids(&next), names(12..17));
        assert_eq!(next.total, 35);
        // New ids land after every existing one.
        r.list_append(Kind::User, "new").unwrap();
        let rest = r
            .walk(Kind::User, From::After(next.ids[4].1), 100)
            .unwrap()
            .unwrap();
        let mut want = names(17..40);
        want.push("new".into());
        assert_eq!(ids(&rest), want);
        assert!(!rest.more_after);
        // Index pages skip the tombstones too.
        let (_, page, _) = r.list_page(Kind::User, 4, 3).unwrap();
        assert_eq!(page, ["id4", "id6", "id7"]);
    }

    #[test]
    fn slots_the_list_never_had_are_refused() {
        let s = MemStore::new();
        let r = filled(&s, 3);
        for bad in [
            Slot { chunk: 1, slot: 0 },
            Slot {
                chunk: 0,
                slot: CHUNK_SIZE,
            },
        ] {
            assert!(r.walk(Kind::User, From::After(bad), 5).unwrap().is_none());
            assert!(r.walk(Kind::User, From::Before(bad), 5).unwrap().is_none());
        }
        let empty = Repo::new(&s, "other", 0);
        let w = empty.walk(Kind::User, From::Start, 5).unwrap().unwrap();
        assert!(w.ids.is_empty() && !w.more_after && !w.more_before);
    }

    /// The cost of a page does not depend on where it is: the first and
    /// the last page of 8 chunks make two store calls, the summary and one
    /// read of at most three chunks (the page's, and the last one, whose
    /// count the summary does not keep).
    #[test]
    fn a_page_costs_the_same_anywhere() {
        let s = Counting::new(MemStore::new());
        let r = filled(&s, CHUNK_SIZE * 8);
        let cost = |from: From| {
            s.reset();
            let w = r.walk(Kind::User, from, 100).unwrap().unwrap();
            assert_eq!(w.ids.len(), 100);
            assert_eq!(w.total, CHUNK_SIZE * 8);
            (s.traffic().calls, s.traffic().reads)
        };
        // The summary, chunk 0 and the last chunk.
        assert_eq!(cost(From::Start), (2, 3));
        // The summary and the last chunk.
        let late = Slot { chunk: 7, slot: 10 };
        assert_eq!(cost(From::After(late)), (2, 2));
        let later = Slot {
            chunk: 7,
            slot: 200,
        };
        assert_eq!(cost(From::Before(later)), (2, 2));
        // A page spanning two chunks reads both.
        let edge = Slot {
            chunk: 6,
            slot: 200,
        };
        assert_eq!(cost(From::After(edge)), (2, 3));
    }

    /// Tombstones in the last chunk before a backward page's end: the
    /// chunks below are read too, and the page is full.
    #[test]
    fn a_backward_page_from_the_last_chunk_is_full_despite_tombstones() {
        let s = MemStore::new();
        let r = filled(&s, CHUNK_SIZE + 20);
        for i in CHUNK_SIZE..CHUNK_SIZE + 10 {
            r.list_remove(Kind::User, &format!("id{i}"), None).unwrap();
        }
        let end = Slot { chunk: 1, slot: 15 };
        let w = r.walk(Kind::User, From::Before(end), 10).unwrap().unwrap();
        let mut want = names(CHUNK_SIZE - 5..CHUNK_SIZE);
        want.extend(names(CHUNK_SIZE + 10..CHUNK_SIZE + 15));
        assert_eq!(ids(&w), want);
        assert!(w.more_before && w.more_after);
        assert_eq!(w.total, CHUNK_SIZE + 10);
    }
}
