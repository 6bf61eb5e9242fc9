//! Tenant isolation through the real `.wasm` (issue #6): with
//! `tenant_claim = zid`, what tenant A stores is invisible to tenant B, and
//! B can neither change it nor reference it.

use e2e::{enc, id_of, patch_op, token_with, Host, Resp, ERROR, SEARCH, USER};
use serde_json::{json, Value};

fn tenant_token(tenant: &str) -> String {
    token_with(&["scim.read", "scim.write"], Some(("zid", tenant)))
}

/// A request as `tenant`.
fn as_tenant(host: &Host, tenant: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {}", tenant_token(tenant));
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    host.request(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/scim+json"),
        ],
        bytes.as_deref(),
    )
}

fn assert_404(r: &Resp, what: &str) {
    assert_eq!(r.status, 404, "{what}: {}", r.text());
    assert_eq!(r.json()["schemas"][0], ERROR, "{what}");
}

fn total(r: &Resp, what: &str) -> u64 {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    r.json()["totalResults"].as_u64().unwrap()
}

fn tenant_host() -> Host {
    let mut host = Host::start_with(&[("SPIN_VARIABLE_TENANT_CLAIM", "zid")]);
    host.token = None;
    host
}

#[test]
fn what_tenant_a_stores_is_invisible_and_untouchable_for_tenant_b() {
    let host = tenant_host();
    let a = |m: &str, p: &str, b: Option<&Value>| as_tenant(&host, "A", m, p, b);
    let b = |m: &str, p: &str, b: Option<&Value>| as_tenant(&host, "B", m, p, b);

    // Tenant A: a user, a group with that user, a role membership.
    let alice = json!({
        "schemas": [USER],
        "userName": "alice", "externalId": "ext-alice",
        "name": {"givenName": "Alice", "familyName": "Anders"},
        "emails": [{"value": "alice@a.example", "type": "work", "primary": true}],
        "title": "secret-title-a",
    });
    let r = a("POST", "/Users", Some(&alice));
    assert_eq!(r.status, 201, "{}", r.text());
    let uid = id_of(&r.json());
    let r = a(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "Team A", "externalId": "ext-team",
                     "members": [{"value": uid}]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    assert_eq!(r.json()["members"][0]["value"], uid.as_str());
    let roles = a("GET", "/Roles", None).json();
    let rid = id_of(&roles["Resources"][0]);
    let add_alice = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let r = a("PATCH", &format!("/Roles/{rid}"), Some(&add_alice));
    assert_eq!(r.status, 204, "{}", r.text());
    let a_user = a("GET", &format!("/Users/{uid}"), None);
    assert_eq!(a_user.status, 200);
    let a_user_etag = a_user.header("etag").unwrap().to_string();
    let a_group_etag = a("GET", &format!("/Groups/{gid}"), None)
        .header("etag")
        .unwrap()
        .to_string();

    // Tenant A sees what the filters below would find.
    let user_filters = [
        r#"userName eq "alice""#,
        r#"externalId eq "ext-alice""#,
        r#"emails eq "alice@a.example""#,
        r#"emails.value co "a.example""#,
        r#"id eq "UID""#,
        r#"title eq "secret-title-a""#,
        r#"name.givenName sw "Ali""#,
        "userName pr",
        r#"groups.value eq "GID""#,
    ];
    let group_filters = [
        r#"displayName eq "Team A""#,
        r#"externalId eq "ext-team""#,
        r#"members.value eq "UID""#,
        "displayName pr",
    ];
    let fill = |f: &str| f.replace("UID", &uid).replace("GID", &gid);
    for f in user_filters {
        let f = fill(f);
        assert_eq!(
            total(&a("GET", &format!("/Users?filter={}", enc(&f)), None), &f),
            1,
            "{f}"
        );
    }
    for f in group_filters {
        let f = fill(f);
        assert_eq!(
            total(&a("GET", &format!("/Groups?filter={}", enc(&f)), None), &f),
            1,
            "{f}"
        );
    }
    let root = json!({"schemas": [SEARCH],
                      "filter": "externalId pr"});
    assert_eq!(total(&a("POST", "/.search", Some(&root)), "A /.search"), 2);

    // Tenant B: nothing of it by id, list, filter or search.
    assert_404(&b("GET", &format!("/Users/{uid}"), None), "B GET user");
    assert_404(&b("GET", &format!("/Groups/{gid}"), None), "B GET group");
    assert_eq!(total(&b("GET", "/Users", None), "B list users"), 0);
    assert_eq!(total(&b("GET", "/Groups", None), "B list groups"), 0);
    for f in user_filters {
        let f = fill(f);
        let r = b("GET", &format!("/Users?filter={}", enc(&f)), None);
        assert_eq!(total(&r, &f), 0, "B: {f}");
        let r = b("POST", "/Users/.search", Some(&json!({"filter": f})));
        assert_eq!(total(&r, &f), 0, "B .search: {f}");
    }
    for f in group_filters {
        let f = fill(f);
        let r = b("GET", &format!("/Groups?filter={}", enc(&f)), None);
        assert_eq!(total(&r, &f), 0, "B: {f}");
        let r = b("POST", "/Groups/.search", Some(&json!({"filter": f})));
        assert_eq!(total(&r, &f), 0, "B .search: {f}");
    }
    assert_eq!(total(&b("POST", "/.search", Some(&root)), "B /.search"), 0);
    let r = b("POST", "/.search", Some(&json!({"count": 1000})));
    assert_eq!(r.status, 200, "{}", r.text());
    let everything = r.text();
    assert!(!everything.contains(&uid) && !everything.contains(&gid));
    assert!(!everything.contains("alice") && !everything.contains("Team A"));
    // The role catalog is shared, its memberships are not.
    let r = b("GET", &format!("/Roles/{rid}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("members").is_none(), "{}", r.text());
    let r = b(
        "GET",
        &format!(
            "/Roles?filter={}",
            enc(&format!(r#"members.value eq "{uid}""#))
        ),
        None,
    );
    assert_eq!(total(&r, "B roles by member"), 0);

    // B cannot change or delete A's resources.
    let patch = patch_op(json!([{"op": "replace", "path": "displayName", "value": "pwned"}]));
    for (kind, id) in [("Users", &uid), ("Groups", &gid)] {
        let path = format!("/{kind}/{id}");
        assert_404(&b("PATCH", &path, Some(&patch)), "B PATCH");
        let put = if kind == "Users" {
            json!({"userName": "alice", "displayName": "pwned"})
        } else {
            json!({"displayName": "pwned"})
        };
        assert_404(&b("PUT", &path, Some(&put)), "B PUT");
        assert_404(&b("DELETE", &path, None), "B DELETE");
    }
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    let r = b("PATCH", &format!("/Roles/{rid}"), Some(&remove));
    assert!(r.status == 200 || r.status == 204, "{}", r.text());

    // B cannot reference A's user: it is an unknown member, dropped.
    let r = b(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "Team B", "members": [{"value": uid}]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json().get("members").is_none(), "{}", r.text());
    let bgid = id_of(&r.json());
    let r = b("PATCH", &format!("/Groups/{bgid}"), Some(&add_alice));
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let r = b("GET", &format!("/Groups/{bgid}"), None);
    assert!(r.json().get("members").is_none(), "{}", r.text());
    let r = b(
        "PUT",
        &format!("/Groups/{bgid}"),
        Some(&json!({"displayName": "Team B", "members": [{"value": uid}]})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("members").is_none(), "{}", r.text());
    let r = b("PATCH", &format!("/Roles/{rid}"), Some(&add_alice));
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let r = b("GET", &format!("/Roles/{rid}"), None);
    assert!(r.json().get("members").is_none(), "{}", r.text());

    // The same names exist independently in both tenants.
    let r = b("POST", "/Users", Some(&alice));
    assert_eq!(r.status, 201, "same userName in tenant B: {}", r.text());
    let b_uid = id_of(&r.json());
    assert_ne!(b_uid, uid);
    let r = b("POST", "/Groups", Some(&json!({"displayName": "Team A"})));
    assert_eq!(r.status, 201, "same displayName in tenant B: {}", r.text());
    // ...and uniqueness still holds within a tenant.
    assert_eq!(b("POST", "/Users", Some(&alice)).status, 409);
    assert_eq!(a("POST", "/Users", Some(&alice)).status, 409);
    let r = b(
        "GET",
        &format!("/Users?filter={}", enc(r#"userName eq "alice""#)),
        None,
    );
    assert_eq!(total(&r, "B alice"), 1);
    assert_eq!(r.json()["Resources"][0]["id"], b_uid.as_str());
    // A cannot see B's resources either.
    assert_404(
        &a("GET", &format!("/Users/{b_uid}"), None),
        "A GET B's user",
    );
    assert_404(
        &a("GET", &format!("/Groups/{bgid}"), None),
        "A GET B's group",
    );

    // A's resources are untouched: same versions, same members.
    let r = a("GET", &format!("/Users/{uid}"), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").unwrap(), a_user_etag);
    let u = r.json();
    assert_eq!(u["title"], "secret-title-a");
    let groups: Vec<&str> = u["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [gid.as_str()], "only A's group: {u}");
    assert_eq!(u["roles"][0]["value"], rid.as_str(), "{u}");
    let r = a("GET", &format!("/Groups/{gid}"), None);
    assert_eq!(r.header("etag").unwrap(), a_group_etag);
    assert_eq!(r.json()["displayName"], "Team A");
    assert_eq!(r.json()["members"][0]["value"], uid.as_str());
    let r = a("GET", &format!("/Roles/{rid}"), None);
    assert_eq!(
        r.json()["members"][0]["value"],
        uid.as_str(),
        "{}",
        r.text()
    );
    assert_eq!(total(&a("GET", "/Users", None), "A users"), 1);
    assert_eq!(total(&a("GET", "/Groups", None), "A groups"), 1);

    // Deleting in B leaves A alone.
    assert_eq!(b("DELETE", &format!("/Users/{b_uid}"), None).status, 204);
    assert_eq!(a("GET", &format!("/Users/{uid}"), None).status, 200);
}

#[test]
fn the_tenant_claim_is_required_and_checked() {
    let host = tenant_host();
    let get = |token: &str| {
        host.request(
            "GET",
            "/Users",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    };
    assert_eq!(get(&tenant_token("A")).status, 200);
    let refused = [
        token_with(&["scim.read", "scim.write"], None),
        token_with(&["scim.read", "scim.write"], Some(("tid", "A"))),
        token_with(&["scim.read", "scim.write"], Some(("zid", ""))),
        token_with(&["scim.read", "scim.write"], Some(("zid", "a/b"))),
        token_with(&["scim.read", "scim.write"], Some(("zid", "../B"))),
        token_with(
            &["scim.read", "scim.write"],
            Some(("zid", &"x".repeat(200))),
        ),
    ];
    for t in &refused {
        let r = get(t);
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.json()["schemas"][0], ERROR);
        let c = r.header("www-authenticate").unwrap();
        assert!(
            c.starts_with("Bearer ") && c.contains("invalid_token"),
            "{c}"
        );
    }
    // Writes are refused too, and nothing lands in any tenant.
    let r = host.request(
        "POST",
        "/Users",
        &[
            ("authorization", &format!("Bearer {}", refused[0])),
            ("content-type", "application/scim+json"),
        ],
        Some(br#"{"userName": "tenantless"}"#),
    );
    assert_eq!(r.status, 401);
    for t in ["A", "default"] {
        let r = as_tenant(&host, t, "GET", "/Users", None);
        assert_eq!(total(&r, t), 0);
    }
    // Tenant ids are compared exactly: "a" is not "A".
    let r = as_tenant(
        &host,
        "A",
        "POST",
        "/Users",
        Some(&json!({"userName": "x"})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(total(&as_tenant(&host, "a", "GET", "/Users", None), "a"), 0);
}
