//! Memberships: member trie nodes (`m/<kind>/<id>/<bucket>[/<c>…]`,
//! docs/storage.md "Membership") are reachable (every ancestor a split
//! marker; otherwise the leftover of a split that stopped before its
//! compare-and-swap), a split marker has all 32 children, and a leaf's
//! members are live users whose path reaches that leaf, in a level-0
//! bucket the container's bitmap marks; each member's list
//! (`u/<kind>/<user>`) names the container; a list may name more (a
//! superset, docs/storage.md "Write order and its invariants", 4), which a
//! repair trims.

use super::{Problem, Walk};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::kv::guard_keys;
use crate::storage::layout::MEMBER_FANOUT;
use crate::storage::members::trie::{belongs, child, is_marker};
use crate::storage::members::{self, bit, Stored};
use crate::storage::records::{live_record, parse_id_list, Record};

impl Walk<'_> {
    /// `m/<kind>/<container>/<bucket>`: a level-0 node.
    pub(super) fn bucket(
        &mut self,
        prefix: &str,
        key: &str,
        kind: Kind,
        container: &str,
        b: u32,
    ) -> Result<()> {
        self.member_node(prefix, key, kind, container, &[b as u8])
    }

    /// `m/<kind>/<container>/<b>/<c>/…`: a node of the member trie at `path`.
    pub(super) fn member_node(
        &mut self,
        prefix: &str,
        key: &str,
        kind: Kind,
        container: &str,
        path: &[u8],
    ) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        let repo = self.repo(prefix);
        if path.is_empty() || repo.keys.member_node(kind, container, path) != key {
            // A hashed container id: it cannot be read back from the key.
            return Ok(());
        }
        // Reachable: every ancestor is a split marker.
        if path.len() > 1 {
            let ancestors: Vec<String> = (1..path.len())
                .map(|n| repo.keys.member_node(kind, container, &path[..n]))
                .collect();
            let values = self.get_all(&ancestors)?;
            if !values.iter().all(|v| v.as_deref().is_some_and(is_marker)) {
                return self.leftover(
                    Problem::UnfinishedSplit,
                    key,
                    "under a node that is not split".into(),
                    |w| Ok(w.store.delete(key)?),
                );
            }
        }
        if is_marker(&raw) {
            let kids: Vec<String> = (0..MEMBER_FANOUT)
                .map(|c| repo.keys.member_node(kind, container, &child(path, c)))
                .collect();
            let missing = self.get_all(&kids)?.iter().filter(|v| v.is_none()).count();
            if missing > 0 {
                self.violation(
                    Problem::SplitChildMissing,
                    key,
                    format!("{missing} of its children are missing"),
                );
            }
            return Ok(());
        }
        let Ok(members) = serde_json::from_slice::<Vec<Stored>>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a member bucket".into());
            return Ok(());
        };
        self.report.members += members.len() as u64;
        let b = path[0] as u32;
        let record = match live_record(self.store.get(&repo.keys.record(kind, container))?) {
            None => {
                return self.leftover(
                    Problem::OrphanBucket,
                    key,
                    format!("{kind:?} {container} does not exist"),
                    |w| {
                        let mut gone = guard_keys(key, w.opts.now).to_vec();
                        gone.push(key.to_string());
                        Ok(w.store.delete_many(&gone)?)
                    },
                );
            }
            Some(r) => Record::decode(&r).ok(),
        };
        if let Some(rec) = &record {
            if !members.is_empty() && rec.buckets & bit(b) == 0 {
                self.violation(
                    Problem::BucketNotInBitmap,
                    key,
                    format!("bucket {b} not marked in its record"),
                );
            }
        }
        for batch in members.chunks(super::BATCH / 2) {
            let mut keys = Vec::with_capacity(batch.len() * 2);
            for m in batch {
                keys.push(repo.keys.record(Kind::User, &m.value));
                keys.push(repo.keys.memberships(kind, &m.value));
            }
            let values = self.get_all(&keys)?;
            for (m, pair) in batch.iter().zip(values.chunks(2)) {
                if !belongs(path, &m.value) {
                    self.violation(
                        Problem::MisplacedMember,
                        key,
                        format!("{}'s path does not reach this node", m.value),
                    );
                }
                if live_record(pair[0].as_deref()).is_none() {
                    self.violation(
                        Problem::DanglingMember,
                        key,
                        format!("user {} does not exist", m.value),
                    );
                } else if !parse_id_list(pair[1].as_deref())
                    .iter()
                    .any(|c| c == container)
                {
                    self.violation(
                        Problem::MembershipNotListed,
                        key,
                        format!("user {}'s list lacks it", m.value),
                    );
                }
            }
        }
        Ok(())
    }

    /// `u/<kind>/<user>`: the list of a live user, naming containers that
    /// hold it.
    pub(super) fn memberships(
        &mut self,
        prefix: &str,
        key: &str,
        kind: Kind,
        user: &str,
    ) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        let Ok(containers) = serde_json::from_slice::<Vec<String>>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a list of ids".into());
            return Ok(());
        };
        let repo = self.repo(prefix);
        if repo.keys.memberships(kind, user) != key {
            return Ok(());
        }
        if live_record(self.store.get(&repo.keys.record(Kind::User, user))?).is_none() {
            return self.leftover(
                Problem::OrphanMembershipList,
                key,
                format!("user {user} does not exist"),
                |w| {
                    let mut gone = guard_keys(key, w.opts.now).to_vec();
                    gone.push(key.to_string());
                    Ok(w.store.delete_many(&gone)?)
                },
            );
        }
        for batch in containers.chunks(super::BATCH) {
            let keys: Vec<String> = batch.iter().map(|c| repo.keys.record(kind, c)).collect();
            let records = self.get_all(&keys)?;
            let queries: Vec<(Kind, &str, &str)> =
                batch.iter().map(|c| (kind, c.as_str(), user)).collect();
            let held = members::holds(&repo, &queries)?;
            for ((c, record), held) in batch.iter().zip(records).zip(held) {
                if !(live_record(record.as_deref()).is_some() && held) {
                    self.leftover(
                        Problem::StaleMembership,
                        key,
                        format!("{kind:?} {c} does not hold user {user}"),
                        |w| w.repo(prefix).update_id_list(key, c, false),
                    )?;
                }
            }
        }
        Ok(())
    }
}
