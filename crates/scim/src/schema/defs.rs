//! The schemas this server declares (RFC 7643 §4, §8.7): the core User
//! (§4.1) and Group (§4.2), the Enterprise User extension (§4.3), the
//! project's Role resource, and the SAP extensions IdPs send. Each is built
//! from the model in `model`; the registry in `mod.rs` assembles them into
//! resource types.

use super::model::{AttrType, Attribute, Mutability, Returned, Schema, Uniqueness};
use super::SchemaOptions;

/// The core User schema (RFC 7643 §4.1).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The Role resource is this project's own extension (AFC's URN is not public).
pub const ROLE: &str = "urn:spin-scim:params:scim:schemas:extension:role:2.0:Role";
/// Sent by SAP Cloud Identity Services on users.
pub const SAP_USER: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:User";
/// Sent by SAP Cloud Identity Services on groups.
pub const SAP_GROUP: &str = "urn:sap:cloud:scim:schemas:extension:custom:2.0:Group";
/// The audit trail's events (`/AuditEvents`): this project's own resource.
pub const AUDIT_EVENT: &str = "urn:spin-scim:params:scim:schemas:AuditEvent";
/// Forwarded by SAP Identity Provisioning on groups that have a type.
pub const SAP_GROUP_TYPE: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:Group";

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

/// An audit event (the `audit` module): one recorded change of a user, group
/// or role. Every attribute is read-only: the trail is written by the
/// server alone. No attribute holds a value of the changed resource except
/// the member ids added or removed.
pub fn audit_event_schema() -> Schema {
    let text = |name: &'static str, what: &'static str| {
        Attribute::string(name)
            .case_exact(true)
            .read_only()
            .describe(what)
    };
    Schema {
        id: AUDIT_EVENT,
        name: "AuditEvent",
        description: "A recorded change of a user, group or role membership (read-only)",
        open: false,
        attributes: vec![
            text("operation", "create, replace, patch or delete")
                .canonical(&["create", "replace", "patch", "delete"])
                .required(),
            text("resourceType", "User, Group or Role")
                .canonical(&["User", "Group", "Role"])
                .required(),
            text("resourceId", "The id of the changed resource").required(),
            text("tenant", "The tenant of the token"),
            text("clientId", "The token's client_id (azp, cid)"),
            text("subject", "The token's sub"),
            text(
                "attributes",
                "Names of the attributes that changed, never their values",
            )
            .multi(),
            text("membersAdded", "Ids of the members added").multi(),
            text("membersRemoved", "Ids of the members removed").multi(),
            text("versionBefore", "The resource's ETag before the change"),
            text("versionAfter", "The resource's ETag after the change"),
            text(
                "requestId",
                "The request's traceparent, or an id the server made",
            ),
            text(
                "causedBy",
                "The event whose change caused this one (a user's delete removing it from a group)",
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::{Registry, SchemaOptions};

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
