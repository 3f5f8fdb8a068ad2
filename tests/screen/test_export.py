"""Reading a Bulk export: layouts, refusals, and corrupt lines found by their line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from venapath.screen.export import (
    NotABulkExportError,
    duckdb_resources_sql,
    open_export,
    scan_integrity,
    spark_resources,
)

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "synthea-sample"

CORRUPT = {
    '{"resourceType": "Patient", "id": "cut': "not valid JSON",
    "[1, 2, 3]": "not a JSON object",
    '{"id": "no-type"}': "no resourceType",
    '{"resourceType": "Condition", "id": "c"}': "resourceType is Condition, file holds Patient",
    "plain text, with, commas": "not valid JSON",
}


def _patient(index: int) -> str:
    text = 'tab\\t quote\\" comma, backslash\\\\ unicode é'
    return json.dumps({"resourceType": "Patient", "id": f"p{index}", "name": [{"text": text}]})


def _big_file(path: Path, lines: int, corrupt_at: dict[int, str]) -> None:
    with path.open("w") as handle:
        for number in range(1, lines + 1):
            handle.write((corrupt_at.get(number) or _patient(number)) + "\n")
            if number == 50:
                handle.write("\n")  # a blank line counts as a line, never as corrupt


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    corrupt_at = dict(zip([1, 5000, 70001, 150001, 150003], CORRUPT, strict=True))
    shifted = {n if n <= 50 else n + 1: text for n, text in corrupt_at.items()}
    _big_file(tmp_path / "Patient.ndjson", 150003, corrupt_at)
    return tmp_path, shifted


def test_corrupt_lines_are_found_by_number_in_a_large_file(
    damaged: tuple[Path, dict[int, str]],
) -> None:
    folder, corrupt_at = damaged
    report = scan_integrity(open_export(folder), duckdb.connect())
    assert report.corrupt_count == 5
    assert [(c.line, c.problem) for c in report.corrupt] == [
        (line, CORRUPT[text]) for line, text in sorted(corrupt_at.items())
    ]
    assert report.lines == {"Patient": 150003}
    assert report.valid == {"Patient": 149998}
    limited = scan_integrity(open_export(folder), duckdb.connect(), keep=2)
    assert len(limited.corrupt) == 2
    assert limited.corrupt_count == 5


def test_the_views_read_exactly_the_valid_lines(damaged: tuple[Path, dict[int, str]]) -> None:
    folder, _ = damaged
    export = open_export(folder)
    relation = duckdb_resources_sql(export.files_of("Patient"), "Patient")
    rows = duckdb.connect().sql(f"SELECT resource ->> '$.id' FROM {relation}").fetchall()
    assert len(rows) == 149998
    assert {"p2", "p150002"} <= {row[0] for row in rows}
    assert "cut" not in {row[0] for row in rows}


def test_spark_reads_the_same_valid_lines(
    damaged: tuple[Path, dict[int, str]], spark_session: Any
) -> None:
    folder, _ = damaged
    frame = spark_resources(spark_session, open_export(folder).files_of("Patient"), "Patient")
    assert frame.count() == 149998


def test_a_manifest_lists_the_files(tmp_path: Path) -> None:
    (tmp_path / "Patient.000.ndjson").write_text(_patient(1) + "\n")
    (tmp_path / "obs.ndjson").write_text("")
    manifest = {
        "transactionTime": "2026-01-01T00:00:00Z",
        "output": [
            {"type": "Patient", "url": "https://ehr.example/bulk/Patient.000.ndjson"},
            {"type": "Observation", "url": "obs.ndjson"},
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    export = open_export(tmp_path)
    assert export.files_of("Patient") == (tmp_path / "Patient.000.ndjson",)
    assert export.files_of("Observation") == (tmp_path / "obs.ndjson",)
    assert export.files_of("Condition") == ()
    assert export.manifest is not None
    assert export.total_bytes > 0


def test_without_a_manifest_file_names_give_the_type(tmp_path: Path) -> None:
    for name in ("Patient.ndjson", "Condition.1.ndjson", "Condition-2.ndjson", "readme.md"):
        (tmp_path / name).write_text("")
    export = open_export(tmp_path)
    assert sorted(export.files) == ["Condition", "Patient"]
    assert len(export.files_of("Condition")) == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist"),
        ("file", "is a file, not a folder"),
        ("empty", "not a FHIR Bulk Data export (it is empty)"),
        ("bad-manifest", "manifest.json: not a readable JSON manifest"),
        ("no-output", "a Bulk Data manifest is a JSON object with an 'output' list"),
        ("gzip", "compressed NDJSON is not read; decompress it first"),
    ],
)
def test_what_is_not_an_export_is_refused_with_a_reason(
    tmp_path: Path, setup: str, message: str
) -> None:
    target = tmp_path / "export"
    if setup == "file":
        target.write_text("x")
    elif setup != "missing":
        target.mkdir()
    if setup == "bad-manifest":
        (target / "manifest.json").write_text("{not json")
    if setup == "no-output":
        (target / "manifest.json").write_text("{}")
    if setup == "gzip":
        (target / "Patient.ndjson.gz").write_bytes(b"")
    with pytest.raises(NotABulkExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_export(target)


def test_the_synthea_sample_opens_clean() -> None:
    resources = SYNTHEA / "resources"
    if not resources.is_dir():
        pytest.skip(f"the third-party Synthea sample is not at {resources}")
    export = open_export(resources)
    report = scan_integrity(export, duckdb.connect())
    assert report.corrupt_count == 0
    assert set(report.valid) == {"Patient", "Condition"}
    assert report.valid == report.lines
