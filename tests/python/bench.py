"""Benchmarks of SPEC section 10 for the Python SDK, measured side by side in one run:

- building a container chain of 10 calls without executing it (target <= 20 us per call);
- ``hush call`` of a trivial Python function vs ``python3 -c 'import hush'`` (target <= 2x).

Usage: ``HUSH_BIN=target/release/hush python tests/python/bench.py`` with the ``hush``
package installed in the running interpreter (``make bench-python`` does both).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

from hush import Container, dag

MODULE = Path(__file__).resolve().parent / "modules" / "trivial"


def build_chain() -> Container:
    """Ten calls on a container, nothing executed."""
    return (
        dag.container()
        .from_("busybox")
        .with_env_variable("A", "1")
        .with_workdir("/src")
        .with_secret_variable("TOKEN", dag.secret("env://TOKEN"))
        .with_mounted_secret("/run/secrets/t", dag.secret("file:///tmp/t"), mode=0o400)
        .with_exec(["sh", "-c", "echo hi"])
        .with_user("1000")
        .with_new_file("/etc/motd", "hello")
        .without_secret_variable("TOKEN")
    )


def chain_overhead() -> tuple[float, float]:
    """Microseconds per call: building only, and building plus serializing to JSON."""
    calls = 12  # container, from, 8 with_*/without_*, 2 secret
    number = 20000
    build = (
        min(timeit.repeat(build_chain, number=number, repeat=5)) / number / calls * 1e6
    )
    serialize = (
        min(
            timeit.repeat(
                lambda: build_chain()._query("stdout"), number=number, repeat=5
            )
        )
        / number
        / calls
        * 1e6
    )
    return build, serialize


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> int:
    hush_bin = os.path.abspath(os.environ.get("HUSH_BIN", "target/release/hush"))
    env = dict(os.environ, HUSH_PYTHON=sys.executable)
    build, serialize = chain_overhead()
    print(
        f"chain of 10 container calls (12 selections), per call: build {build:.2f} us, build+JSON {serialize:.2f} us"
    )
    sync_call = [hush_bin, "call", "-m", str(MODULE), "hello", "--name=bench"]
    async_call = [hush_bin, "call", "-m", str(MODULE), "ping"]
    imp = [sys.executable, "-c", "import hush"]
    for command in (sync_call, async_call, imp):  # warm the page cache
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    rounds = [
        (
            median_ms(sync_call, env, 5),
            median_ms(async_call, env, 5),
            median_ms(imp, env, 5),
        )
        for _ in range(4)
    ]
    import_ms = statistics.median(r[2] for r in rounds)
    print(f"python3 -c 'import hush': {import_ms:.1f} ms")
    for name, i in [("hello (def)", 0), ("ping (async def)", 1)]:
        call_ms = statistics.median(r[i] for r in rounds)
        print(
            f"hush call {name}: {call_ms:.1f} ms, ratio {call_ms / import_ms:.2f}x (target <= 2x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
