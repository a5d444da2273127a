"""The generated client: chain building, argument checks and conversion, types, errors, and
evaluation against a real session (a `hush __session` child of this process)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import hush
import pytest
from hush import Container, Secret, dag


def chain(
    obj: hush.Query | Container | Secret, field: str | None = None
) -> list[dict[str, object]]:
    root, text = obj._query(field)
    assert root is None
    value: list[dict[str, object]] = json.loads(text)
    return value


def test_chain_is_built_in_python_and_serializes_to_the_query_protocol() -> None:
    token = dag.secret("env://TOKEN", cache_key="k")
    ctr = (
        dag.container()
        .from_("busybox")
        .with_secret_variable("TOKEN", token)
        .with_exec(["sh", "-c", "echo $TOKEN"])
    )
    assert chain(ctr, "stdout") == [
        {"field": "container"},
        {"field": "from", "args": {"address": "busybox"}},
        {
            "field": "with_secret_variable",
            "args": {
                "name": "TOKEN",
                "secret": {
                    "chain": [
                        {
                            "field": "secret",
                            "args": {"uri": "env://TOKEN", "cache_key": "k"},
                        }
                    ]
                },
            },
        },
        {"field": "with_exec", "args": {"args": ["sh", "-c", "echo $TOKEN"]}},
        {"field": "stdout"},
    ]


def test_each_call_returns_a_new_object_and_leaves_its_parent_alone() -> None:
    base = dag.container().from_("busybox")
    a = base.with_env_variable("A", "1")
    b = base.with_env_variable("B", "2")
    assert a is not base and b is not a
    assert chain(base) == [
        {"field": "container"},
        {"field": "from", "args": {"address": "busybox"}},
    ]
    assert chain(a)[-1] == {
        "field": "with_env_variable",
        "args": {"name": "A", "value": "1"},
    }
    assert chain(b)[-1] == {
        "field": "with_env_variable",
        "args": {"name": "B", "value": "2"},
    }
    with pytest.raises(AttributeError, match="immutable"):
        base._field = "with_exec"
    with pytest.raises(AttributeError, match="immutable"):
        del base._parent


def test_optional_arguments_are_keyword_only_with_defaults() -> None:
    sig = inspect.signature(Container.with_mounted_secret)
    assert sig.parameters["owner"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["mode"].default == 0o400
    s = dag.secret("env://X")
    with pytest.raises(TypeError):
        dag.container().with_mounted_secret("/s", s, "root")  # type: ignore[call-arg]
    mounted = dag.container().with_mounted_secret("/s", s, owner="1000")
    assert chain(mounted)[-1]["args"] == {
        "path": "/s",
        "source": {"chain": [{"field": "secret", "args": {"uri": "env://X"}}]},
        "owner": "1000",
        "mode": 256,
    }
    # Left-out optional arguments without a default are not sent.
    assert chain(dag.secret("env://X")) == [
        {"field": "secret", "args": {"uri": "env://X"}}
    ]


def test_arguments_are_checked_by_type_without_echoing_values() -> None:
    with pytest.raises(TypeError, match="address must be a str, not int"):
        dag.container().from_(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"args\[1\] must be a str"):
        dag.container().with_exec(["sh", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="args must be a list, not str"):
        dag.container().with_exec("echo hi")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mode must be an int, not bool"):
        dag.container().with_mounted_secret("/s", dag.secret("env://X"), mode=True)
    with pytest.raises(TypeError, match="secret must be a Secret, not str"):
        dag.container().with_secret_variable("T", "hunter2-value")  # type: ignore[arg-type]
    with pytest.raises(TypeError) as info:
        dag.set_secret("n", 12345678)  # type: ignore[arg-type]
    assert "12345678" not in str(info.value)


def test_python_names_and_type_hints() -> None:
    assert hasattr(Container, "from_") and not hasattr(Container, "from")
    hints = typing.get_type_hints(Container.with_secret_variable)
    assert hints == {"name": str, "secret": Secret, "return": Container}
    assert typing.get_type_hints(Container.with_exec)["args"] == list[str]
    assert inspect.iscoroutinefunction(Container.stdout)
    assert inspect.iscoroutinefunction(Secret.plaintext)
    assert not inspect.iscoroutinefunction(hush.Query.set_secret)
    assert (
        Container.with_exec.__doc__ and "Runs a command" in Container.with_exec.__doc__
    )


def test_error_classes_share_one_base() -> None:
    for name in [
        "InvalidUriError",
        "NotFoundError",
        "PermissionDeniedError",
        "UnreachableError",
        "SecretTimeoutError",
        "TooLargeError",
        "ProviderError",
        "QueryError",
        "EngineError",
        "ExecError",
        "SessionError",
    ]:
        assert issubclass(getattr(hush, name), hush.HushError)
    assert hush.ExecError("x", 3).exit_code == 3


def test_secrets_resolve_and_read_only_through_plaintext() -> None:
    async def main() -> None:
        token = dag.secret("env://HUSH_SDK_TEST_TOKEN")
        assert await token.name() == "env://HUSH_SDK_TEST_TOKEN"
        assert await token.plaintext() == "sdk-token-value-1"
        keyed = dag.secret("env://HUSH_SDK_TEST_TOKEN", cache_key="rotating")
        assert await keyed.plaintext() == "sdk-token-value-1"
        made = dag.set_secret("made", "made-value-22")
        assert "made-value-22" not in repr(made)
        assert await made.name() == "made"
        assert await made.plaintext() == "made-value-22"

    asyncio.run(main())


def test_typed_errors_from_the_session() -> None:
    async def main() -> None:
        with pytest.raises(hush.NotFoundError, match="HUSH_SDK_TEST_MISSING"):
            await dag.secret("env://HUSH_SDK_TEST_MISSING").plaintext()
        with pytest.raises(hush.InvalidUriError):
            await dag.secret("nope://x").plaintext()
        with pytest.raises(hush.ExecError) as info:
            await (
                dag.container()
                .from_("busybox")
                .with_exec(["sh", "-c", "exit 3"])
                .sync()
            )
        assert info.value.exit_code == 3

    asyncio.run(main())


def test_containers_run_with_scrubbed_output() -> None:
    async def main() -> None:
        ctr = (
            dag.container()
            .from_("busybox")
            .with_secret_variable("MY_SECRET", dag.secret("env://HUSH_SDK_TEST_EXEC"))
            .with_exec(["sh", "-c", "echo this is the secret: $MY_SECRET"])
        )
        synced = await ctr.sync()
        assert isinstance(synced, Container)
        assert await synced.stdout() == "this is the secret: ***\n"
        assert await ctr.exit_code() == 0

    asyncio.run(main())


def test_cache_volumes_tmpfs_and_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("port=80\n")
    key = f"sdk-test-{os.getpid()}-{id(tmp_path)}"

    async def main() -> None:
        cache = dag.cache_volume(key)

        def run(n: int) -> Container:
            return (
                dag.container()
                .from_("busybox")
                .with_mounted_cache("/cache", cache, sharing="locked")
                .with_exec(["sh", "-c", f"echo {n} >> /cache/runs; cat /cache/runs"])
            )

        assert await run(1).stdout() == "1\n"
        assert await run(2).stdout() == "1\n2\n"
        assert await cache.key() == key
        ctr = (
            dag.container()
            .from_("busybox")
            .with_mounted_temp("/scratch", size=1 << 20)
            .with_mounted_file(
                "/etc/app.conf", dag.host().file(str(tmp_path / "app.conf"))
            )
            .with_exec(
                ["sh", "-c", "cat /etc/app.conf; echo x > /scratch/f; cat /scratch/f"]
            )
        )
        assert await ctr.stdout() == "port=80\nx\n"
        bad = (
            dag.container()
            .from_("busybox")
            .with_mounted_cache("/c", cache, sharing="sometimes")
        )
        with pytest.raises(hush.QueryError, match="shared, private or locked"):
            await bad.with_exec(["true"]).sync()

    asyncio.run(main())


def test_dag_works_from_a_plain_script(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import asyncio\n"
        "from hush import dag\n"
        "async def main() -> None:\n"
        "    token = dag.secret('env://SCRIPT_TOKEN')\n"
        "    out = await (\n"
        "        dag.container().from_('busybox')\n"
        "        .with_secret_variable('T', token)\n"
        "        .with_exec(['sh', '-c', 'echo token=$T'])\n"
        "        .stdout()\n"
        "    )\n"
        "    print(out, end='')\n"
        "asyncio.run(main())\n"
    )
    env = dict(os.environ, SCRIPT_TOKEN="script-token-value")
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (out.returncode, out.stdout) == (0, "token=***\n"), out.stderr


def test_requests_run_concurrently(tmp_path: Path) -> None:
    """Two secrets whose commands wait for each other resolve only if both run at once."""
    for me, other in [("a", "b"), ("b", "a")]:
        script = tmp_path / f"{me}.sh"
        script.write_text(
            f"touch {tmp_path}/{me}.started\n"
            f"i=0; while [ ! -e {tmp_path}/{other}.started ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done\n"
            f"[ -e {tmp_path}/{other}.started ] && echo rendezvous-{me}-value\n"
        )
        script.chmod(0o755)

    async def main() -> list[str]:
        a = dag.secret(f"cmd://{tmp_path}/a.sh")
        b = dag.secret(f"cmd://{tmp_path}/b.sh")
        return list(await asyncio.gather(a.plaintext(), b.plaintext()))

    assert asyncio.run(main()) == ["rendezvous-a-value", "rendezvous-b-value"]
