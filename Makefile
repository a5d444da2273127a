# hush: `make demo` runs the main job, `make test` runs every test suite.
SHELL := /bin/bash
CARGO ?= cargo
HUSH := target/release/hush

.PHONY: setup build demo test lint bench test-python bench-python test-typescript

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --bin hush

demo: build
	@scripts/demo.sh $(HUSH)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: setup lint test-python test-typescript
	$(CARGO) test --workspace

# The Python SDK: a fresh venv under target/, the package built by pip through maturin, ruff,
# mypy --strict on the SDK, the examples and the tests, then pytest against a debug hush.
PY_VENV := target/py-venv
PY_TARGET := $${CARGO_TARGET_DIR:-target}
test-python: setup
	$(CARGO) build --bin hush
	rm -rf $(PY_VENV) && python3 -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install -q ./sdk-python pytest mypy ruff pytest-benchmark
	$(PY_VENV)/bin/ruff check sdk-python tests/python examples/python
	$(PY_VENV)/bin/ruff format --check sdk-python tests/python examples/python
	$(PY_VENV)/bin/mypy --strict sdk-python/hush
	for d in examples/python/*/src tests/python/modules/*/src; do (cd $$d && $(CURDIR)/$(PY_VENV)/bin/mypy --strict main.py) || exit 1; done
	cd tests/python && ../../$(PY_VENV)/bin/mypy --strict *.py
	HUSH_BIN=$(PY_TARGET)/debug/hush $(PY_VENV)/bin/pytest -q -p no:cacheprovider tests/python

# The TypeScript SDK: npm ci from the committed package-lock.json, the napi-rs addon built by
# cargo (bindings/node) and copied to hush.node, tsc --strict on the SDK and the tests (the SDK
# emitted with .d.ts), then node --test against a debug hush.
TS_DIR := sdk-typescript
TS_HUSH := $${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/hush
test-typescript: setup
	$(CARGO) build --bin hush
	cd $(TS_DIR) && rm -rf dist dist-test hush.node && npm ci --no-audit --no-fund
	cd $(TS_DIR) && CARGO=$(CARGO) node scripts/build-native.mjs
	cd $(TS_DIR) && npx tsc -p tsconfig.json --strict --noEmit
	cd $(TS_DIR) && npx tsc -p tsconfig.json && npx tsc -p tsconfig.test.json --strict
	cd $(TS_DIR) && HUSH_BIN=$(TS_HUSH) node --test dist-test/*.test.js

# SPEC section 10 for the Python SDK (figures in BENCHMARKS.md, "Python SDK").
bench-python: setup
	$(CARGO) build --release --bin hush
	test -x $(PY_VENV)/bin/python || { python3 -m venv $(PY_VENV) && $(PY_VENV)/bin/pip install -q ./sdk-python; }
	HUSH_BIN=$(PY_TARGET)/release/hush $(PY_VENV)/bin/python tests/python/bench.py

bench: setup
	@scripts/bench.sh
