"""hush: secrets for container pipelines.

``dag`` is the root of the API::

    from hush import dag

    out = await (
        dag.container()
        .from_("busybox")
        .with_secret_variable("TOKEN", dag.secret("env://TOKEN"))
        .with_exec(["sh", "-c", "echo $TOKEN"])
        .stdout()
    )

Modules declare ``@object_type`` classes with ``@function`` methods (see :mod:`hush._module`).
"""

from ._errors import (
    EngineError,
    ExecError,
    HushError,
    InvalidUriError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QueryError,
    SecretTimeoutError,
    SessionError,
    TooLargeError,
    UnreachableError,
)
from ._generated import CacheVolume, Container, Directory, File, Host, Query, Secret
from ._module import Doc, function, object_type

dag: Query = Query(None, "", {})
"""The root of the API."""

__all__ = [
    "CacheVolume",
    "Container",
    "Directory",
    "Doc",
    "EngineError",
    "ExecError",
    "File",
    "Host",
    "HushError",
    "InvalidUriError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "Query",
    "QueryError",
    "Secret",
    "SecretTimeoutError",
    "SessionError",
    "TooLargeError",
    "UnreachableError",
    "dag",
    "function",
    "object_type",
]
