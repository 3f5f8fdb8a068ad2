"""Implausible values the review saw stored are refused, naming the field: a thrombolysis
dose of 1e30 mg, an onset in year 0001, `completed_at: 12345` read as 1970, duplicate
segments, 10,000 devices."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from venapath.domain.records import EpisodeIn, ProcedureIn, TaskUpdate, Thrombolysis
from venapath.services.case_input import CaseInputError, parse_case_text


def _refused(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return str(caught.value)


@pytest.mark.parametrize(("dose", "unit"), [(1e30, "mg"), (1_001, "mg"), (60_000_000, "IU")])
def test_an_implausible_thrombolytic_dose_is_refused(dose: float, unit: str) -> None:
    message = _refused(Thrombolysis, {"agent": "alteplase", "total_dose": dose, "dose_unit": unit})
    assert "total_dose" in message


def test_plausible_doses_and_durations_are_kept() -> None:
    lysis = Thrombolysis.model_validate(
        {"agent": "urokinase", "total_dose": 4_000_000, "dose_unit": "IU", "duration_hours": 48}
    )
    assert lysis.total_dose == 4_000_000
    assert "duration_hours" in _refused(
        Thrombolysis,
        {"agent": "alteplase", "total_dose": 20, "dose_unit": "mg", "duration_hours": 1e30},
    )


def test_a_date_before_1900_is_refused_in_records_and_cases() -> None:
    message = _refused(
        EpisodeIn, {"patient_id": "p", "condition": "leg_dvt", "onset_at": "0001-01-01T00:00:00Z"}
    )
    assert "onset_at" in message
    assert "1900" in message
    with pytest.raises(CaseInputError) as caught:
        parse_case_text("case_id: old\nas_of: 0001-01-01T00:00:00Z\n")
    assert caught.value.problems[0].pointer == "/as_of"


def test_a_bare_number_is_not_a_completion_time() -> None:
    message = _refused(TaskUpdate, {"version": 1, "status": "done", "completed_at": 12345})
    assert "completed_at" in message
    assert "not a number" in message


def test_duplicate_segments_and_too_many_devices_are_refused() -> None:
    episode = {"patient_id": "p", "condition": "leg_dvt", "segments": ["popliteal_vein"] * 2}
    assert "more than once" in _refused(EpisodeIn, episode)
    procedure = {
        "episode_id": "e",
        "kind": "venous_stent",
        "performed_at": "2026-01-01T00:00:00Z",
        "devices": [{"device_class": "stent"}] * 51,
    }
    assert "devices" in _refused(ProcedureIn, procedure)
