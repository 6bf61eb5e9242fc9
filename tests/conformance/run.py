#!/usr/bin/env python3
"""RFC 7643/7644 conformance: the stock scim2-tester against the real .wasm.

Starts the server (served.py), runs scim2-tester's own entry point,
`check_server`, with a scim2-client `SyncSCIMClient` on
http://ADDR/api/scim/v2, exactly as the tester's users run it (its own
checkers, unmodified), prints every check, counts them, and exits non-zero
when any check fails.

Run through `make conformance` (which builds the host and the .wasm and
installs the pinned checker in .venv/), or directly:
    .venv/bin/python tests/conformance/run.py [-v] [--everything]
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.metadata import version

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult
from scim2_tester import Status
from scim2_tester import check_server
from served import missing_builds
from served import served

# What check_server runs on, through its own options, with the reason for
# each exclusion. scim2-tester starts every check on a resource type (read,
# list, search, PUT, PATCH, delete alike) by POSTing a new resource of that
# type (its ResourceManager.create_and_register). Roles come from a read-only
# catalog (roles.json): POST /Roles and DELETE /Roles/{id} answer 405 by
# design (README, "The API"), and the Role schema declares `displayName`
# readOnly and required, so no client can create one. Excluding the creation
# of a Role therefore excludes every Role resource check; the Role resource
# type and schema are still checked by the discovery checks, and reading,
# PUT and PATCH of role members are tested in tests/roles.rs. AuditEvent: see
# EXCLUDED.
RESOURCE_TYPES = ["User", "Group"]
EXCLUDED = {
    "Role": "read-only catalog: POST and DELETE answer 405, and every "
    "scim2-tester resource check starts by creating a resource",
    # The audit trail (README, "Audit trail") is written by the server alone:
    # every write method answers 405, and reading it needs scope_audit, which
    # a provisioning token does not hold.
    "AuditEvent": "written by the server only (POST answers 405) and read "
    "with its own scope, scope_audit",
}

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# Fewer passes than the Python reference server (scim2-server) gets from the
# same tester means whole groups of checks did not run (check_server returns
# early, without a failure, when discovery describes no resource).
MIN_PASSED = 135


def run_checks(http: httpx2.Client, everything: bool) -> list[CheckResult]:
    """scim2-tester's own entry point, as its users call it: a scim2-client
    SyncSCIMClient that knows nothing about the server yet (check_server
    discovers it), and the options above."""
    client = SyncSCIMClient(http)
    if everything:
        return check_server(client)
    return check_server(client, resource_types=RESOURCE_TYPES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="print failure data")
    ap.add_argument(
        "--everything",
        action="store_true",
        help="no exclusions: check_server(client) alone (Role checks fail by design)",
    )
    args = ap.parse_args()

    for f in missing_builds():
        print(f"{f} is missing: run `make build`", file=sys.stderr)
        return 2

    started = time.monotonic()
    with served() as http:
        results = run_checks(http, args.everything)

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
    if not args.everything and passed < MIN_PASSED:
        print(f"fewer than {MIN_PASSED} checks passed: checks did not run")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
