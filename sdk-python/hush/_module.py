"""The module runtime: ``@object_type`` classes with ``@function`` methods, ``Doc`` for
argument help, and the entry point ``hush call`` starts (``python -m hush``).

Inside ``hush call`` the module process talks to the CLI's session over a private channel
inherited from the CLI: it sends the description of its functions, receives the call to make
(secret arguments arrive as handles of the CLI's session, never as values), and reports the
result. Everything it prints is scrubbed by the CLI.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from typing import Any, Callable, TypeVar, Union

from . import _core, _driver, _generated

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])

_FUNCTION_MARK = "__hush_function__"
_OBJECT_MARK = "__hush_object_type__"
_objects: list[type] = []


class Doc:
    """Help text for a function argument: ``Annotated[str, Doc("...")]``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Doc({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Doc) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def object_type(cls: C) -> C:
    """Declares a module's object type; its ``@function`` methods become callable."""
    setattr(cls, _OBJECT_MARK, True)
    _objects.append(cls)
    return cls


def function(fn: F) -> F:
    """Declares a method of an ``@object_type`` class as a function of the module."""
    setattr(fn, _FUNCTION_MARK, True)
    return fn


_SCALARS: dict[Any, str] = {str: "String", int: "Int", bool: "Boolean"}
_OBJECTS: dict[str, type[_core.Object]] = {
    cls._type_name: cls
    for cls in vars(_generated).values()
    if isinstance(cls, type) and issubclass(cls, _core.Object) and cls is not _core.Object
}


def _api_type(hint: Any, where: str) -> tuple[str, bool]:
    """The API type of a Python annotation, and whether ``None`` is allowed."""
    origin = typing.get_origin(hint)
    if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        if len(members) == 1 and len(typing.get_args(hint)) == 2:
            return _api_type(members[0], where)[0], True
        raise TypeError(f"{where}: unions other than Optional are not supported")
    if origin is list:
        (item,) = typing.get_args(hint)
        return f"[{_api_type(item, where)[0]}]", False
    if hint in _SCALARS:
        return _SCALARS[hint], False
    if isinstance(hint, type) and issubclass(hint, _core.Object):
        return hint._type_name, False
    if hint is None or hint is type(None):
        return "Null", True
    raise TypeError(f"{where}: type {hint!r} is not supported")


def describe(cls: type) -> dict[str, Any]:
    """The JSON description of an ``@object_type`` class: its functions and their arguments."""
    functions = []
    for name, fn in sorted(vars(cls).items()):
        if not (isinstance(fn, types.FunctionType) and getattr(fn, _FUNCTION_MARK, False)):
            continue
        hints = typing.get_type_hints(fn, include_extras=True)
        args = []
        for param, default in _parameters(fn):
            hint = hints.get(param, str)
            doc = ""
            if typing.get_origin(hint) is typing.Annotated:
                hint, *extras = typing.get_args(hint)
                doc = next((e.text for e in extras if isinstance(e, Doc)), "")
            ty, nullable = _api_type(hint, f"{cls.__name__}.{name}({param})")
            has_default = default is not _NO_DEFAULT
            default = default if has_default and _is_json(default) else None
            args.append(
                {
                    "name": param,
                    "type": ty,
                    "doc": doc,
                    "optional": has_default or nullable,
                    "default": default,
                }
            )
        returns = hints.get("return", type(None))
        functions.append(
            {
                "name": name,
                "doc": _doc(fn),
                "args": args,
                "returns": _api_type(returns, f"{cls.__name__}.{name} result")[0],
            }
        )
    return {"name": cls.__name__, "doc": _doc(cls), "functions": functions}


_NO_DEFAULT = object()


def _parameters(fn: types.FunctionType) -> list[tuple[str, object]]:
    """The parameters after ``self`` with their defaults (``_NO_DEFAULT`` when none)."""
    code = fn.__code__
    if code.co_flags & 0x0C:  # *args or **kwargs
        raise TypeError(f"{fn.__qualname__}: *args and **kwargs are not supported")
    positional = list(code.co_varnames[: code.co_argcount])
    keyword = list(code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount])
    defaults = fn.__defaults__ or ()
    first_default = len(positional) - len(defaults)
    params = [
        (name, defaults[i - first_default] if i >= first_default else _NO_DEFAULT) for i, name in enumerate(positional)
    ]
    kwdefaults = fn.__kwdefaults__ or {}
    params += [(name, kwdefaults.get(name, _NO_DEFAULT)) for name in keyword]
    return params[1:]


def _doc(obj: object) -> str:
    """A docstring without its indentation (as ``inspect.cleandoc``)."""
    lines = (getattr(obj, "__doc__", None) or "").expandtabs().splitlines()
    if not lines:
        return ""
    rest = [line for line in lines[1:] if line.strip()]
    margin = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    text = [lines[0].strip()] + [line[margin:].rstrip() for line in lines[1:]]
    return "\n".join(text).strip()


def _is_json(value: object) -> bool:
    if value is None or isinstance(value, (str, int, bool)):
        return True
    return isinstance(value, (list, tuple)) and all(_is_json(v) for v in value)


def _decode_arg(value: Any, ty: str) -> Any:
    """An argument from the CLI: scalars as they are, objects as handles or chains."""
    if value is None:
        return None
    if ty.startswith("["):
        return [_decode_arg(v, ty[1:-1]) for v in value]
    cls = _OBJECTS.get(ty)
    if cls is None:
        return value
    if "id" in value:
        return cls._from_id(value["id"])
    node: _core.Object = _generated.Query(None, "", {})
    for i, step in enumerate(value["chain"]):
        last = i == len(value["chain"]) - 1
        node = (cls if last else _core.Object)(node, step["field"], dict(step.get("args", {})))
    return node


async def _encode_result(value: object) -> Any:
    """The function's result as a query-protocol output; objects are evaluated to handles, and
    those with a ``sync`` (containers) are run, so that a failing exec fails the call."""
    if isinstance(value, _core.Object):
        sync = getattr(value, "sync", None)
        obj: _core.Object = value if sync is None else await sync()
        root, nodes = obj._path()
        if not nodes and root is not None:
            return {"type": obj._type_name, "id": root}
        root, chain = obj._query()
        return await _core.evaluate(chain, root)
    if isinstance(value, (list, tuple)):
        return [await _encode_result(v) for v in value]
    return _encode_plain(value)


def _main_object(wanted: str) -> type:
    if len(_objects) == 1:
        return _objects[0]
    for cls in _objects:
        if cls.__name__ == wanted:
            return cls
    names = ", ".join(c.__name__ for c in _objects) or "none"
    raise SystemExit(f"hush: the module declares no @object_type {wanted} (found: {names})")


def _call(cls: type, call: dict[str, Any], description: dict[str, Any]) -> Any:
    """Calls the function; a coroutine, or an object result to evaluate, is run by
    ``_driver.run``, which imports asyncio and starts an event loop only when the coroutine
    imports asyncio itself."""
    spec = next(f for f in description["functions"] if f["name"] == call["function"])
    types_by_name = {a["name"]: a["type"] for a in spec["args"]}
    kwargs = {name: _decode_arg(v, types_by_name[name]) for name, v in call["args"].items()}
    result = getattr(cls(), call["function"])(**kwargs)
    if hasattr(result, "__await__") or _has_object(result):
        return _driver.run(_settle(result))
    return _encode_plain(result)


async def _settle(result: Any) -> Any:
    if hasattr(result, "__await__"):
        result = await result
    return await _encode_result(result)


def _has_object(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_has_object(v) for v in value)
    return isinstance(value, _core.Object)


def _encode_plain(value: object) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_plain(v) for v in value]
    raise TypeError(f"a function cannot return {type(value).__name__}")


def main(argv: list[str]) -> int:
    """``python -m hush SOURCE OBJECT``: loads the module and serves one call."""
    if len(argv) != 3:
        print("usage: python -m hush SOURCE OBJECT", file=sys.stderr)
        return 2
    import importlib.util
    import os

    source, wanted = argv[1], argv[2]

    sys.path.insert(0, os.path.dirname(os.path.abspath(source)))
    spec = importlib.util.spec_from_file_location("__hush_module__", source)
    if spec is None or spec.loader is None:
        print(f"hush: cannot load the module source {source}", file=sys.stderr)
        return 1
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cls = _main_object(wanted)
    description = describe(cls)
    connection = _core.connection()
    call_json = connection.module_describe(json.dumps(description))
    if call_json is None:
        return 0
    output = _call(cls, json.loads(call_json), description)
    connection.module_return(json.dumps(output))
    return 0
