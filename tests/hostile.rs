//! Hostile input through the real `.wasm` (issue #6): oversized and malformed
//! bodies, deep nesting, huge arrays, odd ids, paths, query strings and
//! headers, filters built to explode. Each case gets the right SCIM error (or
//! a 4xx from the HTTP layer), in bounded time; the service keeps answering,
//! and nothing stored changes.

use e2e::{enc, id_of, patch_op, Host, Resp, ERROR, PATCH_OP, SAP_USER, USER};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Longest any single hostile request may take.
const BOUND: Duration = Duration::from_secs(10);

/// What a case must answer.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// This SCIM error (`scimType` exactly as given; `None`: absent).
    Scim(u16, Option<&'static str>),
    /// One of these SCIM errors.
    OneOf(&'static [(u16, Option<&'static str>)]),
    /// This SCIM error, or any 4xx from the HTTP layer before the component.
    ScimOrHttp(u16, Option<&'static str>),
    /// A success status (the input is odd but legitimate).
    Ok(u16),
    /// 200 from the component, or any 4xx from the HTTP layer.
    OkOrHttp,
}

struct Case {
    name: String,
    method: &'static str,
    /// Below the SCIM base, or raw when it starts with `//`.
    target: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    want: Want,
}

fn case(name: impl Into<String>, method: &'static str, target: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        method,
        target: target.into(),
        headers: Vec::new(),
        body: None,
        want: Want::Ok(200),
    }
}

impl Case {
    fn json(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.headers
            .push(("content-type".into(), "application/scim+json".into()));
        self.body = Some(body.into());
        self
    }
    /// A body with whatever content type the case's headers give.
    fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Case {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn want(mut self, w: Want) -> Case {
        self.want = w;
        self
    }
}

fn is_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) -> bool {
    let Ok(b) = serde_json::from_slice::<Value>(&r.body) else {
        return false;
    };
    r.status == status
        && b["schemas"][0] == ERROR
        && b["status"].as_str() == Some(status.to_string().as_str())
        && b.get("scimType").and_then(Value::as_str) == scim_type
}

/// `None` when `r` is what `c` wants, else what went wrong.
fn check(c: &Case, r: &Resp) -> Option<String> {
    let what = || {
        format!(
            "{}: got {} {}",
            c.name,
            r.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        )
    };
    let ok = match c.want {
        Want::Scim(s, t) => is_scim_error(r, s, t),
        Want::OneOf(list) => list.iter().any(|(s, t)| is_scim_error(r, *s, *t)),
        Want::ScimOrHttp(s, t) => {
            is_scim_error(r, s, t)
                || ((400..500).contains(&r.status)
                    && serde_json::from_slice::<Value>(&r.body)
                        .map(|b| b["schemas"][0] != ERROR)
                        .unwrap_or(true))
        }
        Want::Ok(s) => r.status == s,
        Want::OkOrHttp => {
            r.status == 200
                || ((400..500).contains(&r.status)
                    && serde_json::from_slice::<Value>(&r.body)
                        .map(|b| b["schemas"][0] != ERROR)
                        .unwrap_or(true))
        }
    };
    (!ok).then(|| format!("{} (wanted {:?})", what(), c.want))
}

fn filter_q(f: &str) -> String {
    format!("/Users?filter={}", enc(f))
}

fn search(f: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"filter": f})).unwrap()
}

fn patch_body(ops: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&patch_op(Value::from(ops))).unwrap()
}

/// `n` member values that look like user ids (no such users exist).
fn members(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"value": format!("{i:08x}-0000-4000-8000-000000000000")}))
        .collect()
}

fn user_body(user_name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemas": [USER], "userName": user_name})).unwrap()
}

/// What the store holds, as seen through the API.
fn snapshot(host: &Host, uid: &str, gid: &str) -> (Value, Value, Value, Value, Value) {
    let get = |p: &str| {
        let r = host.get(p);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        r.json()
    };
    (
        get(&format!("/Users/{uid}")),
        get(&format!("/Groups/{gid}")),
        get("/Users?count=1000")["totalResults"].clone(),
        get("/Groups?count=1000")["totalResults"].clone(),
        get("/Roles?count=1000"),
    )
}

#[test]
fn hostile_input_is_refused_in_bounded_time_and_changes_nothing() {
    let host = Host::start();
    // maxBodyBytes, the default the README's "Limits" table documents (the
    // ServiceProviderConfig holds only RFC 7643 §5 attributes).
    let max_body = 1_048_576;

    // What must survive the table.
    let r = host.send_json(
        "POST",
        "/Users",
        &json!({"schemas": [USER], "userName": "keeper", "externalId": "ext-keeper",
                "displayName": "Keeper", "name": {"givenName": "Kee", "familyName": "Per"},
                "emails": [{"value": "keeper@example.com", "type": "work", "primary": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let uid = id_of(&r.json());
    let r = host.send_json(
        "POST",
        "/Groups",
        &json!({"displayName": "Keepers", "members": [{"value": uid}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    let rid = host.get("/Roles").json()["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = snapshot(&host, &uid, &gid);
    let user = format!("/Users/{uid}");
    let group = format!("/Groups/{gid}");

    const SYNTAX: Want = Want::Scim(400, Some("invalidSyntax"));
    const VALUE: Want = Want::Scim(400, Some("invalidValue"));
    const FILTER: Want = Want::Scim(400, Some("invalidFilter"));
    const NOT_FOUND: Want = Want::Scim(404, None);
    const TOO_LARGE: Want = Want::Scim(413, None);
    const VALUE_OR_TOO_LARGE: Want = Want::OneOf(&[(400, Some("invalidValue")), (413, None)]);

    let mut cases: Vec<Case> = Vec::new();

    // ---- bodies over the advertised limit --------------------------------------
    let oversized = |len: usize| {
        let mut b = format!(r#"{{"schemas":["{USER}"],"userName":"big","pad":""#).into_bytes();
        b.resize(len - 2, b'x');
        b.extend_from_slice(b"\"}");
        b
    };
    for (name, method, target) in [
        ("POST /Users", "POST", "/Users".to_string()),
        ("PUT user", "PUT", user.clone()),
        ("PATCH user", "PATCH", user.clone()),
        ("POST /Users/.search", "POST", "/Users/.search".to_string()),
        ("POST /.search", "POST", "/.search".to_string()),
        ("PATCH role", "PATCH", format!("/Roles/{rid}")),
    ] {
        cases.push(
            case(
                format!("body of max+1 bytes: {name}"),
                method,
                target.clone(),
            )
            .json(oversized(max_body + 1))
            .want(TOO_LARGE),
        );
    }
    cases.push(
        case("body of 4 MiB", "POST", "/Users")
            .json(oversized(4 * 1024 * 1024))
            .want(TOO_LARGE),
    );
    cases.push(
        case("oversized body on an unknown route", "POST", "/Nope")
            .json(oversized(max_body + 1))
            .want(Want::OneOf(&[(413, None), (404, None)])),
    );

    // ---- malformed JSON ---------------------------------------------------------
    for (name, body) in [
        ("truncated object", br#"{"userName": "#.to_vec()),
        ("unquoted key", br#"{userName: "x"}"#.to_vec()),
        ("trailing comma", br#"{"userName": "x",}"#.to_vec()),
        ("single quotes", br#"{'userName': 'x'}"#.to_vec()),
        (
            "two documents",
            br#"{"userName": "x"} {"userName": "y"}"#.to_vec(),
        ),
        ("invalid UTF-8", b"{\"userName\": \"\xff\xfe\"}".to_vec()),
        ("lone surrogate", br#"{"userName": "\ud800"}"#.to_vec()),
        (
            "byte order mark",
            b"\xef\xbb\xbf{\"userName\": \"bom\"}".to_vec(),
        ),
        ("NUL byte", b"{\"userName\": \"x\"}\0".to_vec()),
        (
            "number out of range",
            br#"{"userName": "n", "x": 1e999}"#.to_vec(),
        ),
        ("empty body", Vec::new()),
        ("whitespace body", b"  \n\t ".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", br#""userName""#.to_vec()),
        ("number", b"42".to_vec()),
    ] {
        cases.push(
            case(format!("malformed JSON, POST: {name}"), "POST", "/Users")
                .json(body.clone())
                .want(SYNTAX),
        );
        cases.push(
            case(
                format!("malformed JSON, PATCH: {name}"),
                "PATCH",
                user.clone(),
            )
            .json(body.clone())
            .want(SYNTAX),
        );
    }
    cases.push(
        case("malformed JSON, PUT", "PUT", user.clone())
            .json(br#"{"userName": "#.to_vec())
            .want(SYNTAX),
    );
    cases.push(
        case("malformed JSON, .search", "POST", "/.search")
            .json(br#"{"filter": "#.to_vec())
            .want(SYNTAX),
    );
    cases.push(
        case("text/plain body", "POST", "/Users")
            .header("content-type", "text/plain")
            .raw_body(user_body("plain"))
            .want(Want::Scim(415, None)),
    );
    cases.push(
        case("XML body", "POST", "/Users")
            .header("content-type", "application/xml")
            .raw_body(b"<user><userName>x</userName></user>".to_vec())
            .want(Want::Scim(415, None)),
    );

    // ---- deep nesting -----------------------------------------------------------
    let deep_arrays = "[".repeat(100_000).into_bytes();
    let deep_objects = r#"{"a":"#.repeat(50_000).into_bytes();
    let mut deep_in_user = format!(r#"{{"schemas":["{USER}"],"userName":"deep","name":"#);
    deep_in_user.push_str(&"[".repeat(100_000));
    let mut deep_closed = "[".repeat(10_000);
    deep_closed.push_str(&"]".repeat(10_000));
    for (name, body) in [
        ("100k [", deep_arrays.clone()),
        ("50k objects", deep_objects.clone()),
        ("100k [ inside a user", deep_in_user.clone().into_bytes()),
        ("10k balanced [ ]", deep_closed.clone().into_bytes()),
    ] {
        for (method, target) in [
            ("POST", "/Users".to_string()),
            ("PUT", user.clone()),
            ("PATCH", group.clone()),
            ("POST", "/Users/.search".to_string()),
            ("POST", "/.search".to_string()),
        ] {
            cases.push(
                case(
                    format!("deep nesting, {method} {target}: {name}"),
                    method,
                    target,
                )
                .json(body.clone())
                .want(SYNTAX),
            );
        }
    }
    let deep_patch_value = format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"add","path":"emails","value":{}}}]}}"#,
        "[".repeat(100_000)
    );
    cases.push(
        case("deep nesting inside a PATCH value", "PATCH", user.clone())
            .json(deep_patch_value)
            .want(SYNTAX),
    );

    // ---- open extensions that would not read back (issue 16) ---------------------
    // An open vendor schema keeps what is sent; what it keeps must stay
    // within what the store and the JSON reader can take back: nesting that
    // parses in the request (under serde_json's 128 levels) but would be one
    // level too deep stored, and strings without a bound.
    let nested = |levels: usize| -> Value {
        let mut v = json!("leaf");
        for _ in 0..levels {
            v = json!({ "n": v });
        }
        v
    };
    for levels in [40, 125] {
        let doc = json!({"schemas": [USER, SAP_USER], "userName": format!("nest{levels}"),
                         SAP_USER: {"deep": nested(levels)}});
        cases.push(
            case(
                format!("open extension nested {levels} deep: POST"),
                "POST",
                "/Users",
            )
            .json(doc.to_string())
            .want(VALUE),
        );
        let doc = json!({"schemas": [USER, SAP_USER], "userName": "keeper",
                         SAP_USER: {"deep": nested(levels)}});
        cases.push(
            case(
                format!("open extension nested {levels} deep: PUT"),
                "PUT",
                user.clone(),
            )
            .json(doc.to_string())
            .want(VALUE),
        );
        cases.push(
            case(
                format!("open extension nested {levels} deep: PATCH"),
                "PATCH",
                user.clone(),
            )
            .json(patch_body(vec![json!({"op": "add",
                    "path": format!("{SAP_USER}:deep"), "value": nested(levels)})]))
            // 125 levels inside the PATCH envelope pass serde_json's reading
            // limit already: refused as syntax then.
            .want(Want::OneOf(&[
                (400, Some("invalidValue")),
                (400, Some("invalidSyntax")),
            ])),
        );
    }
    let long_open = json!({"schemas": [USER, SAP_USER], "userName": "longopen",
                           SAP_USER: {"note": "x".repeat(100_000)}});
    cases.push(
        case("open extension string of 100 KB", "POST", "/Users")
            .json(long_open.to_string())
            .want(VALUE),
    );
    // A body within the advertised limit whose stored record would pass the
    // store's 1 MiB per value: refused before anything is written (the name
    // stays free, no list slot is taken).
    let filled = |user_name: &str, target_len: usize| -> Vec<u8> {
        let mut ext = serde_json::Map::new();
        let mut doc = json!({"schemas": [USER, SAP_USER], "userName": user_name});
        let mut i = 0;
        while doc.to_string().len() + 4_200 < target_len {
            ext.insert(format!("f{i}"), json!("y".repeat(4_000)));
            doc[SAP_USER] = Value::Object(ext.clone());
            i += 1;
        }
        // Pad to exactly `target_len` bytes.
        let rest = target_len - doc.to_string().len() - r#","pad":"""#.len();
        ext.insert("pad".into(), json!("p".repeat(rest.min(4_000))));
        doc[SAP_USER] = Value::Object(ext);
        doc.to_string().into_bytes()
    };
    let near_limit = filled("bigrecord", max_body - 16);
    assert!(near_limit.len() <= max_body && near_limit.len() > max_body - 100);
    cases.push(
        case(
            "a record past the store's value limit: POST",
            "POST",
            "/Users",
        )
        .json(near_limit)
        .want(TOO_LARGE),
    );
    cases.push(
        case(
            "a record past the store's value limit: PUT",
            "PUT",
            user.clone(),
        )
        .json(filled("keeper", max_body - 16))
        .want(TOO_LARGE),
    );
    // One no-path add whose fields fill the body: stored beside the user's
    // other attributes, the record passes the limit.
    let mut fields = serde_json::Map::new();
    let mut i = 0;
    while patch_body(vec![
        json!({"op": "add", "value": {SAP_USER: fields.clone()}}),
    ])
    .len()
        + 4_100
        < max_body
    {
        fields.insert(format!("g{i}"), json!("z".repeat(4_000)));
        i += 1;
    }
    let len = patch_body(vec![
        json!({"op": "add", "value": {SAP_USER: fields.clone()}}),
    ])
    .len();
    fields.insert("pad".into(), json!("p".repeat(max_body - len - 32)));
    let many_fields = vec![json!({"op": "add", "value": {SAP_USER: fields}})];
    assert!(patch_body(many_fields.clone()).len() <= max_body);
    cases.push(
        case(
            "a record past the store's value limit: PATCH",
            "PATCH",
            user.clone(),
        )
        .json(patch_body(many_fields))
        .want(TOO_LARGE),
    );

    // ---- huge arrays ------------------------------------------------------------
    let emails = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"value": format!("u{i}@x.io")}))
            .collect()
    };
    cases.push(
        case("100k emails, POST", "POST", "/Users")
            .json(
                serde_json::to_vec(
                    &json!({"schemas": [USER], "userName": "many", "emails": emails(100_000)}),
                )
                .unwrap(),
            )
            .want(VALUE_OR_TOO_LARGE),
    );
    cases.push(
        case("40k emails, POST (under the body limit)", "POST", "/Users")
            .json(
                serde_json::to_vec(
                    &json!({"schemas": [USER], "userName": "many", "emails": emails(40_000)}),
                )
                .unwrap(),
            )
            .want(VALUE),
    );
    cases.push(
        case("100k equal emails, POST", "POST", "/Users")
            .json(
                serde_json::to_vec(&json!({"schemas": [USER], "userName": "many",
                    "emails": vec![json!({"value": "same@x.io"}); 100_000]}))
                .unwrap(),
            )
            .want(VALUE_OR_TOO_LARGE),
    );
    cases.push(
        case("100k numbers as emails, POST", "POST", "/Users")
            .json(
                serde_json::to_vec(
                    &json!({"schemas": [USER], "userName": "many", "emails": vec![1; 100_000]}),
                )
                .unwrap(),
            )
            .want(VALUE),
    );
    cases.push(
        case("40k emails, PUT", "PUT", user.clone())
            .json(
                serde_json::to_vec(
                    &json!({"schemas": [USER], "userName": "keeper", "emails": emails(40_000)}),
                )
                .unwrap(),
            )
            .want(VALUE),
    );
    cases.push(
        case("40k emails, PATCH add", "PATCH", user.clone())
            .json(patch_body(vec![
                json!({"op": "add", "path": "emails", "value": emails(40_000)}),
            ]))
            .want(VALUE),
    );
    cases.push(
        case(
            "40k emails, PATCH replace without path",
            "PATCH",
            user.clone(),
        )
        .json(patch_body(vec![
            json!({"op": "replace", "value": {"emails": emails(40_000)}}),
        ]))
        .want(VALUE),
    );
    cases.push(
        case("100k members, POST /Groups", "POST", "/Groups")
            .json(
                serde_json::to_vec(&json!({"displayName": "huge", "members": members(100_000)}))
                    .unwrap(),
            )
            .want(TOO_LARGE),
    );
    cases.push(
        case("100k numbers as members, POST /Groups", "POST", "/Groups")
            .json(
                serde_json::to_vec(&json!({"displayName": "huge", "members": vec![1; 100_000]}))
                    .unwrap(),
            )
            .want(VALUE),
    );
    cases.push(
        case("100k numbers as members, PATCH", "PATCH", group.clone())
            .json(patch_body(vec![
                json!({"op": "add", "path": "members", "value": vec![1; 100_000]}),
            ]))
            .want(VALUE),
    );

    // ---- names: too long, control characters --------------------------------------
    let long_name = "n".repeat(10 * 1024);
    cases.push(
        case("10 KB userName, POST", "POST", "/Users")
            .json(user_body(&long_name))
            .want(VALUE),
    );
    cases.push(
        case("10 KB userName, PUT", "PUT", user.clone())
            .json(user_body(&long_name))
            .want(VALUE),
    );
    cases.push(
        case("10 KB userName, PATCH", "PATCH", user.clone())
            .json(patch_body(vec![
                json!({"op": "replace", "path": "userName", "value": long_name}),
            ]))
            .want(VALUE),
    );
    cases.push(
        case("10 KB group displayName, POST", "POST", "/Groups")
            .json(serde_json::to_vec(&json!({"displayName": long_name})).unwrap())
            .want(VALUE),
    );
    cases.push(
        case("1 MB-ish title, POST", "POST", "/Users")
            .json(
                serde_json::to_vec(&json!({"userName": "t", "title": "t".repeat(max_body - 100)}))
                    .unwrap(),
            )
            .want(VALUE),
    );
    for bad in [
        "\u{0}bob",
        "bob\u{7}",
        "bob\nsmith",
        "bob\r\n",
        "tab\tbed",
        "\u{1b}[2Jclear",
        "del\u{7f}",
        "c1\u{85}",
        "\u{9b}31m",
    ] {
        cases.push(
            case(
                format!("control characters in userName {bad:?}, POST"),
                "POST",
                "/Users",
            )
            .json(user_body(bad))
            .want(VALUE),
        );
        cases.push(
            case(
                format!("control characters in userName {bad:?}, PATCH"),
                "PATCH",
                user.clone(),
            )
            .json(patch_body(vec![
                json!({"op": "replace", "path": "userName", "value": bad}),
            ]))
            .want(VALUE),
        );
        cases.push(
            case(
                format!("control characters in displayName {bad:?}, PUT group"),
                "PUT",
                group.clone(),
            )
            .json(serde_json::to_vec(&json!({"displayName": bad})).unwrap())
            .want(VALUE),
        );
    }
    cases.push(
        case("NUL in externalId", "POST", "/Users")
            .json(serde_json::to_vec(&json!({"userName": "x", "externalId": "a\u{0}b"})).unwrap())
            .want(VALUE),
    );
    cases.push(
        case("NUL in an email", "POST", "/Users")
            .json(
                serde_json::to_vec(&json!({"userName": "x", "emails": [{"value": "a\u{0}@b"}]}))
                    .unwrap(),
            )
            .want(VALUE),
    );
    cases.push(
        case("blank userName", "POST", "/Users")
            .json(user_body("   "))
            .want(VALUE),
    );
    cases.push(
        case("undeclared schema", "POST", "/Users")
            .json(br#"{"schemas": ["urn:evil:schema"], "userName": "x"}"#.to_vec())
            .want(VALUE),
    );
    cases.push(
        case("undeclared extension", "POST", "/Users")
            .json(br#"{"userName": "x", "urn:evil:ext": {"a": 1}}"#.to_vec())
            .want(VALUE),
    );
    cases.push(
        case("schemas not an array", "POST", "/Users")
            .json(br#"{"schemas": "x", "userName": "x"}"#.to_vec())
            .want(SYNTAX),
    );

    // ---- ids that are not UUIDs ---------------------------------------------------
    for id in [
        "not-a-uuid".to_string(),
        "1".to_string(),
        "0".to_string(),
        format!("{uid}x"),
        format!("{{{uid}}}"),
        uid.replace('-', ""),
        format!("{uid}%00"),
        "%00".to_string(),
        "..%2F..".to_string(),
        "..%2f..%2fGroups".to_string(),
        "%2e%2e".to_string(),
        "'%20OR%201=1--".to_string(),
        "%22%3E%3Cscript%3E".to_string(),
        "~".to_string(),
        "%FF%FE".to_string(),
        "a".repeat(8 * 1024),
    ] {
        let short = &id[..id.len().min(40)];
        for kind in ["Users", "Groups", "Roles"] {
            let target = format!("/{kind}/{id}");
            cases.push(case(format!("GET /{kind}/{short}"), "GET", target.clone()).want(NOT_FOUND));
            let body = if kind == "Users" {
                user_body("keeper")
            } else {
                serde_json::to_vec(&json!({"displayName": "x"})).unwrap()
            };
            cases.push(
                case(format!("PUT /{kind}/{short}"), "PUT", target.clone())
                    .json(body)
                    .want(NOT_FOUND),
            );
            cases.push(
                case(format!("PATCH /{kind}/{short}"), "PATCH", target.clone())
                    .json(patch_body(vec![
                        json!({"op": "replace", "path": "displayName", "value": "x"}),
                    ]))
                    .want(NOT_FOUND),
            );
            let del = if kind == "Roles" {
                Want::Scim(405, None)
            } else {
                NOT_FOUND
            };
            cases.push(case(format!("DELETE /{kind}/{short}"), "DELETE", target).want(del));
        }
    }

    // ---- long and odd paths ---------------------------------------------------------
    for (name, target, want) in [
        ("8 KB path", format!("/{}", "p".repeat(8 * 1024)), NOT_FOUND),
        (
            "8 KB of segments",
            format!("/Users{}", "/a".repeat(4 * 1024)),
            NOT_FOUND,
        ),
        (
            "/Users/../Groups",
            "/Users/../Groups".to_string(),
            NOT_FOUND,
        ),
        ("/Users/./x", "/Users/./x".to_string(), NOT_FOUND),
        ("/Users/x/y", format!("{user}/groups"), NOT_FOUND),
        ("trailing slashes", "/Users////".to_string(), Want::Ok(200)),
        (
            "doubled slashes",
            format!("//api/scim/v2//Users//{uid}"),
            Want::Ok(200),
        ),
        ("/Users%2F..", "/Users%2F..".to_string(), NOT_FOUND),
        ("%00 segment", "/%00".to_string(), NOT_FOUND),
        (
            "above the base",
            "//api/scim/v2/../../../etc/passwd".to_string(),
            Want::ScimOrHttp(404, None),
        ),
        (
            "backslashes",
            "/Users\\..\\Groups".to_string(),
            Want::ScimOrHttp(404, None),
        ),
    ] {
        cases.push(case(name, "GET", target).want(want));
    }
    cases.push(
        case("raw UTF-8 in the path", "GET", "/Users/\u{e9}t\u{e9}")
            .want(Want::ScimOrHttp(404, None)),
    );
    cases
        .push(case("raw space in the path", "GET", "/Users/a b").want(Want::ScimOrHttp(404, None)));

    // ---- methods --------------------------------------------------------------------
    for (method, target) in [
        ("PUT", "/Users".to_string()),
        ("PATCH", "/Users".to_string()),
        ("DELETE", "/Users".to_string()),
        ("POST", user.clone()),
        ("PROPFIND", "/Users".to_string()),
        ("TRACE", user.clone()),
        ("DELETE", "/ServiceProviderConfig".to_string()),
        ("POST", "/Schemas".to_string()),
    ] {
        cases.push(
            case(format!("{method} {target:.20}"), method, target)
                .json(user_body("keeper"))
                .want(Want::ScimOrHttp(405, None)),
        );
    }

    // ---- query strings ---------------------------------------------------------------
    let big_filter = format!(r#"userName eq "{}""#, "f".repeat(100 * 1024));
    cases.push(
        case("100 KB filter in the query", "GET", filter_q(&big_filter))
            .want(Want::ScimOrHttp(400, Some("invalidFilter"))),
    );
    cases.push(
        case("100 KB filter in a SearchRequest", "POST", "/Users/.search")
            .json(search(&big_filter))
            .want(FILTER),
    );
    cases.push(
        case(
            "5 KB filter in the query",
            "GET",
            filter_q(&big_filter[..5 * 1024]),
        )
        .want(FILTER),
    );
    for (q, want) in [
        ("count=-5", Want::Ok(200)),
        ("count=0", Want::Ok(200)),
        ("count=999999999", Want::Ok(200)),
        ("count=99999999999999999999999", VALUE),
        ("count=abc", VALUE),
        ("count=1e3", VALUE),
        ("count=%00", VALUE),
        ("startIndex=0", Want::Ok(200)),
        ("startIndex=-1", Want::Ok(200)),
        ("startIndex=9223372036854775807", Want::Ok(200)),
        ("startIndex=abc", VALUE),
        ("sortOrder=sideways", VALUE),
        (
            "sortBy=nope.nope.nope",
            Want::Scim(400, Some("invalidValue")),
        ),
        ("filter=", Want::Ok(200)),
        ("filter=%", FILTER),
        ("filter=%ZZ", FILTER),
        ("filter=userName%20eq%20%22unterminated", FILTER),
        ("filter=userName%20regex%20%22.*%22", FILTER),
        ("filter=userName%20eq%20%22x%22%20and", FILTER),
        ("filter=name.givenName.x.y%20eq%20%22x%22", FILTER),
        ("filter=userName%20eq%20%22%00%22", FILTER),
        ("filter=%FF%FE%20eq%20%22x%22", FILTER),
        ("a=1&a=2&&&=&==&filter", Want::Ok(200)),
    ] {
        cases.push(case(format!("query {q}"), "GET", format!("/Users?{q}")).want(want));
    }
    let many_params: String = (0..5000).map(|i| format!("p{i}=v&")).collect();
    cases.push(
        case(
            "5000 query parameters",
            "GET",
            format!("/Users?{many_params}"),
        )
        .want(Want::Ok(200)),
    );
    let many_attrs = vec!["userName"; 4000].join(",");
    cases.push(
        case(
            "4000 attributes",
            "GET",
            format!("/Users?attributes={many_attrs}"),
        )
        .want(Want::Ok(200)),
    );
    let long_query = format!("/Users?x={}", "q".repeat(100 * 1024));
    cases.push(case("100 KB query string", "GET", long_query).want(Want::OkOrHttp));

    // ---- headers ------------------------------------------------------------------------
    let mut many_headers = case("200 headers", "GET", "/Users").want(Want::OkOrHttp);
    for i in 0..200 {
        many_headers = many_headers.header(&format!("x-h{i}"), "v".repeat(100));
    }
    cases.push(many_headers);
    cases.push(
        case("a 60 KB header", "GET", "/Users")
            .header("x-junk", "j".repeat(60 * 1024))
            .want(Want::OkOrHttp),
    );
    cases.push(
        case("a 60 KB Authorization header", "GET", "/Users")
            .header("authorization", format!("Bearer {}", "a".repeat(60 * 1024)))
            .want(Want::ScimOrHttp(401, None)),
    );
    let many_etags: Vec<String> = (0..5000).map(|i| format!("W/\"{i}x\"")).collect();
    cases.push(
        case("If-Match with 5000 versions", "PATCH", user.clone())
            .header("if-match", many_etags.join(", "))
            .json(patch_body(vec![
                json!({"op": "replace", "path": "displayName", "value": "changed"}),
            ]))
            .want(Want::ScimOrHttp(412, None)),
    );
    cases.push(
        case("If-Match garbage", "DELETE", user.clone())
            .header("if-match", "\"\u{0}\"")
            .want(Want::ScimOrHttp(412, None)),
    );
    cases.push(
        case("Content-Type with 10k parameters", "POST", "/Users")
            .header(
                "content-type",
                format!("application/json{}", "; a=b".repeat(10_000)),
            )
            .raw_body(b"{".to_vec())
            .want(Want::ScimOrHttp(400, Some("invalidSyntax"))),
    );

    // ---- case-insensitive matching in linear time (issue 16) ---------------------
    for op in ["co", "sw", "ew"] {
        for needle in ["A".repeat(3_990) + "B", "Σ".repeat(1_990)] {
            cases.push(
                case(
                    format!("{op} with a {}-character needle", needle.chars().count()),
                    "POST",
                    "/Users/.search",
                )
                .json(search(&format!("displayName {op} \"{needle}\"")))
                .want(Want::Ok(200)),
            );
        }
    }

    // ---- credentials (issue 16) -----------------------------------------------------
    // Two Authorization headers: refused, whichever comes first (RFC 6750
    // §3.1 invalid_request), and nothing is created.
    let valid = format!(
        "Bearer {}",
        e2e::token_with(&["scim.read", "scim.write"], None)
    );
    for (name, first, second) in [
        ("the same token twice", valid.clone(), valid.clone()),
        (
            "a valid token, then garbage",
            valid.clone(),
            "Bearer garbage".to_string(),
        ),
        (
            "garbage, then a valid token",
            "Bearer garbage".to_string(),
            valid.clone(),
        ),
        (
            "a valid token and Basic",
            valid.clone(),
            "Basic dXNlcjpwYXNz".to_string(),
        ),
    ] {
        cases.push(
            case(
                format!("two Authorization headers: {name}"),
                "GET",
                "/Users",
            )
            .header("authorization", first.clone())
            .header("authorization", second.clone())
            .want(Want::Scim(400, None)),
        );
        cases.push(
            case(
                format!("two Authorization headers on POST: {name}"),
                "POST",
                "/Users",
            )
            .header("authorization", first)
            .header("authorization", second)
            .json(user_body("twice"))
            .want(Want::Scim(400, None)),
        );
    }
    // Scopes match exactly: a suffix is not the scope, nor is an XSUAA
    // prefix nobody configured.
    for scope in [
        "evil.scim.write",
        ".scim.write",
        "afc!t1.scim.write",
        "scim.write.evil",
    ] {
        cases.push(
            case(format!("scope {scope:?} on POST"), "POST", "/Users")
                .header(
                    "authorization",
                    format!("Bearer {}", e2e::token_with(&[scope], None)),
                )
                .json(user_body("scoped"))
                .want(Want::Scim(403, None)),
        );
    }
    cases.push(
        case("scope \"evil.scim.read\" on GET", "GET", "/Users")
            .header(
                "authorization",
                format!("Bearer {}", e2e::token_with(&["evil.scim.read"], None)),
            )
            .want(Want::Scim(403, None)),
    );

    // ---- filters built to explode ---------------------------------------------------
    let parens = |n: usize| format!("{}userName eq \"x\"{}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}userName eq \"x\"{}", "not (".repeat(n), ")".repeat(n));
    let ors = |n: usize| vec![r#"a eq "x""#; n].join(" or ");
    let brackets = |n: usize| {
        format!(
            "emails[{}value eq \"x\"{}]",
            "type eq \"w\" and emails[".repeat(n),
            "]".repeat(n)
        )
    };
    for (name, f) in [
        ("10k (( ))", parens(10_000)),
        ("2000 (( )) (within the length limit)", parens(2000)),
        ("33 (( ))", parens(33)),
        ("10k (((( unbalanced", "(".repeat(10_000)),
        ("10k )))) unbalanced", ")".repeat(10_000)),
        ("5k-term or chain", ors(5000)),
        ("10k not(not(...))", nots(10_000)),
        ("500 not(not(...)) (within the length limit)", nots(500)),
        ("nested value paths", brackets(200)),
        (
            "value path inside a value path",
            r#"emails[value eq "x" and emails[value eq "y"]]"#.to_string(),
        ),
        ("1000 bare nots", "not ".repeat(1000)),
    ] {
        // Percent-encoded, the longest are beyond hyper's URI limit (414).
        let target = filter_q(&f);
        let want = if target.len() > 60_000 {
            Want::ScimOrHttp(400, Some("invalidFilter"))
        } else {
            FILTER
        };
        cases.push(case(format!("filter {name}, query"), "GET", target).want(want));
        cases.push(
            case(
                format!("filter {name}, /Users/.search"),
                "POST",
                "/Users/.search",
            )
            .json(search(&f))
            .want(FILTER),
        );
        cases.push(
            case(format!("filter {name}, /.search"), "POST", "/.search")
                .json(search(&f))
                .want(FILTER),
        );
        cases.push(
            case(format!("filter {name}, PATCH path"), "PATCH", user.clone())
                .json(patch_body(vec![
                    json!({"op": "remove", "path": format!("emails[{f}]")}),
                ]))
                .want(Want::OneOf(&[
                    (400, Some("invalidPath")),
                    (400, Some("invalidFilter")),
                ])),
        );
    }
    // Legitimate but large filters answer in bounded time.
    let legit_ors = vec![r#"userName eq "nobody""#; 160].join(" or ");
    assert!(legit_ors.len() < 4096);
    cases.push(
        case(
            "160-term or chain (within limits)",
            "GET",
            filter_q(&legit_ors),
        )
        .want(Want::Ok(200)),
    );
    cases.push(case("31 (( )) (within limits)", "GET", filter_q(&parens(31))).want(Want::Ok(200)));
    cases.push(
        case(
            "SearchRequest with a non-string filter",
            "POST",
            "/Users/.search",
        )
        .json(br#"{"filter": {"op": "eq"}}"#.to_vec())
        .want(VALUE),
    );
    cases.push(
        case("SearchRequest with count abc", "POST", "/.search")
            .json(br#"{"count": "abc"}"#.to_vec())
            .want(VALUE),
    );

    // ---- PATCH built to explode ---------------------------------------------------------
    let ops10k: Vec<Value> = (0..10_000)
        .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("d{i}")}))
        .collect();
    cases.push(
        case("PATCH with 10k operations", "PATCH", user.clone())
            .json(patch_body(ops10k.clone()))
            .want(Want::Scim(400, Some("tooMany"))),
    );
    cases.push(
        case("PATCH group with 10k operations", "PATCH", group.clone())
            .json(patch_body(ops10k))
            .want(Want::Scim(400, Some("tooMany"))),
    );
    cases.push(
        case("PATCH with 1000 failing operations", "PATCH", user.clone())
            .json(patch_body(
                (0..1000)
                    .map(|_| json!({"op": "replace", "path": "active", "value": "maybe"}))
                    .collect(),
            ))
            .want(VALUE),
    );
    cases.push(
        case(
            "PATCH that fails at the last of 1000 operations",
            "PATCH",
            user.clone(),
        )
        .json(patch_body(
            (0..1000)
                .map(|i| {
                    if i < 999 {
                        json!({"op": "replace", "path": "displayName", "value": format!("d{i}")})
                    } else {
                        json!({"op": "replace", "path": "userName", "value": "\u{0}"})
                    }
                })
                .collect(),
        ))
        .want(VALUE),
    );
    cases.push(
        case("PATCH without schemas", "PATCH", user.clone())
            .json(br#"{"Operations": []}"#.to_vec())
            .want(SYNTAX),
    );
    cases.push(
        case("PATCH Operations not an array", "PATCH", user.clone())
            .json(format!(
                r#"{{"schemas": ["{PATCH_OP}"], "Operations": {{}}}}"#
            ))
            .want(SYNTAX),
    );
    cases.push(
        case("PATCH op unknown", "PATCH", user.clone())
            .json(patch_body(vec![
                json!({"op": "explode", "path": "userName", "value": "x"}),
            ]))
            .want(VALUE),
    );
    cases.push(
        case("PATCH 10 KB path", "PATCH", user.clone())
            .json(patch_body(vec![
                json!({"op": "replace", "path": "a.".repeat(5000), "value": "x"}),
            ]))
            .want(Want::Scim(400, Some("invalidPath"))),
    );
    cases.push(
        case("PATCH remove id", "PATCH", user.clone())
            .json(patch_body(vec![json!({"op": "remove", "path": "id"})]))
            .want(Want::Scim(400, Some("mutability"))),
    );
    cases.push(
        case("PATCH remove userName", "PATCH", user.clone())
            .json(patch_body(vec![
                json!({"op": "remove", "path": "userName"}),
            ]))
            .want(Want::Scim(400, Some("mutability"))),
    );
    cases.push(
        case("PUT with another id", "PUT", user.clone())
            .json(
                serde_json::to_vec(&json!({"userName": "keeper",
                    "id": "2819c223-7f76-453a-919d-413861904646"}))
                .unwrap(),
            )
            .want(Want::Scim(400, Some("mutability"))),
    );

    // ---- run the table --------------------------------------------------------------------
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    let mut failures = Vec::new();
    for c in &cases {
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let t = Instant::now();
        let r = host.request(c.method, &c.target, &headers, c.body.as_deref());
        let took = t.elapsed();
        if took > BOUND {
            failures.push(format!("{}: took {took:?}", c.name));
        }
        if took > Duration::from_secs(1) {
            eprintln!("slow: {} took {took:?}", c.name);
        }
        if took > slowest.0 {
            slowest = (took, c.name.clone());
        }
        failures.extend(check(c, &r));
        if serde_json::from_slice::<Value>(&r.body).map_or(true, |b| b["schemas"][0] != ERROR)
            && r.status >= 400
        {
            eprintln!("answered by the HTTP layer: {} -> {}", c.name, r.status);
        }
        // The service keeps answering.
        let alive = host.get("/ServiceProviderConfig");
        assert_eq!(alive.status, 200, "after {}: {}", c.name, alive.text());
    }
    eprintln!(
        "{} hostile cases in {:?}; slowest {:?} ({})",
        cases.len(),
        started.elapsed(),
        slowest.0,
        slowest.1
    );

    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing stored changed.
    let after = snapshot(&host, &uid, &gid);
    assert_eq!(before.0, after.0, "the user is intact");
    assert_eq!(before.1, after.1, "the group is intact");
    assert_eq!(before.2, after.2, "the user count is unchanged");
    assert_eq!(before.3, after.3, "the group count is unchanged");
    assert_eq!(before.4, after.4, "the roles are unchanged");
    for f in [
        r#"userName eq "keeper""#,
        r#"emails eq "keeper@example.com""#,
        r#"externalId eq "ext-keeper""#,
    ] {
        let r = host.get(&filter_q(f));
        assert_eq!(r.json()["totalResults"], 1, "{f}: {}", r.text());
    }
}

/// Member lists are not capped (a PUT carries a whole group), so the only
/// bound is the body size: a 1 MiB body holds ~20k id-like or ~150k short
/// member values. Unknown members are dropped (AFC), but deciding that must
/// take linear time, not minutes.
const MEMBER_BOUND: Duration = Duration::from_secs(5);

/// `n` short member values (bare strings: `"members": ["0", "1", ...]`).
fn short_members(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!(format!("{i}"))).collect()
}

/// Send each `(name, method, path, body)`; each must answer `status` with
/// no member added, within [`MEMBER_BOUND`].
fn member_cases(host: &Host, cases: &[(&str, &str, &str, Value, u16)]) {
    let mut slow = Vec::new();
    for (name, method, path, body, status) in cases {
        assert!(
            serde_json::to_vec(body).unwrap().len() < 1024 * 1024,
            "{name}"
        );
        let t = Instant::now();
        let r = host.send_json(method, path, body);
        let took = t.elapsed();
        eprintln!("{name}: {} in {took:?}", r.status);
        assert_eq!(r.status, *status, "{name}: {}", r.text());
        // A group's PATCH answers 204: read the group back.
        let now = if r.status == 204 { host.get(path) } else { r };
        assert!(
            now.json().get("members").is_none(),
            "{name}: no member added"
        );
        if took > MEMBER_BOUND {
            slow.push(format!("{name}: {took:?}"));
        }
    }
    assert!(
        slow.is_empty(),
        "slower than {MEMBER_BOUND:?}:\n{}",
        slow.join("\n")
    );
    assert_eq!(host.get("/ServiceProviderConfig").status, 200);
}

fn group_host() -> (Host, String) {
    let host = Host::start();
    let r = host.send_json("POST", "/Groups", &json!({"displayName": "target"}));
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = id_of(&r.json());
    (host, format!("/Groups/{gid}"))
}

#[test]
fn huge_member_lists_in_post_and_put_answer_in_bounded_time() {
    let (host, group) = group_host();
    let put = |m: Vec<Value>| json!({"displayName": "target", "members": m});
    member_cases(
        &host,
        &[
            (
                "POST 20k id-like members",
                "POST",
                "/Groups",
                json!({"displayName": "huge", "members": members(20_000)}),
                201,
            ),
            (
                "POST 120k short members",
                "POST",
                "/Groups",
                json!({"displayName": "huge2", "members": short_members(120_000)}),
                201,
            ),
            (
                "PUT 20k id-like members",
                "PUT",
                &group,
                put(members(20_000)),
                200,
            ),
            (
                "PUT 120k short members",
                "PUT",
                &group,
                put(short_members(120_000)),
                200,
            ),
        ],
    );
}

#[test]
fn huge_member_lists_in_patch_answer_in_bounded_time() {
    // Duplicate members are dropped with hash sets (patch/, storage/members.rs):
    // linear in the request, so a 1 MiB body answers in bounded time.
    let (host, group) = group_host();
    let op = |op: &str, m: Vec<Value>| patch_op(json!([{"op": op, "path": "members", "value": m}]));
    member_cases(
        &host,
        &[
            (
                "PATCH add 20k id-like members",
                "PATCH",
                &group,
                op("add", members(20_000)),
                204,
            ),
            (
                "PATCH add 60k short members",
                "PATCH",
                &group,
                op("add", short_members(60_000)),
                204,
            ),
            (
                "PATCH remove 60k short members",
                "PATCH",
                &group,
                op("remove", short_members(60_000)),
                204,
            ),
        ],
    );
}
