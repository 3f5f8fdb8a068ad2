"""VenaPath's one exception tree: every error raised on purpose is one of these.

Each entry point maps the tree once, by base class: the HTTP service to problem+json (REST)
or an OperationOutcome (FHIR, CDS Hooks), the command line to exit codes. A new module
raises one of these (or a subclass of one) instead of inventing its own base.

    VenaPathError                 anything VenaPath refuses on purpose
    ├── InputError                bad input; `problems` name each field (JSON pointer)  422 / exit 2
    │   ├── TooLargeError         over a size, depth or count limit (names the limit)    413 / exit 2
    │   └── ArgumentError         a bad option, file or setting named in the message     422 / exit 2
    ├── NotFoundError             no such record                                         404 / exit 2
    ├── GoneError                 the record was retracted                               410 / exit 2
    ├── ConflictError             changed since read, or a unique value taken            409 / exit 2
    ├── RefusedError              the caller may not do this                             403 / exit 2
    │   └── UnauthenticatedError  no, or no valid, credentials                           401 / exit 2
    ├── RateLimitedError          too many requests; `retry_after` seconds               429
    └── UnavailableError          a dependency is away; `retry_after` seconds            503 / exit 3

`docs/errors.md` mirrors this tree. Messages never repeat the offending value at length and
never carry a password, token or patient identifier: they are shown to users and logged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "SHOWN_CHARACTERS",
    "ArgumentError",
    "ConflictError",
    "GoneError",
    "InputError",
    "NotFoundError",
    "Problem",
    "RateLimitedError",
    "RefusedError",
    "TooLargeError",
    "UnauthenticatedError",
    "UnavailableError",
    "VenaPathError",
    "shown",
]

SHOWN_CHARACTERS = 60


def shown(value: object) -> str:
    """A value as a message may quote it: its repr, cut to its first 60 characters. Error
    messages are sent back and may be logged; hostile input must not be amplified by them."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "...(cut)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a JSON pointer, or a FHIRPath-like location) and what."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}" if self.pointer else self.message


class VenaPathError(Exception):
    """Base of every error VenaPath raises on purpose."""

    title = "Request refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by state, not by constructor arguments (subclasses take different ones), so
        an error raised in a worker process reaches the server's error mapping intact."""
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(
    cls: type[VenaPathError], args: tuple[object, ...], state: dict[str, object]
) -> VenaPathError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InputError(VenaPathError):
    """The input cannot be used; `problems` lists every reason found, each naming its field."""

    title = "Invalid input"

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        if not problems:
            raise ValueError("an InputError needs at least one problem")
        self.problems = problems
        summary = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(message or f"{summary}{more}")

    @classmethod
    def at(cls, pointer: str, message: str) -> InputError:
        """The common case: one problem at one field."""
        return cls([Problem(pointer, message)])


class TooLargeError(InputError):
    """The input is over a limit (size, nesting depth, list length, entries); names the limit."""

    title = "Input too large"

    def __init__(self, pointer: str, limit_name: str, limit: int, message: str) -> None:
        self.limit_name = limit_name
        self.limit = limit
        super().__init__([Problem(pointer, message)])


class ArgumentError(InputError):
    """A bad command-line option, folder, file or setting: the message itself names it.

    For inputs that are not a JSON document (so there is no pointer), such as `--patients`,
    an export folder or `VENAPATH_PORT`.
    """

    def __init__(self, message: str) -> None:
        super().__init__([Problem("", message)], message)


class NotFoundError(VenaPathError):
    """No record of this kind has this id (or the caller may not know it exists)."""

    title = "Not found"

    def __init__(self, entity: str, record_id: str, pointer: str = "") -> None:
        super().__init__(f"{entity} {shown(record_id)} does not exist")
        self.entity = entity
        self.record_id = record_id
        self.pointer = pointer


class GoneError(VenaPathError):
    """The record existed and was retracted: reads answer this, writes answer a conflict."""

    title = "Gone"

    def __init__(self, entity: str, record_id: str) -> None:
        super().__init__(f"{entity} {shown(record_id)} was retracted")
        self.entity = entity
        self.record_id = record_id


class ConflictError(VenaPathError):
    """Someone changed the record since the caller read it, a unique value is taken, or the
    record is in a state that refuses this change (for example a retracted patient)."""

    title = "Conflict"

    def __init__(self, message: str, pointer: str = "/version") -> None:
        super().__init__(message)
        self.pointer = pointer


class RefusedError(VenaPathError):
    """The caller is known but may not do this (role, scope, patient context, CSRF)."""

    title = "Forbidden"


class UnauthenticatedError(RefusedError):
    """No credentials, or credentials that could not be verified; `reason` says which."""

    title = "Unauthorized"


class RateLimitedError(VenaPathError):
    """Too many requests from this client; try again after `retry_after` seconds."""

    title = "Too many requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(VenaPathError):
    """A dependency (the database, an EHR's FHIR server) is away; try again later."""

    title = "Service unavailable"

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
