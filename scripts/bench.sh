#!/usr/bin/env bash
# Every benchmark of SPEC section 10, side by side with its baseline, on this machine.
# Figures are recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== scrubber (cargo bench -p hush-scrub)"
scripts/bench-scrub.sh
echo "== exec overhead (cargo bench -p hush-engine --bench exec)"
cargo bench -p hush-engine --bench exec
echo "== hush run -- cat vs cat | cat"
cargo build --release --bin hush
python3 scripts/bench_run.py "${CARGO_TARGET_DIR:-target}/release/hush"
echo "== cache hit latency (cargo bench -p hush-cli --bench cache_hit)"
cargo bench -p hush-cli --bench cache_hit
