# spin-scim — the two commands a newcomer needs:
#   make up     build and serve on http://127.0.0.1:3000 (spin up if installed, else the local host), printing a dev token
#   make test   install what is missing, build everything, run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

LISTEN ?= 127.0.0.1:3000
WASM := target/wasm32-wasip1/release/spin_scim.wasm
HOST := target/host/scim-host
TOKEN_TOOL := target/host/scim-token
DEV_SECRET := .dev-secret
CARGO ?= cargo

.PHONY: help build wasm host tools up token test test-native test-e2e test-redis conformance lint bench target secret clean

help:
	@echo "make up      build and run locally on $(LISTEN), print a dev token"
	@echo "make test    build everything and run every test"
	@echo "make test-spin  the e2e and conformance suites under real spin up (when spin is on PATH)"
	@echo "make token   print a dev bearer token (use: TOKEN=\$$(make -s token))"
	@echo "make build   build the .wasm and the local host"
	@echo "make lint    cargo fmt --check and clippy"
	@echo "make bench   run the benchmark"

# The wasm32-wasip1 standard library, installed on first use.
target:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

wasm: target swagger
	$(CARGO) build --target wasm32-wasip1 --release

# The Swagger UI files the component mounts (spin.toml `files`): the pinned
# swagger-ui-dist from docs/swagger/package-lock.json, installed with
# `npm ci` (npm from Debian when missing) whenever the lock file is newer
# than the install. No install scripts run; node_modules/ is not committed.
SWAGGER := docs/swagger
SWAGGER_STAMP := $(SWAGGER)/node_modules/.installed
.PHONY: swagger
swagger: $(SWAGGER_STAMP)
$(SWAGGER_STAMP): $(SWAGGER)/package-lock.json $(SWAGGER)/package.json
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends npm)
	cd $(SWAGGER) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

host:
	$(CARGO) build --profile host -p spin-scim-host

tools:
	$(CARGO) build --profile host -p scim-engine --bin scim-token

build: wasm host tools

# A random local HS256 secret, kept in an ignored file so `make up` and
# `make token` agree. Never committed.
secret:
	@test -s $(DEV_SECRET) || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(DEV_SECRET))

token: secret
	@$(CARGO) build -q --profile host -p scim-engine --bin scim-token
	@$(TOKEN_TOOL) --secret-file $(DEV_SECRET)

# With `spin` on PATH the local host is not built (most of a cold build).
up: secret wasm tools
	@command -v spin >/dev/null 2>&1 || $(MAKE) --no-print-directory host
	@echo "SCIM base URL: http://$(LISTEN)/api/scim/v2"
	@echo "API documentation (Swagger UI): http://$(LISTEN)/api/scim/v2/docs"
	@echo "Dev token (valid 12 h, scopes scim.read scim.write):"
	@$(TOKEN_TOOL) --secret-file $(DEV_SECRET) --ttl 43200
	@echo "Try: curl -H \"Authorization: Bearer \$$(make -s token)\" http://$(LISTEN)/api/scim/v2/ServiceProviderConfig"
	@if command -v spin >/dev/null 2>&1; then \
	  SPIN_VARIABLE_TOKEN_HS256_SECRET=$$(cat $(DEV_SECRET)) spin up --listen $(LISTEN); \
	else \
	  SPIN_VARIABLE_TOKEN_HS256_SECRET=$$(cat $(DEV_SECRET)) $(HOST) --manifest spin.toml --listen $(LISTEN); \
	fi

test: build test-native test-e2e conformance test-openapi test-redis lint

test-native:
	$(CARGO) test -p scim-engine
	$(CARGO) test --profile host -p spin-scim-host

test-e2e: wasm host
	$(CARGO) test -p e2e

# RFC 7643/7644 conformance: the pinned scim2-tester (tests/conformance/
# requirements.txt, installed in .venv/, reinstalled only when that file
# changes) against the real .wasm in the local host with a dev token.
VENV := .venv
CONFORMANCE_REQS := tests/conformance/requirements.txt
$(VENV)/.conformance-installed: $(CONFORMANCE_REQS)
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(CONFORMANCE_REQS)
	@touch $@

conformance: wasm host tools $(VENV)/.conformance-installed
	$(VENV)/bin/python tests/conformance/run.py
	$(VENV)/bin/python tests/conformance/discovery.py

# The OpenAPI document and the Swagger UI page (tests/openapi/run.py):
# openapi-spec-validator, schemathesis over every operation (stateful links
# too) and Playwright on Debian's chromium (installed by run.py when
# missing), all pinned in tests/openapi/requirements.txt in .venv-openapi/
# (made with Python 3.12+ where there is one: tests/openapi/find-python).
OPENAPI_VENV := .venv-openapi
OPENAPI_REQS := tests/openapi/requirements.txt
$(OPENAPI_VENV)/.installed: $(OPENAPI_REQS)
	@test -x $(OPENAPI_VENV)/bin/python || "$$(tests/openapi/find-python)" -m venv $(OPENAPI_VENV)
	@PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(OPENAPI_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(OPENAPI_REQS)
	@touch $@

.PHONY: test-openapi
test-openapi: wasm host tools $(OPENAPI_VENV)/.installed
	$(OPENAPI_VENV)/bin/python tests/openapi/run.py

# The concurrency suites again, with two hosts sharing a real Redis (Spin's
# `type = "redis"` store, as weak as Spin's), and the Redis crash and outage
# run of tests/crash.rs (on a redis-server of its own). tests/with-redis installs
# redis-server (Debian) when it is missing, starts a private instance on
# REDIS_PORT and always stops it. A lost Redis connection holds requests
# while the store reconnects, on Spin's schedule (1-2 s, then 60-120 s:
# crates/host/src/kv/reconnect.rs); here its delays are scaled by 0.05.
REDIS_PORT ?= 6399
test-redis: wasm host
	SCIM_HOST_REDIS_BACKOFF_SCALE=0.05 tests/with-redis $(REDIS_PORT) $(CARGO) test -p e2e --test concurrency --test crash -- redis

# The end-to-end suites, the conformance run and the Redis concurrency suite
# against real `spin up` (tests/spin-host translates the local host's
# command line), when the `spin` CLI is on PATH (the local host is built too:
# some suites run its store checker, `scim-host check`, on the state Spin
# left). Without spin: one line, exit 0.
.PHONY: test-spin
test-spin:
	@if ! command -v spin >/dev/null 2>&1; then \
	  echo "test-spin: no spin on PATH, nothing run (build one with ../shared/tools/build-spin/build.sh)"; \
	else \
	  $(MAKE) wasm host tools $(VENV)/.conformance-installed $(OPENAPI_VENV)/.installed && \
	  spin --version && \
	  SCIM_HOST_BIN=$(CURDIR)/tests/spin-host tests/with-redis $(REDIS_PORT) $(CARGO) test -p e2e && \
	  SCIM_HOST_BIN=$(CURDIR)/tests/spin-host $(VENV)/bin/python tests/conformance/run.py && \
	  SCIM_HOST_BIN=$(CURDIR)/tests/spin-host $(VENV)/bin/python tests/conformance/discovery.py && \
	  SCIM_HOST_BIN=$(CURDIR)/tests/spin-host $(OPENAPI_VENV)/bin/python tests/openapi/run.py; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p scim-engine --all-targets -- -D warnings
	$(CARGO) clippy -p e2e --all-targets -- -D warnings
	$(CARGO) clippy --profile host -p spin-scim-host --all-targets -- -D warnings
	$(CARGO) clippy --profile host -p scim-bench --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 --release -p spin-scim -- -D warnings

# Benchmark (issue #8): the release .wasm in the local host, N users
# (default 10,000; `make bench N=100000`), side by side with the peer
# scim2-server (installed by the bench into bench/.venv), plus the scale law
# (ours again at 1,000 users) and the native criterion micro-benchmarks.
# Prints the table, the targets and the scale law (PASS/FAIL, never failing
# the build); JSON in bench/results/. BENCH_ARGS passes more options
# (target/host/scim-bench --help). `make bench-scale`: the scale law alone.
# With `spin` on PATH the scenarios also run under real `spin up` (same run,
# same table); without it the bench prints one line saying so.
.PHONY: bench-scale
bench: wasm host
	$(CARGO) build --profile host -p scim-bench
	$(CARGO) bench --profile host -p scim-engine --bench filter --bench patch -- --warm-up-time 1 --measurement-time 2
	target/host/scim-bench --n $(or $(N),10000) --scale $(BENCH_ARGS)
	target/host/scim-bench --members

# One member added to and removed from groups of 1,000, 100,000 and
# 1,000,000 members (issue 21; in-process, crates/bench/src/members.rs).
.PHONY: bench-members
bench-members:
	$(CARGO) build --profile host -p scim-bench
	target/host/scim-bench --members $(MEMBERS_ARGS)

bench-scale: wasm host
	$(CARGO) build --profile host -p scim-bench
	target/host/scim-bench --n $(or $(N),10000) --scale --no-peer $(BENCH_ARGS)

# The scale law from 1,000 to 1,000,000 users (issue 21): ours only, the
# users seeded by `scim-host seed` (about 2 GB of store in a temp dir,
# removed at the end), the ratio per scenario printed.
.PHONY: bench-million
bench-million: wasm host
	$(CARGO) build --profile host -p scim-bench
	target/host/scim-bench --n 1000000 --scale --no-peer $(BENCH_ARGS)

clean:
	$(CARGO) clean
