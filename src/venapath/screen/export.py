"""A FHIR Bulk Data export on disk: which NDJSON files hold which resource type, and which of
their lines are usable.

Why the care: a Bulk export is the product of another system, often gigabytes, and one bad
line must neither stop a screen nor pass unnoticed. Each file is read as raw lines by DuckDB
(one streaming pass, in the engine, never `json.loads` per line in Python); a line is valid
when it is a JSON object whose `resourceType` is the file's. Corrupt lines are counted and
reported with file and line number; the views read only the valid ones, through the same
test, on DuckDB and on Spark.

Files are plain `.ndjson`: a gzip-compressed export (`.ndjson.gz`) is refused with a message,
as DuckDB's line reader and Spark's text reader would read it but line numbers in the report
would then refer to the uncompressed text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import duckdb

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MANIFEST_NAME = "manifest.json"
_TYPE_IN_NAME = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)(?:[.\-][^/]*)?\.ndjson$")


class NotABulkExportError(ValueError):
    """The folder is not a FHIR Bulk Data export (the message says why, naming the path)."""


@dataclass(frozen=True)
class CorruptLine:
    file: Path
    line: int
    problem: str


@dataclass(frozen=True)
class BulkExport:
    root: Path
    files: Mapping[str, tuple[Path, ...]]
    manifest: Mapping[str, Any] | None

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for paths in self.files.values() for path in paths)

    def files_of(self, resource_type: str) -> tuple[Path, ...]:
        return self.files.get(resource_type, ())


@dataclass(frozen=True)
class IntegrityReport:
    lines: Mapping[str, int]
    valid: Mapping[str, int]
    corrupt: tuple[CorruptLine, ...]
    corrupt_count: int


# -------------------------------------------------------------------------------- opening


def open_export(path: Path) -> BulkExport:
    """The export in `path`, from its manifest when it has one, else from its file names."""
    if not path.exists():
        raise NotABulkExportError(f"{path}: does not exist")
    if not path.is_dir():
        raise NotABulkExportError(f"{path}: is a file, not a folder of a FHIR Bulk Data export")
    manifest_path = path / MANIFEST_NAME
    if manifest_path.exists():
        manifest = _read_manifest(manifest_path)
        return BulkExport(path, _files_from_manifest(path, manifest), manifest)
    return BulkExport(path, _files_from_names(path), None)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotABulkExportError(f"{path}: not a readable JSON manifest ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
        raise NotABulkExportError(
            f"{path}: a Bulk Data manifest is a JSON object with an 'output' list"
        )
    return manifest


def _files_from_manifest(root: Path, manifest: Mapping[str, Any]) -> dict[str, tuple[Path, ...]]:
    files: dict[str, list[Path]] = {}
    for index, item in enumerate(manifest["output"]):
        where = f"{root / MANIFEST_NAME}: output[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise NotABulkExportError(f"{where}: needs a 'type' and a 'url'")
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise NotABulkExportError(f"{where}: needs a 'url'")
        name = Path(urlparse(url).path or url).name
        path = root / name
        _check_plain(path)
        if not path.is_file():
            raise NotABulkExportError(f"{where}: lists {name}, which is not in {root}")
        files.setdefault(item["type"], []).append(path)
    return {kind: tuple(sorted(paths)) for kind, paths in sorted(files.items())}


def _files_from_names(root: Path) -> dict[str, tuple[Path, ...]]:
    files: dict[str, list[Path]] = {}
    for path in sorted(root.iterdir()):
        _check_plain(path)
        match = _TYPE_IN_NAME.match(path.name)
        if match and path.is_file():
            files.setdefault(match["type"], []).append(path)
    if not files:
        seen = sorted(p.name for p in root.iterdir())[:5]
        listing = f" (found: {', '.join(seen)})" if seen else " (it is empty)"
        raise NotABulkExportError(
            f"{root}: holds no <ResourceType>.ndjson files and no {MANIFEST_NAME}, so it is "
            f"not a FHIR Bulk Data export{listing}"
        )
    return {kind: tuple(paths) for kind, paths in sorted(files.items())}


def _check_plain(path: Path) -> None:
    if path.name.endswith(".ndjson.gz"):
        raise NotABulkExportError(
            f"{path}: compressed NDJSON is not read; decompress it first (gunzip) so corrupt "
            "lines can be reported by their line number"
        )


# ------------------------------------------------------------------------------ lines


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _lines_sql(path: Path) -> str:
    """Raw lines of one file, in order, blank ones as NULL (the \\x01 delimiter never
    occurs in JSON text, and no quoting means every byte of a line is kept)."""
    return (
        f"read_csv({_sql_text(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = '\\x01', "
        "quote = '', escape = '', header = false, auto_detect = false, "
        "max_line_size = 33554432)"
    )


def _problem_sql(resource_type: str) -> str:
    """SQL: NULL for a valid line, else a short description of what is wrong with it."""
    expected = _sql_text(resource_type)
    return (
        "CASE WHEN NOT json_valid(line) THEN 'not valid JSON' "
        "WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object' "
        "WHEN json_extract_string(line, '$.resourceType') IS NULL THEN 'no resourceType' "
        f"WHEN json_extract_string(line, '$.resourceType') <> {expected} THEN "
        f"'resourceType is ' || json_extract_string(line, '$.resourceType') || "
        f"', file holds ' || {expected} ELSE NULL END"
    )


_NOT_BLANK = "line IS NOT NULL AND trim(line) <> ''"


def scan_integrity(
    export: BulkExport, connection: duckdb.DuckDBPyConnection, *, keep: int = 100
) -> IntegrityReport:
    """Count every file's lines and valid resources; locate corrupt lines (first `keep`).

    One pass per file for the counts; a second, numbered pass only for a file that has a
    corrupt line (exports are usually clean, and numbering forces an ordered read)."""
    lines: dict[str, int] = {}
    valid: dict[str, int] = {}
    corrupt: list[CorruptLine] = []
    total_corrupt = 0
    for resource_type, paths in export.files.items():
        for path in paths:
            read, bad = _counts(connection, path, resource_type)
            lines[resource_type] = lines.get(resource_type, 0) + read
            valid[resource_type] = valid.get(resource_type, 0) + read - bad
            total_corrupt += bad
            if bad and len(corrupt) < keep:
                corrupt.extend(_locate(connection, path, resource_type, keep - len(corrupt)))
    return IntegrityReport(lines, valid, tuple(corrupt), total_corrupt)


def _valid_sql(resource_type: str) -> str:
    """SQL: the line is valid (two JSON parses; `_problem_sql` says why one is not)."""
    return (  # CASE, not AND: DuckDB evaluates both sides of an AND, and would parse bad JSON
        "(CASE WHEN json_valid(line) AND starts_with(ltrim(line), '{') THEN "
        f"coalesce(json_extract_string(line, '$.resourceType') = {_sql_text(resource_type)}, "
        "false) ELSE false END)"
    )


def _counts(
    connection: duckdb.DuckDBPyConnection, path: Path, resource_type: str
) -> tuple[int, int]:
    row = connection.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT {_valid_sql(resource_type)}) "
        f"FROM {_lines_sql(path)} WHERE {_NOT_BLANK}"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _locate(
    connection: duckdb.DuckDBPyConnection, path: Path, resource_type: str, limit: int
) -> list[CorruptLine]:
    rows = connection.execute(
        f"SELECT number, problem FROM (SELECT row_number() OVER () AS number, line "
        f"FROM {_lines_sql(path)}) AS numbered, "
        f"LATERAL (SELECT {_problem_sql(resource_type)} AS problem) "
        f"WHERE {_NOT_BLANK} AND problem IS NOT NULL ORDER BY number LIMIT {int(limit)}"
    ).fetchall()
    return [CorruptLine(path, int(number), str(problem)) for number, problem in rows]


def duckdb_resources_sql(files: Sequence[Path], resource_type: str) -> str:
    """A DuckDB relation `(SELECT ... AS resource ...)` of the valid lines of `files`, as JSON.

    Read with DuckDB's NDJSON object reader (faster than the line reader the scan uses, as
    it hands over parsed JSON); a line it cannot parse becomes NULL and, like a line of
    another type or a non-object, is left out here as the scan counts it out."""
    paths = ", ".join(_sql_text(str(path)) for path in files)
    return (
        f"(SELECT json AS resource FROM read_ndjson_objects([{paths}], ignore_errors = true, "
        f"maximum_object_size = 33554432) WHERE json_type(json) = 'OBJECT' AND "
        f"json_extract_string(json, '$.resourceType') = {_sql_text(resource_type)})"
    )


def spark_resources(spark: SparkSession, files: Sequence[Path], resource_type: str) -> DataFrame:
    """A Spark DataFrame of one `resource` text column: the valid lines of `files`."""
    from pyspark.sql import functions as F  # noqa: N812

    frame = spark.read.text([str(path) for path in files]).withColumnRenamed("value", "resource")
    declared = F.get_json_object("resource", "$.resourceType")
    is_object = F.ltrim(F.col("resource")).startswith("{")
    parsed = F.from_json("resource", "MAP<STRING, STRING>").isNotNull()
    return frame.where(
        (F.trim("resource") != "") & is_object & parsed & (declared == F.lit(resource_type))
    )
