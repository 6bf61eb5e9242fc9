#!/usr/bin/env python3
"""The OpenAPI document and the Swagger UI page, against the real .wasm.

Starts the local host (target/host/scim-host, or SCIM_HOST_BIN) on an
ephemeral port with a fresh state dir and a random HS256 secret, mints a dev
token with target/host/scim-token, then:

1. fetches /api/scim/v2/openapi.json and validates it with
   openapi-spec-validator (OpenAPI 3.1);
2. runs schemathesis (CLI, as its users run it) over every operation of that
   document (/Bulk and /Me included: the host runs with me_claim=sub and
   the dev token's subject is seeded as a user), stateful links included, with the checks not_a_server_error,
   status_code_conformance, content_type_conformance and
   response_schema_conformance, a bounded number of examples and a fixed
   seed: any failure fails the run;
3. opens /api/scim/v2/docs in headless Chromium (Debian's `chromium`,
   installed with apt-get when missing) driven by Playwright: no console
   error, no request leaving the service's origin, the Users, Groups and
   Roles operations listed, the dev token accepted in "Authorize", and a
   "Try it out" of GET /Users answering 200 with a ListResponse. A
   screenshot goes to tests/openapi/out/docs.png.

The host is always stopped. Run through `make test-openapi` (which builds
the host and the .wasm and installs the pinned tools in .venv-openapi/), or
directly: .venv-openapi/bin/python tests/openapi/run.py [--only validate,fuzz,browser]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
# The server under test, started as the conformance scripts start it.
sys.path.insert(0, str(ROOT / "tests/conformance"))
import served  # noqa: E402
from served import BASE, HOST, TOKEN_TOOL, WASM  # noqa: E402
OUT = ROOT / "tests/openapi/out"
CHROMIUM = Path("/usr/bin/chromium")
BIN = Path(sys.executable).parent

# schemathesis: every check the issue names; bounded so the run stays within
# a few minutes on two cores; a fixed seed so a failure reproduces.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = os.environ.get("OPENAPI_FUZZ_EXAMPLES", "50")
SEED = os.environ.get("OPENAPI_FUZZ_SEED", "20261207")
# The `sub` of the dev token scim-token mints, and so the userName of /Me.
ME = "local-dev"


def mint_token(secret_file: Path) -> str:
    # Every scope the document names, the audit trail's too, so that the
    # fuzzer reaches every operation's code rather than its 403.
    return served.mint_token(secret_file, "scim.read scim.write scim.audit")


def fetch_document(origin: str, token: str) -> dict:
    req = urllib.request.Request(f"{origin}{BASE}/openapi.json",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, r.status
        return json.load(r)


def seed_me(origin: str, token: str) -> None:
    """The user /Me stands for, so that its operations reach a user (until
    the fuzzing deletes it: 404 then, as documented)."""
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": ME}).encode()
    req = urllib.request.Request(f"{origin}{BASE}/Users", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201, r.status


# The keys of a path item that are operations (OpenAPI 3.1 §4.8.9).
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def validate(doc: dict) -> None:
    from openapi_spec_validator import validate as check
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    check(doc, cls=OpenAPIV31SpecValidator)
    print(f"PASS  openapi-spec-validator: OpenAPI {doc['openapi']}, "
          f"{sum(len(METHODS & v.keys()) for v in doc['paths'].values())} operations on "
          f"{len(doc['paths'])} paths")


def fuzz(doc_file: Path, origin: str, token: str) -> bool:
    cmd = [
        str(BIN / "schemathesis"), "run", str(doc_file),
        "--url", f"{origin}{BASE}",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", MAX_EXAMPLES,
        "--seed", SEED,
        "--workers", "2",
        "--request-timeout", "30",
        "--generation-database", "none",
        "--no-color",
        "--output-sanitize", "true",
        "--report", "junit",
        "--report-dir", str(OUT / "schemathesis"),
    ]
    started = time.monotonic()
    # Its working directory is the output directory, where it keeps its
    # cache (.schemathesis/): every run starts from none, as on a fresh clone.
    work = OUT / "schemathesis"
    work.mkdir(parents=True, exist_ok=True)
    rc = subprocess.run(cmd, cwd=work).returncode
    took = time.monotonic() - started
    print(f"{'PASS' if rc == 0 else 'FAIL'}  schemathesis ({MAX_EXAMPLES} examples per "
          f"operation, seed {SEED}) in {took:.0f} s")
    return rc == 0


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    print("chromium is missing: installing Debian's package", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                   check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def browse(origin: str, token: str) -> bool:
    from playwright.sync_api import expect, sync_playwright

    ensure_chromium()
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            def request(r) -> None:
                u = urlsplit(r.url)
                if u.scheme in ("data", "blob"):
                    return
                if f"{u.scheme}://{u.netloc}" != origin:
                    problems.append(f"request left the origin: {r.url}")

            page.on("request", request)
            response = page.goto(f"{origin}{BASE}/docs")
            assert response is not None and response.status == 200, response
            csp = response.headers.get("content-security-policy", "")
            assert csp.startswith("default-src 'self'"), csp
            # discovery_requires_auth (the default): the page asks for a token first.
            page.fill("#token-input", token)
            page.click("#token-form button[type=submit]")
            for tag in ("Users", "Groups", "Roles"):
                expect(page.locator(f"#operations-tag-{tag}")).to_be_visible(timeout=30_000)
            for op in ("Users-listUsers", "Groups-listGroups", "Roles-listRoles", "Users-createUser"):
                expect(page.locator(f"#operations-{op}")).to_have_count(1)
            # "Authorize" with the dev token, as an administrator does.
            page.click("button.authorize")
            dialog = page.locator(".dialog-ux")
            if dialog.locator("button.btn-done, button:has-text('Logout')").count():
                # Already authorized by the token form: log out, then in again.
                logout = dialog.locator("button:has-text('Logout')")
                if logout.count():
                    logout.first.click()
            dialog.locator("input[type=text], input[type=password]").first.fill(token)
            dialog.locator("button.modal-btn.auth:has-text('Authorize')").first.click()
            expect(dialog.locator("button:has-text('Logout')").first).to_be_visible()
            dialog.locator("button.btn-done, button:has-text('Close')").first.click()
            # "Try it out" of GET /Users.
            op = page.locator("#operations-Users-listUsers")
            op.locator(".opblock-summary").first.click()
            op.locator("button.try-out__btn").click()
            op.locator("button.execute").click()
            status = op.locator(".live-responses-table tbody .response-col_status").first
            expect(status).to_have_text("200", timeout=30_000)
            body = op.locator(".live-responses-table tbody .response-col_description pre").first.inner_text()
            listed = json.loads(body)
            assert listed["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], body
            OUT.mkdir(parents=True, exist_ok=True)
            status.scroll_into_view_if_needed()
            page.screenshot(path=str(OUT / "docs.png"), full_page=False)
        except Exception as e:  # noqa: BLE001 — reported below, with the screenshot
            problems.append(f"{type(e).__name__}: {e}")
            try:
                OUT.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(OUT / "docs-failed.png"))
            except Exception:  # noqa: BLE001
                pass
        finally:
            browser.close()
    for p_ in problems:
        print(f"      {p_}")
    ok = not problems
    print(f"{'PASS' if ok else 'FAIL'}  Swagger UI in Chromium: page, operations, Authorize, "
          f"Try it out GET /Users (screenshot {OUT.relative_to(ROOT)}/docs.png)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="validate,fuzz,browser",
                    help="comma-separated: validate, fuzz, browser")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    for f in (HOST, TOKEN_TOOL, WASM):
        if not f.exists():
            print(f"{f} is missing: run `make build`", file=sys.stderr)
            return 2
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="spin-scim-openapi-") as tmp:
        tmp_path = Path(tmp)
        secret = secrets.token_hex(32)
        secret_file = tmp_path / "secret"
        secret_file.write_text(secret)
        secret_file.chmod(0o600)
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        # /Me (RFC 7644 §3.11) answers for the token's subject: the dev
        # token's `sub` is ME (a user seeded before the fuzzing).
        host = served.ScimHost(state_dir, secret, {"me_claim": "sub"})
        try:
            origin = f"http://{host.addr}"
            token = mint_token(secret_file)
            doc = fetch_document(origin, token)
            doc_file = OUT / "openapi.json"
            doc_file.write_text(json.dumps(doc, indent=1))
            if "validate" in parts:
                validate(doc)
            if "fuzz" in parts:
                seed_me(origin, token)
                ok &= fuzz(doc_file, origin, token)
            if "browser" in parts:
                ok &= browse(origin, token)
        finally:
            host.stop()
            errors = [l for l in host.stderr if '"status":5' in l.replace(" ", "")]
            if errors:
                print(f"FAIL  the component logged {len(errors)} 5xx responses:")
                print("".join(errors[:5]))
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
