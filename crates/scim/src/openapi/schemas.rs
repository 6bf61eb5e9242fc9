//! The document's resource schemas: every resource type of the
//! [`Registry`] as a JSON Schema (OpenAPI 3.1 uses JSON Schema 2020-12),
//! attribute by attribute from the same definitions `/Schemas` serves (RFC
//! 7643 §7), each extension under its URN (RFC 7643 §3.3), and a
//! ListResponse (RFC 7644 §3.4.2) per resource type.
//!
//! Every characteristic JSON Schema has no word for is kept as an
//! `x-scim-*` field, so nothing of `/Schemas` is lost: `type`,
//! `multiValued`, `mutability`, `returned`, `uniqueness`, `caseExact`,
//! `required`, `canonicalValues`, `referenceTypes`. Canonical values are
//! not an `enum`: RFC 7643 §2.3.1 leaves other values allowed, and this
//! server stores them. String sizes are in bytes (`x-maxBytes`,
//! [`crate::document::MAX_STRING_LEN`]).

use super::obj;
use crate::schema::{AttrType, Attribute, Mutability, Registry, ResourceType, Schema};
use serde_json::{Map, Value};

/// Adds the resource types' schemas to `components.schemas`.
pub fn add(reg: &Registry, out: &mut Value) {
    let mut any = Vec::new();
    for rt in reg.resource_types() {
        out[rt.name] = resource(rt);
        for (ext, _) in &rt.extensions {
            out[component_name(ext)] = schema_object(ext, false);
        }
        let mut list = out["ListResponse"].clone();
        list["properties"]["Resources"]["items"] = reference(rt.name);
        out[format!("{}ListResponse", rt.name)] = list;
        any.push(reference(rt.name));
    }
    // The root `/.search` lists resources of every type.
    out["ListResponse"]["properties"]["Resources"]["items"] = obj(vec![("anyOf", any.into())]);
    // The audit trail: read-only, listed but never searched from the root.
    let audit = &reg.audit;
    out[audit.name] = resource(audit);
    let mut list = out["ListResponse"].clone();
    list["properties"]["Resources"]["items"] = reference(audit.name);
    out[format!("{}ListResponse", audit.name)] = list;
}

/// The component name of an extension schema (its `name` without spaces).
pub fn component_name(s: &Schema) -> String {
    s.name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A `$ref` to a component schema.
pub fn reference(name: &str) -> Value {
    obj(vec![(
        "$ref",
        format!("#/components/schemas/{name}").into(),
    )])
}

/// A resource as the server returns it: `schemas`, the common attributes
/// (RFC 7643 §3.1), the core schema's attributes and each extension under
/// its URN. Only `id` is required of a response: `attributes` and
/// `excludedAttributes` (RFC 7644 §3.9) may leave out everything returned
/// by default; what a request must carry is added where it is the body
/// ([`required_on_write`]).
fn resource(rt: &ResourceType) -> Value {
    let mut v = schema_object(&rt.schema, true);
    for (ext, required) in &rt.extensions {
        let mut r = reference(&component_name(ext));
        r["description"] = format!(
            "{} (extension, {})",
            ext.description,
            if *required { "required" } else { "optional" }
        )
        .into();
        v["properties"][ext.id] = r;
    }
    // RFC 7643 §3: `schemas` names the core schema and the extensions the
    // resource carries; any other URN is refused (400 invalidValue).
    let urns: Vec<&str> = rt.schema_ids().collect();
    v["properties"]["schemas"]["items"] = obj(vec![("enum", urns.into())]);
    v["required"] = vec!["id"].into();
    v["x-scim-endpoint"] = rt.endpoint.into();
    v
}

/// The attributes a client must send to create or replace a resource of
/// `rt` (RFC 7643 §7 `required`, less what only the server writes).
pub fn required_on_write(rt: &ResourceType) -> Vec<&'static str> {
    rt.schema
        .attributes
        .iter()
        .filter(|a| a.required && a.mutability != Mutability::ReadOnly)
        .map(|a| a.name)
        .collect()
}

/// One schema's attributes as an object schema; `common` adds `schemas`,
/// `id`, `externalId` and `meta`.
fn schema_object(s: &Schema, common: bool) -> Value {
    let mut props = Map::new();
    if common {
        props.insert(
            "schemas".into(),
            obj(vec![
                ("type", "array".into()),
                ("items", obj(vec![("type", "string".into())])),
                (
                    "description",
                    "The URNs of the schemas the resource carries (RFC 7643 §3).".into(),
                ),
            ]),
        );
        for a in crate::schema::common_attributes() {
            props.insert(a.name.into(), attribute(a));
        }
    }
    for a in &s.attributes {
        props.insert(a.name.into(), attribute(a));
    }
    let mut v = obj(vec![
        ("type", "object".into()),
        ("title", s.name.into()),
        ("description", s.description.into()),
        ("properties", Value::Object(props)),
        ("x-scim-schema", s.id.into()),
    ]);
    if s.open {
        // What a client sends under an open vendor schema is kept as sent.
        v["additionalProperties"] = true.into();
    }
    v
}

/// No control character (Unicode Cc) but tab, CR and LF in any string.
const TEXT: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
/// No control character at all in a name (`userName`, `displayName`,
/// `externalId`).
const NAME: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// A required name: not blank either.
const REQUIRED_NAME: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// What a string attribute's value may hold, as [`crate::document`] checks
/// it: its size in bytes (`x-maxBytes`) and the characters it may not
/// contain (400 `invalidValue` otherwise).
fn text_limits(a: &Attribute) -> [(&'static str, Value); 2] {
    let name = matches!(a.name, "userName" | "displayName");
    let max = if name {
        crate::document::MAX_NAME_LEN
    } else {
        crate::document::MAX_STRING_LEN
    };
    let pattern = match (name || a.name == "externalId", a.required) {
        (true, true) => REQUIRED_NAME,
        (true, false) => NAME,
        (false, _) => TEXT,
    };
    [("x-maxBytes", max.into()), ("pattern", pattern.into())]
}

/// One attribute (RFC 7643 §2.3 types, §7 characteristics). A multi-valued
/// attribute is an array carrying the characteristics; its items have the
/// value's shape.
fn attribute(a: &Attribute) -> Value {
    let mut shape = Map::new();
    let ty = match a.ty {
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "number",
        AttrType::Integer => "integer",
        AttrType::Complex => "object",
        _ => "string",
    };
    shape.insert("type".into(), ty.into());
    match a.ty {
        AttrType::DateTime => {
            shape.insert("format".into(), "date-time".into());
        }
        AttrType::Binary => {
            shape.insert("contentEncoding".into(), "base64".into());
        }
        AttrType::Complex => {
            let subs: Map<String, Value> = a
                .sub_attributes
                .iter()
                .map(|s| (s.name.to_string(), attribute(s)))
                .collect();
            shape.insert("properties".into(), Value::Object(subs));
        }
        _ => {}
    }
    if ty == "string" && a.ty != AttrType::DateTime {
        for (k, v) in text_limits(a) {
            shape.insert(k.into(), v);
        }
    }
    let mut traits = if a.multi_valued {
        let mut array = Map::new();
        array.insert("type".into(), "array".into());
        array.insert("items".into(), Value::Object(shape));
        array
    } else {
        shape
    };
    if !a.description.is_empty() {
        traits.insert("description".into(), a.description.into());
    }
    match a.mutability {
        Mutability::ReadOnly => {
            traits.insert("readOnly".into(), true.into());
        }
        Mutability::WriteOnly => {
            traits.insert("writeOnly".into(), true.into());
        }
        _ => {}
    }
    let scim: [(&str, Value); 5] = [
        ("type", a.ty.as_str().into()),
        ("multiValued", a.multi_valued.into()),
        ("mutability", a.mutability.as_str().into()),
        ("returned", a.returned.as_str().into()),
        ("required", a.required.into()),
    ];
    for (k, v) in scim {
        traits.insert(format!("x-scim-{k}"), v);
    }
    if matches!(
        a.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    ) {
        traits.insert("x-scim-caseExact".into(), a.case_exact.into());
        traits.insert("x-scim-uniqueness".into(), a.uniqueness.as_str().into());
    }
    if !a.canonical_values.is_empty() {
        traits.insert("x-scim-canonicalValues".into(), a.canonical_values.into());
    }
    if !a.reference_types.is_empty() {
        traits.insert("x-scim-referenceTypes".into(), a.reference_types.into());
    }
    Value::Object(traits)
}
