"""A module that tries every way to leak a secret; the tests check that none gets through."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Annotated, Optional

from hush import Container, Directory, Doc, Secret, dag, function, object_type


@object_type
class Leaky:
    """Functions that print, return and raise secrets."""

    @function
    async def echo_secret(self, token: Annotated[Secret, Doc("Any secret")]) -> str:
        """Prints a received secret on stdout and stderr and returns it."""
        value = await token.plaintext()
        print(f"stdout: {value}", flush=True)
        print(f"stderr: {value}", file=sys.stderr, flush=True)
        return f"returned: {value}"

    @function
    async def made_secret(self) -> str:
        """Creates a secret with set_secret, prints and returns its value."""
        made = dag.set_secret("made", "made-in-module-" + "x7Qp2")
        value = await made.plaintext()
        print(f"made: {value}", flush=True)
        return value

    @function
    async def raise_secret(self, token: Secret) -> str:
        """Fails with the secret's value in the exception."""
        raise ValueError(f"bad token {await token.plaintext()}")

    @function
    def return_secret(self, token: Secret) -> Secret:
        """Returns the secret itself."""
        return token

    @function
    async def describe_secret(self, token: Secret) -> str:
        """The repr and name of a secret."""
        return f"{token!r} {await token.name()}"

    @function
    def wait_for(self, token: Secret, ready: str, go: str) -> str:
        """Writes its pid to READY, then waits until GO exists."""
        with open(ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(ready + ".tmp", ready)
        while not os.path.exists(go):
            time.sleep(0.01)
        return "done"

    @function
    async def list_dir(
        self, src: Annotated[Directory, Doc("A host directory")]
    ) -> list[str]:
        """The entries of a directory."""
        return await src.entries()

    @function
    def build(self, fail: bool = False) -> Container:
        """A container that is run when returned; --fail makes its exec fail."""
        return (
            dag.container()
            .from_("busybox")
            .with_exec(["sh", "-c", "exit 7" if fail else "true"])
        )

    @function
    def channel_inherited(self) -> bool:
        """Whether a child process of the module would inherit the session channel."""
        return (
            subprocess.run(
                ["sh", "-c", "test -e /proc/self/fd/3"], check=False
            ).returncode
            == 0
        )

    @function
    def greet(
        self,
        name: Annotated[str, Doc("Who to greet")] = "world",
        count: int = 1,
        loud: bool = False,
        tags: Optional[list[str]] = None,
    ) -> str:
        """Greets someone.

        Shows defaults and optional arguments.
        """
        text = " ".join([f"hello {name}"] * count)
        if loud:
            text = text.upper()
        return text + (" " + ",".join(tags) if tags else "")
