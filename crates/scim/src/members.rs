//! Group and role membership on the store (docs/storage.md, "Membership").
//!
//! Members of a group or role live in [`MEMBER_BUCKETS`] bucket keys chosen by
//! a hash of the user id, so adding or removing one member rewrites one bucket,
//! not the whole list, and no value approaches the 1 MiB limit below about a
//! million members. Each user also has a list of the groups (and roles) it is
//! in, kept as a superset: it is written before a member is added and after a
//! member is removed, and readers confirm each entry against the bucket.

use crate::error::Result;
use crate::keys::{bucket_of, Kind, MEMBER_BUCKETS};
use crate::patch::MemberOp;
use crate::repo::Repo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Stored {
    /// The member as a SCIM `members` value (RFC 7643 §4.2).
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut v = json!({
            "value": self.value,
            "$ref": format!("{base_url}/Users/{}", self.value),
            "type": "User",
        });
        if let Some(d) = &self.display {
            v["display"] = Value::String(d.clone());
        }
        v
    }
}

/// A member as the client sees it, serialised without a JSON tree.
#[derive(Serialize)]
struct MemberOut<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Append `members` as a JSON array to `out` (the same shape as
/// [`Stored::to_json`], written directly).
pub fn write_json(out: &mut Vec<u8>, members: &[Stored], base_url: &str) {
    let items: Vec<MemberOut> = members
        .iter()
        .map(|m| MemberOut {
            value: &m.value,
            reference: format!("{base_url}/Users/{}", m.value),
            display: m.display.as_deref(),
            kind: "User",
        })
        .collect();
    serde_json::to_writer(out, &items).expect("members serialise");
}

/// Bit of a bucket in `Record::buckets`.
pub fn bit(bucket: u32) -> u32 {
    1 << bucket
}

fn decode(raw: Option<&[u8]>) -> Vec<Stored> {
    raw.and_then(|r| serde_json::from_slice(r).ok())
        .unwrap_or_default()
}

/// All members of a container whose record has bucket bitmap `buckets`.
pub fn read_all(repo: &Repo, kind: Kind, id: &str, buckets: u32) -> Result<Vec<Stored>> {
    let wanted: Vec<u32> = (0..MEMBER_BUCKETS)
        .filter(|b| buckets & bit(*b) != 0)
        .collect();
    let keys: Vec<String> = wanted
        .iter()
        .map(|b| repo.keys.members(kind, id, *b))
        .collect();
    let mut out = Vec::new();
    for raw in repo.store.get_many(&keys)? {
        out.extend(decode(raw.as_deref()));
    }
    out.sort_by(|a, b| a.value.cmp(&b.value));
    Ok(out)
}

/// Whether the raw bytes of a bucket hold member `user_id`, without parsing
/// the bucket: the stored form is compact JSON `{"v":"<id>",…}`, and inside a
/// JSON string a quote is always escaped, so `"v":"<id>"` occurs only as a
/// member's value.
pub fn bucket_has(bucket: &[u8], user_id: &str) -> bool {
    let needle = format!("\"v\":{}", serde_json::Value::String(user_id.to_string()));
    memchr::memmem::find(bucket, needle.as_bytes()).is_some()
}

/// Buckets an operation list touches (for the record's bitmap and for reads).
pub fn touched(ops: &[MemberOp], existing: u32) -> u32 {
    let mut bits = 0;
    for op in ops {
        match op {
            MemberOp::Add(ms) => ms.iter().for_each(|m| bits |= bit(bucket_of(&m.value))),
            MemberOp::Remove(ids) => ids.iter().for_each(|id| bits |= bit(bucket_of(id))),
            MemberOp::RemoveAll | MemberOp::RemoveWhere(_) => bits |= existing,
        }
    }
    bits
}

/// Buckets that gain members (set in the record before the bucket is written).
pub fn added_bits(ops: &[MemberOp]) -> u32 {
    let mut bits = 0;
    for op in ops {
        if let MemberOp::Add(ms) = op {
            ms.iter().for_each(|m| bits |= bit(bucket_of(&m.value)));
        }
    }
    bits
}

/// Apply `ops` in order to one bucket's members. `keep` decides RemoveWhere.
fn apply_to_bucket<F>(members: &mut Vec<Stored>, bucket: u32, ops: &[MemberOp], remove_where: &F)
where
    F: Fn(&crate::filter::Filter, &Stored) -> bool,
{
    for op in ops {
        match op {
            MemberOp::Add(ms) => {
                // Position of each member id: linear in the bucket and the op.
                let mut at: HashMap<String, usize> = members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.value.clone(), i))
                    .collect();
                for m in ms.iter().filter(|m| bucket_of(&m.value) == bucket) {
                    match at.get(&m.value) {
                        Some(&i) => {
                            if m.display.is_some() {
                                members[i].display = m.display.clone();
                            }
                        }
                        None => {
                            at.insert(m.value.clone(), members.len());
                            members.push(Stored {
                                value: m.value.clone(),
                                display: m.display.clone(),
                            });
                        }
                    }
                }
            }
            MemberOp::Remove(ids) => {
                let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
                members.retain(|x| !gone.contains(x.value.as_str()))
            }
            MemberOp::RemoveAll => members.clear(),
            MemberOp::RemoveWhere(f) => members.retain(|x| !remove_where(f, x)),
        }
    }
}

/// The members a change removed, whose membership lists must drop the
/// container (additions were listed before the bucket was written).
#[derive(Debug, Default)]
pub struct Delta {
    pub removed: Vec<String>,
}

/// Write `ops` to the buckets in `bits`, each bucket with its own
/// compare-and-swap loop (concurrent changes to other members never conflict
/// with this one, and a conflict on the same bucket re-applies the ops).
pub fn write_buckets<F>(
    repo: &Repo,
    kind: Kind,
    id: &str,
    bits: u32,
    ops: &[MemberOp],
    remove_where: F,
) -> Result<Delta>
where
    F: Fn(&crate::filter::Filter, &Stored) -> bool,
{
    let mut delta = Delta::default();
    for b in (0..MEMBER_BUCKETS).filter(|b| bits & bit(*b) != 0) {
        let key = repo.keys.members(kind, id, b);
        let mut local = Delta::default();
        repo.update(&key, |cur| {
            let before = decode(cur);
            let mut after = before.clone();
            apply_to_bucket(&mut after, b, ops, &remove_where);
            let had: HashSet<&str> = before.iter().map(|m| m.value.as_str()).collect();
            let has: HashSet<&str> = after.iter().map(|m| m.value.as_str()).collect();
            local = Delta {
                removed: had.difference(&has).map(|v| v.to_string()).collect(),
            };
            if after == before {
                return Ok(None);
            }
            Ok(Some(serde_json::to_vec(&after).expect("members serialise")))
        })?;
        delta.removed.extend(local.removed);
    }
    Ok(delta)
}

/// Remove every member bucket of a container (after its record is gone).
pub fn delete_all(repo: &Repo, kind: Kind, id: &str, buckets: u32) -> Result<()> {
    let keys: Vec<String> = (0..MEMBER_BUCKETS)
        .filter(|b| buckets & bit(*b) != 0)
        .map(|b| repo.keys.members(kind, id, b))
        .collect();
    Ok(repo.store.delete_many(&keys)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_membership_is_found_without_parsing_and_never_inside_a_display() {
        let id = "2819c223-7f76-453a-919d-413861904646";
        let other = "0b6f1b1e-0000-4000-8000-00000000dead";
        let tricky = Stored {
            value: other.into(),
            // A display that spells out the needle: quotes get escaped.
            display: Some(format!("\"v\":\"{id}\"")),
        };
        let bucket = serde_json::to_vec(&vec![tricky.clone()]).unwrap();
        assert!(!bucket_has(&bucket, id));
        assert!(bucket_has(&bucket, other));
        let with = serde_json::to_vec(&vec![
            tricky,
            Stored {
                value: id.into(),
                display: None,
            },
        ])
        .unwrap();
        assert!(bucket_has(&with, id));
        assert!(!bucket_has(b"", id));
    }
}
