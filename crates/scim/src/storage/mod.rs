//! Storage: the key-value interface the engine needs (`kv`), every key it
//! writes (`layout`), resources and their indexes on top of it (`records`),
//! and group/role memberships spread over buckets (`members`); what can be
//! read of a record that no longer decodes (`salvage`); walking the list
//! from a position, for cursors (`walk`); for tests and the bench, an in-memory store as weak as Spin's (`memory`) and a
//! call-counting store (`counting`). See
//! docs/storage.md for the design and its invariants.

pub mod counting;
pub mod kv;
pub(crate) mod layout;
pub(crate) mod members;
pub mod memory;
pub(crate) mod records;
pub(crate) mod salvage;
pub(crate) mod walk;
/// The bench's preloader of a large group (`members::preload`).
pub use members::preload::preload_group;
