"""Helpers shared by the record forms: validation errors as field problems, one-time keys."""

from __future__ import annotations

import secrets

from pydantic import ValidationError

from venapath.errors import Problem


def problems_of(error: ValidationError) -> list[Problem]:
    """Pydantic's errors as problems at JSON pointers (the names of the form's inputs)."""
    problems = []
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ())]
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        pointer = "/" + "/".join(location)
        if ":" in message and not location:  # a model check naming its own field
            field, _, rest = message.partition(":")
            pointer, message = f"/{field.strip()}", rest.strip()
        problems.append(Problem(pointer, message))
    return problems


def form_key() -> str:
    """A key for one form: posting it twice (a double click, a retry) records once."""
    return secrets.token_urlsafe(18)
