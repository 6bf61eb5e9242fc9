//! One Unicode rule for names and filters (issue 16, item 5), and `co`
//! matching in linear time (item 3).
//!
//! Case-insensitive values (RFC 7643 §2.2 `caseExact: false`; RFC 7644
//! §3.4.2.2) are compared in one caseless form: Unicode canonical caseless
//! matching (NFC, full case folding). The unique-name claim, the index keys
//! and every filter operator use it, so an identity provider's
//! create → 409 → look-up flow (Okta, SAP Cloud Identity Services) finds the
//! resource that caused the 409 whatever spelling it sends.

use e2e::{create, enc, find, id_of, list, Host, GROUP, SAP_USER, SEARCH, USER};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The ids of a ListResponse's resources, in order.
fn ids(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .map(|a| a.iter().map(id_of).collect())
        .unwrap_or_default()
}

/// POST a user with this userName; the status and body.
fn post_user(host: &Host, user_name: &str) -> (u16, Value) {
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({"schemas": [USER], "userName": user_name}),
    );
    (r.status, r.json())
}

/// `filter=userName eq "…"` and the same through `POST /Users/.search`: the ids found.
fn by_user_name(host: &Host, user_name: &str) -> Vec<String> {
    let filter = format!("userName eq \"{user_name}\"");
    let got = ids(&list(
        host,
        &format!("/Users?filter={}&startIndex=1&count=100", enc(&filter)),
    ));
    let r = host.send_json(
        "POST",
        "/Users/.search",
        &json!({"schemas": [SEARCH], "filter": filter}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids(&r.json()), got, ".search and GET agree on {filter}");
    got
}

#[test]
fn greek_final_sigma_create_conflict_then_the_lookup_finds_it() {
    let host = Host::start();
    // Lower case with a final sigma (ς, U+03C2).
    let (status, user) = post_user(&host, "bfb1οδος");
    assert_eq!(status, 201, "{user}");
    let id = id_of(&user);
    // Upper case: Σ lower-cases to σ (U+03C3) mid-word and ς at the end,
    // but folds to σ everywhere: the same name.
    let (status, err) = post_user(&host, "bfb1ΟΔΟΣ");
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["scimType"], "uniqueness");
    // The look-up after the 409 finds the user that holds the name, by
    // every spelling (the index read and the filter evaluation agree).
    for spelling in ["bfb1ΟΔΟΣ", "bfb1οδος", "bfb1οδοσ", "BFB1οΔοΣ"] {
        assert_eq!(
            by_user_name(&host, spelling),
            vec![id.clone()],
            "{spelling}"
        );
    }
    // A scan filter (not an index read) agrees.
    let v = find(
        &host,
        "/Users",
        r#"userName ew "ΟΔΟΣ" and userName sw "BFB1""#,
    );
    assert_eq!(ids(&v), vec![id.clone()]);
    // Groups' displayName follows the same rule.
    let g = create(
        &host,
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "Ὀδυσσεύς"}),
    );
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "ὈΔΥΣΣΕΎΣ"}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let v = find(&host, "/Groups", r#"displayName eq "ὈΔΥΣΣΕΎΣ""#);
    assert_eq!(ids(&v), vec![id_of(&g)]);
}

#[test]
fn nfc_and_nfd_spellings_of_a_name_are_one_name() {
    let host = Host::start();
    let nfc = "caf\u{e9}@example.com";
    let nfd = "cafe\u{301}@example.com";
    let (status, user) = post_user(&host, nfc);
    assert_eq!(status, 201, "{user}");
    let id = id_of(&user);
    // Stored as sent.
    assert_eq!(user["userName"], nfc);
    let (status, err) = post_user(&host, nfd);
    assert_eq!(status, 409, "the NFD spelling is the same name: {err}");
    for spelling in [nfc, nfd, "CAF\u{c9}@EXAMPLE.COM", "CAFE\u{301}@example.com"] {
        assert_eq!(
            by_user_name(&host, spelling),
            vec![id.clone()],
            "{spelling}"
        );
    }
    // The other way round: NFD stored, NFC sent.
    let (status, user) = post_user(&host, "Z\u{fc}rich");
    assert_eq!(status, 201, "{user}");
    let (status, _) = post_user(&host, "zu\u{308}rich");
    assert_eq!(status, 409);
    assert_eq!(by_user_name(&host, "ZU\u{308}RICH"), vec![id_of(&user)]);
    // Emails (an index of their own) follow the rule too.
    let u = create(
        &host,
        "/Users",
        json!({"schemas": [USER], "userName": "mail-user",
               "emails": [{"value": "J\u{f8}rgen.caf\u{e9}@example.com", "type": "work"}]}),
    );
    for f in [
        "emails.value eq \"j\u{d8}rgen.cafe\u{301}@example.com\"",
        "emails[type eq \"work\" and value eq \"J\u{d8}RGEN.CAF\u{c9}@example.com\"]",
        "emails eq \"j\u{f8}rgen.caf\u{e9}@EXAMPLE.com\"",
    ] {
        assert_eq!(ids(&find(&host, "/Users", f)), vec![id_of(&u)], "{f}");
    }
}

#[test]
fn substring_and_ordering_operators_fold_non_ascii_case() {
    let host = Host::start();
    let u = create(
        &host,
        "/Users",
        json!({"schemas": [USER], "userName": "unicode-ops",
               "displayName": "ÉLODIE Straße ΟΔΟΣ",
               "name": {"familyName": "Ünal", "givenName": "Åsa"},
               "title": "cafe\u{301} owner"}),
    );
    let id = id_of(&u);
    let hits = [
        r#"displayName co "élodie""#,
        r#"displayName co "DIE STR""#,
        // Full case folding: ß folds to ss.
        r#"displayName co "STRASSE""#,
        r#"displayName co "strasse οδοσ""#,
        r#"displayName sw "élo""#,
        r#"displayName ew "οδος""#,
        r#"displayName ew "ΟΔΟΣ""#,
        r#"name.familyName eq "ÜNAL""#,
        r#"name.familyName sw "ü""#,
        r#"name.givenName ew "SA""#,
        "name.givenName eq \"a\u{30a}sa\"",
        // NFC needle, NFD value.
        "title co \"CAF\u{c9}\"",
        "title sw \"caf\u{e9} \"",
        r#"name.familyName gt "ü""#,
        r#"name.familyName lt "ÜNAM""#,
        r#"name.familyName ge "ÜNAL""#,
    ];
    for f in hits {
        assert_eq!(ids(&find(&host, "/Users", f)), vec![id.clone()], "{f}");
    }
    let misses = [
        r#"displayName co "elodie""#,
        r#"displayName ew "ΟΔΟ""#,
        r#"name.familyName lt "ü""#,
        r#"name.familyName gt "ÜNAM""#,
        "title co \"cafe owner\"",
    ];
    for f in misses {
        assert_eq!(ids(&find(&host, "/Users", f)), Vec::<String>::new(), "{f}");
    }
}

#[test]
fn case_exact_user_names_are_still_one_name_in_nfc_and_nfd() {
    let host = Host::start_with(&[("SPIN_VARIABLE_USER_NAME_CASE_EXACT", "true")]);
    let (status, user) = post_user(&host, "Caf\u{e9}");
    assert_eq!(status, 201, "{user}");
    let id = id_of(&user);
    // Case-exact: another case is another name...
    let (status, other) = post_user(&host, "CAF\u{c9}");
    assert_eq!(status, 201, "{other}");
    // ...but canonically equivalent spellings are the same name.
    let (status, err) = post_user(&host, "Cafe\u{301}");
    assert_eq!(status, 409, "{err}");
    assert_eq!(by_user_name(&host, "Cafe\u{301}"), vec![id.clone()]);
    assert_eq!(by_user_name(&host, "Caf\u{e9}"), vec![id]);
    assert_eq!(by_user_name(&host, "CAFE\u{301}"), vec![id_of(&other)]);
    assert_eq!(by_user_name(&host, "caf\u{e9}"), Vec::<String>::new());
}

/// `n` users whose open-extension attribute `blob` holds the longest string
/// the service stores (`maxStringBytes`, README "Limits"): the ids.
fn users_with_blobs(host: &Host, n: usize) -> (Vec<String>, usize) {
    let len = 4096;
    let ids = (0..n)
        .map(|i| {
            let r = host.send_json(
                "POST",
                "/Users",
                &json!({"schemas": [USER, SAP_USER], "userName": format!("blob-{i}"),
                        SAP_USER: {"blob": "a".repeat(len)}}),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            id_of(&r.json())
        })
        .collect();
    (ids, len)
}

/// Stored strings are bounded, so the worst case of a naive substring
/// search is a needle half as long as the value, over every scanned user:
/// here 40 users × (4,096 − 2,000) positions × 2,000 characters per search.
#[test]
fn a_4000_character_co_needle_over_a_large_string_answers_quickly() {
    let host = Host::start();
    let (created, len) = users_with_blobs(&host, 40);
    let mut all = created;
    all.sort();
    let attr = format!("{SAP_USER}:blob");
    let search = |filter: String, want: &[String]| {
        let t = Instant::now();
        let r = host.send_json(
            "POST",
            "/Users/.search",
            &json!({"schemas": [SEARCH], "filter": filter, "count": 100}),
        );
        let took = t.elapsed();
        assert_eq!(r.status, 200, "{}", r.text());
        let mut got = ids(&r.json());
        got.sort();
        assert_eq!(got, want, "{}", &filter[..80]);
        took
    };
    let mut slowest = Duration::ZERO;
    // Every position matches all but the last character. Upper case, so the
    // case-insensitive path is taken; 4,000 characters: the longest needle
    // a filter (4,096 bytes) can carry.
    for (op, needle, want) in [
        ("co", format!("{}B", "A".repeat(1_999)), vec![]),
        ("co", "A".repeat(2_000), all.clone()),
        ("co", format!("{}B", "A".repeat(3_999)), vec![]),
        ("sw", format!("{}B", "A".repeat(1_999)), vec![]),
        ("ew", "A".repeat(4_000), all.clone()),
    ] {
        let took = search(format!("{attr} {op} \"{needle}\""), &want);
        slowest = slowest.max(took);
    }
    eprintln!("40 values of {len} characters, needles up to 4,000: slowest {slowest:?}");
    assert!(
        slowest < Duration::from_millis(1_000),
        "a search took {slowest:?}"
    );
}
