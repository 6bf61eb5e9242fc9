//! Schema definitions (RFC 7643 §2, §4, §7, §8.7): attribute characteristics for
//! the core User and Group, the Enterprise User extension, the project's Role
//! extension and the SAP extensions IdPs send, plus lookup by (case-insensitive)
//! attribute name as RFC 7643 §2.1 requires.

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

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The Role resource is this project's own extension (AFC's URN is not public).
pub const ROLE: &str = "urn:spin-scim:params:scim:schemas:extension:role:2.0:Role";
/// Sent by SAP Cloud Identity Services on users.
pub const SAP_USER: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:User";
/// Sent by SAP Cloud Identity Services on groups.
pub const SAP_GROUP: &str = "urn:sap:cloud:scim:schemas:extension:custom:2.0:Group";
/// Forwarded by SAP Identity Provisioning on groups that have a type.
pub const SAP_GROUP_TYPE: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:Group";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
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
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<Attribute>,
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
    pub fn string(name: &'static str) -> Self {
        Self::new(name, AttrType::String)
    }
    pub fn boolean(name: &'static str) -> Self {
        Self::new(name, AttrType::Boolean)
    }
    pub fn reference(name: &'static str, types: &'static [&'static str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference);
        a.reference_types = types;
        a.case_exact = true;
        a
    }
    pub fn complex(name: &'static str, subs: Vec<Attribute>) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn case_exact(mut self, yes: bool) -> Self {
        self.case_exact = yes;
        self
    }
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    pub fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
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
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
    pub open: bool,
}

impl Schema {
    /// A top-level attribute of this schema by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

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
    pub description: &'static str,
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

/// Options that change what the schemas say.
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    /// userName compared case-exactly (AFC's behaviour) instead of RFC 7643's default.
    pub user_name_case_exact: bool,
}

/// All resource types the server serves.
#[derive(Debug, Clone)]
pub struct Registry {
    pub user: ResourceType,
    pub group: ResourceType,
    pub role: ResourceType,
}

impl Registry {
    pub fn new(opts: &SchemaOptions) -> Self {
        Registry {
            user: ResourceType {
                name: "User",
                endpoint: "/Users",
                description: "User Account",
                schema: user_schema(opts),
                extensions: vec![
                    (enterprise_user_schema(), false),
                    (sap_user_schema(), false),
                ],
            },
            group: ResourceType {
                name: "Group",
                endpoint: "/Groups",
                description: "Group",
                schema: group_schema(),
                extensions: vec![
                    (sap_group_schema(), false),
                    (sap_group_type_schema(), false),
                ],
            },
            role: ResourceType {
                name: "Role",
                endpoint: "/Roles",
                description: "Role (read-only catalog; membership is writable)",
                schema: role_schema(),
                extensions: vec![],
            },
        }
    }

    pub fn resource_types(&self) -> [&ResourceType; 3] {
        [&self.user, &self.group, &self.role]
    }

    /// A resource type by name ("User") or endpoint segment ("Users"), case-insensitively.
    pub fn by_name(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types().into_iter().find(|rt| {
            rt.name.eq_ignore_ascii_case(name) || rt.endpoint[1..].eq_ignore_ascii_case(name)
        })
    }

    /// Every distinct schema, in a stable order.
    pub fn schemas(&self) -> Vec<&Schema> {
        let mut out: Vec<&Schema> = Vec::new();
        for rt in self.resource_types() {
            out.push(&rt.schema);
            for (s, _) in &rt.extensions {
                out.push(s);
            }
        }
        out
    }

    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

const TYPES_EMAIL: &[&str] = &["work", "home", "other"];
const TYPES_PHONE: &[&str] = &["work", "home", "mobile", "fax", "pager", "other"];
const TYPES_IM: &[&str] = &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"];
const TYPES_PHOTO: &[&str] = &["photo", "thumbnail"];
const TYPES_ADDRESS: &[&str] = &["work", "home", "other"];
const TYPES_MEMBER: &[&str] = &["User", "Group"];

/// The sub-attributes of a typical multi-valued attribute (RFC 7643 §2.4).
fn multi_subs(value_ty: AttrType, types: &'static [&'static str]) -> Vec<Attribute> {
    vec![
        Attribute::new("value", value_ty),
        Attribute::string("display"),
        Attribute::string("type").canonical(types),
        Attribute::boolean("primary"),
    ]
}

/// A membership list entry (RFC 7643 §4.2 `members`, §4.1.2 `groups`).
fn member_subs(ref_types: &'static [&'static str], read_only: bool) -> Vec<Attribute> {
    let m = if read_only {
        Mutability::ReadOnly
    } else {
        Mutability::Immutable
    };
    vec![
        Attribute::string("value").case_exact(true).mutability(m),
        Attribute::reference("$ref", ref_types).mutability(m),
        Attribute::string("display").mutability(m),
        Attribute::string("type")
            .canonical(TYPES_MEMBER)
            .mutability(m),
    ]
}

/// RFC 7643 §4.1 and §8.7.1.
pub fn user_schema(opts: &SchemaOptions) -> Schema {
    let user_name = Attribute::string("userName")
        .required()
        .case_exact(opts.user_name_case_exact)
        .uniqueness(Uniqueness::Server)
        .describe(if opts.user_name_case_exact {
            "Unique identifier for the User, compared case-exactly (server setting)."
        } else {
            "Unique identifier for the User, compared case-insensitively."
        });
    Schema {
        id: USER,
        name: "User",
        description: "User Account",
        open: false,
        attributes: vec![
            user_name,
            Attribute::complex(
                "name",
                vec![
                    Attribute::string("formatted"),
                    Attribute::string("familyName"),
                    Attribute::string("givenName"),
                    Attribute::string("middleName"),
                    Attribute::string("honorificPrefix"),
                    Attribute::string("honorificSuffix"),
                ],
            ),
            Attribute::string("displayName"),
            Attribute::string("nickName"),
            Attribute::reference("profileUrl", &["external"]),
            Attribute::string("title"),
            Attribute::string("userType"),
            Attribute::string("preferredLanguage"),
            Attribute::string("locale"),
            Attribute::string("timezone"),
            Attribute::boolean("active"),
            Attribute::string("password")
                .case_exact(true)
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never)
                .describe(
                    "Write-only. Accepted and discarded: this server never stores passwords.",
                ),
            Attribute::complex("emails", multi_subs(AttrType::String, TYPES_EMAIL)).multi(),
            Attribute::complex("phoneNumbers", multi_subs(AttrType::String, TYPES_PHONE)).multi(),
            Attribute::complex("ims", multi_subs(AttrType::String, TYPES_IM)).multi(),
            Attribute::complex("photos", {
                let mut s = multi_subs(AttrType::Reference, TYPES_PHOTO);
                s[0].reference_types = &["external"];
                s[0].case_exact = true;
                s
            })
            .multi(),
            Attribute::complex(
                "addresses",
                vec![
                    Attribute::string("formatted"),
                    Attribute::string("streetAddress"),
                    Attribute::string("locality"),
                    Attribute::string("region"),
                    Attribute::string("postalCode"),
                    Attribute::string("country"),
                    Attribute::string("type").canonical(TYPES_ADDRESS),
                    Attribute::boolean("primary"),
                ],
            )
            .multi(),
            Attribute::complex(
                "groups",
                vec![
                    Attribute::string("value").case_exact(true).read_only(),
                    Attribute::reference("$ref", &["User", "Group"]).read_only(),
                    Attribute::string("display").read_only(),
                    Attribute::string("type")
                        .canonical(&["direct", "indirect"])
                        .read_only(),
                ],
            )
            .multi()
            .read_only(),
            Attribute::complex("entitlements", multi_subs(AttrType::String, &[])).multi(),
            Attribute::complex(
                "roles",
                vec![
                    Attribute::string("value").case_exact(true).read_only(),
                    Attribute::reference("$ref", &["Role"]).read_only(),
                    Attribute::string("display").read_only(),
                    Attribute::string("type").read_only(),
                    Attribute::boolean("primary").read_only(),
                ],
            )
            .multi()
            .read_only()
            .describe("Role memberships, managed through /Roles (read-only here)."),
            Attribute::complex("x509Certificates", multi_subs(AttrType::Binary, &[])).multi(),
        ],
    }
}

/// RFC 7643 §4.3.
pub fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER,
        name: "EnterpriseUser",
        description: "Enterprise User",
        open: false,
        attributes: vec![
            Attribute::string("employeeNumber"),
            Attribute::string("costCenter"),
            Attribute::string("organization"),
            Attribute::string("division"),
            Attribute::string("department"),
            Attribute::complex(
                "manager",
                vec![
                    Attribute::string("value").case_exact(true),
                    Attribute::reference("$ref", &["User"]),
                    Attribute::string("displayName").read_only(),
                ],
            ),
        ],
    }
}

/// SAP Cloud Identity Services' user extension. Its full definition is not
/// public, so the schema is open: what a client sends under it is stored and
/// returned as sent.
pub fn sap_user_schema() -> Schema {
    Schema {
        id: SAP_USER,
        name: "SAP User Extension",
        description: "Attributes SAP Cloud Identity Services sends; stored and returned as sent.",
        open: true,
        attributes: vec![
            Attribute::string("userUuid"),
            Attribute::boolean("mailVerified"),
            Attribute::string("status"),
        ],
    }
}

/// SAP Cloud Identity Services' custom group extension (open, as above).
pub fn sap_group_schema() -> Schema {
    Schema {
        id: SAP_GROUP,
        name: "SAP Group Extension",
        description:
            "Attributes SAP Cloud Identity Services sends on groups; stored and returned as sent.",
        open: true,
        attributes: vec![
            Attribute::string("name").case_exact(true),
            Attribute::string("description"),
        ],
    }
}

/// SAP Identity Provisioning's group type extension (`type`,
/// `supportedOperations`), forwarded without being listed in `schemas`;
/// open, as above.
pub fn sap_group_type_schema() -> Schema {
    Schema {
        id: SAP_GROUP_TYPE,
        name: "SAP Group Type Extension",
        description:
            "Group type attributes SAP Identity Provisioning forwards; stored and returned as sent.",
        open: true,
        attributes: vec![
            Attribute::string("type"),
            Attribute::string("supportedOperations"),
        ],
    }
}

/// RFC 7643 §4.2.
pub fn group_schema() -> Schema {
    Schema {
        id: GROUP,
        name: "Group",
        description: "Group",
        open: false,
        attributes: vec![
            Attribute::string("displayName")
                .required()
                .uniqueness(Uniqueness::Server)
                .describe("Human-readable name, unique per tenant (compared like userName)."),
            Attribute::complex("members", member_subs(&["User"], false))
                .multi()
                .describe("Members; only users are members here. Unknown user ids are dropped."),
        ],
    }
}

/// The Role resource: a read-only catalog entry whose members are writable.
pub fn role_schema() -> Schema {
    Schema {
        id: ROLE,
        name: "Role",
        description: "Role from the deployment's read-only catalog",
        open: false,
        attributes: vec![
            Attribute::string("displayName")
                .read_only()
                .required()
                .uniqueness(Uniqueness::Server),
            Attribute::string("description").read_only(),
            Attribute::complex("members", member_subs(&["User"], false)).multi(),
        ],
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

    #[test]
    fn user_name_case_exactness_follows_the_option() {
        let ci = Registry::new(&SchemaOptions::default());
        assert!(!ci.user.attribute(None, "userName").unwrap().1.case_exact);
        let ce = Registry::new(&SchemaOptions {
            user_name_case_exact: true,
        });
        let a = ce.user.attribute(None, "userName").unwrap().1;
        assert!(a.case_exact);
        assert_eq!(a.to_json()["caseExact"], true);
    }

    #[test]
    fn schema_documents_carry_every_attribute() {
        let r = Registry::new(&SchemaOptions::default());
        let doc = r.user.schema.to_json("http://h/api/scim/v2");
        let names: Vec<_> = doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        for n in [
            "userName",
            "name",
            "password",
            "emails",
            "groups",
            "roles",
            "x509Certificates",
            "addresses",
        ] {
            assert!(names.contains(&n.to_string()), "{n} missing");
        }
        let pw = doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(pw["mutability"], "writeOnly");
        assert_eq!(pw["returned"], "never");
        assert!(r.by_name("users").is_some() && r.by_name("Group").is_some());
    }
}
