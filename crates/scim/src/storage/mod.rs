//! Storage: the key-value interface the engine needs (`kv`), every key it
//! writes (`layout`), resources and their indexes on top of it (`records`),
//! and group/role memberships spread over buckets (`members`). See
//! docs/storage.md for the design and its invariants.

pub mod kv;
pub(crate) mod layout;
pub(crate) mod members;
pub(crate) mod records;
