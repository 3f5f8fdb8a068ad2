"""The command line, end to end: output formats, schemas, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from paths_support import EXAMPLES, REPO
from venapath.cli.main import app
from venapath.kb.loader import load_knowledge_base

runner = CliRunner()
SEED = EXAMPLES / "seed-cvt-intracranial-hypotension.yaml"


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_evaluate_text_summarises_pathway_urgency_evidence_and_knowledge_version() -> None:
    result = _run("evaluate", str(SEED))
    assert result.exit_code == 0, result.output
    for expected in (
        "Acute cerebral venous thrombosis",
        "Urgency: emergency",
        "CEREBRAL VENOUS THROMBECTOMY",
        "EPIDURAL BLOOD PATCH",
        "KWON-2020",
        "Time windows",
        f"knowledge {load_knowledge_base().version}",
    ):
        assert expected in result.output


def test_evaluate_json_matches_the_published_result_schema() -> None:
    schema = json.loads(_run("schema", "result").output)
    result = _run("evaluate", "--format", "json", str(SEED))
    assert result.exit_code == 0
    document = json.loads(result.output)
    jsonschema.validate(document, schema)
    assert document["urgency"] == "emergency"
    actions = {(r["action"], r["strength"]) for r in document["recommendations"]}
    assert ("cerebral_venous_thrombectomy", "consider") in actions
    assert any(a == "epidural_blood_patch" for a, _ in actions)


def test_every_example_case_validates_against_the_case_schema() -> None:
    import yaml

    schema = json.loads(_run("schema", "case").output)
    # One validator for every file: `jsonschema.validate` checks the schema and builds a
    # validator at each call, which cost a second for the examples.
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        validator.validate(yaml.load(path.read_text(), Loader=yaml.CSafeLoader))


def test_evaluating_several_cases_prints_a_list() -> None:
    result = _run("evaluate", "-f", "json", *map(str, sorted(EXAMPLES.glob("*.yaml"))))
    assert result.exit_code == 0
    documents = json.loads(result.output)
    assert len(documents) == len(list(EXAMPLES.glob("*.yaml")))
    assert all(doc["errors"] == [] for doc in documents)


def test_bad_case_exits_2_with_pointer_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("case_id: x\nexam: {gcs: 22}\n")
    result = _run("evaluate", str(bad))
    assert result.exit_code == 2
    assert "/exam/gcs" in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run("evaluate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read file" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("evaluate", "--format", "xml", str(SEED)),
        ("evaluate", "--now", "yesterday", str(SEED)),
        ("evaluate", "--now", "2026-01-01T00:00:00", str(SEED)),
        ("schema", "patient"),
        ("score", "wells"),
        ("score", "wells_dvt", "active_cancer=maybe"),
        ("score", "wells_dvt", "gcs=3"),
        ("kb", "show", "CVT-NOPE"),
        ("kb", "list", "--pathway", "cardiology"),
    ],
)
def test_bad_options_exit_2(args: tuple[str, ...]) -> None:
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert "error" in result.output


def test_now_sets_the_clock_for_a_case_without_as_of(tmp_path: Path) -> None:
    case = tmp_path / "c.yaml"
    case.write_text(
        "case_id: c\ndiagnoses: [{condition: leg_dvt, status: confirmed}]\n"
        "presentation: {symptom_onset: '2026-01-01T00:00:00+00:00'}\n"
    )
    result = _run("evaluate", "-f", "json", "--now", "2026-01-31T00:00:00+00:00", str(case))
    document = json.loads(result.output)
    assert document["evaluated_at"].startswith("2026-01-31")
    window = next(w for w in document["time_windows"] if w["id"] == "TW-DVT-CDT-21D")
    assert window["elapsed"] == 30
    assert window["status"] == "passed"


def test_score_computes_known_items_and_reports_a_range_for_unknown_ones() -> None:
    full = _run(
        "score",
        "wells_dvt",
        "-f",
        "json",
        *(
            f"{name}=no"
            for name in (
                "active_cancer",
                "immobilisation",
                "bedridden_3_days_or_major_surgery_12_weeks",
                "deep_vein_tenderness",
                "pitting_oedema",
                "collateral_superficial_veins",
                "previous_dvt",
                "alternative_diagnosis_as_likely",
            )
        ),
        "entire_leg_swollen=yes",
        "calf_difference_cm=4",
    )
    assert full.exit_code == 0, full.output
    assert json.loads(full.output)["points"] == 2
    partial = json.loads(_run("score", "wells-dvt", "-f", "json", "active_cancer=yes").output)
    assert partial["points"] is None
    assert partial["band"] is None
    assert partial["min_points"] == -1
    assert partial["max_points"] == 9


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("score", "villalta", "villalta_pain=7"), "/items/villalta_pain"),
        (("score", "koopman", "age_years=-4"), "/items/age_years"),
        (("score", "villalta", "villalta_cramps=1.5"), "/items/villalta_cramps"),
    ],
)
def test_score_refuses_out_of_range_items_with_exit_2_naming_them(
    args: tuple[str, ...], named: str
) -> None:
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert f"error: {named}: " in result.output
    assert "Traceback" not in result.output


def test_score_lists_scores_without_a_name() -> None:
    result = _run("score")
    assert result.exit_code == 0
    assert "wells_dvt" in result.output
    assert "has_bled" in result.output


def test_kb_list_show_validate() -> None:
    listing = _run("kb", "list", "--pathway", "ccsvi")
    assert listing.exit_code == 0
    assert "CCSVI" in listing.output
    shown = _run("kb", "show", "CVT-DECOMPRESSIVE-SURGERY")
    assert shown.exit_code == 0
    assert "ESO-2017" in shown.output
    assert "herniation" in shown.output
    source = _run("kb", "show", "BRAVE-DREAMS-2018")
    assert source.exit_code == 0
    assert "cited by" in source.output
    assert _run("kb", "validate").exit_code == 0


def test_kb_validate_refuses_a_broken_directory(tmp_path: Path) -> None:
    result = _run("kb", "validate", str(tmp_path))
    assert result.exit_code == 2
    assert "manifest.yaml: missing" in result.output


def test_facts_lists_the_catalogue() -> None:
    result = _run("facts")
    assert result.exit_code == 0
    assert "hours_since_onset" in result.output


@pytest.mark.slow
def test_console_script_runs_as_installed() -> None:
    executable = Path(sys.executable).parent / "venapath"
    done = subprocess.run(
        [str(executable), "evaluate", "-f", "json", str(SEED)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["case_id"] == "seed-cvt-intracranial-hypotension"
