"""Coroutine functions for the module runtime's driver (hush._driver): some never wait, some
wait on the SDK, some use asyncio imported inside the function. The module itself does not
import asyncio, so that the driver, not ``asyncio.run``, runs them."""

from __future__ import annotations

import contextvars
import sys

from hush import ExecError, dag, function, object_type

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("LABEL", default="unset")


@object_type
class Awaiting:
    @function
    async def never_waits(self) -> str:
        """Returns at once; reports whether asyncio got imported."""
        return f"asyncio imported: {'asyncio' in sys.modules}"

    @function
    async def waits_in_place(self) -> str:
        """An SDK call and a failing one; reports whether asyncio got imported."""
        out = await dag.container().from_("busybox").with_exec(["echo", "hi"]).stdout()
        try:
            await (
                dag.container()
                .from_("busybox")
                .with_exec(["sh", "-c", "exit 3"])
                .sync()
            )
        except ExecError as error:
            failed = f"exit {error.exit_code}"
        return f"{out.strip()} {failed} asyncio imported: {'asyncio' in sys.modules}"

    @function
    async def stdout_twice(self) -> str:
        """Two SDK calls in a row, then what asyncio sees: the loop and the current task."""
        LABEL.set("set before the first wait")
        first = (
            await dag.container().from_("busybox").with_exec(["echo", "one"]).stdout()
        )
        second = (
            await dag.container().from_("busybox").with_exec(["echo", "two"]).stdout()
        )
        import asyncio

        task = asyncio.current_task()
        return " ".join(
            [
                first.strip(),
                second.strip(),
                f"task={task is not None and not task.done()}",
                f"loop={asyncio.get_running_loop().is_running()}",
                LABEL.get(),
            ]
        )

    @function
    async def gather_in_task_group(self) -> list[str]:
        """asyncio imported inside the function, before any wait: a task group of SDK calls."""
        import asyncio

        async def echo(word: str) -> str:
            out = (
                await dag.container()
                .from_("busybox")
                .with_exec(["echo", word])
                .stdout()
            )
            return out.strip()

        if sys.version_info >= (3, 11):  # a task group needs the current task
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(echo(w)) for w in ["a", "b"]]
        else:
            tasks = [asyncio.ensure_future(echo(w)) for w in ["a", "b"]]
            await asyncio.wait(tasks)
        gathered = await asyncio.gather(echo("c"), asyncio.sleep(0, "d"))
        return [t.result() for t in tasks] + list(gathered)

    @function
    async def fails_after_wait(self) -> str:
        """Raises after an SDK call."""
        await dag.container().from_("busybox").with_exec(["true"]).stdout()
        raise ValueError("failed after waiting")
