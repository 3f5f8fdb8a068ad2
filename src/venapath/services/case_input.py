"""Read a case file (YAML or JSON) and turn every problem into field + message.

Callers (CLI, REST, web) never see a traceback or a raw pydantic error: they get
`CaseInputError.problems`, each naming a JSON pointer into the case and what is wrong,
with the nearest known words when a vocabulary word or field name is misspelt.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from venapath.domain.case import Case, ContradictionError, UnknownWordError
from venapath.domain.reading import CASE_LIMITS, read_json, read_yaml
from venapath.domain.text import UnstorableTextError
from venapath.errors import InputError, Problem, TooLargeError, shown

MAX_CASE_BYTES = 1_000_000


@dataclass(frozen=True)
class InputProblem(Problem):
    """A problem in a case, at a JSON pointer ("/" for the case as a whole)."""

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class CaseInputError(InputError):
    """The case cannot be read; `source` names the file, `problems` say where and why."""

    title = "Invalid case"

    def __init__(self, source: str, problems: list[InputProblem]) -> None:
        self.source = source
        super().__init__(list(problems), f"{source}: " + "; ".join(str(p) for p in problems))


class CaseTooLargeError(CaseInputError, TooLargeError):
    """A case over a size, depth or count limit: a case error that HTTP answers with 413."""

    title = "Case too large"

    def __init__(
        self, source: str, limit_name: str, limit: int, pointer: str, message: str
    ) -> None:
        self.source = source
        self.limit_name = limit_name
        self.limit = limit
        InputError.__init__(self, [InputProblem(pointer, message)], f"{source}: {message}")


def load_case_file(path: Path) -> Case:
    """Read and validate one case file."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CaseInputError(
            str(path), [InputProblem("", f"cannot read file: {error.strerror}")]
        ) from None
    return parse_case_text(raw, str(path), json_only=path.suffix.lower() == ".json")


def parse_case_text(raw: bytes | str, source: str = "<case>", *, json_only: bool = False) -> Case:
    """Parse YAML (a superset of JSON) or strict JSON, then validate against case format v1."""
    if len(raw) > MAX_CASE_BYTES:
        raise CaseTooLargeError(
            source, "max_bytes", MAX_CASE_BYTES, "", f"case is larger than {MAX_CASE_BYTES} bytes"
        )
    try:
        data = _decode(raw, source, json_only=json_only)
    except TooLargeError as error:
        first = error.problems[0]
        raise CaseTooLargeError(
            source, error.limit_name, error.limit, first.pointer, first.message
        ) from None
    except InputError as error:
        problems = [InputProblem(p.pointer, p.message) for p in error.problems]
        raise CaseInputError(source, problems) from None
    return validate_case_data(data, source)


def validate_case_data(data: object, source: str = "<case>") -> Case:
    if not isinstance(data, dict):
        raise CaseInputError(
            source, [InputProblem("", "a case must be a mapping (object) at the top level")]
        )
    try:
        return Case.model_validate(data)
    except ValidationError as error:
        raise CaseInputError(source, _problems(error, data)) from None


def _decode(raw: bytes | str, source: str, *, json_only: bool) -> Any:
    try:
        text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise CaseInputError(
            source, [InputProblem("", f"not UTF-8 text (byte {error.start} is invalid)")]
        ) from None
    if json_only:
        try:
            return read_json(text, CASE_LIMITS)
        except json.JSONDecodeError as error:
            raise CaseInputError(
                source,
                [
                    InputProblem(
                        "",
                        f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}",
                    )
                ],
            ) from None
    return read_yaml(text, CASE_LIMITS)


def _problems(error: ValidationError, data: dict[str, Any]) -> list[InputProblem]:
    problems: list[InputProblem] = []
    for detail in error.errors(include_url=False):
        problem = _one_problem(detail, data)
        if problem not in problems:
            problems.append(problem)
    return problems


def _one_problem(detail: Any, data: dict[str, Any]) -> InputProblem:
    location = [
        part
        for part in detail["loc"]
        if not (isinstance(part, str) and part.startswith("function-"))
    ]
    pointer = "/" + "/".join(str(part) for part in location) if location else ""
    cause = (detail.get("ctx") or {}).get("error")
    if isinstance(cause, ContradictionError | UnknownWordError | UnstorableTextError):
        return InputProblem(cause.pointer, cause.message)
    kind = detail["type"]
    if kind == "enum":
        given = detail.get("input")
        expected = _enum_values(location)
        near = difflib.get_close_matches(str(given), expected, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
        return InputProblem(
            pointer,
            f"unknown word {shown(given)}{hint} (expected one of: {', '.join(expected)})",
        )
    if kind == "extra_forbidden":
        field = str(location[-1]) if location else "?"
        known = _field_names(location[:-1])
        near = difflib.get_close_matches(field, known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
        return InputProblem(pointer, f"unknown field {shown(field)}{hint}")
    if kind == "missing":
        return InputProblem(pointer, "required field is missing")
    message = str(detail["msg"]).removeprefix("Value error, ")
    return InputProblem(pointer, f"{message[:300]} (got {shown(detail.get('input'))})")


def _model_at(location: list[Any]) -> Any:
    """The annotation reached by following `location` through the case model."""
    current: Any = Case
    for part in location:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else current
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated; keep tuple[...] so list indexes can step into it."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = options[0]
        else:
            return annotation


def _enum_values(location: list[Any]) -> list[str]:
    annotation = _model_at(location)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []


def _field_names(location: list[Any]) -> list[str]:
    annotation = _model_at(location)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []
