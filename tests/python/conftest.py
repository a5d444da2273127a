"""Fixtures: the hush binary, a private HUSH_HOME with a busybox image imported from Debian's
busybox-static, and a helper to run the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPLETS = [
    "sh",
    "echo",
    "cat",
    "which",
    "wc",
    "wget",
    "printf",
    "test",
    "true",
    "env",
]


def hush_bin() -> str:
    path = os.path.abspath(
        os.environ.get("HUSH_BIN") or str(ROOT / "target" / "debug" / "hush")
    )
    assert os.access(path, os.X_OK), (
        f"build hush first ({path}); `make test-python` does"
    )
    return path


def busybox_tarball() -> bytes:
    """A root filesystem: /bin/busybox with applet symlinks, /etc/passwd, /root."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in ["bin", "etc", "root", "tmp"]:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        for name, text in [
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\n"),
        ]:
            body = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


@pytest.fixture(scope="session", autouse=True)
def hush_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """HUSH_HOME with busybox imported; HUSH_BIN and HUSH_PYTHON for the SDK and the CLI."""
    home = tmp_path_factory.mktemp("hush-home")
    tarball = home / "busybox.tar"
    tarball.write_bytes(busybox_tarball())
    env = {
        "HUSH_HOME": str(home),
        "HUSH_BIN": hush_bin(),
        "HUSH_PYTHON": sys.executable,
        # Read by the session this test process starts on first use of `dag`.
        "HUSH_SDK_TEST_TOKEN": "sdk-token-value-1",
        "HUSH_SDK_TEST_EXEC": "exec-secret-value-9",
    }
    os.environ.update(env)
    subprocess.run(
        [hush_bin(), "image", "import", "--tag", "busybox", str(tarball)],
        check=True,
        capture_output=True,
    )
    yield env


def run_hush(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI with the test environment plus ``env``."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(
        [hush_bin(), *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        check=False,
    )
