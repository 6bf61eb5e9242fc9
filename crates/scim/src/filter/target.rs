//! Where the values a filter compares live, and how they are typed: an
//! attribute path resolved against a resource type's schemas (RFC 7643 §2.2,
//! §7: type and `caseExact`), for evaluation and schema checks alike.

use super::path::{any_flat, AttrPath, Loc};
use crate::schema::{get_ci, AttrType, Attribute, ResourceType};
use serde_json::Value;

/// What paths are relative to.
#[derive(Clone, Copy)]
pub(super) enum Scope<'r> {
    /// A whole resource.
    Resource,
    /// One element of a multi-valued (or complex) attribute; `None` for an
    /// undeclared attribute of an open schema.
    Element(Option<&'r Attribute>),
}

/// Where a compared value comes from, and how to compare it.
pub(super) struct Target<'a> {
    /// Where the values are.
    src: Src<'a>,
    /// `None`: infer from the JSON value (undeclared attribute of an open schema).
    pub(super) ty: Option<AttrType>,
    /// Strings compare case-sensitively (the attribute's `caseExact`).
    pub(super) case_exact: bool,
}

/// Where a [`Target`]'s values are.
enum Src<'a> {
    /// A located attribute of a whole resource.
    Doc(Loc<'a>),
    /// A key of the element object; `None`: the element itself.
    Elem(Option<&'a str>),
}

impl<'a> Target<'a> {
    /// The target of `p` in `scope`; `None` when `p` names nothing there.
    /// `redirect`: a complex attribute with a `value` sub-attribute stands for it.
    pub(super) fn new(
        rt: &'a ResourceType,
        scope: Scope<'a>,
        p: &'a AttrPath,
        redirect: bool,
    ) -> Option<Self> {
        match scope {
            Scope::Resource => {
                let mut loc = p.locate(rt)?;
                let mut def = loc.sub_attr.or(loc.attr);
                if redirect && loc.sub.is_none() {
                    if let Some(v) = def
                        .filter(|d| d.ty == AttrType::Complex)
                        .and_then(|d| d.sub("value"))
                    {
                        loc.sub = Some(v.name);
                        loc.sub_attr = Some(v);
                        def = Some(v);
                    }
                }
                Some(Target {
                    src: Src::Doc(loc),
                    ty: def.map(|d| d.ty),
                    case_exact: def.is_some_and(|d| d.case_exact),
                })
            }
            Scope::Element(parent) => {
                if p.urn.is_some() || p.sub.is_some() {
                    return None;
                }
                Self::element(parent, &p.attr)
            }
        }
    }

    /// Sub-attribute `name` of an element of `parent`.
    pub(super) fn element(parent: Option<&'a Attribute>, name: &'a str) -> Option<Self> {
        let Some(parent) = parent else {
            return Some(Target {
                src: Src::Elem(Some(name)),
                ty: None,
                case_exact: false,
            });
        };
        if let Some(sd) = parent.sub(name) {
            return Some(Target {
                src: Src::Elem(Some(sd.name)),
                ty: Some(sd.ty),
                case_exact: sd.case_exact,
            });
        }
        // A multi-valued simple attribute: `value` is the element itself.
        if parent.sub_attributes.is_empty() && name.eq_ignore_ascii_case("value") {
            return Some(Target {
                src: Src::Elem(None),
                ty: Some(parent.ty),
                case_exact: parent.case_exact,
            });
        }
        None
    }

    /// Does `f` hold for any value of the target in `v` (arrays flattened)?
    pub(super) fn any<'v>(&self, v: &'v Value, f: &mut impl FnMut(&'v Value) -> bool) -> bool {
        match &self.src {
            Src::Doc(loc) => loc.any(v, f),
            Src::Elem(None) => any_flat(v, f),
            Src::Elem(Some(k)) => match v {
                Value::Object(o) => get_ci(o, k).is_some_and(|x| any_flat(x, f)),
                _ => false,
            },
        }
    }
}
