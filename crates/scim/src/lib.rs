//! spin-scim's SCIM 2.0 engine (RFC 7643 / RFC 7644). Plain Rust, no Spin
//! dependency: the component adapts HTTP and the key-value store to it.

pub mod api;
pub mod auth;
pub mod config;
mod discovery;
pub mod document;
mod endpoints;
pub mod error;
pub mod filter;
/// Attribute paths (RFC 7644 §3.10, §3.5.2): in `filter/`, since a value
/// path holds a filter and a filter holds attribute paths.
pub use filter::path;
pub mod http;
mod list;
pub mod patch;
mod projection;
mod quota;
mod roles;
mod route;
pub mod schema;
pub mod storage;
#[cfg(test)]
mod testutil;

pub use error::{Result, ScimError, ScimType};
