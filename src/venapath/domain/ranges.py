"""The range a number fact may take, read from the case field that settles it.

A score computed over REST or the command line takes its items as bare numbers, not as a
case. Those numbers must meet the same bounds a case would (a Villalta item is a whole
number 0-3, an age 0-120), or the score adds up garbage. The bounds are written once, on the
`Case` model's fields (`domain/case.py`); this module reads them from there, so the two can
never disagree.

A fact derived from dates (days since onset) or from a list (thrombosed segment count) has
no single field behind it, and so no range here (`number_range` returns None).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from venapath.domain.case import Case
from venapath.domain.facts import FactType, catalogue

_UNIT_VALUE_FIELD = "value"
"""A measurement with a unit (`domain/units.py`: creatinine, haemoglobin) keeps its number here."""


@dataclass(frozen=True)
class NumberRange:
    """Inclusive bounds (None: unbounded on that side) and whether only whole numbers fit."""

    minimum: float | None
    maximum: float | None
    whole: bool

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range, or None when it fits."""
        if self.whole and not float(value).is_integer():
            return "expected a whole number"
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            return f"out of range: expected {self.describe()}"
        return None

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        low = _text(self.minimum)
        high = _text(self.maximum)
        if low is not None and high is not None:
            return f"{kind} from {low} to {high}"
        if low is not None:
            return f"{kind} of at least {low}"
        if high is not None:
            return f"{kind} of at most {high}"
        return kind


@cache
def number_range(fact: str) -> NumberRange | None:
    """The bounds of number fact `fact`, from the one case field that settles it, if any."""
    definition = catalogue()[fact]
    if definition.type is not FactType.NUMBER or len(definition.settled_by) != 1:
        return None
    field = _field_at(definition.settled_by[0])
    return None if field is None else _range_of(field)


def _field_at(pointer: str) -> FieldInfo | None:
    """The pydantic field a JSON pointer into a case names; a unit model's `value` field."""
    model: type[BaseModel] = Case
    field: FieldInfo | None = None
    for part in pointer.strip("/").split("/"):
        if field is not None:
            nested = _model_in(field.annotation)
            if nested is None:
                return None  # a list or a plain value: the pointer goes past a single field
            model = nested
        field = model.model_fields.get(part)
        if field is None:
            return None
    if field is not None:
        unit_model = _model_in(field.annotation)
        if unit_model is not None:
            field = unit_model.model_fields.get(_UNIT_VALUE_FIELD)
    return field


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `X | None`, else None."""
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _members(annotation: Any) -> list[Any]:
    """The types of a union (or the one type), with None and `Annotated` wrappers removed."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [_bare(arg) for arg in get_args(annotation) if arg is not type(None)]
    return [_bare(annotation)]


def _bare(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _range_of(field: FieldInfo) -> NumberRange | None:
    """Bounds from the field's own constraints and from an `Annotated` type it uses (`Days`)."""
    members = _members(field.annotation)
    if not members or not all(member in (int, float) for member in members):
        return None
    metadata = list(field.metadata) + _annotated_metadata(field.annotation)
    minimum = maximum = None
    for item in metadata:
        minimum = _tighter(minimum, getattr(item, "ge", None), max)
        maximum = _tighter(maximum, getattr(item, "le", None), min)
        for nested in getattr(item, "metadata", ()):  # a `Field(ge=...)` inside `Annotated`
            if isinstance(nested, annotated_types.Ge):
                minimum = _tighter(minimum, nested.ge, max)
            if isinstance(nested, annotated_types.Le):
                maximum = _tighter(maximum, nested.le, min)
    return NumberRange(minimum, maximum, whole=all(member is int for member in members))


def _annotated_metadata(annotation: Any) -> list[Any]:
    arguments = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    found: list[Any] = []
    for argument in arguments or (annotation,):
        if get_origin(argument) is Annotated:
            found.extend(argument.__metadata__)
    return found


def _tighter(current: float | None, candidate: Any, pick: Any) -> float | None:
    if not isinstance(candidate, int | float):
        return current
    return float(candidate) if current is None else float(pick(current, candidate))


def _text(bound: float | None) -> str | None:
    if bound is None:
        return None
    return str(int(bound)) if bound.is_integer() else f"{bound:g}"
