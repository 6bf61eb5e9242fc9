//! Schema definitions (RFC 7643 §2, §4, §7, §8.7): attribute characteristics for
//! the core User and Group, the Enterprise User extension, the project's Role
//! extension and the SAP extensions IdPs send, plus lookup by (case-insensitive)
//! attribute name as RFC 7643 §2.1 requires.
//!
//! * `model`: the types (attribute, schema, resource type) and name lookup;
//! * `defs`: the concrete schemas;
//! * here: the [`Registry`] of resource types the server serves (RFC 7643 §6)
//!   and the [`SchemaOptions`] that shape them.

mod defs;
mod model;

pub use defs::{
    audit_event_schema, enterprise_user_schema, group_schema, role_schema, sap_group_schema,
    sap_group_type_schema, sap_user_schema, user_schema, AUDIT_EVENT, ENTERPRISE_USER, GROUP, ROLE,
    SAP_GROUP, SAP_GROUP_TYPE, SAP_USER, USER,
};
pub use model::{
    common_attributes, get_ci, key_ci, AttrType, Attribute, Kind, Mutability, ResourceType,
    Returned, Schema, Uniqueness,
};

/// Options that change what the schemas say.
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    /// userName compared case-exactly (AFC's behaviour) instead of RFC 7643's default.
    pub user_name_case_exact: bool,
}

/// All resource types the server serves.
#[derive(Debug, Clone)]
pub struct Registry {
    /// `/Users`: core User with the Enterprise and SAP extensions.
    pub user: ResourceType,
    /// `/Groups`: core Group with the SAP group extensions.
    pub group: ResourceType,
    /// `/Roles`: the Role catalog.
    pub role: ResourceType,
    /// `/AuditEvents`: the audit trail, read-only (not a [`Kind`]: no write
    /// path and no root `.search` reaches it).
    pub audit: ResourceType,
}

impl Registry {
    /// The resource types, shaped by `opts`.
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
            audit: ResourceType {
                name: "AuditEvent",
                endpoint: "/AuditEvents",
                description: "Audit trail of every provisioning change (read-only)",
                schema: audit_event_schema(),
                extensions: vec![],
            },
        }
    }

    /// User, Group and Role, in that order.
    pub fn resource_types(&self) -> [&ResourceType; 3] {
        [&self.user, &self.group, &self.role]
    }

    /// The resource type of `kind`.
    pub fn of(&self, kind: Kind) -> &ResourceType {
        match kind {
            Kind::User => &self.user,
            Kind::Group => &self.group,
            Kind::Role => &self.role,
        }
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
        out.push(&self.audit.schema);
        out
    }

    /// A schema by URN, case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}
