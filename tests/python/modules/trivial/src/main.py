"""The benchmark's trivial module: one plain function and one coroutine function."""

from hush import function, object_type


@object_type
class Trivial:
    @function
    def hello(self, name: str = "world") -> str:
        """Says hello."""
        return f"hello {name}"

    @function
    async def ping(self) -> str:
        """A trivial coroutine function."""
        return "pong"
