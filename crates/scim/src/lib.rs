//! spin-scim's SCIM 2.0 engine (RFC 7643 / RFC 7644). Plain Rust, no Spin
//! dependency: the component adapts HTTP and the key-value store to it.

pub mod api;
pub mod auth;
pub mod config;
pub mod discovery;
pub mod document;
pub mod error;
pub mod filter;
/// Attribute paths (RFC 7644 §3.10, §3.5.2): in `filter/`, since a value
/// path holds a filter and a filter holds attribute paths.
pub use filter::path;
pub mod http;
pub mod list;
pub mod patch;
pub mod projection;
pub mod quota;
pub mod resources;
pub mod roles;
pub mod schema;
pub mod storage;

pub use error::{Result, ScimError, ScimType};
