"""Reading untrusted YAML and JSON text without letting it be turned against the service.

Every body and case file is read here, by the CLI, the REST API, FHIR input and CDS Hooks
alike. The readers refuse, naming the limit and where it was passed:

- YAML anchors and aliases (`&a` / `*a`): an alias bomb of a few hundred bytes expands to
  gigabytes; a case never needs them. Explicit tags (`!!binary`, `!!python/object`, `!x`)
  are refused too: a case is plain data. Both are checked on the event stream, before any
  object is built, so a refused document costs no more than reading its text.
- Nesting deeper than `max_depth`, a string longer than `max_string`, a list or mapping
  with more than `max_items` entries. YAML is checked on the event stream; JSON by the C
  parser (which stops at the interpreter's recursion limit) and then one iterative walk, so
  no reader can raise RecursionError.

Messages name the limit and the line (YAML) or pointer (JSON), never the offending text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from venapath.errors import InputError, TooLargeError

__all__ = ["CASE_LIMITS", "FHIR_LIMITS", "Limits", "check_limits", "read_json", "read_yaml"]

# The C parser is several times faster; fall back when PyYAML was built without it.
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Limits:
    """How large an input may be; each limit is named in the error that refuses it."""

    max_depth: int
    """Nested lists and mappings, the document itself at depth 1."""
    max_string: int
    """Characters in one string (a key or a value)."""
    max_items: int
    """Entries in one list or mapping (a FHIR Bundle's `entry` list included)."""


CASE_LIMITS = Limits(max_depth=32, max_string=100_000, max_items=10_000)
"""A case is at most about 6 deep; notes are the longest strings."""

FHIR_LIMITS = Limits(max_depth=64, max_string=1_048_576, max_items=5_000)
"""FHIR resources nest deeper (extensions); FHIR caps a string at 1 MB. 5,000 entries is
more than one patient's chart sent to one hook; a larger export goes to `venapath screen`."""


def read_yaml(text: str, limits: Limits) -> Any:
    """Parse YAML text after checking its events against `limits`; no aliases, no tags."""
    try:
        _check_yaml_events(text, limits)
        return yaml.load(text, Loader=_Parser)  # a safe loader, its events checked above
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(error, "problem", None) or "unreadable")[:200]
        if "nesting depth" in problem:  # libyaml's own cap (1,000) met before ours was read
            raise _too_deep(where.strip(), limits) from None
        raise InputError.at("", f"malformed YAML{where}: {problem}") from None


def read_json(text: str | bytes, limits: Limits, where: str = "") -> Any:
    """Parse JSON text, then check the parsed value against `limits`.

    Malformed JSON raises `json.JSONDecodeError` (callers word it for their format); input
    too deep for the parser itself, or over a limit, raises `TooLargeError`.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise _too_deep(where, limits) from None
    check_limits(data, limits, where)
    return data


def check_limits(data: Any, limits: Limits, where: str = "") -> None:
    """Walk parsed data iteratively (no recursion) and refuse the first limit it passes.

    The walk keeps no pointers (it runs on every body); only a refusal walks again to name
    the place."""
    if isinstance(data, str) and len(data) > limits.max_string:
        raise _too_long(where, limits)
    if not isinstance(data, dict | list):
        return
    if _within_limits(data, limits):
        return
    found = _first_violation(data, limits, with_pointer=True)
    assert found is not None
    kind, pointer = found
    raise {"depth": _too_deep, "string": _too_long, "items": _too_many}[kind](
        where + pointer, limits
    )


def _within_limits(data: dict[Any, Any] | list[Any], limits: Limits) -> bool:
    """Whether no limit is passed: the walk every body takes, so it is written for speed.

    Level by level (every container of one depth, then the next), with no pointers, tuples or
    per-node bookkeeping; `_first_violation` walks again only to name a refused place, and
    tests check that both agree.
    """
    max_string, max_items = limits.max_string, limits.max_items
    level: list[dict[Any, Any] | list[Any]] = [data]
    depth = 1
    while level:
        if depth > limits.max_depth:
            return False
        deeper: list[dict[Any, Any] | list[Any]] = []
        for container in level:
            if len(container) > max_items:
                return False
            if isinstance(container, dict):
                for key in container:
                    if isinstance(key, str) and len(key) > max_string:
                        return False
                values: Any = container.values()
            else:
                values = container
            for item in values:
                if isinstance(item, str):
                    if len(item) > max_string:
                        return False
                elif isinstance(item, dict | list):
                    deeper.append(item)
        level = deeper
        depth += 1
    return True


def _first_violation(data: Any, limits: Limits, *, with_pointer: bool) -> tuple[str, str] | None:
    pending: list[tuple[Any, int, str]] = [(data, 1, "")]
    max_string, max_items, max_depth = limits.max_string, limits.max_items, limits.max_depth
    while pending:
        value, depth, pointer = pending.pop()
        if depth > max_depth:
            return "depth", pointer
        if len(value) > max_items:
            return "items", pointer
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in children:
            if isinstance(key, str) and len(key) > max_string:
                return "string", pointer
            if isinstance(item, str):
                if len(item) > max_string:
                    return "string", f"{pointer}/{_escape(str(key))}" if with_pointer else ""
            elif isinstance(item, dict | list):
                child = f"{pointer}/{_escape(str(key))}" if with_pointer else ""
                pending.append((item, depth + 1, child))
    return None


def _check_yaml_events(text: str, limits: Limits) -> None:
    """Refuse aliases, anchors, tags and the limits on the event stream, before composing."""
    open_collections: list[list[int]] = []  # [events seen, events per entry] per collection
    for event in yaml.parse(text, Loader=_Parser):
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise InputError.at(
                "", f"line {line}: YAML anchors and aliases (& and *) are not accepted"
            )
        if isinstance(event, yaml.NodeEvent) and _explicit_tag(event):
            raise InputError.at("", f"line {line}: YAML tags (!! or !) are not accepted")
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent) and open_collections:
            seen = open_collections[-1]
            seen[0] += 1
            if seen[0] > seen[1] * limits.max_items:
                raise _too_many(f"line {line}", limits)
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > limits.max_string:
            raise _too_long(f"line {line}", limits)
        if isinstance(event, yaml.CollectionStartEvent):
            # A mapping entry is two nodes (key and value), a list item one.
            open_collections.append([0, 2 if isinstance(event, yaml.MappingStartEvent) else 1])
            if len(open_collections) > limits.max_depth:
                raise _too_deep(f"line {line}", limits)
        elif isinstance(event, yaml.CollectionEndEvent):
            open_collections.pop()


def _explicit_tag(event: yaml.NodeEvent) -> bool:
    """A tag written in the text (`!!binary`, `!x`); plain data carries none."""
    tag = getattr(event, "tag", None)
    return tag is not None and tag != "!"


def _short(pointer: str) -> str:
    """A pointer into hostile input can itself be huge (long keys); keep its start."""
    return pointer if len(pointer) <= 120 else pointer[:120] + "..."


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _too_deep(where: str, limits: Limits) -> TooLargeError:
    return TooLargeError(
        _short(where),
        "max_depth",
        limits.max_depth,
        f"nested more than {limits.max_depth} levels deep",
    )


def _too_long(where: str, limits: Limits) -> TooLargeError:
    return TooLargeError(
        _short(where),
        "max_string",
        limits.max_string,
        f"a string longer than {limits.max_string:,} characters",
    )


def _too_many(where: str, limits: Limits) -> TooLargeError:
    return TooLargeError(
        _short(where),
        "max_items",
        limits.max_items,
        f"more than {limits.max_items:,} entries in one list or mapping",
    )
