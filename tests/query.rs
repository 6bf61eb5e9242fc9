//! Queries through the real `.wasm` (issue #4): paging, sorting, filters,
//! partial representations and `POST .search`, as RFC 7644 §3.4 and §3.9
//! describe them. Every step checks the status and the body.

use e2e::{
    create, enc, find, id_of, list, new_user, send_patch, sorted, token_with, Host, Resp,
    ENTERPRISE, ERROR, LIST, SEARCH, USER,
};
use serde_json::{json, Value};
use std::collections::HashSet;

/// GET `/Users?filter=…` and return the matched userNames, in order.
fn users_matching(host: &Host, filter: &str) -> Vec<String> {
    let v = find(host, "/Users", filter);
    let names = field(&v, "userName");
    assert_eq!(v["totalResults"], names.len(), "{filter}: {v}");
    names
}

fn field(list: &Value, name: &str) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r[name].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ids(list: &Value) -> Vec<String> {
    field(list, "id")
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn keys(v: &Value) -> Vec<String> {
    sorted(v.as_object().unwrap().keys().cloned().collect())
}

fn scim_error(r: &Resp, status: u16, scim_type: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([ERROR]), "{v}");
    assert_eq!(v["status"], status.to_string(), "status is a string: {v}");
    assert_eq!(v["scimType"], scim_type, "{v}");
    v["detail"].as_str().unwrap_or_default().to_string()
}

// ---- paging (RFC 7644 §3.4.2.4) ---------------------------------------------------

#[test]
fn paging_is_one_based_and_stable_without_sort_by() {
    let host = Host::start();
    let mut created = Vec::new();
    for i in 1..=25 {
        created.push(new_user(&host, &format!("user{i:02}")));
    }

    // No parameters: the first page of count=10 (the AFC page size).
    let first = list(&host, "/Users");
    assert_eq!(first["totalResults"], 25);
    assert_eq!(first["itemsPerPage"], 10);
    assert_eq!(first["startIndex"], 1);
    for k in ["totalResults", "itemsPerPage", "startIndex"] {
        assert!(first[k].is_u64(), "{k} is a JSON integer: {first}");
    }
    assert_eq!(first["Resources"].as_array().unwrap().len(), 10);

    // Page two of ten starts at 11 (1-based), not at 10.
    let all = list(&host, "/Users?count=25");
    let order = ids(&all);
    assert_eq!(order.len(), 25);
    let second = list(&host, "/Users?startIndex=11&count=10");
    assert_eq!(second["startIndex"], 11);
    assert_eq!(second["itemsPerPage"], 10);
    assert_eq!(ids(&second), order[10..20].to_vec());
    let ten = list(&host, "/Users?startIndex=10&count=1");
    assert_eq!(
        ids(&ten),
        vec![order[9].clone()],
        "startIndex=10 is the 10th"
    );

    // Paging through with count=10 returns every id exactly once, in a stable order.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = list(&host, &format!("/Users?startIndex={start}&count=10"));
        assert_eq!(page["totalResults"], 25, "the total does not move");
        assert_eq!(page["startIndex"], start);
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        assert_eq!(page["itemsPerPage"], got.len());
        seen.extend(got);
        start += 10;
    }
    assert_eq!(start, 31, "three pages: 10 + 10 + 5");
    assert_eq!(seen, order, "the pages concatenate to the full listing");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "every id exactly once");
    assert_eq!(sorted(seen), sorted(created.clone()));

    // The same holds for a filtered (scanned) listing.
    let f = enc("userName sw \"user\"");
    let mut filtered = Vec::new();
    for start in [1, 11, 21] {
        let page = list(
            &host,
            &format!("/Users?filter={f}&startIndex={start}&count=10"),
        );
        assert_eq!(page["totalResults"], 25);
        filtered.extend(ids(&page));
    }
    assert_eq!(sorted(filtered), sorted(created));

    // count=0: only the total (RFC 7644 §3.4.2.4).
    let zero = list(&host, "/Users?count=0");
    assert_eq!(zero["totalResults"], 25);
    assert_eq!(zero["itemsPerPage"], 0);
    assert!(
        zero.get("Resources")
            .is_none_or(|r| r.as_array().is_some_and(|a| a.is_empty())),
        "{zero}"
    );
    let zero = list(&host, &format!("/Users?filter={f}&count=0"));
    assert_eq!(
        (zero["totalResults"].as_u64(), zero["itemsPerPage"].as_u64()),
        (Some(25), Some(0))
    );

    // Beyond the end: an empty page, the total still right.
    let past = list(&host, "/Users?startIndex=26");
    assert_eq!(past["totalResults"], 25);
    assert_eq!(past["itemsPerPage"], 0);
    assert_eq!(past["startIndex"], 26);

    // startIndex below 1 means 1; a negative count means 0 (RFC 7644 §3.4.2.4).
    let low = list(&host, "/Users?startIndex=0&count=3");
    assert_eq!(low["startIndex"], 1);
    assert_eq!(ids(&low), order[..3].to_vec());
    let neg = list(&host, "/Users?count=-5");
    assert_eq!(neg["itemsPerPage"], 0);

    // Not a number: 400 invalidValue.
    let r = host.get("/Users?count=ten");
    scim_error(&r, 400, "invalidValue");
}

#[test]
fn count_above_the_advertised_maximum_is_clamped() {
    let host = Host::start_with(&[("SPIN_VARIABLE_PAGE_SIZE_MAX", "7")]);
    // The maximum is read from the ServiceProviderConfig, not assumed.
    let r = host.get("/ServiceProviderConfig");
    assert_eq!(r.status, 200, "{}", r.text());
    let spc = r.json();
    // RFC 9865 §4 `pagination.maxPageSize`; RFC 7643 §5 `filter.maxResults`.
    let max = spc["pagination"]["maxPageSize"]
        .as_u64()
        .expect("maxPageSize");
    assert_eq!(max, 7);
    assert_eq!(spc["filter"]["maxResults"], max, "filter.maxResults agrees");
    assert_eq!(
        spc["pagination"]["defaultPageSize"], 7,
        "the default is capped too"
    );
    for i in 0..10 {
        new_user(&host, &format!("clamp{i}"));
    }
    let page = list(&host, &format!("/Users?count={}", max + 100));
    assert_eq!(page["totalResults"], 10);
    assert_eq!(page["itemsPerPage"], max);
    assert_eq!(page["Resources"].as_array().unwrap().len() as u64, max);
    let rest = list(&host, &format!("/Users?startIndex={}&count=1000", max + 1));
    assert_eq!(rest["itemsPerPage"], 10 - max);
}

/// Numbers past 32 bits (the component is wasm32) saturate: a startIndex
/// beyond every resource is an empty page, never the first page; a count
/// beyond the maximum is the maximum, never 0. Past 64 bits: 400.
#[test]
fn huge_start_index_and_count_saturate_instead_of_wrapping() {
    let host = Host::start();
    for i in 0..3 {
        new_user(&host, &format!("huge{i}"));
    }
    for start in ["4294967296", "4294967297", "9223372036854775807"] {
        let page = list(&host, &format!("/Users?startIndex={start}"));
        assert_eq!(page["totalResults"], 3, "{start}: {page}");
        assert_eq!(
            page["itemsPerPage"], 0,
            "{start}: no resource that far: {page}"
        );
        assert!(page["startIndex"].as_u64().unwrap() >= 4294967295, "{page}");
    }
    for count in ["4294967296", "4294967297", "9223372036854775807"] {
        let page = list(&host, &format!("/Users?count={count}"));
        assert_eq!(
            page["itemsPerPage"], 3,
            "count={count} is clamped to the maximum: {page}"
        );
    }
    let body = json!({"schemas": [SEARCH], "startIndex": 4294967296u64, "count": 4294967296u64});
    let r = host.send_json("POST", "/Users/.search", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["itemsPerPage"], 0);
}

// ---- sorting (RFC 7644 §3.4.2.3) ----------------------------------------------------

#[test]
fn sort_by_user_name_family_name_and_created() {
    let host = Host::start();
    let people = [
        ("delta", "Young"),
        ("Alpha", "Zimmer"),
        ("charlie", "Adams"),
        ("bravo", "miller"),
    ];
    for (i, (user_name, family)) in people.iter().enumerate() {
        if i > 0 {
            // meta.created has one-second resolution: make the times distinct.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        create(
            &host,
            "/Users",
            json!({"userName": user_name, "name": {"familyName": family}}),
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    create(&host, "/Users", json!({"userName": "echo"})); // no familyName

    // userName is caseExact=false: "Alpha" sorts between nothing and "bravo".
    let v = list(&host, "/Users?sortBy=userName");
    assert_eq!(
        field(&v, "userName"),
        strs(&["Alpha", "bravo", "charlie", "delta", "echo"])
    );
    let v = list(&host, "/Users?sortBy=userName&sortOrder=descending");
    assert_eq!(
        field(&v, "userName"),
        strs(&["echo", "delta", "charlie", "bravo", "Alpha"])
    );

    // A sub-attribute, descending; a resource without the value sorts last.
    let v = list(&host, "/Users?sortBy=name.familyName&sortOrder=descending");
    assert_eq!(
        field(&v, "userName"),
        strs(&["Alpha", "delta", "bravo", "charlie", "echo"]),
        "Zimmer, Young, miller, Adams, then the one without familyName"
    );
    let v = list(&host, "/Users?sortBy=name.familyName");
    assert_eq!(
        field(&v, "userName"),
        strs(&["charlie", "bravo", "delta", "Alpha", "echo"])
    );

    // meta.created (a dateTime): creation order, and its reverse.
    let v = list(&host, "/Users?sortBy=meta.created&count=4");
    assert_eq!(v["totalResults"], 5);
    assert_eq!(
        field(&v, "userName"),
        strs(&["delta", "Alpha", "charlie", "bravo"])
    );
    let v = list(&host, "/Users?sortBy=meta.created&sortOrder=descending");
    assert_eq!(
        field(&v, "userName"),
        strs(&["echo", "bravo", "charlie", "Alpha", "delta"])
    );

    // sortBy with paging: the second page of two continues the sorted order.
    let v = list(&host, "/Users?sortBy=userName&startIndex=3&count=2");
    assert_eq!(field(&v, "userName"), strs(&["charlie", "delta"]));

    // Names are case-insensitive; a bad sortOrder is a 400.
    let v = list(&host, "/Users?SORTBY=USERNAME&sortorder=DESCENDING&count=1");
    assert_eq!(field(&v, "userName"), strs(&["echo"]));
    let r = host.get("/Users?sortBy=userName&sortOrder=sideways");
    scim_error(&r, 400, "invalidValue");
}

#[test]
fn sort_by_a_multi_valued_attribute_uses_the_primary_value() {
    let host = Host::start();
    // RFC 7644 §3.4.2.3: multi-valued → the primary value if any, else the first.
    create(
        &host,
        "/Users",
        json!({"userName": "one", "emails": [
            {"value": "zz@example.com", "type": "home"},
            {"value": "aa@example.com", "type": "work", "primary": true}]}),
    );
    create(
        &host,
        "/Users",
        json!({"userName": "two", "emails": [{"value": "mm@example.com"}]}),
    );
    let v = list(&host, "/Users?sortBy=emails.value");
    assert_eq!(field(&v, "userName"), strs(&["one", "two"]), "{v}");
    let v = list(&host, "/Users?sortBy=emails&sortOrder=descending");
    assert_eq!(field(&v, "userName"), strs(&["two", "one"]), "{v}");
}

// ---- filters (RFC 7644 §3.4.2.2) ---------------------------------------------------------

fn filter_fixture(host: &Host) {
    create(
        host,
        "/Users",
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "alice@example.com",
            "displayName": "Alice Smith",
            "title": "Engineer",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "emails": [
                {"value": "alice@example.com", "type": "work", "primary": true},
                {"value": "alice@home.org", "type": "home"}
            ],
            ENTERPRISE: {"department": "R&D"}
        }),
    );
    create(
        host,
        "/Users",
        json!({
            "userName": "bob@example.org",
            "displayName": "Bob Jones",
            "title": "Manager",
            "emails": [{"value": "bob@example.org", "type": "work"}],
            "active": false
        }),
    );
    create(
        host,
        "/Users",
        json!({
            "userName": "carol@example.com",
            "emails": [{"value": "carol@example.com", "type": "home"}],
            "active": true
        }),
    );
}

#[test]
fn filter_operators_over_http() {
    let host = Host::start();
    filter_fixture(&host);
    let (a, b, c) = ("alice@example.com", "bob@example.org", "carol@example.com");

    assert_eq!(
        users_matching(&host, "userName co \"example.com\""),
        strs(&[a, c])
    );
    assert_eq!(
        users_matching(&host, "userName sw \"BOB\""),
        strs(&[b]),
        "userName is case-insensitive"
    );
    assert_eq!(users_matching(&host, "userName ew \".org\""), strs(&[b]));
    assert_eq!(users_matching(&host, "title pr"), strs(&[a, b]));
    assert_eq!(
        users_matching(&host, "name.familyName eq \"smith\""),
        strs(&[a])
    );
    assert_eq!(users_matching(&host, "active eq false"), strs(&[b]));
    assert_eq!(
        users_matching(&host, "userName ne \"bob@example.org\""),
        strs(&[a, c])
    );
    assert_eq!(users_matching(&host, "displayName lt \"B\""), strs(&[a]));
    assert_eq!(
        users_matching(&host, &format!("{ENTERPRISE}:department eq \"R&D\"")),
        strs(&[a]),
        "URN-qualified extension attribute"
    );
    assert!(users_matching(&host, "userName eq \"nobody\"").is_empty());

    // Filter keywords are case-insensitive too.
    assert_eq!(
        users_matching(&host, "title PR AND userName SW \"a\""),
        strs(&[a])
    );
}

#[test]
fn filter_on_meta_last_modified_with_gt() {
    let host = Host::start();
    filter_fixture(&host);
    let all = list(&host, "/Users");
    let newest = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["lastModified"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let bob = find(&host, "/Users", "userName eq \"bob@example.org\"");
    let bob_id = id_of(&bob["Resources"][0]);
    let r = send_patch(
        &host,
        &format!("/Users/{bob_id}"),
        json!([{"op": "replace", "path": "title", "value": "Director"}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["meta"]["lastModified"].as_str().unwrap() > newest.as_str());

    // Only the resource changed after `newest` is newer than it.
    assert_eq!(
        users_matching(&host, &format!("meta.lastModified gt \"{newest}\"")),
        strs(&["bob@example.org"])
    );
    assert!(
        users_matching(&host, &format!("meta.lastModified ge \"{newest}\"")).len() >= 2,
        "ge includes the resources last modified at {newest}"
    );
    assert_eq!(
        users_matching(&host, "meta.lastModified gt \"2000-01-01T00:00:00Z\"").len(),
        3
    );
    assert!(users_matching(&host, "meta.created gt \"2999-01-01T00:00:00Z\"").is_empty());
}

#[test]
fn logical_operators_follow_rfc_precedence() {
    let host = Host::start();
    filter_fixture(&host);
    let (a, b, c) = ("alice@example.com", "bob@example.org", "carol@example.com");

    // `and` binds tighter than `or`: Engineer OR (Manager AND sw "alice").
    assert_eq!(
        users_matching(
            &host,
            "title eq \"Engineer\" or title eq \"Manager\" and userName sw \"alice\""
        ),
        strs(&[a])
    );
    // Parentheses change it: (Engineer OR Manager) AND sw "bob".
    assert_eq!(
        users_matching(
            &host,
            "(title eq \"Engineer\" or title eq \"Manager\") and userName sw \"bob\""
        ),
        strs(&[b])
    );
    assert_eq!(users_matching(&host, "not (title pr)"), strs(&[c]));
    assert_eq!(
        users_matching(&host, "not (userName sw \"a\") and title pr"),
        strs(&[b])
    );
    assert_eq!(
        users_matching(&host, "not (title eq \"Engineer\" or title eq \"Manager\")"),
        strs(&[c])
    );
    // An indexed term inside an `and` narrows the candidates; the rest still applies.
    assert_eq!(
        users_matching(
            &host,
            "userName eq \"alice@example.com\" and title eq \"Manager\""
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        users_matching(
            &host,
            "userName eq \"alice@example.com\" or userName eq \"carol@example.com\""
        ),
        strs(&[a, c])
    );
}

#[test]
fn value_paths_attribute_case_and_complex_equality() {
    let host = Host::start();
    filter_fixture(&host);
    let (a, b, c) = ("alice@example.com", "bob@example.org", "carol@example.com");

    // Both terms must hold for the same email: carol's example.com address is "home".
    assert_eq!(
        users_matching(
            &host,
            "emails[type eq \"work\" and value co \"@example.com\"]"
        ),
        strs(&[a])
    );
    assert_eq!(
        users_matching(&host, "emails[type eq \"home\"]"),
        strs(&[a, c])
    );
    assert_eq!(
        users_matching(&host, "emails[type eq \"work\"].value ew \".org\""),
        strs(&[b])
    );
    assert_eq!(
        users_matching(&host, "emails[not (type eq \"work\")]"),
        strs(&[a, c])
    );

    // Attribute names match in any case (RFC 7643 §2.1).
    assert_eq!(
        users_matching(&host, "DisplayName eq \"Alice Smith\""),
        strs(&[a])
    );
    assert_eq!(
        users_matching(&host, "emails.Value eq \"BOB@example.org\""),
        strs(&[b])
    );
    assert_eq!(
        users_matching(&host, "USERNAME eq \"Carol@Example.com\""),
        strs(&[c])
    );
    assert_eq!(
        users_matching(&host, "Name.GivenName sw \"ali\""),
        strs(&[a])
    );

    // A multi-valued complex attribute compared directly means its `value`.
    assert_eq!(
        users_matching(&host, "emails eq \"carol@example.com\""),
        strs(&[c])
    );
    assert_eq!(users_matching(&host, "emails co \"home.org\""), strs(&[a]));
}

#[test]
fn filters_on_memberships_instants_and_case_exact_values() {
    let host = Host::start();
    let u = create(
        &host,
        "/Users",
        json!({"userName": "member", "externalId": "ext-Mixed"}),
    );
    let uid = id_of(&u);
    create(&host, "/Users", json!({"userName": "loner"}));
    let g = create(
        &host,
        "/Groups",
        json!({"displayName": "G", "members": [{"value": uid}]}),
    );
    let gid = id_of(&g);

    // Users by group membership, whatever the projection returns.
    for params in ["", "&attributes=userName", "&excludedAttributes=groups"] {
        for filter in [
            format!("groups.value eq \"{gid}\""),
            format!("groups[value eq \"{gid}\"]"),
        ] {
            let v = list(&host, &format!("/Users?filter={}{params}", enc(&filter)));
            assert_eq!(field(&v, "userName"), strs(&["member"]), "{filter}{params}");
            if !params.is_empty() {
                assert!(v["Resources"][0].get("groups").is_none(), "{v}");
            }
        }
    }
    // Groups by member, members excluded from the answer.
    let v = list(
        &host,
        &format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(&format!("members[value eq \"{uid}\"]"))
        ),
    );
    assert_eq!(v["totalResults"], 1);
    assert!(v["Resources"][0].get("members").is_none());

    // dateTimes compare as instants, not as strings.
    let created = u["meta"]["created"].as_str().unwrap();
    let same_instant = created.replace('Z', ".000Z");
    assert_eq!(
        users_matching(
            &host,
            &format!("meta.created eq \"{same_instant}\" and userName eq \"member\"")
        ),
        strs(&["member"])
    );
    assert!(users_matching(
        &host,
        &format!("meta.created gt \"{same_instant}\" and userName eq \"member\"")
    )
    .is_empty());

    // externalId is caseExact; userName is not.
    assert_eq!(
        users_matching(&host, "externalId sw \"ext-M\""),
        strs(&["member"])
    );
    assert!(users_matching(&host, "externalId sw \"EXT-m\"").is_empty());
    assert!(users_matching(&host, "externalId eq \"ext-mixed\"").is_empty());
    assert_eq!(
        users_matching(&host, "userName eq \"MEMBER\""),
        strs(&["member"])
    );

    // A `+` for a space, as Okta encodes the query string.
    let v = list(
        &host,
        "/Users?filter=userName+eq+%22Member%22&startIndex=1&count=100",
    );
    assert_eq!(v["totalResults"], 1);
}

#[test]
fn bad_filters_are_400_invalid_filter_pointing_at_the_problem() {
    let host = Host::start();
    filter_fixture(&host);
    for (filter, expect) in [
        ("userName eq", "position 12"),
        ("userName xx \"a\"", "xx"),
        ("(userName eq \"a\"", "position 1"),
        ("userName eq \"a\" garbage", "garbage"),
        ("userName eq \"unterminated", "unterminated"),
        ("emails[type eq \"work\"", "["),
        ("name eq \"x\"", "complex"),
        ("active gt true", "boolean"),
    ] {
        let r = host.get(&format!("/Users?filter={}", enc(filter)));
        let detail = scim_error(&r, 400, "invalidFilter");
        assert!(
            detail.contains(expect),
            "{filter:?}: the detail should mention {expect:?}: {detail}"
        );
    }
    // The same through .search.
    let r = host.send_json(
        "POST",
        "/Users/.search",
        &json!({"schemas": [SEARCH], "filter": "userName eq"}),
    );
    scim_error(&r, 400, "invalidFilter");
}

// ---- partial representations (RFC 7644 §3.9) --------------------------------------------

fn full_user(host: &Host, user_name: &str) -> Value {
    create(
        host,
        "/Users",
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": user_name,
            "displayName": "Proj Ection",
            "name": {"givenName": "Proj", "familyName": "Ection"},
            "emails": [{"value": format!("{user_name}@example.com"), "type": "work"}],
            "active": true,
            ENTERPRISE: {"employeeNumber": "701", "department": "Ops"}
        }),
    )
}

#[test]
fn attributes_and_excluded_attributes_on_get() {
    let host = Host::start();
    let u = full_user(&host, "proj");
    let id = u["id"].as_str().unwrap();

    // attributes=userName: id (returned always), schemas and userName only.
    let r = host.get(&format!("/Users/{id}?attributes=userName"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(keys(&v), strs(&["id", "schemas", "userName"]), "{v}");
    assert_eq!(v["userName"], "proj");
    assert!(
        r.header("etag").is_some(),
        "the version is still in the header"
    );

    // A sub-attribute.
    let v = host
        .get(&format!("/Users/{id}?attributes=name.givenName"))
        .json();
    assert_eq!(keys(&v), strs(&["id", "name", "schemas"]), "{v}");
    assert_eq!(v["name"], json!({"givenName": "Proj"}));

    // URN-qualified names: a core attribute, an extension attribute, a whole extension.
    let v = host
        .get(&format!("/Users/{id}?attributes={USER}:userName"))
        .json();
    assert_eq!(keys(&v), strs(&["id", "schemas", "userName"]), "{v}");
    let v = host
        .get(&format!(
            "/Users/{id}?attributes={ENTERPRISE}:employeeNumber"
        ))
        .json();
    assert_eq!(v[ENTERPRISE], json!({"employeeNumber": "701"}), "{v}");
    assert!(v.get("userName").is_none(), "{v}");
    let v = host
        .get(&format!("/Users/{id}?attributes={ENTERPRISE},userName"))
        .json();
    assert_eq!(
        v[ENTERPRISE],
        json!({"employeeNumber": "701", "department": "Ops"})
    );
    assert_eq!(v["userName"], "proj");

    // Names in any case, several at once, with spaces.
    let v = host
        .get(&format!(
            "/Users/{id}?attributes={}",
            enc("DISPLAYNAME, Emails.Value")
        ))
        .json();
    assert_eq!(
        keys(&v),
        strs(&["displayName", "emails", "id", "schemas"]),
        "{v}"
    );
    assert_eq!(v["emails"], json!([{"value": "proj@example.com"}]));

    // excludedAttributes=emails: everything else stays.
    let v = host
        .get(&format!("/Users/{id}?excludedAttributes=emails"))
        .json();
    assert!(v.get("emails").is_none(), "{v}");
    for k in [
        "id",
        "schemas",
        "userName",
        "name",
        "displayName",
        "active",
        "meta",
        ENTERPRISE,
    ] {
        assert!(v.get(k).is_some(), "{k} kept: {v}");
    }
    // id cannot be excluded (returned: always).
    let v = host
        .get(&format!(
            "/Users/{id}?excludedAttributes=id,meta,{ENTERPRISE}"
        ))
        .json();
    assert_eq!(v["id"], id);
    assert!(
        v.get("meta").is_none() && v.get(ENTERPRISE).is_none(),
        "{v}"
    );
}

#[test]
fn projection_applies_to_lists_and_write_responses() {
    let host = Host::start();
    full_user(&host, "listed1");
    full_user(&host, "listed2");

    let v = list(&host, "/Users?attributes=userName");
    assert_eq!(v["totalResults"], 2);
    for r in v["Resources"].as_array().unwrap() {
        assert_eq!(keys(r), strs(&["id", "schemas", "userName"]), "{r}");
    }
    let v = list(
        &host,
        &format!(
            "/Users?filter={}&excludedAttributes=emails,name",
            enc("userName eq \"listed2\"")
        ),
    );
    assert_eq!(v["totalResults"], 1);
    let r = &v["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("name").is_none(), "{r}");
    assert_eq!(r["displayName"], "Proj Ection");

    // POST with ?attributes=: the created resource, projected.
    let r = host.send_json(
        "POST",
        "/Users?attributes=userName",
        &json!({"userName": "posted", "displayName": "P", "title": "T"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let posted = r.json();
    assert_eq!(
        keys(&posted),
        strs(&["id", "schemas", "userName"]),
        "{posted}"
    );
    assert!(r.header("location").is_some() && r.header("etag").is_some());
    let id = id_of(&posted);
    // ...and it was stored in full.
    assert_eq!(host.get(&format!("/Users/{id}")).json()["title"], "T");

    // PUT with ?excludedAttributes=.
    let r = host.send_json(
        "PUT",
        &format!("/Users/{id}?excludedAttributes=displayName"),
        &json!({"userName": "posted", "displayName": "P2", "title": "T2"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(v.get("displayName").is_none(), "{v}");
    assert_eq!(v["title"], "T2");

    // PATCH with ?attributes=.
    let r = send_patch(
        &host,
        &format!("/Users/{id}?attributes=active"),
        json!([{"op": "add", "path": "active", "value": false}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(keys(&v), strs(&["active", "id", "schemas"]), "{v}");
    assert_eq!(v["active"], false);
}

#[test]
fn groups_without_members() {
    let host = Host::start();
    let u = new_user(&host, "member");
    let g = create(
        &host,
        "/Groups",
        json!({"displayName": "Projected", "members": [{"value": u}]}),
    );
    let gid = g["id"].as_str().unwrap();
    assert_eq!(g["members"][0]["value"], u.as_str());

    let v = host
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .json();
    assert!(v.get("members").is_none(), "{v}");
    assert_eq!(v["displayName"], "Projected");
    assert_eq!(v["id"], gid);

    let v = list(&host, "/Groups?excludedAttributes=members");
    assert_eq!(v["totalResults"], 1);
    assert!(v["Resources"][0].get("members").is_none());

    let v = host
        .get(&format!("/Groups/{gid}?attributes=displayName"))
        .json();
    assert_eq!(keys(&v), strs(&["displayName", "id", "schemas"]), "{v}");

    let v = host
        .get(&format!("/Groups/{gid}?attributes=members.value"))
        .json();
    assert_eq!(v["members"], json!([{"value": u}]), "{v}");
}

// ---- POST .search (RFC 7644 §3.4.3) ---------------------------------------------------------

#[test]
fn search_requests_on_resource_types_and_the_root() {
    let host = Host::start();
    for name in ["sa", "sb", "sc", "other"] {
        create(
            &host,
            "/Users",
            json!({"userName": name, "displayName": format!("Closers {name}")}),
        );
    }
    create(&host, "/Groups", json!({"displayName": "Closers"}));
    create(&host, "/Groups", json!({"displayName": "Openers"}));

    let r = host.send_json(
        "POST",
        "/Users/.search",
        &json!({
            "schemas": [SEARCH],
            "filter": "userName sw \"s\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 2,
            "attributes": ["userName", "displayName"]
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([LIST]));
    assert_eq!(v["totalResults"], 3);
    assert_eq!(v["itemsPerPage"], 2);
    assert_eq!(field(&v, "userName"), strs(&["sc", "sb"]));
    for res in v["Resources"].as_array().unwrap() {
        assert_eq!(
            keys(res),
            strs(&["displayName", "id", "schemas", "userName"])
        );
    }
    // The second page.
    let r = host.send_json(
        "POST",
        "/Users/.search",
        &json!({"schemas": [SEARCH], "filter": "userName sw \"s\"", "sortBy": "userName",
                "sortOrder": "descending", "startIndex": 3, "count": 2}),
    );
    assert_eq!(field(&r.json(), "userName"), strs(&["sa"]));

    // excludedAttributes as an array, on groups.
    let r = host.send_json(
        "POST",
        "/Groups/.search",
        &json!({"schemas": [SEARCH], "filter": "displayName eq \"closers\"",
                "excludedAttributes": ["members", "meta"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["displayName"], "Closers");
    assert!(v["Resources"][0].get("meta").is_none());

    // The root: every resource type; each result says what it is.
    let r = host.send_json(
        "POST",
        "/.search",
        &json!({"schemas": [SEARCH], "filter": "displayName sw \"Closers\"",
                "attributes": ["displayName", "meta.resourceType"], "count": 50}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["totalResults"], 5, "four users and one group: {v}");
    let mut types: Vec<String> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(types, strs(&["Group", "User", "User", "User", "User"]));
    for res in v["Resources"].as_array().unwrap() {
        let schema = res["schemas"][0].as_str().unwrap();
        assert!(
            schema.ends_with(":User") || schema.ends_with(":Group"),
            "{res}"
        );
    }
    // Paging applies to the combined result.
    let r = host.send_json(
        "POST",
        "/.search",
        &json!({"schemas": [SEARCH], "filter": "displayName sw \"Closers\"", "startIndex": 5, "count": 10}),
    );
    let v = r.json();
    assert_eq!(
        (v["totalResults"].as_u64(), v["itemsPerPage"].as_u64()),
        (Some(5), Some(1))
    );

    // A search is a read: a read-only token may send it.
    let read_only = format!("Bearer {}", token_with(&["scim.read"], None));
    let body =
        serde_json::to_vec(&json!({"schemas": [SEARCH], "filter": "userName eq \"sa\""})).unwrap();
    let r = host.request(
        "POST",
        "/Users/.search",
        &[
            ("content-type", "application/scim+json"),
            ("authorization", &read_only),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["totalResults"], 1);
    // ...but not a create.
    let body = serde_json::to_vec(&json!({"userName": "nope"})).unwrap();
    let r = host.request(
        "POST",
        "/Users",
        &[
            ("content-type", "application/scim+json"),
            ("authorization", &read_only),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 403, "{}", r.text());
}

// ---- limits ----------------------------------------------------------------------------------

#[test]
fn a_scan_beyond_filter_scan_max_is_too_many_but_indexed_lookups_work() {
    let host = Host::start_with(&[("SPIN_VARIABLE_FILTER_SCAN_MAX", "5")]);
    for i in 1..=5 {
        new_user(&host, &format!("scan{i}"));
    }
    // Five resources: a scan is still allowed.
    assert!(users_matching(&host, "title eq \"x\"").is_empty());

    new_user(&host, "scan6");
    let r = host.get(&format!("/Users?filter={}", enc("title eq \"x\"")));
    let detail = scim_error(&r, 400, "tooMany");
    assert!(
        detail.contains("maxScannedResources (5)"),
        "the detail names the limit and its value (README, Limits): {detail}"
    );
    let r = host.get("/Users?sortBy=userName");
    scim_error(&r, 400, "tooMany");

    // Indexed lookups never scan (docs/storage.md): userName, externalId, id, emails.
    assert_eq!(
        users_matching(&host, "userName eq \"scan3\""),
        strs(&["scan3"])
    );
    assert_eq!(
        users_matching(&host, "userName eq \"SCAN6\" and title pr"),
        Vec::<String>::new(),
        "an indexed term in an `and` bounds the scan"
    );
    // An unfiltered page is not a scan either.
    assert_eq!(list(&host, "/Users")["totalResults"], 6);
}
