"""`hush call` end to end on the ported seed examples (examples/python)."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, run_hush

EXAMPLES = ROOT / "examples" / "python"
TOKEN = "ghp_example-token-4242"


def test_seed_001_show_secret() -> None:
    out = run_hush(
        "call",
        "-m",
        str(EXAMPLES / "show-secret"),
        "show-secret",
        "--token=env://API_TOKEN",
        env={"API_TOKEN": "guessme-value"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "this is the secret: ***\n"


def test_seed_000_github_api_from_env_with_cache_key() -> None:
    for uri in [
        "env://GITHUB_API_TOKEN",
        "env://GITHUB_API_TOKEN?cacheKey=my-cache-key",
    ]:
        out = run_hush(
            "call",
            "-m",
            str(EXAMPLES / "secrets-cookbook"),
            "github-api",
            f"--token={uri}",
            env={"GITHUB_API_TOKEN": TOKEN},
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == (
            "GET /repos/dagger/dagger/issues Authorization: Bearer *** Accept: application/vnd.github+json\n"
        )
        assert TOKEN not in out.stdout + out.stderr


def test_seed_000_github_api_from_file_and_cmd(tmp_path: Path) -> None:
    token_file = tmp_path / "github.txt"
    token_file.write_text(TOKEN + "\n")
    for uri in [f"file://{token_file}", f"cmd://cat {token_file}"]:
        out = run_hush(
            "call",
            "-m",
            str(EXAMPLES / "secrets-cookbook"),
            "github-api",
            f"--token={uri}",
        )
        assert out.returncode == 0, out.stderr
        assert "Authorization: Bearer ***" in out.stdout and TOKEN not in out.stdout


def test_seed_000_github_auth_mounts_the_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(f"github.com:\n    oauth_token: {TOKEN}\n")
    out = run_hush(
        "call",
        "-m",
        str(EXAMPLES / "secrets-cookbook"),
        "github-auth",
        f"--gh-creds=file://{hosts}",
    )
    assert out.returncode == 0, out.stderr
    size = len(hosts.read_bytes())
    assert out.stdout == f"{size}\n***\n"


def test_failures_exit_1_with_one_sentence() -> None:
    out = run_hush(
        "call",
        "-m",
        str(EXAMPLES / "show-secret"),
        "show-secret",
        "--token=env://HUSH_CALL_UNSET",
    )
    assert out.returncode == 1
    assert out.stderr.startswith('hush: secret "env://HUSH_CALL_UNSET" not found')
