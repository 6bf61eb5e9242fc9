//! `scim-host`: runs the spin-scim Spin application locally, without the
//! `spin` CLI. It reads `spin.toml`, componentizes and compiles the
//! component's `.wasm` exactly as Spin would run it, and serves the HTTP
//! trigger with a fresh instance per request, implementing Spin's
//! key-value (SQLite or Redis) and variables interfaces.

mod check;
mod component;
mod files;
mod host;
mod kv;
mod limits;
mod manifest;
mod outbound;
mod router;
mod runtime_config;
mod seed;
mod server;
mod stdio;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::{
    bail, format_err, Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    Result,
};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::host::{ComponentEnv, HostState};
use crate::kv::CasSemantics;
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::router::Router;
use crate::runtime_config::RuntimeConfig;
use crate::server::{App, ComponentRuntime};

const USAGE: &str = "\
scim-host: run the spin-scim Spin application locally (a Spin-compatible host)

Usage: scim-host [OPTIONS]
       scim-host check [OPTIONS]    Check (and repair) a store: check --help
       scim-host seed [OPTIONS]     Create many resources at once: seed --help

Options:
      --manifest FILE             Spin manifest to run [default: spin.toml]
      --listen ADDR               Address to listen on [default: 127.0.0.1:3000];
                                  port 0 picks a free port
      --runtime-config-file FILE  Spin runtime config: [key_value_store.<label>]
                                  with type = \"spin\" (path = \"...\") or
                                  type = \"redis\" (url = \"redis://...\")
      --state-dir DIR             State directory (default key-value store
                                  DIR/sqlite_key_value.db, compiled-component
                                  cache) [default: .spin next to the manifest]
      --wasm FILE                 Run this .wasm instead of the component's
                                  `source` (single-component applications)
      --quiet                     Do not print a log line per request
      --header-timeout SECS       Close a connection whose request head is not
                                  complete this long after the connection
                                  opened or the previous response ended (an
                                  idle keep-alive connection too)
                                  [default: 5; env SCIM_HOST_HEADER_TIMEOUT]
      --body-idle-timeout SECS    Answer 408 and close the connection when the
                                  request body sends nothing this long while
                                  the component waits for it (the component
                                  reads an error, as when a client goes away)
                                  [default: 15; env SCIM_HOST_BODY_IDLE_TIMEOUT]
      --body-timeout SECS         The same when the body is not complete this
                                  long after the component began to read it
                                  (a body trickled a byte at a time)
                                  [default: 60; env SCIM_HOST_BODY_TIMEOUT]
      --send-timeout SECS         Close the connection when the client has read
                                  nothing of a response this long (the
                                  component writing it reads a closed stream)
                                  [default: 30; env SCIM_HOST_SEND_TIMEOUT]
      --max-connections N         Serve at most N connections at once; answer
                                  more with 503 and Retry-After at once
                                  [default: 128; env SCIM_HOST_MAX_CONNECTIONS]
      --strict-kv                 Give the guest a true compare-and-swap and a
                                  working get_many on every store (stronger
                                  than Spin; by default the key-value stores
                                  behave exactly as Spin 3.0-4.0.2's do, weak
                                  spots included: docs/storage.md)
  -h, --help                      Print this help
  -V, --version                   Print the version

Timeouts are seconds (2.5, 5s) or milliseconds (500ms). 0 (or off) turns a
limit off: `--header-timeout 0 --body-idle-timeout 0 --body-timeout 0 --send-timeout 0
--max-connections 0` is `spin up`, which has none of these (put them in an ingress in front
of it: deploy/README.md). A flag overrides its environment variable.

Environment:
  SPIN_VARIABLE_<NAME>            Value of the application variable <name>
                                  (overrides its default)
  SPIN_MAX_INSTANCE_COUNT         Most instances alive at once, as Spin's
                                  pooling allocator [default: 1000]; further
                                  requests answer 500, as under Spin
  SCIM_HOST_POOLING=0             Allocate each instance on demand instead of
                                  from the pooling allocator (the default)

The manifest's HTTP triggers, `key_value_stores`, `files`, `environment`,
`variables` and `allowed_outbound_hosts` are honoured; each request runs in
a fresh instance. On startup the host prints `Serving http://ADDR` on
stdout, then one JSON line per request:
  {\"ts\",\"method\",\"route\",\"status\",\"duration_ms\",\"instantiate_ms\"}
(route: the trigger route that matched, as in the manifest, or null; never
the request's path or query, which hold ids and names; instantiate_ms: the
fresh instance's setup, absent when no component ran). SIGINT/SIGTERM stop it gracefully: no new
connections, in-flight requests finish (up to 30 s), exit status 0.
";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    manifest: PathBuf,
    listen: String,
    runtime_config_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    wasm: Option<PathBuf>,
    quiet: bool,
    strict_kv: bool,
    limits: Limits,
    /// `SPIN_MAX_INSTANCE_COUNT`.
    max_instances: u32,
}

enum Command {
    Run(Box<Args>),
    Help,
    Version,
}

/// The command line; `env` reads the environment (the limits' variables,
/// which flags override).
fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<Command, String> {
    let mut limits = Limits::default();
    let from_env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(v) = from_env("SCIM_HOST_HEADER_TIMEOUT") {
        limits.header_timeout =
            limits::parse_timeout(&v).map_err(|e| format!("SCIM_HOST_HEADER_TIMEOUT: {e}"))?;
    }
    if let Some(v) = from_env("SCIM_HOST_BODY_IDLE_TIMEOUT") {
        limits.body.idle =
            limits::parse_timeout(&v).map_err(|e| format!("SCIM_HOST_BODY_IDLE_TIMEOUT: {e}"))?;
    }
    if let Some(v) = from_env("SCIM_HOST_BODY_TIMEOUT") {
        limits.body.total =
            limits::parse_timeout(&v).map_err(|e| format!("SCIM_HOST_BODY_TIMEOUT: {e}"))?;
    }
    if let Some(v) = from_env("SCIM_HOST_SEND_TIMEOUT") {
        limits.send_timeout =
            limits::parse_timeout(&v).map_err(|e| format!("SCIM_HOST_SEND_TIMEOUT: {e}"))?;
    }
    if let Some(v) = from_env("SCIM_HOST_MAX_CONNECTIONS") {
        limits.max_connections =
            limits::parse_count(&v).map_err(|e| format!("SCIM_HOST_MAX_CONNECTIONS: {e}"))?;
    }
    let mut out = Args {
        manifest: PathBuf::from("spin.toml"),
        listen: "127.0.0.1:3000".to_string(),
        runtime_config_file: None,
        state_dir: None,
        wasm: None,
        quiet: false,
        strict_kv: false,
        limits,
        max_instances: max_instances(env)?,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> std::result::Result<String, String> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--manifest" | "-f" | "--from" => out.manifest = value(&flag)?.into(),
            "--listen" => out.listen = value(&flag)?,
            "--runtime-config-file" => out.runtime_config_file = Some(value(&flag)?.into()),
            "--state-dir" => out.state_dir = Some(value(&flag)?.into()),
            "--wasm" => out.wasm = Some(value(&flag)?.into()),
            "--quiet" | "-q" => out.quiet = true,
            "--strict-kv" => out.strict_kv = true,
            "--header-timeout" => {
                out.limits.header_timeout =
                    limits::parse_timeout(&value(&flag)?).map_err(|e| format!("{flag}: {e}"))?
            }
            "--body-idle-timeout" => {
                out.limits.body.idle =
                    limits::parse_timeout(&value(&flag)?).map_err(|e| format!("{flag}: {e}"))?
            }
            "--body-timeout" => {
                out.limits.body.total =
                    limits::parse_timeout(&value(&flag)?).map_err(|e| format!("{flag}: {e}"))?
            }
            "--send-timeout" => {
                out.limits.send_timeout =
                    limits::parse_timeout(&value(&flag)?).map_err(|e| format!("{flag}: {e}"))?
            }
            "--max-connections" => {
                out.limits.max_connections =
                    limits::parse_count(&value(&flag)?).map_err(|e| format!("{flag}: {e}"))?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Command::Run(Box::new(out)))
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("check") {
        return check::main(std::env::args().skip(2));
    }
    if std::env::args().nth(1).as_deref() == Some("seed") {
        return seed::main(std::env::args().skip(2));
    }
    let args = match parse_args(std::env::args().skip(1), &|name| std::env::var(name).ok()) {
        Ok(Command::Run(a)) => *a,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("scim-host {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scim-host: {e} (see scim-host --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scim-host: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scim-host: error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// Interval of the epoch ticker: a running guest yields to the async
/// runtime at least this often, so a busy guest never monopolises a worker
/// thread and an abandoned request can be cancelled.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// The most guest instances alive at once by default: the pooling
/// allocator's slot count. `SPIN_MAX_INSTANCE_COUNT` changes it, as it
/// sizes Spin's pool (Spin's `crates/core/src/lib.rs`). Requests beyond it
/// fail to instantiate and answer 500, as under Spin (see `App::slots`).
pub const MAX_INSTANCES: u32 = 1000;

/// `SPIN_MAX_INSTANCE_COUNT`, or [`MAX_INSTANCES`].
fn max_instances(env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<u32, String> {
    match env("SPIN_MAX_INSTANCE_COUNT") {
        None => Ok(MAX_INSTANCES),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| format!("SPIN_MAX_INSTANCE_COUNT: {v:?} is not a count (1 to 100000)")),
    }
}

/// Linear memories and tables in a pool of `max` instances.
fn total_memories(max: u32) -> u32 {
    max
}
fn total_tables(max: u32) -> u32 {
    max.saturating_mul(2)
}

/// How many instances of a component with these needs fit in a pool of
/// `max` instances at once (at most `max`).
fn slots_for(needs: Option<wasmtime::ResourcesRequired>, max: u32) -> u32 {
    let Some(needs) = needs else {
        return max;
    };
    let fit = |total: u32, each: u32| total.checked_div(each).unwrap_or(u32::MAX);
    max.min(fit(total_memories(max), needs.num_memories))
        .min(fit(total_tables(max), needs.num_tables))
        .max(1)
}

/// Linear memory kept resident (and zeroed with memset) per pool slot.
const LINEAR_MEMORY_KEEP_RESIDENT: usize = 256 << 10;

/// The pooling instance allocator, as Spin configures it: every slot
/// (instance metadata, linear memories, tables, async stacks) is reserved
/// once at startup and reused, so a fresh instance per request costs no
/// mmap/munmap; linear memories start from a copy-on-write image of the
/// component's data and are reset, not unmapped, when the instance ends.
fn pooling_config(max: u32) -> PoolingAllocationConfig {
    const MIB: usize = 1 << 20;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(max)
        // A componentized wasip1 module is a handful of core instances
        // (the module, the preview1 adapter, shims), one or two memories
        // and a few tables; the per-component limits leave ample room for
        // a composed component.
        .total_core_instances(max.saturating_mul(8))
        .total_memories(total_memories(max))
        .total_tables(total_tables(max))
        .total_stacks(max)
        // No GC proposals in a Spin component; a few heaps in case.
        .total_gc_heaps(16)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(32)
        .max_memories_per_module(2)
        .max_tables_per_module(4)
        .table_elements(100_000)
        .max_component_instance_size(10 * MIB)
        .max_core_instance_size(10 * MIB)
        // The same ceiling as on-demand allocation (a 32-bit memory's
        // maximum): a guest can grow exactly as far as before.
        .max_memory_size(4 << 30)
        // Reset resident pages (PAGEMAP_SCAN, Linux 6.7+) with memset, up
        // to this much, instead of madvise: the next instance in the slot
        // takes no page faults on them. The scan finds every resident page,
        // not only those this request wrote, so whatever stays resident is
        // zeroed again at every reset: a slot that once served a large
        // request (a preload, a page of 1,000 users) would memset megabytes
        // for each small one after it. 256 KiB covers a point request;
        // beyond it, pages go back to the kernel.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(MIB);
    pool
}

/// The engine, with the pooling allocator unless `SCIM_HOST_POOLING=0` or
/// the system refuses its virtual memory reservation (e.g. a low
/// `ulimit -v`), in which case instances are allocated on demand.
fn engine(max_instances: u32) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let pooling = std::env::var("SCIM_HOST_POOLING").map_or(true, |v| v != "0");
    let engine = if pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(
            max_instances,
        )));
        match Engine::new(&config) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!(
                    "scim-host: warning: cannot create the pooling instance allocator \
                     ({e}); allocating instances on demand (slower)"
                );
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config)?
            }
        }
    } else {
        Engine::new(&config)?
    };
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

async fn run(args: Args) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| manifest.dir.join(".spin"));
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| format_err!("cannot create state dir {}: {e}", state_dir.display()))?;

    let runtime_config = match &args.runtime_config_file {
        Some(p) => RuntimeConfig::load(p)?,
        None => RuntimeConfig::default(),
    };
    let semantics = if args.strict_kv {
        CasSemantics::Strict
    } else {
        CasSemantics::Spin
    };
    let stores = Arc::new(runtime_config.open_stores(&state_dir, semantics)?);

    // Components used by the triggers, each compiled once.
    let used: Vec<String> = {
        let mut seen = HashSet::new();
        manifest
            .triggers
            .iter()
            .filter(|t| seen.insert(t.component.clone()))
            .map(|t| t.component.clone())
            .collect()
    };
    if args.wasm.is_some() && used.len() != 1 {
        bail!("--wasm needs an application with exactly one HTTP component");
    }

    let engine = engine(args.max_instances)?;
    let mut linker = Linker::<HostState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    host::add_to_linker(&mut linker)?;

    let cache = component::ArtifactCache::new(state_dir.join("cache"));
    let staging_root = std::env::temp_dir().join(format!("scim-host-{}", std::process::id()));
    let mut runtimes: HashMap<String, Arc<ComponentRuntime>> = HashMap::new();
    let mut max_running = args.max_instances;
    for id in &used {
        let def = &manifest.components[id];
        let wasm = args.wasm.clone().unwrap_or_else(|| def.source.clone());
        let (loaded, took) = component::timed(|| component::load(&engine, &wasm, Some(&cache)));
        let (component, from) = loaded?;
        max_running = max_running.min(slots_for(
            component.resources_required(),
            args.max_instances,
        ));
        let how = match from {
            component::LoadedFrom::Cache => "loaded from cache",
            component::LoadedFrom::Compiled {
                componentized: true,
            } => "componentized and compiled",
            component::LoadedFrom::Compiled {
                componentized: false,
            } => "compiled",
        };
        eprintln!(
            "scim-host: component {id:?}: {} {how} in {:.0?}",
            wasm.display(),
            took
        );
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| format_err!("component {id:?}: {e:?}"))?;
        let pre = ProxyPre::new(pre).map_err(|e| {
            format_err!("component {id:?} does not export wasi:http/incoming-handler: {e:?}")
        })?;
        for label in &def.key_value_stores {
            if !stores.contains_key(label) {
                eprintln!(
                    "scim-host: warning: component {id:?} may use key-value store {label:?}, \
                     which the runtime config does not define (opening it returns no-such-store)"
                );
            }
        }
        let mounts = files::prepare(&manifest.dir, def, &staging_root.join(id))?;
        let outbound = outbound::OutboundPolicy::new(&def.allowed_outbound_hosts)
            .map_err(|e| format_err!("component {id:?}: allowed_outbound_hosts: {e}"))?;
        if !outbound.is_empty() {
            eprintln!(
                "scim-host: component {id:?} may make outbound HTTP requests to {:?}",
                def.allowed_outbound_hosts
            );
        }
        let env = ComponentEnv {
            id: id.clone(),
            outbound,
            allowed_stores: def.key_value_stores.iter().cloned().collect(),
            stores: stores.clone(),
            variables: def.variables.clone(),
        };
        runtimes.insert(
            id.clone(),
            Arc::new(ComponentRuntime {
                id: id.clone(),
                pre,
                env: Arc::new(env),
                environment: def
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                preopens: mounts.preopens,
            }),
        );
    }

    cache.prune(8);

    let mut router = Router::new(&manifest.base);
    let mut components = Vec::new();
    for t in &manifest.triggers {
        router.add(&t.route, components.len());
        components.push(runtimes[&t.component].clone());
    }

    let listen: SocketAddr = tokio::net::lookup_host(&args.listen)
        .await
        .map_err(|e| format_err!("invalid --listen address {:?}: {e}", args.listen))?
        .next()
        .ok_or_else(|| format_err!("--listen {:?} resolves to no address", args.listen))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format_err!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;

    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "Serving http://{local}")?;
        out.flush()?;
    }
    eprintln!(
        "scim-host: application {:?}, {} variable(s): {}",
        manifest.name.as_deref().unwrap_or("(unnamed)"),
        manifest.variables.len(),
        manifest
            .variables
            .iter()
            .map(|(name, v)| if v.secret {
                format!("{name} (secret)")
            } else {
                name.clone()
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    {
        let secs = |d: Option<std::time::Duration>| {
            d.map_or_else(|| "none".to_string(), |d| format!("{d:?}"))
        };
        let l = &args.limits;
        eprintln!(
            "scim-host: limits: request head within {}, request body idle at most {} \
             and complete within {}, response unread at most {}, {} connection(s) at once, \
             {} instance(s) at once",
            secs(l.header_timeout),
            secs(l.body.idle),
            secs(l.body.total),
            secs(l.send_timeout),
            l.max_connections
                .map_or_else(|| "any number of".to_string(), |n| n.to_string()),
            max_running
        );
    }
    for (store_label, store) in stores.iter() {
        eprintln!(
            "scim-host: key-value store {store_label:?}: {}",
            store.describe()
        );
    }
    eprintln!("scim-host: available routes:");
    for (r, t) in router.routes().iter().zip(&manifest.triggers) {
        let wildcard = if r.raw.ends_with("...") {
            " (wildcard)"
        } else {
            ""
        };
        eprintln!(
            "  {}: http://{local}{}{wildcard}",
            t.component,
            r.matched_route.trim_end_matches("/...")
        );
    }

    let app = Arc::new(App::new(
        router,
        components,
        args.quiet,
        local,
        max_running as usize,
        args.limits,
    ));
    server::serve(app, listener, server::shutdown_signal()).await?;

    server::flush_request_log();
    eprintln!("scim-host: shutting down");
    for store in stores.values() {
        kv::blocking(|| store.flush());
    }
    let _ = std::fs::remove_dir_all(&staging_root);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> std::result::Result<Command, String> {
        args_env(list, &[])
    }

    fn args_env(list: &[&str], env: &[(&str, &str)]) -> std::result::Result<Command, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_args(list.iter().map(|s| s.to_string()), &move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn instance_slots_fit_the_pool() {
        let needs = |num_memories, num_tables| {
            Some(wasmtime::ResourcesRequired {
                num_memories,
                max_initial_memory_size: Some(18),
                num_tables,
                max_initial_table_size: Some(493),
            })
        };
        let max = MAX_INSTANCES;
        assert_eq!(slots_for(None, max), max);
        // The spin-scim component: one memory, two tables.
        assert_eq!(slots_for(needs(1, 2), max), max);
        assert_eq!(slots_for(needs(0, 0), max), max);
        assert_eq!(slots_for(needs(2, 1), max), max / 2);
        assert_eq!(slots_for(needs(1, 8), max), 2 * max / 8);
        assert_eq!(slots_for(needs(u32::MAX, 1), max), 1);
        // SPIN_MAX_INSTANCE_COUNT=1.
        assert_eq!(slots_for(needs(1, 2), 1), 1);
        assert_eq!(slots_for(needs(2, 1), 1), 1);
    }

    /// The engine comes up whether or not the pooling allocator's
    /// reservation is possible here (it falls back to on-demand), and
    /// instances come and go.
    #[tokio::test]
    async fn engine_starts_and_instantiates() {
        let engine = engine(MAX_INSTANCES).unwrap();
        // The empty component (header only).
        let component = wasmtime::component::Component::new(&engine, b"\0asm\x0d\0\x01\0").unwrap();
        let linker = Linker::<()>::new(&engine);
        for _ in 0..3 {
            let mut store = wasmtime::Store::new(&engine, ());
            linker
                .instantiate_async(&mut store, &component)
                .await
                .unwrap();
        }
    }

    #[test]
    fn parses_cli() {
        let Ok(Command::Run(a)) = args(&[]) else {
            panic!()
        };
        assert_eq!(a.manifest, PathBuf::from("spin.toml"));
        assert_eq!(a.listen, "127.0.0.1:3000");
        assert!(!a.quiet);
        let Ok(Command::Run(a)) = args(&[
            "--manifest",
            "app/spin.toml",
            "--listen=127.0.0.1:0",
            "--runtime-config-file",
            "rc.toml",
            "--state-dir",
            "/tmp/s",
            "--wasm",
            "x.wasm",
            "--quiet",
            "--strict-kv",
        ]) else {
            panic!()
        };
        assert_eq!(
            *a,
            Args {
                manifest: "app/spin.toml".into(),
                listen: "127.0.0.1:0".into(),
                runtime_config_file: Some("rc.toml".into()),
                state_dir: Some("/tmp/s".into()),
                wasm: Some("x.wasm".into()),
                quiet: true,
                strict_kv: true,
                limits: Limits::default(),
                max_instances: MAX_INSTANCES,
            }
        );
        assert!(matches!(args(&["--help"]), Ok(Command::Help)));
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }

    #[test]
    fn limits_from_flags_and_environment() {
        use crate::limits::BodyTimeouts;
        use std::time::Duration;
        let limits = |list: &[&str], env: &[(&str, &str)]| match args_env(list, env) {
            Ok(Command::Run(a)) => Ok((a.limits, a.max_instances)),
            Ok(_) => panic!(),
            Err(e) => Err(e),
        };
        let d = Limits::default();
        assert_eq!(d.header_timeout, Some(Duration::from_secs(5)));
        assert_eq!(d.body.idle, Some(Duration::from_secs(15)));
        assert_eq!(d.body.total, Some(Duration::from_secs(60)));
        assert_eq!(d.send_timeout, Some(Duration::from_secs(30)));
        assert_eq!(d.max_connections, Some(128));
        assert_eq!(limits(&[], &[]), Ok((d, MAX_INSTANCES)));
        // The environment...
        let env = [
            ("SCIM_HOST_HEADER_TIMEOUT", "1"),
            ("SCIM_HOST_BODY_IDLE_TIMEOUT", "1500ms"),
            ("SCIM_HOST_BODY_TIMEOUT", "2.5s"),
            ("SCIM_HOST_SEND_TIMEOUT", "3"),
            ("SCIM_HOST_MAX_CONNECTIONS", "4"),
            ("SPIN_MAX_INSTANCE_COUNT", "2"),
        ];
        let set = Limits {
            header_timeout: Some(Duration::from_secs(1)),
            body: BodyTimeouts {
                idle: Some(Duration::from_millis(1500)),
                total: Some(Duration::from_millis(2500)),
            },
            send_timeout: Some(Duration::from_secs(3)),
            max_connections: Some(4),
        };
        assert_eq!(limits(&[], &env), Ok((set, 2)));
        // ... which flags override; 0 is no limit, as under spin up.
        let spin = Limits {
            header_timeout: None,
            body: BodyTimeouts::default(),
            send_timeout: None,
            max_connections: None,
        };
        assert_eq!(
            limits(
                &[
                    "--header-timeout",
                    "0",
                    "--body-idle-timeout=off",
                    "--body-timeout",
                    "0s",
                    "--send-timeout=0",
                    "--max-connections",
                    "0"
                ],
                &env
            ),
            Ok((spin, 2))
        );
        // An empty variable is unset.
        assert_eq!(
            limits(&[], &[("SCIM_HOST_HEADER_TIMEOUT", "")]),
            Ok((d, MAX_INSTANCES))
        );
        for bad in [
            ("SCIM_HOST_HEADER_TIMEOUT", "soon"),
            ("SCIM_HOST_BODY_IDLE_TIMEOUT", "-1"),
            ("SCIM_HOST_BODY_TIMEOUT", "1h"),
            ("SCIM_HOST_SEND_TIMEOUT", "x"),
            ("SCIM_HOST_MAX_CONNECTIONS", "lots"),
            ("SPIN_MAX_INSTANCE_COUNT", "0"),
            ("SPIN_MAX_INSTANCE_COUNT", "x"),
        ] {
            let e = limits(&[], &[bad]).unwrap_err();
            assert!(e.contains(bad.0), "{e}");
        }
        assert!(limits(&["--header-timeout", "x"], &[]).is_err());
        assert!(limits(&["--max-connections"], &[]).is_err());
    }
}
