//! The schema model (RFC 7643 §2, §6, §7): what an attribute definition, a
//! schema and a resource type are, and the case-insensitive name lookup
//! RFC 7643 §2.1 requires, on definitions ([`Attribute::sub`],
//! [`Schema::attribute`], [`ResourceType::attribute`]) and on documents
//! ([`get_ci`], [`key_ci`]). The concrete schemas are in `defs`.
//!
//! The common attributes (`id`, `externalId`, `meta`, RFC 7643 §3.1) are
//! here rather than with the schemas: they belong to no schema, and
//! [`ResourceType::attribute`] resolves them.

use serde_json::{json, Map, Value};

/// The resource kinds this server stores (RFC 7643 §4 User and Group, and
/// the Roles extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `/Users`: RFC 7643 §4.1.
    User,
    /// `/Groups`: RFC 7643 §4.2.
    Group,
    /// `/Roles`: the Roles extension.
    Role,
}

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// `string` (§2.3.1).
    String,
    /// `boolean` (§2.3.2).
    Boolean,
    /// `decimal` (§2.3.3).
    Decimal,
    /// `integer` (§2.3.4).
    Integer,
    /// `dateTime` (§2.3.5), an xsd:dateTime.
    DateTime,
    /// `binary` (§2.3.6), base64-encoded.
    Binary,
    /// `reference` (§2.3.7), a URI.
    Reference,
    /// `complex` (§2.3.8): sub-attributes.
    Complex,
}

impl AttrType {
    /// The name used in `/Schemas` (`"dateTime"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Whether and when an attribute may be written (RFC 7643 §7 `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the server only.
    ReadOnly,
    /// Written freely.
    ReadWrite,
    /// Written once (while it has no value), then fixed.
    Immutable,
    /// Written but never returned (`password`).
    WriteOnly,
}

impl Mutability {
    /// The name used in `/Schemas` (`"readOnly"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned in a response (RFC 7643 §7 `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when `attributes` excludes it.
    Always,
    /// Never.
    Never,
    /// By default; `attributes` or `excludedAttributes` can leave it out.
    Default,
    /// Only when `attributes` asks for it.
    Request,
}

impl Returned {
    /// The name used in `/Schemas` (`"always"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique an attribute's value must be (RFC 7643 §7 `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider (here: per tenant).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas` (`"server"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone)]
pub struct Attribute {
    /// The attribute's name, in its canonical case.
    pub name: &'static str,
    /// `type`.
    pub ty: AttrType,
    /// `multiValued`.
    pub multi_valued: bool,
    /// `required`.
    pub required: bool,
    /// `caseExact`: values compare case-sensitively.
    pub case_exact: bool,
    /// `mutability`.
    pub mutability: Mutability,
    /// `returned`.
    pub returned: Returned,
    /// `uniqueness`.
    pub uniqueness: Uniqueness,
    /// `canonicalValues` (advertised, not enforced).
    pub canonical_values: &'static [&'static str],
    /// `referenceTypes` of a reference attribute.
    pub reference_types: &'static [&'static str],
    /// `subAttributes` of a complex attribute.
    pub sub_attributes: Vec<Attribute>,
    /// `description`.
    pub description: &'static str,
}

impl Attribute {
    /// A single-valued, optional, readWrite, case-insensitive attribute.
    pub fn new(name: &'static str, ty: AttrType) -> Self {
        Attribute {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: Vec::new(),
            description: "",
        }
    }
    /// [`Attribute::new`] of type string.
    pub fn string(name: &'static str) -> Self {
        Self::new(name, AttrType::String)
    }
    /// [`Attribute::new`] of type boolean.
    pub fn boolean(name: &'static str) -> Self {
        Self::new(name, AttrType::Boolean)
    }
    /// A case-exact reference attribute to the given `referenceTypes`.
    pub fn reference(name: &'static str, types: &'static [&'static str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference);
        a.reference_types = types;
        a.case_exact = true;
        a
    }
    /// A complex attribute with these sub-attributes.
    pub fn complex(name: &'static str, subs: Vec<Attribute>) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }
    /// Made multi-valued.
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Made required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// With `caseExact` set to `yes`.
    pub fn case_exact(mut self, yes: bool) -> Self {
        self.case_exact = yes;
        self
    }
    /// With this mutability.
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Made readOnly.
    pub fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    /// With this `returned`.
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// With this uniqueness.
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// With these canonical values.
    pub fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    /// With this description.
    pub fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }

    /// A sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute definition as it appears in `/Schemas` (RFC 7643 §7).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "mutability": self.mutability.as_str(),
            "returned": self.returned.as_str(),
        });
        let o = v.as_object_mut().expect("object literal");
        if matches!(
            self.ty,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            o.insert("caseExact".into(), Value::Bool(self.case_exact));
            o.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.canonical_values.is_empty() {
            o.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            o.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if !self.sub_attributes.is_empty() {
            o.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(|a| a.to_json()).collect()),
            );
        }
        v
    }
}

/// A schema (RFC 7643 §7). `open` schemas keep attributes the server has not
/// declared (used for vendor extensions whose full definition is not public).
#[derive(Debug, Clone)]
pub struct Schema {
    /// The schema URN.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// The top-level attributes.
    pub attributes: Vec<Attribute>,
    /// Undeclared attributes are kept as sent instead of ignored.
    pub open: bool,
}

impl Schema {
    /// A top-level attribute of this schema by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` document (RFC 7643 §7), located under `base_url`.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// A resource type (RFC 7643 §6): its core schema and extensions.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// "User", "Group", "Role".
    pub name: &'static str,
    /// "/Users", "/Groups", "/Roles".
    pub endpoint: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// The core schema.
    pub schema: Schema,
    /// Extension schemas and whether each is required.
    pub extensions: Vec<(Schema, bool)>,
}

/// The common attributes of every resource (RFC 7643 §3.1), resolved outside any schema.
pub fn common_attributes() -> &'static [Attribute] {
    use std::sync::OnceLock;
    static COMMON: OnceLock<Vec<Attribute>> = OnceLock::new();
    COMMON.get_or_init(|| {
        vec![
            Attribute::string("id")
                .case_exact(true)
                .read_only()
                .returned(Returned::Always)
                .uniqueness(Uniqueness::Server),
            Attribute::string("externalId").case_exact(true),
            Attribute::complex(
                "meta",
                vec![
                    Attribute::string("resourceType")
                        .case_exact(true)
                        .read_only(),
                    Attribute::new("created", AttrType::DateTime).read_only(),
                    Attribute::new("lastModified", AttrType::DateTime).read_only(),
                    Attribute::reference("location", &["uri"]).read_only(),
                    Attribute::string("version").case_exact(true).read_only(),
                ],
            )
            .read_only(),
        ]
    })
}

impl ResourceType {
    /// Every schema URN of this resource type, core first.
    pub fn schema_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|(s, _)| s.id))
    }

    /// The core schema or a declared extension by URN, case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&Schema> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            return Some(&self.schema);
        }
        self.extensions
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolve a top-level attribute name. With `urn` given, only that schema is
    /// searched (the URN may be the core schema's); without it, the common
    /// attributes and then the core schema are searched.
    /// Returns the schema the attribute belongs to (`None` for common attributes).
    pub fn attribute(
        &self,
        urn: Option<&str>,
        name: &str,
    ) -> Option<(Option<&Schema>, &Attribute)> {
        match urn {
            Some(urn) => {
                let schema = self.schema_by_urn(urn)?;
                if let Some(a) = schema.attribute(name) {
                    return Some((Some(schema), a));
                }
                // `urn:...:core:2.0:User:id` — common attributes under the core URN.
                if std::ptr::eq(schema, &self.schema) {
                    return common_attributes()
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(name))
                        .map(|a| (None, a));
                }
                None
            }
            None => {
                if let Some(a) = common_attributes()
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    return Some((None, a));
                }
                self.schema.attribute(name).map(|a| (Some(&self.schema), a))
            }
        }
    }

    /// Split a possibly URN-qualified attribute path such as
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`
    /// into (`Some(urn)`, `"manager.value"`). The URN must be one this resource
    /// type declares; otherwise the whole string is returned as the path.
    pub fn split_urn<'a>(&self, path: &'a str) -> (Option<&'a str>, &'a str) {
        if !path
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            return (None, path);
        }
        for id in self.schema_ids() {
            if path.len() > id.len()
                && path.as_bytes()[id.len()] == b':'
                && path[..id.len()].eq_ignore_ascii_case(id)
            {
                return (Some(&path[..id.len()]), &path[id.len() + 1..]);
            }
            if path.eq_ignore_ascii_case(id) {
                return (Some(path), "");
            }
        }
        (None, path)
    }

    /// The `/ResourceTypes/{name}` document (RFC 7643 §6).
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": self.extensions.iter().map(|(s, req)| json!({"schema": s.id, "required": req})).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            }
        })
    }
}

/// Look up a key of a JSON object case-insensitively (RFC 7643 §2.1).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The actual key in `obj` that matches `name` case-insensitively.
pub fn key_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    if obj.contains_key(name) {
        return obj.get_key_value(name).map(|(k, _)| k.as_str());
    }
    obj.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Registry, SchemaOptions, ENTERPRISE_USER, USER};

    #[test]
    fn attribute_lookup_is_case_insensitive() {
        let r = Registry::new(&SchemaOptions::default());
        let (s, a) = r.user.attribute(None, "USERNAME").unwrap();
        assert_eq!(a.name, "userName");
        assert_eq!(s.unwrap().id, USER);
        assert_eq!(
            r.user
                .attribute(None, "emails")
                .unwrap()
                .1
                .sub("VALUE")
                .unwrap()
                .name,
            "value"
        );
        let (_, id) = r.user.attribute(None, "ID").unwrap();
        assert_eq!(id.mutability, Mutability::ReadOnly);
    }

    #[test]
    fn urn_qualified_paths_split_on_declared_schemas() {
        let r = Registry::new(&SchemaOptions::default());
        let p = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
        assert_eq!(
            r.user.split_urn(p),
            (Some(ENTERPRISE_USER), "manager.value")
        );
        let (s, a) = r
            .user
            .attribute(Some(ENTERPRISE_USER), "employeenumber")
            .unwrap();
        assert_eq!((s.unwrap().id, a.name), (ENTERPRISE_USER, "employeeNumber"));
        assert_eq!(r.user.split_urn("userName"), (None, "userName"));
        assert_eq!(r.user.split_urn("urn:x:y:z"), (None, "urn:x:y:z"));
        let core = "urn:ietf:params:scim:schemas:core:2.0:User:userName";
        assert_eq!(r.user.split_urn(core), (Some(USER), "userName"));
    }
}
