//! Resource documents: turning what a client sends into the canonical stored
//! form (RFC 7643 §2 attribute characteristics, RFC 7644 §3.3 and §3.5.1), and
//! the stored form back into what the client sees.

use crate::error::{Result, ScimError};
use crate::schema::{AttrType, Attribute, Mutability, ResourceType, Schema};
use serde_json::{Map, Value};

/// Longest string value accepted in any attribute (bytes).
pub const MAX_STRING_LEN: usize = 4096;
/// Longest userName / displayName accepted (bytes).
pub const MAX_NAME_LEN: usize = 512;
/// Most values in one multi-valued attribute (members are limited separately).
pub const MAX_MULTI_VALUES: usize = 1000;
/// Deepest nesting of a value kept under an open extension (levels of
/// objects and arrays). Far below serde_json's 128-level reading limit, so
/// what is stored reads back inside the record's own wrapping.
pub const MAX_OPEN_DEPTH: usize = 16;

/// Canonicalise a client document for `rt`:
/// - attribute names matched case-insensitively and rewritten canonically (RFC 7643 §2.1);
/// - unknown attributes of a declared schema dropped (IdPs send them), but kept
///   under an open vendor schema;
/// - an extension URN the server does not declare → 400 invalidValue;
/// - readOnly attributes (id, meta, groups, roles, …) ignored (RFC 7644 §3.5.1);
/// - the writeOnly `password` dropped: this server never stores passwords;
/// - values type-checked; `"True"`/`"false"` strings accepted for booleans;
/// - `null` and empty arrays mean "unassigned" and are dropped (RFC 7643 §2.5);
/// - `schemas` rebuilt from what the document actually carries.
///
/// `members` (Group, Role) is kept as a validated array; the caller stores it
/// separately.
pub fn normalize(rt: &ResourceType, input: &Value) -> Result<Value> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    if let Some(s) = crate::schema::get_ci(obj, "schemas") {
        let list = s
            .as_array()
            .ok_or_else(|| ScimError::invalid_syntax("schemas must be an array of URNs"))?;
        for urn in list {
            let urn = urn
                .as_str()
                .ok_or_else(|| ScimError::invalid_syntax("schemas must be an array of URNs"))?;
            if rt.schema_by_urn(urn).is_none() {
                return Err(ScimError::invalid_value(format!(
                    "schema {:?} is not supported for {}",
                    crate::error::truncate(urn, 200),
                    rt.name
                )));
            }
        }
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // `get`, not a slice: byte 4 may fall inside a character.
        if key.len() > 4 && key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            let (urn, rest) = rt.split_urn(key);
            let Some(schema) = urn.and_then(|u| rt.schema_by_urn(u)) else {
                return Err(ScimError::invalid_value(format!(
                    "extension {:?} is not supported for {}",
                    crate::error::truncate(key, 200),
                    rt.name
                )));
            };
            if std::ptr::eq(schema, &rt.schema) {
                // `urn:...:core:2.0:User:userName` — a qualified core attribute.
                if !rest.is_empty() {
                    put_attribute(rt, &rt.schema, &mut out, rest, value)?;
                }
                continue;
            }
            if rest.is_empty() {
                if value.is_null() {
                    continue;
                }
                let ext = value.as_object().ok_or_else(|| {
                    ScimError::invalid_value(format!("{} must be an object", schema.id))
                })?;
                let mut ext_out = Map::new();
                for (k, v) in ext {
                    put_attribute(rt, schema, &mut ext_out, k, v)?;
                }
                merge_extension(&mut out, schema.id, ext_out);
            } else {
                let mut ext_out = Map::new();
                put_attribute(rt, schema, &mut ext_out, rest, value)?;
                merge_extension(&mut out, schema.id, ext_out);
            }
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::Null => {}
                Value::String(s) => {
                    check_string("externalId", s, STRING_LIMIT)?;
                    out.insert("externalId".into(), value.clone());
                }
                _ => return Err(ScimError::invalid_value("externalId must be a string")),
            }
            continue;
        }
        if key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case("meta") {
            continue; // readOnly, assigned by the server (RFC 7643 §3.1)
        }
        put_attribute(rt, &rt.schema, &mut out, key, value)?;
    }
    for a in rt.schema.attributes.iter().filter(|a| a.required) {
        if a.mutability != Mutability::ReadOnly && !out.contains_key(a.name) {
            return Err(ScimError::invalid_value(format!("{} is required", a.name)));
        }
    }
    let mut schemas = vec![Value::String(rt.schema.id.to_string())];
    for (s, _) in &rt.extensions {
        if out.contains_key(s.id) {
            schemas.push(Value::String(s.id.to_string()));
        }
    }
    let mut doc = Map::new();
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.extend(out);
    Ok(Value::Object(doc))
}

fn merge_extension(out: &mut Map<String, Value>, urn: &str, ext: Map<String, Value>) {
    if ext.is_empty() {
        return;
    }
    match out.get_mut(urn).and_then(Value::as_object_mut) {
        Some(existing) => existing.extend(ext),
        None => {
            out.insert(urn.to_string(), Value::Object(ext));
        }
    }
}

/// Validate and insert one attribute `key` (possibly dotted, `name.givenName`)
/// of `schema` into `out`.
fn put_attribute(
    rt: &ResourceType,
    schema: &Schema,
    out: &mut Map<String, Value>,
    key: &str,
    value: &Value,
) -> Result<()> {
    let _ = rt;
    let (name, sub) = match key.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (key, None),
    };
    let Some(attr) = schema.attribute(name) else {
        if schema.open && !value.is_null() {
            // The name itself obeys the rule its nested keys do (no
            // control characters, maxNameBytes): it is echoed in the
            // resource and named in audit events.
            check_string("an attribute name", key, NAME_LIMIT)?;
            check_open(key, value, 0)?;
            out.insert(key.to_string(), value.clone());
        }
        return Ok(()); // unknown attribute of a declared schema: ignored
    };
    if matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) {
        // readOnly: ignored on input (RFC 7644 §3.5.1); writeOnly `password`:
        // accepted and discarded, never stored.
        return Ok(());
    }
    match sub {
        None => {
            if let Some(v) = normalize_value(attr, value)? {
                out.insert(attr.name.to_string(), v);
            }
        }
        Some(sub) => {
            let Some(sattr) = attr.sub(sub) else {
                return Ok(());
            };
            if attr.multi_valued {
                return Err(ScimError::invalid_value(format!(
                    "{key}: a sub-attribute of the multi-valued {} cannot be set directly",
                    attr.name
                )));
            }
            if let Some(v) = normalize_single(sattr, value)? {
                let entry = out
                    .entry(attr.name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(o) = entry.as_object_mut() {
                    o.insert(sattr.name.to_string(), v);
                }
            }
        }
    }
    Ok(())
}

/// Normalise a value of `attr`; `None` when it means "unassigned".
pub fn normalize_value(attr: &Attribute, value: &Value) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        return normalize_single(attr, value);
    }
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        other => vec![other], // a lone value where an array belongs: tolerated
    };
    if items.len() > MAX_MULTI_VALUES && attr.name != "members" {
        return Err(ScimError::invalid_value(format!(
            "{}: more than maxMultiValues ({MAX_MULTI_VALUES}) values",
            attr.name
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    // Duplicates are dropped in linear time: `members` is not capped above,
    // and a quadratic scan of a 1 MiB body's worth of them takes minutes.
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        if let Some(v) = normalize_single(attr, item)? {
            if seen.insert(dedup_key(&v)) {
                out.push(v);
            }
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

/// A key that is equal exactly when the values are `==` (object key order
/// ignored, as `Value`'s equality does).
fn dedup_key(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut kv: Vec<(&String, String)> = m.iter().map(|(k, v)| (k, dedup_key(v))).collect();
            kv.sort();
            format!("o{}", serde_json::to_string(&kv).unwrap_or_default())
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(dedup_key).collect();
            format!("a{}", serde_json::to_string(&items).unwrap_or_default())
        }
        other => format!("s{other}"),
    }
}

/// Normalise one (non-array) value of `attr`.
fn normalize_single(attr: &Attribute, value: &Value) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    let bad = |what: &str| {
        Err(ScimError::invalid_value(format!(
            "{} must be {what}",
            attr.name
        )))
    };
    match attr.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(s) => {
                let max = if matches!(attr.name, "userName" | "displayName") {
                    NAME_LIMIT
                } else {
                    STRING_LIMIT
                };
                check_string(attr.name, s, max)?;
                if attr.required && s.trim().is_empty() {
                    return Err(ScimError::invalid_value(format!(
                        "{} must not be empty",
                        attr.name
                    )));
                }
                Ok(Some(value.clone()))
            }
            _ => bad("a string"),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => bad("a boolean"),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value.clone())),
            _ => bad("an integer"),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => bad("a number"),
        },
        AttrType::DateTime => match value {
            Value::String(s)
                if time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok() =>
            {
                Ok(Some(value.clone()))
            }
            _ => bad("an RFC 3339 dateTime"),
        },
        AttrType::Complex => {
            let obj = match value.as_object() {
                Some(o) => o,
                None if attr.multi_valued && !value.is_array() => {
                    // `"emails": ["a@b.c"]` — a bare value stands for `value`.
                    return match attr.sub("value") {
                        Some(v) => Ok(normalize_single(v, value)?
                            .map(|v| Value::Object(Map::from_iter([("value".to_string(), v)])))),
                        None => bad("an object"),
                    };
                }
                None => return bad("an object"),
            };
            let mut out = Map::new();
            for (k, v) in obj {
                let sattr = attr.sub(k).or_else(|| {
                    // Member objects may carry `displayName` for `display`.
                    (k.eq_ignore_ascii_case("displayName"))
                        .then(|| attr.sub("display"))
                        .flatten()
                });
                let Some(sattr) = sattr else { continue };
                if sattr.mutability == Mutability::ReadOnly
                    && attr.mutability != Mutability::ReadOnly
                {
                    continue;
                }
                if let Some(v) = normalize_single(sattr, v)? {
                    out.insert(sattr.name.to_string(), v);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
    }
}

/// An undeclared attribute of an open extension is kept as sent, within the
/// bounds every other attribute has: nesting up to [`MAX_OPEN_DEPTH`],
/// strings and names up to [`MAX_STRING_LEN`] bytes, arrays and objects up
/// to [`MAX_MULTI_VALUES`] entries. Without them a document could be stored
/// that no reader takes back (issue 16).
fn check_open(name: &str, value: &Value, depth: usize) -> Result<()> {
    if depth > MAX_OPEN_DEPTH {
        return Err(ScimError::invalid_value(format!(
            "{}: nested deeper than maxExtensionDepth ({MAX_OPEN_DEPTH}) levels",
            crate::error::truncate(name, 200)
        )));
    }
    let too_many = |n: usize| {
        (n > MAX_MULTI_VALUES).then(|| {
            ScimError::invalid_value(format!(
                "{}: more than maxMultiValues ({MAX_MULTI_VALUES}) entries",
                crate::error::truncate(name, 200)
            ))
        })
    };
    match value {
        Value::String(s) => check_string(name, s, STRING_LIMIT),
        Value::Array(items) => {
            if let Some(e) = too_many(items.len()) {
                return Err(e);
            }
            items
                .iter()
                .try_for_each(|v| check_open(name, v, depth + 1))
        }
        Value::Object(o) => {
            if let Some(e) = too_many(o.len()) {
                return Err(e);
            }
            o.iter().try_for_each(|(k, v)| {
                check_string(name, k, NAME_LIMIT)?;
                check_open(name, v, depth + 1)
            })
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A string limit: its name in the README's "Limits" table, its value.
type StringLimit = (&'static str, usize);
const STRING_LIMIT: StringLimit = ("maxStringBytes", MAX_STRING_LEN);
const NAME_LIMIT: StringLimit = ("maxNameBytes", MAX_NAME_LEN);

fn check_string(name: &str, s: &str, (limit, max): StringLimit) -> Result<()> {
    if s.len() > max {
        return Err(ScimError::invalid_value(format!(
            "{name} is longer than {limit} ({max}) bytes"
        )));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ScimError::invalid_value(format!(
            "{name} contains control characters"
        )));
    }
    if matches!(name, "userName" | "displayName" | "externalId")
        && s.chars().any(|c| c.is_control())
    {
        return Err(ScimError::invalid_value(format!(
            "{name} contains control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, SAP_USER};
    use crate::testutil::reg;
    use serde_json::json;

    #[test]
    fn an_attribute_name_with_a_multibyte_character_in_its_first_four_bytes_is_no_panic() {
        // Found by schemathesis (tests/openapi): the `urn:` prefix test
        // sliced the name at byte 4, inside a 4-byte character, and the
        // component trapped (500).
        let rt = &reg().group;
        for key in ["e[\u{d0c75}\u{a2}V", "\u{e9}\u{e9}\u{e9}", "ur\u{e9}:x"] {
            let doc = json!({ "displayName": "g", key: [1, -5.1e16] });
            let out = normalize(rt, &doc).unwrap();
            assert!(out.get(key).is_none(), "{key}: undeclared, dropped");
        }
    }

    #[test]
    fn names_are_canonicalised_and_unknown_attributes_dropped() {
        let r = reg();
        let doc = normalize(
            &r.user,
            &json!({"USERNAME": "a", "Name": {"GivenName": "A", "bogus": 1}, "foo": "bar",
                    "Emails": [{"Value": "a@b.c", "TYPE": "work"}], "active": "False"}),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"schemas": [crate::schema::USER], "userName": "a", "name": {"givenName": "A"},
                   "emails": [{"value": "a@b.c", "type": "work"}], "active": false})
        );
    }

    #[test]
    fn read_only_and_write_only_attributes_are_not_stored() {
        let r = reg();
        let doc = normalize(
            &r.user,
            &json!({"userName": "a", "id": "x", "meta": {"created": "x"}, "password": "secret",
                    "groups": [{"value": "g"}]}),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"schemas": [crate::schema::USER], "userName": "a"})
        );
    }

    #[test]
    fn extensions_are_nested_and_undeclared_ones_rejected() {
        let r = reg();
        let doc = normalize(
            &r.user,
            &json!({"schemas": [crate::schema::USER, ENTERPRISE_USER], "userName": "a",
                    ENTERPRISE_USER: {"EmployeeNumber": "7", "manager": {"value": "m"}},
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "D"}),
        )
        .unwrap();
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"employeeNumber": "7", "manager": {"value": "m"}, "department": "D"})
        );
        assert_eq!(
            doc["schemas"],
            json!([crate::schema::USER, ENTERPRISE_USER])
        );
        let e = normalize(
            &r.user,
            &json!({"schemas": ["urn:example:unknown"], "userName": "a"}),
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(crate::ScimType::InvalidValue))
        );
        let e = normalize(
            &r.user,
            &json!({"userName": "a", "urn:example:other:1.0:User": {"x": 1}}),
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn open_vendor_schemas_keep_what_is_sent() {
        let r = reg();
        let doc = normalize(
            &r.user,
            &json!({"userName": "a", SAP_USER: {"userUuid": "u", "sourceSystem": 3}}),
        )
        .unwrap();
        assert_eq!(doc[SAP_USER], json!({"userUuid": "u", "sourceSystem": 3}));
    }

    #[test]
    fn bad_values_are_invalid_value_errors() {
        let r = reg();
        for bad in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": 5}),
            json!({"userName": "a\u{0007}b"}),
            json!({"userName": "x".repeat(MAX_NAME_LEN + 1)}),
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", "name": "flat"}),
        ] {
            let e = normalize(&r.user, &bad).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        assert_eq!(
            normalize(&r.user, &json!([1])).unwrap_err().scim_type,
            Some(crate::ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn group_members_accept_display_name_for_display() {
        let r = reg();
        let doc = normalize(
            &r.group,
            &json!({"displayName": "G", "members": [{"value": "u1", "displayName": "U"}]}),
        )
        .unwrap();
        assert_eq!(doc["members"], json!([{"value": "u1", "display": "U"}]));
    }

    #[test]
    fn duplicate_values_are_dropped_in_linear_time() {
        let r = reg();
        let doc = normalize(
            &r.user,
            &json!({"userName": "a", "emails": [
                {"value": "a@b.c", "type": "work"}, {"type": "work", "value": "a@b.c"},
                {"value": "a@b.c"}, "a@b.c", {"value": "1"}, {"value": "a@b.c", "type": "work"}]}),
        )
        .unwrap();
        assert_eq!(
            doc["emails"],
            json!([{"value": "a@b.c", "type": "work"}, {"value": "a@b.c"}, {"value": "1"}])
        );
        // A 1 MiB body's worth of members (uncapped) normalises quickly.
        let many: Vec<Value> = (0..150_000).map(|i| json!(i.to_string())).collect();
        let t = std::time::Instant::now();
        let doc = normalize(&r.group, &json!({"displayName": "g", "members": many})).unwrap();
        assert_eq!(doc["members"].as_array().unwrap().len(), 150_000);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            t.elapsed()
        );
    }
}
