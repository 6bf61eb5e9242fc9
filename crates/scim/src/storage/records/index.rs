//! The indexes a record is found by (docs/storage.md, "Keys"): the unique
//! claim of a user's `userName` or a group's `displayName`, which decides
//! which of concurrent creators gets a name, and the multi-valued entries
//! (`externalId`, `emails`) that list every id holding a value.

use super::{busy, is_tombstone, parse_id_list, Repo, MAX_RETRIES};
use crate::error::{Result, ScimError};
use crate::schema::Kind;
use crate::storage::kv::Swap;
use crate::storage::layout::IndexAttr;
use serde::{Deserialize, Serialize};

/// An index claim younger than this (seconds) whose resource does not exist
/// yet belongs to a create in progress; older ones are abandoned and may be
/// taken over.
pub const CLAIM_GRACE_SECS: u64 = 30;
/// The value of a unique-name key: the id holding the name since `at`, or,
/// with an empty `id`, a released name. A name key, once created, is never
/// deleted: a compare-and-swap of a key that holds a value is the only
/// atomic one every Spin store gives (docs/storage.md), so a release leaves
/// this tombstone for the next claim to swap.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    id: String,
    at: u64,
}

impl Claim {
    fn encode(id: &str, at: u64) -> Vec<u8> {
        serde_json::to_vec(&Claim {
            id: id.to_string(),
            at,
        })
        .expect("claims serialise")
    }
    fn decode(raw: &[u8]) -> Option<Claim> {
        serde_json::from_slice(raw).ok()
    }
}

/// A unique-name claim as read, held by the resource that read it.
#[derive(Debug, Clone)]
pub struct HeldClaim {
    key: String,
    raw: Vec<u8>,
}

impl HeldClaim {
    /// The claim stored at `key` as `raw`, for the store checker to release
    /// an abandoned one with [`Repo::release_claim`].
    pub(crate) fn found(key: String, raw: Vec<u8>) -> HeldClaim {
        HeldClaim { key, raw }
    }
}

/// The holder (`""` once released) and time of a unique-name claim's
/// stored value; `None` when it does not decode.
pub(crate) fn claim_holder(raw: &[u8]) -> Option<(String, u64)> {
    Claim::decode(raw).map(|c| (c.id, c.at))
}

impl Repo<'_> {
    // ---- unique index (userName, group displayName) ------------------------

    /// The id the unique index maps `folded` to, if any (possibly stale: the
    /// caller checks the record).
    pub fn unique_lookup(&self, kind: Kind, folded: &str) -> Result<Option<String>> {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        Ok(self
            .store
            .get(&key)?
            .and_then(|raw| Claim::decode(&raw))
            .map(|c| c.id)
            .filter(|id| !id.is_empty()))
    }

    /// Claim `folded` for `id`. `is_live(other)` tells whether another id's
    /// claim is still backed by a resource holding that value; a dead claim
    /// older than [`CLAIM_GRACE_SECS`] is taken over. Taken → 409 uniqueness.
    ///
    /// A name never claimed is created through [`kv::create`] (exactly one
    /// of concurrent claimants wins); a released or abandoned one is taken
    /// by compare-and-swap of the value read, which every Spin store
    /// compares.
    pub fn claim_unique<F>(
        &self,
        kind: Kind,
        folded: &str,
        id: &str,
        what: &str,
        is_live: F,
    ) -> Result<()>
    where
        F: Fn(&str) -> Result<bool>,
    {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        let new = Claim::encode(id, self.now);
        let taken = || ScimError::uniqueness(format!("{what} is already taken"));
        for _ in 0..MAX_RETRIES {
            let swap = match self.store.get(&key)? {
                // Losing the creation of a never-used name means another
                // request is claiming it right now.
                None => match self.create_key(&key, &new, &mut Vec::new())? {
                    Swap::Done => return Ok(()),
                    Swap::Conflict => return Err(taken()),
                },
                Some(raw) => {
                    if let Some(c) = Claim::decode(&raw) {
                        if c.id == id {
                            return Ok(());
                        }
                        // Within its grace a claim whose holder has no
                        // record may be a create on its way; a deleted
                        // holder (its record a tombstone: a delete leaves
                        // its name's claim) frees the name at once.
                        let young = self.now.saturating_sub(c.at) < CLAIM_GRACE_SECS;
                        let held = !c.id.is_empty()
                            && if young {
                                !self.is_deleted(kind, &c.id)?
                            } else {
                                is_live(&c.id)?
                            };
                        if held {
                            return Err(taken());
                        }
                    }
                    self.store.compare_and_swap(&key, &raw, &new)?
                }
            };
            if swap == Swap::Done {
                return Ok(());
            }
        }
        Err(busy())
    }

    /// Release the claim on `folded` if it is `id`'s (a tombstone replaces
    /// it). A concurrent takeover of an abandoned claim is not undone: only
    /// our own claim is released.
    pub fn release_unique(&self, kind: Kind, folded: &str, id: &str) -> Result<()> {
        if let Some(held) = self.claim_of(kind, folded, id)? {
            self.release_claim(&held)?;
        }
        Ok(())
    }

    /// `id`'s claim on `folded`, if `id` holds it: its key and the value
    /// read, for [`Self::release_claim`].
    pub fn claim_of(&self, kind: Kind, folded: &str, id: &str) -> Result<Option<HeldClaim>> {
        let key = self.keys.index(kind, IndexAttr::Name, folded);
        Ok(self.store.get(&key)?.and_then(|raw| {
            Claim::decode(&raw)
                .is_some_and(|c| c.id == id)
                .then_some(HeldClaim { key, raw })
        }))
    }

    /// Replace a claim read by [`Self::claim_of`] by a tombstone, unless it
    /// changed meanwhile (then it is no longer ours to release).
    pub fn release_claim(&self, held: &HeldClaim) -> Result<()> {
        let tombstone = Claim::encode("", self.now);
        self.store
            .compare_and_swap(&held.key, &held.raw, &tombstone)?;
        Ok(())
    }

    // ---- multi-valued indexes (externalId, emails) ------------------------

    pub fn multi_lookup(&self, kind: Kind, attr: IndexAttr, folded: &str) -> Result<Vec<String>> {
        self.read_id_list(&self.keys.index(kind, attr, folded))
    }

    /// Add (`present`) or remove `id` in the entry of `folded`. A delete
    /// leaves its ids in the entries (docs/storage.md, "Deletes"), so an add
    /// drops the ids it finds there whose record is a [`tombstone`],
    /// reading them once. An id without any record stays: it may be a
    /// create on its way (which adds itself to an existing entry before it
    /// writes its record), and readers skip it meanwhile.
    pub fn multi_set(
        &self,
        kind: Kind,
        attr: IndexAttr,
        folded: &str,
        id: &str,
        present: bool,
    ) -> Result<()> {
        let key = self.keys.index(kind, attr, folded);
        if !present {
            return self.update_id_list(&key, id, false);
        }
        let mut known = vec![id.to_string()];
        let mut dead: Vec<String> = Vec::new();
        for _ in 0..MAX_RETRIES {
            let mut unknown: Vec<String> = Vec::new();
            self.update(&key, |cur| {
                let mut ids = parse_id_list(cur);
                unknown = ids.iter().filter(|x| !known.contains(x)).cloned().collect();
                if !unknown.is_empty() {
                    // Read their records first, then try again.
                    return Ok(None);
                }
                let before = ids.len();
                ids.retain(|x| !dead.contains(x));
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                } else if ids.len() == before {
                    return Ok(None);
                }
                Ok(Some(serde_json::to_vec(&ids).expect("ids serialise")))
            })?;
            if unknown.is_empty() {
                return Ok(());
            }
            let keys: Vec<String> = unknown.iter().map(|x| self.keys.record(kind, x)).collect();
            for (x, raw) in unknown.into_iter().zip(self.store.get_many(&keys)?) {
                // Only a tombstone proves an id dead: a create adds itself
                // to an existing entry before it writes its record.
                if raw.as_deref().is_some_and(is_tombstone) {
                    dead.push(x.clone());
                }
                known.push(x);
            }
        }
        Err(busy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::{Flavor, MemStore};

    #[test]
    fn unique_claims_conflict_unless_abandoned() {
        let s = MemStore::new();
        let r = Repo::new(&s, "t", 1000);
        r.claim_unique(Kind::User, "bob", "1", "userName", |_| Ok(true))
            .unwrap();
        // Another id, the first still live: 409.
        let e = r
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(true))
            .unwrap_err();
        assert_eq!(e.status, 409);
        // Young but dead (a create in progress): still 409.
        assert!(r
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(false))
            .is_err());
        // Old and dead: taken over.
        let later = Repo::new(&s, "t", 1000 + CLAIM_GRACE_SECS + 1);
        later
            .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(false))
            .unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("2")
        );
        later.release_unique(Kind::User, "bob", "1").unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("2")
        );
        later.release_unique(Kind::User, "bob", "2").unwrap();
        assert_eq!(later.unique_lookup(Kind::User, "bob").unwrap(), None);
        // Released: free for anyone at once, through the tombstone.
        later
            .claim_unique(Kind::User, "bob", "3", "userName", |_| Ok(true))
            .unwrap();
        assert_eq!(
            later.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
            Some("3")
        );
    }

    /// On both Spin stores, a claim racing another one that lands between
    /// our read and our swap loses, and the other stays.
    #[test]
    fn a_takeover_racing_another_loses_on_every_spin_store() {
        for flavor in [Flavor::SpinSqlite, Flavor::SpinRedis] {
            let s = MemStore::like(flavor);
            let r = Repo::new(&s, "t", 1000);
            r.claim_unique(Kind::User, "bob", "1", "userName", |_| Ok(true))
                .unwrap();
            r.release_unique(Kind::User, "bob", "1").unwrap();
            let key = r.keys.index(Kind::User, IndexAttr::Name, "bob");
            let theirs = Claim::encode("other", 1000);
            let sneak = theirs.clone();
            s.interfere(Box::new(move |k, d| {
                if k == key {
                    d.insert(k.to_string(), sneak.clone());
                }
            }));
            let e = r
                .claim_unique(Kind::User, "bob", "2", "userName", |_| Ok(true))
                .unwrap_err();
            assert_eq!(e.status, 409, "{flavor:?}");
            assert_eq!(
                r.unique_lookup(Kind::User, "bob").unwrap().as_deref(),
                Some("other"),
                "{flavor:?}"
            );
        }
    }
}
