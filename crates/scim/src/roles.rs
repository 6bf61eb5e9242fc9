//! The role catalog: configuration, not API data. It is read from a JSON file
//! shipped with the app (spin.toml `files`); role ids are the catalog's own
//! stable UUIDs. A catalog that fails to parse is an error on every request
//! that needs it, never a silently empty catalog.

use crate::error::{Result, ScimError};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    pub id: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub roles: Vec<RoleDef>,
}

impl Catalog {
    /// Parse and check a catalog: ids are UUIDs, ids and names unique.
    pub fn parse(json: &str) -> std::result::Result<Catalog, String> {
        let c: Catalog = serde_json::from_str(json).map_err(|e| format!("role catalog: {e}"))?;
        for (i, r) in c.roles.iter().enumerate() {
            if uuid::Uuid::parse_str(&r.id).is_err() {
                return Err(format!(
                    "role catalog: role {i}: id {:?} is not a UUID",
                    r.id
                ));
            }
            if r.display_name.trim().is_empty() {
                return Err(format!("role catalog: role {i}: empty displayName"));
            }
            if c.roles[..i]
                .iter()
                .any(|o| o.id.eq_ignore_ascii_case(&r.id))
            {
                return Err(format!("role catalog: duplicate id {}", r.id));
            }
            if c.roles[..i]
                .iter()
                .any(|o| o.display_name == r.display_name)
            {
                return Err(format!(
                    "role catalog: duplicate displayName {:?}",
                    r.display_name
                ));
            }
        }
        Ok(c)
    }

    pub fn get(&self, id: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}

/// The error a request gets when the catalog is unusable: the operator's
/// configuration is wrong, so 500 with the parse error (no client data in it).
pub fn unavailable(reason: &str) -> ScimError {
    ScimError::internal(format!("the role catalog is not usable: {reason}"))
}

pub fn load(source: std::result::Result<String, String>) -> Result<Catalog> {
    let text = source.map_err(|e| unavailable(&e))?;
    Catalog::parse(&text).map_err(|e| unavailable(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_catalog_parses() {
        let text = include_str!("../../../roles.json");
        let c = Catalog::parse(text).unwrap();
        assert!(!c.roles.is_empty());
        assert!(c.get(&c.roles[0].id.to_uppercase()).is_some());
    }

    #[test]
    fn bad_catalogs_are_errors_not_empty_catalogs() {
        for bad in [
            "",
            "{",
            "{\"roles\": 5}",
            "{\"roles\": [{\"id\": \"x\", \"displayName\": \"A\"}]}",
            "{\"roles\": [{\"id\": \"9d1e2a4c-5a8f-4c9e-8f3b-1a2b3c4d5e6f\", \"displayName\": \"\"}]}",
            "{\"roles\": [{\"id\": \"9d1e2a4c-5a8f-4c9e-8f3b-1a2b3c4d5e6f\", \"displayName\": \"A\"}, {\"id\": \"9d1e2a4c-5a8f-4c9e-8f3b-1a2b3c4d5e6f\", \"displayName\": \"B\"}]}",
        ] {
            assert!(Catalog::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(load(Err("missing file".into())).unwrap_err().status, 500);
    }
}
