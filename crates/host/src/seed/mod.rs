//! `scim-host seed`: preloads a store with many resources at once, for
//! `make bench` at a million users. Each resource (one JSON object per line
//! on stdin) is created by the engine's own `POST /Users` (or `/Groups`)
//! run in-process, with the manifest's variables, against the SQLite store
//! file the host serves from: the keys and values are exactly those the
//! component writes (name claims, index entries, list chunks and summary,
//! records, audit events). What differs from serving is only durability:
//! thousands of creates share one SQLite transaction ([`batch`]), where
//! `spin up` commits (and syncs) every write call.
//!
//! Prints the new ids on stdout, one per line in input order, and progress
//! on stderr. Run it while no host serves the store (as `scim-host check`).

mod batch;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use scim::api::{Env, Service};
use scim::config::Config;
use scim::http::Request;

use crate::manifest::Manifest;
use batch::BatchStore;

pub const USAGE: &str = "\
scim-host seed: create many resources in a store at once (make bench's preload)

Usage: scim-host seed [OPTIONS] < resources.jsonl > ids.txt

Reads one SCIM resource (a JSON object) per line on stdin and creates each
as POST <path> would, with the engine's own code and the manifest's
variables, in the SQLite store the host serves from (DIR/sqlite_key_value.db,
label `default`), committing every --batch creates in one transaction.
Prints each new id on stdout, one per line in input order; progress on
stderr. Run it while no host serves the store.

Options:
      --manifest FILE   Spin manifest [default: spin.toml]
      --state-dir DIR   State directory [default: .spin next to the manifest]
      --path PATH       Endpoint the resources are created at: /Users or
                        /Groups [default: /Users]
      --batch N         Creates per SQLite transaction [default: 10000]
      --count N         How many lines to expect (for the progress ETA)
      --tenant T        Create in tenant T (the token's tenant_claim)
  -h, --help            Print this help

Exit status: 0 when every line was created, 1 when one failed (the line and
the SCIM error are printed; the lines before it are stored), 2 on bad
arguments or an unreadable manifest or store.
";

/// The seeder's settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub manifest: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub path: String,
    pub batch: usize,
    pub count: Option<u64>,
    pub tenant: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            manifest: PathBuf::from("spin.toml"),
            state_dir: None,
            path: "/Users".into(),
            batch: 10_000,
            count: None,
            tenant: None,
        }
    }
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut out = Options::default();
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
        let count = |v: String, name: &str| -> Result<u64, String> {
            v.replace('_', "")
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name}: not a positive number: {v}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--manifest" | "-f" => out.manifest = value(&flag)?.into(),
            "--state-dir" => out.state_dir = Some(value(&flag)?.into()),
            "--path" => {
                out.path = value(&flag)?;
                if !matches!(out.path.as_str(), "/Users" | "/Groups") {
                    return Err(format!("--path: {:?} is not /Users or /Groups", out.path));
                }
            }
            "--batch" => out.batch = count(value(&flag)?, &flag)? as usize,
            "--count" => out.count = Some(count(value(&flag)?, &flag)?),
            "--tenant" => out.tenant = Some(value(&flag)?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(out))
}

/// Runs `scim-host seed` with the arguments after `seed`.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scim-host seed: {e} (see scim-host seed --help)");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match seed(&opts, stdin, stdout, &mut std::io::stderr()) {
        Ok(s) => {
            eprintln!(
                "scim-host seed: created {} in {:.1} s ({:.0}/s) in {}",
                s.created,
                s.elapsed.as_secs_f64(),
                s.created as f64 / s.elapsed.as_secs_f64().max(1e-9),
                s.file.display()
            );
            ExitCode::SUCCESS
        }
        Err(Failure::Line(e)) => {
            eprintln!("scim-host seed: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Setup(e)) => {
            eprintln!("scim-host seed: {e}");
            ExitCode::from(2)
        }
    }
}

/// What a finished seed did.
#[derive(Debug)]
pub struct Summary {
    pub created: u64,
    pub elapsed: Duration,
    /// The store file written.
    pub file: PathBuf,
}

/// Why seeding stopped.
#[derive(Debug)]
pub enum Failure {
    /// Arguments, manifest, store or output: nothing (more) could be done.
    Setup(String),
    /// A line was not created (the ones before it are stored).
    Line(String),
}

/// The variables of the component that uses the `default` store, as the
/// host resolves them (manifest defaults, `SPIN_VARIABLE_*`).
fn component_variables(manifest: &Manifest) -> Result<HashMap<String, String>, String> {
    let mut with_store = manifest
        .components
        .values()
        .filter(|c| c.key_value_stores.iter().any(|s| s == "default"));
    match (with_store.next(), with_store.next()) {
        (Some(c), None) => Ok(c.variables.clone()),
        (None, _) => Err("no component of the manifest uses the `default` store".into()),
        (Some(_), Some(_)) => Err("more than one component uses the `default` store".into()),
    }
}

/// A random HS256 secret of 64 hex digits, for this run's own token.
fn random_secret() -> Result<String, String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

struct NoFetch;

impl scim::auth::jwks::JwksFetcher for NoFetch {
    fn fetch(&self, _url: &str) -> Result<String, String> {
        Err("the seeder fetches no JWKS".into())
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creates one resource per line of `input` in the store `opts` names,
/// writing each new id to `out` and progress to `progress`.
pub fn seed(
    opts: &Options,
    input: impl BufRead,
    mut out: impl Write,
    progress: &mut dyn Write,
) -> Result<Summary, Failure> {
    let manifest = Manifest::load(&opts.manifest).map_err(|e| Failure::Setup(e.to_string()))?;
    let mut vars = component_variables(&manifest).map_err(Failure::Setup)?;
    // The layout depends on the other variables (case-exact names, the
    // audit trail, the tenant claim); the credentials are this run's own:
    // an HS256 secret nobody else holds, and no key source besides it.
    let secret = random_secret().map_err(Failure::Setup)?;
    vars.insert("token_hs256_secret".into(), secret.clone());
    for key in [
        "token_jwks",
        "token_jwks_url",
        "token_issuer",
        "token_audience",
    ] {
        vars.remove(key);
    }
    let var = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
    let cfg = Config::from_vars(&var).map_err(|e| Failure::Setup(format!("configuration: {e}")))?;
    let tenant = match (&opts.tenant, var("tenant_claim")) {
        (None, _) => None,
        (Some(t), Some(claim)) => Some((claim, t.clone())),
        (Some(_), None) => {
            return Err(Failure::Setup(
                "--tenant needs the tenant_claim variable set".into(),
            ))
        }
    };
    let token = scim::auth::mint_hs256(
        &secret,
        &scim::auth::DevClaims {
            scopes: vec![var("scope_write").unwrap_or_else(|| "scim.write".into())],
            client_id: Some("scim-host-seed".into()),
            tenant,
            ttl_secs: 30 * 24 * 3600,
            ..Default::default()
        },
    )
    .map_err(Failure::Setup)?;
    // The role catalog, as the component reads it from its mounted files.
    let catalog = manifest
        .dir
        .join(cfg.roles_catalog_path.trim_start_matches('/'));
    let catalog_source = move || std::fs::read_to_string(&catalog).map_err(|e| e.to_string());
    let state_dir = opts
        .state_dir
        .clone()
        .unwrap_or_else(|| manifest.dir.join(".spin"));
    let file = state_dir.join("sqlite_key_value.db");
    let store = BatchStore::open(&file, "default").map_err(Failure::Setup)?;
    let service = Service::new(cfg);

    let started = Instant::now();
    let mut last_report = started;
    let mut created = 0u64;
    let mut in_batch = 0usize;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Failure::Setup(format!("reading stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let req = Request {
            method: "POST".into(),
            path: opts.path.clone(),
            query: String::new(),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("content-type".into(), "application/scim+json".into()),
            ],
            body: line.into_bytes(),
            base_url: "http://localhost/api/scim/v2".into(),
        };
        let env = Env {
            store: &store,
            now: now_secs(),
            fetcher: &NoFetch,
            catalog_source: &catalog_source,
        };
        let answer = service.handle(&req, &env).response;
        let id = (answer.status == 201)
            .then(|| serde_json::from_slice::<serde_json::Value>(&answer.body).ok())
            .flatten()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string));
        let Some(id) = id else {
            let detail: String = String::from_utf8_lossy(&answer.body)
                .chars()
                .take(400)
                .collect();
            // The lines before this one are kept: each create is whole.
            store.commit().map_err(Failure::Setup)?;
            let _ = out.flush();
            return Err(Failure::Line(format!(
                "line {}: POST {} answered {}: {detail}",
                i + 1,
                opts.path,
                answer.status
            )));
        };
        writeln!(out, "{id}").map_err(|e| Failure::Setup(format!("writing ids: {e}")))?;
        created += 1;
        in_batch += 1;
        if in_batch >= opts.batch {
            store.commit().map_err(Failure::Setup)?;
            in_batch = 0;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            let _ = writeln!(
                progress,
                "{}",
                progress_line(created, opts.count, started.elapsed())
            );
        }
    }
    out.flush()
        .map_err(|e| Failure::Setup(format!("writing ids: {e}")))?;
    store.finish().map_err(Failure::Setup)?;
    Ok(Summary {
        created,
        elapsed: started.elapsed(),
        file,
    })
}

/// `scim-host seed: 120000 of 1000000 (12.0%), 9800/s, ETA 90 s`.
fn progress_line(done: u64, expected: Option<u64>, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    match expected.filter(|&n| n >= done) {
        Some(n) => format!(
            "scim-host seed: {done} of {n} ({:.1}%), {rate:.0}/s, ETA {:.0} s",
            done as f64 * 100.0 / n as f64,
            (n - done) as f64 / rate.max(1e-9)
        ),
        None => format!("scim-host seed: {done}, {rate:.0}/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_flags() {
        let o = parse(
            [
                "--state-dir",
                "/s",
                "--batch=500",
                "--count",
                "1_000",
                "--path",
                "/Groups",
            ]
            .map(String::from),
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.state_dir, Some(PathBuf::from("/s")));
        assert_eq!((o.batch, o.count), (500, Some(1000)));
        assert_eq!(o.path, "/Groups");
        assert!(parse(["--path", "/Roles"].map(String::from)).is_err());
        assert!(parse(["--batch", "0"].map(String::from)).is_err());
        assert!(parse(["--help".to_string()]).unwrap().is_none());
    }

    #[test]
    fn progress_shows_rate_and_eta() {
        let l = progress_line(1000, Some(4000), Duration::from_secs(2));
        assert_eq!(l, "scim-host seed: 1000 of 4000 (25.0%), 500/s, ETA 6 s");
        assert_eq!(
            progress_line(10, None, Duration::from_secs(1)),
            "scim-host seed: 10, 10/s"
        );
    }
}
