"""Observation values to case measurements, converting units only where it is exact.

UCUM codes (`valueQuantity.code` with system http://unitsofmeasure.org) are preferred; the
printable `unit` is accepted as a fallback because many laboratory systems send only that.
D-dimer is reported on the basis the value set (or a UCUM annotation such as `{FEU}`)
states, and its positive/negative call comes from the laboratory (interpretation, or the
reference range it sent), never from a fixed number: cut-offs depend on the assay.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from venapath.domain.units import CreatinineUnit, DDimerUnit, HaemoglobinUnit, PlateletUnit
from venapath.errors import shown
from venapath.kb.value_sets import MeasurementTarget

U = TypeVar("U")


class UnreadableQuantityError(ValueError):
    """The value cannot be read without guessing (unit unknown, basis conflict, no number)."""


_ANNOTATION = re.compile(r"\{([^}]*)\}")

_PLATELET_UNITS = {
    "10*9/l": PlateletUnit.PER_NANOLITRE,
    "10^9/l": PlateletUnit.PER_NANOLITRE,
    "10*3/ul": PlateletUnit.THOUSAND_PER_MICROLITRE,
    "10^3/ul": PlateletUnit.THOUSAND_PER_MICROLITRE,
    "10*3/mm3": PlateletUnit.THOUSAND_PER_MICROLITRE,
    "k/ul": PlateletUnit.THOUSAND_PER_MICROLITRE,
    "/ul": PlateletUnit.PER_MICROLITRE,
    "/mm3": PlateletUnit.PER_MICROLITRE,
}
_HAEMOGLOBIN_UNITS = {
    "g/dl": HaemoglobinUnit.G_PER_DL,
    "g/l": HaemoglobinUnit.G_PER_L,
    "mmol/l": HaemoglobinUnit.MMOL_PER_L,
}
_CREATININE_UNITS = {
    "umol/l": CreatinineUnit.UMOL_PER_L,
    "µmol/l": CreatinineUnit.UMOL_PER_L,
    "mg/dl": CreatinineUnit.MG_PER_DL,
}
_D_DIMER_UNITS = {
    "ng/ml": DDimerUnit.NG_PER_ML,
    "ug/ml": DDimerUnit.UG_PER_ML,
    "µg/ml": DDimerUnit.UG_PER_ML,
    "mg/l": DDimerUnit.MG_PER_L,
}
_EGFR_UNITS = frozenset({"ml/min/1.73_m2", "ml/min/1.73m2", "ml/min/{1.73_m2}", "ml/min"})
_SCORE_UNITS = frozenset({"", "1", "{score}", "{inr}", "{ratio}", "{ratio}inr", "inr"})
_PRESSURE_UNITS = frozenset({"mm[hg]", "mmhg"})
_WEIGHT_FACTORS = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237}
_GESTATION_DAYS_PER_UNIT = {"wk": 7, "week": 7, "weeks": 7, "d": 1, "day": 1, "days": 1}
"""Gestational age units (UCUM wk and d, or their printable names) in days: exact."""
_POSITIVE = frozenset({"H", "HH", "HU", "A", "AA", "POS", "DET"})
_NEGATIVE = frozenset({"N", "NEG", "ND", "L", "LL", "LU"})


def measurement_value(target: MeasurementTarget, holder: Any, observation: Any) -> Any:
    """The case value for `target.field`, read from `holder` (an Observation or component).

    Gestational age is returned in days, as measured: the mapping advances it to now and
    counts completed weeks (`to_case._read_gestation`)."""
    quantity = holder.valueQuantity
    if quantity is None or quantity.value is None:
        if target.field == "/labs/d_dimer":
            return _d_dimer_call_only(target, holder, observation)
        return None
    value = float(quantity.value)
    unit_text = (quantity.code or quantity.unit or "").strip()
    unit = unit_text.lower()
    field = target.field
    if field == "/labs/platelets":
        return {"value": value, "unit": _unit(_PLATELET_UNITS, unit, unit_text).value}
    if field == "/labs/haemoglobin":
        return {"value": value, "unit": _unit(_HAEMOGLOBIN_UNITS, unit, unit_text).value}
    if field == "/labs/creatinine":
        return {"value": value, "unit": _unit(_CREATININE_UNITS, unit, unit_text).value}
    if field == "/labs/d_dimer":
        return _d_dimer(target, value, unit_text, holder, observation)
    if field == "/labs/egfr_ml_min":
        return _plain(value, unit, _EGFR_UNITS, unit_text)
    if field in ("/labs/inr", "/exam/gcs"):
        number = _plain(value, unit, _SCORE_UNITS, unit_text)
        return round(number) if field == "/exam/gcs" else number
    if field in ("/exam/systolic_bp_mmhg", "/exam/diastolic_bp_mmhg"):
        return round(_plain(value, unit, _PRESSURE_UNITS, unit_text))
    if field == "/patient/gestational_age_weeks":
        return value * _unit(_GESTATION_DAYS_PER_UNIT, unit, unit_text)  # in days
    if field == "/patient/weight_kg":
        factor = _WEIGHT_FACTORS.get(unit)
        if factor is None:
            raise UnreadableQuantityError(f"unit {shown(unit_text)} not understood")
        return round(value * factor, 2)
    raise UnreadableQuantityError(f"no reader for {field}")


def _unit(units: dict[str, U], unit: str, unit_text: str) -> U:
    found = units.get(unit)
    if found is None:
        raise UnreadableQuantityError(f"unit {shown(unit_text)} not understood")
    return found


def _plain(value: float, unit: str, allowed: frozenset[str], unit_text: str) -> float:
    if unit not in allowed:
        raise UnreadableQuantityError(f"unit {shown(unit_text)} not understood")
    return value


def _d_dimer(
    target: MeasurementTarget, value: float, unit_text: str, holder: Any, observation: Any
) -> dict[str, Any]:
    annotations = {a.upper() for a in _ANNOTATION.findall(unit_text)}
    bare = _ANNOTATION.sub("", unit_text).strip().lower()
    basis = target.basis.value if target.basis is not None else None
    stated = annotations & {"FEU", "DDU"}
    if len(stated) > 1 or (stated and basis is not None and basis not in stated):
        raise UnreadableQuantityError(
            f"the unit says {'/'.join(sorted(stated))} but the code says {basis}; "
            "FEU and DDU are not interchangeable"
        )
    if stated:
        basis = next(iter(stated))
    result: dict[str, Any] = {
        "value": value,
        "unit": _unit(_D_DIMER_UNITS, bare, unit_text).value,
    }
    if basis is not None:
        result["basis"] = basis
    positive = _laboratory_call(holder, observation, value, bare)
    if positive is not None:
        result["positive"] = positive
    return result


def _d_dimer_call_only(target: MeasurementTarget, holder: Any, observation: Any) -> Any:
    """A qualitative D-dimer (positive/negative, no number) still carries the lab's call."""
    positive = _interpretation(holder) or _interpretation(observation)
    concept = getattr(holder, "valueCodeableConcept", None)
    if positive is None and concept is not None:
        positive = _call_from_codes(concept)
    if positive is None:
        return None
    result: dict[str, Any] = {"positive": positive}
    if target.basis is not None:
        result["basis"] = target.basis.value
    return result


def _laboratory_call(holder: Any, observation: Any, value: float, unit: str) -> bool | None:
    call = _interpretation(holder)
    if call is None and holder is not observation:
        call = _interpretation(observation)
    if call is not None:
        return call
    for reference in getattr(holder, "referenceRange", None) or []:
        high = reference.high
        if high is None or high.value is None:
            continue
        high_unit = _ANNOTATION.sub("", (high.code or high.unit or "")).strip().lower()
        if high_unit == unit:
            return value > float(high.value)
    return None


def _interpretation(holder: Any) -> bool | None:
    for concept in getattr(holder, "interpretation", None) or []:
        call = _call_from_codes(concept)
        if call is not None:
            return call
    return None


def _call_from_codes(concept: Any) -> bool | None:
    for coding in concept.coding or []:
        code = (coding.code or "").upper()
        if code in _POSITIVE:
            return True
        if code in _NEGATIVE:
            return False
    return None
