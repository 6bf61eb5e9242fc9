//! PATCH (RFC 7644 §3.5.2): applying a `PatchOp` request body to a canonical
//! resource document, with the dialects the common identity providers speak
//! (Microsoft Entra ID, Okta, SAP Cloud Identity Services, AFC).
//!
//! Decisions (beyond the RFC):
//! * Body: `schemas` must list the PatchOp URN (case-insensitively; a lone
//!   string is tolerated) and `Operations` (any case) must be an array, else
//!   400 invalidSyntax. An empty array is a no-op. More than
//!   [`MAX_OPERATIONS`] operations → 400 tooMany.
//! * `op` is case-insensitive; missing → 400 invalidSyntax, unknown → 400
//!   invalidValue. Other keys of an operation (`name`, …) and of the body
//!   (`id`, …) are ignored. Errors name the failing operation (0-based).
//! * add/replace need `value` (missing → 400 invalidValue); `null` (or `[]`)
//!   means "unassigned" (RFC 7643 §2.5): replace with it removes, add with it
//!   does nothing.
//! * replace on a single-valued complex attribute merges the given
//!   sub-attributes, leaving the others unchanged (RFC 7644 §3.5.2.3); a `null`
//!   sub-attribute removes it. replace on a multi-valued attribute replaces the
//!   whole array; with a value filter it replaces the matched elements (the
//!   filter's `eq` terms are kept on the new element when the value omits
//!   them). A scalar value for a complex attribute with a `value`
//!   sub-attribute stands for `{"value": …}` (Entra's manager).
//! * An add/replace whose value filter matches nothing builds the element
//!   from the filter's `eq` terms (`emails[type eq "work"].value` →
//!   `{"type":"work","value":…}`); a filter with other operators → 400
//!   noTarget. A remove whose filter matches nothing is a no-op.
//! * remove without path → 400 noTarget. remove on a multi-valued attribute
//!   with a `value` removes only the elements equal to (or, for objects,
//!   containing) the given values.
//! * Setting a `primary: true` element sets `primary` false on the others
//!   (RFC 7644 §3.5.2).
//! * Members (resource types with a `members` attribute) never touch the
//!   document: they become [`MemberOp`]s in request order. Sub-attributes of
//!   members are immutable: a path such as `members[value eq "x"].display`
//!   → 400 mutability; add with a member filter → 400 invalidPath.
//! * Mutability is checked on the result: a readOnly attribute that differs
//!   (including removal) → 400 mutability; an immutable attribute that had a
//!   value and differs → 400 mutability; a required core attribute removed →
//!   400 mutability (RFC 7644 §3.5.2.2). A readOnly sub-attribute of a writable
//!   complex attribute inside a *value* is ignored (as on POST/PUT); set
//!   through an explicit path to a different value → 400 mutability. `id`,
//!   `meta`, `schemas` keys inside a no-path value are ignored.
//! * writeOnly attributes (`password`) are accepted and discarded: this server
//!   never stores passwords.
//! * Unknown attributes or sub-attributes of a declared schema are ignored,
//!   under an open schema kept as sent. An undeclared URN as path prefix → 400
//!   invalidPath; as a key of a no-path value it is ignored. Values are
//!   validated and normalised like on POST/PUT ([`crate::document::normalize_value`]).
//! * Touching an extension keeps `schemas` in step: listed while the
//!   extension object has attributes, dropped with it.
//!
//! Layout, one step of [`apply`] per file:
//! * `request`: the body's envelope and each operation's `op`/`path`/`value`,
//!   with the dialects' spellings tolerated (RFC 7644 §3.5.2);
//! * `dispatch`: what an operation addresses — the keys of a no-path value, a
//!   schema URN, or an attribute path — and where it goes from there;
//! * `target`: resolving `[urn:]attr[.sub]` to its definition and the object
//!   holding it, reading and writing it there, keeping `schemas` in step;
//! * `plain` and `filtered`: add/replace/remove on an attribute or
//!   sub-attribute, without and with a value filter (§3.5.2.1–3);
//! * `values`: normalising, merging and bounding the values written;
//! * `members`: operations on `members` turned into [`MemberOp`]s;
//! * `mutability`: the mutability rules, checked on the result (§3.5.2).

mod dispatch;
mod filtered;
mod members;
mod mutability;
mod plain;
mod request;
mod target;
mod values;

pub use members::parse_member;

use crate::error::{Result, ScimError};
use crate::filter::Filter;
use crate::schema::{key_ci, ResourceType};
use serde_json::{Map, Value};

/// The PatchOp message URN (RFC 7644 §3.5.2) a PATCH body's `schemas` lists.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one PATCH request; more → 400 tooMany.
pub const MAX_OPERATIONS: usize = 1000;

/// A member of a Group or Role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's id (`value`).
    pub value: String,
    /// `display` (or `displayName`, as some IdPs send it).
    pub display: Option<String>,
    /// `type` ("User", "Group").
    pub kind: Option<String>,
}

/// A change to the members of a Group or Role, applied by the storage layer.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these members (distinct ids, in request order).
    Add(Vec<Member>),
    /// Remove these member ids.
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Remove the members matching this filter (e.g. `display eq "x"`),
    /// evaluated by the storage layer against member elements.
    RemoveWhere(Filter),
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Member changes, in request order.
    pub member_ops: Vec<MemberOp>,
    /// False when the document is unchanged and there are no member ops.
    pub changed: bool,
}

/// An operation's `op` (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Apply a PatchOp request body to `doc` (all or nothing: on error `doc` is
/// unchanged). See the module documentation for the rules.
pub fn apply(rt: &ResourceType, doc: &mut Value, body: &Value) -> Result<PatchOutcome> {
    let ops = request::operations(body)?;
    let before = doc
        .as_object()
        .ok_or_else(|| ScimError::internal("the stored resource is not a JSON object"))?;
    let mut p = Patcher {
        rt,
        work: before.clone(),
        member_ops: Vec::new(),
        touched: Vec::new(),
    };
    for (i, op) in ops.iter().enumerate() {
        p.operation(op).map_err(|e| ScimError {
            detail: format!("operation {i}: {}", e.detail),
            ..e
        })?;
    }
    p.sync_schemas();
    mutability::check_mutability(rt, before, &p.work)?;
    let changed = p.work != *before || !p.member_ops.is_empty();
    let member_ops = p.member_ops;
    if changed {
        *doc = Value::Object(p.work);
    }
    Ok(PatchOutcome {
        member_ops,
        changed,
    })
}

/// The state of one [`apply`]: a working copy of the document and what the
/// operations produced so far. Its methods are spread over the submodules,
/// each file adding the step it implements.
struct Patcher<'r> {
    /// The resource type the document is of.
    rt: &'r ResourceType,
    /// The document being patched; written back only on success.
    work: Map<String, Value>,
    /// Member changes, in request order.
    member_ops: Vec<MemberOp>,
    /// Extensions whose object was written to.
    touched: Vec<&'static str>,
}

/// A value that stands for "unassigned" (RFC 7643 §2.5): null, `[]` or `{}`.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Insert under the existing key matching `name` case-insensitively, or `name`.
fn put(map: &mut Map<String, Value>, name: &str, v: Value) {
    let key = key_ci(map, name).unwrap_or(name).to_string();
    map.insert(key, v);
}

/// Remove the key matching `name` case-insensitively.
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(map, name)?.to_string();
    map.shift_remove(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn changed_is_false_for_a_no_op() {
        let (d, out) = patch_user(json!([
            {"op": "replace", "path": "userName", "value": "bjensen"},
            {"op": "add", "path": "emails", "value": [{"value": "b@home", "type": "home"}]},
            {"op": "remove", "path": "title"}
        ]))
        .unwrap();
        assert!(!out.changed);
        assert_eq!(d, user());
        // change then change back: unchanged
        let (_, out) = patch_user(json!([
            {"op": "replace", "path": "title", "value": "x"},
            {"op": "remove", "path": "title"}
        ]))
        .unwrap();
        assert!(!out.changed);
    }

    #[test]
    fn all_or_nothing() {
        let r = reg();
        let mut d = user();
        let before = serde_json::to_string(&d).unwrap();
        let e = apply(
            &r.user,
            &mut d,
            &body(json!([
                {"op": "replace", "path": "userName", "value": "changed"},
                {"op": "remove"}
            ])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        assert!(e.detail.starts_with("operation 1:"), "{}", e.detail);
        assert_eq!(serde_json::to_string(&d).unwrap(), before);
    }

    mod proptests {
        use super::super::*;
        use crate::schema::USER;
        use crate::testutil::patching::*;
        use proptest::prelude::*;
        use serde_json::json;

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(|n| json!(n)),
                prop::sample::select(vec![
                    "x",
                    "True",
                    "false",
                    "work",
                    "home",
                    "u1",
                    "",
                    "b@work",
                    "2024-01-01T00:00:00Z"
                ])
                .prop_map(|s| json!(s)),
                "[a-z@. ]{0,8}".prop_map(Value::String),
            ]
        }

        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "userName",
                "name",
                "givenName",
                "name.givenName",
                "emails",
                "value",
                "type",
                "primary",
                "display",
                "displayName",
                "active",
                "title",
                "id",
                "meta",
                "schemas",
                "members",
                "groups",
                "password",
                "x",
                "urn:example:x:1.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:sap:2.0:User",
                "emails[type eq \"work\"].value",
                "description",
            ])
            .prop_map(str::to_string)
        }

        fn json_value() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 0..4)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        /// Values an IdP would plausibly send, so that most operations succeed.
        fn sensible_value() -> impl Strategy<Value = Value> {
            prop::sample::select(vec![
                json!("x"),
                json!("False"),
                json!(true),
                json!({"value": "u1"}),
                json!([{"value": "u2", "display": "B"}]),
                json!([{"value": "c@x", "type": "work", "primary": true}]),
                json!({"givenName": "G", "familyName": null}),
                json!({"userName": "n", "name.givenName": "G", "active": "True"}),
                json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}}),
                json!({"members": [{"value": "u3"}], "displayName": "D"}),
                json!([]),
            ])
        }

        fn path() -> impl Strategy<Value = Option<String>> {
            prop::option::weighted(
                0.8,
                prop_oneof![
                    6 => key(),
                    3 => prop::sample::select(vec![
                        "emails[type eq \"work\"]",
                        "emails[type eq \"home\"].value",
                        "emails[value co \"b\" or primary eq true]",
                        "members[value eq \"u1\"]",
                        "members[display sw \"B\"]",
                        "members[value eq \"u1\"].display",
                        "name[givenName eq \"x\"]",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
                        "urn:bogus:1:x",
                        "emails[",
                        "a.b.c",
                        "meta.created",
                    ])
                    .prop_map(str::to_string),
                    1 => "[a-zA-Z.\\[\\]\" :]{0,12}",
                ],
            )
        }

        fn operation() -> impl Strategy<Value = Value> {
            (
                prop::sample::select(vec![
                    "add", "Add", "replace", "Replace", "remove", "REMOVE", "copy",
                ]),
                path(),
                prop::option::weighted(0.9, prop_oneof![3 => sensible_value(), 1 => json_value()]),
            )
                .prop_map(|(op, path, value)| {
                    let mut o = Map::new();
                    o.insert("op".into(), json!(op));
                    if let Some(p) = path {
                        o.insert("path".into(), json!(p));
                    }
                    if let Some(v) = value {
                        o.insert("value".into(), v);
                    }
                    Value::Object(o)
                })
        }

        fn document() -> impl Strategy<Value = Value> {
            prop::collection::vec((key(), json_value()), 0..6).prop_map(|kv| {
                let mut m: Map<String, Value> = kv.into_iter().collect();
                m.insert("schemas".into(), json!([USER]));
                Value::Object(m)
            })
        }

        proptest! {
            #[test]
            fn never_panics_and_errors_leave_the_document_alone(
                doc in prop_oneof![document(), Just(user())],
                ops in prop::collection::vec(operation(), 0..4),
                group in any::<bool>(),
            ) {
                let r = reg();
                let rt = if group { &r.group } else { &r.user };
                let mut d = doc.clone();
                let before = serde_json::to_string(&d).unwrap();
                match apply(rt, &mut d, &body(Value::Array(ops))) {
                    Err(e) => {
                        prop_assert_eq!(e.status, 400);
                        prop_assert_eq!(serde_json::to_string(&d).unwrap(), before);
                    }
                    Ok(out) => {
                        if !out.changed {
                            prop_assert_eq!(serde_json::to_string(&d).unwrap(), before);
                        }
                    }
                }
            }
        }
    }
}
