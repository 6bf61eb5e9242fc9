//! Discovery endpoints (RFC 7644 §4, RFC 7643 §5–§7): what this server
//! supports, described exactly — each `supported` flag is true only when the
//! feature works.

use crate::config::Config;
use crate::error::{truncate, Result, ScimError};
use crate::list::LIST_SCHEMA;
use crate::schema::Registry;
use serde_json::{json, Value};

/// The ServiceProviderConfig's schema (RFC 7643 §5).
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// RFC 7643 §5, nothing else: strict clients (scim2-models, behind
/// scim2-client and scim2-tester) refuse any attribute the section does not
/// define, so the limits that have no §5 attribute are documented in the
/// README ("Limits") and named with their value in the error that enforces
/// each. `filter.maxResults` and the RFC 9865 §4 `pagination` block carry
/// the paging limits.
pub fn service_provider_config(cfg: &Config, base_url: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": { "supported": true },
        "bulk": { "supported": true, "maxOperations": cfg.bulk_max_operations, "maxPayloadSize": cfg.bulk_max_payload_bytes },
        "filter": { "supported": true, "maxResults": cfg.page_size_max },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        // RFC 9865 §4. Cursors are positions, kept nowhere on the server:
        // they never expire, so cursorTimeout is the largest value a
        // 32-bit client can hold.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": cfg.page_size_default,
            "maxPageSize": cfg.page_size_max,
            "cursorTimeout": crate::list::cursor::CURSOR_TIMEOUT_SECS,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an OAuth 2.0 Bearer Token (a JWT, e.g. from the client-credentials grant)",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
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

    /// Every attribute RFC 7643 §5 (and RFC 9865 §4 `pagination`) defines
    /// for a ServiceProviderConfig, with its sub-attributes: nothing else may
    /// be served (strict clients refuse the whole document).
    const SECTION5: &[(&str, &[&str])] = &[
        ("schemas", &[]),
        ("documentationUri", &[]),
        ("patch", &["supported"]),
        ("bulk", &["supported", "maxOperations", "maxPayloadSize"]),
        ("filter", &["supported", "maxResults"]),
        ("changePassword", &["supported"]),
        ("sort", &["supported"]),
        ("etag", &["supported"]),
        (
            "pagination",
            &[
                "cursor",
                "index",
                "defaultPaginationMethod",
                "defaultPageSize",
                "maxPageSize",
                "cursorTimeout",
            ],
        ),
        (
            "authenticationSchemes",
            &[
                "type",
                "name",
                "description",
                "specUri",
                "documentationUri",
                "primary",
            ],
        ),
        (
            "meta",
            &[
                "resourceType",
                "created",
                "lastModified",
                "location",
                "version",
            ],
        ),
    ];

    #[test]
    fn service_provider_config_holds_only_rfc7643_section5_attributes() {
        let v = service_provider_config(&Config::default(), "http://h/api/scim/v2");
        assert_eq!(v["schemas"], json!([SPC_SCHEMA]));
        for (key, value) in v.as_object().unwrap() {
            let Some((_, subs)) = SECTION5.iter().find(|(k, _)| k == key) else {
                panic!("{key} is not an RFC 7643 §5 attribute");
            };
            let items = match value {
                Value::Array(items) if key != "schemas" => items.clone(),
                Value::Object(_) => vec![value.clone()],
                _ => continue,
            };
            for item in items {
                for sub in item.as_object().unwrap().keys() {
                    assert!(subs.contains(&sub.as_str()), "{key}.{sub}");
                }
            }
        }
        for k in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
            assert!(v[k]["supported"].is_boolean(), "{k}");
        }
        assert_eq!(v["filter"]["maxResults"], 1000);
        // RFC 9865 §4.
        assert_eq!(v["pagination"]["cursor"], true);
        assert_eq!(v["pagination"]["index"], true);
        assert_eq!(v["pagination"]["defaultPaginationMethod"], "index");
        assert_eq!(v["pagination"]["maxPageSize"], 1000);
        assert!(v["pagination"]["cursorTimeout"].as_u64() > Some(0));
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            v["meta"]["location"],
            "http://h/api/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn pagination_advertises_both_methods_and_the_configured_page_sizes() {
        let cfg = Config {
            page_size_default: 7,
            page_size_max: 70,
            ..Config::default()
        };
        let v = service_provider_config(&cfg, "http://h");
        assert_eq!(
            v["pagination"],
            json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
                   "defaultPageSize": 7, "maxPageSize": 70,
                   "cursorTimeout": crate::list::cursor::CURSOR_TIMEOUT_SECS})
        );
        assert_eq!(v["filter"]["maxResults"], 70);
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
