"""`venapath screen` end to end: outputs, filters, a third-party export and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from venapath.cli.main import app
from venapath.kb.model import KnowledgeBase
from venapath.synth import write_cohort

runner = CliRunner()
SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "synthea-sample"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Path:
    out = tmp_path_factory.mktemp("screen-cli") / "cohort"
    write_cohort(out, 120, 4, kb=kb)
    return out


def _screen(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["screen", *args])
    return result.exit_code, result.output


def test_screen_writes_the_table_and_the_summary(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    code, output = _screen(str(cohort), "--out", str(out), "--quiet")
    assert code == 0, output
    rows = pq.read_table(out / "patients.parquet").to_pylist()
    summary = json.loads((out / "summary.json").read_text())
    assert len(rows) == summary["patients"] == 120
    applies = sum(p["applies"] for p in summary["pathways"])
    assert applies == sum(len(row["pathways"]) for row in rows)
    assert applies > 0
    assert {row["knowledge_version"] for row in rows} == {summary["knowledge_version"]}
    assert summary["as_of"] == "2026-01-01T00:00:00+00:00"  # the manifest's transactionTime
    assert "Findings" in output
    assert "Facts missing most often" in output


def test_only_and_limit_filter_the_patients(cohort: Path, tmp_path: Path) -> None:
    code, output = _screen(
        str(cohort),
        "--out",
        str(tmp_path / "r"),
        "--only",
        "leg_dvt",
        "--quiet",
        "--format",
        "json",
    )
    assert code == 0, output
    rows = pq.read_table(tmp_path / "r" / "patients.parquet").to_pylist()
    assert rows
    assert all("leg_dvt" in row["pathways"] for row in rows)
    assert json.loads(output)["filters"]["only"] == "leg_dvt"
    code, output = _screen(str(cohort), "--out", str(tmp_path / "l"), "--limit", "7", "--quiet")
    assert code == 0, output
    limited = pq.read_table(tmp_path / "l" / "patients.parquet").to_pylist()
    assert len(limited) == 7


def test_corrupt_lines_are_reported_and_the_rest_is_screened(cohort: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for path in cohort.iterdir():
        (damaged / path.name).write_bytes(path.read_bytes())
    conditions = (damaged / "Condition.ndjson").read_text().splitlines()
    conditions.insert(2, '{"resourceType": "Condition", "id": "cut')
    conditions.append('{"resourceType": "Patient", "id": "misfiled"}')
    (damaged / "Condition.ndjson").write_text("\n".join(conditions) + "\n")
    out = tmp_path / "results"
    code, output = _screen(str(damaged), "--out", str(out), "--quiet")
    assert code == 0, output
    assert "2 corrupt NDJSON line(s) skipped" in output
    assert f"{damaged / 'Condition.ndjson'}:3: not valid JSON" in output
    last = len(conditions)
    assert f"Condition.ndjson:{last}: resourceType is 'Patient', file holds 'Condition'" in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["export"]["corrupt_lines"] == 2
    assert summary["patients"] == 120


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--engine", "oracle"],
            "--engine: unknown engine 'oracle'; expected one of duckdb, spark",
        ),
        (["--only", "leg"], "--only: unknown pathway 'leg'"),
        (["--limit", "0"], "--limit: must be at least 1, got 0"),
        (["--spark-master", "local[2]"], "--spark-master: only with --engine spark"),
        (["--format", "xml"], "--format: 'xml'; expected table or json"),
    ],
)
def test_bad_options_exit_2_and_name_the_option(
    cohort: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "results"
    code, output = _screen(str(cohort), "--out", str(out), *args)
    assert code == 2
    assert message in " ".join(output.split())
    assert not out.exists()


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, output = _screen(str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == 2
    assert "is not a FHIR Bulk Data export (found: notes.txt)" in " ".join(output.split())
    code, output = _screen(str(tmp_path / "missing"), "--out", str(tmp_path / "r"))
    assert code == 2
    assert "does not exist" in output


def test_a_manifest_naming_a_missing_file_is_refused(cohort: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in cohort.iterdir():
        if path.name != "Condition.ndjson":
            (broken / path.name).write_bytes(path.read_bytes())
    code, output = _screen(str(broken), "--out", str(tmp_path / "r"))
    assert code == 2
    assert "output[1]: lists Condition.ndjson" in output
    assert "the export is incomplete or the files were moved" in " ".join(output.split())


def test_the_synthea_sample_is_outside_every_pathway(tmp_path: Path) -> None:
    resources = SYNTHEA / "resources"
    if not resources.is_dir():
        pytest.skip(f"the third-party Synthea sample is not at {resources}")
    out = tmp_path / "results"
    code, output = _screen(str(resources), "--out", str(out), "--quiet", "--format", "json")
    assert code == 0, output
    rows = pq.read_table(out / "patients.parquet").to_pylist()
    assert len(rows) > 0
    assert all(row["pathways"] == [] and row["recommendations"] == [] for row in rows)
    assert all(row["error"] is None for row in rows)
    summary = json.loads(output)
    assert summary["export"]["corrupt_lines"] == 0
    assert all(p["applies"] == 0 for p in summary["pathways"])
