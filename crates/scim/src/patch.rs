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

use crate::document::{normalize_value, MAX_MULTI_VALUES};
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::path::{parse_patch_path, PatchPath};
use crate::schema::{get_ci, key_ci, AttrType, Attribute, Mutability, ResourceType, Schema};
use serde_json::{Map, Value};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one PATCH request; more → 400 tooMany.
pub const MAX_OPERATIONS: usize = 1000;

/// A member of a Group or Role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub value: String,
    pub display: Option<String>,
    /// `type` ("User", "Group").
    pub kind: Option<String>,
}

/// A change to the members of a Group or Role, applied by the storage layer.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    Add(Vec<Member>),
    /// Remove these member ids.
    Remove(Vec<String>),
    RemoveAll,
    /// Remove the members matching this filter (e.g. `display eq "x"`),
    /// evaluated by the storage layer against member elements.
    RemoveWhere(Filter),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Member changes, in request order.
    pub member_ops: Vec<MemberOp>,
    /// False when the document is unchanged and there are no member ops.
    pub changed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Parse one member object (`value` required; `display` or `displayName`;
/// `type`). A bare string is taken as the member id.
pub fn parse_member(v: &Value) -> Result<Member> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(Member {
            value: s.clone(),
            display: None,
            kind: None,
        }),
        Value::Object(o) => {
            let value = match get_ci(o, "value") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => {
                    return Err(ScimError::invalid_value(
                        "a member needs a non-empty string value",
                    ))
                }
            };
            let text = |k: &str| get_ci(o, k).and_then(Value::as_str).map(str::to_string);
            Ok(Member {
                value,
                display: text("display").or_else(|| text("displayName")),
                kind: text("type"),
            })
        }
        _ => Err(ScimError::invalid_value(
            "a member must be an object with a value",
        )),
    }
}

/// Apply a PatchOp request body to `doc` (all or nothing: on error `doc` is
/// unchanged). See the module documentation for the rules.
pub fn apply(rt: &ResourceType, doc: &mut Value, body: &Value) -> Result<PatchOutcome> {
    let ops = operations(body)?;
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
    check_mutability(rt, before, &p.work)?;
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

fn operations(body: &Value) -> Result<&Vec<Value>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
    let listed = match get_ci(obj, "schemas") {
        Some(Value::Array(a)) => a
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP))),
        Some(Value::String(s)) => s.eq_ignore_ascii_case(PATCH_OP),
        _ => false,
    };
    if !listed {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {PATCH_OP}"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many(format!(
            "{} operations; at most {MAX_OPERATIONS} are accepted in one PATCH",
            ops.len()
        )));
    }
    Ok(ops)
}

fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

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

fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(map, name)?.to_string();
    map.shift_remove(&key)
}

/// A resolved attribute target.
struct Target<'r> {
    /// `None`: top level (common and core attributes); else an extension URN.
    container: Option<&'static str>,
    /// The schema keeps undeclared attributes.
    open: bool,
    name: String,
    /// `None`: undeclared attribute of an open schema.
    def: Option<&'r Attribute>,
    sub: Option<Sub<'r>>,
}

struct Sub<'r> {
    name: String,
    def: Option<&'r Attribute>,
}

struct Patcher<'r> {
    rt: &'r ResourceType,
    work: Map<String, Value>,
    member_ops: Vec<MemberOp>,
    /// Extensions whose object was written to.
    touched: Vec<&'static str>,
}

impl<'r> Patcher<'r> {
    fn operation(&mut self, op: &Value) -> Result<()> {
        let o = op
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("an operation must be a JSON object"))?;
        let name = get_ci(o, "op")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_syntax("an operation needs an op"))?;
        let kind = match name.trim().to_ascii_lowercase().as_str() {
            "add" => Op::Add,
            "replace" => Op::Replace,
            "remove" => Op::Remove,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "unknown op {:?}: add, replace or remove",
                    truncate(name, 50)
                )))
            }
        };
        let path = match get_ci(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim()),
            Some(_) => return Err(ScimError::invalid_path("path must be a string")),
        };
        let value = get_ci(o, "value");
        if kind != Op::Remove && value.is_none() {
            return Err(ScimError::invalid_value(format!("{name} needs a value")));
        }
        match path {
            None if kind == Op::Remove => Err(ScimError::no_target("remove needs a path")),
            None => self.no_path(kind, value.unwrap_or(&Value::Null)),
            Some(path) => self.with_path(kind, path, value),
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

    fn remove_extension(&mut self, id: &'static str) {
        take(&mut self.work, id);
        self.touched.push(id);
    }

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

    /// Resolve `[urn:]attr[.sub]`; `None` for an unknown attribute of a declared schema.
    fn resolve(
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

    fn container(&self, c: Option<&str>) -> Option<&Map<String, Value>> {
        match c {
            None => Some(&self.work),
            Some(urn) => get_ci(&self.work, urn).and_then(Value::as_object),
        }
    }

    /// The target attribute's current value (`Null` when unassigned).
    fn current(&self, t: &Target) -> Value {
        self.container(t.container)
            .and_then(|m| get_ci(m, &t.name))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Write the attribute back; empty values and extension objects are removed.
    fn store(&mut self, t: &Target, v: Value) {
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

    /// Operation on an attribute or sub-attribute without value filter.
    fn plain(&self, op: Op, t: &Target, cur: &mut Value, value: Option<&Value>) -> Result<()> {
        let value = value.filter(|v| !v.is_null());
        match (&t.sub, op) {
            (Some(s), Op::Remove) => remove_sub(cur, &s.name),
            (Some(s), _) => {
                let Some(v) = value else {
                    if op == Op::Replace {
                        remove_sub(cur, &s.name);
                    }
                    return Ok(());
                };
                let Some(nv) = normalize(s.def, v)? else {
                    return Ok(());
                };
                match cur {
                    Value::Array(items) if !items.is_empty() => {
                        for item in items.iter_mut() {
                            if let Value::Object(o) = item {
                                put(o, &s.name, nv.clone());
                            }
                        }
                    }
                    Value::Object(o) => put(o, &s.name, nv),
                    _ => {
                        let el = Value::Object(Map::from_iter([(s.name.clone(), nv)]));
                        *cur = if t.def.is_some_and(|d| d.multi_valued) {
                            Value::Array(vec![el])
                        } else {
                            el
                        };
                    }
                }
            }
            (None, Op::Remove) => match (t.def, value) {
                (Some(d), Some(v)) if d.multi_valued && cur.is_array() => {
                    let gone = normalize(Some(d), v)?.unwrap_or(Value::Null);
                    let gone: Vec<Value> = match gone {
                        Value::Array(a) => a,
                        _ => Vec::new(),
                    };
                    if let Value::Array(items) = cur {
                        items.retain(|item| !gone.iter().any(|g| contains(item, g)));
                    }
                }
                _ => *cur = Value::Null,
            },
            (None, _) => {
                let Some(v) = value.filter(|v| !is_empty(v) || v.is_object()) else {
                    if op == Op::Replace {
                        *cur = Value::Null;
                    }
                    return Ok(());
                };
                match t.def {
                    Some(d) if d.multi_valued => {
                        let new = match normalize(Some(d), v)? {
                            Some(Value::Array(a)) => a,
                            _ => Vec::new(),
                        };
                        if op == Op::Replace || !cur.is_array() {
                            *cur = Value::Array(Vec::new());
                        }
                        let Value::Array(items) = cur else {
                            unreachable!("set above")
                        };
                        let mut fresh = Vec::new();
                        // Bound the work before the quadratic duplicate check.
                        if new.len() > MAX_MULTI_VALUES {
                            check_len(d, &new)?;
                        }
                        for n in new {
                            if !items.contains(&n) {
                                fresh.push(items.len());
                                items.push(n);
                            }
                        }
                        if op == Op::Add {
                            fix_primary(d, items, &fresh);
                        }
                        check_len(d, items)?;
                    }
                    Some(d) if d.ty == AttrType::Complex => {
                        let obj = complex_object(d, v)?;
                        if !cur.is_object() {
                            *cur = Value::Object(Map::new());
                        }
                        let Value::Object(o) = cur else {
                            unreachable!("set above")
                        };
                        merge(d, t.open, o, &obj, op == Op::Replace)?;
                    }
                    Some(d) => {
                        *cur = normalize(Some(d), v)?.unwrap_or(Value::Null);
                    }
                    None => {
                        // Undeclared attribute of an open schema: as sent.
                        match (op, &mut *cur, v) {
                            (Op::Add, Value::Array(items), Value::Array(new)) => {
                                for n in new {
                                    if !items.contains(n) {
                                        items.push(n.clone());
                                    }
                                }
                            }
                            (Op::Add, Value::Object(o), Value::Object(new)) => {
                                for (k, v) in new {
                                    put(o, k, v.clone());
                                }
                            }
                            _ => *cur = v.clone(),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Operation on the elements of a multi-valued attribute matched by a filter.
    fn filtered(
        &self,
        op: Op,
        t: &Target,
        f: &Filter,
        cur: &mut Value,
        value: Option<&Value>,
    ) -> Result<()> {
        let d = t
            .def
            .filter(|d| d.multi_valued && d.ty == AttrType::Complex)
            .ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "{}: a value filter needs a multi-valued complex attribute",
                    t.name
                ))
            })?;
        // What add/replace writes: the sub-attribute's value, or the
        // element's sub-attributes. `None`: remove the target.
        let new: Option<Value> = match (op, value.filter(|v| !v.is_null())) {
            (Op::Remove, _) | (_, None) => None,
            (_, Some(v)) => match &t.sub {
                Some(s) => normalize(s.def, v)?,
                None => {
                    let mut el = Map::new();
                    merge(d, t.open, &mut el, &complex_object(d, v)?, false)?;
                    Some(Value::Object(el))
                }
            },
        };
        if op == Op::Add && new.is_none() {
            return Ok(());
        }
        let mut items = match std::mem::take(cur) {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let matched: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].is_object() && f.matches_element(self.rt, d, &items[i]))
            .collect();
        let Some(new) = new else {
            // remove (or replace with null): the matched elements or their sub-attribute
            match &t.sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !matched.contains(&(i - 1))
                    });
                }
                Some(s) => {
                    for &i in &matched {
                        remove_sub(&mut items[i], &s.name);
                    }
                    items.retain(|v| !is_empty(v));
                }
            }
            *cur = Value::Array(items);
            return Ok(());
        };
        let terms = eq_terms(f);
        // The filter's eq terms as sub-attributes, under their canonical names.
        let with_terms = |el: &mut Map<String, Value>, terms: &[(String, Value)]| {
            for (k, lit) in terms {
                if get_ci(el, k).is_none() {
                    put(el, d.sub(k).map_or(k.as_str(), |s| s.name), lit.clone());
                }
            }
        };
        let mut fresh = Vec::new();
        if matched.is_empty() {
            let Some(terms) = terms else {
                *cur = Value::Array(items);
                return Err(ScimError::no_target(format!(
                    "no {} value matches the filter",
                    t.name
                )));
            };
            let mut el = match (&t.sub, new) {
                (Some(s), nv) => Map::from_iter([(s.name.clone(), nv)]),
                (None, Value::Object(o)) => o,
                (None, _) => Map::new(),
            };
            with_terms(&mut el, &terms);
            if let Some(Value::Array(mut a)) = normalize(Some(d), &Value::Object(el))? {
                if let Some(el) = a.pop() {
                    fresh.push(items.len());
                    items.push(el);
                }
            }
        } else {
            for &i in &matched {
                let Value::Object(o) = &mut items[i] else {
                    continue;
                };
                match (&t.sub, &new, op) {
                    (Some(s), nv, _) => put(o, &s.name, nv.clone()),
                    (None, Value::Object(n), Op::Add) => {
                        for (k, v) in n {
                            put(o, k, v.clone());
                        }
                    }
                    (None, Value::Object(n), _) => {
                        let mut el = n.clone();
                        with_terms(&mut el, terms.as_deref().unwrap_or_default());
                        *o = el;
                    }
                    (None, _, _) => {}
                }
                fresh.push(i);
            }
        }
        fix_primary(d, &mut items, &fresh);
        items.retain(|v| !is_empty(v));
        check_len(d, &items)?;
        *cur = Value::Array(items);
        Ok(())
    }

    /// Operations on `members`: member ops, never document changes.
    fn members(
        &mut self,
        op: Op,
        t: &Target,
        filter: Option<Filter>,
        value: Option<&Value>,
    ) -> Result<()> {
        if t.sub.is_some() {
            return Err(ScimError::mutability(
                "members' sub-attributes are immutable: add or remove members instead",
            ));
        }
        let value = value.filter(|v| !v.is_null());
        match (op, filter) {
            (Op::Add, Some(_)) => {
                return Err(ScimError::invalid_path(
                    "add takes no value filter on members",
                ))
            }
            (Op::Add, None) => self.add_members(value)?,
            (Op::Replace, f) => {
                let op = match f {
                    None => MemberOp::RemoveAll,
                    Some(f) => member_filter_op(f),
                };
                self.member_ops.push(op);
                self.add_members(value)?;
            }
            (Op::Remove, Some(f)) => self.member_ops.push(member_filter_op(f)),
            (Op::Remove, None) => match value {
                None => self.member_ops.push(MemberOp::RemoveAll),
                Some(v) => {
                    let mut ids: Vec<String> = Vec::new();
                    let mut seen = std::collections::HashSet::new();
                    for m in one_or_many(v) {
                        let id = parse_member(m)?.value;
                        if seen.insert(id.clone()) {
                            ids.push(id);
                        }
                    }
                    if !ids.is_empty() {
                        self.member_ops.push(MemberOp::Remove(ids));
                    }
                }
            },
        }
        Ok(())
    }

    fn add_members(&mut self, value: Option<&Value>) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        let mut list: Vec<Member> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in one_or_many(v) {
            let m = parse_member(m)?;
            if seen.insert(m.value.clone()) {
                list.push(m);
            }
        }
        if !list.is_empty() {
            self.member_ops.push(MemberOp::Add(list));
        }
        Ok(())
    }

    /// List each touched extension in `schemas` while it has attributes.
    fn sync_schemas(&mut self) {
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

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// Normalise a value of `def` (as on POST/PUT); an undeclared attribute's
/// value is kept as sent.
fn normalize(def: Option<&Attribute>, v: &Value) -> Result<Option<Value>> {
    match (def, v) {
        // `["x"]` where one value belongs: tolerated.
        (Some(d), Value::Array(a)) if !d.multi_valued && a.len() == 1 => {
            return normalize(def, &a[0])
        }
        _ => {}
    }
    match def {
        None => Ok((!v.is_null()).then(|| v.clone())),
        Some(d) if d.ty == AttrType::Complex && !d.multi_valued => {
            let obj = complex_object(d, v)?;
            let mut out = Map::new();
            merge(d, false, &mut out, &obj, false)?;
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Some(d) => normalize_value(d, v),
    }
}

/// The object a complex value stands for: a scalar means `{"value": …}`.
fn complex_object(d: &Attribute, v: &Value) -> Result<Map<String, Value>> {
    match v {
        Value::Object(o) => Ok(o.clone()),
        Value::Array(a) if a.len() == 1 => complex_object(d, &a[0]),
        Value::Array(_) => Err(ScimError::invalid_value(format!(
            "{}: a single value is expected here",
            d.name
        ))),
        scalar if d.sub("value").is_some() => {
            Ok(Map::from_iter([("value".to_string(), scalar.clone())]))
        }
        _ => Err(ScimError::invalid_value(format!(
            "{} must be an object",
            d.name
        ))),
    }
}

/// Merge sub-attributes of a complex value into `into`. readOnly
/// sub-attributes of a writable attribute are ignored (as on POST/PUT);
/// with `nulls_remove`, a `null` sub-attribute removes it.
fn merge(
    d: &Attribute,
    open: bool,
    into: &mut Map<String, Value>,
    from: &Map<String, Value>,
    nulls_remove: bool,
) -> Result<()> {
    for (k, v) in from {
        let Some(sd) = d.sub(k) else {
            if open && !v.is_null() {
                put(into, k, v.clone());
            }
            continue;
        };
        if sd.mutability == Mutability::ReadOnly && d.mutability != Mutability::ReadOnly {
            continue;
        }
        match normalize_value(sd, v)? {
            Some(nv) => put(into, sd.name, nv),
            None if nulls_remove => {
                take(into, sd.name);
            }
            None => {}
        }
    }
    Ok(())
}

fn remove_sub(cur: &mut Value, name: &str) {
    match cur {
        Value::Object(o) => {
            take(o, name);
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(o) = item {
                    take(o, name);
                }
            }
            items.retain(|v| !is_empty(v));
        }
        _ => {}
    }
}

/// `item` equals `given`, or `given` is an object whose every sub-attribute
/// `item` carries with the same value.
fn contains(item: &Value, given: &Value) -> bool {
    match (item, given) {
        (Value::Object(i), Value::Object(g)) => {
            !g.is_empty() && g.iter().all(|(k, v)| get_ci(i, k) == Some(v))
        }
        _ => item == given,
    }
}

/// When a fresh element is `primary`, no other is (RFC 7644 §3.5.2).
fn fix_primary(d: &Attribute, items: &mut [Value], fresh: &[usize]) {
    if d.sub("primary").is_none() {
        return;
    }
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    };
    if !fresh.iter().any(|&i| is_primary(&items[i])) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !fresh.contains(&i) && is_primary(item) {
            if let Value::Object(o) = item {
                put(o, "primary", Value::Bool(false));
            }
        }
    }
}

fn check_len(d: &Attribute, items: &[Value]) -> Result<()> {
    if items.len() > MAX_MULTI_VALUES {
        return Err(ScimError::invalid_value(format!(
            "{}: more than {MAX_MULTI_VALUES} values",
            d.name
        )));
    }
    Ok(())
}

/// The `eq` terms of a filter made only of `sub eq literal` joined by `and`
/// (from which a missing element can be built); `None` otherwise.
fn eq_terms(f: &Filter) -> Option<Vec<(String, Value)>> {
    let mut out = Vec::new();
    collect_eq(f, &mut out).then_some(out)
}

fn collect_eq(f: &Filter, out: &mut Vec<(String, Value)>) -> bool {
    match f {
        Filter::And(fs) => fs.iter().all(|f| collect_eq(f, out)),
        Filter::Compare(p, CompareOp::Eq, lit) if p.urn.is_none() && p.sub.is_none() => {
            let v = match lit {
                CompValue::Null => return false,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            out.push((p.attr.clone(), v));
            true
        }
        _ => false,
    }
}

/// `value eq "id"` (or an `or` of them) → Remove(ids); other filters → RemoveWhere.
fn member_filter_op(f: Filter) -> MemberOp {
    fn ids(f: &Filter, out: &mut Vec<String>) -> bool {
        match f {
            Filter::Or(fs) => fs.iter().all(|f| ids(f, out)),
            Filter::Compare(p, CompareOp::Eq, CompValue::String(id))
                if p.urn.is_none() && p.sub.is_none() && p.attr.eq_ignore_ascii_case("value") =>
            {
                if !out.contains(id) {
                    out.push(id.clone());
                }
                true
            }
            _ => false,
        }
    }
    let mut out = Vec::new();
    if ids(&f, &mut out) {
        MemberOp::Remove(out)
    } else {
        MemberOp::RemoveWhere(f)
    }
}

/// The mutability rules, checked on the whole result.
fn check_mutability(
    rt: &ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<()> {
    let common: Vec<&Attribute> = crate::schema::common_attributes().iter().collect();
    let mut groups: Vec<(Option<&str>, Vec<&Attribute>, bool)> = vec![
        (None, common, false),
        (None, rt.schema.attributes.iter().collect(), true),
    ];
    for (s, _) in &rt.extensions {
        groups.push((Some(s.id), s.attributes.iter().collect(), true));
    }
    let member_attr = rt.schema.attribute("members").is_some();
    for (container, attrs, check_required) in groups {
        fn pick<'m>(m: &'m Map<String, Value>, c: Option<&str>) -> Option<&'m Map<String, Value>> {
            match c {
                None => Some(m),
                Some(urn) => get_ci(m, urn).and_then(Value::as_object),
            }
        }
        fn attr_of<'m>(m: Option<&'m Map<String, Value>>, name: &str) -> Option<&'m Value> {
            m.and_then(|m| get_ci(m, name)).filter(|v| !is_empty(v))
        }
        let (b, a) = (pick(before, container), pick(after, container));
        for d in attrs {
            if member_attr && container.is_none() && d.name == "members" {
                continue;
            }
            let (bv, av) = (attr_of(b, d.name), attr_of(a, d.name));
            match d.mutability {
                Mutability::ReadOnly if bv != av => {
                    return Err(ScimError::mutability(format!("{} is readOnly", d.name)))
                }
                Mutability::Immutable if bv.is_some() && bv != av => {
                    return Err(ScimError::mutability(format!(
                        "{} is immutable: it can be set once",
                        d.name
                    )))
                }
                _ => {}
            }
            if check_required && d.required && bv.is_some() && av.is_none() {
                return Err(ScimError::mutability(format!(
                    "{} is required and cannot be removed",
                    d.name
                )));
            }
            if d.ty == AttrType::Complex && !d.multi_valued {
                if let Some(Value::Object(ao)) = av {
                    for sd in &d.sub_attributes {
                        let sa = get_ci(ao, sd.name);
                        let sb = bv
                            .and_then(Value::as_object)
                            .and_then(|o| get_ci(o, sd.name));
                        let changed = sa.is_some() && sa != sb;
                        match sd.mutability {
                            Mutability::ReadOnly if changed => {
                                return Err(ScimError::mutability(format!(
                                    "{}.{} is readOnly",
                                    d.name, sd.name
                                )))
                            }
                            Mutability::Immutable if changed && sb.is_some() => {
                                return Err(ScimError::mutability(format!(
                                    "{}.{} is immutable",
                                    d.name, sd.name
                                )))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Registry, SchemaOptions, ENTERPRISE_USER, GROUP, ROLE, SAP_USER, USER};
    use crate::ScimType;
    use serde_json::json;

    fn reg() -> Registry {
        Registry::new(&SchemaOptions::default())
    }

    fn user() -> Value {
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

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    fn patch_user(ops: Value) -> Result<(Value, PatchOutcome)> {
        let r = reg();
        let mut d = user();
        let out = apply(&r.user, &mut d, &body(ops))?;
        Ok((d, out))
    }

    fn err_type(r: Result<(Value, PatchOutcome)>) -> Option<ScimType> {
        r.expect_err("expected an error").scim_type
    }

    fn group() -> Value {
        json!({"schemas": [GROUP], "id": "g1", "displayName": "Admins"})
    }

    fn patch_group(ops: Value) -> Result<(Value, Vec<MemberOp>)> {
        let r = reg();
        let mut d = group();
        let out = apply(&r.group, &mut d, &body(ops))?;
        Ok((d, out.member_ops))
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn member(v: &str) -> Member {
        Member {
            value: v.into(),
            display: None,
            kind: None,
        }
    }

    // ---- body ----

    #[test]
    fn body_needs_patch_op_schema() {
        let r = reg();
        let mut d = user();
        let ops = json!([{"op": "add", "path": "title", "value": "x"}]);
        for bad in [
            json!({"Operations": ops}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": ops}),
            json!([]),
        ] {
            let e = apply(&r.user, &mut d, &bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        }
        let ok = json!({"schemas": [PATCH_OP.to_uppercase()], "Operations": ops});
        assert!(apply(&r.user, &mut d, &ok).unwrap().changed);
        assert_eq!(d["title"], "x");
    }

    #[test]
    fn operations_key_is_case_insensitive_and_must_be_an_array() {
        let r = reg();
        let mut d = user();
        let b = json!({"schemas": [PATCH_OP], "operations": [{"op": "add", "path": "title", "value": "x"}]});
        assert!(apply(&r.user, &mut d, &b).unwrap().changed);
        let b = json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}});
        let e = apply(&r.user, &mut d, &b).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let b = json!({"schemas": [PATCH_OP]});
        assert!(apply(&r.user, &mut d, &b).is_err());
        // empty: a no-op
        let out = apply(&r.user, &mut d, &body(json!([]))).unwrap();
        assert!(!out.changed);
    }

    #[test]
    fn too_many_operations() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
            .collect();
        assert_eq!(
            err_type(patch_user(Value::Array(ops))),
            Some(ScimType::TooMany)
        );
        let ops: Vec<Value> = (0..MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
            .collect();
        assert!(patch_user(Value::Array(ops)).is_ok());
    }

    #[test]
    fn op_names_are_case_insensitive() {
        let (d, _) = patch_user(json!([
            {"op": "Add", "path": "title", "value": "t"},
            {"op": "Replace", "path": "nickName", "value": "n"},
            {"op": "REMOVE", "path": "active"}
        ]))
        .unwrap();
        assert_eq!(
            (d["title"].as_str(), d["nickName"].as_str()),
            (Some("t"), Some("n"))
        );
        assert!(d.get("active").is_none());
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "merge", "path": "title", "value": "t"}])
            )),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            err_type(patch_user(json!([{"path": "title", "value": "t"}]))),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            err_type(patch_user(json!(["add"]))),
            Some(ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn extra_keys_are_ignored() {
        let r = reg();
        let mut d = user();
        let b = json!({
            "schemas": [PATCH_OP],
            "id": "u1",
            "Operations": [{"name": "addTitle", "op": "add", "path": "title", "value": "x"}]
        });
        assert!(apply(&r.user, &mut d, &b).unwrap().changed);
        assert_eq!(d["title"], "x");
    }

    #[test]
    fn add_and_replace_need_a_value() {
        assert_eq!(
            err_type(patch_user(json!([{"op": "add", "path": "title"}]))),
            Some(ScimType::InvalidValue)
        );
        // null means unassigned: replace removes, add does nothing
        let (d, out) = patch_user(json!([{"op": "add", "path": "title", "value": null}])).unwrap();
        assert!(!out.changed && d.get("title").is_none());
        let (d, _) =
            patch_user(json!([{"op": "replace", "path": "name.givenName", "value": null}]))
                .unwrap();
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
    }

    // ---- paths ----

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
    fn path_to_a_sub_attribute() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "add", "path": "name.middleName", "value": "J"}
        ]))
        .unwrap();
        assert_eq!(
            d["name"],
            json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"})
        );
        // creates the complex attribute when missing
        let r = reg();
        let mut d = json!({"schemas": [USER], "id": "u", "userName": "x"});
        apply(
            &r.user,
            &mut d,
            &body(json!([{"op": "add", "path": "name.familyName", "value": "F"}])),
        )
        .unwrap();
        assert_eq!(d["name"], json!({"familyName": "F"}));
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
    fn entra_manager_as_a_bare_id() {
        let (d, _) = patch_user(json!([
            {"op": "Add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "boss-id"}
        ]))
        .unwrap();
        assert_eq!(d[ENTERPRISE_USER]["manager"], json!({"value": "boss-id"}));
    }

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
    fn value_path_replaces_matched_sub_attribute() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work"}
        ]))
        .unwrap();
        assert_eq!(
            d["emails"][0],
            json!({"value": "new@work", "type": "work", "primary": true})
        );
        assert_eq!(d["emails"][1]["value"], "b@home");
    }

    #[test]
    fn value_path_replaces_matched_elements() {
        let (d, _) = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@home"}}
        ]))
        .unwrap();
        // the filter's eq terms stay on the replaced element
        assert_eq!(d["emails"][1], json!({"value": "h@home", "type": "home"}));
        // add merges into matched elements
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}
        ]))
        .unwrap();
        assert_eq!(
            d["emails"][1],
            json!({"value": "b@home", "type": "home", "display": "Home"})
        );
    }

    #[test]
    fn value_path_without_match_builds_the_element_from_eq_terms() {
        let r = reg();
        for op in ["add", "replace", "Replace"] {
            let mut d = json!({"schemas": [USER], "id": "u", "userName": "x"});
            apply(
                &r.user,
                &mut d,
                &body(
                    json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
                ),
            )
            .unwrap();
            assert_eq!(
                d["emails"],
                json!([{"type": "work", "value": "w@x"}]),
                "{op}"
            );
        }
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value", "value": "+1"}
        ]))
        .unwrap();
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "primary": true, "value": "+1"}])
        );
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "addresses[type eq \"work\"]", "value": {"locality": "Paris"}}
        ]))
        .unwrap();
        assert_eq!(
            d["addresses"],
            json!([{"type": "work", "locality": "Paris"}])
        );
    }

    #[test]
    fn value_path_without_match_and_no_eq_terms_is_no_target() {
        assert_eq!(
            err_type(patch_user(json!([
                {"op": "replace", "path": "emails[value co \"nobody\"].display", "value": "x"}
            ]))),
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            err_type(patch_user(json!([
                {"op": "replace", "path": "emails[type eq \"other\" or type eq \"x\"]", "value": {"value": "v"}}
            ]))),
            Some(ScimType::NoTarget)
        );
    }

    #[test]
    fn null_elements_are_dropped_when_a_filter_writes() {
        // found by the property test: indices must survive the clean-up
        let r = reg();
        let mut d = json!({"schemas": [USER], "emails": [null, {"value": "a", "type": "home", "primary": true}]});
        apply(
            &r.user,
            &mut d,
            &body(json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"value": "w", "primary": true}}])),
        )
        .unwrap();
        assert_eq!(
            d["emails"],
            json!([{"value": "a", "type": "home", "primary": false}, {"type": "work", "value": "w", "primary": true}])
        );
    }

    #[test]
    fn value_filter_on_a_single_valued_attribute_is_invalid_path() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}])
            )),
            Some(ScimType::InvalidPath)
        );
    }

    #[test]
    fn primary_moves_to_the_new_element() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "c@x", "type": "other", "primary": true}]}
        ]))
        .unwrap();
        assert_eq!(d["emails"][0]["primary"], false);
        assert_eq!(d["emails"][2]["primary"], true);
    }

    // ---- no path ----

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

    // ---- add semantics ----

    #[test]
    fn add_to_multi_valued_appends_without_duplicates() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "emails", "value": [
                {"value": "b@work", "type": "work", "primary": true},
                {"value": "c@x", "type": "other"},
                {"value": "c@x", "type": "other"}
            ]}
        ]))
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
        // a lone object where an array belongs
        let (d, _) =
            patch_user(json!([{"op": "add", "path": "emails", "value": {"value": "d@x"}}]))
                .unwrap();
        assert_eq!(d["emails"][2], json!({"value": "d@x"}));
    }

    #[test]
    fn add_to_single_valued_sets_and_complex_merges() {
        let (d, _) = patch_user(json!([
            {"op": "add", "path": "userName", "value": "new"},
            {"op": "add", "path": "name", "value": {"givenName": "B", "nope": 1}}
        ]))
        .unwrap();
        assert_eq!(d["userName"], "new");
        assert_eq!(d["name"], json!({"givenName": "B", "familyName": "Jensen"}));
    }

    #[test]
    fn values_are_validated() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "active", "value": "maybe"}])
            )),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "add", "path": "name", "value": "B"}])
            )),
            Some(ScimType::InvalidValue)
        );
    }

    // ---- remove ----

    #[test]
    fn remove_needs_a_path() {
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "remove", "value": {"title": "x"}}])
            )),
            Some(ScimType::NoTarget)
        );
    }

    #[test]
    fn remove_attribute_sub_attribute_and_elements() {
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "active"}
        ]))
        .unwrap();
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            d["emails"],
            json!([{"value": "b@work", "type": "work", "primary": true}])
        );
        assert!(d.get("active").is_none());
        // removing the last sub-attribute / element removes the attribute
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "name.familyName"},
            {"op": "remove", "path": "emails[type eq \"home\" or type eq \"work\"]"}
        ]))
        .unwrap();
        assert!(d.get("name").is_none() && d.get("emails").is_none());
        // a filter matching nothing: no-op
        let (_, out) =
            patch_user(json!([{"op": "remove", "path": "emails[type eq \"other\"]"}])).unwrap();
        assert!(!out.changed);
        // sub-attribute of matched elements
        let (d, _) =
            patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]))
                .unwrap();
        assert_eq!(d["emails"][0], json!({"value": "b@work", "type": "work"}));
    }

    #[test]
    fn remove_with_value_removes_only_those_elements() {
        let (d, _) = patch_user(json!([
            {"op": "remove", "path": "emails", "value": [{"value": "b@home"}]}
        ]))
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
        assert_eq!(d["emails"][0]["value"], "b@work");
    }

    // ---- members ----

    #[test]
    fn member_add_is_a_member_op() {
        let (d, ops) = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1", "display": "A"}, {"value": "u2", "displayName": "B", "type": "User"}, {"value": "u1"}]}
        ]))
        .unwrap();
        assert_eq!(d, group());
        let MemberOp::Add(list) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            Member {
                value: "u1".into(),
                display: Some("A".into()),
                kind: None
            }
        );
        assert_eq!(
            list[1],
            Member {
                value: "u2".into(),
                display: Some("B".into()),
                kind: Some("User".into())
            }
        );
        // no-path add (Okta) and changed flag
        let r = reg();
        let mut g = group();
        let out = apply(
            &r.group,
            &mut g,
            &body(json!([{"op": "add", "value": {"members": [{"value": "u3"}]}}])),
        )
        .unwrap();
        assert!(out.changed);
        assert_eq!(out.member_ops, vec![MemberOp::Add(vec![member("u3")])]);
        assert_eq!(g, group());
    }

    #[test]
    fn member_remove_with_value_removes_only_those() {
        let (_, ops) = patch_group(json!([
            {"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}
        ]))
        .unwrap();
        assert_eq!(ops, vec![MemberOp::Remove(ids(&["u1", "u2"]))]);
    }

    #[test]
    fn member_remove_without_value_removes_all() {
        let (_, ops) = patch_group(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert_eq!(ops, vec![MemberOp::RemoveAll]);
    }

    #[test]
    fn member_remove_by_filter() {
        let (_, ops) = patch_group(json!([
            {"op": "remove", "path": "members[value eq \"2819c223\"]"},
            {"op": "remove", "path": "members[display eq \"Babs\"]"}
        ]))
        .unwrap();
        assert_eq!(ops[0], MemberOp::Remove(ids(&["2819c223"])));
        let MemberOp::RemoveWhere(f) = &ops[1] else {
            panic!("{ops:?}")
        };
        let r = reg();
        let members = r.group.attribute(None, "members").unwrap().1;
        assert!(f.matches_element(&r.group, members, &json!({"value": "x", "display": "Babs"})));
    }

    #[test]
    fn member_replace_is_remove_all_then_add() {
        let (_, ops) = patch_group(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u9"}]}
        ]))
        .unwrap();
        assert_eq!(
            ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u9")])]
        );
        let (d, ops) = patch_group(json!([
            {"op": "replace", "value": {"displayName": "Ops", "members": [{"value": "u8"}]}}
        ]))
        .unwrap();
        assert_eq!(d["displayName"], "Ops");
        assert_eq!(
            ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u8")])]
        );
        // replace with an empty list empties the group
        let (_, ops) =
            patch_group(json!([{"op": "replace", "path": "members", "value": []}])).unwrap();
        assert_eq!(ops, vec![MemberOp::RemoveAll]);
    }

    #[test]
    fn member_sub_attributes_are_immutable() {
        let r = patch_group(json!([
            {"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}
        ]));
        assert_eq!(r.unwrap_err().scim_type, Some(ScimType::Mutability));
        let r = patch_group(
            json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"value": "u1"}}]),
        );
        assert_eq!(r.unwrap_err().scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn member_ops_keep_request_order() {
        let (_, ops) = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members[value eq \"b\"]"},
            {"op": "add", "path": "members", "value": [{"value": "c"}]}
        ]))
        .unwrap();
        assert_eq!(
            ops,
            vec![
                MemberOp::Add(vec![member("a")]),
                MemberOp::Remove(ids(&["b"])),
                MemberOp::Add(vec![member("c")])
            ]
        );
    }

    #[test]
    fn parse_member_rules() {
        assert_eq!(
            parse_member(&json!({"VALUE": "x", "displayName": "D", "Type": "User", "$ref": "r"}))
                .unwrap(),
            Member {
                value: "x".into(),
                display: Some("D".into()),
                kind: Some("User".into())
            }
        );
        assert_eq!(
            parse_member(&json!({"value": "x", "display": "A", "displayName": "B"}))
                .unwrap()
                .display
                .as_deref(),
            Some("A")
        );
        assert_eq!(parse_member(&json!("id")).unwrap(), member("id"));
        for bad in [
            json!({}),
            json!({"value": 1}),
            json!({"value": ""}),
            json!(3),
            json!(null),
            json!([]),
        ] {
            assert_eq!(
                parse_member(&bad).unwrap_err().scim_type,
                Some(ScimType::InvalidValue),
                "{bad}"
            );
        }
    }

    // ---- values ----

    #[test]
    fn string_booleans_become_booleans() {
        let (d, _) =
            patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}])).unwrap();
        assert_eq!(d["active"], false);
        let (d, _) = patch_user(json!([{"op": "replace", "value": {"active": "false"}}])).unwrap();
        assert_eq!(d["active"], false);
        let (d, out) = patch_user(json!([{"op": "replace", "value": {"active": "True"}}])).unwrap();
        assert_eq!(d["active"], true);
        assert!(!out.changed);
        let (d, _) = patch_user(
            json!([{"op": "add", "path": "emails[type eq \"work\"].primary", "value": "false"}]),
        )
        .unwrap();
        assert_eq!(d["emails"][0]["primary"], false);
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

    // ---- mutability ----

    #[test]
    fn read_only_attributes_cannot_change() {
        for ops in [
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}]),
            json!([{"op": "remove", "path": "meta"}]),
            json!([{"op": "replace", "path": format!("{ENTERPRISE_USER}:manager.displayName"), "value": "B"}]),
        ] {
            assert_eq!(
                err_type(patch_user(ops.clone())),
                Some(ScimType::Mutability),
                "{ops}"
            );
        }
        // a readOnly sub-attribute inside a value is ignored, as on PUT
        let (d, _) = patch_user(json!([
            {"op": "add", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": "m", "displayName": "B"}}
        ]))
        .unwrap();
        assert_eq!(d[ENTERPRISE_USER]["manager"], json!({"value": "m"}));
    }

    #[test]
    fn required_attributes_cannot_be_removed() {
        assert_eq!(
            err_type(patch_user(json!([{"op": "remove", "path": "userName"}]))),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            err_type(patch_user(
                json!([{"op": "replace", "path": "userName", "value": null}])
            )),
            Some(ScimType::Mutability)
        );
    }

    #[test]
    fn immutable_attributes_can_be_set_once() {
        let mut r = reg();
        r.user
            .schema
            .attributes
            .push(Attribute::string("badge").mutability(Mutability::Immutable));
        let mut d = user();
        let set = body(json!([{"op": "add", "path": "badge", "value": "b1"}]));
        assert!(apply(&r.user, &mut d, &set).unwrap().changed);
        // same value again: not a change
        assert!(!apply(&r.user, &mut d, &set).unwrap().changed);
        let change = body(json!([{"op": "replace", "path": "badge", "value": "b2"}]));
        assert_eq!(
            apply(&r.user, &mut d, &change).unwrap_err().scim_type,
            Some(ScimType::Mutability)
        );
        let remove = body(json!([{"op": "remove", "path": "badge"}]));
        assert_eq!(
            apply(&r.user, &mut d, &remove).unwrap_err().scim_type,
            Some(ScimType::Mutability)
        );
        assert_eq!(d["badge"], "b1");
    }

    #[test]
    fn role_catalog_fields_are_read_only() {
        let r = reg();
        let role = json!({"schemas": [ROLE], "id": "r1", "displayName": "Auditor", "description": "Reads"});
        let mut d = role.clone();
        let e = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "replace", "path": "displayName", "value": "X"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "remove", "path": "description"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // same value plus members: tolerated
        let out = apply(
            &r.role,
            &mut d,
            &body(json!([{"op": "replace", "value": {"displayName": "Auditor", "members": [{"value": "u1"}]}}])),
        )
        .unwrap();
        assert_eq!(
            out.member_ops,
            vec![MemberOp::RemoveAll, MemberOp::Add(vec![member("u1")])]
        );
        assert_eq!(d, role);
    }

    // ---- unknown attributes, schemas ----

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

    // ---- outcome ----

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
        use super::*;
        use proptest::prelude::*;

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
