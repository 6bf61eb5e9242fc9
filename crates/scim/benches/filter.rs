//! Filter micro-benchmarks: parse (+ schema check) and evaluate typical
//! filters against a canonical user document. Run with
//! `cargo bench -p scim-engine --bench filter` (`make bench` does, quickly).
//!
//! `filter/substring_500k` is the worst case of substring matching (issue
//! 16): a 4,000-character needle over a 500,000-character open-extension
//! string in which every position matches all but the needle's last
//! character. Matching is linear in both lengths (`scim::text`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use scim::filter;
use scim::schema::{Registry, SchemaOptions, ENTERPRISE_USER, SAP_USER, USER};
use serde_json::{json, Value};

/// Filters as identity providers and admins send them.
const FILTERS: &[(&str, &str)] = &[
    ("userName_eq", r#"userName eq "bjensen@example.com""#),
    ("externalId_eq", r#"externalId eq "00u1abcd2EFGH3ijk4l5""#),
    (
        "emails_value_path",
        r#"emails[type eq "work" and value co "@example.com"]"#,
    ),
    (
        "and_sw_bool",
        r#"name.familyName sw "Jen" and active eq true"#,
    ),
    (
        "datetime_gt",
        r#"meta.lastModified gt "2024-01-01T00:00:00Z""#,
    ),
    (
        "enterprise_or_not",
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales" or not (title pr)"#,
    ),
];

fn user(registry: &Registry) -> Value {
    let input = json!({
        "schemas": [USER, ENTERPRISE_USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "00u1abcd2EFGH3ijk4l5",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"}
    });
    let mut doc = scim::document::normalize(&registry.user, &input).expect("a valid user");
    doc["id"] = json!("2819c223-7f76-453a-919d-413861904646");
    doc["meta"] = json!({
        "resourceType": "User",
        "created": "2024-03-01T10:00:00Z",
        "lastModified": "2024-06-01T10:00:00Z",
        "version": "W/\"3\""
    });
    doc
}

fn benches(c: &mut Criterion) {
    let registry = Registry::new(&SchemaOptions::default());
    let rt = &registry.user;
    let doc = user(&registry);

    let mut parse = c.benchmark_group("filter/parse+check");
    for (name, src) in FILTERS {
        parse.bench_function(*name, |b| {
            b.iter(|| {
                let f = filter::parse(black_box(src)).expect("parses");
                f.check(rt).expect("checks");
                f
            })
        });
    }
    parse.finish();

    let mut eval = c.benchmark_group("filter/match");
    for (name, src) in FILTERS {
        let f = filter::parse(src).expect("parses");
        eval.bench_function(*name, |b| b.iter(|| f.matches(rt, black_box(&doc))));
    }
    eval.finish();

    let mut index = c.benchmark_group("filter/index_lookup");
    for (name, src) in FILTERS.iter().take(2) {
        let f = filter::parse(src).expect("parses");
        index.bench_function(*name, |b| b.iter(|| f.index_lookup(black_box(rt))));
    }
    index.finish();

    // The worst case of substring matching, case-insensitive (the open
    // extension's undeclared attribute) and over non-ASCII text.
    let mut big = c.benchmark_group("filter/substring_500k");
    big.sample_size(10);
    let attr = format!("{SAP_USER}:blob");
    let ascii = json!({SAP_USER: {"blob": "a".repeat(500_000)}});
    let greek = json!({SAP_USER: {"blob": "σ".repeat(250_000)}});
    let cases = [
        ("co_ascii", &ascii, format!("{}B", "A".repeat(3_999)), "co"),
        ("sw_ascii", &ascii, format!("{}B", "A".repeat(3_999)), "sw"),
        ("ew_ascii", &ascii, format!("B{}", "A".repeat(3_999)), "ew"),
        ("co_greek", &greek, format!("{}Β", "Σ".repeat(1_999)), "co"),
    ];
    for (name, doc, needle, op) in cases {
        let f = filter::parse(&format!("{attr} {op} \"{needle}\"")).expect("parses");
        big.bench_function(name, |b| b.iter(|| f.matches(rt, black_box(doc))));
    }
    big.finish();
}

criterion_group!(filter_benches, benches);
criterion_main!(filter_benches);
