"""Runs a module function's coroutine, importing asyncio only if the coroutine needs it.

``import asyncio`` costs more than the rest of a module process's start together (it pulls in
ssl, socket, concurrent.futures, logging, subprocess, inspect...), and most module functions
do not need it: they return at once, or await SDK calls one after the other. :func:`run`
therefore drives the coroutine itself (``send(None)``) on this thread, inside a copy of the
current context as ``asyncio.run`` does. While it has no event loop, an SDK call waits for
the session in place (:func:`in_place`; nothing else could run meanwhile) instead of making
an asyncio future.

The moment asyncio is imported on this thread while the coroutine runs (the coroutine's own
``import asyncio``, or a library's), an event loop is made, marked running, and a task made
current for the coroutine, so that from there on the coroutine sees what it would see under
``asyncio.run``: a running loop, ``current_task()``, futures and tasks of that loop, SDK calls
as asyncio futures that run concurrently. At its first suspension the loop takes the
coroutine over (the task resumes it where it stopped) and is run and closed by an
``asyncio.Runner``, as ``asyncio.run`` would.

When asyncio is already imported (the module imports it at its top, as most asyncio code
does) there is nothing to save, and before Python 3.11 (no ``Runner``, no task context)
nothing is tried: those go to ``asyncio.run`` directly.

One case is not seen: asyncio imported first by another thread while the coroutine runs, and
then used by the coroutine directly (``asyncio.sleep``, ``asyncio.gather``...): it finds no
running loop.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Coroutine, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import asyncio
    import types
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

T = TypeVar("T")

_active: _Driver | None = None
"""The driver whose coroutine runs on its thread without an event loop yet."""


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to its end and returns its result, as ``asyncio.run`` does."""
    if "asyncio" in sys.modules or sys.version_info < (3, 11) or _active is not None:
        import asyncio

        return asyncio.run(coro)
    result: T = _Driver(coro).run()
    return result


def in_place() -> bool:
    """Whether the caller runs in a coroutine that :func:`run` drives on this thread without
    an event loop; the SDK then waits for the session in place instead of making an asyncio
    future (nothing else could run meanwhile: without a loop there are no other tasks)."""
    driver = _active
    return driver is not None and driver.runner is None and driver.thread == threading.get_ident()


class _Driver:
    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.context = contextvars.copy_context()
        self.thread = threading.get_ident()
        self.runner: asyncio.Runner | None = None
        self.task: asyncio.Task[Any] | None = None
        # How the part of the coroutine before the loop took over ended: ("yield", the
        # awaitable it waits on), ("return", its result) or ("raise", its exception).
        self.outcome: tuple[str, Any] = ("yield", None)

    def run(self) -> Any:
        global _active
        _active = self
        finder = _AsyncioFinder(self)
        sys.meta_path.insert(0, finder)
        try:
            while True:
                try:
                    yielded = self.context.run(self.coro.send, None)
                except StopIteration as stop:
                    if self.runner is None:
                        return stop.value
                    self.outcome = ("return", stop.value)
                except BaseException as error:
                    if self.runner is None:
                        raise
                    self.outcome = ("raise", error)
                else:
                    if self.runner is None and yielded is None:
                        continue  # a bare yield: without a loop, nothing else waits to run
                    # Anything else yielded needs the loop, even when asyncio was not imported:
                    # its task reports a bad yield into the coroutine, as under ``asyncio.run``.
                    self.outcome = ("yield", yielded)
                    self.start_loop()
                break
        finally:
            _active = None
            if finder in sys.meta_path:
                sys.meta_path.remove(finder)
        return self.hand_over()

    def start_loop(self) -> None:
        """Makes the loop and the coroutine's task, and marks them running and current."""
        if self.runner is not None:
            return
        import asyncio  # through the finder, when it is still watching: it starts the loop

        if self.runner is not None:
            return
        self.runner = runner = asyncio.Runner()
        loop = runner.get_loop()
        self.task = task = loop.create_task(_Rest(self).resume(), context=self.context)
        asyncio.events._set_running_loop(loop)
        asyncio.tasks._enter_task(loop, task)
        if isinstance(loop, asyncio.BaseEventLoop):  # what run_forever sets, for is_running()
            loop._thread_id = self.thread  # type: ignore[attr-defined]

    def hand_over(self) -> Any:
        """Runs the loop (its task resumes the coroutine) until the task ends, then closes it."""
        import asyncio

        runner, task = self.runner, self.task
        assert runner is not None and task is not None
        loop = runner.get_loop()
        asyncio.tasks._leave_task(loop, task)
        asyncio.events._set_running_loop(None)
        if isinstance(loop, asyncio.BaseEventLoop):
            loop._thread_id = None  # type: ignore[attr-defined]
        with runner:
            return runner.run(_join(task))


async def _join(task: asyncio.Task[T]) -> T:
    return await task


class _Rest:
    """The task's coroutine: the rest of the driven coroutine, from where it stopped."""

    def __init__(self, driver: _Driver) -> None:
        self.driver = driver

    async def resume(self) -> Any:
        return await self

    def __await__(self) -> Generator[Any, Any, Any]:
        # ``yield from`` by hand, because the coroutine has already started.
        kind, value = self.driver.outcome
        if kind == "return":
            return value
        if kind == "raise":
            raise value
        coro = self.driver.coro
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as error:  # noqa: BLE001 (the task's cancellation, a bad yield: passed on)
                try:
                    value = coro.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class _AsyncioFinder:
    """A meta path finder that starts the driver's loop once asyncio is imported on its thread."""

    def __init__(self, driver: _Driver) -> None:
        self.driver = driver

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "asyncio" or threading.get_ident() != self.driver.thread:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is not None and hasattr(loader, "exec_module"):
            spec.loader = cast("Loader", _StartLoopAfter(loader, self.driver))
        return spec


class _StartLoopAfter:
    """asyncio's own loader, and the driver's loop started once asyncio is executed."""

    def __init__(self, loader: Any, driver: _Driver) -> None:
        self.loader = loader
        self.driver = driver

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        if _active is self.driver:
            self.driver.start_loop()
