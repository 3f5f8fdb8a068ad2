"""A Bulk Data export on disk: opening it, judging every line, and reading only the valid ones.

Line numbers and counts are asserted exactly: a report that points at the wrong line sends
whoever repairs the export to the wrong place.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from venapath.screen.bulk import (
    MANIFEST_NAME,
    MAX_LINE_BYTES,
    BulkExport,
    CorruptLine,
    NotABulkExportError,
    duckdb_resources_sql,
    open_export,
    scan_integrity,
    spark_resources,
)
from venapath.sof.compile import compile_view

SYNTHEA = Path("/work/shared/data/synthea-sample/resources")


# -- helpers ----------------------------------------------------------------------------------


def resource(resource_type: str, number: int, **extra: Any) -> str:
    return json.dumps(
        {"resourceType": resource_type, "id": f"{resource_type[:3]}-{number}", **extra}
    )


def write_lines(path: Path, lines: Sequence[str | bytes], newline: bytes = b"\n") -> Path:
    data = newline.join(line.encode() if isinstance(line, str) else line for line in lines)
    path.write_bytes(data + newline)
    return path


def manifest(*outputs: tuple[str, str]) -> str:
    return json.dumps(
        {
            "transactionTime": "2026-01-01T00:00:00Z",
            "request": "https://fhir.example/$export",
            "requiresAccessToken": False,
            "output": [{"type": kind, "url": url} for kind, url in outputs],
            "error": [],
        }
    )


def problems(corrupt: Sequence[CorruptLine]) -> list[tuple[str, int, str]]:
    return [(c.file.name, c.line, c.problem) for c in corrupt]


def relation_rows(connection: duckdb.DuckDBPyConnection, relation: str) -> list[Any]:
    return [
        json.loads(text)
        for (text,) in connection.sql(f"SELECT resource FROM {relation}").fetchall()
    ]


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """Four threads even on a small machine, so the CSV reader splits files between threads."""
    con = duckdb.connect()
    con.execute("SET threads = 4")
    yield con
    con.close()


# Each corrupt kind once, with blank lines around them; (line, problem) as the scan must say.
MIXED_PATIENT_LINES: list[str | bytes] = [
    resource("Patient", 1),  # 1
    "",  # 2 blank
    "not json at all",  # 3
    '["an", "array"]',  # 4
    resource("Observation", 1),  # 5
    json.dumps({"id": "no-type"}),  # 6
    "   \t ",  # 7 whitespace only
    resource("Patient", 2, name=[{"text": 'Zoë "Q", tab\there, back\\slash'}]),  # 8
    '{"resourceType": "Patient", "id": "cut-sh',  # 9
    resource("Patient", 3) + resource("Patient", 4),  # 10: two objects on one line
    b'{"resourceType": "Patient", "name": "M\xfcller"}',  # 11: Latin-1, not UTF-8
    resource("Patient", 5),  # 12
]
MIXED_PATIENT_PROBLEMS = [
    ("Patient.ndjson", 3, "not valid JSON"),
    ("Patient.ndjson", 4, "not a JSON object"),
    ("Patient.ndjson", 5, "resourceType is 'Observation', file holds 'Patient'"),
    ("Patient.ndjson", 6, "no resourceType"),
    ("Patient.ndjson", 9, "not valid JSON"),
    ("Patient.ndjson", 10, "not valid JSON"),
    ("Patient.ndjson", 11, "not valid UTF-8 text"),
]
MIXED_PATIENT_VALID_IDS = ["Pat-1", "Pat-2", "Pat-5"]


@pytest.fixture
def mixed_export(tmp_path: Path) -> BulkExport:
    write_lines(tmp_path / "Patient.ndjson", MIXED_PATIENT_LINES)
    write_lines(
        tmp_path / "Condition.ndjson",
        [resource("Condition", 1), "{", resource("Condition", 2), resource("Patient", 9)],
    )
    return open_export(tmp_path)


# -- open_export: layouts ---------------------------------------------------------------------


def test_manifest_maps_every_kind_of_url_to_a_file_in_the_folder(tmp_path: Path) -> None:
    for name in ["Patient.ndjson", "obs-a.ndjson", "obs-b.ndjson", "c1", "Stray.ndjson"]:
        write_lines(tmp_path / name, [])
    (tmp_path / MANIFEST_NAME).write_text(
        manifest(
            ("Patient", "Patient.ndjson"),
            ("Observation", "https://bulk.example/files/obs-b.ndjson?token=abc"),
            ("Observation", f"file://{tmp_path}/obs-a.ndjson"),
            ("Condition", "/somewhere/else/entirely/c1"),
        )
    )
    export = open_export(tmp_path)
    assert export.files == {
        "Condition": (tmp_path / "c1",),
        "Observation": (tmp_path / "obs-a.ndjson", tmp_path / "obs-b.ndjson"),
        "Patient": (tmp_path / "Patient.ndjson",),
    }
    assert list(export.files) == ["Condition", "Observation", "Patient"]
    assert export.manifest is not None
    assert export.manifest["transactionTime"] == "2026-01-01T00:00:00Z"
    assert export.ignored == (tmp_path / "Stray.ndjson",)
    assert export.files_of("Procedure") == ()


def test_manifest_url_is_percent_decoded_only_when_it_is_a_url(tmp_path: Path) -> None:
    write_lines(tmp_path / "Patient 1.ndjson", [])
    write_lines(tmp_path / "Observation%201.ndjson", [])
    (tmp_path / MANIFEST_NAME).write_text(
        manifest(
            ("Patient", "https://bulk.example/Patient%201.ndjson"),
            ("Observation", "Observation%201.ndjson"),
        )
    )
    assert open_export(tmp_path).files == {
        "Observation": (tmp_path / "Observation%201.ndjson",),
        "Patient": (tmp_path / "Patient 1.ndjson",),
    }


def test_without_manifest_files_are_found_by_their_names(tmp_path: Path) -> None:
    names = [
        "Patient.ndjson",
        "Patient.000.ndjson",
        "Observation-2.ndjson",
        "Observation-1.ndjson",
        "patient.ndjson",  # not a capitalised type name
        "Condition.ndjson.bak",
        "notes.txt",
    ]
    for name in names:
        write_lines(tmp_path / name, [])
    (tmp_path / "MedicationRequest.ndjson").mkdir()  # a folder, not a file
    with gzip.open(tmp_path / "Condition.ndjson.gz", "wb") as stream:
        stream.write(b"")
    export = open_export(tmp_path)
    assert export.files == {
        "Condition": (tmp_path / "Condition.ndjson.gz",),
        "Observation": (tmp_path / "Observation-1.ndjson", tmp_path / "Observation-2.ndjson"),
        "Patient": (tmp_path / "Patient.000.ndjson", tmp_path / "Patient.ndjson"),
    }
    assert export.manifest is None
    assert export.ignored == (tmp_path / "Condition.ndjson.bak", tmp_path / "patient.ndjson")


def test_total_bytes_adds_the_sizes_of_the_export_files_only(tmp_path: Path) -> None:
    (tmp_path / "Patient.ndjson").write_bytes(b"x" * 100)
    (tmp_path / "Observation.1.ndjson").write_bytes(b"y" * 23)
    (tmp_path / "notes.txt").write_bytes(b"z" * 1000)
    assert open_export(tmp_path).total_bytes == 123


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"third-party Synthea sample not at {SYNTHEA}")
def test_synthea_sample_opens_and_scans_clean(connection: duckdb.DuckDBPyConnection) -> None:
    export = open_export(SYNTHEA)
    assert {"Patient", "Condition"} <= set(export.files)
    report = scan_integrity(export, connection)
    assert report.corrupt == ()
    assert report.corrupt_count == 0
    assert report.valid == report.lines
    assert all(count > 0 for count in report.lines.values())
    for resource_type, count in report.valid.items():
        relation = duckdb_resources_sql(export.files_of(resource_type), resource_type)
        assert connection.sql(f"SELECT count(*) FROM {relation}").fetchone() == (count,)


# -- open_export: what is not an export -------------------------------------------------------


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path / "nowhere")
    assert str(caught.value).startswith(f"{tmp_path / 'nowhere'}: does not exist")


def test_a_file_is_refused(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "Patient.ndjson", [resource("Patient", 1)])
    with pytest.raises(NotABulkExportError) as caught:
        open_export(file)
    assert str(caught.value).startswith(f"{file}: is a file, not a folder")


def test_empty_folder_is_not_an_export(tmp_path: Path) -> None:
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: holds no *.ndjson files and no manifest.json, so it is not a FHIR Bulk "
        "Data export (it is empty)"
    )


def test_folder_of_other_files_lists_five_of_them(tmp_path: Path) -> None:
    for name in ["a.csv", "b.txt", "c.json", "d.parquet", "e.xml", "f.md", "g.yaml"]:
        (tmp_path / name).write_text("x")
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: holds no *.ndjson files and no manifest.json, so it is not a FHIR Bulk "
        "Data export (found: a.csv, b.txt, c.json, d.parquet, e.xml and 2 more)"
    )


def test_ndjson_files_not_named_for_a_type_are_named_in_the_error(tmp_path: Path) -> None:
    write_lines(tmp_path / "patients.ndjson", [])
    write_lines(tmp_path / "export-1.ndjson", [])
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: holds 2 NDJSON file(s) but none named for a FHIR")
    assert message.endswith(": export-1.ndjson, patients.ndjson")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"output": [', "manifest.json: is not valid JSON (line 1, column 13: Expecting value)"),
        ("[1, 2]", "manifest.json: is a JSON list; a Bulk Data manifest is a JSON object"),
        ('{"outputs": []}', 'manifest.json: has no "output" list'),
        (
            '{"output": ["Patient.ndjson"]}',
            'manifest.json: output[0]: is not an object with "type"',
        ),
        (
            '{"output": [{"type": "patient", "url": "Patient.ndjson"}]}',
            "manifest.json: output[0]: type 'patient' is not a FHIR resource type name",
        ),
        ('{"output": [{"type": "Patient"}]}', 'manifest.json: output[0]: has no "url"'),
        (
            '{"output": [{"type": "Patient", "url": "https://bulk.example/"}]}',
            "manifest.json: output[0]: url 'https://bulk.example/' names no file",
        ),
    ],
)
def test_bad_manifest_is_named_with_its_problem(tmp_path: Path, text: str, expected: str) -> None:
    write_lines(tmp_path / "Patient.ndjson", [resource("Patient", 1)])
    (tmp_path / MANIFEST_NAME).write_text(text)
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}/{expected}")


def test_manifest_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_bytes(b'{"output": [], "x": "\xff"}')
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / MANIFEST_NAME}: is not UTF-8 text")


def test_manifest_listing_a_missing_file_names_it(tmp_path: Path) -> None:
    write_lines(tmp_path / "Patient.ndjson", [resource("Patient", 1)])
    (tmp_path / MANIFEST_NAME).write_text(
        manifest(
            ("Patient", "Patient.ndjson"), ("Observation", "https://x.example/o/Observation.ndjson")
        )
    )
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / MANIFEST_NAME}: output[1]: lists Observation.ndjson (url "
        f"'https://x.example/o/Observation.ndjson'), which is not in {tmp_path}; the export is "
        "incomplete or the files were moved"
    )


def test_manifest_listing_a_file_twice_is_refused(tmp_path: Path) -> None:
    write_lines(tmp_path / "Patient.ndjson", [resource("Patient", 1)])
    (tmp_path / MANIFEST_NAME).write_text(
        manifest(("Patient", "Patient.ndjson"), ("Patient", "./Patient.ndjson"))
    )
    with pytest.raises(NotABulkExportError, match=r"output\[1\]: lists Patient.ndjson again"):
        open_export(tmp_path)


def test_manifest_with_no_output_is_an_empty_export(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(manifest())
    export = open_export(tmp_path)
    assert export.files == {}
    assert export.total_bytes == 0


def test_other_compressions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "Patient.ndjson.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value).startswith(
        f"{tmp_path / 'Patient.ndjson.zst'}: is compressed (.zst); only gzip (.gz) is read"
    )


def test_gzip_content_under_a_plain_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Patient.ndjson").write_bytes(gzip.compress(b'{"resourceType": "Patient"}\n'))
    with pytest.raises(NotABulkExportError) as caught:
        open_export(tmp_path)
    assert str(caught.value).startswith(
        f"{tmp_path / 'Patient.ndjson'}: is gzip-compressed but its name does not end in .gz"
    )


def test_gz_name_on_plain_content_is_refused(tmp_path: Path) -> None:
    write_lines(tmp_path / "Patient.ndjson.gz", [resource("Patient", 1)])
    with pytest.raises(NotABulkExportError, match=r"Patient.ndjson.gz: is named .gz but is not"):
        open_export(tmp_path)


# -- scan_integrity ---------------------------------------------------------------------------


def test_each_kind_of_corrupt_line_is_found_at_its_line(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection
) -> None:
    report = scan_integrity(mixed_export, connection)
    assert problems(report.corrupt) == [
        ("Condition.ndjson", 2, "not valid JSON"),
        ("Condition.ndjson", 4, "resourceType is 'Patient', file holds 'Condition'"),
        *MIXED_PATIENT_PROBLEMS,
    ]
    assert report.lines == {"Condition": 4, "Patient": 10}
    assert report.valid == {"Condition": 2, "Patient": 3}
    assert report.corrupt_count == 9
    assert str(report.corrupt[0]) == f"{mixed_export.root / 'Condition.ndjson'}:2: not valid JSON"


def test_empty_and_blank_files_count_nothing(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    (tmp_path / "Procedure.ndjson").write_bytes(b"")
    (tmp_path / "Patient.ndjson").write_bytes(b"\n \n\t\n\n")
    export = open_export(tmp_path)
    report = scan_integrity(export, connection)
    assert report.lines == {"Patient": 0, "Procedure": 0}
    assert report.valid == {"Patient": 0, "Procedure": 0}
    assert report.corrupt_count == 0
    relation = duckdb_resources_sql(export.files_of("Procedure"), "Procedure")
    assert connection.sql(f"SELECT count(*) FROM {relation}").fetchone() == (0,)


def test_keep_limits_the_examples_not_the_count(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection
) -> None:
    three = scan_integrity(mixed_export, connection, keep=3)
    assert problems(three.corrupt) == [
        ("Condition.ndjson", 2, "not valid JSON"),
        ("Condition.ndjson", 4, "resourceType is 'Patient', file holds 'Condition'"),
        ("Patient.ndjson", 3, "not valid JSON"),
    ]
    assert three.corrupt_count == 9
    none = scan_integrity(mixed_export, connection, keep=0)
    assert none.corrupt == ()
    assert none.corrupt_count == 9
    assert none.lines == three.lines
    with pytest.raises(ValueError, match="keep must be 0 or more"):
        scan_integrity(mixed_export, connection, keep=-1)


def test_keep_counts_rejected_lines_in_line_order(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    """A line DuckDB cannot decode comes back from its rejects table, not the query; the two
    are merged so the examples are still the first ones in the file."""
    write_lines(tmp_path / "Patient.ndjson", [b"\xff", "x", b"\xfe", "y", b"\xfd"])
    report = scan_integrity(open_export(tmp_path), connection, keep=3)
    assert [(c.line, c.problem) for c in report.corrupt] == [
        (1, "not valid UTF-8 text"),
        (2, "not valid JSON"),
        (3, "not valid UTF-8 text"),
    ]
    assert report.corrupt_count == 5


def test_crlf_lines_and_a_byte_order_mark_are_read_as_written(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    lines: list[str | bytes] = [
        "\ufeff" + resource("Patient", 1),
        "",
        "oops",
        resource("Patient", 2),
        "",
        "[]",
    ]
    export_dir = tmp_path / "crlf"
    export_dir.mkdir()
    write_lines(export_dir / "Patient.ndjson", lines, newline=b"\r\n")
    report = scan_integrity(open_export(export_dir), connection)
    assert problems(report.corrupt) == [
        ("Patient.ndjson", 3, "not valid JSON"),
        ("Patient.ndjson", 6, "not a JSON object"),
    ]
    assert report.lines == {"Patient": 4}
    relation = duckdb_resources_sql(open_export(export_dir).files_of("Patient"), "Patient")
    assert [r["id"] for r in relation_rows(connection, relation)] == ["Pat-1", "Pat-2"]


def test_long_lines_and_awkward_characters_are_read_whole(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    awkward = 'tab\t, comma, "quotes", back\\slash \\x01, ünïcødé 🩸, \u2028 and |;'
    long_value = awkward * (1_600_000 // len(awkward))  # a line of more than 1.5 MB
    too_long = "x" * (MAX_LINE_BYTES + 10)
    write_lines(
        tmp_path / "Patient.ndjson",
        [
            resource("Patient", 1, text=long_value),
            resource("Patient", 2, text=awkward),
            resource("Patient", 3, text=too_long),
            "not json",
        ],
    )
    export = open_export(tmp_path)
    report = scan_integrity(export, connection)
    assert problems(report.corrupt) == [
        ("Patient.ndjson", 3, "longer than 16 MiB, the longest line read"),
        ("Patient.ndjson", 4, "not valid JSON"),
    ]
    rows = relation_rows(connection, duckdb_resources_sql(export.files_of("Patient"), "Patient"))
    assert [(r["id"], r["text"]) for r in rows] == [("Pat-1", long_value), ("Pat-2", awkward)]


def test_a_resource_type_that_goes_on_and_on_is_shortened_in_the_report(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    write_lines(tmp_path / "Patient.ndjson", [json.dumps({"resourceType": "P" * 100})])
    (corrupt,) = scan_integrity(open_export(tmp_path), connection).corrupt
    assert corrupt.problem == f"resourceType is '{'P' * 60}…', file holds 'Patient'"


def big_file_lines() -> tuple[list[str | bytes], list[tuple[int, str]]]:
    """150,000 lines, ~80 MB: more than two of DuckDB's read buffers (2 x MAX_LINE_BYTES), so
    the file is split between threads, and its verdicts written back in order."""
    note = "n" * 480
    lines: list[str | bytes] = [
        resource("Observation", n, value=n * 7, note=note) for n in range(150_000)
    ]
    damage: dict[int, tuple[str | bytes, str]] = {
        1: ("{broken", "not valid JSON"),
        2: ("", ""),
        77_777: (resource("Patient", 1), "resourceType is 'Patient', file holds 'Observation'"),
        77_778: (b"\xc3\x28 bad UTF-8", "not valid UTF-8 text"),
        100_000: ("", ""),
        100_001: ("42", "not a JSON object"),
        150_000: ('{"resourceType": "Observation"', "not valid JSON"),
    }
    for line_number, (text, _problem) in damage.items():
        lines[line_number - 1] = text
    expected = [(n, problem) for n, (_text, problem) in sorted(damage.items()) if problem]
    return lines, expected


def test_line_numbers_are_exact_in_a_file_read_in_parallel(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    lines, expected = big_file_lines()
    write_lines(tmp_path / "Observation.ndjson", lines)
    report = scan_integrity(open_export(tmp_path), connection)
    assert [(c.line, c.problem) for c in report.corrupt] == expected
    assert report.lines == {"Observation": 150_000 - 2}
    assert report.valid == {"Observation": 150_000 - 2 - len(expected)}


def test_gzip_files_are_read_with_the_same_line_numbers(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    lines, expected = big_file_lines()
    plain = write_lines(tmp_path / "Observation.ndjson", lines)
    (tmp_path / "Observation.ndjson.gz").write_bytes(gzip.compress(plain.read_bytes(), 1))
    plain.unlink()
    export = open_export(tmp_path)
    report = scan_integrity(export, connection)
    assert [(c.line, c.problem) for c in report.corrupt] == expected
    relation = duckdb_resources_sql(export.files_of("Observation"), "Observation")
    assert connection.sql(f"SELECT count(*) FROM {relation}").fetchone() == (
        report.valid["Observation"],
    )


def test_scan_numbers_lines_even_when_the_connection_may_reorder(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    lines, expected = big_file_lines()
    write_lines(tmp_path / "Observation.ndjson", lines)
    connection.execute("SET preserve_insertion_order = false")
    report = scan_integrity(open_export(tmp_path), connection)
    assert [(c.line, c.problem) for c in report.corrupt] == expected
    setting = connection.sql("SELECT current_setting('preserve_insertion_order')").fetchone()
    assert setting == (False,)


def test_scan_leaves_no_tables_behind(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection
) -> None:
    scan_integrity(mixed_export, connection)
    assert connection.sql("SELECT table_name FROM duckdb_tables()").fetchall() == []


def test_file_names_with_glob_characters_are_read_literally(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection, spark_session: Any
) -> None:
    write_lines(tmp_path / "Patient[1].ndjson", [resource("Patient", 1)])
    write_lines(tmp_path / "Patient1.ndjson", [resource("Patient", 2), resource("Patient", 3)])
    write_lines(tmp_path / "it's *.ndjson", [resource("Patient", 4)])
    (tmp_path / MANIFEST_NAME).write_text(
        manifest(("Patient", "Patient[1].ndjson"), ("Patient", "it's *.ndjson"))
    )
    export = open_export(tmp_path)
    assert scan_integrity(export, connection).lines == {"Patient": 2}
    relation = duckdb_resources_sql(export.files_of("Patient"), "Patient")
    assert sorted(r["id"] for r in relation_rows(connection, relation)) == ["Pat-1", "Pat-4"]
    frame = spark_resources(spark_session, export.files_of("Patient"), "Patient")
    assert sorted(json.loads(row.resource)["id"] for row in frame.collect()) == ["Pat-1", "Pat-4"]


# -- the valid-line relations -----------------------------------------------------------------


def test_duckdb_relation_yields_exactly_the_valid_lines_as_json(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection
) -> None:
    relation = duckdb_resources_sql(mixed_export.files_of("Patient"), "Patient")
    assert [r["id"] for r in relation_rows(connection, relation)] == MIXED_PATIENT_VALID_IDS
    assert connection.sql(f"SELECT DISTINCT typeof(resource) FROM {relation}").fetchall() == [
        ("JSON",)
    ]
    assert relation.startswith("(SELECT ")
    assert relation.endswith(")")


def test_duckdb_relation_reads_several_files_and_quotes_paths(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    folder = tmp_path / "o'brien's export"
    folder.mkdir()
    write_lines(folder / "Patient.1.ndjson", [resource("Patient", 1), "junk"])
    write_lines(folder / "Patient.2.ndjson", [resource("Patient", 2)])
    export = open_export(folder)
    relation = duckdb_resources_sql(export.files_of("Patient"), "Patient")
    assert sorted(r["id"] for r in relation_rows(connection, relation)) == ["Pat-1", "Pat-2"]


def test_duckdb_relation_of_no_files_is_empty(connection: duckdb.DuckDBPyConnection) -> None:
    relation = duckdb_resources_sql([], "Patient")
    assert connection.sql(f"SELECT count(*) FROM {relation}").fetchone() == (0,)


def test_duckdb_relation_is_a_source_for_compiled_views(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection
) -> None:
    view = {
        "resourceType": "ViewDefinition",
        "resource": "Patient",
        "status": "active",
        "select": [{"column": [{"name": "id", "path": "id"}]}],
    }
    relation = duckdb_resources_sql(mixed_export.files_of("Patient"), "Patient")
    compiled = compile_view(view, "duckdb", source=relation)
    assert connection.sql(compiled.sql).fetchall() == [(i,) for i in MIXED_PATIENT_VALID_IDS]


# -- Spark: the same lines --------------------------------------------------------------------

# Lines where a lenient JSON reader could go wrong: trailing text, a second value, quoting
# styles JSON does not allow, bytes that are not UTF-8, a lone CR splitting a line.
ODD_LINES: list[str | bytes] = [
    resource("Patient", 10) + " trailing words",
    resource("Patient", 11) + "}",
    resource("Patient", 12) + "]",
    resource("Patient", 13) + ",",
    resource("Patient", 14) + ', "k": 1',
    resource("Patient", 15) + ", 7",
    "{'resourceType': 'Patient', 'id': 'single-quotes'}",
    '{resourceType: "Patient"}',
    '{"resourceType": "Patient", "id": "raw\ttab"}',
    '{"resourceType": "Patient", "id": "bad \\q escape"}',
    '{"resourceType": "Patient", "n": 01}',
    '{"resourceType": "Patient" /* comment */}',
    '{"resourceType": "Pat\\u0069ent", "id": "escaped-type"}',
    '{"resourceType": "Patient", "id": "nested", "contained": [{"resourceType": "Observation"}]}',
    '{"contained": {"resourceType": "Patient"}}',
    '{"resourceType": ["Patient"]}',
    '{"resourceType": null}',
    '"Patient"',
    "\ufeff" + resource("Patient", 16),
    "  \t" + resource("Patient", 17) + "\t ",
    b'{"resourceType": "Patient", "id": "lone-cr"}\r{"resourceType": "Patient", "id": "after-cr"}',
    b"\x00" + resource("Patient", 18).encode(),
    b'{"resourceType": "Patient", "id": "latin-1 \xe9"}',
]
ODD_VALID_IDS = ["Pat-16", "Pat-17", "after-cr", "escaped-type", "lone-cr", "nested"]


def spark_ids(spark: Any, files: Sequence[Path], resource_type: str) -> list[str]:
    rows = spark_resources(spark, files, resource_type).collect()
    return sorted(json.loads(row.resource).get("id", "") for row in rows)


def duckdb_ids(
    connection: duckdb.DuckDBPyConnection, files: Sequence[Path], resource_type: str
) -> list[str]:
    """By DuckDB's own JSON reading: it keeps texts Python's json module would refuse."""
    relation = duckdb_resources_sql(files, resource_type)
    rows = connection.sql(f"SELECT json_extract_string(resource, '$.id') FROM {relation}")
    return sorted(identifier or "" for (identifier,) in rows.fetchall())


def test_spark_keeps_exactly_the_lines_duckdb_keeps(
    mixed_export: BulkExport, connection: duckdb.DuckDBPyConnection, spark_session: Any
) -> None:
    for resource_type in mixed_export.files:
        files = mixed_export.files_of(resource_type)
        assert spark_ids(spark_session, files, resource_type) == duckdb_ids(
            connection, files, resource_type
        )
    assert spark_ids(spark_session, mixed_export.files_of("Patient"), "Patient") == (
        MIXED_PATIENT_VALID_IDS
    )
    frame = spark_resources(spark_session, mixed_export.files_of("Patient"), "Patient")
    assert frame.columns == ["resource"]
    assert dict(frame.dtypes) == {"resource": "string"}


def test_odd_lines_are_judged_alike_on_both_engines(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection, spark_session: Any
) -> None:
    file = write_lines(tmp_path / "Patient.ndjson", ODD_LINES)
    assert duckdb_ids(connection, [file], "Patient") == ODD_VALID_IDS
    assert spark_ids(spark_session, [file], "Patient") == ODD_VALID_IDS
    report = scan_integrity(open_export(tmp_path), connection)
    # The lone CR makes two lines of one, as Spark's reader does too.
    assert report.lines == {"Patient": len(ODD_LINES) + 1}
    assert report.valid == {"Patient": len(ODD_VALID_IDS)}


def test_spark_reads_gzip_and_drops_overlong_lines(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection, spark_session: Any
) -> None:
    lines = [resource("Patient", 1), resource("Patient", 2, text="x" * (MAX_LINE_BYTES + 1)), "no"]
    data = b"\n".join(line.encode() for line in lines) + b"\n"
    file = tmp_path / "Patient.ndjson.gz"
    file.write_bytes(gzip.compress(data))
    assert spark_ids(spark_session, [file], "Patient") == ["Pat-1"]
    assert duckdb_ids(connection, [file], "Patient") == ["Pat-1"]


def test_spark_relation_of_no_files_is_empty(spark_session: Any) -> None:
    assert spark_resources(spark_session, [], "Patient").count() == 0


def test_known_engine_differences_are_the_documented_ones(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection, spark_session: Any
) -> None:
    """The module docstring names these corners; if an engine changes, update it."""
    file = write_lines(
        tmp_path / "Patient.ndjson",
        [
            '{"resourceType": "Patient", "id": "trailing-comma", "a": [1, 2,]}',
            '{"resourceType": "Patient", "id": "lone-surrogate \\ud800"}',
            '{"resourceType": "Patient", "resourceType": "Observation", "id": "first"}',
            '{"resourceType": "Observation", "resourceType": "Patient", "id": "last"}',
        ],
    )
    assert duckdb_ids(connection, [file], "Patient") == ["first", "trailing-comma"]
    assert spark_ids(spark_session, [file], "Patient") == ["last", "lone-surrogate \ud800"]


# -- a property: any mix of lines is numbered and filtered exactly ----------------------------

LINE_KINDS = st.sampled_from(
    ["valid", "blank", "spaces", "text", "array", "other-type", "no-type", "latin-1"]
)


def line_of(kind: str, number: int) -> tuple[str | bytes, str | None]:
    """A line of the given kind, and the problem the scan must report (None: not corrupt)."""
    lines: dict[str, tuple[str | bytes, str | None]] = {
        "valid": (resource("Patient", number), None),
        "blank": ("", None),
        "spaces": (" \t  ", None),
        "text": (f"line {number}, not JSON", "not valid JSON"),
        "array": (f"[{number}]", "not a JSON object"),
        "other-type": (
            resource("Condition", number),
            "resourceType is 'Condition', file holds 'Patient'",
        ),
        "no-type": (json.dumps({"id": number}), "no resourceType"),
        "latin-1": (
            f'{{"resourceType": "Patient", "id": "{number}\xe9"}}'.encode("latin-1"),
            "not valid UTF-8 text",
        ),
    }
    return lines[kind]


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    files=st.lists(st.lists(LINE_KINDS, max_size=30), min_size=1, max_size=3),
    keep=st.integers(0, 12),
)
def test_any_mix_of_lines_is_numbered_and_filtered_exactly(
    tmp_path_factory: pytest.TempPathFactory, files: list[list[str]], keep: int
) -> None:
    folder = tmp_path_factory.mktemp("mix")
    expected_corrupt: list[tuple[str, int, str]] = []
    expected_valid: list[str] = []
    for file_index, kinds in enumerate(files):
        name = f"Patient.{file_index}.ndjson"
        lines = []
        for line_number, kind in enumerate(kinds, start=1):
            text, problem = line_of(kind, 1000 * file_index + line_number)
            lines.append(text)
            if problem is not None:
                expected_corrupt.append((name, line_number, problem))
            elif kind == "valid":
                expected_valid.append(f"Pat-{1000 * file_index + line_number}")
        write_lines(folder / name, lines)
    export = open_export(folder)
    with duckdb.connect() as connection:
        report = scan_integrity(export, connection, keep=keep)
        assert problems(report.corrupt) == expected_corrupt[:keep]
        assert report.corrupt_count == len(expected_corrupt)
        assert report.valid == {"Patient": len(expected_valid)}
        assert report.lines == {"Patient": len(expected_valid) + len(expected_corrupt)}
        assert duckdb_ids(connection, export.files_of("Patient"), "Patient") == sorted(
            expected_valid
        )
    shutil.rmtree(folder)
