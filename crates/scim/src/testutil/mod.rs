//! Test fixtures shared by the engine's unit tests: the default schema
//! registry, sample User and Group documents (RFC 7643 §8.2 and §8.4),
//! filter match helpers over them, and a proptest strategy generating
//! arbitrary [`Filter`]s (RFC 7644 §3.4.2.2 grammar); in [`tokens`], keys,
//! a JWKS and JWT signing helpers for the authentication tests; in
//! [`patching`], the documents and shorthands of the PATCH tests; in
//! [`service`], the whole service called as a client would.

pub(crate) mod patching;
pub(crate) mod service;
pub(crate) mod tokens;

use crate::filter::path::AttrPath;
use crate::filter::{parse, CompValue, CompareOp, Filter, Test};
use crate::schema::{Registry, SchemaOptions, ENTERPRISE_USER, GROUP, SAP_USER, USER};
use proptest::prelude::*;
use serde_json::{json, Number, Value};

/// The default schema registry.
pub(crate) fn reg() -> Registry {
    Registry::new(&SchemaOptions::default())
}

/// A sample User (RFC 7643 §8.2's Babs Jensen, with extensions).
pub(crate) fn user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE_USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "ext-1",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\""
        },
        ENTERPRISE_USER: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        },
        SAP_USER: {"userUuid": "u-1", "mailVerified": true, "loginCount": 7, "nickname": "Babs"}
    })
}

/// A sample Group with two members.
pub(crate) fn group() -> Value {
    json!({
        "schemas": [GROUP],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "display": "Babs"}, {"value": "902c246b"}],
        "meta": {"resourceType": "Group"}
    })
}

/// Does `f` match the sample user (after a successful check)?
pub(crate) fn m(f: &str) -> bool {
    let r = reg();
    let filter = parse(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    filter.check(&r.user).unwrap_or_else(|e| panic!("{f}: {e}"));
    filter.matches(&r.user, &user())
}

/// Does `f` match the sample group (after a successful check)?
pub(crate) fn mg(f: &str) -> bool {
    let r = reg();
    let filter = parse(f).unwrap();
    filter.check(&r.group).unwrap();
    filter.matches(&r.group, &group())
}

fn path() -> impl Strategy<Value = AttrPath> {
    let name = prop::sample::select(vec![
        "userName", "title", "emails", "value", "type", "x", "a-b_c", "$ref", "Z9", "true", "pr",
    ]);
    let urn = prop::option::of(prop::sample::select(vec![
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:x:y",
    ]));
    (urn, name.clone(), prop::option::of(name)).prop_map(|(u, a, s)| AttrPath::new(u, a, s))
}

fn simple_path() -> impl Strategy<Value = AttrPath> {
    prop::sample::select(vec![
        "value", "type", "primary", "display", "$ref", "and", "or",
    ])
    .prop_map(|n| AttrPath::new(None, n, None))
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|i| CompValue::Number(i.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        ".{0,12}".prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn leaf(p: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        p.clone().prop_map(Filter::Present),
        (p, op(), value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
    ]
}

fn tree(l: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    l.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner, 2..4).prop_map(Filter::Or),
        ]
    })
}

/// Arbitrary well-formed filters, value paths included.
pub(crate) fn filter() -> impl Strategy<Value = Filter> {
    let val_filter = tree(leaf(simple_path().boxed()).boxed()).boxed();
    let vp = (path(), val_filter.clone()).prop_filter_map("no sub", |(p, f)| {
        p.sub.is_none().then(|| Filter::ValuePath(p, Box::new(f)))
    });
    let vps = (
        path(),
        val_filter,
        prop::sample::select(vec!["value", "display"]),
        prop::option::of((op(), value())),
    )
        .prop_filter_map("no sub", |(p, f, s, t)| {
            p.sub.is_none().then(|| Filter::ValuePathSub {
                attr: p,
                filter: Box::new(f),
                sub: s.to_string(),
                test: t.map_or(Test::Present, |(o, v)| Test::Compare(o, v)),
            })
        });
    let leaves = prop_oneof![4 => leaf(path().boxed()), 1 => vp, 1 => vps].boxed();
    tree(leaves)
}
