//! `/Me` through the real `.wasm` (RFC 7644 §3.11): the variables
//! `me_claim` (the token claim naming the user) and `me_attribute`
//! (`userName` or `externalId`); GET, PUT, PATCH and DELETE act on that user
//! exactly as on `/Users/{id}`, and `Location` names `/Users/{id}`.

use e2e::{patch_op, Host, Resp, ERROR, TEST_SECRET, USER};
use serde_json::{json, Value};

/// A token with the given scopes whose string claim `name` is `value`.
fn token(scopes: &[&str], claim: Option<(&str, &str)>) -> String {
    scim::auth::mint_hs256(
        TEST_SECRET,
        &scim::auth::DevClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            client_id: Some("e2e-me".into()),
            claims: claim
                .map(|(n, v)| vec![(n.to_string(), v.to_string())])
                .unwrap_or_default(),
            ttl_secs: 3600,
            ..Default::default()
        },
    )
    .expect("mint a test token")
}

/// A token whose `sub` is `subject`.
fn token_sub(subject: &str) -> String {
    scim::auth::mint_hs256(
        TEST_SECRET,
        &scim::auth::DevClaims {
            scopes: vec!["scim.read".into(), "scim.write".into()],
            subject: Some(subject.into()),
            ttl_secs: 3600,
            ..Default::default()
        },
    )
    .expect("mint a test token")
}

fn me(
    host: &Host,
    method: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Resp {
    let bearer = format!("Bearer {token}");
    let mut all = vec![
        ("authorization", bearer.as_str()),
        ("content-type", "application/scim+json"),
    ];
    all.extend_from_slice(headers);
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    host.request(method, "/Me", &all, bytes.as_deref())
}

fn scim_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["schemas"][0], ERROR, "{}", r.text());
}

fn create(host: &Host, body: Value) -> String {
    let r = host.send_json("POST", "/Users", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// RFC 7644 §3.11: a service provider that does not support /Me SHOULD
/// answer 501. Without `me_claim`, every method does (after the token).
#[test]
fn without_me_claim_me_is_not_implemented() {
    let host = Host::start();
    let t = token(&["scim.read", "scim.write"], Some(("user_name", "alice")));
    create(&host, json!({"schemas": [USER], "userName": "alice"}));
    for method in ["GET", "PUT", "PATCH", "DELETE", "POST"] {
        let r = me(&host, method, &t, &[], Some(&json!({})));
        scim_error(&r, 501);
    }
    // A token is still required, as for every resource endpoint.
    let r = host.request("GET", "/Me", &[("authorization", "Bearer nope")], None);
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn me_acts_on_the_user_the_claim_names_as_users_id_does() {
    let host = Host::start_with(&[("SPIN_VARIABLE_ME_CLAIM", "user_name")]);
    let id = create(
        &host,
        json!({"schemas": [USER], "userName": "alice", "title": "Engineer"}),
    );
    let other = create(&host, json!({"schemas": [USER], "userName": "bob"}));
    let at = format!("http://{}/api/scim/v2/Users/{id}", host.addr);
    // userName compares case-insensitively (RFC 7643 §4.1.1), as filters do.
    let rw = token(&["scim.read", "scim.write"], Some(("user_name", "ALICE")));

    let r = me(&host, "GET", &rw, &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["userName"], "alice");
    assert_eq!(
        r.header("location"),
        Some(at.as_str()),
        "Location: the aliased resource"
    );
    assert_eq!(v["meta"]["location"], at.as_str());
    assert_eq!(
        v,
        host.get(&format!("/Users/{id}")).json(),
        "the same representation"
    );
    let etag = r.header("etag").unwrap().to_string();

    // Projection and If-None-Match as on /Users/{id}.
    let r = host.request(
        "GET",
        "/Me?attributes=title",
        &[("authorization", &format!("Bearer {rw}"))],
        None,
    );
    assert_eq!(r.json()["title"], "Engineer");
    assert_eq!(r.json()["id"], id.as_str(), "id is returned always");
    assert_eq!(
        r.json(),
        host.get(&format!("/Users/{id}?attributes=title")).json()
    );
    let r = me(&host, "GET", &rw, &[("if-none-match", &etag)], None);
    assert_eq!(r.status, 304);

    // PATCH: the same validation and the same result as /Users/{id}.
    let r = me(
        &host,
        "PATCH",
        &rw,
        &[],
        Some(&patch_op(
            json!([{"op": "replace", "path": "title", "value": "Lead"}]),
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("location"), Some(at.as_str()));
    assert_eq!(host.get(&format!("/Users/{id}")).json()["title"], "Lead");
    let r = me(
        &host,
        "PATCH",
        &rw,
        &[],
        Some(&patch_op(
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        )),
    );
    scim_error(&r, 400);
    assert_eq!(r.json()["scimType"], "invalidValue");
    // Renaming to another user's name: 409 uniqueness, nothing changes.
    let r = me(
        &host,
        "PATCH",
        &rw,
        &[],
        Some(&patch_op(
            json!([{"op": "replace", "path": "userName", "value": "bob"}]),
        )),
    );
    scim_error(&r, 409);
    assert_eq!(r.json()["scimType"], "uniqueness");

    // PUT with a stale If-Match: 412; with the current one: replaced.
    let body = json!({"schemas": [USER], "userName": "alice", "displayName": "Alice A."});
    let r = me(&host, "PUT", &rw, &[("if-match", &etag)], Some(&body));
    scim_error(&r, 412);
    let current = host
        .get(&format!("/Users/{id}"))
        .header("etag")
        .unwrap()
        .to_string();
    let r = me(&host, "PUT", &rw, &[("if-match", &current)], Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("location"), Some(at.as_str()));
    let v = host.get(&format!("/Users/{id}")).json();
    assert_eq!(v["displayName"], "Alice A.");
    assert!(v.get("title").is_none(), "PUT replaced the resource");

    // Scopes as for /Users: reading needs scim.read, writing scim.write.
    let ro = token(&["scim.read"], Some(("user_name", "alice")));
    assert_eq!(me(&host, "GET", &ro, &[], None).status, 200);
    for method in ["PUT", "PATCH", "DELETE"] {
        let r = me(&host, method, &ro, &[], Some(&body));
        assert_eq!(r.status, 403, "{method}: {}", r.text());
    }
    let none = token(&[], Some(("user_name", "alice")));
    assert_eq!(me(&host, "GET", &none, &[], None).status, 403);

    // POST /Me is not offered: users are created at /Users.
    let r = me(
        &host,
        "POST",
        &rw,
        &[],
        Some(&json!({"schemas": [USER], "userName": "carol"})),
    );
    scim_error(&r, 405);

    // No such claim, or a name no user has: 404.
    let r = me(&host, "GET", &token(&["scim.read"], None), &[], None);
    scim_error(&r, 404);
    let r = me(
        &host,
        "GET",
        &token(&["scim.read"], Some(("user_name", "nobody"))),
        &[],
        None,
    );
    scim_error(&r, 404);
    assert!(
        !r.text().contains("nobody"),
        "the detail echoes no personal data"
    );

    // DELETE: the user is gone everywhere, bob is untouched.
    let r = me(&host, "DELETE", &rw, &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(host.get(&format!("/Users/{id}")).status, 404);
    scim_error(&me(&host, "GET", &rw, &[], None), 404);
    assert_eq!(host.get(&format!("/Users/{other}")).status, 200);
}

#[test]
fn me_can_match_sub_against_external_id_case_exactly() {
    let host = Host::start_with(&[
        ("SPIN_VARIABLE_ME_CLAIM", "sub"),
        ("SPIN_VARIABLE_ME_ATTRIBUTE", "externalId"),
    ]);
    let id = create(
        &host,
        json!({"schemas": [USER], "userName": "dana", "externalId": "idp-42"}),
    );
    let r = me(&host, "GET", &token_sub("idp-42"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    // externalId is caseExact (RFC 7643 §3.1); the userName is not the key.
    scim_error(&me(&host, "GET", &token_sub("IDP-42"), &[], None), 404);
    scim_error(&me(&host, "GET", &token_sub("dana"), &[], None), 404);

    // externalId is not unique: with two holders no one user is "me".
    create(
        &host,
        json!({"schemas": [USER], "userName": "dana2", "externalId": "idp-42"}),
    );
    scim_error(&me(&host, "GET", &token_sub("idp-42"), &[], None), 409);
}
