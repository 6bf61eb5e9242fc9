//! `/Me`, the authenticated subject's alias (RFC 7644 §3.11): the User whose
//! `userName` (or `externalId`, `me_attribute`) equals the value of the
//! token's `me_claim`. GET, PUT, PATCH and DELETE run the `/Users/{id}`
//! endpoints on that user unchanged (same validation, preconditions and
//! scopes), and every response carries `Location: <base>/Users/{id}`, the
//! aliased resource's permanent location, as §3.11 requires.
//!
//! What §3.11 leaves to the service provider, decided here:
//! - `me_claim` unset: 501 Not Implemented ("SHOULD" in §3.11);
//! - a token without that claim, or a claim no user holds: 404;
//! - an `externalId` several users hold: 409 (no one user is "me");
//! - POST `/Me` (the created type is "at the discretion of the service
//!   provider"): not offered, 405; users are created at `/Users`.

use super::index::{indexed, lookup};
use super::render::location;
use super::{delete, not_allowed, read, write, Ctx};
use crate::config::MeAttribute;
use crate::error::{Result, ScimError};
use crate::http::Response;
use crate::schema::Kind;
use crate::storage::layout::{fold, IndexAttr};

/// Serve `method` on `/Me` for a principal whose `/Me` claim is `subject`.
pub(crate) fn serve(ctx: &Ctx, method: &str, subject: Option<&str>) -> Result<Response> {
    let Some(claim) = ctx.cfg.auth.me_claim.as_deref() else {
        return Err(ScimError::new(
            501,
            None,
            "/Me is not supported by this server (no me_claim configured)",
        ));
    };
    if !matches!(method, "GET" | "PUT" | "PATCH" | "DELETE") {
        return Err(not_allowed(&format!(
            "{method} /Me (create users at /Users)"
        )));
    }
    let subject =
        subject.ok_or_else(|| ScimError::not_found(format!("the token has no {claim:?} claim")))?;
    let id = resolve(ctx, subject)?;
    let response = match method {
        "GET" => read::get(ctx, Kind::User, &id),
        "PUT" => write::put(ctx, Kind::User, &id),
        "PATCH" => write::patch(ctx, Kind::User, &id),
        _ => delete::delete_user(ctx, &id),
    };
    let here = location(ctx.base(), ctx.rt(Kind::User), &id);
    match response {
        Ok(r) => Ok(r.with_header("location", here)),
        Err(e) => Ok(Response::error(&e).with_header("location", here)),
    }
}

/// The id of the one User whose `me_attribute` is `subject`, compared as a
/// filter `eq` compares it (an index lookup, checked against the record).
fn resolve(ctx: &Ctx, subject: &str) -> Result<String> {
    let (attr, exact) = match ctx.cfg.me_attribute {
        MeAttribute::UserName => (IndexAttr::Name, ctx.name_case_exact()),
        MeAttribute::ExternalId => (IndexAttr::ExternalId, true),
    };
    let want = fold(subject, exact);
    let mut found = Vec::new();
    for id in lookup(ctx, Kind::User, attr, subject)? {
        let Some(loaded) = ctx.repo.load(Kind::User, &id)? else {
            continue;
        };
        let keys = indexed(ctx, Kind::User, &loaded.record.doc);
        let key = match attr {
            IndexAttr::Name => keys.name,
            _ => keys.external,
        };
        if key.as_deref() == Some(want.as_str()) && !found.contains(&id) {
            found.push(id);
        }
    }
    let what = match ctx.cfg.me_attribute {
        MeAttribute::UserName => "userName",
        MeAttribute::ExternalId => "externalId",
    };
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ScimError::not_found(format!(
            "no User has the {what} the token's subject names"
        ))),
        n => Err(ScimError::new(
            409,
            None,
            format!("{n} Users have the {what} the token's subject names; /Me needs exactly one"),
        )),
    }
}
