//! Starting and stopping the servers under test: the local host running the
//! real `.wasm`, real `spin up` running the same `.wasm` (when a `spin`
//! executable is on `PATH`), and the peer (the Python reference server
//! `scim2-server`, installed into `bench/.venv`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http::Target;
use crate::scenarios::Logs;

/// A running server process.
pub struct Server {
    pub name: &'static str,
    child: Child,
    pub target: Target,
    /// The key-value store directory (ours only).
    pub state_dir: Option<PathBuf>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `(VmHWM, VmRSS)` in KiB, from `/proc/<pid>/status`, summed over the
    /// process and its descendants (`spin up` serves from a child
    /// `spin trigger http` process; for one process it is exact, for a tree
    /// the sum of the peaks bounds the peak of the sum).
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let mut pids = vec![self.pid()];
        let mut total: Option<(u64, u64)> = None;
        let mut i = 0;
        while i < pids.len() && pids.len() < 64 {
            let pid = pids[i];
            i += 1;
            pids.extend(children(pid));
            if let Some((hwm, rss)) = process_memory_kib(pid) {
                let (h, r) = total.unwrap_or((0, 0));
                total = Some((h + hwm, r + rss));
            }
        }
        total
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server's whole process group (`spin up`, through
    /// tests/spin-host as `--host-bin`, serves from a child process).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The direct children of `pid` (Linux `/proc/<pid>/task/*/children`).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

/// `(VmHWM, VmRSS)` in KiB of one process.
fn process_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the child's stdout until a line starts with `prefix` (returns the
/// rest of it), then keeps draining it in the background, into `rest` when
/// given.
fn wait_for_line(
    child: &mut Child,
    prefix: &'static str,
    timeout: Duration,
    rest: Option<std::fs::File>,
) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(found) = line.trim().strip_prefix(prefix) {
                let _ = tx.send(found.trim().to_string());
                break;
            }
            line.clear();
        }
        match rest {
            Some(mut file) => {
                let _ = std::io::copy(&mut reader, &mut file);
            }
            None => {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
        }
    });
    rx.recv_timeout(timeout).ok()
}

/// What runs the `.wasm`: the project's local host, or real `spin up`.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// `scim-host` (crates/host).
    Host(PathBuf),
    /// A `spin` executable, run as `spin up` (its default SQLite key-value
    /// store in the state dir, or the stores of a runtime config file).
    Spin(PathBuf, Option<PathBuf>),
}

impl Runtime {
    /// The server's name in the report.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Host(_) => "spin-scim",
            Runtime::Spin(..) => "spin up",
        }
    }

    /// The command line serving `manifest` on a free loopback port with
    /// its store in `state_dir` (tests/spin-host maps the host's flags to
    /// `spin up`'s the same way).
    fn command(&self, manifest: &Path, state_dir: &Path) -> Command {
        match self {
            Runtime::Host(bin) => {
                let mut c = Command::new(bin);
                c.arg("--manifest")
                    .arg(manifest)
                    .arg("--listen")
                    .arg("127.0.0.1:0")
                    .arg("--state-dir")
                    .arg(state_dir);
                c
            }
            Runtime::Spin(bin, runtime_config) => {
                let mut c = Command::new(bin);
                // Port 0: Spin prints the bound address as `Serving http://ADDR`.
                c.arg("up")
                    .arg("-f")
                    .arg(manifest)
                    .arg("--listen")
                    .arg("127.0.0.1:0")
                    .arg("--state-dir")
                    .arg(state_dir);
                if let Some(rc) = runtime_config {
                    c.arg("--runtime-config-file").arg(rc);
                }
                c
            }
        }
    }
}

/// The `spin` executable on `PATH`, if any.
pub fn spin_on_path() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("spin"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Starts the `.wasm` under `runtime` on 127.0.0.1 (a free port) with a
/// fresh state dir. The component's request log lines (its stderr: the
/// local host passes it through, `spin up` follows every component's
/// output on its stderr by default) go to `logs.guest`, the rest of the
/// server's stdout (the local host's access log) to `logs.access`.
pub fn start_ours(
    runtime: &Runtime,
    manifest: &Path,
    state_dir: &Path,
    secret: &str,
    token: &str,
    logs: &Logs,
    env: &[(&str, &str)],
) -> Result<Server, String> {
    let _ = std::fs::remove_dir_all(state_dir);
    start_ours_on(runtime, manifest, state_dir, secret, token, logs, env)
}

/// [`start_ours`] on the store `state_dir` already holds (a seeded one).
pub fn start_ours_on(
    runtime: &Runtime,
    manifest: &Path,
    state_dir: &Path,
    secret: &str,
    token: &str,
    logs: &Logs,
    env: &[(&str, &str)],
) -> Result<Server, String> {
    let log = &logs.guest;
    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let log_file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut child = runtime
        .command(manifest, state_dir)
        .env("SPIN_VARIABLE_TOKEN_HS256_SECRET", secret)
        .env("SPIN_VARIABLE_DISCOVERY_REQUIRES_AUTH", "false")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", runtime.name()))?;
    let access = std::fs::File::create(&logs.access)
        .map_err(|e| format!("cannot create {}: {e}", logs.access.display()))?;
    let Some(addr) = wait_for_line(
        &mut child,
        "Serving http://",
        Duration::from_secs(180),
        Some(access),
    ) else {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "{} did not report its address (see {})",
            runtime.name(),
            log.display()
        ));
    };
    Ok(Server {
        name: runtime.name(),
        child,
        target: Target {
            addr: addr.trim_end_matches('/').to_string(),
            base: "/api/scim/v2".into(),
            token: Some(token.to_string()),
        },
        state_dir: Some(state_dir.to_path_buf()),
    })
}

/// The peer's pinned requirement (bench/peer-requirements.txt).
fn requirements(root: &Path) -> PathBuf {
    root.join("bench/peer-requirements.txt")
}

/// Makes sure `bench/.venv` holds the peer; returns its `scim2-server`
/// executable. Creates the venv and installs the pinned version on first
/// use (or when the requirements file changed).
pub fn ensure_peer(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("bench/.venv");
    let exe = venv.join("bin/scim2-server");
    let req = requirements(root);
    let wanted =
        std::fs::read_to_string(&req).map_err(|e| format!("cannot read {}: {e}", req.display()))?;
    let stamp = venv.join(".bench-requirements");
    if exe.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(exe);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "scim-bench: installing the peer into {} ({})",
        venv.display(),
        wanted.lines().find(|l| !l.starts_with('#')).unwrap_or("")
    );
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !status.success() {
        return Err(format!("{python} -m venv {} failed", venv.display()));
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&req)
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !status.success() || !exe.exists() {
        return Err("pip install of the peer failed".into());
    }
    let _ = std::fs::write(&stamp, wanted);
    Ok(exe)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts the peer on 127.0.0.1 (in-memory, no authentication: it accepts
/// every request when started without `--bearer-token`).
pub fn start_peer(exe: &Path) -> Result<Server, String> {
    let port = free_port()?;
    let mut child = Command::new(exe)
        .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // wsgiref logs one line per request on stderr.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if wait_for_line(
        &mut child,
        "Serving SCIM on http://",
        Duration::from_secs(60),
        None,
    )
    .is_none()
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err("scim2-server did not start".into());
    }
    Ok(Server {
        name: "scim2-server",
        child,
        target: Target {
            addr: format!("127.0.0.1:{port}"),
            base: "/v2".into(),
            token: None,
        },
        state_dir: None,
    })
}

/// Bytes on disk of the key-value store in `state_dir` (every file but the
/// compiled-component cache), and the file names counted.
pub fn store_bytes(state_dir: &Path) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(state_dir) {
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_file() {
                total += meta.len();
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    (total, names)
}

/// Preloads `n` users ([`crate::scenarios::preload_user`]) into a fresh
/// store in `state_dir` with `scim-host seed` (the engine's own create,
/// in-process, many creates per SQLite transaction), with the variables
/// the server will run with (`env`). Its progress goes to our stderr.
/// Answers the ids by user index and how long it took.
pub fn seed_users(
    host_bin: &Path,
    manifest: &Path,
    state_dir: &Path,
    n: usize,
    env: &[(&str, &str)],
) -> Result<(Vec<String>, Duration), String> {
    use std::io::Write;
    let _ = std::fs::remove_dir_all(state_dir);
    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let started = std::time::Instant::now();
    let mut child = Command::new(host_bin)
        .arg("seed")
        .arg("--manifest")
        .arg(manifest)
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--count")
        .arg(n.to_string())
        .env("SPIN_VARIABLE_DISCOVERY_REQUIRES_AUTH", "false")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {} seed: {e}", host_bin.display()))?;
    let stdin = child.stdin.take().ok_or("seed: no stdin")?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(stdin);
        for i in 0..n {
            serde_json::to_writer(&mut w, &crate::scenarios::preload_user(i))?;
            w.write_all(b"\n")?;
        }
        w.flush()
    });
    let stdout = child.stdout.take().ok_or("seed: no stdout")?;
    let mut ids = Vec::with_capacity(n);
    for line in BufReader::new(stdout).lines() {
        ids.push(line.map_err(|e| format!("seed: reading ids: {e}"))?);
    }
    let status = child.wait().map_err(|e| format!("seed: {e}"))?;
    let written = writer.join();
    if !status.success() {
        return Err(format!("scim-host seed failed ({status})"));
    }
    if let Ok(Err(e)) = written {
        return Err(format!("seed: writing users: {e}"));
    }
    if ids.len() != n {
        return Err(format!(
            "scim-host seed created {} users, not {n}",
            ids.len()
        ));
    }
    Ok((ids, started.elapsed()))
}
