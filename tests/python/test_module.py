"""The module runtime and the module commands: describe, init, functions, --help, flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from hush import Container, Doc, Secret, function, object_type
from hush._module import describe

from conftest import ROOT, run_hush

LEAKY = ROOT / "tests" / "python" / "modules" / "leaky"


def test_describe_reads_types_docs_defaults_and_optionals() -> None:
    @object_type
    class Mod:
        """A module."""

        @function
        async def build(
            self,
            token: Annotated[Secret, Doc("The token")],
            args: list[str],
            level: int = 3,
            label: Optional[str] = None,
        ) -> Container:
            """Builds it."""
            raise NotImplementedError

        def helper(self) -> None:
            """Not a function of the module."""

    desc = describe(Mod)
    assert desc["name"] == "Mod" and desc["doc"] == "A module."
    (build,) = desc["functions"]
    assert (
        build["name"] == "build"
        and build["doc"] == "Builds it."
        and build["returns"] == "Container"
    )
    assert build["args"] == [
        {
            "name": "token",
            "type": "Secret",
            "doc": "The token",
            "optional": False,
            "default": None,
        },
        {
            "name": "args",
            "type": "[String]",
            "doc": "",
            "optional": False,
            "default": None,
        },
        {"name": "level", "type": "Int", "doc": "", "optional": True, "default": 3},
        {
            "name": "label",
            "type": "String",
            "doc": "",
            "optional": True,
            "default": None,
        },
    ]


def test_init_scaffolds_a_module_that_lists_and_calls(tmp_path: Path) -> None:
    target = tmp_path / "my-module"
    out = run_hush("init", "--sdk=python", str(target))
    assert out.returncode == 0, out.stderr
    assert (target / "hush.json").is_file() and (target / "pyproject.toml").is_file()
    assert "@object_type" in (target / "src" / "main.py").read_text()
    out = run_hush("functions", "-m", str(target))
    assert out.returncode == 0, out.stderr
    assert "container-echo" in out.stdout and "secret-length" in out.stdout
    out = run_hush(
        "call",
        "-m",
        str(target),
        "secret-length",
        "--token=env://HUSH_INIT_TOKEN",
        env={"HUSH_INIT_TOKEN": "12345"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "5\n"
    out = run_hush("call", "-m", str(target), "container-echo", "--string-arg=hello")
    assert (out.returncode, out.stdout) == (0, "hello\n"), out.stderr
    out = run_hush("init", "--sdk=python", str(target))
    assert out.returncode == 2 and "already exists" in out.stderr


def test_functions_lists_docs() -> None:
    out = run_hush("functions", "-m", str(LEAKY))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Leaky: Functions that print, return and raise secrets."
    assert any(line.split() == ["greet", "Greets", "someone."] for line in lines)
    assert any(
        line.startswith("echo-secret ") and "Prints a received secret" in line
        for line in lines
    )


def test_help_comes_from_docstrings_and_doc() -> None:
    out = run_hush("call", "-m", str(LEAKY), "greet", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        "Greets someone.\n\nShows defaults and optional arguments.\n"
    )
    assert (
        "--name String" in out.stdout and 'Who to greet (default "world")' in out.stdout
    )
    assert "--count Int" in out.stdout and "(default 1)" in out.stdout
    assert "--tags [String]" in out.stdout


def test_flags_defaults_and_optionals() -> None:
    out = run_hush("call", "-m", str(LEAKY), "greet")
    assert (out.returncode, out.stdout) == (0, "hello world\n"), out.stderr
    out = run_hush(
        "call",
        "-m",
        str(LEAKY),
        "greet",
        "--name=hush",
        "--count",
        "2",
        "--loud",
        "--tags=a,b",
    )
    assert (out.returncode, out.stdout) == (0, "HELLO HUSH HELLO HUSH a,b\n"), (
        out.stderr
    )


def test_usage_errors_exit_2() -> None:
    out = run_hush("call", "-m", str(LEAKY), "greet", "--nme=x")
    assert out.returncode == 2 and "greet has no flag --nme" in out.stderr
    out = run_hush("call", "-m", str(LEAKY), "gret")
    assert out.returncode == 2 and "no function" in out.stderr
    out = run_hush("call", "-m", str(LEAKY), "greet", "--count=many")
    assert out.returncode == 2 and "not an integer" in out.stderr
    out = run_hush("call", "-m", str(LEAKY), "echo-secret")
    assert out.returncode == 2 and "needs --token" in out.stderr


def test_object_flags_and_list_results(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    out = run_hush("call", "-m", str(LEAKY), "list-dir", f"--src={tmp_path}")
    assert (out.returncode, out.stdout) == (0, "a.txt\nb.txt\n"), out.stderr


def test_module_children_do_not_inherit_the_channel() -> None:
    out = run_hush("call", "-m", str(LEAKY), "channel-inherited")
    assert (out.returncode, out.stdout) == (0, "false\n"), out.stderr


def test_trivial_module_of_the_benchmark() -> None:
    trivial = ROOT / "tests" / "python" / "modules" / "trivial"
    out = run_hush("call", "-m", str(trivial), "hello", "--name=bench")
    assert (out.returncode, out.stdout) == (0, "hello bench\n"), out.stderr
    out = run_hush("call", "-m", str(trivial), "ping")
    assert (out.returncode, out.stdout) == (0, "pong\n"), out.stderr


def test_returned_containers_are_run() -> None:
    out = run_hush("call", "-m", str(LEAKY), "build")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Container container:")
    out = run_hush("call", "-m", str(LEAKY), "build", "--fail")
    assert out.returncode == 1
    assert "ExecError" in out.stderr and "build failed" in out.stderr
