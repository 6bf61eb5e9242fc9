//! Dispatching an operation (RFC 7644 §3.5.2): what it addresses and where it
//! goes. Without a path (Okta's `{"op":"replace","value":{"active":false}}`,
//! Entra's no-path replace), `value`'s keys are taken one by one, each in any
//! form a path takes (`title`, `name.givenName`, URN-qualified, a value path)
//! or as an extension object keyed by its URN; `id`, `meta`, `schemas`,
//! unknown attributes and undeclared URNs among them are ignored. A path is a
//! schema URN (the whole extension) or an attribute path, whose target goes
//! to the member operations, is dropped (writeOnly), or is changed with or
//! without its value filter.

use super::request::{self, Operation};
use super::{take, Op, Patcher};
use crate::error::truncate;
use crate::error::{Result, ScimError};
use crate::filter::path::{parse_patch_path, PatchPath};
use crate::schema::{Mutability, Schema};
use serde_json::{Map, Value};

impl<'r> Patcher<'r> {
    /// Apply one element of `Operations`.
    pub(super) fn operation(&mut self, op: &Value) -> Result<()> {
        match request::operation(op)? {
            Operation::NoPath(op, value) => self.no_path(op, value),
            Operation::Path(op, path, value) => self.with_path(op, path, value),
        }
    }

    /// add/replace without path: `value` lists attributes.
    fn no_path(&mut self, op: Op, value: &Value) -> Result<()> {
        let obj = value.as_object().ok_or_else(|| {
            ScimError::invalid_value("without a path, value must be an object of attributes")
        })?;
        self.entries(op, None, obj)
    }

    /// The attributes of a no-path value (`scope` None) or of an extension
    /// object inside it.
    fn entries(
        &mut self,
        op: Op,
        scope: Option<&'r Schema>,
        obj: &Map<String, Value>,
    ) -> Result<()> {
        let rt = self.rt;
        for (k, v) in obj {
            if scope.is_none()
                && ["id", "meta", "schemas"]
                    .iter()
                    .any(|n| k.eq_ignore_ascii_case(n))
            {
                continue;
            }
            if scope.is_none() {
                if let Some(schema) = rt.schema_by_urn(k) {
                    self.schema_value(op, schema, v)?;
                    continue;
                }
                if is_urn(k) && rt.split_urn(k).0.is_none() {
                    continue; // an extension this server does not declare: ignored
                }
            }
            let full = match scope {
                Some(s) => format!("{}:{k}", s.id),
                None => k.clone(),
            };
            let pp = match parse_patch_path(rt, &full) {
                Ok(pp) => pp,
                // A key with a value filter must be right; any other key that
                // is no attribute path is an unknown attribute: ignored.
                Err(e) if k.contains('[') => return Err(e),
                Err(_) => continue,
            };
            self.apply_path(op, pp, Some(v))?;
        }
        Ok(())
    }

    /// add/replace of a whole schema's attributes (`path` or no-path key equal
    /// to a schema URN).
    fn schema_value(&mut self, op: Op, schema: &'r Schema, v: &Value) -> Result<()> {
        let core = std::ptr::eq(schema, &self.rt.schema);
        if v.is_null() {
            if op == Op::Replace && !core {
                self.remove_extension(schema.id);
            }
            return Ok(());
        }
        let obj = v
            .as_object()
            .ok_or_else(|| ScimError::invalid_value(format!("{} must be an object", schema.id)))?;
        self.entries(op, if core { None } else { Some(schema) }, obj)
    }

    /// Drop an extension's object (its URN leaves `schemas` at the end).
    fn remove_extension(&mut self, id: &'static str) {
        take(&mut self.work, id);
        self.touched.push(id);
    }

    /// An operation with a path: a schema URN (the whole extension) or an
    /// attribute path.
    fn with_path(&mut self, op: Op, path: &str, value: Option<&Value>) -> Result<()> {
        let rt = self.rt;
        if let Some(schema) = rt.schema_by_urn(path) {
            let core = std::ptr::eq(schema, &rt.schema);
            return match op {
                Op::Remove if core => {
                    Err(ScimError::invalid_path("the core schema cannot be removed"))
                }
                Op::Remove => {
                    self.remove_extension(schema.id);
                    Ok(())
                }
                _ => self.schema_value(op, schema, value.unwrap_or(&Value::Null)),
            };
        }
        if is_urn(path) && rt.split_urn(path).0.is_none() {
            return Err(ScimError::invalid_path(format!(
                "{:?}: not a schema of {}",
                truncate(path, 200),
                rt.name
            )));
        }
        let pp = parse_patch_path(rt, path)?;
        self.apply_path(op, pp, value)
    }

    /// An operation on a parsed attribute path: to the members, dropped
    /// (writeOnly), or applied to the target attribute's current value.
    fn apply_path(&mut self, op: Op, pp: PatchPath, value: Option<&Value>) -> Result<()> {
        let PatchPath { attr, filter, sub } = pp;
        if filter.is_some() && attr.sub.is_some() {
            return Err(ScimError::invalid_path(
                "a value filter follows the attribute, not a sub-attribute",
            ));
        }
        let sub = sub.or(attr.sub);
        let Some(t) = self.resolve(attr.urn.as_deref(), &attr.attr, sub.as_deref())? else {
            return Ok(()); // unknown attribute: ignored
        };
        if t.container.is_none()
            && t.def.is_some_and(|d| d.name == "members")
            && self.rt.schema.attribute("members").is_some()
        {
            return self.members(op, &t, filter, value);
        }
        if t.def.is_some_and(|d| d.mutability == Mutability::WriteOnly)
            || t.sub
                .as_ref()
                .and_then(|s| s.def)
                .is_some_and(|d| d.mutability == Mutability::WriteOnly)
        {
            return Ok(()); // accepted and discarded
        }
        if let Some(c) = t.container {
            self.touched.push(c);
        }
        let mut cur = self.current(&t);
        match filter {
            None => self.plain(op, &t, &mut cur, value)?,
            Some(f) => self.filtered(op, &t, &f, &mut cur, value)?,
        }
        self.store(&t, cur);
        Ok(())
    }
}

/// `urn:…`, case-insensitively.
fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

#[cfg(test)]
mod tests {
    use crate::patch::apply;
    use crate::schema::{ENTERPRISE_USER, SAP_USER, USER};
    use crate::testutil::patching::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn path_naming_an_extension_takes_an_object() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": ENTERPRISE_USER, "value": {"department": "R&D", "costCenter": "4130"}}
        ]))
        .unwrap();
        assert_eq!(
            d[ENTERPRISE_USER],
            json!({"department": "R&D", "costCenter": "4130"})
        );
        let r = reg();
        let mut d2 = d.clone();
        apply(
            &r.user,
            &mut d2,
            &body(json!([{"op": "remove", "path": ENTERPRISE_USER}])),
        )
        .unwrap();
        assert!(d2.get(ENTERPRISE_USER).is_none());
        assert_eq!(d2["schemas"], json!([USER]));
    }

    #[test]
    fn no_path_keys_in_any_form() {
        let (d, _) = patch_user(json!([{"op": "add", "value": {
            "DisplayName": "Babs",
            "name.middleName": "J",
            format!("{ENTERPRISE_USER}:employeeNumber"): "7",
            SAP_USER: {"userUuid": "uu", "extra": {"a": 1}},
            "emails[type eq \"home\"].display": "Home"
        }}]))
        .unwrap();
        assert_eq!(d["displayName"], "Babs");
        assert_eq!(d["name"]["middleName"], "J");
        assert_eq!(d["name"]["givenName"], "Barbara");
        assert_eq!(d[ENTERPRISE_USER], json!({"employeeNumber": "7"}));
        assert_eq!(d[SAP_USER], json!({"userUuid": "uu", "extra": {"a": 1}}));
        assert_eq!(d["emails"][1]["display"], "Home");
        assert_eq!(d["schemas"], json!([USER, ENTERPRISE_USER, SAP_USER]));
    }

    #[test]
    fn no_path_value_must_be_an_object() {
        assert_eq!(
            err_type(patch_user(json!([{"op": "add", "value": "x"}]))),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            err_type(patch_user(json!([{"op": "replace", "value": [1]}]))),
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn no_path_add_merges_and_replace_replaces() {
        let (d, _) = patch_user(json!([{"op": "add", "value": {
            "emails": [{"value": "c@x", "type": "other"}],
            "name": {"middleName": "J"}
        }}]))
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
        assert_eq!(
            d["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"})
        );
        let (d, _) = patch_user(json!([{"op": "replace", "value": {
            "emails": [{"value": "c@x", "type": "other"}],
            "name": {"givenName": "B"},
            "title": "Boss"
        }}]))
        .unwrap();
        assert_eq!(d["emails"], json!([{"value": "c@x", "type": "other"}]));
        // complex: the listed sub-attributes are replaced, the others kept (RFC 7644 §3.5.2.3)
        assert_eq!(d["name"], json!({"givenName": "B", "familyName": "Jensen"}));
        assert_eq!(d["title"], "Boss");
    }

    #[test]
    fn no_path_ignores_id_meta_schemas() {
        let (d, out) = patch_user(json!([{"op": "replace", "value": {
            "id": "other", "meta": {"created": "x"}, "schemas": ["urn:x"], "active": true
        }}]))
        .unwrap();
        assert!(!out.changed);
        assert_eq!(d, user());
    }

    #[test]
    fn password_is_accepted_and_discarded() {
        let (d, out) = patch_user(json!([
            {"op": "replace", "path": "password", "value": "secret"},
            {"op": "replace", "value": {"password": "secret2"}}
        ]))
        .unwrap();
        assert!(!out.changed);
        assert!(d.get("password").is_none());
    }

    #[test]
    fn unknown_attributes_are_ignored() {
        let (d, out) = patch_user(json!([
            {"op": "add", "path": "favouriteColour", "value": "blue"},
            {"op": "add", "path": "name.nickname", "value": "x"},
            {"op": "add", "path": format!("{ENTERPRISE_USER}:shoeSize"), "value": 42},
            {"op": "replace", "value": {"favouriteColour": "red", "urn:example:custom:1.0:User": {"a": 1}, "urn:example:custom:1.0:User:a": 1}}
        ]))
        .unwrap();
        assert!(!out.changed);
        assert_eq!(d, user());
    }

    #[test]
    fn undeclared_urn_path_is_invalid_path() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "urn:example:custom:1.0:User:a", "value": 1}])
            )),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "emails[type eq", "value": 1}])
            )),
            Some(ScimType::InvalidPath)
        );
    }
}
