//! The checker on stores written by the service: clean ones report nothing;
//! each leftover of docs/storage.md is found and repaired; each violation
//! is found and left alone.

use super::{run, Options, Problem, Report};
use crate::config::Config;
use crate::schema::Kind;
use crate::storage::kv::{guard_key, Store, GUARD_EPOCH_SECS};
use crate::storage::layout::{bucket_of, fold, member_path, IndexAttr, Keys};
use crate::storage::records::{Record, Repo, CLAIM_GRACE_SECS};
use crate::testutil::service::Client;
use serde_json::{json, Value};

/// The time of every check in this file (the tokens are real, so it is
/// the real time, read once).
fn now() -> u64 {
    static NOW: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NOW.get_or_init(Client::wall_clock)
}

/// The service (running a little before the check, past no grace) and the
/// keys of the default tenant.
struct Fixture {
    client: Client,
    keys: Keys,
}

impl std::ops::Deref for Fixture {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            client: Client::new(Config::default(), now() - 5),
            keys: Keys::for_tenant(crate::auth::DEFAULT_TENANT),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.client.call(method, path, "", body)
    }

    fn user(&self, name: &str) -> String {
        let (s, v) = self.call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "externalId": format!("x-{name}"),
                "emails": [{"value": format!("{name}@example.com"), "type": "work"}],
            })),
        );
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (s, v) = self.call(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members,
            })),
        );
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// A populated store: users, a renamed and a deleted one, a group with
    /// members (one removed).
    fn populated() -> (Fixture, Vec<String>, String) {
        let f = Fixture::new();
        let users: Vec<String> = (0..6).map(|i| f.user(&format!("user{i}"))).collect();
        let g = f.group("staff", &[&users[0], &users[1], &users[2], &users[3]]);
        let (s, v) = f.call(
            "PATCH",
            &format!("/Groups/{g}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", users[3])}],
            })),
        );
        assert!(s == 204 || s == 200, "{v}");
        assert_eq!(
            f.call("DELETE", &format!("/Users/{}", users[5]), None).0,
            204
        );
        let (s, v) = f.call(
            "PATCH",
            &format!("/Users/{}", users[4]),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "userName", "value": "renamed"}],
            })),
        );
        assert_eq!(s, 200, "{v}");
        (f, users, g)
    }

    fn check(&self, repair: bool) -> Report {
        run(
            &self.store,
            &self.store,
            &Options {
                name_case_exact: false,
                now: now(),
                repair,
            },
        )
        .unwrap()
    }

    fn repo(&self) -> Repo<'_> {
        Repo::new(&self.store, crate::auth::DEFAULT_TENANT, now())
    }

    fn record(&self, kind: Kind, id: &str) -> Record {
        Record::decode(
            &self
                .store
                .get(&self.keys.record(kind, id))
                .unwrap()
                .unwrap(),
        )
        .unwrap()
    }
}

/// Only `problem`, `n` times.
fn only(report: &Report, problem: Problem, n: u64) {
    let found: Vec<(Problem, u64)> = report.problems().collect();
    assert_eq!(found, vec![(problem, n)], "{report}");
}

/// Found once, repaired, and nothing left after.
fn repaired(f: &Fixture, problem: Problem) {
    repaired_n(f, problem, 1)
}

/// Found `n` times, repaired, and nothing left after.
fn repaired_n(f: &Fixture, problem: Problem, n: u64) {
    only(&f.check(false), problem, n);
    let r = f.check(true);
    only(&r, problem, n);
    assert_eq!(r.repaired_count(problem), n, "{r}");
    let after = f.check(false);
    assert_eq!(after.problems().count(), 0, "{after}");
}

/// Found, not repaired, and still there after a repair.
fn kept(f: &Fixture, problem: Problem) {
    assert!(!problem.is_leftover());
    let r = f.check(true);
    assert!(r.count(problem) >= 1, "{r}");
    assert_eq!(r.repaired_count(problem), 0, "{r}");
    assert_eq!(f.check(false).count(problem), r.count(problem));
}

#[test]
fn a_store_written_by_the_service_is_clean() {
    let (f, _, _) = Fixture::populated();
    let r = f.check(false);
    assert_eq!(r.problems().count(), 0, "{r}");
    assert_eq!((r.users, r.groups, r.members), (5, 1, 3), "{r}");
    // The deleted user's tombstone, whose claim and entries are not
    // leftovers (docs/storage.md, "Deletes").
    assert_eq!(r.deleted, 1, "{r}");
    assert_eq!(r.unknown_keys, 0, "{r}");
    assert!(r.keys > 20);
}

#[test]
fn an_abandoned_claim_becomes_a_tombstone() {
    let (f, users, _) = Fixture::populated();
    let key = f
        .keys
        .index(Kind::User, IndexAttr::Name, &fold("ghost", false));
    let claim = json!({"id": "no-such-id", "at": now() - CLAIM_GRACE_SECS - 1});
    f.store.set(&key, claim.to_string().as_bytes()).unwrap();
    repaired(&f, Problem::AbandonedClaim);
    assert_eq!(f.repo().unique_lookup(Kind::User, "ghost").unwrap(), None);
    // A rename that stopped before releasing the old name: the old claim
    // points at a live user with another name.
    let old = f.keys.index(Kind::User, IndexAttr::Name, "oldname");
    let claim = json!({"id": users[0], "at": now() - 100});
    f.store.set(&old, claim.to_string().as_bytes()).unwrap();
    repaired(&f, Problem::AbandonedClaim);
    // Within its grace, a claim belongs to a create in progress.
    let young = json!({"id": "in-progress", "at": now() - 2});
    f.store.set(&key, young.to_string().as_bytes()).unwrap();
    assert_eq!(f.check(false).problems().count(), 0);
}

#[test]
fn a_stale_index_entry_loses_its_id() {
    let (f, users, _) = Fixture::populated();
    f.repo()
        .multi_set(
            Kind::User,
            IndexAttr::ExternalId,
            "x-user1",
            "no-such-id",
            true,
        )
        .unwrap();
    repaired(&f, Problem::StaleIndexEntry);
    assert_eq!(
        f.repo()
            .multi_lookup(Kind::User, IndexAttr::ExternalId, "x-user1")
            .unwrap(),
        vec![users[1].clone()]
    );
    // An email entry of a user that changed its email.
    f.repo()
        .multi_set(
            Kind::User,
            IndexAttr::Email,
            "old@example.com",
            &users[2],
            true,
        )
        .unwrap();
    repaired(&f, Problem::StaleIndexEntry);
}

#[test]
fn an_orphan_list_slot_and_a_count_off_are_fixed() {
    let (f, _, _) = Fixture::populated();
    let c = f.repo().list_append(Kind::User, "no-such-id").unwrap();
    repaired(&f, Problem::OrphanListSlot);
    assert_eq!(f.repo().list_total(Kind::User).unwrap(), 5);
    // A crash between opening the next chunk and counting the full one
    // (the last chunk's count is not kept: readers count it).
    let summary = f.keys.list_summary(Kind::User);
    f.store.set(&summary, br#"{"counts":[9,0]}"#).unwrap();
    assert_eq!(c, 0);
    repaired(&f, Problem::ListCountOff);
    assert_eq!(f.repo().list_total(Kind::User).unwrap(), 5);
}

#[test]
fn stale_and_orphan_membership_lists_are_trimmed() {
    let (f, users, g) = Fixture::populated();
    // users[3] is in no group; its list says it is.
    let list = f.keys.memberships(Kind::Group, &users[3]);
    f.repo().update_id_list(&list, &g, true).unwrap();
    repaired(&f, Problem::StaleMembership);
    assert_eq!(f.repo().read_id_list(&list).unwrap(), Vec::<String>::new());
    // The list of a user that does not exist.
    let orphan = f.keys.memberships(Kind::Group, "no-such-user");
    f.repo().update_id_list(&orphan, &g, true).unwrap();
    repaired(&f, Problem::OrphanMembershipList);
    assert_eq!(f.store.get(&orphan).unwrap(), None);
}

/// A group deleted by the service leaves its id in its members' lists
/// (docs/storage.md, "Known leftovers"), which a repair drops.
#[test]
fn a_deleted_group_leaves_only_its_documented_leftovers() {
    let (f, users, _) = Fixture::populated();
    let gone = f.group("gone", &[&users[0], &users[4]]);
    assert_eq!(f.call("DELETE", &format!("/Groups/{gone}"), None).0, 204);
    repaired_n(&f, Problem::StaleMembership, 2);
}

#[test]
fn buckets_of_a_deleted_group_go() {
    let (f, _, g) = Fixture::populated();
    // A group delete that stopped after the record (its first step).
    f.store.delete(&f.keys.record(Kind::Group, &g)).unwrap();
    let r = f.check(false);
    assert!(r.count(Problem::OrphanBucket) >= 1, "{r}");
    // The members' lists name the group, gone too: stale entries; and its
    // list slot stayed.
    assert_eq!(r.count(Problem::StaleMembership), 3, "{r}");
    assert_eq!(r.count(Problem::OrphanListSlot), 1, "{r}");
    assert_eq!(r.violations(), 0, "{r}");
    f.check(true);
    let after = f.check(false);
    assert_eq!(after.problems().count(), 0, "{after}");
}

#[test]
fn guards_older_than_two_epochs_go() {
    let (f, _, _) = Fixture::populated();
    let epoch = now() / GUARD_EPOCH_SECS;
    let key = f.keys.index(Kind::User, IndexAttr::Name, "someone");
    f.store.increment(&guard_key(&key, epoch - 3), 1).unwrap();
    f.store.increment(&guard_key(&key, epoch - 1), 1).unwrap();
    repaired(&f, Problem::OldGuard);
    assert!(f.store.get(&guard_key(&key, epoch - 1)).unwrap().is_some());
}

#[test]
fn a_user_name_held_twice_is_a_violation() {
    let (f, users, _) = Fixture::populated();
    // A second record with user1's name under another id, listed.
    let mut rec = f.record(Kind::User, &users[1]);
    let twin = "00000000-0000-4000-8000-000000000001";
    rec.doc["id"] = json!(twin);
    rec.doc["externalId"] = Value::Null;
    rec.doc.as_object_mut().unwrap().remove("externalId");
    rec.doc.as_object_mut().unwrap().remove("emails");
    rec.chunk = Some(f.repo().list_append(Kind::User, twin).unwrap());
    f.repo().put_new_record(Kind::User, twin, &rec).unwrap();
    only(&f.check(false), Problem::NameNotClaimed, 1);
    kept(&f, Problem::NameNotClaimed);
}

#[test]
fn a_dangling_member_is_a_violation() {
    let (f, users, _) = Fixture::populated();
    // The user's record gone while a group still holds it.
    f.store
        .delete(&f.keys.record(Kind::User, &users[1]))
        .unwrap();
    let r = f.check(false);
    assert_eq!(r.count(Problem::DanglingMember), 1, "{r}");
    kept(&f, Problem::DanglingMember);
}

#[test]
fn broken_indexes_lists_and_bitmaps_are_violations() {
    let (f, users, g) = Fixture::populated();
    f.repo()
        .multi_set(
            Kind::User,
            IndexAttr::ExternalId,
            "x-user2",
            &users[2],
            false,
        )
        .unwrap();
    only(&f.check(false), Problem::MissingIndexEntry, 1);
    kept(&f, Problem::MissingIndexEntry);

    let (f, users, _) = Fixture::populated();
    f.repo()
        .update_id_list(&f.keys.memberships(Kind::Group, &users[0]), "x", true)
        .unwrap();
    f.store
        .delete(&f.keys.memberships(Kind::Group, &users[0]))
        .unwrap();
    only(&f.check(false), Problem::MembershipNotListed, 1);
    kept(&f, Problem::MembershipNotListed);

    let (f, users, g2) = Fixture::populated();
    let mut rec = f.record(Kind::Group, &g2);
    let b = bucket_of(&users[0]);
    rec.buckets &= !(1 << b);
    f.store
        .set(&f.keys.record(Kind::Group, &g2), &rec.encode())
        .unwrap();
    assert_eq!(f.check(false).count(Problem::BucketNotInBitmap), 1);
    kept(&f, Problem::BucketNotInBitmap);

    let (f, users, _) = Fixture::populated();
    let chunk = f.record(Kind::User, &users[3]).chunk;
    f.store
        .set(&f.keys.list_chunk(Kind::User, chunk.unwrap()), b"[]")
        .unwrap();
    let r = f.check(false);
    assert_eq!(r.count(Problem::RecordNotListed), 5, "{r}");
    kept(&f, Problem::RecordNotListed);

    let (f, users, _) = Fixture::populated();
    f.store
        .set(&f.keys.record(Kind::User, &users[3]), b"{not json")
        .unwrap();
    assert_eq!(f.check(false).count(Problem::Undecodable), 1);
    kept(&f, Problem::Undecodable);
    let _ = g;
}

#[test]
fn examples_carry_no_client_values() {
    let (f, _, _) = Fixture::populated();
    let key = f
        .keys
        .index(Kind::User, IndexAttr::Name, "secret.person@example.com");
    let claim = json!({"id": "gone", "at": now() - 1000});
    f.store.set(&key, claim.to_string().as_bytes()).unwrap();
    let r = f.check(false);
    let text = r.to_string();
    assert!(text.contains("abandoned-claim"), "{text}");
    assert!(!text.contains("secret.person"), "{text}");
}

/// A group whose member bucket was split (docs/storage.md, "Membership"):
/// clean, read through its trie; children of a split that stopped before
/// its marker are a leftover deleted by a repair; a missing child of a
/// split node is a violation.
#[test]
fn split_member_buckets_are_checked_node_by_node() {
    use crate::storage::members::trie::{split_over, MARKER};
    let (f, users, g) = Fixture::populated();
    let b = bucket_of(&users[0]) as u8;
    // A second member in that bucket (a leaf of one member is not split).
    let extra = (0..)
        .map(|i| f.user(&format!("extra{i}")))
        .find(|id| bucket_of(id) == b as u32)
        .unwrap();
    let (s, v) = f.call(
        "PATCH",
        &format!("/Groups/{g}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": extra}]}],
        })),
    );
    assert!(s == 204 || s == 200, "{v}");
    split_over(&f.repo(), Kind::Group, &g, &[b], 0).unwrap();
    let root = f.keys.member_node(Kind::Group, &g, &[b]);
    assert_eq!(f.store.get(&root).unwrap().as_deref(), Some(MARKER));
    let r = f.check(false);
    assert_eq!(r.problems().count(), 0, "{r}");
    assert_eq!(r.members, 4, "{r}");
    // Read through the trie: the group's members and the user's groups.
    let (s, v) = f.call("GET", &format!("/Groups/{g}"), None);
    assert_eq!(
        (s, v["members"].as_array().map(Vec::len)),
        (200, Some(4)),
        "{v}"
    );
    let (s, v) = f.call("GET", &format!("/Users/{}", users[0]), None);
    assert_eq!(
        (s, v["groups"][0]["value"].as_str()),
        (200, Some(g.as_str())),
        "{v}"
    );

    // An unfinished split of another bucket: its children are never read.
    let other = (0..32u8).find(|c| *c != b).unwrap();
    for c in [0u8, 7] {
        f.store
            .set(&f.keys.member_node(Kind::Group, &g, &[other, c]), b"[]")
            .unwrap();
    }
    repaired_n(&f, Problem::UnfinishedSplit, 2);

    // A split node's missing child (one without members: a member's list
    // naming the group would be a finding of its own).
    let holding: Vec<u8> = [&users[0], &users[1], &users[2], &extra]
        .iter()
        .map(|u| member_path(u))
        .filter(|p| p[0] == b)
        .map(|p| p[1])
        .collect();
    let empty = (0..32u8).find(|c| !holding.contains(c)).unwrap();
    f.store
        .delete(&f.keys.member_node(Kind::Group, &g, &[b, empty]))
        .unwrap();
    only(&f.check(false), Problem::SplitChildMissing, 1);
    kept(&f, Problem::SplitChildMissing);
}

#[test]
fn audit_keys_are_checked() {
    let (f, _, _) = Fixture::populated();
    let r = f.check(false);
    assert!(r.audit_keys > 5, "{r}");
    assert_eq!(r.problems().count(), 0, "{r}");
    let repo = f.repo();
    let head = crate::audit::log::head(&repo).unwrap();
    assert!(head > 5);
    let first = f
        .store
        .get(&crate::audit::log::event_key(&repo, 1))
        .unwrap()
        .unwrap();

    // A confirmation whose event retention dropped.
    f.store
        .set(&crate::audit::log::confirm_key(&repo, head + 1000), b"1")
        .unwrap();
    repaired(&f, Problem::OrphanConfirmation);

    // An event below the tail: retention passed it, a late append wrote it.
    f.store
        .set(&crate::audit::log::tail_key(&repo), b"3")
        .unwrap();
    repaired_n(&f, Problem::ExpiredEvent, 2);
    assert!(f
        .store
        .get(&crate::audit::log::event_key(&repo, 1))
        .unwrap()
        .is_none());

    // An event numbered past the counter: a violation, left alone.
    f.store
        .set(&crate::audit::log::event_key(&repo, head + 7), &first)
        .unwrap();
    kept(&f, Problem::EventBeyondSequence);

    // An event that does not decode.
    f.store
        .set(&crate::audit::log::event_key(&repo, head), b"{")
        .unwrap();
    assert_eq!(f.check(false).count(Problem::Undecodable), 1);
}
