//! Support for the end-to-end tests: start the local host (`scim-host`) on an
//! ephemeral port with the real `.wasm` and a fresh key-value store, and talk
//! to it over plain HTTP/1.1.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The SCIM base path of spin.toml's trigger route.
pub const BASE: &str = "/api/scim/v2";

// The URNs the tests send and expect, spelled out (RFC 7643 §8.7, RFC 7644
// §3): the tests pin the wire format, independently of the engine's constants.

/// The core User schema (RFC 7643 §4.1).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// SAP's user extension (with `userUuid`).
pub const SAP_USER: &str = "urn:ietf:params:scim:schemas:extension:sap:2.0:User";
/// SAP's custom group extension (with `name`).
pub const SAP_GROUP: &str = "urn:sap:cloud:scim:schemas:extension:custom:2.0:Group";
/// A PATCH request body (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A list response (RFC 7644 §3.4.2).
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A `POST .search` request body (RFC 7644 §3.4.3).
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// An error response (RFC 7644 §3.12).
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The id of the "Processor" role in the deployment's catalog (roles.json).
pub const PROCESSOR: &str = "3f6a1c2e-8b4d-4e7a-9c1f-2d5b8e0a7c31";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn host_binary() -> PathBuf {
    if let Ok(p) = std::env::var("SCIM_HOST_BIN") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join("target/host/scim-host");
    assert!(
        p.exists(),
        "{} is missing: run `make test` (it builds the host and the .wasm first)",
        p.display()
    );
    p
}

/// The HS256 secret every test host is started with.
pub const TEST_SECRET: &str = "e2e-test-secret-0123456789abcdef0123456789";

/// A token for [`TEST_SECRET`] with the given scopes (and optional tenant).
pub fn token_with(scopes: &[&str], tenant: Option<(&str, &str)>) -> String {
    scim::auth::mint_hs256(
        TEST_SECRET,
        &scim::auth::DevClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            client_id: Some("e2e".into()),
            tenant: tenant.map(|(c, t)| (c.to_string(), t.to_string())),
            ttl_secs: 3600,
            ..Default::default()
        },
    )
    .expect("mint a test token")
}

/// A running local host serving the component.
pub struct Host {
    child: Child,
    pub addr: String,
    pub state_dir: PathBuf,
    owns_state: bool,
    /// The host's stderr (see [`Host::request_log`]).
    log: PathBuf,
    /// Sent as `Authorization: Bearer` unless a request brings its own.
    pub token: Option<String>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn fresh_state_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "spin-scim-e2e-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create state dir");
    dir
}

impl Host {
    /// A host with default variables and an empty store.
    pub fn start() -> Host {
        Host::start_with(&[])
    }

    /// A host with extra `SPIN_VARIABLE_*` (or other) environment variables.
    pub fn start_with(env: &[(&str, &str)]) -> Host {
        let dir = fresh_state_dir();
        let mut h = Host::start_on(&dir, env);
        h.owns_state = true;
        h
    }

    /// A host whose `default` store is the Redis database at `url` (Spin's
    /// runtime-config `type = "redis"`), with a fresh state dir of its own.
    pub fn start_redis(url: &str, env: &[(&str, &str)]) -> Host {
        let dir = fresh_state_dir();
        let rc = dir.join("runtime-config.toml");
        std::fs::write(
            &rc,
            format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n"),
        )
        .expect("write runtime config");
        let mut h = Host::launch(&dir, env, Some(&rc), false);
        h.owns_state = true;
        h
    }

    /// [`Host::start_redis`] on an existing state dir: a host restarted on
    /// it reuses its compiled component (the crash suite restarts often).
    pub fn start_redis_on(state_dir: &Path, url: &str, env: &[(&str, &str)]) -> Host {
        let rc = state_dir.join("runtime-config.toml");
        std::fs::write(
            &rc,
            format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n"),
        )
        .expect("write runtime config");
        Host::launch(state_dir, env, Some(&rc), false)
    }

    /// A host on an existing state dir (two hosts can share one store).
    pub fn start_on(state_dir: &Path, env: &[(&str, &str)]) -> Host {
        Host::launch(state_dir, env, None, false)
    }

    /// Start the host on `state_dir`. With `access_log`, the host writes
    /// its access log (not `--quiet`) and its stdout lines are kept in the
    /// state dir for [`Host::access_log`].
    fn launch(
        state_dir: &Path,
        env: &[(&str, &str)],
        runtime_config: Option<&Path>,
        access_log: bool,
    ) -> Host {
        let root = workspace_root();
        let mut cmd = Command::new(host_binary());
        cmd.arg("--manifest")
            .arg(root.join("spin.toml"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--state-dir")
            .arg(state_dir);
        if !access_log {
            cmd.arg("--quiet");
        }
        if let Some(rc) = runtime_config {
            cmd.arg("--runtime-config-file").arg(rc);
        }
        // The component's request log (and the host's own messages) go to
        // stderr: kept in the state dir, for [`Host::request_log`].
        let log = state_dir.join(format!(
            "host-stderr-{}.log",
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let stderr = std::fs::File::create(&log).expect("stderr file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        // A process group of its own, stopped whole on drop: `spin up`
        // (through SCIM_HOST_BIN) runs the server in a child process.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // The test secret first, so that `env` can override it (an empty
        // value: a deployment with no HS256 key).
        cmd.env("SPIN_VARIABLE_TOKEN_HS256_SECRET", TEST_SECRET);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start scim-host");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut kept = access_log.then(|| {
            std::fs::File::create(state_dir.join("host-stdout.log")).expect("stdout file")
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("Serving http://") {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                    break;
                }
            }
            // Keep draining so the host never blocks on a full pipe.
            for line in lines.map_while(Result::ok) {
                if let Some(f) = kept.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("scim-host did not report its address within 120 s");
            }
        };
        Host {
            child,
            addr,
            state_dir: state_dir.to_path_buf(),
            owns_state: false,
            log,
            token: Some(token_with(&["scim.read", "scim.write"], None)),
        }
    }

    /// Send a request; `path` is below the SCIM base (`/Users`) unless it
    /// starts with `//` (then it is sent as is, minus one slash).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let target = match path.strip_prefix("//") {
            Some(raw) => format!("/{raw}"),
            None => format!("{BASE}{path}"),
        };
        let bearer;
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(t) = &self.token {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            {
                bearer = format!("Bearer {t}");
                all.push(("authorization", &bearer));
            }
        }
        raw_request(&self.addr, method, &target, &all, body)
    }

    /// The component's request log so far: every stderr line that is a JSON
    /// object (the host's own messages are plain text).
    pub fn request_log(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| {
                let v = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {l}"));
                (l.to_string(), v)
            })
            .collect()
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], None)
    }

    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> Resp {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(
            method,
            path,
            &[("content-type", "application/scim+json")],
            Some(&bytes),
        )
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_state {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
pub fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect to host");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        // The server may answer (413) and close before reading everything.
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() || Instant::now() > deadline => panic!("read: {e}"),
            Err(_) => break,
        }
    }
    parse_response(&raw)
}

/// [`raw_request`] that answers an error instead of panicking when the
/// host is unreachable or goes away mid-request (the crash suite kills it),
/// waiting at most `timeout` for the answer.
pub fn try_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if let Some(b) = body {
        s.write_all(b)?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(std::io::Error::other("no complete response"));
    }
    Ok(parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_txt = String::from_utf8_lossy(&b[..eol]);
        let size =
            usize::from_str_radix(size_txt.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        b = &b[eol + 2..];
        if size == 0 || b.len() < size {
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[(size + 2).min(b.len())..];
    }
    out
}

// ---- SCIM helpers shared by the test binaries ----------------------------------------

/// Percent-encode a query parameter value (everything but RFC 3986
/// unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `id` of a resource document.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// `POST path` with `body`, expect 201, return the created resource.
pub fn create(host: &Host, path: &str, body: Value) -> Value {
    let r = host.send_json("POST", path, &body);
    assert_eq!(r.status, 201, "POST {path}: {}", r.text());
    r.json()
}

/// Create a user with just a `userName`, return its id.
pub fn new_user(host: &Host, user_name: &str) -> String {
    id_of(&create(host, "/Users", json!({"userName": user_name})))
}

/// `GET path`, expect a 200 ListResponse, return the body.
pub fn list(host: &Host, path: &str) -> Value {
    let r = host.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!([LIST]), "{v}");
    v
}

/// [`list`] `{endpoint}?filter=…` (e.g. `/Users`), the filter percent-encoded.
pub fn find(host: &Host, endpoint: &str, filter: &str) -> Value {
    list(host, &format!("{endpoint}?filter={}", enc(filter)))
}

/// A PatchOp request body with these `Operations`.
pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// `PATCH path` with a PatchOp of `ops`, whatever the answer.
pub fn send_patch(host: &Host, path: &str, ops: Value) -> Resp {
    host.send_json("PATCH", path, &patch_op(ops))
}

/// `PATCH path` with a PatchOp of `ops`, expect success, return the
/// resource as it is now: the 200 body (users), which must be what a GET
/// shows, or after a 204 (groups and roles, README "PATCH responses") the
/// resource read back, as an IdP does. Either way the answer's `ETag` is the
/// new version.
pub fn patch(host: &Host, path: &str, ops: Value) -> Value {
    let r = send_patch(host, path, ops);
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {path}: {}: {}",
        r.status,
        r.text()
    );
    let now = host.get(path.split('?').next().unwrap());
    assert_eq!(now.status, 200, "GET {path} after PATCH: {}", now.text());
    assert_eq!(
        r.header("etag"),
        now.header("etag"),
        "PATCH {path}: the new version"
    );
    if r.status == 204 {
        assert!(r.body.is_empty(), "PATCH {path}: 204 with a body");
        return now.json();
    }
    let v = r.json();
    if !path.contains('?') {
        assert_eq!(v, now.json(), "PATCH {path} answers the stored resource");
    }
    v
}

/// The `value`s of a group's or role's `members`, sorted (empty without
/// members).
pub fn member_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// `v`, sorted.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---- The local host's own behaviour (tests/host_limits.rs) ---------------------------

/// Whether the suites run against real `spin up` (`make test-spin` points
/// `SCIM_HOST_BIN` at tests/spin-host) rather than the local host: the
/// host's own limits and access log do not exist there.
pub fn under_spin() -> bool {
    std::env::var_os("SCIM_HOST_BIN")
        .is_some_and(|p| Path::new(&p).file_name().is_some_and(|n| n == "spin-host"))
}

impl Host {
    /// A host (fresh state dir, `env` as for [`Host::start_with`]) that
    /// writes its access log: every stdout line goes to a file in the state
    /// dir, read by [`Host::access_log`].
    pub fn start_logging(env: &[(&str, &str)]) -> Host {
        let dir = fresh_state_dir();
        let mut h = Host::launch(&dir, env, None, true);
        h.owns_state = true;
        h
    }

    /// The host's access log so far (a host from [`Host::start_logging`]):
    /// its JSON lines on stdout.
    pub fn access_log(&self) -> Vec<(String, Value)> {
        let text =
            std::fs::read_to_string(self.state_dir.join("host-stdout.log")).unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| {
                let v = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("an access log line is not JSON ({e}): {l}"));
                (l.to_string(), v)
            })
            .collect()
    }

    /// The host's stderr so far (its own messages and the component's log).
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A small deterministic generator (xorshift64*) for load tests, seeded
/// per run (and printed by them, so a failing run can be replayed).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
