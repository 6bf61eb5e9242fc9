//! PATCH micro-benchmarks: apply typical PatchOp bodies (Entra ID, Okta,
//! SAP CIS dialects) to a canonical user, and a one-member add to a group.
//! Run with `cargo bench -p scim-engine --bench patch` (`make bench` does).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use scim::patch::{apply, PATCH_OP};
use scim::schema::{Registry, SchemaOptions, ENTERPRISE_USER, GROUP, USER};
use serde_json::{json, Value};

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn user(registry: &Registry) -> Value {
    let input = json!({
        "schemas": [USER, ENTERPRISE_USER],
        "externalId": "00u1abcd2EFGH3ijk4l5",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"}
    });
    let mut doc = scim::document::normalize(&registry.user, &input).expect("a valid user");
    doc["id"] = json!("2819c223-7f76-453a-919d-413861904646");
    doc
}

fn benches(c: &mut Criterion) {
    let registry = Registry::new(&SchemaOptions::default());
    let doc = user(&registry);
    let cases: Vec<(&str, Value)> = vec![
        (
            "replace_path_displayName",
            body(json!([{"op": "replace", "path": "displayName", "value": "Barbara J"}])),
        ),
        (
            "okta_deactivate",
            body(json!([{"op": "replace", "value": {"active": false}}])),
        ),
        (
            "entra_no_path_multi",
            body(json!([{"op": "Replace", "value": {
                "displayName": "Barbara Jensen",
                "name.givenName": "Barbara",
                "title": "Manager",
                "active": "True"
            }}])),
        ),
        (
            "email_value_filter",
            body(
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"}]),
            ),
        ),
        (
            "enterprise_manager",
            body(
                json!([{"op": "add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "26118915-6090-4610-87e4-49d8ca9f808d"}]),
            ),
        ),
        (
            "remove_title",
            body(json!([{"op": "remove", "path": "title"}])),
        ),
        (
            "ten_operations",
            body(json!([
                {"op": "replace", "path": "displayName", "value": "B"},
                {"op": "replace", "path": "title", "value": "T"},
                {"op": "replace", "path": "name.familyName", "value": "J"},
                {"op": "replace", "path": "name.givenName", "value": "B"},
                {"op": "add", "path": "nickName", "value": "Babs"},
                {"op": "add", "path": "phoneNumbers", "value": [{"value": "555-0100", "type": "work"}]},
                {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "b@home.example"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "replace", "path": "active", "value": false},
                {"op": "replace", "path": format!("{ENTERPRISE_USER}:department"), "value": "Sales"}
            ])),
        ),
    ];
    let mut g = c.benchmark_group("patch/user");
    for (name, b) in &cases {
        // Fails loudly if a body stops applying (the benchmark would lie).
        apply(&registry.user, &mut doc.clone(), b).expect("the body applies");
        g.bench_function(*name, |bench| {
            bench.iter_batched(
                || doc.clone(),
                |mut d| apply(&registry.user, &mut d, black_box(b)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // Members never touch the group document: they become member operations
    // for the storage layer (one bucket per change).
    let group = json!({"schemas": [GROUP], "id": "g1", "displayName": "Tour Guides"});
    let add = body(
        json!([{"op": "add", "path": "members", "value": [{"value": "2819c223-7f76-453a-919d-413861904646"}]}]),
    );
    let remove = body(
        json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
    );
    let mut g = c.benchmark_group("patch/group");
    for (name, b) in [("add_one_member", &add), ("remove_one_member", &remove)] {
        apply(&registry.group, &mut group.clone(), b).expect("the body applies");
        g.bench_function(name, |bench| {
            bench.iter_batched(
                || group.clone(),
                |mut d| apply(&registry.group, &mut d, black_box(b)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(patch_benches, benches);
criterion_main!(patch_benches);
