# egress-policy: build, test, run locally, benchmark. `make help` lists the targets.
#
# Everything installs what it needs from the package registries (rustup, crates.io, npm), so a
# fresh clone works: `make test` is exactly what CI runs (.ci/run).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

CARGO ?= cargo
NODE ?= node
NPM ?= npm

# The policy embedded in the Worker: `make build EGRESS_POLICY=path/to/policy.toml`; its serial
# `EGRESS_POLICY_SERIAL=N` (default: the commit's time, see scripts/build-worker.sh).
EGRESS_POLICY ?= policy/policy.toml
EGRESS_POLICY_SERIAL ?=
E2E_POLICY := tests/e2e/policy.toml

# npm writes node_modules/.package-lock.json on every install: older than the lock = stale.
NODE_STAMP := node_modules/.package-lock.json
# Records which policy the Worker in build/ embeds, so switching policies rebuilds it.
POLICY_STAMP := target/egress-policy.built-with
WORKER_SOURCES := $(shell find src crates/engine crates/outbound -type f \( -name '*.rs' -o -name Cargo.toml \) 2>/dev/null) \
	Cargo.toml Cargo.lock build.rs crates/cli/src/list_reader.rs rust-toolchain.toml

BENCH_SIZES := 10 10000
BENCH_DIR := target/bench

.PHONY: help
help: ## list the targets
	@echo "egress-policy make targets:"
	@awk -F':.*## ' '/^[a-z][a-zA-Z0-9_-]*:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "Variables: EGRESS_POLICY=path (policy embedded by build/dev; default policy/policy.toml),"
	@echo "           CAPTURE_LOGS=path (e2e: append every captured decision log line as JSON lines),"
	@echo "           WORLD_VERBOSE=1 (dev, e2e, bench: show workerd's stdout, every console.log)"
	@echo "           FUZZ_SECONDS=N (fuzz: seconds per target, default 20)"

# ---------------------------------------------------------------- installs

.PHONY: deps toolchain node-deps
deps: toolchain node-deps ## install what is missing: Rust toolchain + wasm32 target, npm packages

toolchain: ## install the pinned Rust toolchain and targets of rust-toolchain.toml (no-op when present)
	@command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)" >&2; exit 1; }
	@rustup toolchain install >/dev/null 2>&1 || rustup toolchain install
	@$(CARGO) --version

node-deps: $(NODE_STAMP) ## npm ci when node_modules is missing or older than package-lock.json

$(NODE_STAMP): package.json package-lock.json
	@$(NODE) -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<3)) { console.error("Node.js >= 20.3 is required, found "+process.version); process.exit(1) }'
	$(NPM) ci --no-audit --no-fund
	@touch $@

# ---------------------------------------------------------------- build

.PHONY: build FORCE
build: toolchain $(NODE_STAMP) build/index_bg.wasm ## build/index.js + build/index_bg.wasm embedding $EGRESS_POLICY

$(POLICY_STAMP): FORCE
	@mkdir -p $(@D)
	@want='$(abspath $(EGRESS_POLICY)) $(EGRESS_POLICY_SERIAL)'; [ "$$(cat $@ 2>/dev/null)" = "$$want" ] || echo "$$want" > $@

build/index.js build/index_bg.wasm &: $(WORKER_SOURCES) $(EGRESS_POLICY) $(POLICY_STAMP) scripts/build-worker.sh $(NODE_STAMP)
	@echo "building the Worker with EGRESS_POLICY=$(EGRESS_POLICY)"
	EGRESS_POLICY='$(abspath $(EGRESS_POLICY))' EGRESS_POLICY_SERIAL='$(EGRESS_POLICY_SERIAL)' scripts/build-worker.sh
	@touch build/index.js build/index_bg.wasm

scripts/build-worker.sh:
	@echo "scripts/build-worker.sh is missing: it comes from branch rust-worker (git merge rust-worker)" >&2
	@exit 1

# ---------------------------------------------------------------- tests

.PHONY: test fmt-check clippy cargo-test policy-test build-rejects e2e build-needs-unwind reproducible
test: deps fmt-check clippy cargo-test policy-test build-rejects e2e reliability-subset reproducible build-needs-unwind ## every test: fmt, clippy, cargo test, policy tests, build checks, workerd e2e, reliability subset, a reproducible Wasm

fmt-check: toolchain ## cargo fmt --check
	$(CARGO) fmt --all -- --check

clippy: toolchain ## clippy, warnings are errors: the workspace natively, and the Worker (src/, wasm32 only)
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	EGRESS_POLICY_SERIAL=1 $(CARGO) clippy --target wasm32-unknown-unknown -p egress-policy-worker -- -D warnings

cargo-test: toolchain ## native unit and integration tests
	$(CARGO) test --workspace

# The debug binary: `cargo test --workspace` has just built it, while a release build (LTO,
# one codegen unit) would add minutes to make test for no difference in what is checked.
policy-test: toolchain ## the policy test cases (policy/tests) and canonical layout of the shipped policies
	$(CARGO) run --bin egress-policy -- test
	$(CARGO) run --bin egress-policy -- fmt --check

build-rejects: toolchain ## an invalid policy fails the Worker build with check's diagnostics
	scripts/check-build-rejects.sh

# After e2e: a clean build of the same sources elsewhere gives build/'s bytes.
reproducible: ## a clean build of the sources gives the same Wasm as make e2e's (about 3 minutes)
	scripts/check-reproducible.sh $(E2E_POLICY) $(E2E_SERIAL)

# After e2e, whose build installed worker-build and wasm-bindgen.
build-needs-unwind: ## the Worker build fails, never falls back to panic=abort, without the unwind toolchain
	scripts/check-build-needs-unwind.sh

# The e2e Worker embeds serial 300; an older build of it (serial 100) plays a Worker rollback.
E2E_SERIAL := 300
E2E_OLDER_SERIAL := 100
E2E_OLDER_DIR := target/e2e/older

$(E2E_OLDER_DIR)/index_bg.wasm: $(WORKER_SOURCES) $(E2E_POLICY) scripts/build-worker.sh $(NODE_STAMP)
	@$(MAKE) build EGRESS_POLICY=$(E2E_POLICY) EGRESS_POLICY_SERIAL=$(E2E_OLDER_SERIAL)
	rm -rf $(@D) && mkdir -p $(@D) && cp -R build/. $(@D)/

e2e: $(NODE_STAMP) $(E2E_OLDER_DIR)/index_bg.wasm ## build the Worker with tests/e2e/policy.toml, then the workerd end-to-end suite
	@$(MAKE) build EGRESS_POLICY=$(E2E_POLICY) EGRESS_POLICY_SERIAL=$(E2E_SERIAL)
	EGRESS_POLICY='$(abspath $(E2E_POLICY))' EGRESS_POLICY_SERIAL=$(E2E_SERIAL) \
	E2E_OLDER_DIR='$(abspath $(E2E_OLDER_DIR))' E2E_OLDER_SERIAL=$(E2E_OLDER_SERIAL) \
	$(NODE) --test --test-reporter=spec tests/e2e/*.test.mjs

# ---------------------------------------------------------------- reliability (tests/reliability)

# The e2e build (tests/e2e/policy.toml, serial 300) in workerd, one check file at a time (they
# measure workerd's memory and latency: none may run beside another). Results are printed and
# appended to target/reliability/results.jsonl; bench/RESULTS.md quotes them.
RELIABILITY_RUN := $(NODE) --test --test-concurrency=1 --test-reporter=spec

.PHONY: reliability-subset reliability soak
reliability-subset: $(NODE_STAMP) ## make test's part of the reliability checks: 32 MiB bodies, a broken body, 20 hung upstreams, 1,000 requests 200 in flight; five bad keys, 200 malformed-key requests, mint CPU (batches of 50), 1,000 customers, 3 swaps of a 100,000-name bundle
	@$(MAKE) build EGRESS_POLICY=$(E2E_POLICY) EGRESS_POLICY_SERIAL=$(E2E_SERIAL)
	$(CARGO) build --quiet --bin egress-policy
	$(RELIABILITY_RUN) tests/reliability/*.test.mjs

reliability: $(NODE_STAMP) ## the whole reliability checks: 256/128 MiB bodies, upstream faults, 200 hung, 10,000 requests 2,000 in flight; bad keys, mint CPU, 10,000 customers, 30 swaps of a 1,000,000-name bundle (nice -n 5)
	@$(MAKE) build EGRESS_POLICY=$(E2E_POLICY) EGRESS_POLICY_SERIAL=$(E2E_SERIAL)
	$(CARGO) build --quiet --bin egress-policy
	@# 2,000 requests in flight hold 2,000 sockets in this process and as many in workerd.
	[ "$$(ulimit -n)" -ge 8192 ] || ulimit -n 8192 2>/dev/null; RELIABILITY=full nice -n 5 $(RELIABILITY_RUN) tests/reliability/*.test.mjs

SOAK_MINUTES ?= 30
soak: $(NODE_STAMP) ## 30 minutes at 100 requests/s, 1,000 customers, a bundle every 5 minutes: lines = requests, RSS slope (a dry run: SOAK_MINUTES=4)
	@$(MAKE) build EGRESS_POLICY=$(E2E_POLICY) EGRESS_POLICY_SERIAL=$(E2E_SERIAL)
	$(CARGO) build --quiet --bin egress-policy
	SOAK_MINUTES=$(SOAK_MINUTES) nice -n 5 $(RELIABILITY_RUN) tests/reliability/soak.mjs

# ---------------------------------------------------------------- run locally

.PHONY: dev
dev: ## local Workers for Platforms in workerd: dispatcher, two customers, this Worker, an upstream
	@$(MAKE) build
	$(NODE) dev/run.mjs

# A signed bundle for the running `make dev`: the policy (default: policy/policy.toml plus a
# block of $(BLOCK)) signed with the dev key, dropped where dev/run.mjs publishes it to KV.
BLOCK ?= evil.example.net
DEV_DIR := target/dev

.PHONY: dev-publish
dev-publish: ## with make dev running: publish a signed policy bundle (BLOCK=host, or EGRESS_POLICY=file) to its local KV
	@[ -f $(DEV_DIR)/bundle-signing.pem ] || { echo "start make dev first (it makes the dev signing key)" >&2; exit 1; }
	@$(CARGO) build --quiet --bin egress-policy
	@if [ "$(origin EGRESS_POLICY)" = "command line" ] || [ "$(origin EGRESS_POLICY)" = "environment" ]; then \
	  policy='$(EGRESS_POLICY)'; \
	else \
	  policy=$(DEV_DIR)/publish.toml; \
	  { cat policy/policy.toml; printf '\n[[rules]]\nid = "emergency-block"\naction = "block"\nhosts = ["%s"]\nreason = "emergency block (make dev-publish)"\n' '$(BLOCK)'; } > "$$policy"; \
	fi; \
	target/debug/egress-policy bundle "$$policy" --key-file $(DEV_DIR)/bundle-signing.pem --environment dev -o $(DEV_DIR)/outbox/.next.tmp --archive $(DEV_DIR)/archive
	@next=$(DEV_DIR)/outbox/bundle-$$(date +%s%N); mv $(DEV_DIR)/outbox/.next.tmp.head $$next.head && mv $(DEV_DIR)/outbox/.next.tmp $$next.bin

# ---------------------------------------------------------------- benchmark

.PHONY: bench-worker
bench-worker: $(NODE_STAMP) $(foreach n,$(BENCH_SIZES),$(BENCH_DIR)/worker-$(n)/index_bg.wasm) ## added latency: none vs JS peer vs this Worker, 10 and 10,000 blocked domains
	$(NODE) bench/run.mjs $(foreach n,$(BENCH_SIZES),$(n)=$(BENCH_DIR)/worker-$(n))

.PHONY: bench-cold
bench-cold: $(NODE_STAMP) $(foreach n,$(BENCH_SIZES),$(BENCH_DIR)/worker-$(n)/index_bg.wasm) ## cold start: first request of a fresh isolate vs a warm one, 10 and 10,000 blocked domains
	$(NODE) bench/cold-start.mjs $(foreach n,$(BENCH_SIZES),$(n)=$(BENCH_DIR)/worker-$(n))

.PHONY: bench-cold-floor
bench-cold-floor: $(NODE_STAMP) $(BENCH_DIR)/worker-10/index_bg.wasm bench/rust-floor/build/index_bg.wasm ## cold start of this Worker against the least a Rust outbound Worker can be (bench/rust-floor)
	$(NODE) bench/cold-start.mjs 10=$(BENCH_DIR)/worker-10 10/floor=bench/rust-floor/build

bench/rust-floor/build/index_bg.wasm: bench/rust-floor/src/lib.rs bench/rust-floor/Cargo.toml scripts/build-rust-floor.sh $(BENCH_DIR)/worker-10/index_bg.wasm
	scripts/build-rust-floor.sh

$(BENCH_DIR)/policy-%.toml: bench/workload.mjs
	@mkdir -p $(@D)
	$(NODE) bench/workload.mjs policy $* > $@

# Each size is its own Wasm build; build/ then holds the last one (the stamp makes the next
# `make build` rebuild with the usual policy).
$(BENCH_DIR)/worker-%/index_bg.wasm: $(BENCH_DIR)/policy-%.toml $(WORKER_SOURCES) scripts/build-worker.sh
	@$(MAKE) build EGRESS_POLICY=$<
	rm -rf $(@D) && mkdir -p $(@D) && cp -R build/. $(@D)/

# ---------------------------------------------------------------- fuzzing (not part of make test)

# Each target of fuzz/ starts from its committed seeds (fuzz/corpus/TARGET, read only) and
# writes what it finds to target/fuzz-corpus/TARGET. No single allocation may exceed
# FUZZ_MALLOC_MB: the readers keep memory bounded whatever the input. `make test` replays the
# committed seeds on stable (crates/cli/tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 20
FUZZ_MALLOC_MB ?= 64

.PHONY: fuzz
fuzz: ## every fuzz target of fuzz/ for FUZZ_SECONDS (default 20) each (nightly + cargo-fuzz, installed when missing)
	@rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --version 0.13.2 --locked
	@targets="$$($(CARGO) +nightly fuzz list)"; [ -n "$$targets" ] || { echo "no fuzz targets found" >&2; exit 1; }; \
	for t in $$targets; do \
		echo "== fuzz $$t"; \
		mkdir -p target/fuzz-corpus/$$t; \
		$(CARGO) +nightly fuzz run "$$t" $(abspath target/fuzz-corpus)/$$t $(abspath fuzz/corpus)/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=$(FUZZ_MALLOC_MB); \
	done

.PHONY: clean
clean: ## remove build outputs (build/, dist/, target/bench)
	rm -rf build dist $(BENCH_DIR)
