"""The ViewDefinition model and the structural checks that run before any SQL is built.

A malformed view must fail when it is loaded, with the offending element named
(`select[0].column[1].name: ...`), not half-way through a population screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "Column",
    "Constant",
    "Select",
    "ViewDefinition",
    "ViewDefinitionError",
    "WhereClause",
    "load_view",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ViewDefinitionError(ValueError):
    """The ViewDefinition is invalid; the message starts with the path of the bad element."""


class _Strict(BaseModel):
    # Unknown elements inside `select` and `column` are refused: a typo such as `forEeach`
    # would otherwise silently change which rows a view returns.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class Column(_Strict):
    name: str
    path: str
    type: str | None = None
    collection: bool | None = None
    description: str | None = None
    tag: list[dict[str, Any]] | None = None
    id: str | None = None
    extension: list[dict[str, Any]] | None = None

    @field_validator("name")
    @classmethod
    def _name_is_a_sql_identifier(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                f"column name {name!r} must start with a letter and contain only "
                "letters, digits and underscores"
            )
        return name


class Select(_Strict):
    column: list[Column] | None = None
    select: list[Select] | None = None
    for_each: str | None = Field(default=None, alias="forEach")
    for_each_or_null: str | None = Field(default=None, alias="forEachOrNull")
    repeat: list[str] | None = None
    union_all: list[Select] | None = Field(default=None, alias="unionAll")
    description: str | None = None
    id: str | None = None
    extension: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_iteration_at_most(self) -> Select:
        given = [
            name
            for name, value in (
                ("forEach", self.for_each),
                ("forEachOrNull", self.for_each_or_null),
                ("repeat", self.repeat),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"only one of forEach, forEachOrNull and repeat may be set: {given}")
        if self.repeat is not None and not self.repeat:
            raise ValueError("repeat needs at least one path")
        return self


class WhereClause(_Strict):
    path: str
    description: str | None = None
    id: str | None = None
    extension: list[dict[str, Any]] | None = None


# FHIR primitive types a constant may carry, and how FHIRPath sees each of them.
CONSTANT_TYPES: dict[
    str, Literal["string", "boolean", "integer", "decimal", "date", "dateTime", "time"]
] = {
    "valueBase64Binary": "string",
    "valueCanonical": "string",
    "valueCode": "string",
    "valueId": "string",
    "valueMarkdown": "string",
    "valueOid": "string",
    "valueString": "string",
    "valueUri": "string",
    "valueUrl": "string",
    "valueUuid": "string",
    "valueBoolean": "boolean",
    "valueInteger": "integer",
    "valueInteger64": "integer",
    "valuePositiveInt": "integer",
    "valueUnsignedInt": "integer",
    "valueDecimal": "decimal",
    "valueDate": "date",
    "valueDateTime": "dateTime",
    "valueInstant": "dateTime",
    "valueTime": "time",
}


class Constant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(strict=True)

    @property
    def value_element(self) -> tuple[str, Any]:
        extras = self.model_extra or {}
        values = [(key, value) for key, value in extras.items() if key.startswith("value")]
        return values[0]

    @model_validator(mode="after")
    def _exactly_one_known_value(self) -> Constant:
        if not _NAME.match(self.name):
            raise ValueError(f"constant name {self.name!r} is not a valid identifier")
        extras = self.model_extra or {}
        unknown = [k for k in extras if k not in CONSTANT_TYPES and k not in ("id", "extension")]
        if unknown:
            raise ValueError(f"unsupported constant element(s) {unknown}")
        values = [k for k in extras if k in CONSTANT_TYPES]
        if len(values) != 1:
            raise ValueError(
                f"constant {self.name!r} needs exactly one value[x] element, found {len(values)}"
            )
        key = values[0]
        value = extras[key]
        expected = CONSTANT_TYPES[key]
        ok = {
            "string": isinstance(value, str),
            "date": isinstance(value, str),
            "dateTime": isinstance(value, str),
            "time": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "decimal": isinstance(value, int | float | Decimal) and not isinstance(value, bool),
        }[expected]
        if not ok:
            raise ValueError(f"constant {self.name!r}: {key} has the wrong JSON type")
        return self


class ViewDefinition(BaseModel):
    """A SQL on FHIR v2 ViewDefinition; metadata elements (url, name, status...) pass through."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    resource: str = Field(strict=True)
    select: list[Select] = Field(min_length=1)
    where: list[WhereClause] | None = None
    constant: list[Constant] | None = None
    name: str | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _constant_names_unique(self) -> ViewDefinition:
        names = [c.name for c in self.constant or ()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate constant name(s) {duplicates}")
        if not re.match(r"^[A-Z][A-Za-z]*$", self.resource):
            raise ValueError(f"resource {self.resource!r} is not a FHIR resource type name")
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-after[", "function-before[", "function-wrap[")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "ViewDefinition"


def load_view(data: ViewDefinition | Mapping[str, Any]) -> ViewDefinition:
    """Validate a ViewDefinition given as parsed JSON; raise `ViewDefinitionError` if invalid."""
    if isinstance(data, ViewDefinition):
        return data
    if not isinstance(data, Mapping):
        raise ViewDefinitionError(
            f"ViewDefinition: expected a JSON object, got {type(data).__name__}"
        )
    if data.get("resourceType", "ViewDefinition") != "ViewDefinition":
        raise ViewDefinitionError(
            f"resourceType: expected 'ViewDefinition', got {data.get('resourceType')!r}"
        )
    try:
        return ViewDefinition.model_validate(dict(data))
    except ValidationError as exc:
        problems = [
            f"{_location(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise ViewDefinitionError("; ".join(problems)) from None
