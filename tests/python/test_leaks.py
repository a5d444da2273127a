"""No secret value in anything a person or another process can see: module output, results,
exceptions and tracebacks, reprs, the module process's argv and environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import hush
import pytest
from hush import dag

from conftest import ROOT, hush_bin

LEAKY = ROOT / "tests" / "python" / "modules" / "leaky"
VALUE = "leak-canary-7f3a9c"


def call(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, LEAK_TOKEN=VALUE)
    full.update(env or {})
    return subprocess.run(
        [hush_bin(), "call", "-m", str(LEAKY), *args],
        capture_output=True,
        text=True,
        env=full,
        check=False,
    )


def test_received_secret_printed_and_returned_is_scrubbed() -> None:
    out = call("echo-secret", "--token=env://LEAK_TOKEN")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "stdout: ***\nreturned: ***\n"
    assert "stderr: ***" in out.stderr
    assert VALUE not in out.stdout + out.stderr


def test_secret_created_in_the_module_is_scrubbed() -> None:
    out = call("made-secret")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "made: ***\n***\n"
    assert "made-in-module-x7Qp2" not in out.stdout + out.stderr


def test_exceptions_and_tracebacks_are_scrubbed() -> None:
    out = call("raise-secret", "--token=env://LEAK_TOKEN")
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "ValueError: bad token ***" in out.stderr
    assert VALUE not in out.stdout + out.stderr
    assert "raise-secret failed" in out.stderr


def test_a_returned_secret_prints_its_uri() -> None:
    out = call("return-secret", "--token=env://LEAK_TOKEN?cacheKey=k1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("env://LEAK_TOKEN")
    assert VALUE not in out.stdout


def test_secret_repr_and_name_have_no_value() -> None:
    out = call("describe-secret", "--token=env://LEAK_TOKEN")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Secret(id='secret:") and out.stdout.endswith(
        " env://LEAK_TOKEN\n"
    )
    made = dag.set_secret("local", VALUE)
    assert VALUE not in repr(made) and VALUE not in str(made)
    assert VALUE not in repr(dag.container().with_secret_variable("T", made))


def test_errors_never_contain_the_value() -> None:
    with pytest.raises(hush.HushError) as info:
        dag.set_secret("", VALUE)
    assert VALUE not in str(info.value) and VALUE not in repr(info.value)


def test_module_process_argv_and_environment_hold_no_secret(tmp_path: Path) -> None:
    ready, go = tmp_path / "ready", tmp_path / "go"
    proc = subprocess.Popen(
        [
            hush_bin(),
            "call",
            "-m",
            str(LEAKY),
            "wait-for",
            "--token=env://LEAK_TOKEN",
            f"--ready={ready}",
            f"--go={go}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, LEAK_TOKEN=VALUE),
    )
    try:
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        pid = int(ready.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"python" in cmdline
        assert VALUE.encode() not in cmdline and VALUE.encode() not in environ
        assert b"LEAK_TOKEN=" not in environ, "a variable consumed as env:// is removed"
        assert os.readlink(f"/proc/{pid}/fd/3").startswith("socket:"), (
            "the channel is a socket"
        )
        go.touch()
        stdout, stderr = proc.communicate()
    finally:
        go.touch()
        proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout == "done\n"


def test_nothing_on_disk_holds_the_value() -> None:
    """After calls that received, printed, mounted and created secrets, no file under the
    session's state directory or the module's directory holds a value."""
    assert call("echo-secret", "--token=env://LEAK_TOKEN").returncode == 0
    assert call("made-secret").returncode == 0
    values = [VALUE.encode(), b"made-in-module-x7Qp2"]
    for top in [Path(os.environ["HUSH_HOME"]), LEAKY]:
        for path in top.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                assert not any(v in data for v in values), path


def test_exec_errors_and_their_tracebacks_have_no_value() -> None:
    async def main() -> str:
        try:
            await (
                dag.container()
                .from_("busybox")
                .with_secret_variable("T", dag.secret("env://HUSH_SDK_TEST_EXEC"))
                .with_exec(["sh", "-c", "echo failing with $T >&2; exit 3"])
                .sync()
            )
        except hush.ExecError as e:
            assert e.exit_code == 3
            return "".join(
                traceback.format_exception(type(e), e, e.__traceback__)
            ) + repr(e)
        raise AssertionError("the exec did not fail")

    text = asyncio.run(main())
    assert "ExecError" in text
    assert "exec-secret-value-9" not in text


def test_too_large_is_typed_and_names_the_secret(tmp_path: Path) -> None:
    script = tmp_path / "big.py"
    script.write_text(
        "import asyncio, hush\n"
        "async def main() -> None:\n"
        "    try:\n"
        "        await hush.dag.secret('env://BIG_TOKEN').plaintext()\n"
        "    except hush.TooLargeError as e:\n"
        "        print(type(e).__name__, e)\n"
        "asyncio.run(main())\n"
    )
    env = dict(
        os.environ, BIG_TOKEN="big-secret-value-0123456789", HUSH_SECRET_MAX_BYTES="8"
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        'TooLargeError secret "env://BIG_TOKEN" is larger than the limit of 8 bytes'
    )
    assert "big-secret-value" not in out.stdout + out.stderr
