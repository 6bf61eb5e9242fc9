//! Attribute paths (RFC 7644 §3.10) and PATCH target paths (RFC 7644 §3.5.2).
//!
//! An attribute path is `[URN ":"] attrName ["." subAttr]`. Names are matched
//! case-insensitively against the schemas (RFC 7643 §2.1) but kept as written,
//! so that `Display` reproduces what the client sent in canonical syntax.
//!
//! A PATCH path is `attrPath` or `valuePath ["." subAttr]`, where a value path is
//! `attr[valFilter]`: `members[value eq "2819c223"]`, `emails[type eq "work"].value`.

use crate::error::ScimError;
use crate::filter::Filter;
use crate::schema::{get_ci, AttrType, Attribute, ResourceType, Schema};
use serde_json::Value;
use std::fmt;

/// `[URN ":"] attrName ["." subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN the path was qualified with, as written.
    pub urn: Option<String>,
    /// The attribute name, as written.
    pub attr: String,
    /// The sub-attribute name after `.`, as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path from its parts (not validated).
    pub fn new(urn: Option<&str>, attr: &str, sub: Option<&str>) -> Self {
        AttrPath {
            urn: urn.map(str::to_string),
            attr: attr.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    /// Parse `[URN ":"] attrName ["." subAttr]`; the URN must be one `rt`
    /// declares (split with [`ResourceType::split_urn`]). Errors are 400 `invalidPath`.
    /// Whether the attribute exists is not checked here: see [`AttrPath::resolve`].
    pub fn parse(rt: &ResourceType, s: &str) -> Result<AttrPath, ScimError> {
        Self::parse_with(rt, s, ScimError::invalid_path)
    }

    /// [`AttrPath::parse`] with the caller's error constructor (for example
    /// `ScimError::invalid_filter` or `ScimError::invalid_syntax`).
    pub fn parse_with(
        rt: &ResourceType,
        s: &str,
        err: impl Fn(String) -> ScimError,
    ) -> Result<AttrPath, ScimError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(err("empty attribute path".to_string()));
        }
        if s.len() > crate::filter::MAX_FILTER_LEN {
            return Err(err(format!(
                "attribute path is too long ({} bytes; at most maxFilterLength ({}))",
                s.len(),
                crate::filter::MAX_FILTER_LEN
            )));
        }
        let (urn, rest) = rt.split_urn(s);
        if urn.is_none() && starts_with_urn(s) {
            let shown = s.rfind(':').map_or(s, |i| &s[..i]);
            return Err(err(format!(
                "unknown schema URN '{}' in attribute path; {} resources declare {}",
                snippet(shown),
                rt.name,
                rt.schema_ids().collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(u) = urn {
            if rest.is_empty() {
                return Err(err(format!(
                    "'{u}' names a schema, not an attribute; append ':attributeName'"
                )));
            }
        }
        let (attr, sub) = split_attr_sub(rest).map_err(&err)?;
        Ok(AttrPath::new(urn, attr, sub))
    }

    /// Parse a path without a resource type (used by the filter parser): the
    /// URN, if any, is everything up to the last `:` (attribute names hold no
    /// colon). Returns the problem as text.
    pub(crate) fn parse_syntax(text: &str) -> Result<AttrPath, String> {
        let (urn, rest) = if starts_with_urn(text) {
            // `starts_with_urn` guarantees a ':' at byte 3.
            let i = text.rfind(':').unwrap_or(3);
            let urn = &text[..i];
            if urn.len() <= 4 || urn.split(':').any(str::is_empty) {
                return Err(format!("invalid schema URN in '{}'", snippet(text)));
            }
            (Some(urn), &text[i + 1..])
        } else {
            (None, text)
        };
        if rest.is_empty() {
            return Err(format!(
                "missing attribute name after schema URN '{}'",
                snippet(urn.unwrap_or(text))
            ));
        }
        let (attr, sub) = split_attr_sub(rest)?;
        Ok(AttrPath::new(urn, attr, sub))
    }

    /// Resolve against the schemas of `rt`: (the schema, or `None` for the
    /// common attributes `id`/`externalId`/`meta`; the attribute; the
    /// sub-attribute if the path has one). `None` if the attribute (or the
    /// sub-attribute) is not declared.
    ///
    /// Without a URN, the common attributes and the core schema are searched
    /// first, then the extensions (tolerance: `employeeNumber` finds the
    /// Enterprise User attribute).
    pub fn resolve<'r>(
        &self,
        rt: &'r ResourceType,
    ) -> Option<(Option<&'r Schema>, &'r Attribute, Option<&'r Attribute>)> {
        let (schema, a) = match rt.attribute(self.urn.as_deref(), &self.attr) {
            Some(found) => found,
            None if self.urn.is_none() => rt
                .extensions
                .iter()
                .find_map(|(s, _)| s.attribute(&self.attr).map(|a| (Some(s), a)))?,
            None => return None,
        };
        let sub = match &self.sub {
            None => None,
            Some(name) => Some(a.sub(name)?),
        };
        Some((schema, a, sub))
    }

    /// The values found at this path in `doc` (a resource of type `rt`), nulls
    /// left out and multi-valued attributes flattened: for `emails.value` every
    /// email's value, for `emails` the element objects. Empty when the path is
    /// unknown to the schema (undeclared names of open extension schemas are
    /// looked up as written).
    pub fn values<'a>(&self, rt: &ResourceType, doc: &'a Value) -> Vec<&'a Value> {
        let mut out = Vec::new();
        if let Some(loc) = self.locate(rt) {
            loc.any(doc, &mut |v| {
                out.push(v);
                false
            });
        }
        out
    }

    /// Where the values of this path live in a document. `None` when the path
    /// is unknown: not declared, and not an undeclared name under a declared
    /// *open* extension schema (those are evaluated with types inferred from
    /// the JSON values). `schemas` is known too (RFC 7644's filter example
    /// `schemas eq "urn:...:enterprise:2.0:User"`).
    pub(crate) fn locate<'a>(&'a self, rt: &'a ResourceType) -> Option<Loc<'a>> {
        if let Some((schema, a, sd)) = self.resolve(rt) {
            let ext = schema
                .filter(|s| !std::ptr::eq(*s, &rt.schema))
                .map(|s| s.id);
            return Some(Loc {
                ext,
                key: a.name,
                sub: sd.map(|s| s.name),
                attr: Some(a),
                sub_attr: sd,
            });
        }
        match &self.urn {
            Some(u) => {
                let s = rt.schema_by_urn(u)?;
                if !s.open || std::ptr::eq(s, &rt.schema) || s.attribute(&self.attr).is_some() {
                    return None;
                }
                Some(Loc {
                    ext: Some(s.id),
                    key: &self.attr,
                    sub: self.sub.as_deref(),
                    attr: None,
                    sub_attr: None,
                })
            }
            None if self.sub.is_none() && self.attr.eq_ignore_ascii_case("schemas") => Some(Loc {
                ext: None,
                key: "schemas",
                sub: None,
                attr: Some(schemas_attribute()),
                sub_attr: None,
            }),
            None => None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// The `schemas` attribute every resource carries (RFC 7643 §3), for filters.
fn schemas_attribute() -> &'static Attribute {
    use std::sync::OnceLock;
    static SCHEMAS: OnceLock<Attribute> = OnceLock::new();
    SCHEMAS.get_or_init(|| Attribute::new("schemas", AttrType::Reference).multi())
}

/// A located path: `doc[ext]?[key]` then, per element, `[sub]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc<'a> {
    /// The extension URN whose object holds the attribute; `None`: top level.
    pub ext: Option<&'a str>,
    /// The attribute's key: its schema name when declared, else as written.
    pub key: &'a str,
    /// The sub-attribute's key within each element, if the path has one.
    pub sub: Option<&'a str>,
    /// `None` for undeclared names of open schemas.
    pub attr: Option<&'a Attribute>,
    /// The sub-attribute's definition, when declared.
    pub sub_attr: Option<&'a Attribute>,
}

impl<'a> Loc<'a> {
    /// Call `f` on each non-null value at this location (arrays flattened)
    /// until it returns true; returns whether it did.
    pub fn any<'v>(&self, doc: &'v Value, f: &mut impl FnMut(&'v Value) -> bool) -> bool {
        let Some(mut obj) = doc.as_object() else {
            return false;
        };
        if let Some(ext) = self.ext {
            match get_ci(obj, ext) {
                Some(Value::Object(o)) => obj = o,
                _ => return false,
            }
        }
        let Some(v) = get_ci(obj, self.key) else {
            return false;
        };
        match self.sub {
            None => any_flat(v, f),
            Some(s) => match v {
                Value::Array(items) => items.iter().any(|e| match e {
                    Value::Object(o) => get_ci(o, s).is_some_and(|x| any_flat(x, f)),
                    _ => false,
                }),
                Value::Object(o) => get_ci(o, s).is_some_and(|x| any_flat(x, f)),
                _ => false,
            },
        }
    }
}

/// `f` on `v`, or on each non-null element if `v` is an array.
pub(crate) fn any_flat<'v>(v: &'v Value, f: &mut impl FnMut(&'v Value) -> bool) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(|x| !x.is_null() && f(x)),
        _ => f(v),
    }
}

/// PATCH target path (RFC 7644 §3.5.2): `attrPath`, or `attr[filter]`
/// optionally followed by `.subAttr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; its `sub` is `None` when `filter` is `Some`.
    pub attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute; paths
    /// inside are sub-attribute names (evaluate with [`Filter::matches_element`]).
    pub filter: Option<Filter>,
    /// The sub-attribute after `]` (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// Parse a PATCH `path` (RFC 7644 §3.5.2). Errors are 400 `invalidPath` with
/// the position of the problem. The attribute's existence is not checked (see
/// [`AttrPath::resolve`]); an undeclared schema URN is an error.
pub fn parse_patch_path(rt: &ResourceType, s: &str) -> Result<PatchPath, ScimError> {
    let s = s.trim();
    if s.len() > crate::filter::MAX_FILTER_LEN {
        return Err(ScimError::invalid_path(format!(
            "path is too long ({} bytes; at most maxFilterLength ({}))",
            s.len(),
            crate::filter::MAX_FILTER_LEN
        )));
    }
    let Some(open) = s.find('[') else {
        if let Some(i) = s.find([']', '(', ')', '"', ' ']) {
            return Err(ScimError::invalid_path(format!(
                "invalid path: unexpected '{}' at position {}",
                &s[i..i + 1],
                s[..i].chars().count() + 1
            )));
        }
        return Ok(PatchPath {
            attr: AttrPath::parse(rt, s)?,
            filter: None,
            sub: None,
        });
    };
    let attr = AttrPath::parse(rt, &s[..open])?;
    if attr.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "invalid path: a value filter '[...]' must follow an attribute name, not the sub-attribute '{attr}'"
        )));
    }
    let (filter, end) = crate::filter::parse_value_filter(s, open)
        .map_err(|e| ScimError::invalid_path(e.render(s, "invalid path")))?;
    let rest = &s[end..];
    let sub = if rest.is_empty() {
        None
    } else if let Some(name) = rest.strip_prefix('.') {
        if !is_attr_name(name) {
            return Err(ScimError::invalid_path(format!(
                "invalid path: invalid sub-attribute name '{}' at position {}",
                snippet(name),
                s[..end + 1].chars().count() + 1
            )));
        }
        Some(name.to_string())
    } else {
        return Err(ScimError::invalid_path(format!(
            "invalid path: unexpected '{}' at position {}; expected '.subAttribute' or the end of the path",
            snippet(rest),
            s[..end].chars().count() + 1
        )));
    };
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`
/// (RFC 7643 §2.1), with a leading `$` allowed for `$ref`.
pub(crate) fn is_attr_name(s: &str) -> bool {
    let b = s.strip_prefix('$').unwrap_or(s).as_bytes();
    match b.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        }
        None => false,
    }
}

/// `attr["." sub]`, both checked against the ATTRNAME grammar.
fn split_attr_sub(rest: &str) -> Result<(&str, Option<&str>), String> {
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if !is_attr_name(attr) {
        return Err(format!("invalid attribute name '{}'", snippet(attr)));
    }
    if let Some(s) = sub {
        if !is_attr_name(s) {
            return Err(format!(
                "invalid sub-attribute name '{}' (paths have at most one level of sub-attribute)",
                snippet(s)
            ));
        }
    }
    Ok((attr, sub))
}

fn starts_with_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// At most 40 characters of `s`, for error messages.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, SAP_USER, USER};
    use crate::testutil::reg;
    use crate::ScimType;
    use serde_json::json;

    fn user_doc() -> Value {
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223",
            "userName": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"created": "2011-05-13T04:42:34Z"},
            ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
            SAP_USER: {"customField": "x"}
        })
    }

    #[test]
    fn parses_plain_sub_and_urn_paths() {
        let r = reg();
        let p = AttrPath::parse(&r.user, "name.familyName").unwrap();
        assert_eq!(p, AttrPath::new(None, "name", Some("familyName")));
        let p = AttrPath::parse(&r.user, &format!("{ENTERPRISE_USER}:manager.value")).unwrap();
        assert_eq!(p.urn.as_deref(), Some(ENTERPRISE_USER));
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("manager", Some("value"))
        );
        assert_eq!(p.to_string(), format!("{ENTERPRISE_USER}:manager.value"));
        let p = AttrPath::parse(&r.group, "members.$ref").unwrap();
        assert_eq!(p.sub.as_deref(), Some("$ref"));
        let p = AttrPath::parse(&r.user, &format!("{USER}:userName")).unwrap();
        assert_eq!(p.urn.as_deref(), Some(USER));
    }

    #[test]
    fn rejects_malformed_paths_with_invalid_path() {
        let r = reg();
        for bad in [
            "",
            "a.b.c",
            "1abc",
            "na me",
            "name.",
            ".name",
            "urn:ietf:params:scim:schemas:extension:nope:2.0:User:x",
            ENTERPRISE_USER,
            "emails[",
            "user*name",
        ] {
            let e = AttrPath::parse(&r.user, bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
        }
        let e = AttrPath::parse_with(&r.user, "a.b.c", ScimError::invalid_filter).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn resolves_case_insensitively() {
        let r = reg();
        let (s, a, sub) = AttrPath::parse(&r.user, "NAME.GIVENNAME")
            .unwrap()
            .resolve(&r.user)
            .unwrap();
        assert_eq!(
            (s.unwrap().id, a.name, sub.unwrap().name),
            (USER, "name", "givenName")
        );
        let (s, a, _) = AttrPath::parse(&r.user, "DisplayName")
            .unwrap()
            .resolve(&r.user)
            .unwrap();
        assert_eq!((s.unwrap().id, a.name), (USER, "displayName"));
        let (_, a, sub) = AttrPath::parse(&r.user, "emails.Value")
            .unwrap()
            .resolve(&r.user)
            .unwrap();
        assert_eq!((a.name, sub.unwrap().name), ("emails", "value"));
        let (s, a, _) = AttrPath::parse(&r.user, "meta.lastModified")
            .unwrap()
            .resolve(&r.user)
            .unwrap();
        assert!(s.is_none());
        assert_eq!(a.name, "meta");
        // Unqualified extension attribute: found in the extension (tolerance).
        let (s, a, _) = AttrPath::parse(&r.user, "employeeNumber")
            .unwrap()
            .resolve(&r.user)
            .unwrap();
        assert_eq!((s.unwrap().id, a.name), (ENTERPRISE_USER, "employeeNumber"));
        assert!(AttrPath::parse(&r.user, "nope")
            .unwrap()
            .resolve(&r.user)
            .is_none());
        assert!(AttrPath::parse(&r.user, "name.nope")
            .unwrap()
            .resolve(&r.user)
            .is_none());
    }

    #[test]
    fn values_flatten_multi_valued_and_read_extensions() {
        let r = reg();
        let doc = user_doc();
        let vals = |p: &str| {
            AttrPath::parse(&r.user, p)
                .unwrap()
                .values(&r.user, &doc)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            vals("emails.value"),
            vec![json!("bjensen@example.com"), json!("babs@jensen.org")]
        );
        assert_eq!(vals("emails").len(), 2);
        assert_eq!(vals("userName"), vec![json!("bjensen")]);
        assert_eq!(vals("USERNAME"), vec![json!("bjensen")]);
        assert_eq!(vals("name.familyName"), vec![json!("Jensen")]);
        assert_eq!(
            vals(&format!("{ENTERPRISE_USER}:manager.value")),
            vec![json!("26118915")]
        );
        assert_eq!(vals("employeeNumber"), vec![json!("701984")]);
        assert_eq!(vals(&format!("{SAP_USER}:customField")), vec![json!("x")]);
        assert!(vals("title").is_empty());
        assert!(vals("nickName").is_empty());
    }

    #[test]
    fn patch_paths() {
        let r = reg();
        let p = parse_patch_path(&r.group, r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(p.attr.attr, "members");
        assert!(p.filter.is_some() && p.sub.is_none());
        assert_eq!(p.to_string(), r#"members[value eq "2819c223"]"#);
        let p = parse_patch_path(&r.user, r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
        let p = parse_patch_path(&r.user, "name.givenName").unwrap();
        assert_eq!(p.attr.sub.as_deref(), Some("givenName"));
        assert!(p.filter.is_none());
        let p = parse_patch_path(&r.user, &format!("{ENTERPRISE_USER}:manager")).unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some(ENTERPRISE_USER));
        let p = parse_patch_path(
            &r.user,
            r#"addresses[type eq "work" and primary eq true].streetAddress"#,
        )
        .unwrap();
        assert_eq!(p.sub.as_deref(), Some("streetAddress"));
        let el = json!({"type": "work", "primary": true});
        let addresses = r.user.attribute(None, "addresses").unwrap().1;
        assert!(p.filter.unwrap().matches_element(&r.user, addresses, &el));
    }

    #[test]
    fn malformed_patch_paths_are_invalid_path() {
        let r = reg();
        for bad in [
            r#"members[value eq "x""#,
            r#"members[value eq "x"]x"#,
            r#"members[value eq "x"].a.b"#,
            r#"members[value eq ]"#,
            r#"members[]"#,
            r#"members[emails[type eq "x"]]"#,
            r#"name.givenName[value eq "x"]"#,
            r#"members]"#,
            "members value",
            "",
        ] {
            let e = parse_patch_path(&r.group, bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}: {e}");
        }
        let e = parse_patch_path(&r.group, r#"members[value xx "x"]"#).unwrap_err();
        assert!(e.detail.contains("position 15"), "{}", e.detail);
    }
}
