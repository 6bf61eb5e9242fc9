//! Query parameters of list and search requests (RFC 7644 §3.4.2–§3.4.3):
//! filter, sortBy/sortOrder, startIndex/count, attributes/excludedAttributes,
//! `cursor` (RFC 9865 §2, decoded in [`cursor`]), and the ListResponse.

pub mod cursor;

use crate::config::Config;
use crate::error::{Result, ScimError};
use crate::filter::path::AttrPath;
use crate::filter::Filter;
use crate::http::Request;
use crate::projection::Projection;
use crate::schema::{get_ci, AttrType, ResourceType};
use serde_json::{json, Value};
use std::cmp::Ordering;

/// The ListResponse message's schema (RFC 7644 §3.4.2).
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A parsed list or search query.
pub struct Query {
    pub filter: Option<Filter>,
    /// The filter or sortBy text mentions `members`, `groups` or `roles`:
    /// the caller then reads them whatever the projection keeps.
    pub filter_needs_members: bool,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based (RFC 7644 §3.4.2.4); values below 1 mean 1.
    pub start_index: usize,
    pub count: usize,
    pub projection: Projection,
    /// `Some` (possibly empty) when the client pages by cursor (RFC 9865
    /// §2); the text is decoded by [`cursor::Cursor::decode`].
    pub cursor: Option<String>,
}

/// Raw parameter values, from the query string or a SearchRequest body.
#[derive(Default)]
pub struct Params {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
    pub cursor: Option<String>,
}

impl Params {
    pub fn from_query(req: &Request) -> Params {
        let mut p = Params::default();
        for (k, v) in req.query_pairs() {
            let slot = match k.to_ascii_lowercase().as_str() {
                "filter" => &mut p.filter,
                "sortby" => &mut p.sort_by,
                "sortorder" => &mut p.sort_order,
                "startindex" => &mut p.start_index,
                "count" => &mut p.count,
                "attributes" => &mut p.attributes,
                "excludedattributes" => &mut p.excluded,
                "cursor" => &mut p.cursor,
                _ => continue,
            };
            *slot = Some(v);
        }
        p
    }

    /// A SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Params> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let text = |name: &str| -> Result<Option<String>> {
            match crate::schema::get_ci(obj, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(a)) => {
                    let parts: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
                    parts.map(|p| Some(p.join(","))).ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must hold strings"))
                    })
                }
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} has the wrong type"
                ))),
            }
        };
        Ok(Params {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            attributes: text("attributes")?,
            excluded: text("excludedAttributes")?,
            cursor: text("cursor")?,
        })
    }

    pub fn parse(&self, rt: &ResourceType, cfg: &Config) -> Result<Query> {
        let filter = match self.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => {
                let parsed = crate::filter::parse(f)?;
                parsed.check(rt)?;
                Some(parsed)
            }
        };
        let start_index = saturating(number(&self.start_index, "startIndex")?.unwrap_or(1)).max(1);
        if self.cursor.is_some() {
            // RFC 9865 §2: a client asks for one pagination method, by
            // sending `startIndex` or `cursor`.
            if self
                .start_index
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
            {
                return Err(ScimError::invalid_value(
                    "startIndex and cursor cannot be combined: page either by index or by cursor",
                ));
            }
            // RFC 9865 §2.2 wants cursor pages sorted when sortBy is
            // supported; a sorted walk would need the sort key in the
            // cursor, which this server does not do.
            if self
                .sort_by
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
            {
                return Err(ScimError::invalid_value(
                    "sortBy is not available with cursor paging; page a sorted list with \
                     startIndex",
                ));
            }
        }
        let count = match number(&self.count, "count")? {
            None => cfg.page_size_default,
            // RFC 7644 §3.4.2.4: negative counts mean 0; larger than the
            // maximum are clamped to it.
            Some(c) => saturating(c).min(cfg.page_size_max),
        };
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                Some(AttrPath::parse(rt, s).map_err(|e| ScimError::invalid_value(e.detail))?)
            }
        };
        let descending = match self
            .sort_order
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => false,
            Some(s) if s.is_empty() || s == "ascending" => false,
            Some(s) if s == "descending" => true,
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "sortOrder must be \"ascending\" or \"descending\"",
                ))
            }
        };
        let filter_needs_members = [&self.filter, &self.sort_by]
            .into_iter()
            .flatten()
            .map(|t| t.to_ascii_lowercase())
            .any(|t| ["members", "groups", "roles"].iter().any(|a| t.contains(a)));
        Ok(Query {
            filter,
            filter_needs_members,
            sort_by,
            descending,
            start_index,
            count,
            projection: Projection::parse(
                rt,
                self.attributes.as_deref(),
                self.excluded.as_deref(),
            )?,
            cursor: self.cursor.clone(),
        })
    }
}

/// Sort documents by `path` (RFC 7644 §3.4.2.3): strings by the attribute's
/// case sensitivity, numbers and dateTimes by value; resources without a
/// value sort last. The sort is stable, so ties keep list order.
pub fn sort(rt: &ResourceType, docs: &mut [Value], path: &AttrPath, descending: bool) {
    let resolved = path.resolve(rt);
    // A complex attribute named alone (`emails`) sorts by its `value`.
    let value_sub = resolved
        .filter(|(_, a, sub)| sub.is_none() && a.ty == AttrType::Complex)
        .and_then(|(_, a, _)| a.sub("value"));
    let compared = resolved.map(|(_, a, sub)| sub.or(value_sub).unwrap_or(a));
    let case_exact = compared.map(|a| a.case_exact).unwrap_or(false);
    let ty = compared.map(|a| a.ty).unwrap_or(AttrType::String);
    // Multi-valued complex: the sub-attribute of the primary element if any,
    // else of the first element that has it.
    let multi_sub = resolved
        .filter(|(_, a, _)| a.multi_valued && a.ty == AttrType::Complex)
        .and_then(|_| path.sub.as_deref().or(value_sub.map(|s| s.name)));
    let elements = AttrPath::new(path.urn.as_deref(), &path.attr, None);
    let key = |d: &Value| -> Option<Value> {
        let Some(sub) = multi_sub else {
            return path.values(rt, d).first().map(|v| (*v).clone());
        };
        let with_sub: Vec<&Value> = elements
            .values(rt, d)
            .into_iter()
            .filter(|e| {
                e.as_object()
                    .and_then(|o| get_ci(o, sub))
                    .is_some_and(|v| !v.is_null())
            })
            .collect();
        let primary = |e: &&&Value| {
            e.as_object().and_then(|o| get_ci(o, "primary")) == Some(&Value::Bool(true))
        };
        let chosen = with_sub.iter().find(primary).or(with_sub.first())?;
        chosen.as_object().and_then(|o| get_ci(o, sub)).cloned()
    };
    let mut keyed: Vec<(Option<Value>, Value)> = docs.iter().map(|d| (key(d), d.clone())).collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => {
            let o = compare(a, b, ty, case_exact);
            if descending {
                o.reverse()
            } else {
                o
            }
        }
    });
    for (slot, (_, d)) in docs.iter_mut().zip(keyed) {
        *slot = d;
    }
}

fn compare(a: &Value, b: &Value, ty: AttrType, case_exact: bool) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => {
            if ty == AttrType::DateTime {
                let p = |s: &str| {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .ok()
                };
                if let (Some(x), Some(y)) = (p(x), p(y)) {
                    return x.cmp(&y);
                }
            }
            // The filters' order (RFC 7643 §2.2 caseExact; crate::text).
            crate::text::cmp(x, y, case_exact)
        }
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// An integer query parameter (RFC 7644 §3.4.2.4); one that does not fit
/// in 64 bits is refused (400 invalidValue).
fn number(v: &Option<String>, name: &str) -> Result<Option<i64>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer"))),
    }
}

/// A non-negative `usize` from `n`, saturating: on wasm32 a `usize` has 32
/// bits, and `4294967296 as usize` would be 0.
fn saturating(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

/// A ListResponse (RFC 7644 §3.4.2): the three numbers are JSON integers.
pub fn response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// A ListResponse of a cursor-paged query (RFC 9865 §2): `nextCursor`
/// unless this is the last page, `previousCursor` unless it is the first;
/// no `startIndex`, which cursor pages do not have.
pub fn cursor_response(
    total: usize,
    resources: Vec<Value>,
    next: Option<String>,
    previous: Option<String>,
) -> Value {
    let mut out = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let Some(n) = next {
        out["nextCursor"] = Value::String(n);
    }
    if let Some(p) = previous {
        out["previousCursor"] = Value::String(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Registry, SchemaOptions};

    #[test]
    fn filters_and_sorts_on_memberships_ask_for_them() {
        let reg = Registry::new(&SchemaOptions::default());
        let needs = |filter: Option<&str>, sort_by: Option<&str>| {
            Params {
                filter: filter.map(str::to_string),
                sort_by: sort_by.map(str::to_string),
                attributes: Some("userName".into()),
                ..Default::default()
            }
            .parse(&reg.user, &Config::default())
            .unwrap()
            .filter_needs_members
        };
        assert!(needs(Some("groups.value eq \"g\""), None));
        assert!(needs(Some("Roles[value eq \"r\"]"), None));
        assert!(needs(None, Some("groups.display")));
        assert!(!needs(Some("userName eq \"a\""), Some("userName")));
        assert!(!needs(None, None));
    }

    #[test]
    fn multi_valued_sort_keys_prefer_the_primary_value() {
        let reg = Registry::new(&SchemaOptions::default());
        let one = json!({"userName": "one", "emails": [
            {"value": "zz@x.org"}, {"value": "aa@x.org", "primary": true}]});
        let two = json!({"userName": "two", "emails": [{"value": "mm@x.org"}]});
        let three =
            json!({"userName": "three", "emails": [{"type": "work"}, {"value": "bb@x.org"}]});
        let four = json!({"userName": "four"});
        let names = |docs: &[Value]| -> Vec<String> {
            docs.iter()
                .map(|d| d["userName"].as_str().unwrap().to_string())
                .collect()
        };
        for path in ["emails.value", "emails", "EMAILS.Value"] {
            let p = AttrPath::parse(&reg.user, path).unwrap();
            let mut docs = vec![four.clone(), two.clone(), three.clone(), one.clone()];
            sort(&reg.user, &mut docs, &p, false);
            assert_eq!(names(&docs), ["one", "three", "two", "four"], "{path}");
            sort(&reg.user, &mut docs, &p, true);
            assert_eq!(names(&docs), ["two", "three", "one", "four"], "{path}");
        }
    }

    /// sortBy orders as the filters compare (one Unicode rule): an NFD
    /// spelling sorts with its NFC twin, case folded.
    #[test]
    fn sorting_follows_the_filters_unicode_rule() {
        let reg = Registry::new(&SchemaOptions::default());
        let p = AttrPath::parse(&reg.user, "displayName").unwrap();
        let mut docs = vec![
            json!({"displayName": "e\u{301}z"}),
            json!({"displayName": "ÉA"}),
            json!({"displayName": "b"}),
        ];
        sort(&reg.user, &mut docs, &p, false);
        let shown: Vec<&str> = docs
            .iter()
            .map(|d| d["displayName"].as_str().unwrap())
            .collect();
        assert_eq!(shown, ["b", "ÉA", "e\u{301}z"]);
    }
}
