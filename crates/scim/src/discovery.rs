//! Discovery endpoints (RFC 7644 §4, RFC 7643 §5–§7): what this server
//! supports, described exactly — each `supported` flag is true only when the
//! feature works.

use crate::config::Config;
use crate::error::{truncate, Result, ScimError};
use crate::schema::Registry;
use serde_json::{json, Value};

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Where this server advertises its limits inside the ServiceProviderConfig.
pub const LIMITS_SCHEMA: &str = "urn:spin-scim:params:scim:limits";

/// RFC 7643 §5. The limits extension's URN is listed in `schemas`, as RFC
/// 7643 §3 asks of every schema whose attributes the representation holds.
pub fn service_provider_config(cfg: &Config, base_url: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA, LIMITS_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": cfg.page_size_max },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an OAuth 2.0 Bearer Token (a JWT, e.g. from the client-credentials grant)",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        LIMITS_SCHEMA: {
            "maxBodyBytes": cfg.max_body_bytes,
            "maxFilterLength": crate::filter::MAX_FILTER_LEN,
            "maxFilterDepth": crate::filter::MAX_FILTER_DEPTH,
            "defaultPageSize": cfg.page_size_default,
            "maxPageSize": cfg.page_size_max,
            "maxScannedResources": cfg.scan_max,
            // What a stored resource may hold (issue 16: everything accepted
            // reads back).
            "maxStringBytes": crate::document::MAX_STRING_LEN,
            "maxNameBytes": crate::document::MAX_NAME_LEN,
            "maxMultiValues": crate::document::MAX_MULTI_VALUES,
            "maxExtensionDepth": crate::document::MAX_OPEN_DEPTH,
            "maxResourceBytes": crate::storage::records::MAX_RECORD_BYTES,
        },
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        }
    })
}

/// A ListResponse (RFC 7644 §3.4.2) of every item, for discovery lists.
pub fn list_all(items: Vec<Value>) -> Value {
    let n = items.len();
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": n,
        "itemsPerPage": n,
        "startIndex": 1,
        "Resources": items,
    })
}

/// `/ResourceTypes`: every resource type (RFC 7644 §4).
pub fn resource_types(reg: &Registry, base_url: &str) -> Value {
    list_all(
        reg.resource_types()
            .into_iter()
            .chain([&reg.audit])
            .map(|rt| rt.to_json(base_url))
            .collect(),
    )
}

/// `/ResourceTypes/{name}`, the name compared case-insensitively.
pub fn resource_type(reg: &Registry, name: &str, base_url: &str) -> Result<Value> {
    reg.resource_types()
        .into_iter()
        .chain([&reg.audit])
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| rt.to_json(base_url))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {:?}", truncate(name, 64))))
}

/// `/Schemas`: every schema (RFC 7644 §4).
pub fn schemas(reg: &Registry, base_url: &str) -> Value {
    list_all(reg.schemas().iter().map(|s| s.to_json(base_url)).collect())
}

/// `/Schemas/{id}`, by URN.
pub fn schema(reg: &Registry, urn: &str, base_url: &str) -> Result<Value> {
    reg.schema(urn)
        .map(|s| s.to_json(base_url))
        .ok_or_else(|| ScimError::not_found(format!("no schema {:?}", truncate(urn, 200))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaOptions;

    #[test]
    fn service_provider_config_follows_rfc7643_section5() {
        let v = service_provider_config(&Config::default(), "http://h/api/scim/v2");
        assert_eq!(v["schemas"][0], SPC_SCHEMA);
        // RFC 7643 §3: the extension holding the limits is named in schemas.
        assert_eq!(v["schemas"][1], LIMITS_SCHEMA);
        assert!(v[LIMITS_SCHEMA]["maxBodyBytes"].is_u64());
        assert!(v[LIMITS_SCHEMA]["maxExtensionDepth"].is_u64());
        assert!(v[LIMITS_SCHEMA]["maxResourceBytes"].is_u64());
        for k in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
            assert!(v[k]["supported"].is_boolean(), "{k}");
        }
        assert_eq!(v["filter"]["maxResults"], 1000);
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            v["meta"]["location"],
            "http://h/api/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn resource_types_list_user_group_role_and_audit_event() {
        let reg = Registry::new(&SchemaOptions::default());
        let v = resource_types(&reg, "http://h");
        assert_eq!(v["totalResults"], 4);
        let names: Vec<_> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["User", "Group", "Role", "AuditEvent"]);
        assert_eq!(
            v["Resources"][0]["schemaExtensions"][0]["schema"],
            crate::schema::ENTERPRISE_USER
        );
    }
}
