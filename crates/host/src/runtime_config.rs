//! `--runtime-config-file` in Spin's format (the key-value part):
//!
//! ```toml
//! [key_value_store.default]
//! type = "spin"                # SQLite
//! path = "data/kv.db"          # relative to this file; no path = in memory
//!
//! [key_value_store.cache]
//! type = "redis"
//! url = "redis://127.0.0.1:6379/0"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wasmtime::{bail, format_err, Result};

use crate::kv::redis::RedisStore;
use crate::kv::sqlite::SqliteDb;
use crate::kv::{CasSemantics, KvBackend, Store};

/// Where one store label lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvStoreConfig {
    /// SQLite: a file, or in memory when `None`.
    Spin {
        path: Option<PathBuf>,
    },
    Redis {
        url: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, KvStoreConfig>,
}

#[derive(Deserialize)]
struct RawStore {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format_err!("cannot read runtime config {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir)
            .map_err(|e| format_err!("invalid runtime config {}: {e}", path.display()))
    }

    /// Parses the file text; relative SQLite paths resolve against `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let table: toml::Table = toml::from_str(text).map_err(|e| format_err!("{e}"))?;
        let mut config = RuntimeConfig::default();
        for (section, value) in table {
            if section != "key_value_store" {
                eprintln!("scim-host: ignoring unsupported runtime config section [{section}]");
                continue;
            }
            let stores: HashMap<String, RawStore> = value
                .try_into()
                .map_err(|e| format_err!("[key_value_store]: {e}"))?;
            for (label, raw) in stores {
                let store = match raw.type_.as_str() {
                    "spin" => KvStoreConfig::Spin {
                        path: raw.path.map(|p| dir.join(p)),
                    },
                    "redis" => KvStoreConfig::Redis {
                        url: raw.url.ok_or_else(|| {
                            format_err!("[key_value_store.{label}]: type \"redis\" needs `url`")
                        })?,
                    },
                    other => bail!(
                        "[key_value_store.{label}]: unsupported type {other:?} (supported: \"spin\", \"redis\")"
                    ),
                };
                config.key_value_stores.insert(label, store);
            }
        }
        Ok(config)
    }

    /// Opens every configured store, adding the `default` label (SQLite at
    /// `<state_dir>/sqlite_key_value.db`) unless configured otherwise.
    /// Labels sharing one SQLite file share one connection.
    pub fn open_stores(
        &self,
        state_dir: &Path,
        semantics: CasSemantics,
    ) -> Result<HashMap<String, Store>> {
        let mut configs = self.key_value_stores.clone();
        configs
            .entry("default".to_string())
            .or_insert_with(|| KvStoreConfig::Spin {
                path: Some(state_dir.join("sqlite_key_value.db")),
            });
        let mut files: HashMap<PathBuf, Arc<SqliteDb>> = HashMap::new();
        let mut stores = HashMap::new();
        for (label, config) in configs {
            let backend: Arc<dyn KvBackend> = match config {
                KvStoreConfig::Spin { path: Some(path) } => {
                    let db = match files.get(&path) {
                        Some(db) => db.clone(),
                        None => {
                            let db = SqliteDb::open(&path).map_err(|e| {
                                format_err!("key-value store {label:?} ({}): {e}", path.display())
                            })?;
                            files.insert(path.clone(), db.clone());
                            db
                        }
                    };
                    Arc::new(db.store(&label))
                }
                KvStoreConfig::Spin { path: None } => Arc::new(
                    SqliteDb::in_memory()
                        .map_err(|e| format_err!("key-value store {label:?}: {e}"))?
                        .store(&label),
                ),
                KvStoreConfig::Redis { url } => Arc::new(
                    RedisStore::new(&url)
                        .map_err(|e| format_err!("key-value store {label:?}: {e}"))?,
                ),
            };
            stores.insert(
                label.clone(),
                Store::new(label, backend).with_semantics(semantics),
            );
        }
        Ok(stores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spin_and_redis_stores() {
        let text = r#"
[key_value_store.default]
type = "spin"
path = "data/kv.db"

[key_value_store.mem]
type = "spin"

[key_value_store.cache]
type = "redis"
url = "redis://127.0.0.1:6379/0"
"#;
        let c = RuntimeConfig::parse(text, Path::new("/etc/app")).unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KvStoreConfig::Spin {
                path: Some(PathBuf::from("/etc/app/data/kv.db"))
            }
        );
        assert_eq!(
            c.key_value_stores["mem"],
            KvStoreConfig::Spin { path: None }
        );
        assert_eq!(
            c.key_value_stores["cache"],
            KvStoreConfig::Redis {
                url: "redis://127.0.0.1:6379/0".into()
            }
        );
    }

    #[test]
    fn rejects_unknown_types_and_missing_url() {
        assert!(RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"azure_cosmos\"\n",
            Path::new(".")
        )
        .is_err());
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"redis\"\n", Path::new("."))
                .is_err()
        );
    }

    #[test]
    fn default_store_is_sqlite_in_state_dir() {
        let dir = std::env::temp_dir().join(format!("scim-host-rc-{}", std::process::id()));
        let stores = RuntimeConfig::default()
            .open_stores(&dir, CasSemantics::Spin)
            .unwrap();
        assert_eq!(stores.len(), 1);
        assert!(stores["default"].describe().contains("sqlite_key_value.db"));
        assert!(dir.join("sqlite_key_value.db").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
