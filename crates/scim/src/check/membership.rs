//! Memberships: bucket members (`m/<kind>/<id>/<bucket>`) are live users
//! in the bucket their id hashes to, which the container's bitmap marks,
//! and each member's list (`u/<kind>/<user>`) names the container; a list
//! may name more (a superset, docs/storage.md "Write order and its
//! invariants", 4), which a repair trims.

use super::{Problem, Walk};
use crate::error::Result;
use crate::schema::Kind;
use crate::storage::kv::guard_keys;
use crate::storage::layout::bucket_of;
use crate::storage::members::{bit, bucket_has, Stored};
use crate::storage::records::{parse_id_list, Record};

impl Walk<'_> {
    /// `m/<kind>/<container>/<bucket>`.
    pub(super) fn bucket(
        &mut self,
        prefix: &str,
        key: &str,
        kind: Kind,
        container: &str,
        b: u32,
    ) -> Result<()> {
        let Some(raw) = self.store.get(key)? else {
            return Ok(());
        };
        let Ok(members) = serde_json::from_slice::<Vec<Stored>>(&raw) else {
            self.violation(Problem::Undecodable, key, "not a member bucket".into());
            return Ok(());
        };
        self.report.members += members.len() as u64;
        let repo = self.repo(prefix);
        if repo.keys.members(kind, container, b) != key {
            // A hashed container id: it cannot be read back from the key.
            return Ok(());
        }
        let record = match self.store.get(&repo.keys.record(kind, container))? {
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
                if bucket_of(&m.value) != b {
                    self.violation(
                        Problem::MisplacedMember,
                        key,
                        format!("{} belongs in bucket {}", m.value, bucket_of(&m.value)),
                    );
                }
                if pair[0].is_none() {
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
        if self
            .store
            .get(&repo.keys.record(Kind::User, user))?
            .is_none()
        {
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
        let b = bucket_of(user);
        for batch in containers.chunks(super::BATCH / 2) {
            let mut keys = Vec::with_capacity(batch.len() * 2);
            for c in batch {
                keys.push(repo.keys.record(kind, c));
                keys.push(repo.keys.members(kind, c, b));
            }
            let values = self.get_all(&keys)?;
            for (c, pair) in batch.iter().zip(values.chunks(2)) {
                let holds =
                    pair[0].is_some() && pair[1].as_deref().is_some_and(|m| bucket_has(m, user));
                if !holds {
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
