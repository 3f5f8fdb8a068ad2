"""Anticoagulant doses read from FHIR Dosage elements, and whether they are a treatment dose.

Only what the chart states is read: a dose in mg with a stated frequency (timing.repeat, or
the HL7 abbreviations QD/BID/TID/QID), or a continuous infusion rate in units per hour
(per kg of the charted weight allowed). Anything else (tablets, mL, units by injection, a
dose without a frequency) is not a dose VenaPath can compare, and leaves "therapeutic"
unknown. A dose below the agent's treatment floor is not read as "not therapeutic" either:
renal- or weight-reduced treatment doses sit below the floors, so it stays unknown too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from venapath.kb.value_sets import TreatmentDose

_MG = frozenset({"mg"})
_UNITS = frozenset({"u", "[iu]", "iu", "units", "unit"})
_HOURS_PER = {"h": 1.0, "d": 24.0, "min": 1 / 60}
_TIMING_CODES = {"QD": 1, "BID": 2, "TID": 3, "QID": 4}
"""HL7 v3 GTSAbbreviation codes: doses a day."""


@dataclass(frozen=True)
class Dose:
    """One dosing regimen as read: mg a day, or infused units a day (either may be unknown)."""

    mg_per_day: float | None = None
    infused_units_per_day: float | None = None


def request_doses(dosages: list[Any] | None, weight_kg: float | None) -> tuple[Dose, ...]:
    """The regimens of a MedicationRequest's dosageInstruction (or a statement's dosage)."""
    doses = []
    for dosage in dosages or []:
        per_day = _doses_a_day(dosage.timing)
        for dose_and_rate in dosage.doseAndRate or []:
            infused = _infused_units_per_day(dose_and_rate, weight_kg)
            mg = _mg(dose_and_rate.doseQuantity)
            mg_per_day = None if mg is None or per_day is None else mg * per_day
            if infused is not None or mg_per_day is not None:
                doses.append(Dose(mg_per_day, infused))
    return tuple(doses)


def administered_mg(dosage: Any) -> float | None:
    """The mg of one administration (MedicationAdministration.dosage.dose)."""
    return None if dosage is None else _mg(dosage.dose)


def administered_infusion(dosage: Any, weight_kg: float | None) -> float | None:
    """Units a day of an infusion administration (its rateQuantity or rateRatio)."""
    return None if dosage is None else _infused_units_per_day(dosage, weight_kg)


def is_treatment_dose(dose: Dose, floor: TreatmentDose, weight_kg: float | None) -> bool | None:
    """True at or above the floor, False below it, None when this dose cannot be compared."""
    if dose.infused_units_per_day is not None and floor.infused_units_per_day is not None:
        return dose.infused_units_per_day >= floor.infused_units_per_day
    if dose.mg_per_day is None:
        return None
    if floor.mg_per_day is not None:
        return dose.mg_per_day >= floor.mg_per_day
    if floor.mg_per_kg_per_day is not None and weight_kg is not None:
        return dose.mg_per_day / weight_kg >= floor.mg_per_kg_per_day
    return None


def _doses_a_day(timing: Any) -> float | None:
    if timing is None:
        return None
    repeat = timing.repeat
    if repeat is not None and repeat.period is not None:
        hours = _HOURS_PER.get(str(repeat.periodUnit or ""))
        if hours is None or float(repeat.period) <= 0:
            return None
        return float(repeat.frequency or 1) * 24 / (float(repeat.period) * hours)
    for coding in (timing.code.coding or []) if timing.code is not None else []:
        if coding.code in _TIMING_CODES:
            return float(_TIMING_CODES[coding.code])
    return None


def _mg(quantity: Any) -> float | None:
    if quantity is None or quantity.value is None:
        return None
    unit = (quantity.code or quantity.unit or "").strip().lower()
    return float(quantity.value) if unit in _MG else None


def _infused_units_per_day(holder: Any, weight_kg: float | None) -> float | None:
    """Units a day from a rate in U/h, U/kg/h (needs the weight) or a U per h ratio."""
    quantity = holder.rateQuantity
    if quantity is not None and quantity.value is not None:
        return _rate_per_day(float(quantity.value), quantity.code or quantity.unit, weight_kg)
    ratio = holder.rateRatio
    if ratio is None or ratio.numerator is None or ratio.denominator is None:
        return None
    top, bottom = ratio.numerator, ratio.denominator
    if top.value is None or bottom.value is None or float(bottom.value) <= 0:
        return None
    unit = f"{top.code or top.unit or ''}/{bottom.code or bottom.unit or ''}"
    return _rate_per_day(float(top.value) / float(bottom.value), unit, weight_kg)


def _rate_per_day(value: float, unit_text: str | None, weight_kg: float | None) -> float | None:
    parts = (unit_text or "").strip().lower().split("/")
    if len(parts) == 2 and parts[0] in _UNITS and parts[1] in _HOURS_PER:
        return value * 24 / _HOURS_PER[parts[1]]
    if len(parts) == 3 and parts[0] in _UNITS and parts[1] == "kg" and parts[2] in _HOURS_PER:
        if weight_kg is None:
            return None
        return value * weight_kg * 24 / _HOURS_PER[parts[2]]
    return None
