//! Fixtures of the PATCH tests (RFC 7644 §3.5.2): a stored user and group,
//! and shorthands that patch them.

use crate::error::Result;
use crate::patch::{apply, Member, MemberOp, PatchOutcome, PATCH_OP};
use crate::schema::{GROUP, USER};

pub(crate) use super::reg;
use crate::ScimType;
use serde_json::{json, Value};

/// Barbara Jensen, as stored.
pub(crate) fn user() -> Value {
    json!({
        "schemas": [USER],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "b@work", "type": "work", "primary": true},
            {"value": "b@home", "type": "home"}
        ],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
    })
}

/// A PatchOp body with these operations.
pub(crate) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// [`user`] patched with `ops`: the document and the outcome.
pub(crate) fn patch_user(ops: Value) -> Result<(Value, PatchOutcome)> {
    let r = reg();
    let mut d = user();
    let out = apply(&r.user, &mut d, &body(ops))?;
    Ok((d, out))
}

/// The scimType of an expected error.
pub(crate) fn err_type(r: Result<(Value, PatchOutcome)>) -> Option<ScimType> {
    r.expect_err("expected an error").scim_type
}

/// A group without members, as stored.
pub(crate) fn group() -> Value {
    json!({"schemas": [GROUP], "id": "g1", "displayName": "Admins"})
}

/// [`group`] patched with `ops`: the document and the member ops.
pub(crate) fn patch_group(ops: Value) -> Result<(Value, Vec<MemberOp>)> {
    let r = reg();
    let mut d = group();
    let out = apply(&r.group, &mut d, &body(ops))?;
    Ok((d, out.member_ops))
}

/// Owned ids.
pub(crate) fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A member with only an id.
pub(crate) fn member(v: &str) -> Member {
    Member {
        value: v.into(),
        display: None,
        kind: None,
    }
}
