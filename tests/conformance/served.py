"""The server under test for the conformance scripts: the local host
(target/host/scim-host, or SCIM_HOST_BIN) serving the real .wasm on an
ephemeral port with a fresh state dir and a random HS256 secret, and a dev
token minted with target/host/scim-token. The host is always stopped.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: tests/openapi/run.py's venv lacks it
    import httpx2

ROOT = Path(__file__).resolve().parents[2]
# SCIM_HOST_BIN: another server with the host's command line (`make
# test-spin` points it at tests/spin-host, which runs `spin up`).
HOST = Path(os.environ.get("SCIM_HOST_BIN") or ROOT / "target/host/scim-host")
TOKEN_TOOL = ROOT / "target/host/scim-token"
WASM = ROOT / "target/wasm32-wasip1/release/spin_scim.wasm"
BASE = "/api/scim/v2"


def missing_builds() -> list[Path]:
    """What `make build` has not built yet."""
    return [f for f in (HOST, TOKEN_TOOL, WASM) if not f.exists()]


class ScimHost:
    """scim-host serving spin.toml on 127.0.0.1:0 with an empty store."""

    def __init__(self, state_dir: Path, secret: str, variables: dict[str, str] | None = None):
        env = dict(os.environ)
        env["SPIN_VARIABLE_TOKEN_HS256_SECRET"] = secret
        for name, value in (variables or {}).items():
            env[f"SPIN_VARIABLE_{name.upper()}"] = value
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


def mint_token(secret_file: Path, scopes: str = "scim.read scim.write") -> str:
    out = subprocess.run(
        [str(TOKEN_TOOL), "--secret-file", str(secret_file), "--scope", scopes],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@contextmanager
def served() -> Iterator[httpx2.Client]:
    """An HTTP client for the SCIM base URL of a fresh server, with a
    `scim.read scim.write` bearer token; the server is stopped on exit."""
    import httpx2

    # `make` interrupted or a CI timeout: still stop the host (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
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
            with httpx2.Client(
                base_url=f"http://{host.addr}{BASE}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as http:
                yield http
        finally:
            host.stop()
