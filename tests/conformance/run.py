#!/usr/bin/env python3
"""RFC 7643/7644 conformance: scim2-tester against the real .wasm.

Starts the local host (target/host/scim-host) on an ephemeral port with a
fresh state dir and a random HS256 secret, mints a dev token with
target/host/scim-token, runs scim2-tester's `check_server` against
http://ADDR/api/scim/v2, prints every check, and exits non-zero when any
check fails. The host is always stopped.

Run through `make conformance` (which builds the host and the .wasm and
installs the pinned checker in .venv/), or directly:
    .venv/bin/python tests/conformance/run.py [-v]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status
from scim2_tester import check_server

ROOT = Path(__file__).resolve().parents[2]
# SCIM_HOST_BIN: another server with the host's command line (`make
# test-spin` points it at tests/spin-host, which runs `spin up`).
HOST = Path(os.environ.get("SCIM_HOST_BIN") or ROOT / "target/host/scim-host")
TOKEN_TOOL = ROOT / "target/host/scim-token"
WASM = ROOT / "target/wasm32-wasip1/release/spin_scim.wasm"
BASE = "/api/scim/v2"
# What check_server runs on, through its own options, with the reason for
# each exclusion. scim2-tester starts every check on a resource type (read,
# list, search, PUT, PATCH, delete alike) by POSTing a new resource of that
# type (its ResourceManager.create_and_register). Roles come from a read-only
# catalog (roles.json): POST /Roles and DELETE /Roles/{id} answer 405 by
# design (README, "The API"), and the Role schema declares `displayName`
# readOnly and required, so no client can create one. Excluding the creation
# of a Role therefore excludes every Role resource check; the Role resource
# type and schema are still checked by the discovery checks, and reading,
# PUT and PATCH of role members are tested in tests/roles.rs.
RESOURCE_TYPES = ["User", "Group"]
EXCLUDED = {
    "Role": "read-only catalog: POST and DELETE answer 405, and every "
    "scim2-tester resource check starts by creating a resource",
}

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


class ScimHost:
    """scim-host serving spin.toml on 127.0.0.1:0 with an empty store."""

    def __init__(self, state_dir: Path, secret: str):
        env = dict(os.environ)
        env["SPIN_VARIABLE_TOKEN_HS256_SECRET"] = secret
        self.proc = subprocess.Popen(
            [
                str(HOST),
                "--manifest",
                str(ROOT / "spin.toml"),
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
                str(state_dir),
                "--quiet",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Its own process group, stopped whole: `spin up` serves from a
            # child process.
            start_new_session=True,
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        found: list[str] = []
        ready = threading.Event()

        def read_stdout() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                url = line.strip()
                if not found and url.startswith("Serving http://"):
                    found.append(url.removeprefix("Serving http://").rstrip("/"))
                    ready.set()
            ready.set()  # EOF: the host exited

        threading.Thread(target=read_stdout, daemon=True).start()
        if not ready.wait(120) or not found:
            self.stop()
            raise SystemExit(
                "scim-host did not report its address:\n" + "".join(self.stderr[-20:])
            )
        self.addr = found[0]

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # children left behind
        except ProcessLookupError:
            pass


def run_checks(http: httpx2.Client, everything: bool) -> list:
    """scim2-tester's own entry point, as its users call it: a scim2-client
    SyncSCIMClient that knows nothing about the server yet (check_server
    discovers it), and the options above."""
    client = SyncSCIMClient(http)
    if everything:
        return check_server(client)
    return check_server(client, resource_types=RESOURCE_TYPES)


def mint_token(secret_file: Path) -> str:
    out = subprocess.run(
        [str(TOKEN_TOOL), "--secret-file", str(secret_file)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="print failure data")
    ap.add_argument(
        "--everything",
        action="store_true",
        help="no exclusions: check_server(client) alone (Role checks fail by design)",
    )
    args = ap.parse_args()

    for f in (HOST, TOKEN_TOOL, WASM):
        if not f.exists():
            print(f"{f} is missing: run `make build`", file=sys.stderr)
            return 2

    # `make` interrupted or a CI timeout: still stop the host (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="spin-scim-conformance-") as tmp:
        tmp_path = Path(tmp)
        secret = secrets.token_hex(32)  # 64 characters
        secret_file = tmp_path / "secret"
        secret_file.write_text(secret)
        secret_file.chmod(0o600)
        state_dir = tmp_path / "state"
        state_dir.mkdir()

        host = ScimHost(state_dir, secret)
        try:
            token = mint_token(secret_file)
            http = httpx2.Client(
                base_url=f"http://{host.addr}{BASE}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            with http:
                results = run_checks(http, args.everything)
        finally:
            host.stop()

    def first_line(text: str | None) -> str:
        return f": {text.splitlines()[0][:200]}" if text else ""

    passed = failed = skipped = 0
    for r in results:
        where = f" [{r.resource_type}]" if r.resource_type else ""
        if r.status in PASSED:
            passed += 1
            print(f"PASS  {r.title}{where}{first_line(r.reason)}")
        elif r.status == Status.SKIPPED:
            skipped += 1
            print(f"SKIP  {r.title}{where}{first_line(r.reason)}")
        else:
            failed += 1
            print(f"FAIL  {r.title}{where} {r.status.name}: {r.reason}")
            if args.verbose and r.data is not None:
                print(f"      data: {r.data!r}"[:4000])
    if not args.everything:
        for name, why in EXCLUDED.items():
            print(f"note: {name} resource checks not run: {why}")
    elapsed = time.monotonic() - started
    print(f"conformance: scim2-tester {version('scim2-tester')}, {len(results)} checks in {elapsed:.1f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
