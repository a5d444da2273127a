"""The exceptions of hush: one class per error kind of the core, all under :class:`HushError`.

Messages name secrets by their URI or name, never by their value.
"""

from __future__ import annotations


class HushError(Exception):
    """Any failure reported by hush."""

    kind = "hush"


class InvalidUriError(HushError):
    """A secret URI does not follow the grammar or names an unknown provider."""

    kind = "invalid_uri"


class NotFoundError(HushError):
    """The provider answered that the secret does not exist."""

    kind = "not_found"


class PermissionDeniedError(HushError):
    """The provider refused access to the secret."""

    kind = "permission_denied"


class UnreachableError(HushError):
    """The secret provider could not be reached."""

    kind = "unreachable"


class SecretTimeoutError(HushError):
    """The secret provider did not answer in time."""

    kind = "timeout"


class TooLargeError(HushError):
    """The secret is larger than the configured limit."""

    kind = "too_large"


class ProviderError(HushError):
    """Any other failure of a secret provider."""

    kind = "provider"


class QueryError(HushError):
    """A call does not fit the API (unknown field, bad argument)."""

    kind = "query"


class EngineError(HushError):
    """The engine could not evaluate a container (image, runtime, filesystem)."""

    kind = "engine"


class ExecError(EngineError):
    """A command run in a container failed; ``exit_code`` is its exit code."""

    kind = "exec"

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SessionError(HushError):
    """The connection to the hush session failed."""

    kind = "session"


KINDS: dict[str, type[HushError]] = {
    cls.kind: cls
    for cls in (
        InvalidUriError,
        NotFoundError,
        PermissionDeniedError,
        UnreachableError,
        SecretTimeoutError,
        TooLargeError,
        ProviderError,
        QueryError,
        EngineError,
        ExecError,
        SessionError,
    )
}


def from_kind(kind: str, message: str, exit_code: int | None = None) -> HushError:
    """The exception for an error kind of the session protocol."""
    if kind == ExecError.kind:
        return ExecError(message, exit_code)
    return KINDS.get(kind, HushError)(message)
