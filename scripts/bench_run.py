#!/usr/bin/env python3
"""`hush run -- cat BIGFILE > /dev/null` against `cat BIGFILE | cat > /dev/null` (SPEC section 10).

usage: bench_run.py HUSH [SIZE_MB] [ROUNDS]

Both pipelines make the same one extra pipe hop; hush also scrubs with one secret of each
kind of the benchmark data set loaded. Rounds alternate between the two commands; the
median time of each gives the throughput ratio, reported with the machine.
"""
import os, platform, statistics, subprocess, sys, tempfile, time

def machine():
    model = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"

def timed(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start

def main():
    hush = os.path.abspath(sys.argv[1])
    size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.log")
        line = b'{"level":"INFO","msg":"request handled","path":"/api/v1/items/42","status":200}\n'
        with open(big, "wb") as f:
            f.write(line * (size_mb * 1024 * 1024 // len(line)))
        env = dict(os.environ, HUSH_HOME=os.path.join(tmp, "home"),
                   BENCH_SECRET="Xk93-bench-secret-value-Q7")
        ours = f"{hush} run --secret-variable S=env://BENCH_SECRET -- cat {big} > /dev/null"
        base = f"cat {big} | cat > /dev/null"
        times = {ours: [], base: []}
        for _ in range(rounds):
            for cmd in (ours, base):
                times[cmd].append(timed(cmd, env))
        size = os.path.getsize(big) / 1e6
        t_ours, t_base = statistics.median(times[ours]), statistics.median(times[base])
        print(f"machine: {machine()}")
        print(f"file: {size:.0f} MB, {rounds} alternating rounds, medians")
        print(f"hush run -- cat        : {t_ours*1000:8.1f} ms  {size/t_ours:8.0f} MB/s")
        print(f"cat | cat              : {t_base*1000:8.1f} ms  {size/t_base:8.0f} MB/s")
        print(f"throughput ratio (hush / cat|cat): {t_base/t_ours:.2f}  (target >= 0.5)")

if __name__ == "__main__":
    main()
