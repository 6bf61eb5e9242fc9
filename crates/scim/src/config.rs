//! Service configuration, read from Spin application variables (spin.toml
//! `[variables]`). Every setting has a safe default; see the README's table.
//!
//! Spin resolves every `variables::get` anew (its providers, environment
//! first: a blocking section and an environment lookup per call), and each
//! request runs in a fresh instance, so the component reads only what a
//! request can use: [`Config::for_request`] skips the settings of other
//! routes (they keep their defaults), and [`Config::from_vars`] reads the
//! JWKS fetch settings only with a JWKS URL and `me_attribute` only with a
//! `me_claim`.

use crate::auth::AuthConfig;
use crate::http::Return;
use crate::route::Route;
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
    /// Whether every change is recorded in the audit trail (the `audit` module).
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

/// Settings only routes other than the resource endpoints and lists read:
/// `discovery_requires_auth` (discovery, RFC 7644 §4), the `/Me` settings
/// (RFC 7644 §3.11), the bulk limits (`/Bulk`, RFC 7644 §3.7, and
/// discovery), `docs_enabled` (the OpenAPI routes), `scope_audit`
/// (`/AuditEvents`).
const OTHER_ROUTES_ONLY: &[&str] = &[
    "discovery_requires_auth",
    "me_claim",
    "me_attribute",
    "bulk_max_operations",
    "bulk_max_payload_bytes",
    "docs_enabled",
    "scope_audit",
];
/// Settings only lists and searches read (paging and scans, RFC 7644
/// §3.4.2).
const LISTS_ONLY: &[&str] = &["page_size_default", "page_size_max", "filter_scan_max"];

/// `vars` without the settings `unused` names (they read as unset).
struct Without<'a> {
    vars: &'a dyn Vars,
    unused: &'a dyn Fn(&str) -> bool,
}

impl Vars for Without<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if (self.unused)(name) {
            None
        } else {
            self.vars.get(name)
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
    /// The configuration a `method` request on `path` (below the API
    /// prefix) can use: [`Config::from_vars`] without the settings of other
    /// routes, which keep their defaults and are not read (nor checked).
    /// Only the routes it knows are narrowed: `/{type}/{id}`, the POST of
    /// `/{type}`, lists and `.search`; every other route (discovery, `/Me`,
    /// `/Bulk`, ...) reads everything.
    pub fn for_request(vars: &dyn Vars, method: &str, path: &str) -> Result<Config, String> {
        // `/{type}/.search` answers POST only; other methods treat `.search`
        // as an id (RFC 7644 §3.4.3), as the service does.
        let one_resource = match Route::parse(path) {
            Route::Resource(..) => true,
            Route::Search(_) if method != "POST" => true,
            Route::Resources(_) if method == "POST" => true,
            Route::Resources(_) | Route::Search(_) | Route::RootSearch => false,
            _ => return Config::from_vars(vars),
        };
        let unused = |name: &str| {
            OTHER_ROUTES_ONLY.contains(&name)
                || (one_resource && LISTS_ONLY.contains(&name))
                || (name == "group_patch_response" && method != "PATCH")
        };
        Config::from_vars(&Without {
            vars,
            unused: &unused,
        })
    }

    /// Read the configuration. Malformed numbers are an error: a deployment
    /// should fail loudly rather than run with a setting it did not ask for.
    /// The JWKS fetch settings (`token_jwks_cache_ttl_secs`,
    /// `token_jwks_timeout_ms`) are read only with a `token_jwks_url`, and
    /// `me_attribute` only with a `me_claim`: without them nothing uses
    /// those settings.
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
        let jwks_url = vars.get("token_jwks_url");
        let me_claim = vars
            .get("me_claim")
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let (jwks_ttl_secs, jwks_timeout_ms) = match jwks_url {
            None => (d.auth.jwks_ttl_secs, d.auth.jwks_timeout_ms),
            Some(_) => (
                num("token_jwks_cache_ttl_secs", d.auth.jwks_ttl_secs as usize)? as u64,
                match num("token_jwks_timeout_ms", d.auth.jwks_timeout_ms as usize)? {
                    t @ 1..=MAX_JWKS_TIMEOUT_MS => t as u64,
                    t => {
                        return Err(format!(
                            "variable token_jwks_timeout_ms: {t} is not between 1 and {MAX_JWKS_TIMEOUT_MS}"
                        ))
                    }
                },
            ),
        };
        let me_attribute = match me_claim.as_ref().and(vars.get("me_attribute")) {
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
                jwks_url,
                jwks_ttl_secs,
                leeway_secs: num("token_leeway_secs", d.auth.leeway_secs as usize)? as u64,
                read_scope: vars.get("scope_read").unwrap_or(d.auth.read_scope.clone()),
                write_scope: vars
                    .get("scope_write")
                    .unwrap_or(d.auth.write_scope.clone()),
                audit_scope: vars.get("scope_audit").unwrap_or(d.auth.audit_scope.clone()),
                scope_prefix: vars
                    .get("token_scope_prefix")
                    .map(|p| p.trim().trim_end_matches('.').to_string()),
                jwks_timeout_ms,
                tenant_claim: vars.get("tenant_claim"),
                me_claim,
                discovery_requires_auth: flag("discovery_requires_auth", true)?,
            },
            rate_limit_per_hour: num("rate_limit_per_hour", 0)? as u64,
            trust_forwarded_headers: flag("trust_forwarded_headers", false)?,
            me_attribute,
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
        let c =
            Config::from_vars(&vars(&[("me_claim", "sub"), ("me_attribute", "USERNAME")])).unwrap();
        assert_eq!(c.me_attribute, MeAttribute::UserName);
        assert!(
            Config::from_vars(&vars(&[("me_claim", "sub"), ("me_attribute", "emails")])).is_err()
        );
        // Without /Me, me_attribute is neither used nor checked.
        let c = Config::from_vars(&vars(&[("me_attribute", "emails")])).unwrap();
        assert_eq!(c.auth.me_claim, None);
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
            ("token_jwks_url", "https://idp/keys"),
            ("token_jwks_timeout_ms", "1500"),
            ("token_jwks_cache_ttl_secs", "600"),
            ("trust_forwarded_headers", "true"),
        ]))
        .unwrap();
        assert_eq!(c.auth.scope_prefix.as_deref(), Some("afc!t1"));
        assert_eq!(c.auth.jwks_timeout_ms, 1500);
        assert_eq!(c.auth.jwks_ttl_secs, 600);
        assert!(c.trust_forwarded_headers);
        for bad in ["0", "30001", "soon"] {
            assert!(
                Config::from_vars(&vars(&[
                    ("token_jwks_url", "https://idp/keys"),
                    ("token_jwks_timeout_ms", bad)
                ]))
                .is_err(),
                "{bad}"
            );
        }
        // Without a JWKS URL nothing is fetched: the fetch settings are
        // neither used nor checked.
        let c = Config::from_vars(&vars(&[("token_jwks_timeout_ms", "soon")])).unwrap();
        assert_eq!(c.auth.jwks_timeout_ms, crate::auth::DEFAULT_JWKS_TIMEOUT_MS);
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

    /// Every variable set (valid, not the default), recording what is read.
    struct Counting {
        all: HashMap<&'static str, &'static str>,
        read: std::cell::RefCell<Vec<String>>,
    }

    impl Vars for Counting {
        fn get(&self, name: &str) -> Option<String> {
            self.read.borrow_mut().push(name.to_string());
            self.all.get(name).map(|v| v.to_string())
        }
    }

    fn every_variable_set() -> Counting {
        Counting {
            all: [
                ("token_issuer", "https://idp"),
                ("token_audience", "scim"),
                ("token_hs256_secret", "0123456789abcdef0123456789abcdef"),
                ("token_jwks_url", "https://idp/keys"),
                ("token_jwks_cache_ttl_secs", "600"),
                ("token_jwks_timeout_ms", "1500"),
                ("scope_read", "r"),
                ("me_claim", "sub"),
                ("me_attribute", "externalId"),
                ("discovery_requires_auth", "false"),
                ("page_size_default", "7"),
                ("page_size_max", "70"),
                ("filter_scan_max", "700"),
                ("max_body_bytes", "4096"),
                ("user_name_case_exact", "true"),
                ("roles_catalog_path", "/other.json"),
                ("rate_limit_per_hour", "5"),
                ("group_patch_response", "representation"),
                ("trust_forwarded_headers", "true"),
                ("bulk_max_operations", "5"),
                ("bulk_max_payload_bytes", "4096"),
                ("docs_enabled", "false"),
                ("audit_enabled", "true"),
                ("audit_retention_days", "3"),
                ("scope_audit", "a"),
            ]
            .into_iter()
            .collect(),
            read: Default::default(),
        }
    }

    #[test]
    fn a_request_reads_the_settings_its_route_uses() {
        // What each route uses is what it gets, as from_vars reads it.
        let full = Config::from_vars(&every_variable_set()).unwrap();
        let get = |method: &str, path: &str| {
            let v = every_variable_set();
            let c = Config::for_request(&v, method, path).unwrap();
            (c, v.read.into_inner())
        };
        for (method, path) in [
            ("GET", "/Users/abc"),
            ("PUT", "/Groups/abc"),
            ("DELETE", "/Users/abc"),
            ("POST", "/Users"),
        ] {
            let (c, read) = get(method, path);
            // Authentication, the body limit, the quota, the base URL and
            // the schema as configured...
            assert_eq!(c.auth.issuer, full.auth.issuer, "{method} {path}");
            assert_eq!(c.auth.audiences, full.auth.audiences);
            assert_eq!(c.auth.hs256_secret, full.auth.hs256_secret);
            assert_eq!(c.auth.read_scope, "r");
            assert_eq!(c.auth.jwks_timeout_ms, 1500);
            assert_eq!(c.max_body_bytes, 4096);
            assert_eq!(c.rate_limit_per_hour, 5);
            assert!(c.trust_forwarded_headers && c.schema.user_name_case_exact);
            assert_eq!(c.roles_catalog_path, "/other.json");
            assert_eq!((c.audit_enabled, c.audit_retention_days), (true, 3));
            // ...and the settings of lists, discovery, /Me and PATCH unread.
            let others = [OTHER_ROUTES_ONLY, LISTS_ONLY, &["group_patch_response"]];
            for unused in others.concat() {
                assert!(
                    !read.iter().any(|r| r == unused),
                    "{method} {path} read {unused}"
                );
            }
            assert_eq!(read.len(), 19, "{method} {path}: {read:?}");
        }
        let (c, read) = get("PATCH", "/Groups/abc");
        assert_eq!(c.group_patch_response, Return::Representation);
        assert_eq!(read.len(), 20, "{read:?}");
        for (method, path) in [
            ("GET", "/Users"),
            ("POST", "/Groups/.search"),
            ("POST", "/.search"),
        ] {
            let (c, read) = get(method, path);
            assert_eq!(
                (c.page_size_default, c.page_size_max, c.scan_max),
                (7, 70, 700),
                "{method} {path}"
            );
            assert_eq!(read.len(), 22, "{method} {path}: {read:?}");
        }
        // Discovery, /Me, /Bulk and unknown routes read everything.
        for (method, path) in [
            ("GET", "/ServiceProviderConfig"),
            ("GET", "/Me"),
            ("POST", "/Bulk"),
            ("GET", "/AuditEvents"),
            ("GET", "/Nothing/here/at/all"),
        ] {
            let (c, read) = get(method, path);
            assert!(!c.auth.discovery_requires_auth, "{method} {path}");
            assert_eq!(c.auth.me_claim.as_deref(), Some("sub"));
            assert_eq!(c.me_attribute, MeAttribute::ExternalId);
            assert_eq!(c.page_size_max, 70);
            assert_eq!(c.group_patch_response, Return::Representation);
            assert_eq!(c.bulk_max_operations, 5);
            assert!(!c.docs_enabled);
            assert_eq!(c.auth.audit_scope, "a");
            assert_eq!(read.len(), 30, "{method} {path}: {read:?}");
        }
    }

    #[test]
    fn a_bad_setting_fails_the_requests_that_use_it() {
        let bad = vars(&[("page_size_max", "lots")]);
        assert!(Config::for_request(&bad, "GET", "/Users").is_err());
        assert!(Config::for_request(&bad, "GET", "/ServiceProviderConfig").is_err());
        assert!(Config::for_request(&bad, "GET", "/Users/abc").is_ok());
        let bad = vars(&[("group_patch_response", "full")]);
        assert!(Config::for_request(&bad, "PATCH", "/Groups/abc").is_err());
        assert!(Config::for_request(&bad, "PUT", "/Groups/abc").is_ok());
        let bad = vars(&[("max_body_bytes", "big")]);
        assert!(Config::for_request(&bad, "GET", "/Users/abc").is_err());
    }
}
