//! Partial representations (RFC 7644 §3.9, §3.4.2.5): the `attributes` and
//! `excludedAttributes` query parameters (and their body counterparts in
//! `POST /.search`).
//!
//! Decisions:
//! * Both parameters given: `attributes` wins and `excludedAttributes` is
//!   ignored (RFC 7644 §3.9 calls them mutually exclusive). A parameter that is
//!   empty or lists nothing usable counts as not given.
//! * Parsing is tolerant and never fails: names are trimmed, empty entries
//!   (`a,,b`) skipped, and names that resolve to no attribute (unknown,
//!   malformed, undeclared URN) are ignored. The `Result` is kept so that a
//!   stricter mode can be added without changing callers.
//! * Names are case-insensitive and may be `attr`, `attr.sub`, URN-qualified
//!   (`urn:…:enterprise:2.0:User:manager.value`), or a bare schema URN (the
//!   whole extension, or for the core URN every core attribute). An unqualified
//!   name not found in the core schema falls back to the first extension that
//!   declares it. Undeclared names under an *open* extension are kept by name.
//! * `returned: always` attributes (`id`) are always kept, `returned: never`
//!   (`password`) always dropped, `returned: request` only when named (or their
//!   parent / extension is named in `attributes`). `schemas` is always kept.
//!   The same rules apply to sub-attributes.
//! * Complex values, multi-valued elements and extension objects left empty by
//!   the projection are removed.

use crate::error::ScimError;
use crate::schema::{AttrType, Attribute, ResourceType, Returned, Schema};
use serde_json::{Map, Value};

/// Where an attribute lives in a canonical resource document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// Top level: the common attributes and the core schema's.
    Core,
    /// Under the extension URN key.
    Ext(&'static str),
}

/// One parsed name of `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sel {
    container: Container,
    /// `None`: the whole container (a bare schema URN).
    attr: Option<String>,
    sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Neither parameter: every `default` and `always` attribute.
    All,
    Include(Vec<Sel>),
    Exclude(Vec<Sel>),
}

/// How one attribute is treated.
enum Decision<'s> {
    Drop,
    /// Keep; `request` sub-attributes only when `with_request`; the listed
    /// sub-attributes are removed (exclusion).
    Keep {
        with_request: bool,
        minus: Vec<&'s str>,
    },
    /// Keep only the listed sub-attributes (plus `always` ones).
    Only(Vec<&'s str>),
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    mode: Mode,
}

impl Default for Projection {
    /// No projection: the default representation.
    fn default() -> Self {
        Projection { mode: Mode::All }
    }
}

impl Projection {
    /// Parse the comma-separated `attributes` and `excludedAttributes`
    /// parameters (see the module documentation for the decisions taken).
    pub fn parse(
        rt: &ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let inc = attributes.map(|s| parse_list(rt, s)).unwrap_or_default();
        if !inc.is_empty() {
            return Ok(Projection {
                mode: Mode::Include(inc),
            });
        }
        let exc = excluded.map(|s| parse_list(rt, s)).unwrap_or_default();
        if !exc.is_empty() {
            return Ok(Projection {
                mode: Mode::Exclude(exc),
            });
        }
        Ok(Projection::default())
    }

    /// True when this is the default representation (no parameter given).
    pub fn is_default(&self) -> bool {
        self.mode == Mode::All
    }

    /// Apply to a full resource document (see the module documentation).
    pub fn apply(&self, rt: &ResourceType, doc: &mut Value) {
        let Some(obj) = doc.as_object_mut() else {
            return;
        };
        if self.mode == Mode::All && !schema_has_hidden_subattributes(rt) {
            // No parameters: only `returned: never` attributes go, and none
            // of them has a sub-attribute to look into. Skipping the walk
            // matters for a group of 10,000 members.
            obj.retain(|k, _| {
                !rt.attribute(None, k)
                    .is_some_and(|(_, a)| a.returned == Returned::Never)
            });
            return;
        }
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let ext = rt
                .schema_by_urn(&key)
                .filter(|s| !std::ptr::eq(*s, &rt.schema));
            let keep = match ext {
                Some(schema) => match obj.get_mut(&key) {
                    Some(Value::Object(inner)) => {
                        self.project_object(Container::Ext(schema.id), Some(schema), inner);
                        !inner.is_empty()
                    }
                    Some(v) => self.project_attr(Container::Ext(schema.id), &key, None, v),
                    None => true,
                },
                None => {
                    let def = rt.attribute(None, &key).map(|(_, a)| a);
                    match obj.get_mut(&key) {
                        Some(v) => self.project_attr(Container::Core, &key, def, v),
                        None => true,
                    }
                }
            };
            if !keep {
                obj.shift_remove(&key);
            }
        }
    }

    /// Whether the caller needs the top-level attribute `attr` (a core or
    /// common attribute name, a URN-qualified name, or an extension URN) at all:
    /// `false` when `apply` would drop every part of it, so e.g.
    /// `excludedAttributes=members` on Groups skips reading members.
    pub fn wants(&self, rt: &ResourceType, attr: &str) -> bool {
        let Some(sel) = resolve(rt, attr.trim()) else {
            // Not an attribute of this resource type: nothing to read.
            return matches!(self.mode, Mode::All | Mode::Exclude(_));
        };
        match sel.attr {
            None => match &self.mode {
                Mode::All => true,
                Mode::Include(sels) => sels.iter().any(|s| s.container == sel.container),
                Mode::Exclude(sels) => !sels
                    .iter()
                    .any(|s| s.container == sel.container && s.attr.is_none()),
            },
            Some(name) => {
                let def = lookup(rt, sel.container, &name);
                !matches!(self.decide(sel.container, &name, def), Decision::Drop)
            }
        }
    }

    /// Project every attribute of an extension object.
    fn project_object(
        &self,
        container: Container,
        schema: Option<&Schema>,
        obj: &mut Map<String, Value>,
    ) {
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            let def = schema.and_then(|s| s.attribute(&key));
            let keep = match obj.get_mut(&key) {
                Some(v) => self.project_attr(container, &key, def, v),
                None => true,
            };
            if !keep {
                obj.shift_remove(&key);
            }
        }
    }

    /// Project one attribute value in place; returns whether to keep it.
    fn project_attr(
        &self,
        container: Container,
        name: &str,
        def: Option<&Attribute>,
        v: &mut Value,
    ) -> bool {
        match self.decide(container, name, def) {
            Decision::Drop => false,
            Decision::Keep {
                with_request,
                minus,
            } => {
                let before_empty = is_empty(v);
                for_each_complex(def, v, |obj| {
                    obj.retain(|k, _| {
                        let sub = def.and_then(|d| d.sub(k));
                        let returned = sub.map_or(Returned::Default, |s| s.returned);
                        match returned {
                            Returned::Always => true,
                            Returned::Never => false,
                            Returned::Request if !with_request => false,
                            _ => !minus.iter().any(|m| m.eq_ignore_ascii_case(k)),
                        }
                    })
                });
                before_empty || !is_empty(v)
            }
            Decision::Only(subs) => {
                for_each_complex(def, v, |obj| {
                    obj.retain(|k, _| {
                        let sub = def.and_then(|d| d.sub(k));
                        match sub.map_or(Returned::Default, |s| s.returned) {
                            Returned::Always => true,
                            Returned::Never => false,
                            _ => subs.iter().any(|m| m.eq_ignore_ascii_case(k)),
                        }
                    })
                });
                // Only sub-attributes were asked for: a simple value has none.
                (v.is_object() || v.is_array()) && !is_empty(v)
            }
        }
    }

    fn decide<'s>(
        &'s self,
        container: Container,
        name: &str,
        def: Option<&Attribute>,
    ) -> Decision<'s> {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        match returned {
            Returned::Never => return Decision::Drop,
            Returned::Always => {
                return Decision::Keep {
                    with_request: true,
                    minus: Vec::new(),
                }
            }
            _ => {}
        }
        let mine = |s: &&'s Sel| {
            s.container == container
                && s.attr
                    .as_deref()
                    .is_none_or(|a| a.eq_ignore_ascii_case(name))
        };
        match &self.mode {
            Mode::All => {
                if returned == Returned::Request {
                    Decision::Drop
                } else {
                    Decision::Keep {
                        with_request: false,
                        minus: Vec::new(),
                    }
                }
            }
            Mode::Include(sels) => {
                let hits: Vec<&Sel> = sels.iter().filter(mine).collect();
                if hits.is_empty() {
                    Decision::Drop
                } else if hits.iter().any(|s| s.sub.is_none()) {
                    Decision::Keep {
                        with_request: true,
                        minus: Vec::new(),
                    }
                } else {
                    Decision::Only(hits.iter().filter_map(|s| s.sub.as_deref()).collect())
                }
            }
            Mode::Exclude(sels) => {
                let hits: Vec<&Sel> = sels.iter().filter(mine).collect();
                if returned == Returned::Request || hits.iter().any(|s| s.sub.is_none()) {
                    Decision::Drop
                } else {
                    Decision::Keep {
                        with_request: false,
                        minus: hits.iter().filter_map(|s| s.sub.as_deref()).collect(),
                    }
                }
            }
        }
    }
}

/// Run `f` on the complex value(s) of an attribute, dropping elements of a
/// multi-valued attribute left empty.
fn for_each_complex(
    def: Option<&Attribute>,
    v: &mut Value,
    mut f: impl FnMut(&mut Map<String, Value>),
) {
    if def.is_some_and(|d| d.ty != AttrType::Complex) {
        return;
    }
    match v {
        Value::Object(obj) => f(obj),
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(obj) => {
                    let was_empty = obj.is_empty();
                    f(obj);
                    was_empty || !obj.is_empty()
                }
                _ => true,
            });
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn parse_list(rt: &ResourceType, list: &str) -> Vec<Sel> {
    let mut out: Vec<Sel> = Vec::new();
    for name in list.split(',') {
        if let Some(sel) = resolve(rt, name.trim()) {
            if !out.contains(&sel) {
                out.push(sel);
            }
        }
    }
    out
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
}

/// Resolve one name to a selection, or `None` when it names nothing.
fn resolve(rt: &ResourceType, name: &str) -> Option<Sel> {
    if name.is_empty() {
        return None;
    }
    let (urn, rest) = rt.split_urn(name);
    let schema = match urn {
        Some(u) => Some(rt.schema_by_urn(u)?),
        None if name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:")) =>
        {
            return None
        }
        None => None,
    };
    let is_core = schema.is_none_or(|s| std::ptr::eq(s, &rt.schema));
    if rest.is_empty() {
        let container = match schema {
            Some(s) if !is_core => Container::Ext(s.id),
            _ => Container::Core,
        };
        return Some(Sel {
            container,
            attr: None,
            sub: None,
        });
    }
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if !valid_name(attr) || sub.is_some_and(|s| !valid_name(s)) {
        return None;
    }
    // Find the attribute: in the named schema, else the core (and common)
    // attributes, else the first extension declaring it.
    let found: Option<(Container, Option<&Attribute>)> = match schema {
        Some(s) if !is_core => match s.attribute(attr) {
            Some(a) => Some((Container::Ext(s.id), Some(a))),
            None if s.open => Some((Container::Ext(s.id), None)),
            None => None,
        },
        _ => match rt.attribute(urn, attr) {
            Some((_, a)) => Some((Container::Core, Some(a))),
            None if urn.is_some() => None,
            None => rt
                .extensions
                .iter()
                .find_map(|(s, _)| s.attribute(attr).map(|a| (Container::Ext(s.id), Some(a)))),
        },
    };
    let (container, def) = found?;
    let attr_name = def.map_or(attr.to_string(), |a| a.name.to_string());
    let sub_name = match (sub, def) {
        (None, _) => None,
        (Some(s), Some(d)) => match d.sub(s) {
            Some(sd) => Some(sd.name.to_string()),
            None if d.ty == AttrType::Complex && container_open(rt, container) => {
                Some(s.to_string())
            }
            None => return None,
        },
        (Some(s), None) => Some(s.to_string()),
    };
    Some(Sel {
        container,
        attr: Some(attr_name),
        sub: sub_name,
    })
}

fn container_open(rt: &ResourceType, c: Container) -> bool {
    match c {
        Container::Core => rt.schema.open,
        Container::Ext(id) => rt.schema_by_urn(id).is_some_and(|s| s.open),
    }
}

fn lookup<'r>(rt: &'r ResourceType, c: Container, name: &str) -> Option<&'r Attribute> {
    match c {
        Container::Core => rt.attribute(None, name).map(|(_, a)| a),
        Container::Ext(id) => rt.schema_by_urn(id).and_then(|s| s.attribute(name)),
    }
}

/// Whether any sub-attribute of `rt` is `returned: never` or `request`
/// (then even a parameterless projection must walk the document).
fn schema_has_hidden_subattributes(rt: &ResourceType) -> bool {
    let hidden = |a: &Attribute| {
        a.sub_attributes
            .iter()
            .any(|s| matches!(s.returned, Returned::Never | Returned::Request))
    };
    rt.schema.attributes.iter().any(hidden)
        || rt.extensions.iter().any(|(s, _)| {
            s.attributes
                .iter()
                .any(|a| hidden(a) || matches!(a.returned, Returned::Never | Returned::Request))
        })
        || rt
            .schema
            .attributes
            .iter()
            .any(|a| a.returned == Returned::Request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, SAP_USER};
    use crate::testutil::reg;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER, SAP_USER],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "bjensen",
            "password": "secret",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs",
            "active": true,
            "emails": [
                {"value": "b@work", "type": "work", "primary": true},
                {"value": "b@home", "type": "home"}
            ],
            ENTERPRISE_USER: {
                "employeeNumber": "42",
                "department": "R&D",
                "manager": {"value": "m1", "displayName": "Boss"}
            },
            SAP_USER: {"userUuid": "uuid-1", "custom": "kept"},
            "meta": {"resourceType": "User", "location": "http://h/Users/u1"}
        })
    }

    fn project(attrs: Option<&str>, excl: Option<&str>) -> Value {
        let r = reg();
        let p = Projection::parse(&r.user, attrs, excl).unwrap();
        let mut d = user();
        p.apply(&r.user, &mut d);
        d
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(|k| k.as_str()).collect()
    }

    #[test]
    fn default_drops_password_only() {
        let d = project(None, None);
        assert!(d.get("password").is_none());
        let mut expected = user();
        expected.as_object_mut().unwrap().shift_remove("password");
        assert_eq!(d, expected);
    }

    #[test]
    fn attributes_user_name_returns_id_schemas_user_name() {
        let d = project(Some("userName"), None);
        assert_eq!(keys(&d), vec!["schemas", "id", "userName"]);
        // case-insensitive, whitespace tolerated
        assert_eq!(project(Some(" USERNAME "), None), d);
    }

    #[test]
    fn attributes_sub_attribute_keeps_only_it() {
        let d = project(Some("name.givenName"), None);
        assert_eq!(d["name"], json!({"givenName": "Barbara"}));
        assert_eq!(keys(&d), vec!["schemas", "id", "name"]);
        let d = project(Some("emails.value"), None);
        assert_eq!(
            d["emails"],
            json!([{"value": "b@work"}, {"value": "b@home"}])
        );
    }

    #[test]
    fn whole_attribute_wins_over_sub_attribute() {
        let d = project(Some("name.givenName,name"), None);
        assert_eq!(d["name"], user()["name"]);
    }

    #[test]
    fn excluded_attributes_remove_and_keep_the_rest() {
        let d = project(None, Some("emails,name.givenName"));
        assert!(d.get("emails").is_none());
        assert_eq!(d["name"], json!({"familyName": "Jensen"}));
        assert_eq!(d["userName"], "bjensen");
        assert!(d.get("password").is_none());
        // emptied complex attributes disappear
        let d = project(None, Some("name.givenName,name.familyName"));
        assert!(d.get("name").is_none());
    }

    #[test]
    fn id_and_schemas_cannot_be_excluded() {
        let d = project(None, Some("id,schemas,userName"));
        assert_eq!(d["id"], "u1");
        assert!(d.get("schemas").is_some());
        assert!(d.get("userName").is_none());
    }

    #[test]
    fn password_never_returned() {
        assert!(project(Some("password"), None).get("password").is_none());
        assert!(project(Some("password,userName"), None)
            .get("password")
            .is_none());
        let r = reg();
        let p = Projection::parse(&r.user, Some("password"), None).unwrap();
        assert!(!p.wants(&r.user, "password"));
        assert!(!Projection::default().wants(&r.user, "password"));
    }

    #[test]
    fn urn_qualified_attribute_names() {
        let d = project(Some(&format!("{ENTERPRISE_USER}:employeeNumber")), None);
        assert_eq!(d[ENTERPRISE_USER], json!({"employeeNumber": "42"}));
        assert!(d.get(SAP_USER).is_none());
        let d = project(Some(&format!("{ENTERPRISE_USER}:manager.value")), None);
        assert_eq!(d[ENTERPRISE_USER], json!({"manager": {"value": "m1"}}));
        // core URN-qualified
        let d = project(
            Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            None,
        );
        assert_eq!(keys(&d), vec!["schemas", "id", "userName"]);
        // excluded
        let d = project(
            None,
            Some(&format!("{}:department", ENTERPRISE_USER.to_uppercase())),
        );
        assert_eq!(
            d[ENTERPRISE_USER],
            json!({"employeeNumber": "42", "manager": {"value": "m1", "displayName": "Boss"}})
        );
    }

    #[test]
    fn bare_extension_urn_means_the_whole_extension() {
        let d = project(Some(ENTERPRISE_USER), None);
        assert_eq!(d[ENTERPRISE_USER], user()[ENTERPRISE_USER]);
        assert_eq!(keys(&d), vec!["schemas", "id", ENTERPRISE_USER]);
        let d = project(None, Some(ENTERPRISE_USER));
        assert!(d.get(ENTERPRISE_USER).is_none());
        assert!(d.get(SAP_USER).is_some());
        // the core URN alone means every core attribute
        let d = project(Some("urn:ietf:params:scim:schemas:core:2.0:User"), None);
        assert!(d.get("userName").is_some() && d.get("emails").is_some());
        assert!(d.get(ENTERPRISE_USER).is_none() && d.get("password").is_none());
    }

    #[test]
    fn open_extension_keeps_undeclared_names() {
        let d = project(Some(&format!("{SAP_USER}:custom")), None);
        assert_eq!(d[SAP_USER], json!({"custom": "kept"}));
        let d = project(None, Some(&format!("{SAP_USER}:custom")));
        assert_eq!(d[SAP_USER], json!({"userUuid": "uuid-1"}));
    }

    #[test]
    fn unqualified_extension_attribute_falls_back() {
        let d = project(Some("employeeNumber"), None);
        assert_eq!(d[ENTERPRISE_USER], json!({"employeeNumber": "42"}));
    }

    #[test]
    fn unknown_and_malformed_names_are_ignored() {
        let d = project(Some("nope,urn:x:y:z:a,emails[type eq \"work\"],,"), None);
        // nothing usable: the default representation
        assert_eq!(d, project(None, None));
        let d = project(Some("nope,userName"), None);
        assert_eq!(keys(&d), vec!["schemas", "id", "userName"]);
        let d = project(None, Some("nope,name.nope"));
        assert_eq!(d, project(None, None));
    }

    #[test]
    fn attributes_win_over_excluded_attributes() {
        let d = project(Some("userName"), Some("userName"));
        assert_eq!(keys(&d), vec!["schemas", "id", "userName"]);
    }

    #[test]
    fn excluded_members_are_not_wanted() {
        let r = reg();
        let p = Projection::parse(&r.group, None, Some("members")).unwrap();
        assert!(!p.wants(&r.group, "members"));
        assert!(p.wants(&r.group, "displayName"));
        let mut g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G", "members": [{"value": "u1"}]});
        p.apply(&r.group, &mut g);
        assert!(g.get("members").is_none());
        assert_eq!(g["displayName"], "G");

        let p = Projection::parse(&r.group, Some("displayName"), None).unwrap();
        assert!(!p.wants(&r.group, "members"));
        let p = Projection::parse(&r.group, Some("members.value"), None).unwrap();
        assert!(p.wants(&r.group, "MEMBERS"));
        let p = Projection::parse(&r.group, None, Some("members.display")).unwrap();
        assert!(p.wants(&r.group, "members"));
        assert!(Projection::default().wants(&r.group, "members"));
    }

    #[test]
    fn wants_extensions_and_always_attributes() {
        let r = reg();
        let p = Projection::parse(&r.user, Some("userName"), None).unwrap();
        assert!(p.wants(&r.user, "id"));
        assert!(!p.wants(&r.user, ENTERPRISE_USER));
        assert!(!p.wants(&r.user, "meta"));
        let p =
            Projection::parse(&r.user, Some(&format!("{ENTERPRISE_USER}:manager")), None).unwrap();
        assert!(p.wants(&r.user, ENTERPRISE_USER));
        let p = Projection::parse(&r.user, None, Some(ENTERPRISE_USER)).unwrap();
        assert!(!p.wants(&r.user, ENTERPRISE_USER));
        assert!(p.wants(&r.user, SAP_USER));
    }

    #[test]
    fn request_attributes_only_when_asked() {
        // No built-in attribute is `returned: request`; build one.
        let mut r = reg();
        r.user
            .schema
            .attributes
            .push(Attribute::string("secretish").returned(Returned::Request));
        let mut d = user();
        d["secretish"] = json!("s");
        let mut a = d.clone();
        Projection::default().apply(&r.user, &mut a);
        assert!(a.get("secretish").is_none());
        let mut b = d.clone();
        Projection::parse(&r.user, None, Some("userName"))
            .unwrap()
            .apply(&r.user, &mut b);
        assert!(b.get("secretish").is_none());
        let mut c = d.clone();
        let p = Projection::parse(&r.user, Some("secretish"), None).unwrap();
        assert!(p.wants(&r.user, "secretish"));
        p.apply(&r.user, &mut c);
        assert_eq!(c["secretish"], "s");
    }

    #[test]
    fn simple_attribute_with_bogus_sub_is_ignored() {
        let d = project(Some("userName.x"), None);
        assert_eq!(d, project(None, None));
    }
}
