"""The runtime under the generated client: immutable selection chains, argument checks and
conversion, and the connection to the hush session.

Building a chain is pure Python: every call returns a new object that points at its parent
with one more selection. Only a terminal call (a value, ``sync``, ``plaintext``) serializes
the chain to the JSON query protocol and sends it to the session.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union

from . import _driver, _native
from ._errors import QueryError

if TYPE_CHECKING:
    import asyncio

Input = Union[None, bool, int, str, Sequence["Input"], Mapping[str, "Input"], "Object"]
"""An argument value: a scalar, a list, a map with string keys, or an object of the API."""

T = TypeVar("T")
O = TypeVar("O", bound="Object")


class Object:
    """An object of the API: a chain of selections from the root, or an id the session gave."""

    __slots__ = ("_args", "_field", "_id", "_parent")
    _type_name = "Object"
    _parent: Object | None
    _field: str
    _args: dict[str, Input]
    _id: str | None

    def __init__(self, parent: Object | None, field: str, args: dict[str, Input]) -> None:
        _init(self, parent, field, args, None)

    @classmethod
    def _from_id(cls: type[O], object_id: str) -> O:  # noqa: PYI019 (typing.Self needs 3.11)
        obj = cls.__new__(cls)
        _init(obj, None, "", {}, object_id)
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def _path(self) -> tuple[str | None, list[Object]]:
        """The root id (``None`` for the API root) and the nodes from it to ``self``."""
        nodes: list[Object] = []
        node = self
        while node._parent is not None:
            nodes.append(node)
            node = node._parent
        nodes.reverse()
        return node._id, nodes

    def _query(self, field: str | None = None, args: dict[str, Input] | None = None) -> tuple[str | None, str]:
        """The root id and the JSON chain of ``self``, plus one more selection if given."""
        root, nodes = self._path()
        chain = [_selection(n._field, n._args) for n in nodes]
        if field is not None:
            chain.append(_selection(field, args or {}))
        return root, json.dumps(chain, separators=(",", ":"))

    async def _evaluate(self, field: str, args: dict[str, Input]) -> object:
        root, chain = self._query(field, args)
        return await evaluate(chain, root)

    async def _secret_id(self) -> str:
        """The id of the secret ``self`` names, evaluating its chain if needed."""
        if self._id is not None and self._parent is None:
            return self._id
        root, chain = self._query()
        return _output_id(await evaluate(chain, root), self._type_name)

    async def _plaintext(self) -> str:
        secret_id = await self._secret_id()
        if _driver.in_place():
            value = connection().plaintext_blocking(secret_id)
        else:
            value = await connection().plaintext(secret_id)
        return value.decode("utf-8", "surrogateescape")

    def __repr__(self) -> str:
        root, nodes = self._path()
        steps = [f"{n._field}({_repr_args(n._args)})" for n in nodes]
        head = [f"id={root!r}"] if root is not None else []
        return f"{self._type_name}({'.'.join(head + steps)})"


async def evaluate(chain: str, root: str | None) -> object:
    """Evaluates a JSON chain in the session; its output, decoded."""
    if _driver.in_place():
        return json.loads(connection().evaluate_blocking(chain, root))
    return json.loads(await connection().evaluate(chain, root))


def _init(obj: Object, parent: Object | None, field: str, args: dict[str, Input], object_id: str | None) -> None:
    set_ = object.__setattr__
    set_(obj, "_parent", parent)
    set_(obj, "_field", field)
    set_(obj, "_args", args)
    set_(obj, "_id", object_id)


def _repr_args(args: dict[str, Input]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in args.items())


def _selection(field: str, args: dict[str, Input]) -> dict[str, Any]:
    if not args:
        return {"field": field}
    return {"field": field, "args": {name: _encode(value) for name, value in args.items()}}


def _encode(value: Input) -> Any:
    if isinstance(value, Object):
        root, nodes = value._path()
        if not nodes:
            if root is None:
                raise QueryError("the API root cannot be an argument")
            return {"id": root}
        if root is not None:
            raise QueryError(f"{value._type_name} built on an object handle cannot be an argument yet")
        return {"chain": [_selection(n._field, n._args) for n in nodes]}
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        # Wrapped, so that a key can never be read as an object's ``chain`` or ``id``.
        return {"map": {key: _encode(item) for key, item in value.items()}}
    return [_encode(item) for item in value]


def in_str(value: object, name: str) -> str:
    """Checks a String argument."""
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def in_int(value: object, name: str) -> int:
    """Checks an Int argument."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be an int, not {type(value).__name__}")


def in_bool(value: object, name: str) -> bool:
    """Checks a Boolean argument."""
    if isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


def in_list(item: Callable[[object, str], T]) -> Callable[[object, str], list[T]]:
    """Checks a list argument (any sequence) item by item; a str is not a list of str."""

    def check(value: object, name: str) -> list[T]:
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
            return [item(v, f"{name}[{i}]") for i, v in enumerate(value)]
        raise TypeError(f"{name} must be a list, not {type(value).__name__}")

    return check


def in_map(item: Callable[[object, str], T]) -> Callable[[object, str], dict[str, T]]:
    """Checks a map argument (any mapping with str keys) entry by entry, into a new dict."""

    def check(value: object, name: str) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
        checked: dict[str, T] = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name} keys must be str, not {type(key).__name__}")
            checked[key] = item(v, f"{name}[{key!r}]")
        return checked

    return check


def in_object(cls: type[O]) -> Callable[[object, str], O]:
    """Checks an object argument."""

    def check(value: object, name: str) -> O:
        if isinstance(value, cls):
            return value
        raise TypeError(f"{name} must be a {cls._type_name}, not {type(value).__name__}")

    return check


def out_str(value: object) -> str:
    """A String result."""
    if isinstance(value, str):
        return value
    raise QueryError(f"the session returned {type(value).__name__} for a String")


def out_int(value: object) -> int:
    """An Int result."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise QueryError(f"the session returned {type(value).__name__} for an Int")


def out_bool(value: object) -> bool:
    """A Boolean result."""
    if isinstance(value, bool):
        return value
    raise QueryError(f"the session returned {type(value).__name__} for a Boolean")


def out_list(item: Callable[[object], T]) -> Callable[[object], list[T]]:
    """A list result."""

    def convert(value: object) -> list[T]:
        if isinstance(value, list):
            return [item(v) for v in value]
        raise QueryError(f"the session returned {type(value).__name__} for a list")

    return convert


def out_object(cls: type[O]) -> Callable[[object], O]:
    """An object result: ``{"type": ..., "id": ...}``."""

    def convert(value: object) -> O:
        return cls._from_id(_output_id(value, cls._type_name))

    return convert


def _output_id(value: object, type_name: str) -> str:
    if isinstance(value, dict) and value.get("type") == type_name:
        object_id = value.get("id")
        if isinstance(object_id, str):
            return object_id
    raise QueryError(f"the session did not return a {type_name}")


def set_secret(cls: type[O], name: str, plaintext: str) -> O:
    """A secret made in the session from a value; the value never enters a chain."""
    return cls._from_id(connection().set_secret(name, plaintext.encode("utf-8", "surrogateescape")))


_connection: _native.Connection | None = None
_lock = threading.Lock()


def connection() -> _native.Connection:
    """The process's connection to its hush session, opened on first use.

    Inside ``hush call`` it is the channel the CLI handed over (``HUSH_SESSION_FD``, removed
    from the environment once read); otherwise a ``hush __session`` child started here.
    """
    global _connection
    with _lock:
        if _connection is None:
            fd = os.environ.pop("HUSH_SESSION_FD", None)
            hush_bin = os.environ.get("HUSH_BIN") or "hush"
            _connection = _native.Connection.open(int(fd) if fd else None, hush_bin)
            atexit.register(_shutdown, _connection)
        return _connection


def _shutdown(connection: _native.Connection) -> None:
    """At exit: ends the session, then waits until no native task touches Python."""
    connection.close()
    _native.drain()


def _settle(future: asyncio.Future[object], ok: bool, value: object) -> None:
    """Completes an awaitable of ``hush._native`` (called on its event loop)."""
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, BaseException):
        future.set_exception(value)
