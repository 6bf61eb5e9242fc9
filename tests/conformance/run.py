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
from pathlib import Path

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Context
from scim2_models import Mutability
from scim2_models import Path as ScimPath
from scim2_models import ScimProvider
from scim2_models import ServiceProviderConfig
from scim2_tester import CheckConfig
from scim2_tester import CheckResult
from scim2_tester import Status
from scim2_tester import check_server
from scim2_tester import checkers
from scim2_tester.checkers.resource_get import _model_from_resource_type
from scim2_tester.filling import fill_with_random_values
from scim2_tester.utils import CheckContext
from scim2_tester.utils import ResourceManager
from scim2_tester.utils import parametrize

ROOT = Path(__file__).resolve().parents[2]
# SCIM_HOST_BIN: another server with the host's command line (`make
# test-spin` points it at tests/spin-host, which runs `spin up`).
HOST = Path(os.environ.get("SCIM_HOST_BIN") or ROOT / "target/host/scim-host")
TOKEN_TOOL = ROOT / "target/host/scim-token"
WASM = ROOT / "target/wasm32-wasip1/release/spin_scim.wasm"
BASE = "/api/scim/v2"
# The server's own ServiceProviderConfig extension (its limits).
LIMITS_SCHEMA = "urn:spin-scim:params:scim:limits"

# Resource types whose resources come from a read-only catalog: POST and
# DELETE answer 405 (README, "The API"). scim2-tester starts every check on a
# resource type by POSTing a new resource; for these, run.py stands in a
# catalog entry whose writable attributes (the members) it PUTs instead.
CATALOG_TYPES = {"Role"}

# Resource types no client writes at all: the audit trail (README, "Audit
# trail"), read-only and behind its own scope, which the tester's token does
# not hold. scim2-tester creates a resource of every type it checks; these
# are left out of its checks (RFC 7644 §3.3 lets a server refuse creation).
SERVER_WRITTEN_TYPES = {"AuditEvent"}

# Checks whose failure is expected, keyed by (check title, resource type or
# None), each with why: the checker is wrong for this server by the RFC, or
# the server deliberately does not offer the feature and says so.
SKIP: dict[tuple[str, str | None], str] = {
    # The checker validates the ServiceProviderConfig with scim2-models'
    # strict policy, which refuses any attribute outside RFC 7643 §5, even an
    # extension named in `schemas`. RFC 7643 §3 allows extension schemas, and
    # the server advertises its limits in one (urn:spin-scim:params:scim:limits,
    # README). service_provider_config_core below checks all the rest strictly.
    ("service_provider_config_endpoint", None): "the strict checker refuses the "
    "limits extension of the ServiceProviderConfig; service_provider_config_core "
    "checks everything else",
    # The Role catalog is read-only by design: roles are defined in roles.json;
    # POST answers 405 (RFC 7231 §6.5.5), and the Role schema declares
    # displayName readOnly and required, so no client can create one. Every
    # other check runs on a catalog role.
    ("object_creation", "Role"): "the Role catalog is read-only by design: "
    "POST /Roles answers 405",
    ("object_deletion", "Role"): "the Role catalog is read-only by design: "
    "DELETE /Roles/{id} answers 405",
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


def service_provider_config(
    http: httpx2.Client,
) -> tuple[ServiceProviderConfig | None, CheckResult]:
    """GET /ServiceProviderConfig and validate it strictly, except for the
    server's own extension (see SKIP): it must be listed in `schemas` (RFC 7643
    §3), and everything else must be the RFC 7643 §5 ServiceProviderConfig.

    The validated configuration is handed to scim2-tester as the client's
    description of the server, so that its resource checks run.
    """
    title = "service_provider_config_core"
    resp = http.get("/ServiceProviderConfig")
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    if resp.status_code != 200 or not isinstance(payload, dict):
        reason = f"status {resp.status_code}"
        return None, CheckResult(Status.ERROR, title, reason=reason, data=resp.text)
    schemas = payload.get("schemas") or []
    if LIMITS_SCHEMA in payload and LIMITS_SCHEMA not in schemas:
        reason = f"{LIMITS_SCHEMA} attributes present but not in schemas (RFC 7643 §3)"
        return None, CheckResult(Status.ERROR, title, reason=reason, data=payload)
    core = {k: v for k, v in payload.items() if k != LIMITS_SCHEMA}
    core["schemas"] = [s for s in schemas if s != LIMITS_SCHEMA]
    try:
        config = ServiceProviderConfig.model_validate(
            core, scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
    except Exception as exc:  # pydantic's ValidationError
        return None, CheckResult(Status.ERROR, title, reason=str(exc), data=payload)
    return config, CheckResult(
        Status.SUCCESS,
        title,
        reason="valid RFC 7643 §5 ServiceProviderConfig, limits extension in schemas",
    )


class CatalogResourceManager(ResourceManager):
    """Creates resources as scim2-tester does, except those of a catalog type:
    for these it takes an existing one and PUTs its writable attributes (random
    when `fill_all`, none otherwise), which stands in for the creation. It does
    not register them, so the cleanup deletes the users they reference, not
    them (deleting a user removes it from every role)."""

    def __init__(self, context: CheckContext, catalog_model: type):
        super().__init__(context)
        self.catalog_model = catalog_model

    def create_and_register(self, model, fill_all=False):  # type: ignore[override]
        if model is not self.catalog_model:
            return super().create_and_register(model, fill_all)
        client = self.context.client
        listing = client.query(model, query_parameters={"count": 1})
        if not listing.resources:
            raise ValueError(f"the {model.__name__} catalog is empty")
        entry = client.query(model, listing.resources[0].id)
        writable = [Mutability.read_write, Mutability.write_only, Mutability.immutable]
        paths = parametrize(ScimPath, model).iter_paths(
            mutability=writable, include_subattributes=False
        )
        for path in paths:
            path.set(entry, None, strict=False)
        if fill_all:
            fill_with_random_values(self.context, entry, mutability=writable)
        return client.replace(entry)


def run_checks(http: httpx2.Client) -> list[CheckResult]:
    """Every scim2-tester check; catalog resource types as described above."""
    config, spc_result = service_provider_config(http)
    client = SyncSCIMClient(http, provider=ScimProvider(config=config))
    try:
        listed = http.get("/ResourceTypes").json().get("Resources", [])
        names: list[str] | None = [
            rt["name"]
            for rt in listed
            if rt["name"] not in CATALOG_TYPES | SERVER_WRITTEN_TYPES
        ]
    except Exception:
        names = None  # the checker reports what is wrong with /ResourceTypes
    results = [spc_result, *check_server(client, resource_types=names)]
    if config is None or not client.provider.resource_types:
        return results  # discovery failed: already reported

    for rt in client.provider.resource_types:
        if rt.name not in CATALOG_TYPES:
            continue
        plain = CheckContext(client, CheckConfig())
        model = _model_from_resource_type(plain, rt)
        catalog = CheckContext(client, CheckConfig())
        catalog.resource_manager = CatalogResourceManager(catalog, model)
        checks = [
            (plain, checkers.object_creation),
            (catalog, checkers.object_query),
            (catalog, checkers.object_query_without_id),
            (catalog, checkers.object_query_with_attributes),
            (catalog, checkers.object_list_with_attributes),
            (catalog, checkers.search_with_attributes),
            (catalog, checkers.object_replacement),
            (plain, checkers.object_deletion),
            (catalog, checkers.check_add_attribute),
            (catalog, checkers.check_remove_attribute),
            (catalog, checkers.check_replace_attribute),
        ]
        for context, check in checks:
            for r in check(context, model):
                r.resource_type = rt.name
                results.append(r)
    return results


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
                results = run_checks(http)
        finally:
            host.stop()

    def first_line(text: str | None) -> str:
        return f": {text.splitlines()[0][:200]}" if text else ""

    passed = failed = skipped = 0
    used_skips: set[tuple[str, str | None]] = set()
    for r in results:
        key = (r.title or "", r.resource_type)
        where = f" [{r.resource_type}]" if r.resource_type else ""
        reason = first_line(r.reason)
        if key in SKIP:
            used_skips.add(key)
            if r.status in PASSED:
                # The skip is no longer needed: count the pass, say so.
                passed += 1
                print(f"PASS  {r.title}{where} (listed in SKIP, remove it)")
            else:
                skipped += 1
                said = f"checker said {r.status.name}{reason}"
                print(f"SKIP  {r.title}{where}: {SKIP[key]} ({said})")
        elif r.status in PASSED:
            passed += 1
            print(f"PASS  {r.title}{where}{reason}")
        elif r.status == Status.SKIPPED:
            skipped += 1
            print(f"SKIP  {r.title}{where}{reason}")
        else:
            failed += 1
            print(f"FAIL  {r.title}{where} {r.status.name}: {r.reason}")
            if args.verbose and r.data is not None:
                print(f"      data: {r.data!r}"[:4000])
    for key in SKIP.keys() - used_skips:
        print(f"note: SKIP entry {key} matched no check")
    elapsed = time.monotonic() - started
    print(f"conformance: scim2-tester 0.5.2, {len(results)} checks in {elapsed:.1f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
