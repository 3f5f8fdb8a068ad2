"""Fact derivation: units, closed lists, and unknown kept unknown."""

from __future__ import annotations

from datetime import UTC, datetime

from venapath.domain.facts import catalogue, derive_facts
from venapath.services.case_input import validate_case_data

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _facts(data: dict[str, object]) -> dict[str, object]:
    return derive_facts(validate_case_data({"case_id": "t", **data}), NOW)


def test_an_empty_case_knows_nothing_except_that_it_is_not_a_follow_up() -> None:
    facts = _facts({})
    known = {name: value for name, value in facts.items() if value is not None}
    assert known == {
        "followup_procedure_kind": "none",
        "followup_indication": "none",
        "symptom_response": "none",
        "ccsvi_indication": False,
        "infection_screen_recorded_normal": False,
        "cvt_red_flag_presentation": False,  # a red flag counts only when recorded
        # "recorded" facts say what the record shows: nothing recorded is False
        "blood_pressure_recorded_normal": False,
        "creatinine_recorded_normal": False,
        "hit_or_vitt_suspicion_recorded": False,
    }


def test_every_catalogue_fact_has_a_case_field_or_comes_from_a_score() -> None:
    for definition in catalogue().values():
        assert definition.settled_by, definition.name
        assert (definition.derive is None) == definition.source.startswith("score:")


def test_units_are_converted_once() -> None:
    facts = _facts(
        {
            "labs": {
                "platelets": {"value": 85000, "unit": "/uL"},
                "haemoglobin": {"value": 125, "unit": "g/L"},
                "creatinine": {"value": 2.0, "unit": "mg/dL"},
            }
        }
    )
    assert facts["platelets_10e9_l"] == 85
    assert facts["haemoglobin_g_dl"] == 12.5
    assert facts["creatinine_umol_l"] == 176.84


def test_time_facts_use_the_case_clock() -> None:
    facts = _facts(
        {
            "as_of": "2026-05-03T12:00:00+00:00",
            "presentation": {"symptom_onset": "2026-05-01T12:00:00+00:00"},
        }
    )
    assert facts["hours_since_onset"] == 48
    assert facts["days_since_onset"] == 2


def test_segments_decide_groups_only_in_imaged_regions() -> None:
    femoral_only = {"thrombosed_segments": [{"segment": "femoral_vein", "side": "left"}]}
    facts = _facts({"imaging": femoral_only})
    assert facts["femoropopliteal_involved"] is True
    assert facts["distal_leg_veins_involved"] is False  # the leg was imaged
    assert facts["iliofemoral_involved"] is None  # the pelvis was not
    assert facts["femoropopliteal_without_iliofemoral"] is None
    facts = _facts({"imaging": {**femoral_only, "regions_imaged": ["leg", "pelvic_abdominal"]}})
    assert facts["iliofemoral_involved"] is False
    assert facts["femoropopliteal_without_iliofemoral"] is True


def test_deep_cerebral_group_and_isolated_groups() -> None:
    facts = _facts({"imaging": {"thrombosed_segments": [{"segment": "vein_of_galen"}]}})
    assert facts["deep_cerebral_venous_system_involved"] is True
    assert facts["cvt_confirmed"] is True
    cavernous = _facts(
        {"imaging": {"thrombosed_segments": [{"segment": "cavernous_sinus", "side": "left"}]}}
    )
    assert cavernous["isolated_cavernous_sinus_thrombosis"] is True
    calf = _facts(
        {
            "imaging": {
                "regions_imaged": ["leg", "pelvic_abdominal"],
                "thrombosed_segments": [{"segment": "peroneal_vein", "side": "right"}],
            }
        }
    )
    assert calf["isolated_distal_dvt"] is True
    assert calf["proximal_leg_veins_involved"] is False


def test_closed_diagnoses_list_settles_conditions_not_listed() -> None:
    facts = _facts({"diagnoses": [{"condition": "leg_dvt", "status": "suspected"}]})
    assert facts["leg_dvt_suspected"] is True
    assert facts["leg_dvt_confirmed"] is False
    assert facts["cvt_confirmed"] is False
    assert facts["cvt_suspected"] is False
    assert _facts({})["cvt_confirmed"] is None


def test_symptoms_list_is_closed_once_given() -> None:
    facts = _facts({"presentation": {"symptoms": [{"kind": "headache"}]}})
    assert facts["symptom_headache"] is True
    assert facts["symptom_seizure"] is False
    assert (
        _facts({"presentation": {"symptom_onset": "2026-05-01T00:00:00+00:00"}})["symptom_seizure"]
        is None
    )


def test_male_patients_are_not_pregnant_and_females_stay_unknown() -> None:
    assert _facts({"patient": {"sex": "male"}})["pregnant_or_breastfeeding"] is False
    assert _facts({"patient": {"sex": "female"}})["pregnant_or_breastfeeding"] is None
    assert _facts({"patient": {"sex": "female", "postpartum_days": 30}})["postpartum"] is True
    assert _facts({"patient": {"sex": "female", "postpartum_days": 60}})["postpartum"] is False


def test_coma_and_falling_gcs() -> None:
    facts = _facts({"exam": {"gcs": 7, "gcs_before": 14}})
    assert facts["coma"] is True
    assert facts["neurological_deterioration"] is True
    assert facts["consciousness"] == "coma"
    assert _facts({"exam": {"gcs": 14, "gcs_before": 14}})["neurological_deterioration"] is None


def test_doac_without_lead_in() -> None:
    base = {"agent": "dabigatran", "therapeutic": True}
    assert (
        _facts({"treatment": {"anticoagulation": {**base, "parenteral_lead_in_days": 0}}})[
            "doac_without_parenteral_lead_in"
        ]
        is True
    )
    assert (
        _facts({"treatment": {"anticoagulation": {**base, "parenteral_lead_in_days": 7}}})[
            "doac_without_parenteral_lead_in"
        ]
        is False
    )
    assert (
        _facts({"treatment": {"anticoagulation": base}})["doac_without_parenteral_lead_in"] is None
    )


def test_a_direct_statement_settles_a_fact_when_other_sources_are_silent() -> None:
    assert _facts({"exam": {"gcs": 15}})["coma"] is False
    assert _facts({"exam": {"seizure": False}})["seizure"] is False
    assert (
        _facts({"exam": {"seizure": False}, "presentation": {"symptoms": [{"kind": "seizure"}]}})[
            "seizure"
        ]
        is True
    )  # a positive finding anywhere still wins
    assert (
        _facts({"course": {"neurological_deterioration": False}})["neurological_deterioration"]
        is False
    )


def test_an_empty_anticoagulation_block_is_unknown_not_no() -> None:
    assert _facts({"treatment": {"anticoagulation": {}}})["on_anticoagulation"] is None
    assert (
        _facts({"treatment": {"anticoagulation": {"agent": "lmwh"}}})["on_anticoagulation"] is True
    )
