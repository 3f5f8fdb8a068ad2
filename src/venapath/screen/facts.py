"""Facts for a whole population, derived by the fact catalogue itself.

Why not re-write each derivation in SQL: the catalogue (`domain/facts.py`) is the one
definition of what a fact means, with its anatomy groups, closed lists and Kleene logic; a
second copy would drift. Instead the screen splits the case columns in two:

- the *discrete* columns (sex, diagnoses with status, thrombosed segments, flags, agent,
  procedures, follow-up kind) take few distinct combinations in a population (hundreds
  in a million patients). Each distinct combination, its *signature*, becomes a small case
  that `derive_facts` evaluates once in Python; the result is joined back by signature;
- the *measured* columns (age, laboratory values, GCS, blood pressure, clocks) are numbers
  with a fact each; those facts are computed in the engine from `MEASURED_FACTS` below.

`tests/screen/test_screen_facts.py` checks the split: no catalogue fact outside `MEASURED_FACTS`
changes when the measured columns do, and every measured fact matches the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa  # type: ignore[import-untyped]
from pydantic import ValidationError

from venapath.domain.case import Case, ContradictionError, UnknownWordError
from venapath.domain.facts import FactDefinition, FactType, catalogue, derive_facts

SIGNATURE_COLUMNS = (
    "sex",
    "diagnoses",
    "segments",
    "flags",
    "agent",
    "procedure_kinds",
    "follow_up_kind",
    "follow_up_indication",
)
"""The discrete case columns; together they decide every fact outside MEASURED_FACTS."""

_LIST_COLUMNS = frozenset({"diagnoses", "segments", "flags", "procedure_kinds"})
_SEPARATOR = "\x1f"
_ITEM_SEPARATOR = "\x1e"

Measured = Callable[[ir.Table, ir.TimestampValue], ir.Value]


def _hours_since(column: str) -> Measured:
    def hours(cases: ir.Table, now: ir.TimestampValue) -> ir.Value:
        start = cases[column]
        seconds = now.epoch_seconds() - start.epoch_seconds()
        return (seconds / 3600.0).round(3)

    return hours


def _days_since(column: str) -> Measured:
    def days(cases: ir.Table, now: ir.TimestampValue) -> ir.Value:
        return (_hours_since(column)(cases, now) / 24.0).round(3)

    return days


def _column(name: str) -> Measured:
    return lambda cases, _now: cases[name]


def _coma(cases: ir.Table, _now: ir.TimestampValue) -> ir.Value:
    return cases.gcs < 9


def _consciousness(cases: ir.Table, _now: ir.TimestampValue) -> ir.Value:
    return (cases.gcs < 9).ifelse("coma", ibis.null(str))


MEASURED_FACTS: Mapping[str, Measured] = {
    "age_years": _column("age_years"),
    "gestational_age_weeks": _column("gestational_age_weeks"),
    "gcs": _column("gcs"),
    "coma": _coma,
    "consciousness": _consciousness,
    "platelets_10e9_l": _column("platelets"),
    "inr": _column("inr"),
    "haemoglobin_g_dl": _column("haemoglobin"),
    "creatinine_umol_l": _column("creatinine"),
    "egfr_ml_min": _column("egfr_ml_min"),
    "d_dimer_positive": _column("d_dimer_positive"),
    "systolic_bp_mmhg": _column("systolic_bp_mmhg"),
    "diastolic_bp_mmhg": _column("diastolic_bp_mmhg"),
    "hours_since_onset": _hours_since("symptom_onset"),
    "days_since_onset": _days_since("symptom_onset"),
    "days_since_diagnosis": _days_since("diagnosed_at"),
    "days_on_anticoagulation": _days_since("anticoagulation_started"),
    "days_since_procedure": _days_since("follow_up_date"),
}
"""Facts of measured values and clocks, computed in the engine from the case columns.

Each is what the catalogue derives from the same field: GCS < 9 is coma; clocks are hours
(or days) from the moment to `now`, rounded to 3 decimals as `_hours_between` does."""


def case_facts() -> list[FactDefinition]:
    """The facts the screen delivers: every case fact (score facts are computed later)."""
    return [d for d in catalogue().values() if d.source == "case"]


def signature(cases: ir.Table) -> ir.StringValue:
    """One string per distinct combination of the discrete columns (NULL-safe)."""
    parts = []
    for name in SIGNATURE_COLUMNS:
        column = cases[name]
        text = column.join(_ITEM_SEPARATOR) if name in _LIST_COLUMNS else column.cast(str)
        parts.append(text.fill_null(""))
    return ibis.literal(_SEPARATOR).join(parts)


@dataclass(frozen=True)
class SignatureFacts:
    """The facts of each signature, and the signatures whose case is impossible."""

    table: pa.Table
    errors: dict[str, str]


def facts_of_signatures(rows: list[dict[str, Any]], now: datetime) -> SignatureFacts:
    """Derive the catalogue's facts once per signature row (a dict of SIGNATURE_COLUMNS)."""
    return SignatureMemo(now).facts_of(rows)


class SignatureMemo:
    """Facts of every signature derived so far in one screen.

    Why: a partitioned screen meets the same signatures (a patient without a venous
    diagnosis, say) in every partition; each is derived once and reused. `now` is fixed
    for the memo's life, because the derivation reads it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._definitions = [d for d in case_facts() if d.name not in MEASURED_FACTS]
        self._records: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, str] = {}

    def facts_of(self, rows: list[dict[str, Any]]) -> SignatureFacts:
        """The facts (and errors) of these signature rows, deriving only the new ones."""
        for row in rows:
            key = row["signature"]
            if key not in self._records and key not in self._errors:
                self._derive(key, row)
        keys = [row["signature"] for row in rows]
        records = [self._records[k] for k in keys if k in self._records]
        errors = {k: self._errors[k] for k in keys if k in self._errors}
        schema = pa.schema(
            [("signature", pa.string())] + [(d.name, _arrow_type(d)) for d in self._definitions]
        )
        return SignatureFacts(pa.Table.from_pylist(records, schema=schema), errors)

    def _derive(self, key: str, row: dict[str, Any]) -> None:
        try:
            case = Case.model_validate(signature_case(row, self.now))
        except (ValidationError, ContradictionError, UnknownWordError) as error:
            self._errors[key] = _one_line(error)
            return
        facts = derive_facts(case, self.now)
        self._records[key] = {
            "signature": key,
            **{d.name: facts.get(d.name) for d in self._definitions},
        }


def signature_case(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The case data a signature stands for: discrete fields only, clocks left out."""
    data: dict[str, Any] = {"case_id": "screen-signature", "as_of": now.isoformat()}
    if row.get("sex"):
        data["patient"] = {"sex": row["sex"]}
    data["diagnoses"] = [
        dict(zip(("condition", "status"), label.split(":"), strict=True))
        for label in row.get("diagnoses") or ()
    ]
    segments = [_segment(label) for label in row.get("segments") or ()]
    if segments:
        data["imaging"] = {"thrombosed_segments": segments}
    for label in row.get("flags") or ():
        pointer, value = label.split("=", 1)
        _put(data, pointer, {"true": True, "false": False}.get(value, value))
    treatment = data.setdefault("treatment", {})
    treatment["procedures"] = [{"kind": kind} for kind in row.get("procedure_kinds") or ()]
    if row.get("agent"):
        treatment["anticoagulation"] = {"agent": row["agent"]}
    if row.get("follow_up_kind"):
        # follow-up flags (fever or urinary symptoms after the procedure) are already there
        follow_up = data.setdefault("follow_up", {})
        follow_up.update({"procedure_kind": row["follow_up_kind"], "procedure_date": now})
        if row.get("follow_up_indication"):
            follow_up["indication"] = row["follow_up_indication"]
    return data


def facts_table(cases: ir.Table, lookup: ir.Table, now: datetime) -> ir.Table:
    """Per patient: `patient_id`, `error` and one column per case fact."""
    now_literal = ibis.literal(now, type="timestamp('UTC')")
    keyed = cases.mutate(signature=signature(cases))
    joined = keyed.join(lookup, "signature", how="left")
    columns: dict[str, ir.Value] = {}
    for definition in case_facts():
        measured = MEASURED_FACTS.get(definition.name)
        value = measured(joined, now_literal) if measured else joined[definition.name]
        columns[definition.name] = value.cast(_ibis_type(definition))
    return joined.select("patient_id", "signature", **columns)


def _segment(label: str) -> dict[str, Any]:
    segment, side, chronic = label.split("|")
    item: dict[str, Any] = {"segment": segment}
    if side:
        item["side"] = side
    if chronic:
        item["chronic"] = chronic == "true"
    return item


def _put(data: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer.strip("/").split("/")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _arrow_type(definition: FactDefinition) -> pa.DataType:
    return {
        FactType.BOOLEAN: pa.bool_(),
        FactType.NUMBER: pa.float64(),
        FactType.CHOICE: pa.string(),
    }[definition.type]


def _ibis_type(definition: FactDefinition) -> str:
    return {FactType.BOOLEAN: "boolean", FactType.NUMBER: "float64", FactType.CHOICE: "string"}[
        definition.type
    ]


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
