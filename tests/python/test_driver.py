"""hush._driver: coroutine functions run without asyncio until they wait for something, then
under an event loop as with ``asyncio.run``; through ``hush call`` and in a fresh interpreter
(where asyncio is not imported yet)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, run_hush

AWAITING = ROOT / "tests" / "python" / "modules" / "awaiting"

needs_311 = pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="before 3.11 the driver hands every coroutine to asyncio.run",
)


def call(function: str) -> subprocess.CompletedProcess[str]:
    return run_hush("call", "-m", str(AWAITING), function)


@needs_311
def test_a_coroutine_that_never_waits_runs_without_asyncio() -> None:
    out = call("never-waits")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "asyncio imported: False\n"


@needs_311
def test_sdk_calls_wait_in_place_without_asyncio() -> None:
    out = call("waits-in-place")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hi exit 3 asyncio imported: False\n"


def test_asyncio_imported_after_sdk_calls_and_keep_task_and_context() -> None:
    out = call("stdout-twice")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "one two task=True loop=True set before the first wait\n"


def test_asyncio_imported_inside_the_function_gets_a_running_loop() -> None:
    out = call("gather-in-task-group")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["a", "b", "c", "d"]


def test_an_exception_after_a_wait_fails_the_call() -> None:
    out = call("fails-after-wait")
    assert out.returncode != 0
    assert "failed after waiting" in out.stderr


CASES = """
import contextvars, sys
from hush import _driver

LABEL = contextvars.ContextVar("LABEL", default="unset")


class Bare:
    def __await__(self):
        yield
        return 5


class Odd:
    def __await__(self):
        yield 42


async def trivial():
    return "pong"


async def bare():
    return await Bare() + 1


async def early_raise():
    raise KeyError("early")


async def lazy():
    LABEL.set("first")
    import asyncio

    task = asyncio.current_task()
    assert task is not None and asyncio.get_running_loop().is_running()
    async with asyncio.TaskGroup() as group:
        a = group.create_task(asyncio.sleep(0.01, "a"))
    assert asyncio.current_task() is task
    both = await asyncio.gather(asyncio.sleep(0.01, 1), asyncio.sleep(0, 2))
    async with asyncio.timeout(5):
        await asyncio.sleep(0)
    return LABEL.get(), a.result(), both


async def late_raise():
    import asyncio

    await asyncio.sleep(0)
    raise KeyError("late")


async def odd():
    try:
        await Odd()
    except RuntimeError as error:
        return str(error)


try:
    result = repr(_driver.run(globals()[sys.argv[1]]()))
except KeyError as error:
    result = f"KeyError {error}"
assert LABEL.get() == "unset", "the coroutine's context leaked"
if "asyncio" in sys.modules:
    assert sys.modules["asyncio"]._get_running_loop() is None
print(result, "asyncio" in sys.modules)
"""


@needs_311
@pytest.mark.parametrize(
    ("case", "printed"),
    [
        ("trivial", "'pong' False"),
        ("bare", "6 False"),
        ("early_raise", "KeyError 'early' False"),
        ("lazy", "('first', 'a', [1, 2]) True"),
        ("late_raise", "KeyError 'late' True"),
        ("odd", "'Task got bad yield: 42' True"),
    ],
)
def test_driver_in_a_fresh_interpreter(case: str, printed: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CASES, case],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == printed + "\n"
