"""`Directory.docker_build` with secrets: the seed's Dockerfile example (examples/python/
dockerfile-secret) through `hush call`, named secrets and the ID -> Secret map through the SDK,
and the errors. The secret must never reach output, layers or the image config."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import hush
import pytest
from hush import dag

from conftest import ROOT, run_hush

EXAMPLE = ROOT / "examples" / "python" / "dockerfile-secret"
SOURCE = EXAMPLE / "source"
TOKEN = "ghp_dockerfile-build-token-8086"


def proof(value: str) -> str:
    """What the example's Dockerfile writes to /secret-proof for a secret ``value``."""
    return f"length {len(value.encode())}\n"


def files_containing(root: Path, needle: bytes) -> list[str]:
    """Every file under ``root`` (the hush home: images, layers, cache) holding ``needle``."""
    found = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            if needle in path.read_bytes():
                found.append(str(path))
    return found


def home() -> Path:
    return Path(os.environ["HUSH_HOME"])


@pytest.mark.parametrize("function", ["build", "build-mapped"])
def test_seed_000_dockerfile_build_with_a_secret(function: str) -> None:
    out = run_hush(
        "call",
        "-m",
        str(EXAMPLE),
        function,
        f"--source={SOURCE}",
        "--secret=env://GITHUB_API_TOKEN",
        env={"GITHUB_API_TOKEN": TOKEN},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Container container:"), out.stdout
    assert TOKEN not in out.stdout + out.stderr
    assert "***" not in out.stdout + out.stderr
    assert files_containing(home(), TOKEN.encode()) == []


def test_named_and_mapped_secrets_reach_the_run_step_only(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    uri = f"file://{token_file}"

    async def main() -> None:
        source = dag.host().directory(str(SOURCE))
        named = dag.set_secret("gh-secret", await dag.secret(uri).plaintext())
        builds = [
            source.docker_build(secrets=[named]),
            source.docker_build(secret_map={"gh-secret": dag.secret(uri)}),
            # Both forms at once, each with its own ID.
            source.docker_build(
                secrets=(named,), secret_map={"other": dag.secret(uri)}
            ),
        ]
        for built in builds:
            assert await built.file("/secret-proof").contents() == proof(TOKEN)
            checks = await built.with_exec(
                [
                    "sh",
                    "-c",
                    "env; test -e /run/secrets/gh-secret && echo mounted || echo gone",
                ]
            ).stdout()
            assert checks.endswith("gone\n"), checks
            assert "***" not in checks and TOKEN not in checks

    asyncio.run(main())
    assert files_containing(home(), TOKEN.encode()) == []


def test_secret_map_is_checked_in_python() -> None:
    source = dag.host().directory(str(SOURCE))
    with pytest.raises(TypeError, match="secret_map must be a mapping, not list"):
        source.docker_build(secret_map=[dag.secret("env://A")])  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"secret_map\['gh-secret'\] must be a Secret, not str"
    ):
        source.docker_build(secret_map={"gh-secret": "env://A"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="secret_map keys must be str, not int"):
        source.docker_build(secret_map={1: dag.secret("env://A")})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"secrets\[0\] must be a Secret, not str"):
        source.docker_build(secrets=["gh-secret=env://A"])  # type: ignore[list-item]
    built = source.docker_build(
        secrets=[dag.secret("env://A")], secret_map={"id": dag.secret("env://B")}
    )
    _root, text = built._query()
    assert '"secret_map":{"map":{"id":{"chain":[{"field":"secret"' in text
    assert '"secrets":[{"chain":[{"field":"secret","args":{"uri":"env://A"}}]}]' in text


def test_unnamed_and_duplicate_secrets_are_clear_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    uri = f"file://{token_file}"

    async def main() -> None:
        source = dag.host().directory(str(SOURCE))
        with pytest.raises(hush.QueryError) as info:
            await source.docker_build(secrets=[dag.secret(uri)]).sync()
        assert str(info.value).startswith(
            f"docker_build: secret {uri} in secrets has no name to mount it by; "
            "give it an ID in secret_map"
        )
        named = dag.set_secret("gh-secret", TOKEN)
        with pytest.raises(hush.QueryError) as info:
            await source.docker_build(
                secrets=[named], secret_map={"gh-secret": dag.secret(uri)}
            ).sync()
        assert str(info.value) == (
            'docker_build: secret ID "gh-secret" is given in both secrets and secret_map'
        )

    asyncio.run(main())


def test_the_chain_takes_a_secret_map_and_names_unnamed_secrets() -> None:
    env = {"GITHUB_API_TOKEN": TOKEN}
    out = run_hush(
        "core",
        "host",
        "directory",
        f"--path={SOURCE}",
        "docker-build",
        "--secret-map=gh-secret=env://GITHUB_API_TOKEN",
        "file",
        "--path=/secret-proof",
        "contents",
        env=env,
    )
    assert (out.returncode, out.stdout) == (0, proof(TOKEN)), out.stderr
    out = run_hush(
        "core",
        "host",
        "directory",
        f"--path={SOURCE}",
        "docker-build",
        "--secrets=env://GITHUB_API_TOKEN",
        "sync",
        env=env,
    )
    assert out.returncode == 2, out.stderr
    assert "secret env://GITHUB_API_TOKEN in secrets has no name" in out.stderr
    assert TOKEN not in out.stdout + out.stderr
