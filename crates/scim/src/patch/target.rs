//! Where an attribute lives (RFC 7644 §3.5.2, RFC 7643 §3.3): resolving a
//! path's `[urn:]attr[.sub]` to its definition and to the object holding it
//! — the document for common and core attributes, the extension's object
//! for extension attributes, qualified or not — reading its value there and
//! writing it back, and keeping `schemas` listing exactly the extensions
//! that have attributes. Names resolve case-insensitively (RFC 7643 §2.1) and
//! are written under their canonical spelling.

use super::{is_empty, put, take, Patcher};
use crate::error::truncate;
use crate::error::{Result, ScimError};
use crate::schema::{get_ci, key_ci, AttrType, Attribute};
use serde_json::{Map, Value};

/// A resolved attribute target.
pub(super) struct Target<'r> {
    /// `None`: top level (common and core attributes); else an extension URN.
    pub(super) container: Option<&'static str>,
    /// The schema keeps undeclared attributes.
    pub(super) open: bool,
    /// The attribute's name: canonical when declared, else as sent.
    pub(super) name: String,
    /// `None`: undeclared attribute of an open schema.
    pub(super) def: Option<&'r Attribute>,
    /// The sub-attribute addressed (`name.givenName`, `emails[…].value`).
    pub(super) sub: Option<Sub<'r>>,
}

/// A resolved sub-attribute of a [`Target`].
pub(super) struct Sub<'r> {
    /// The sub-attribute's name: canonical when declared, else as sent.
    pub(super) name: String,
    /// `None`: undeclared sub-attribute under an open schema.
    pub(super) def: Option<&'r Attribute>,
}

impl<'r> Patcher<'r> {
    /// Resolve `[urn:]attr[.sub]`; `None` for an unknown attribute of a declared schema.
    pub(super) fn resolve(
        &self,
        urn: Option<&str>,
        attr: &str,
        sub: Option<&str>,
    ) -> Result<Option<Target<'r>>> {
        let rt = self.rt;
        if attr.is_empty() {
            return Err(ScimError::invalid_path("empty attribute name"));
        }
        let (container, open, def) = match urn {
            Some(u) => {
                let schema = rt.schema_by_urn(u).ok_or_else(|| {
                    ScimError::invalid_path(format!(
                        "{:?}: not a schema of {}",
                        truncate(u, 200),
                        rt.name
                    ))
                })?;
                let core = std::ptr::eq(schema, &rt.schema);
                let def = if core {
                    rt.attribute(Some(u), attr).map(|(_, a)| a)
                } else {
                    schema.attribute(attr)
                };
                (if core { None } else { Some(schema.id) }, schema.open, def)
            }
            None => match rt.attribute(None, attr) {
                Some((_, a)) => (None, rt.schema.open, Some(a)),
                None => match rt
                    .extensions
                    .iter()
                    .find_map(|(s, _)| s.attribute(attr).map(|a| (s, a)))
                {
                    // An unqualified extension attribute (`employeeNumber`).
                    Some((s, a)) => (Some(s.id), s.open, Some(a)),
                    None => (None, rt.schema.open, None),
                },
            },
        };
        if def.is_none() && !open {
            return Ok(None);
        }
        let sub = match (sub, def) {
            (None, _) => None,
            (Some(s), Some(d)) => match d.sub(s) {
                Some(sd) => Some(Sub {
                    name: sd.name.to_string(),
                    def: Some(sd),
                }),
                None if open && d.ty == AttrType::Complex => Some(Sub {
                    name: s.to_string(),
                    def: None,
                }),
                None => return Ok(None),
            },
            (Some(s), None) => Some(Sub {
                name: s.to_string(),
                def: None,
            }),
        };
        Ok(Some(Target {
            container,
            open,
            name: def.map_or_else(|| attr.to_string(), |d| d.name.to_string()),
            def,
            sub,
        }))
    }

    /// The object holding a target's attributes: the document, or an
    /// extension's object (`None` when absent).
    fn container(&self, c: Option<&str>) -> Option<&Map<String, Value>> {
        match c {
            None => Some(&self.work),
            Some(urn) => get_ci(&self.work, urn).and_then(Value::as_object),
        }
    }

    /// The target attribute's current value (`Null` when unassigned).
    pub(super) fn current(&self, t: &Target) -> Value {
        self.container(t.container)
            .and_then(|m| get_ci(m, &t.name))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Write the attribute back; empty values and extension objects are removed.
    pub(super) fn store(&mut self, t: &Target, v: Value) {
        let map = match t.container {
            None => &mut self.work,
            Some(urn) => {
                let key = key_ci(&self.work, urn).unwrap_or(urn).to_string();
                let slot = self
                    .work
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                slot.as_object_mut().expect("object")
            }
        };
        if is_empty(&v) {
            take(map, &t.name);
        } else {
            put(map, &t.name, v);
        }
        if let Some(urn) = t.container {
            if self.container(Some(urn)).is_some_and(Map::is_empty) {
                take(&mut self.work, urn);
            }
        }
    }

    /// List each touched extension in `schemas` while it has attributes.
    pub(super) fn sync_schemas(&mut self) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.dedup();
        for urn in touched {
            let present = self.container(Some(urn)).is_some_and(|m| !m.is_empty());
            if !present && get_ci(&self.work, urn).is_some_and(is_empty) {
                take(&mut self.work, urn);
            }
            let schemas = match get_ci(&self.work, "schemas") {
                Some(Value::Array(a)) => a.clone(),
                _ if !present => continue,
                _ => vec![Value::String(self.rt.schema.id.to_string())],
            };
            let listed = schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
            let new: Vec<Value> = match (present, listed) {
                (true, false) => schemas
                    .into_iter()
                    .chain([Value::String(urn.to_string())])
                    .collect(),
                (false, true) => schemas
                    .into_iter()
                    .filter(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
                    .collect(),
                _ => continue,
            };
            put(&mut self.work, "schemas", Value::Array(new));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::apply;
    use crate::schema::{ENTERPRISE_USER, SAP_USER, USER};
    use crate::testutil::patching::*;
    use serde_json::json;

    #[test]
    fn path_to_a_simple_attribute() {
        let (d, out) =
            patch_user(json!([{"op": "replace", "path": "USERNAME", "value": "babs"}])).unwrap();
        assert!(out.changed);
        assert_eq!(d["userName"], "babs");
        assert!(
            d.as_object()
                .unwrap()
                .keys()
                .filter(|k| k.eq_ignore_ascii_case("username"))
                .count()
                == 1
        );
    }

    #[test]
    fn urn_prefixed_paths() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": format!("{ENTERPRISE_USER}:employeeNumber"), "value": "701984"},
            {"op": "replace", "path": format!("{ENTERPRISE_USER}:manager.value"), "value": "m1"},
            {"op": "replace", "path": format!("{USER}:displayName"), "value": "Babs"}
        ]))
        .unwrap();
        assert_eq!(
            d[ENTERPRISE_USER],
            json!({"employeeNumber": "701984", "manager": {"value": "m1"}})
        );
        assert_eq!(d["displayName"], "Babs");
        assert_eq!(d["schemas"], json!([USER, ENTERPRISE_USER]));
        // removing the last extension attribute drops the object and its schema
        let r = reg();
        let mut d2 = d.clone();
        apply(
            &r.user,
            &mut d2,
            &body(json!([
                {"op": "remove", "path": format!("{ENTERPRISE_USER}:employeeNumber")},
                {"op": "remove", "path": format!("{}:MANAGER", ENTERPRISE_USER.to_lowercase())}
            ])),
        )
        .unwrap();
        assert!(d2.get(ENTERPRISE_USER).is_none());
        assert_eq!(d2["schemas"], json!([USER]));
    }

    #[test]
    fn open_schemas_keep_undeclared_attributes() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": format!("{SAP_USER}:sourceSystem"), "value": "HR"},
            {"op": "add", "value": {SAP_USER: {"emails": [{"value": "x"}]}}}
        ]))
        .unwrap();
        assert_eq!(
            d[SAP_USER],
            json!({"sourceSystem": "HR", "emails": [{"value": "x"}]})
        );
        assert_eq!(d["schemas"], json!([USER, SAP_USER]));
    }
}
