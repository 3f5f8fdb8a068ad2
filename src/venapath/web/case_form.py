"""The case form, generated from the case format's JSON Schema and the facts the rules read.

Nothing here is a hand-kept field list: a field appears when a fact that a pathway, rule or
time window reads is settled by it (or by an object that contains it), so a new rule that
reads a new fact brings its field onto the page by itself.

Every input is named by its JSON pointer (`/patient/age_years`, `/diagnoses/0/condition`), the
same pointer the engine's `needs_data` and the case validator's errors use: an error or a
missing fact lands next to its field without any mapping table.

Form values travel as `FormValues` (pointer -> list of submitted strings), the one shape both
a posted form and a stored case are turned into, so what the user typed is shown back as typed.
An empty input means unknown and is left out of the case; it never becomes "no".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from venapath.domain.anatomy import SEGMENTS
from venapath.domain.case import Case
from venapath.domain.facts import catalogue
from venapath.errors import Problem

FormValues = dict[str, list[str]]
ALWAYS_SHOWN = ("/as_of",)
MAX_ROWS = 20
"""Rows a repeated section may hold; more is refused (a form is typed by a person)."""


class FieldKind(StrEnum):
    BOOLEAN = "boolean"
    CHOICE = "choice"
    CHOICES = "choices"  # a list of words from a vocabulary: checkboxes
    INTEGER = "integer"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"


@dataclass(frozen=True)
class FormField:
    """One input. `pointer` uses `*` for a row index: `/diagnoses/*/condition`."""

    pointer: str
    label: str
    kind: FieldKind
    help: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: str | None = None
    required: bool = False
    shape: str = "field"

    def name(self, row: int | None = None) -> str:
        return self.pointer if row is None else self.pointer.replace("*", str(row), 1)

    def dom_id(self, row: int | None = None) -> str:
        return dom_id(self.name(row))


@dataclass(frozen=True)
class FormGroup:
    """A nested object of the case (a fieldset)."""

    pointer: str
    label: str
    items: tuple[FormItem, ...]
    help: str | None = None
    shape: str = "group"


@dataclass(frozen=True)
class FormRepeat:
    """A list of objects (diagnoses, thrombosed segments, symptoms): one row each."""

    pointer: str
    label: str
    item: FormGroup
    help: str | None = None
    shape: str = "repeat"


FormItem = FormField | FormGroup | FormRepeat


@dataclass(frozen=True)
class CaseForm:
    sections: tuple[FormItem, ...]
    fields: dict[str, FormField] = field(default_factory=dict)

    def field_for(self, name: str) -> FormField | None:
        """The field an input name belongs to (`/diagnoses/3/at` -> `/diagnoses/*/at`)."""
        return self.fields.get(_template(name))


def dom_id(pointer: str, prefix: str = "f") -> str:
    """The HTML id of the element for `pointer` (`/exam/leg` -> `f-exam-leg`)."""
    return prefix + re.sub(r"[^a-zA-Z0-9]+", "-", pointer)


# ----------------------------------------------------------------------------- building


def build_case_form(schema: Mapping[str, Any], settled_by: Iterable[str]) -> CaseForm:
    """The form for every case field that settles a fact the knowledge base reads."""
    wanted = {_template(p) for p in settled_by} | set(ALWAYS_SHOWN)
    builder = _Builder(schema, wanted)
    sections = builder.object_items("", schema)
    return CaseForm(tuple(sections), builder.fields)


class _Builder:
    def __init__(self, schema: Mapping[str, Any], wanted: set[str]) -> None:
        self.defs: Mapping[str, Any] = schema.get("$defs", {})
        self.wanted = wanted
        self.fields: dict[str, FormField] = {}
        self.descriptions = _fact_descriptions()

    def relevant(self, pointer: str) -> bool:
        """Shown when it, an ancestor or a descendant settles a fact the rules read."""
        return any(
            w == pointer or pointer.startswith(w + "/") or w.startswith(pointer + "/")
            for w in self.wanted
        )

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow `$ref` and drop the `null` branch of an optional field."""
        if "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            if len(branches) == 1:
                merged = {k: v for k, v in node.items() if k != "anyOf"}
                return {**self.resolve(branches[0]), **merged}
        if "$ref" in node:
            target = self.defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            return {**target, **merged}
        return node

    def object_items(self, pointer: str, node: Mapping[str, Any]) -> list[FormItem]:
        node = self.resolve(node)
        required = set(node.get("required", ()))
        items: list[FormItem] = []
        for name, child in node.get("properties", {}).items():
            child_pointer = f"{pointer}/{name}"
            if not self.relevant(child_pointer):
                continue
            item = self.item(child_pointer, name, child, name in required)
            if item is not None:
                items.append(item)
        return items

    def item(
        self, pointer: str, name: str, raw: Mapping[str, Any], required: bool
    ) -> FormItem | None:
        node = self.resolve(raw)
        label = self.label(pointer, name, _kind_of(node))
        help_text = node.get("description")
        if node.get("type") == "object" or "properties" in node:
            items = tuple(self.object_items(pointer, node))
            return FormGroup(pointer, humanise(name), items, help_text)
        if node.get("type") == "array":
            element = self.resolve(node.get("items", {}))
            if "enum" in element:
                return self.add(
                    FormField(pointer, label, FieldKind.CHOICES, help_text, tuple(element["enum"]))
                )
            if element.get("type") == "string" and "segment" in name:
                segments = tuple(s.id for s in SEGMENTS)
                return self.add(FormField(pointer, label, FieldKind.CHOICES, help_text, segments))
            row = f"{pointer}/*"
            group = FormGroup(row, label, tuple(self.object_items(row, element)))
            return FormRepeat(pointer, label, group, help_text)
        return self.add(self.scalar(pointer, name, node, label, help_text, required))

    def scalar(
        self,
        pointer: str,
        name: str,
        node: Mapping[str, Any],
        label: str,
        help_text: str | None,
        required: bool,
    ) -> FormField:
        default = node.get("default")
        common: dict[str, Any] = {
            "help": help_text,
            "required": required,
            "default": None if default is None else str(default),
        }
        if "enum" in node:
            return FormField(
                pointer, label, FieldKind.CHOICE, choices=tuple(node["enum"]), **common
            )
        if name == "segment":
            choices = tuple(s.id for s in SEGMENTS)
            return FormField(pointer, label, FieldKind.CHOICE, choices=choices, **common)
        kind = {
            "boolean": FieldKind.BOOLEAN,
            "integer": FieldKind.INTEGER,
            "number": FieldKind.NUMBER,
        }.get(node.get("type", ""), FieldKind.TEXT)
        if node.get("format") == "date-time":
            kind = FieldKind.DATETIME
        return FormField(
            pointer,
            label,
            kind,
            minimum=node.get("minimum", node.get("exclusiveMinimum")),
            maximum=node.get("maximum", node.get("exclusiveMaximum")),
            **common,
        )

    def add(self, form_field: FormField) -> FormField:
        self.fields[form_field.pointer] = form_field
        return form_field

    def label(self, pointer: str, name: str, kind: FieldKind | None = None) -> str:
        """A yes/no or choice field is labelled with the fact it alone settles; a number or a
        date is not (its fact is derived: "days since ..." describes the result, not the input)."""
        if kind in (FieldKind.BOOLEAN, FieldKind.CHOICE) and pointer in self.descriptions:
            return self.descriptions[pointer]
        return humanise(name)


def _kind_of(node: Mapping[str, Any]) -> FieldKind | None:
    if "enum" in node:
        return FieldKind.CHOICE
    return FieldKind.BOOLEAN if node.get("type") == "boolean" else None


_ACRONYMS = {
    "bp": "BP",
    "gcs": "GCS",
    "egfr": "eGFR",
    "cvt": "CVT",
    "dvt": "DVT",
    "vte": "VTE",
    "inr": "INR",
    "csf": "CSF",
    "cns": "CNS",
    "gi": "GI",
    "tia": "TIA",
    "ccsvi": "CCSVI",
}
_UNITS = {
    "mmhg": "mmHg",
    "cm": "cm",
    "kg": "kg",
    "days": "days",
    "hours": "hours",
    "years": "years",
    "percent": "%",
    "ml_min": "mL/min",
    "ml": "mL",
    "minutes": "min",
}


def humanise(name: str) -> str:
    """`systolic_bp_mmhg` -> "Systolic BP (mmHg)"; `egfr_ml_min` -> "eGFR (mL/min)"."""
    unit = ""
    for suffix, text in _UNITS.items():
        if name.endswith("_" + suffix):
            name, unit = name[: -len(suffix) - 1], f" ({text})"
            break
    words = " ".join(_ACRONYMS.get(word, word) for word in name.split("_"))
    return words[:1].upper() + words[1:] + unit


def _fact_descriptions() -> dict[str, str]:
    """A field that alone settles a fact is labelled with that fact's description (derived
    facts read several fields and describe the result, not the field: they are skipped)."""
    by_pointer: dict[str, set[str]] = {}
    for definition in catalogue().values():
        if len(definition.settled_by) == 1:
            pointer = _template(definition.settled_by[0])
            by_pointer.setdefault(pointer, set()).add(definition.description)
    return {p: texts.pop() for p, texts in by_pointer.items() if len(texts) == 1}


def _template(pointer: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/*", pointer)


# ----------------------------------------------------------------------------- values


def values_from_case(case: Case) -> FormValues:
    """The form values that show `case` (every known field; unknown ones stay empty)."""
    values: FormValues = {}
    _flatten("", case.model_dump(mode="json", exclude_none=True), values)
    return values


def _flatten(pointer: str, value: Any, out: FormValues) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(f"{pointer}/{key}", child, out)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for index, child in enumerate(value):
            _flatten(f"{pointer}/{index}", child, out)
    elif isinstance(value, list):
        out[pointer] = [str(v) for v in value]
    elif isinstance(value, bool):
        out[pointer] = ["true" if value else "false"]
    elif pointer == "/as_of" or (isinstance(value, str) and _looks_like_datetime(value)):
        out[pointer] = [_to_local_input(value)]
    else:
        out[pointer] = [str(value)]


def _looks_like_datetime(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text))


def _to_local_input(text: str) -> str:
    """`datetime-local` inputs take `YYYY-MM-DDTHH:MM` in UTC (the page says so)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M")


def repeat_pointers(form: CaseForm) -> list[str]:
    """Every repeated section (a list of objects) of the form, nested ones included."""
    found: list[str] = []

    def walk(items: Iterable[FormItem]) -> None:
        for item in items:
            if isinstance(item, FormRepeat):
                found.append(item.pointer)
                walk(item.item.items)
            elif isinstance(item, FormGroup):
                walk(item.items)

    walk(form.sections)
    return found


def row_counts(form: CaseForm, values: FormValues, add_row: str | None) -> dict[str, int]:
    """Rows to draw per repeated section: those filled (at least one), plus one when the
    user pressed that section's "Add an entry" (a form post, so it works without JS)."""
    return {
        pointer: max(rows_in(values, pointer), 1) + (1 if add_row == pointer else 0)
        for pointer in repeat_pointers(form)
    }


def rows_in(values: FormValues, repeat_pointer: str) -> int:
    """How many rows of a repeated section the values fill."""
    prefix = repeat_pointer + "/"
    indices = {
        int(name[len(prefix) :].split("/", 1)[0])
        for name in values
        if name.startswith(prefix) and name[len(prefix) :].split("/", 1)[0].isdigit()
    }
    return max(indices) + 1 if indices else 0


def case_data_from_form(form: CaseForm, values: FormValues) -> tuple[dict[str, Any], list[Problem]]:
    """The case document the values describe, and a problem for each value that is not of
    its field's kind (a number field holding words). Empty values are unknown: left out."""
    document, problems = document_from_form(form, values)
    return {"format_version": 1, **document}, problems


def document_from_form(form: CaseForm, values: FormValues) -> tuple[dict[str, Any], list[Problem]]:
    """The JSON document (a case, a procedure report...) the values describe."""
    document: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, raw_values in values.items():
        form_field = form.field_for(name)
        if form_field is None:
            continue
        entered = [v.strip() for v in raw_values if v.strip()]
        if not entered:
            continue
        if any(int(part) >= MAX_ROWS for part in name.split("/") if part.isdigit()):
            problems.append(Problem(name, f"at most {MAX_ROWS} rows"))
            continue
        try:
            value = _coerce(form_field, entered)
        except ValueError as error:
            problems.append(Problem(name, str(error)))
            continue
        if value is None:
            continue
        meaningful = not (form_field.default is not None and entered == [form_field.default])
        _place(document, name, value, meaningful)
    return _prune(document), problems


def _coerce(form_field: FormField, entered: list[str]) -> Any:
    text = entered[0]
    kind = form_field.kind
    if kind is FieldKind.CHOICES:
        unknown = [v for v in entered if v not in form_field.choices]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of the choices")
        return entered
    if kind is FieldKind.BOOLEAN:
        if text not in ("true", "false"):
            raise ValueError("choose yes, no or unknown")
        return text == "true"
    if kind is FieldKind.CHOICE:
        if text not in form_field.choices:
            raise ValueError(f"{text[:40]!r} is not one of the choices")
        return text
    if kind is FieldKind.INTEGER:
        if not re.fullmatch(r"-?\d{1,9}", text):
            raise ValueError("enter a whole number")
        return int(text)
    if kind is FieldKind.NUMBER:
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise ValueError("enter a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("enter a number")
        return number
    if kind is FieldKind.DATETIME:
        return _datetime_value(text)
    return text[:500]


def _datetime_value(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("enter a date and time (YYYY-MM-DD HH:MM, UTC)") from None
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:00+00:00")
    return moment.isoformat()


_MEANINGFUL = "__meaningful__"


def _place(document: dict[str, Any], name: str, value: Any, meaningful: bool) -> None:
    parts = name.strip("/").split("/")
    node: dict[str, Any] = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if meaningful:
            node[_MEANINGFUL] = True
    node[parts[-1]] = value


def _prune(node: Any, *, root: bool = True) -> Any:
    """Drop objects in which nothing but a preset default was entered (a unit alone is not a
    measurement); turn `{"0": ..., "2": ...}` into a list."""
    if not isinstance(node, dict):
        return node
    if not root and not node.get(_MEANINGFUL):
        return _DROP
    children: dict[str, Any] = {}
    for key, child in node.items():
        if key == _MEANINGFUL:
            continue
        pruned = _prune(child, root=False)
        if pruned is not _DROP:
            children[key] = pruned
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


_DROP = object()
