//! spin-scim's SCIM 2.0 engine (RFC 7643 / RFC 7644). Plain Rust, no Spin
//! dependency: the component adapts HTTP and the key-value store to it.
#![deny(missing_docs)]

pub mod api;
mod audit;
pub mod auth;
mod bulk;
pub mod check;
pub mod config;
mod discovery;
pub mod document;
mod endpoints;
pub mod error;
pub mod filter;
pub mod http;
mod list;
pub mod openapi;
pub mod patch;
mod projection;
mod quota;
mod roles;
mod route;
pub mod schema;
pub mod storage;
#[cfg(test)]
mod testutil;
pub mod text;

pub use error::{Result, ScimError, ScimType};
