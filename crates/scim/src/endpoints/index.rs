//! A document's index entries (docs/storage.md): its unique name
//! (`userName` / `displayName`, RFC 7643 §4.1.1 and §4.2), `externalId` and
//! email values, and the order in which a write claims and releases them.
//!
//! Every value is keyed in the one form [`crate::text`] defines (NFC, then
//! Unicode full case folding where the attribute is case-insensitive), the
//! form filters compare in. Keys an older build wrote for some non-ASCII
//! values ([`legacy_fold`]) are consulted too: a claim refuses a name an
//! old key still holds, an update moves the resource's name to its new key,
//! and a rename or delete releases both.

use super::Ctx;
use crate::error::{Result, ScimError, ScimType};
use crate::schema::Kind;
use crate::storage::layout::{fold, legacy_fold, IndexAttr};
use serde_json::Value;

/// The index entries of one document, as stored (see [`fold`]).
#[derive(Default, PartialEq)]
pub(crate) struct Indexed {
    /// The unique name, folded unless names are case-exact (then NFC).
    pub(crate) name: Option<String>,
    /// `externalId` in NFC (RFC 7643 §3.1: caseExact).
    pub(crate) external: Option<String>,
    /// Every email value, folded, sorted, without duplicates.
    pub(crate) emails: Vec<String>,
    /// The keys an older build gave these values, where they differ from
    /// the ones above ([`legacy_fold`]; never for ASCII values).
    pub(crate) legacy: Vec<(IndexAttr, String)>,
}
/// The index entries of `doc`.
pub(super) fn indexed(ctx: &Ctx, kind: Kind, doc: &Value) -> Indexed {
    entries(ctx.name_case_exact(), kind, doc)
}

/// The index entries of `doc` when names are case-exact or not (`exact`):
/// what the endpoints write, and what the store checker
/// (the `check` module) expects to find.
pub(crate) fn entries(exact: bool, kind: Kind, doc: &Value) -> Indexed {
    let name_attr = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
        Kind::Role => return Indexed::default(),
    };
    let raw_emails: Vec<&str> = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut emails: Vec<String> = raw_emails.iter().map(|v| fold(v, false)).collect();
    emails.sort();
    emails.dedup();
    let raw_name = doc.get(name_attr).and_then(Value::as_str);
    let raw_external = doc.get("externalId").and_then(Value::as_str);
    let mut legacy: Vec<(IndexAttr, String)> = Vec::new();
    let mut old = |attr, v: Option<&str>, exact| {
        if let Some(l) = v.and_then(|v| legacy_fold(v, exact)) {
            if !legacy.contains(&(attr, l.clone())) {
                legacy.push((attr, l));
            }
        }
    };
    old(IndexAttr::Name, raw_name, exact);
    old(IndexAttr::ExternalId, raw_external, true);
    for e in &raw_emails {
        old(IndexAttr::Email, Some(e), false);
    }
    Indexed {
        name: raw_name.map(|v| fold(v, exact)),
        external: raw_external.map(|v| fold(v, true)),
        emails,
        legacy,
    }
}

/// The ids an index entry of `attr` lists for `value` (a lookup sent by a
/// client), under its key and, if different, its legacy key.
pub(super) fn lookup(ctx: &Ctx, kind: Kind, attr: IndexAttr, value: &str) -> Result<Vec<String>> {
    let exact = match attr {
        IndexAttr::Name => ctx.name_case_exact(),
        IndexAttr::ExternalId => true,
        IndexAttr::Email => false,
    };
    let one = |key: &str| -> Result<Vec<String>> {
        match attr {
            IndexAttr::Name => Ok(ctx.repo.unique_lookup(kind, key)?.into_iter().collect()),
            _ => ctx.repo.multi_lookup(kind, attr, key),
        }
    };
    let mut ids = one(&fold(value, exact))?;
    if let Some(old) = legacy_fold(value, exact) {
        for id in one(&old)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Whether the resource `other` exists and its name has the key `name`.
fn holds_name(ctx: &Ctx, kind: Kind, other: &str, name: &str) -> Result<bool> {
    Ok(match ctx.repo.load(kind, other)? {
        Some(l) => indexed(ctx, kind, &l.record.doc).name.as_deref() == Some(name),
        None => false,
    })
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
        let what = if kind == Kind::User {
            "userName"
        } else {
            "displayName"
        };
        if old.name.as_ref() != Some(n) {
            // A resource stored by an older build may hold this name under
            // its legacy key only.
            for (_, l) in new.legacy.iter().filter(|(a, _)| *a == IndexAttr::Name) {
                if let Some(other) = ctx.repo.unique_lookup(kind, l)? {
                    if other != id && holds_name(ctx, kind, &other, n)? {
                        return Err(ScimError::uniqueness(format!("{what} is already taken")));
                    }
                }
            }
            ctx.repo
                .claim_unique(kind, n, id, what, |other| holds_name(ctx, kind, other, n))?;
        } else if new.legacy.iter().any(|(a, _)| *a == IndexAttr::Name) {
            // An unchanged name that an older build may have keyed
            // differently: make sure it holds its key now. A name that
            // another resource took meanwhile under the new key stays
            // with it (this one keeps its legacy claim).
            match ctx
                .repo
                .claim_unique(kind, n, id, what, |other| holds_name(ctx, kind, other, n))
            {
                Err(e) if e.scim_type != Some(ScimType::Uniqueness) => return Err(e),
                _ => {}
            }
        }
    }
    multi_entries(ctx, kind, id, new, old, true)
}

/// Add (`add`) or remove `id` under the externalId and email entries that
/// `has` holds and `lacks` does not.
fn multi_entries(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    has: &Indexed,
    lacks: &Indexed,
    add: bool,
) -> Result<()> {
    if let Some(x) = has
        .external
        .as_ref()
        .filter(|x| lacks.external.as_ref() != Some(x))
    {
        ctx.repo
            .multi_set(kind, IndexAttr::ExternalId, x, id, add)?;
    }
    for e in has.emails.iter().filter(|e| !lacks.emails.contains(e)) {
        ctx.repo.multi_set(kind, IndexAttr::Email, e, id, add)?;
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
    multi_entries(ctx, kind, id, old, new, false)?;
    // Legacy entries are only ever removed (nothing writes them any more).
    for (attr, l) in old.legacy.iter().filter(|e| !new.legacy.contains(e)) {
        match attr {
            IndexAttr::Name => ctx.repo.release_unique(kind, l, id)?,
            _ => ctx.repo.multi_set(kind, *attr, l, id, false)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::auth::DEFAULT_TENANT;
    use crate::config::Config;
    use crate::schema::Kind;
    use crate::storage::kv::Store;
    use crate::storage::layout::{fold, legacy_fold, IndexAttr, Keys};
    use crate::testutil::service::Client;
    use serde_json::{json, Value};

    /// A service over a fresh store, called as a client would.
    struct Fixture(Client);

    impl std::ops::Deref for Fixture {
        type Target = Client;
        fn deref(&self) -> &Client {
            &self.0
        }
    }

    impl Fixture {
        fn new(case_exact: bool) -> Fixture {
            let mut cfg = Config::default();
            cfg.schema.user_name_case_exact = case_exact;
            Fixture(Client::new(cfg, Client::wall_clock()))
        }

        fn post_user(&self, body: Value) -> (u16, Value) {
            self.call("POST", "/Users", "", Some(body))
        }

        /// The ids `filter` finds.
        fn find(&self, filter: &str) -> Vec<String> {
            let q: String = filter
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>();
            let (status, v) = self.call("GET", "/Users", &format!("filter={q}"), None);
            assert_eq!(status, 200, "{v}");
            v["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect()
        }

        /// Move the index entry of `value` to the key an older build gave
        /// it, as if it had been stored before the one Unicode rule.
        fn make_legacy(&self, attr: IndexAttr, value: &str, case_exact: bool) {
            let keys = Keys::for_tenant(DEFAULT_TENANT);
            let new = keys.index(Kind::User, attr, &fold(value, case_exact));
            let old = legacy_fold(value, case_exact).expect("a value whose key changed");
            let old = keys.index(Kind::User, attr, &old);
            let v = self.store.get(&new).unwrap().expect("the entry exists");
            self.store.set(&old, &v).unwrap();
            // The new key never existed: nor did its creation guards.
            let mut gone = crate::storage::kv::guard_keys(&new, self.now).to_vec();
            gone.push(new);
            self.store.delete_many(&gone).unwrap();
        }

        fn holds(&self, attr: IndexAttr, folded: &str) -> bool {
            let key = Keys::for_tenant(DEFAULT_TENANT).index(Kind::User, attr, folded);
            self.store
                .get(&key)
                .unwrap()
                .is_some_and(|v| !String::from_utf8_lossy(&v).contains("\"id\":\"\""))
        }
    }

    fn id(v: &Value) -> String {
        v["id"].as_str().unwrap().to_string()
    }

    #[test]
    fn one_key_for_every_spelling_of_a_name() {
        let f = Fixture::new(false);
        let (s, u) = f.post_user(json!({"userName": "bfb1οδος"}));
        assert_eq!(s, 201, "{u}");
        for other in ["bfb1ΟΔΟΣ", "bfb1οδοσ", "BFB1ΟΔΟς"] {
            let (s, e) = f.post_user(json!({"userName": other}));
            assert_eq!((s, &e["scimType"]), (409, &json!("uniqueness")), "{other}");
            assert_eq!(f.find(&format!("userName eq \"{other}\"")), vec![id(&u)]);
        }
        let (s, _) = f.post_user(json!({"userName": "cafe\u{301}"}));
        assert_eq!(s, 201);
        let (s, _) = f.post_user(json!({"userName": "CAF\u{c9}"}));
        assert_eq!(s, 409);
    }

    #[test]
    fn names_stored_under_a_legacy_key_are_found_kept_unique_and_migrated() {
        let f = Fixture::new(false);
        let (s, u) = f.post_user(json!({"userName": "οδος",
            "emails": [{"value": "ΟΔΟΣ@example.gr"}], "externalId": "e\u{301}"}));
        assert_eq!(s, 201, "{u}");
        let uid = id(&u);
        f.make_legacy(IndexAttr::Name, "οδος", false);
        f.make_legacy(IndexAttr::Email, "ΟΔΟΣ@example.gr", false);
        f.make_legacy(IndexAttr::ExternalId, "e\u{301}", true);
        assert!(!f.holds(IndexAttr::Name, "οδοσ"));
        // Found by the spellings whose old key is the stored one.
        assert_eq!(f.find(r#"userName eq "ΟΔΟΣ""#), vec![uid.clone()]);
        assert_eq!(f.find(r#"userName eq "οδος""#), vec![uid.clone()]);
        assert_eq!(f.find(r#"emails eq "οδος@EXAMPLE.gr""#), vec![uid.clone()]);
        assert_eq!(f.find("externalId eq \"e\u{301}\""), vec![uid.clone()]);
        // Still unique: the same spellings are refused.
        for same in ["ΟΔΟΣ", "οδος"] {
            let (s, e) = f.post_user(json!({"userName": same}));
            assert_eq!(s, 409, "{same}: {e}");
        }
        // Any write moves the name to its new key...
        let (s, e) = f.call(
            "PATCH",
            &format!("/Users/{uid}"),
            "",
            Some(json!({"schemas": [crate::patch::PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        );
        assert_eq!(s, 200, "{e}");
        assert!(f.holds(IndexAttr::Name, "οδοσ"));
        let (s, _) = f.post_user(json!({"userName": "οδοσ"}));
        assert_eq!(s, 409, "the mid-word spelling is refused once migrated");
        // ...and a rename releases both keys.
        let (s, e) = f.call(
            "PATCH",
            &format!("/Users/{uid}"),
            "",
            Some(json!({"schemas": [crate::patch::PATCH_OP],
                "Operations": [{"op": "replace", "path": "userName", "value": "renamed"}]})),
        );
        assert_eq!(s, 200, "{e}");
        assert!(!f.holds(IndexAttr::Name, "οδοσ"));
        assert!(!f.holds(IndexAttr::Name, "οδος"));
        let (s, u2) = f.post_user(json!({"userName": "ΟΔΟΣ"}));
        assert_eq!(s, 201, "{u2}");
        assert_eq!(f.find(r#"userName eq "οδος""#), vec![id(&u2)]);
        // Deleting removes the legacy email and externalId entries too.
        let (s, _) = f.call("DELETE", &format!("/Users/{uid}"), "", None);
        assert_eq!(s, 204);
        let k = Keys::for_tenant(DEFAULT_TENANT);
        for (attr, v, exact) in [
            (IndexAttr::Email, "ΟΔΟΣ@example.gr", false),
            (IndexAttr::ExternalId, "e\u{301}", true),
        ] {
            let key = k.index(Kind::User, attr, &legacy_fold(v, exact).unwrap());
            let ids = f.store.get(&key).unwrap().unwrap_or_default();
            assert!(!String::from_utf8_lossy(&ids).contains(&uid), "{v}");
        }
    }

    #[test]
    fn a_deleted_users_values_are_free_at_once_and_its_id_leaves_the_entries() {
        let f = Fixture::new(false);
        let body = json!({"userName": "again", "externalId": "X-1",
            "emails": [{"value": "again@example.com"}]});
        let (s, a) = f.post_user(body.clone());
        assert_eq!(s, 201, "{a}");
        let (s, _) = f.call("DELETE", &format!("/Users/{}", id(&a)), "", None);
        assert_eq!(s, 204);
        // The delete leaves the claim and entries; nothing finds the user.
        assert!(f.holds(IndexAttr::Name, "again"));
        for q in [
            r#"userName eq "again""#,
            r#"externalId eq "X-1""#,
            r#"emails eq "again@example.com""#,
        ] {
            assert_eq!(f.find(q), Vec::<String>::new(), "{q}");
        }
        // The same values, at once (within a claim's grace): a new user,
        // and the entries no longer list the deleted one.
        let (s, b) = f.post_user(body);
        assert_eq!(s, 201, "{b}");
        for q in [
            r#"userName eq "again""#,
            r#"externalId eq "X-1""#,
            r#"emails eq "again@example.com""#,
        ] {
            assert_eq!(f.find(q), vec![id(&b)], "{q}");
        }
        let keys = Keys::for_tenant(DEFAULT_TENANT);
        for (attr, v) in [
            (IndexAttr::ExternalId, "X-1"),
            (IndexAttr::Email, "again@example.com"),
        ] {
            let raw = f.store.get(&keys.index(Kind::User, attr, v)).unwrap();
            let ids: Vec<String> = serde_json::from_slice(&raw.unwrap()).unwrap();
            assert_eq!(ids, vec![id(&b)], "{v}");
        }
        // A group's displayName and externalId, the same way.
        let g = json!({"displayName": "Closers", "externalId": "G-1"});
        let (s, g1) = f.call("POST", "/Groups", "", Some(g.clone()));
        assert_eq!(s, 201, "{g1}");
        let (s, _) = f.call("DELETE", &format!("/Groups/{}", id(&g1)), "", None);
        assert_eq!(s, 204);
        assert_eq!(
            f.call("GET", &format!("/Groups/{}", id(&g1)), "", None).0,
            404
        );
        let (s, g2) = f.call("POST", "/Groups", "", Some(g));
        assert_eq!(s, 201, "{g2}");
        let (s, v) = f.call("GET", "/Groups", "filter=externalId%20eq%20%22G-1%22", None);
        assert_eq!((s, &v["totalResults"]), (200, &json!(1)), "{v}");
        assert_eq!(v["Resources"][0]["id"], g2["id"], "{v}");
        // A claim within its grace whose holder has no record at all is a
        // create on its way: still refused.
        let key = keys.index(Kind::User, IndexAttr::Name, "pending");
        let claim = json!({"id": "5d1c5a8e-0000-4000-8000-000000000000", "at": f.now});
        f.store.set(&key, claim.to_string().as_bytes()).unwrap();
        let (s, e) = f.post_user(json!({"userName": "pending"}));
        assert_eq!((s, &e["scimType"]), (409, &json!("uniqueness")), "{e}");
    }

    #[test]
    fn an_add_keeps_the_id_of_a_create_still_on_its_way() {
        // A create adds itself to an entry that already exists by
        // compare-and-swap before its record is written: until then its
        // id has no record. Another create of the same value must not
        // drop it (only a tombstone proves an id dead).
        let f = Fixture::new(false);
        let keys = Keys::for_tenant(DEFAULT_TENANT);
        let entry = keys.index(Kind::User, IndexAttr::Email, "shared@example.com");
        let on_its_way = "0f0e0d0c-0000-4000-8000-000000000000";
        f.store
            .set(&entry, format!("[\"{on_its_way}\"]").as_bytes())
            .unwrap();
        let (s, b) = f.post_user(json!({"userName": "b",
            "emails": [{"value": "shared@example.com"}]}));
        assert_eq!(s, 201, "{b}");
        let ids: Vec<String> =
            serde_json::from_slice(&f.store.get(&entry).unwrap().unwrap()).unwrap();
        assert_eq!(ids, vec![on_its_way.to_string(), id(&b)]);
    }

    #[test]
    fn case_exact_names_are_nfc_with_a_legacy_key_for_other_forms() {
        let f = Fixture::new(true);
        let (s, u) = f.post_user(json!({"userName": "Cafe\u{301}"}));
        assert_eq!(s, 201, "{u}");
        let (s, _) = f.post_user(json!({"userName": "Caf\u{e9}"}));
        assert_eq!(s, 409);
        let (s, _) = f.post_user(json!({"userName": "caf\u{e9}"}));
        assert_eq!(s, 201);
        f.make_legacy(IndexAttr::Name, "Cafe\u{301}", true);
        assert_eq!(f.find("userName eq \"Cafe\u{301}\""), vec![id(&u)]);
        let (s, _) = f.post_user(json!({"userName": "Cafe\u{301}"}));
        assert_eq!(s, 409);
    }
}
