"""Text a database cannot store is refused at the edge, naming the field.

PostgreSQL refuses the NUL character in text and JSONB, and a lone UTF-16 surrogate (which
JSON's `\\ud800` escapes can produce) cannot be encoded as UTF-8 at all. Accepted, either
one fails deep inside a transaction as a server error, and the database's message quotes
the values it refused. Registry records (`domain/records.py`) and the case format
(`domain/case.py`) both refuse them with this one check.
"""

from __future__ import annotations

import re

__all__ = ["UnstorableTextError", "first_unstorable", "unstorable_reason"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnstorableTextError(ValueError):
    """A string with a character no database can store; `pointer` names the field."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer
        self.message = message


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return "contains a lone UTF-16 surrogate, which is not valid Unicode text"


def first_unstorable(value: object, pointer: str = "") -> tuple[str, str] | None:
    """The JSON pointer and reason of the first unstorable string (keys included) in parsed
    data, walked without recursion; None when every string can be stored."""
    pending: list[tuple[object, str]] = [(value, pointer)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason is not None:
                return where, reason
        elif isinstance(item, dict):
            for key, child in item.items():
                key_text = str(key)
                reason = unstorable_reason(key_text)
                if reason is not None:
                    return where, f"a field name {reason}"
                escaped = key_text.replace("~", "~0").replace("/", "~1")
                pending.append((child, f"{where}/{escaped}"))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}/{i}") for i, child in enumerate(item))
    return None
