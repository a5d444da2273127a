#!/usr/bin/env bash
# Scrubber benchmarks (SPEC section 10): hush-scrub vs a bare aho-corasick search vs memcpy,
# on both data sets of shared/bench/gen_scrub_data.py at 1, 100, 1,000 and 10,000 secrets,
# measured side by side in one run (thread CPU time, see core/scrub/benches/scrub.rs); then a
# table of the figures and the machine.
#
# usage: scripts/bench-scrub.sh [criterion arguments, e.g. a filter like 'scrub/log']
# Data: $HUSH_SCRUB_BENCH_DATA, default <target dir>/bench-data (generated when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export CRITERION_HOME="$target/criterion"
export HUSH_SCRUB_BENCH_DATA="${HUSH_SCRUB_BENCH_DATA:-$target/bench-data}"
log="$target/bench-scrub.log"
mkdir -p "$target"
cargo bench -p hush-scrub --bench scrub -- "$@" | tee "$log"

python3 - "$CRITERION_HOME" "$HUSH_SCRUB_BENCH_DATA" "$log" <<'PY'
import json, os, subprocess, sys

home, data, log = sys.argv[1:4]
def mbps(kind, n, impl):
    path = os.path.join(home, f"scrub_{kind}_{n}", impl, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    ns = json.load(open(path))["mean"]["point_estimate"]
    return os.path.getsize(os.path.join(data, f"{kind}_{n}.txt")) / ns * 1e3

lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
load = open("/proc/loadavg").read().split()[:3]
print(f"\nmachine: {model}, {os.cpu_count()} cores; one core per benchmark; load average at the end: {' '.join(load)}")
print("\n| data set | secrets | hush-scrub (MB/s) | bare aho-corasick (MB/s) | memcpy (MB/s) | hush-scrub / aho-corasick |")
print("|---|---:|---:|---:|---:|---:|")
for kind in ("adversarial", "log"):
    for n in (1, 100, 1000, 10000):
        ours, ac, mem = (mbps(kind, n, i) for i in ("ours", "aho-corasick", "memcpy"))
        if ours is None:
            continue
        fmt = lambda v: "-" if v is None else f"{v:,.0f}"
        ratio = "-" if not ac else f"{ours / ac:.1f}x"
        print(f"| {kind} | {n:,} | {fmt(ours)} | {fmt(ac)} | {fmt(mem)} | {ratio} |")
print()
for line in open(log):
    if line.startswith(("memory:", "verify ")):
        print(line.rstrip())
PY
