//! The API documentation page, `GET /docs`: Swagger UI (the pinned npm
//! package `swagger-ui-dist`, mounted into the component by spin.toml
//! `files`) reading `/openapi.json`. Which asset a path names, where the
//! component holds it and how it is served is decided here; the component
//! only reads the file (`Service::with_files` in `api`).
//!
//! The page's assets are the same for every deployment and hold no data, so
//! they need no token (a browser cannot send one for a page it navigates
//! to); the document itself follows `discovery_requires_auth`, and the
//! page's own `settings.json` tells its script whether to ask for a token
//! before loading it. Everything comes from the service's own origin: the
//! Content-Security-Policy allows nothing else (no CDN, so the page works in
//! an air-gapped cluster).

use crate::error::ScimError;
use crate::http::Response;
use serde_json::json;

/// Where spin.toml mounts the page's own files (`docs/swagger/page/`).
const PAGE_DIR: &str = "/docs/swagger/page";
/// Where spin.toml mounts the npm package's files.
const DIST_DIR: &str = "/docs/swagger/node_modules/swagger-ui-dist";

/// One file of the page.
pub struct Asset {
    /// The name under `/docs/` (empty: the page itself, `/docs`).
    pub name: &'static str,
    /// Its directory inside the component.
    dir: &'static str,
    /// Its file name there.
    file: &'static str,
    /// Its media type.
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the page loads; nothing else under `/docs/` is served.
const ASSETS: &[Asset] = &[
    Asset {
        name: "",
        dir: PAGE_DIR,
        file: "index.html",
        content_type: "text/html; charset=utf-8",
    },
    Asset {
        name: "swagger-init.js",
        dir: PAGE_DIR,
        file: "swagger-init.js",
        content_type: JS,
    },
    Asset {
        name: "swagger-ui.css",
        dir: DIST_DIR,
        file: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        name: "swagger-ui-bundle.js",
        dir: DIST_DIR,
        file: "swagger-ui-bundle.js",
        content_type: JS,
    },
    Asset {
        name: "favicon-32x32.png",
        dir: DIST_DIR,
        file: "favicon-32x32.png",
        content_type: "image/png",
    },
    Asset {
        name: "favicon-16x16.png",
        dir: DIST_DIR,
        file: "favicon-16x16.png",
        content_type: "image/png",
    },
];

/// The page's settings, generated: whether the document needs a token.
pub const SETTINGS: &str = "settings.json";

/// Only the service's own origin (CSP Level 3). Swagger UI sets element
/// styles at run time, and its images include `data:` URIs; it needs no
/// inline script (the page's own script is a file) and no eval.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The asset `name` names (`""` for the page), if it is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

impl Asset {
    /// Its path inside the component.
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.file)
    }
}

/// The response for a page file whose bytes `read` returned.
pub fn serve(asset: &Asset, read: Result<Vec<u8>, String>) -> Result<Response, ScimError> {
    let body = read.map_err(|e| {
        ScimError::internal(format!(
            "the documentation page's file is missing from the component (spin.toml files): {e}"
        ))
    })?;
    Ok(with_page_headers(Response {
        status: 200,
        headers: vec![("content-type".into(), asset.content_type.into())],
        body,
    }))
}

/// `settings.json`: what the page's script needs to know.
pub fn settings(token_required: bool) -> Response {
    with_page_headers(Response::json(
        200,
        &json!({ "tokenRequired": token_required }),
    ))
    .with_header("content-type", "application/json")
}

/// The headers every page response carries.
fn with_page_headers(r: Response) -> Response {
    r.with_header("content-security-policy", CSP)
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
        .with_header("cache-control", "no-cache")
}
