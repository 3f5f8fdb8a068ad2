"""Unit handling: exact conversions only, FEU never mixed with DDU, the lab's own call."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from venapath.fhir.quantities import UnreadableQuantityError, measurement_value
from venapath.kb.value_sets import MeasurementTarget


def _obs(value: float | None, unit: str | None, **extra: Any) -> Observation:
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        **extra,
    }
    if value is not None:
        data["valueQuantity"] = {"value": value, "code": unit}
    return Observation.model_validate(data)


def _read(field: str, observation: Observation, basis: str | None = None) -> Any:
    target = MeasurementTarget.model_validate(
        {"kind": "measurement", "field": field, "basis": basis}
    )
    return measurement_value(target, observation, observation)


@pytest.mark.parametrize(
    ("unit", "expected_unit"),
    [("10*3/uL", "10^3/uL"), ("10*9/L", "10^9/L"), ("/uL", "/uL"), ("10*3/mm3", "10^3/uL")],
)
def test_platelet_units(unit: str, expected_unit: str) -> None:
    assert _read("/labs/platelets", _obs(150, unit)) == {"value": 150.0, "unit": expected_unit}


def test_an_unknown_unit_is_not_guessed() -> None:
    with pytest.raises(UnreadableQuantityError, match="not understood"):
        _read("/labs/platelets", _obs(150, "furlongs"))


def test_weight_in_pounds_is_converted_exactly() -> None:
    assert _read("/patient/weight_kg", _obs(220, "[lb_av]")) == pytest.approx(99.79, abs=0.01)


def test_d_dimer_keeps_the_basis_of_its_code_and_the_labs_call() -> None:
    observation = _obs(
        1.9,
        "ug/mL{FEU}",
        interpretation=[{"coding": [{"code": "H"}]}],
    )
    assert _read("/labs/d_dimer", observation, basis="FEU") == {
        "value": 1.9,
        "unit": "ug/mL",
        "basis": "FEU",
        "positive": True,
    }


def test_d_dimer_basis_conflict_is_refused() -> None:
    with pytest.raises(UnreadableQuantityError, match="not interchangeable"):
        _read("/labs/d_dimer", _obs(400, "ng/mL{DDU}"), basis="FEU")


def test_d_dimer_call_from_the_reference_range_in_the_same_unit() -> None:
    observation = _obs(0.3, "mg/L", referenceRange=[{"high": {"value": 0.5, "code": "mg/L"}}])
    assert _read("/labs/d_dimer", observation)["positive"] is False


def test_d_dimer_without_a_call_leaves_positive_unknown() -> None:
    assert "positive" not in _read("/labs/d_dimer", _obs(0.3, "mg/L"))


def test_gcs_and_pressure_are_whole_numbers() -> None:
    assert _read("/exam/gcs", _obs(14.0, "{score}")) == 14
    assert _read("/exam/systolic_bp_mmhg", _obs(181.4, "mm[Hg]")) == 181
