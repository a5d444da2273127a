# hush: `make demo` runs the main job, `make test` runs every test suite.
SHELL := /bin/bash
CARGO ?= cargo
HUSH := target/release/hush

.PHONY: setup build demo test lint bench

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --bin hush

demo: build
	@scripts/demo.sh $(HUSH)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: setup lint
	$(CARGO) test --workspace

bench: setup
	@scripts/bench.sh
