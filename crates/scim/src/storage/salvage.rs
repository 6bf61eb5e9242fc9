//! Salvaging a stored record that no longer decodes (data written before a
//! bound existed, or by a bug): enough of it to delete it cleanly — its
//! revision, list chunk, member buckets and the shallow attributes its index
//! entries come from (`userName`/`displayName`, `externalId`, `emails`).
//!
//! The record is walked without recursion: an object's members are found by
//! counting brackets outside strings (RFC 8259 §2, §7), so a value of any
//! depth is skipped over, and only the members that decode on their own are
//! kept.

use super::records::Record;
use serde_json::{Map, Value};

/// The record `raw` with the members of its document that decode on their
/// own; `None` when not even the record's outline can be read.
pub(crate) fn salvage(raw: &[u8]) -> Option<Record> {
    let outer = object_members(raw)?;
    let field = |name: &str| outer.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let rev = serde_json::from_slice(field("rev")?).ok()?;
    let buckets = field("buckets")
        .and_then(|v| serde_json::from_slice(v).ok())
        .unwrap_or(0);
    let chunk = field("chunk").and_then(|v| serde_json::from_slice(v).ok());
    let mut doc = Map::new();
    for (k, v) in object_members(field("doc")?)? {
        if let Ok(v) = serde_json::from_slice::<Value>(v) {
            doc.insert(k, v);
        }
    }
    Some(Record {
        rev,
        buckets,
        chunk,
        audit: None,
        doc: Value::Object(doc),
    })
}

/// The members of the JSON object that `raw` holds, as (name, raw value).
fn object_members(raw: &[u8]) -> Option<Vec<(String, &[u8])>> {
    let mut i = skip_ws(raw, 0);
    if raw.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(raw, i + 1);
    let mut out = Vec::new();
    if raw.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let key_end = string_end(raw, i)?;
        let key: String = serde_json::from_slice(&raw[i..key_end]).ok()?;
        i = skip_ws(raw, key_end);
        if raw.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(raw, i + 1);
        let end = value_end(raw, start)?;
        out.push((key, &raw[start..end]));
        i = skip_ws(raw, end);
        match raw.get(i)? {
            b',' => i = skip_ws(raw, i + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(raw: &[u8], mut i: usize) -> usize {
    while raw.get(i).is_some_and(|b| b" \t\r\n".contains(b)) {
        i += 1;
    }
    i
}

/// One past the closing quote of the string starting at `i`.
fn string_end(raw: &[u8], i: usize) -> Option<usize> {
    if raw.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match raw.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// One past the end of the value starting at `i`: a string, an object or
/// array (brackets counted, strings skipped), or a literal.
fn value_end(raw: &[u8], i: usize) -> Option<usize> {
    match raw.get(i)? {
        b'"' => string_end(raw, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match raw.get(j)? {
                    b'"' => {
                        j = string_end(raw, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while raw.get(j).is_some_and(|b| !b",}] \t\r\n".contains(b)) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deep(levels: usize) -> String {
        let mut s = String::from("\"leaf\"");
        for _ in 0..levels {
            s = format!("{{\"n\":[{s}]}}");
        }
        s
    }

    #[test]
    fn a_record_too_deep_to_decode_keeps_its_outline_and_shallow_attributes() {
        let raw = format!(
            r#"{{"rev":7,"buckets":5,"chunk":2,"doc":{{"schemas":["u"],"userName":"b\"j","ext":{},"emails":[{{"value":"b@x"}}],"externalId":"x1"}}}}"#,
            deep(500)
        );
        assert!(
            Record::decode(raw.as_bytes()).is_err(),
            "too deep for serde_json"
        );
        let r = salvage(raw.as_bytes()).expect("salvaged");
        assert_eq!((r.rev, r.buckets, r.chunk), (7, 5, Some(2)));
        assert_eq!(r.doc["userName"], "b\"j");
        assert_eq!(r.doc["externalId"], "x1");
        assert_eq!(r.doc["emails"], json!([{"value": "b@x"}]));
        assert!(r.doc.get("ext").is_none(), "the deep member is dropped");
    }

    #[test]
    fn a_record_salvages_like_it_decodes_when_it_decodes() {
        let rec = Record {
            rev: 3,
            buckets: 0,
            chunk: None,
            audit: None,
            doc: json!({"userName": "ann", "name": {"givenName": "A [}"}, "n": -1.5e3}),
        };
        let s = salvage(&rec.encode()).unwrap();
        assert_eq!(s.doc, rec.doc);
        assert_eq!((s.rev, s.buckets, s.chunk), (3, 0, None));
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        for raw in [
            &b""[..],
            b"[",
            b"{",
            b"{\"rev\":",
            b"{\"rev\":1,\"doc\":{\"a\":\"unterminated",
            b"{\"rev\":1,\"doc\":[1,2]}",
            b"{\"doc\":{}}",
            b"\"\\",
        ] {
            assert!(salvage(raw).is_none(), "{:?}", String::from_utf8_lossy(raw));
        }
    }
}
