"""Bad input gets a clear error naming the field (JSON pointer) and the problem."""

from __future__ import annotations

import pytest

from venapath.services.case_input import CaseInputError, parse_case_text


def _problems(text: str, *, json_only: bool = False) -> list[str]:
    with pytest.raises(CaseInputError) as raised:
        parse_case_text(text, "case.yaml", json_only=json_only)
    return [str(problem) for problem in raised.value.problems]


def test_malformed_yaml_names_the_line() -> None:
    (problem,) = _problems("case_id: x\npatient: {age_years: 4\n")
    assert "malformed YAML at line" in problem


def test_malformed_json_names_line_and_column() -> None:
    (problem,) = _problems('{"case_id": "x",,}', json_only=True)
    assert "malformed JSON at line 1, column" in problem


def test_top_level_must_be_a_mapping() -> None:
    assert "mapping" in _problems("- a\n- b\n")[0]


def test_unknown_vocabulary_word_suggests_the_nearest() -> None:
    (problem,) = _problems("case_id: x\nexam: {consciousness: stupour}\n")
    assert problem.startswith("/exam/consciousness:")
    assert "did you mean 'stupor'" in problem


def test_unknown_segment_suggests_the_nearest() -> None:
    text = "case_id: x\nimaging: {thrombosed_segments: [{segment: superior_sagital_sinus}]}\n"
    (problem,) = _problems(text)
    assert problem.startswith("/imaging/thrombosed_segments/0/segment:")
    assert "superior_sagittal_sinus" in problem


def test_misspelt_field_suggests_the_nearest() -> None:
    (problem,) = _problems("case_id: x\npatient: {age_year: 40}\n")
    assert problem.startswith("/patient/age_year:")
    assert "'age_years'" in problem


def test_wrong_type_names_field() -> None:
    (problem,) = _problems("case_id: x\npatient: {pregnant: perhaps}\n")
    assert problem.startswith("/patient/pregnant:")


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ("case_id: x\nexam: {gcs: 2}\n", "/exam/gcs"),
        ("case_id: x\nexam: {gcs: 16}\n", "/exam/gcs"),
        ("case_id: x\npatient: {age_years: 121}\n", "/patient/age_years"),
        ("case_id: x\nlabs: {platelets: {value: -1}}\n", "/labs/platelets/value"),
        (
            "case_id: x\nfollow_up: {in_stent_stenosis_percent: 140}\n",
            "/follow_up/in_stent_stenosis_percent",
        ),
    ],
)
def test_out_of_range_values_name_the_field(text: str, pointer: str) -> None:
    (problem,) = _problems(text)
    assert problem.startswith(pointer + ":")


@pytest.mark.parametrize(
    ("text", "pointer", "words"),
    [
        (
            "case_id: x\npatient: {sex: male, postpartum_days: 10}\n",
            "/patient/postpartum_days",
            "male",
        ),
        ("case_id: x\npatient: {sex: male, pregnant: true}\n", "/patient/pregnant", "male"),
        (
            "case_id: x\npatient: {pregnant: true, postpartum_days: 3}\n",
            "/patient/postpartum_days",
            "pregnant",
        ),
        ("case_id: x\nexam: {gcs: 6, consciousness: alert}\n", "/exam/consciousness", "GCS 6"),
        (
            "case_id: x\nimaging: {thrombosed_segments: [{segment: superior_sagittal_sinus, side: left}]}\n",
            "/imaging/thrombosed_segments/0/side",
            "midline",
        ),
        (
            "case_id: x\nimaging: {regions_imaged: [leg], thrombosed_segments: [{segment: straight_sinus}]}\n",
            "/imaging/thrombosed_segments/0/segment",
            "regions_imaged",
        ),
        (
            "case_id: x\nas_of: '2026-01-01T00:00:00Z'\npresentation: {symptom_onset: '2026-02-01T00:00:00Z'}\n",
            "/presentation/symptom_onset",
            "after as_of",
        ),
    ],
)
def test_contradictions_name_the_field(text: str, pointer: str, words: str) -> None:
    (problem,) = _problems(text)
    assert problem.startswith(pointer + ":")
    assert words in problem


def test_timestamps_need_a_time_zone() -> None:
    (problem,) = _problems("case_id: x\nas_of: '2026-01-01T00:00:00'\n")
    assert problem.startswith("/as_of:")
    assert "timezone" in problem.lower()


def test_missing_case_id_is_named() -> None:
    assert _problems("patient: {age_years: 40}\n") == ["/case_id: required field is missing"]


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems("case_id: x\npatient: {age_years: 400, sex: robot}\nexam: {gcs: 1}\n")
    pointers = {p.split(":")[0] for p in problems}
    assert pointers == {"/patient/age_years", "/patient/sex", "/exam/gcs"}


def test_oversized_input_is_refused() -> None:
    (problem,) = _problems("case_id: x\n" + "#" * 1_000_001)
    assert "larger than" in problem


def test_a_minimal_case_is_valid_and_everything_else_unknown() -> None:
    case = parse_case_text("case_id: minimal\n")
    assert case.case_id == "minimal"
    assert case.patient is None
    assert case.diagnoses is None


def test_excluded_diagnosis_contradicting_a_listed_thrombus_is_refused() -> None:
    text = (
        "case_id: x\ndiagnoses: [{condition: leg_dvt, status: excluded}]\n"
        "imaging: {thrombosed_segments: [{segment: popliteal_vein, side: left}]}\n"
    )
    (problem,) = _problems(text)
    assert problem.startswith("/diagnoses/0/status:")
    assert "popliteal_vein" in problem


def test_procedure_segment_must_be_a_known_segment() -> None:
    text = "case_id: x\ntreatment: {procedures: [{kind: venous_stent, segment: iliac}]}\n"
    (problem,) = _problems(text)
    assert problem.startswith("/treatment/procedures/0/segment:")
    assert "unknown word 'iliac'" in problem


def test_bytes_that_are_not_utf8_are_a_clear_error() -> None:
    with pytest.raises(CaseInputError, match="not UTF-8"):
        parse_case_text(b"\x80case_id: x")
