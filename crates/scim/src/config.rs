//! Service configuration, read from Spin application variables (spin.toml
//! `[variables]`). Every setting has a safe default; see the README's table.

use crate::auth::AuthConfig;
use crate::http::Return;
use crate::schema::SchemaOptions;

/// Where configuration values come from (Spin variables in the component,
/// a map in tests).
pub trait Vars {
    /// The value of variable `name` (lower snake case), if set and non-empty.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The service's configuration: Spin variables (`Config::from_vars`), or
/// `Config::default()` in tests.
#[derive(Debug, Clone)]
pub struct Config {
    /// Default `count` of a list page (AFC pages by 10).
    pub page_size_default: usize,
    /// Largest `count` honoured; larger requests are clamped (RFC 7644 §3.4.2.4).
    pub page_size_max: usize,
    /// Most resources a filter or sort that no index serves may examine;
    /// beyond it the request answers 400 tooMany (RFC 7644 §3.4.2.2).
    pub scan_max: usize,
    /// Largest request body accepted; larger answers 413.
    pub max_body_bytes: usize,
    /// Schema options (which attributes are case-exact, which extensions apply).
    pub schema: SchemaOptions,
    /// Path (inside the component) of the role catalog JSON file.
    pub roles_catalog_path: String,
    /// Bearer token validation (RFC 6750).
    pub auth: AuthConfig,
    /// Requests per client and hour; 0: no quota (the platform limits rates).
    pub rate_limit_per_hour: u64,
    /// What a successful PATCH of a group or role answers when the client
    /// states no preference (RFC 7644 §3.5.2 allows either): `Minimal` (204,
    /// the default: the representation of a large group is megabytes of
    /// members nobody reads) or `Representation` (200 with the resource).
    pub group_patch_response: Return,
    /// Whether a proxy in front sets `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`, so that the base URL of `Location` and
    /// `meta.location` may follow them ([`crate::http::base_url`]). Off by
    /// default: a client could send them.
    pub trust_forwarded_headers: bool,
    /// The User attribute the `/Me` claim ([`AuthConfig::me_claim`]) is
    /// matched against (RFC 7644 §3.11).
    pub me_attribute: MeAttribute,
    /// Most operations in one `POST /Bulk` (RFC 7644 §3.7.4,
    /// `bulk.maxOperations`); more answer 413.
    pub bulk_max_operations: usize,
    /// Largest `POST /Bulk` body (RFC 7644 §3.7.4, `bulk.maxPayloadSize`);
    /// larger answers 413.
    pub bulk_max_payload_bytes: usize,
    /// Whether `/openapi.json` and the `/docs` page are served (404 when
    /// not).
    pub docs_enabled: bool,
    /// Whether every change is recorded in the audit trail (`crate::audit`).
    pub audit_enabled: bool,
    /// Audit events older than this many days are dropped, a few at a time
    /// as new events are appended.
    pub audit_retention_days: u64,
}

/// The User attribute that identifies the authenticated subject for `/Me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeAttribute {
    /// `userName` (RFC 7643 §4.1.1), compared as filters compare it.
    UserName,
    /// `externalId` (RFC 7643 §3.1), case-exact.
    ExternalId,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            page_size_default: 10,
            page_size_max: 1000,
            scan_max: 10_000,
            max_body_bytes: 1024 * 1024,
            schema: SchemaOptions::default(),
            roles_catalog_path: "/roles.json".into(),
            auth: AuthConfig::default(),
            rate_limit_per_hour: 0,
            group_patch_response: Return::Minimal,
            trust_forwarded_headers: false,
            me_attribute: MeAttribute::UserName,
            bulk_max_operations: 1000,
            // 1,000 user creates of about 1 KiB each, with room to spare.
            bulk_max_payload_bytes: 2 * 1024 * 1024,
            docs_enabled: true,
            audit_enabled: true,
            audit_retention_days: 400,
        }
    }
}

/// Longest accepted `token_jwks_timeout_ms`: a JWKS fetch holds a request
/// (and blocks other requests' fetches) for up to about twice this long.
pub const MAX_JWKS_TIMEOUT_MS: usize = 30_000;

/// Parse a boolean variable leniently ("true", "1", "yes", "on").
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Config {
    /// Read the configuration. Malformed numbers are an error: a deployment
    /// should fail loudly rather than run with a setting it did not ask for.
    pub fn from_vars(vars: &dyn Vars) -> Result<Config, String> {
        let d = Config::default();
        let num = |name: &str, default: usize| -> Result<usize, String> {
            match vars.get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("variable {name}: not a number: {v:?}")),
            }
        };
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match vars.get(name) {
                None => Ok(default),
                Some(v) => {
                    parse_bool(&v).ok_or_else(|| format!("variable {name}: not a boolean: {v:?}"))
                }
            }
        };
        let cfg = Config {
            page_size_default: num("page_size_default", d.page_size_default)?,
            page_size_max: num("page_size_max", d.page_size_max)?.max(1),
            scan_max: num("filter_scan_max", d.scan_max)?,
            max_body_bytes: num("max_body_bytes", d.max_body_bytes)?,
            schema: SchemaOptions {
                user_name_case_exact: flag("user_name_case_exact", false)?,
            },
            roles_catalog_path: vars
                .get("roles_catalog_path")
                .unwrap_or(d.roles_catalog_path),
            auth: AuthConfig {
                issuer: vars.get("token_issuer"),
                audiences: vars
                    .get("token_audience")
                    .map(|a| {
                        a.split([',', ' '])
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                hs256_secret: vars.get("token_hs256_secret"),
                jwks: vars.get("token_jwks"),
                jwks_url: vars.get("token_jwks_url"),
                jwks_ttl_secs: num("token_jwks_cache_ttl_secs", d.auth.jwks_ttl_secs as usize)?
                    as u64,
                leeway_secs: num("token_leeway_secs", d.auth.leeway_secs as usize)? as u64,
                read_scope: vars.get("scope_read").unwrap_or(d.auth.read_scope.clone()),
                write_scope: vars
                    .get("scope_write")
                    .unwrap_or(d.auth.write_scope.clone()),
                audit_scope: vars.get("scope_audit").unwrap_or(d.auth.audit_scope.clone()),
                scope_prefix: vars
                    .get("token_scope_prefix")
                    .map(|p| p.trim().trim_end_matches('.').to_string()),
                jwks_timeout_ms: match num("token_jwks_timeout_ms", d.auth.jwks_timeout_ms as usize)? {
                    t @ 1..=MAX_JWKS_TIMEOUT_MS => t as u64,
                    t => {
                        return Err(format!(
                            "variable token_jwks_timeout_ms: {t} is not between 1 and {MAX_JWKS_TIMEOUT_MS}"
                        ))
                    }
                },
                tenant_claim: vars.get("tenant_claim"),
                me_claim: vars
                    .get("me_claim")
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
                discovery_requires_auth: flag("discovery_requires_auth", true)?,
            },
            rate_limit_per_hour: num("rate_limit_per_hour", 0)? as u64,
            trust_forwarded_headers: flag("trust_forwarded_headers", false)?,
            me_attribute: match vars.get("me_attribute") {
                None => d.me_attribute,
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "username" => MeAttribute::UserName,
                    "externalid" => MeAttribute::ExternalId,
                    _ => {
                        return Err(format!(
                            "variable me_attribute: not \"userName\" or \"externalId\": {v:?}"
                        ))
                    }
                },
            },
            bulk_max_operations: num("bulk_max_operations", d.bulk_max_operations)?,
            bulk_max_payload_bytes: num("bulk_max_payload_bytes", d.bulk_max_payload_bytes)?,
            docs_enabled: flag("docs_enabled", true)?,
            audit_enabled: flag("audit_enabled", d.audit_enabled)?,
            audit_retention_days: match num("audit_retention_days", d.audit_retention_days as usize)? {
                0 => return Err("variable audit_retention_days: must be at least 1".into()),
                n => n as u64,
            },
            group_patch_response: match vars.get("group_patch_response") {
                None => d.group_patch_response,
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "minimal" => Return::Minimal,
                    "representation" => Return::Representation,
                    _ => {
                        return Err(format!(
                            "variable group_patch_response: not \"minimal\" or \"representation\": {v:?}"
                        ))
                    }
                },
            },
        };
        Ok(Config {
            page_size_default: cfg.page_size_default.min(cfg.page_size_max),
            ..cfg
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn defaults_without_variables() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.page_size_default, 10);
        assert_eq!(c.page_size_max, 1000);
        assert!(!c.schema.user_name_case_exact);
        assert!(!c.auth.has_any_key(), "no key unless configured");
        assert!(c.auth.discovery_requires_auth);
        assert_eq!(c.group_patch_response, Return::Minimal);
        assert_eq!(c.auth.me_claim, None, "/Me is off unless configured");
        assert_eq!(c.me_attribute, MeAttribute::UserName);
    }

    #[test]
    fn me_variables_name_the_claim_and_the_attribute() {
        let c = Config::from_vars(&vars(&[
            ("me_claim", " user_name "),
            ("me_attribute", "externalId"),
        ]))
        .unwrap();
        assert_eq!(c.auth.me_claim.as_deref(), Some("user_name"));
        assert_eq!(c.me_attribute, MeAttribute::ExternalId);
        let c = Config::from_vars(&vars(&[("me_attribute", "USERNAME")])).unwrap();
        assert_eq!(c.me_attribute, MeAttribute::UserName);
        assert!(Config::from_vars(&vars(&[("me_attribute", "emails")])).is_err());
    }

    #[test]
    fn bulk_limits_come_from_variables() {
        let c = Config::default();
        assert_eq!(c.bulk_max_operations, 1000);
        assert_eq!(c.bulk_max_payload_bytes, 2 * 1024 * 1024);
        let c = Config::from_vars(&vars(&[
            ("bulk_max_operations", "5"),
            ("bulk_max_payload_bytes", "4096"),
        ]))
        .unwrap();
        assert_eq!((c.bulk_max_operations, c.bulk_max_payload_bytes), (5, 4096));
        assert!(Config::from_vars(&vars(&[("bulk_max_operations", "many")])).is_err());
    }

    #[test]
    fn token_settings_come_from_variables() {
        let c = Config::from_vars(&vars(&[
            ("token_audience", "a, b"),
            ("token_issuer", "https://uaa"),
            ("tenant_claim", "zid"),
            ("scope_read", "r"),
        ]))
        .unwrap();
        assert_eq!(c.auth.audiences, ["a", "b"]);
        assert_eq!(c.auth.issuer.as_deref(), Some("https://uaa"));
        assert_eq!(c.auth.tenant_claim.as_deref(), Some("zid"));
        assert_eq!(c.auth.read_scope, "r");
        assert_eq!(c.auth.write_scope, "scim.write");
        assert_eq!(c.auth.scope_prefix, None);
        assert_eq!(c.auth.jwks_timeout_ms, crate::auth::DEFAULT_JWKS_TIMEOUT_MS);
        assert!(!c.trust_forwarded_headers);
        let c = Config::from_vars(&vars(&[
            ("token_scope_prefix", " afc!t1. "),
            ("token_jwks_timeout_ms", "1500"),
            ("trust_forwarded_headers", "true"),
        ]))
        .unwrap();
        assert_eq!(c.auth.scope_prefix.as_deref(), Some("afc!t1"));
        assert_eq!(c.auth.jwks_timeout_ms, 1500);
        assert!(c.trust_forwarded_headers);
        for bad in ["0", "30001", "soon"] {
            assert!(
                Config::from_vars(&vars(&[("token_jwks_timeout_ms", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(Config::from_vars(&vars(&[("trust_forwarded_headers", "maybe")])).is_err());
    }

    #[test]
    fn variables_override_and_bad_numbers_fail() {
        let c = Config::from_vars(&vars(&[
            ("page_size_max", "50"),
            ("user_name_case_exact", "true"),
        ]))
        .unwrap();
        assert_eq!(c.page_size_max, 50);
        assert!(c.schema.user_name_case_exact);
        assert!(Config::from_vars(&vars(&[("page_size_max", "lots")])).is_err());
        assert!(Config::from_vars(&vars(&[("user_name_case_exact", "maybe")])).is_err());
        let c = Config::from_vars(&vars(&[("group_patch_response", " Representation ")])).unwrap();
        assert_eq!(c.group_patch_response, Return::Representation);
        assert!(Config::from_vars(&vars(&[("group_patch_response", "full")])).is_err());
    }
}
