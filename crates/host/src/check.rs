//! `scim-host check`: the store checker (`scim::check`) on a store
//! as Spin lays it out (SQLite file or Redis, from the same runtime config
//! and state directory the host serves from), with Spin's own semantics:
//! the repairs make the calls the component would make.

use std::path::PathBuf;
use std::process::ExitCode;

use scim::check::{self, KeyList, Options};
use scim::storage::kv::{CasReport, Change, Store as EngineStore, StoreError, StoreResult};

use crate::kv::{CasSemantics, KvError, Store};
use crate::runtime_config::{KvStoreConfig, RuntimeConfig};

pub const USAGE: &str = "\
scim-host check: verify every invariant of a spin-scim store (docs/storage.md)

Usage: scim-host check [OPTIONS]

Options:
      --manifest FILE             Spin manifest [default: spin.toml]; its
                                  directory holds the default state dir
      --runtime-config-file FILE  Spin runtime config, as for serving
      --state-dir DIR             State directory [default: .spin next to the
                                  manifest]
      --label LABEL               Key-value store label [default: default]
      --user-name-case-exact      Names are case-exact (the service's
                                  user_name_case_exact; also
                                  SPIN_VARIABLE_USER_NAME_CASE_EXACT=true)
      --repair                    Repair the documented leftovers of
                                  interrupted writes (nothing else); run it
                                  while no instance writes to the store
  -h, --help                      Print this help

Prints a summary; exit status 0 when no invariant is violated (leftovers
may remain without --repair), 1 on violations, 2 when the store cannot be
read.
";

/// Keys read per page of the listing.
const PAGE: usize = 1000;

#[derive(Debug, Default)]
struct Args {
    manifest: Option<PathBuf>,
    runtime_config_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    label: Option<String>,
    case_exact: bool,
    repair: bool,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        case_exact: std::env::var("SPIN_VARIABLE_USER_NAME_CASE_EXACT")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true")),
        ..Args::default()
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| match inline.clone().or_else(|| it.next()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("{name} needs a value")),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--manifest" | "-f" => out.manifest = Some(value(&flag)?.into()),
            "--runtime-config-file" => out.runtime_config_file = Some(value(&flag)?.into()),
            "--state-dir" => out.state_dir = Some(value(&flag)?.into()),
            "--label" => out.label = Some(value(&flag)?),
            "--user-name-case-exact" => out.case_exact = true,
            "--repair" => out.repair = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(out))
}

/// Runs `scim-host check` with the arguments after `check`.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args = match parse(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scim-host check: {e} (see scim-host check --help)");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(report) => {
            println!("{report}");
            if report.violations() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("scim-host check: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<check::Report, String> {
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("spin.toml"));
    let state_dir = args.state_dir.clone().unwrap_or_else(|| {
        manifest
            .parent()
            .map_or_else(|| PathBuf::from(".spin"), |d| d.join(".spin"))
    });
    let config = match &args.runtime_config_file {
        Some(p) => RuntimeConfig::load(p).map_err(|e| e.to_string())?,
        None => RuntimeConfig::default(),
    };
    let label = args.label.clone().unwrap_or_else(|| "default".into());
    // Never create a store to check it.
    let file = match config.key_value_stores.get(&label) {
        Some(KvStoreConfig::Spin { path: Some(p) }) => Some(p.clone()),
        Some(KvStoreConfig::Spin { path: None }) => {
            return Err(format!("store {label:?} is in memory: nothing to check"))
        }
        Some(KvStoreConfig::Redis { .. }) => None,
        None if label == "default" => Some(state_dir.join("sqlite_key_value.db")),
        None => return Err(format!("no store {label:?} in the runtime config")),
    };
    if let Some(f) = file.filter(|f| !f.exists()) {
        return Err(format!("no store at {}", f.display()));
    }
    let stores = config
        .open_stores(&state_dir, CasSemantics::Spin)
        .map_err(|e| e.to_string())?;
    let store = stores
        .get(&label)
        .ok_or_else(|| format!("no store {label:?}"))?;
    println!(
        "checking {}{}",
        store.describe(),
        if args.repair { ", repairing" } else { "" }
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let opts = Options {
        name_case_exact: args.case_exact,
        now,
        repair: args.repair,
    };
    let engine = Engine(store);
    let report = check::run(&engine, &engine, &opts).map_err(|e| e.detail)?;
    store.flush();
    Ok(report)
}

/// The host's store as the engine sees it through Spin's interface.
struct Engine<'a>(&'a Store);

fn err(e: KvError) -> StoreError {
    StoreError(e.to_string())
}

impl EngineStore for Engine<'_> {
    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.0.get(key).map_err(err)
    }
    fn batch_get(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let got = self.0.get_many(keys).map_err(err)?;
        if got.len() != keys.len() {
            // Spin's Redis `get-many` answers nothing for one absent key.
            return Err(StoreError(
                "get-many answered another number of keys".into(),
            ));
        }
        Ok(got.into_iter().map(|(_, v)| v).collect())
    }
    fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.0.set(key, value).map_err(err)
    }
    fn delete(&self, key: &str) -> StoreResult<()> {
        self.0.delete(key).map_err(err)
    }
    fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        self.0.delete_many(keys).map_err(err)
    }
    fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        self.0.increment(key, delta).map_err(err)
    }
    fn cas(&self, key: &str, change: &mut Change) -> StoreResult<CasReport> {
        let mut cas = self.0.cas(key).map_err(err)?;
        let current = cas.current().map_err(err)?;
        let Some(new) = change(current.as_deref()) else {
            return Ok(CasReport::Skipped);
        };
        match cas.swap(&new) {
            Ok(()) => Ok(CasReport::Swapped),
            Err(Ok(_)) => Ok(CasReport::Failed),
            Err(Err(e)) => Err(err(e)),
        }
    }
}

impl KeyList for Engine<'_> {
    fn list_keys(&self, cursor: Option<&str>) -> StoreResult<(Vec<String>, Option<String>)> {
        self.0.keys_page(cursor, PAGE).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::sqlite::SqliteDb;
    use std::sync::Arc;

    /// The paged listing of a SQLite store walks every key once, in order.
    #[test]
    fn sqlite_keys_come_in_pages() {
        let store = Store::new(
            "default",
            Arc::new(SqliteDb::in_memory().unwrap().store("default")),
        );
        for i in 0..25 {
            store.set(&format!("k{i:02}"), b"v").unwrap();
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let (page, next) = store.keys_page(cursor.as_deref(), 10).unwrap();
            pages += 1;
            all.extend(page);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let want: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn parses_its_flags() {
        let a = parse(["--state-dir", "/s", "--repair", "--label=x"].map(String::from))
            .unwrap()
            .unwrap();
        assert_eq!(a.state_dir, Some(PathBuf::from("/s")));
        assert!(a.repair);
        assert_eq!(a.label.as_deref(), Some("x"));
        assert!(parse(["--help".to_string()]).unwrap().is_none());
        assert!(parse(["--nope".to_string()]).is_err());
    }
}
