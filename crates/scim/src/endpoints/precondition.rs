//! Preconditions on versions (RFC 7644 §3.14): `If-Match` on writes and
//! deletes, `If-None-Match` on reads, against a record's ETag.

use crate::error::{Result, ScimError};
use crate::http::Request;
use crate::storage::records::Record;

/// Whether an `If-Match` / `If-None-Match` header names `etag` (or `*`);
/// weak and strong forms compare equal.
pub(super) fn etag_matches(header: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// 412 unless the request's `If-Match` (when it sends one) names the
/// current version.
pub(super) fn check_if_match(req: &Request, current: Option<&Record>) -> Result<()> {
    if let Some(h) = req.header("if-match") {
        let ok = match current {
            Some(r) => etag_matches(h, &r.etag()),
            None => false,
        };
        if !ok {
            return Err(ScimError::new(
                412,
                None,
                "If-Match does not match the resource's current version",
            ));
        }
    }
    Ok(())
}
