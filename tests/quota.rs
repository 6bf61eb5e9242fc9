//! The optional per-client hourly quota (issue #9 point 3): off by default;
//! when set, the request after the limit answers 429 with Retry-After and a
//! SCIM error body, per client.

use e2e::{token_with, Host, ERROR};

#[test]
fn quota_is_off_by_default() {
    let host = Host::start();
    for _ in 0..30 {
        assert_eq!(host.get("/Users").status, 200);
    }
}

#[test]
fn over_the_quota_answers_429_with_retry_after() {
    let mut host = Host::start_with(&[("SPIN_VARIABLE_RATE_LIMIT_PER_HOUR", "5")]);
    for _ in 0..5 {
        assert_eq!(host.get("/Users").status, 200);
    }
    let r = host.get("/Users");
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(r.json()["schemas"][0], ERROR);
    // Another client has its own budget.
    let other = scim::auth::mint_hs256(
        e2e::TEST_SECRET,
        &scim::auth::DevClaims {
            scopes: vec!["scim.read".into()],
            client_id: Some("someone-else".into()),
            ttl_secs: 600,
            ..Default::default()
        },
    )
    .unwrap();
    host.token = Some(other);
    assert_eq!(host.get("/Users").status, 200);
    // The first client stays limited.
    host.token = Some(token_with(&["scim.read"], None));
    assert_eq!(host.get("/Users").status, 429);
}

/// Refused credentials count too, per client address (Spin passes it as
/// `spin-client-addr`): guessing tokens is limited like any other request,
/// while a client with a valid token keeps its own budget.
#[test]
fn refused_tokens_count_against_the_client_address() {
    let mut host = Host::start_with(&[("SPIN_VARIABLE_RATE_LIMIT_PER_HOUR", "5")]);
    host.token = Some("not-a-token".into());
    for i in 0..5 {
        let r = host.get("/Users");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    let r = host.get("/Users");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["schemas"][0], ERROR);
    host.token = Some(token_with(&["scim.read"], None));
    assert_eq!(
        host.get("/Users").status,
        200,
        "a valid client is not the address"
    );
}
