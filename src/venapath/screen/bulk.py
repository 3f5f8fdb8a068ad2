"""A FHIR Bulk Data export on disk: which NDJSON files hold which resource type, and which of
their lines can be trusted.

Why the care: a Bulk export is another system's output, often gigabytes, and one bad line
must neither stop a population screen nor pass unnoticed. So every line is judged, once, inside
DuckDB (never `json.loads` per line in Python), corrupt lines are counted and reported by file
and line number, and the views read only the valid lines, through the same rule on DuckDB and
on Spark.

The rule. Lines end at LF, CRLF or a lone CR (what both DuckDB's and Spark's line readers
split on). A line holding nothing but spaces and tabs is ignored: not counted, not corrupt. A
byte-order mark at the start of a line is ignored (Windows tools write one). Any other line is
valid when it is one JSON value, that value is an object, and its `resourceType` is the file's
resource type; otherwise it is corrupt. A line that is not UTF-8, or longer than
`MAX_LINE_BYTES`, is corrupt too: DuckDB cannot hand it over, and Spark is told to drop it.

How lines are read. DuckDB has no plain line reader, so `read_csv` is told to see one column
per line: no quote, no escape, and a field delimiter (the four bytes U+0001..U+0004 in a row)
that cannot occur in valid JSON; blank lines come back as NULL. Each line's verdict is written,
on all of DuckDB's threads, to a temporary table that keeps the file's order (insertion order
preserved), so a row's position there is its line's position. Lines DuckDB cannot hand over
(not UTF-8, too long) come from its rejects table with their line numbers, and the two are
merged. A corrupt line that happens to contain the delimiter is cut there; the part before it
is what gets judged.

Compression. `.ndjson.gz` files are read: DuckDB's `read_csv` and Spark's text reader both
decompress by the `.gz` name, and line numbers count lines of the decompressed text (what
`zcat FILE | sed -n 'Np'` shows). A gzip file is read by one thread (decompression cannot be
split). Other compressions are refused, and so is gzip content under a name without `.gz`
(neither engine would notice it).

Known corners where the engines still disagree, because neither JSON parser can be set to
match the other: DuckDB accepts a trailing comma inside an object or array (`[1,2,]`), Spark
does not; Spark accepts an escaped lone UTF-16 surrogate (`"\\ud800"`), DuckDB does not; with
`resourceType` given twice DuckDB reads the first, Spark the last. FHIR forbids all three.

A file that switches from LF to CRLF line ends part-way is numbered by DuckDB's reader, which
then counts CR and LF as two line ends: later line numbers run ahead. Consistent LF or CRLF
files are numbered exactly.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlparse

import duckdb

from venapath.errors import ArgumentError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "MANIFEST_NAME",
    "MAX_LINE_BYTES",
    "BulkExport",
    "CorruptLine",
    "IntegrityReport",
    "NotABulkExportError",
    "duckdb_resources_sql",
    "open_export",
    "scan_integrity",
    "spark_resources",
]

MANIFEST_NAME: Final = "manifest.json"
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
"""Longest line read, in bytes; longer lines are corrupt. The same as DuckDB's default largest
JSON object. DuckDB reads in buffers of twice this, so it bounds memory (larger buffers also
read slower); a FHIR resource this large is almost always an embedded attachment."""

_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
_NDJSON_NAME = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)(?:[.\-].*)?\.ndjson(?P<suffix>\.[^.]+)?$")
_GZIP_MAGIC: Final = b"\x1f\x8b"
_OTHER_COMPRESSIONS: Final = (".bz2", ".xz", ".zst", ".zstd", ".lz4", ".snappy", ".zip", ".br")
_SHOWN_NAMES: Final = 5

_LINE_VALID: Final = 0
_LINE_BLANK: Final = 1
_LINE_CORRUPT: Final = 2
_SHOWN_VALUE_CHARS: Final = 60


class NotABulkExportError(ArgumentError):
    """The folder cannot be read as a FHIR Bulk Data export; the message names the folder or
    file and says what was expected."""


@dataclass(frozen=True)
class CorruptLine:
    file: Path
    line: int
    """1-based, counting every line of the file, blank ones included."""
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"


@dataclass(frozen=True)
class BulkExport:
    root: Path
    files: Mapping[str, tuple[Path, ...]]
    """FHIR resource type -> its NDJSON files, sorted; types in alphabetical order."""
    manifest: Mapping[str, Any] | None
    """The parsed `$export` completion manifest, when the folder has one."""
    ignored: tuple[Path, ...] = ()
    """NDJSON files in the folder that are not part of the export: not listed in the manifest,
    or (without one) not named for a resource type. Worth showing: they are silently unread."""

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for paths in self.files.values() for path in paths)

    def files_of(self, resource_type: str) -> tuple[Path, ...]:
        return self.files.get(resource_type, ())


@dataclass(frozen=True)
class IntegrityReport:
    lines: Mapping[str, int]
    """Resource type -> non-blank lines read."""
    valid: Mapping[str, int]
    """Resource type -> lines that are valid resources of that type."""
    corrupt: tuple[CorruptLine, ...]
    """The first `keep` corrupt lines, in file then line order."""
    corrupt_count: int
    """All corrupt lines, also those past `keep`."""


# -- opening an export ----------------------------------------------------------------------


def open_export(path: Path) -> BulkExport:
    """The export in folder `path`: from its `manifest.json` when there is one (the server's
    word on which file holds which type), else from the file names.

    Only checks names, presence and compression; the lines are judged by `scan_integrity`."""
    root = Path(path)
    if not root.exists():
        raise NotABulkExportError(
            f"{root}: does not exist; expected a FHIR Bulk Data export folder"
        )
    if not root.is_dir():
        raise NotABulkExportError(
            f"{root}: is a file, not a folder; expected the folder of a FHIR Bulk Data export "
            "(NDJSON files, usually with a manifest.json)"
        )
    manifest_path = root / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = _read_manifest(manifest_path)
        files = _files_from_manifest(root, manifest)
    else:
        manifest = None
        files = _files_from_names(root)
    for paths in files.values():
        for file in paths:
            _check_compression(file)
    listed = {file for paths in files.values() for file in paths}
    ignored = tuple(p for p in _ndjson_like_files(root) if p not in listed)
    return BulkExport(root=root, files=files, manifest=manifest, ignored=ignored)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise NotABulkExportError(f"{path}: cannot be read ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise NotABulkExportError(f"{path}: is not UTF-8 text ({error.reason})") from error
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotABulkExportError(
            f"{path}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    if not isinstance(manifest, dict):
        raise NotABulkExportError(
            f"{path}: is a JSON {type(manifest).__name__}; a Bulk Data manifest is a JSON "
            'object with an "output" list'
        )
    if not isinstance(manifest.get("output"), list):
        raise NotABulkExportError(
            f'{path}: has no "output" list; a Bulk Data manifest lists its files as '
            '"output": [{"type": ..., "url": ...}]'
        )
    return manifest


def _files_from_manifest(root: Path, manifest: Mapping[str, Any]) -> dict[str, tuple[Path, ...]]:
    manifest_path = root / MANIFEST_NAME
    files: dict[str, list[Path]] = {}
    listed_at: dict[Path, int] = {}
    for index, entry in enumerate(manifest["output"]):
        where = f"{manifest_path}: output[{index}]"
        resource_type, url = _manifest_entry(entry, where)
        name = _last_segment(url)
        if not name:
            raise NotABulkExportError(f"{where}: url {url!r} names no file")
        file = root / name
        if file in listed_at:
            raise NotABulkExportError(
                f"{where}: lists {name} again (already output[{listed_at[file]}]); "
                "its lines would be counted twice"
            )
        if not file.is_file():
            raise NotABulkExportError(
                f"{where}: lists {name} (url {url!r}), which is not in {root}; "
                "the export is incomplete or the files were moved"
            )
        listed_at[file] = index
        files.setdefault(resource_type, []).append(file)
    return {kind: tuple(sorted(paths)) for kind, paths in sorted(files.items())}


def _manifest_entry(entry: object, where: str) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise NotABulkExportError(f'{where}: is not an object with "type" and "url"')
    resource_type = entry.get("type")
    url = entry.get("url")
    if not isinstance(resource_type, str) or not _RESOURCE_TYPE.match(resource_type):
        raise NotABulkExportError(
            f"{where}: type {resource_type!r} is not a FHIR resource type name (like 'Patient')"
        )
    if not isinstance(url, str) or not url.strip():
        raise NotABulkExportError(f'{where}: has no "url" naming its file')
    return resource_type, url


def _last_segment(url: str) -> str:
    """The file name an output `url` points at: relative name, absolute path, file:// or
    http(s) URL alike (downloaded files keep the URL's last segment as their name)."""
    parsed = urlparse(url)
    is_url = parsed.scheme.lower() in {"file", "http", "https"}
    path = unquote(parsed.path) if is_url else url
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1]


def _files_from_names(root: Path) -> dict[str, tuple[Path, ...]]:
    files: dict[str, list[Path]] = {}
    for file in sorted(root.iterdir()):
        match = _NDJSON_NAME.match(file.name)
        if not match or not file.is_file():
            continue
        suffix = (match["suffix"] or "").lower()
        if suffix in ("", ".gz") or suffix in _OTHER_COMPRESSIONS:
            files.setdefault(match["type"], []).append(file)  # other compressions refused later
    if not files:
        raise NotABulkExportError(_no_ndjson_message(root))
    return {kind: tuple(paths) for kind, paths in sorted(files.items())}


def _no_ndjson_message(root: Path) -> str:
    ndjson = [p.name for p in _ndjson_like_files(root)]
    if ndjson:
        return (
            f"{root}: holds {len(ndjson)} NDJSON file(s) but none named for a FHIR resource "
            f"type (<ResourceType>.ndjson, <ResourceType>.<part>.ndjson or "
            f"<ResourceType>-<part>.ndjson) and no {MANIFEST_NAME} saying which type each "
            f"holds: {_some_names(ndjson)}"
        )
    names = sorted(p.name for p in root.iterdir())
    found = f"found: {_some_names(names)}" if names else "it is empty"
    return (
        f"{root}: holds no *.ndjson files and no {MANIFEST_NAME}, so it is not a FHIR Bulk "
        f"Data export ({found})"
    )


def _some_names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    more = len(names) - _SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _ndjson_like_files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if ".ndjson" in p.name.lower() and p.is_file())


def _check_compression(file: Path) -> None:
    """Both engines pick decompression by the file name, so name and content must agree."""
    name = file.name.lower()
    for suffix in _OTHER_COMPRESSIONS:
        if name.endswith(suffix):
            raise NotABulkExportError(
                f"{file}: is compressed ({suffix}); only gzip (.gz) is read by both DuckDB "
                "and Spark: decompress it, or recompress it with gzip"
            )
    try:
        with file.open("rb") as stream:
            head = stream.read(len(_GZIP_MAGIC))
    except OSError as error:
        raise NotABulkExportError(f"{file}: cannot be read ({error.strerror})") from error
    named_gzip = name.endswith(".gz")
    is_gzip = head == _GZIP_MAGIC
    if named_gzip and not is_gzip:
        raise NotABulkExportError(
            f"{file}: is named .gz but is not gzip-compressed; rename it without .gz"
        )
    if is_gzip and not named_gzip:
        raise NotABulkExportError(
            f"{file}: is gzip-compressed but its name does not end in .gz, and DuckDB and "
            "Spark decompress by the name: decompress it (gunzip) or add .gz to its name "
            "(and to its manifest url)"
        )


# -- reading lines in DuckDB ----------------------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_lines_sql(files: Sequence[Path], rejects: tuple[str, str] | None = None) -> str:
    """`read_csv` set to return each line whole as column `line` (NULL when empty).

    `ignore_errors` makes lines DuckDB cannot decode skip instead of failing the query; with
    `rejects` (table names) they are recorded, with their line numbers."""
    paths = ", ".join(_sql_string(_duckdb_path(file)) for file in files)
    options = [
        "columns = {'line': 'VARCHAR'}",
        "delim = chr(1) || chr(2) || chr(3) || chr(4)",
        "quote = ''",
        "escape = ''",
        "header = false",
        "auto_detect = false",
        "strict_mode = false",
        "ignore_errors = true",
        f"max_line_size = {MAX_LINE_BYTES}",
        f"buffer_size = {2 * MAX_LINE_BYTES}",
    ]
    if rejects is not None:
        table, scan = rejects
        options += [
            "store_rejects = true",
            f"rejects_table = '{table}'",
            f"rejects_scan = '{scan}'",
        ]
    return f"read_csv([{paths}], {', '.join(options)})"


def _duckdb_path(file: Path) -> str:
    """DuckDB expands glob characters in paths (`Patient[1].ndjson` would read
    `Patient1.ndjson`); a one-character class like `[[]` matches the character itself."""
    return re.sub(r"([*?\[])", r"[\1]", str(file))


_TEXT_SQL: Final = "CASE WHEN starts_with(line, chr(65279)) THEN substr(line, 2) ELSE line END"
"""Column `line` without a leading byte-order mark."""


def _valid_sql(resource_type: str) -> str:
    """Whether column `line` is valid, in one JSON parse for a usual line: `json_extract_string`
    fails on text that is not JSON (`try` makes that NULL) and is NULL for a non-object or a
    missing key, so equality with the type is the whole rule.

    `try` is slow when it fails (an exception per line), so it only gets lines shaped like an
    object, `{...}`; the rest (cut short, padded, with a byte-order mark) is checked with
    `json_valid` first, which does not raise. CASE evaluates a branch only for its rows."""
    expected = _sql_string(resource_type)
    return (
        "CASE WHEN starts_with(line, '{') AND ends_with(line, '}') "
        f"THEN try(json_extract_string(line, '$.resourceType')) = {expected} "
        f"WHEN json_valid({_TEXT_SQL}) "
        f"THEN json_extract_string({_TEXT_SQL}, '$.resourceType') = {expected} END"
    )


def _kind_sql(resource_type: str) -> str:
    return (
        f"CASE WHEN {_valid_sql(resource_type)} THEN {_LINE_VALID} "
        f"WHEN ltrim({_TEXT_SQL}, ' ' || chr(9)) = '' OR line IS NULL THEN {_LINE_BLANK} "
        f"ELSE {_LINE_CORRUPT} END"
    )


def _problem_sql(text: str, resource_type: str) -> str:
    """Why a corrupt line is corrupt, in the words of `CorruptLine.problem`."""
    declared = f"json_extract_string({text}, '$.resourceType')"
    shown = (
        f"CASE WHEN length({declared}) > {_SHOWN_VALUE_CHARS} "
        f"THEN left({declared}, {_SHOWN_VALUE_CHARS}) || '…' ELSE {declared} END"
    )
    holds = _sql_string(f"', file holds '{resource_type}'")
    return (
        f"CASE WHEN NOT json_valid({text}) THEN 'not valid JSON' "
        f"WHEN json_type({text}) <> 'OBJECT' THEN 'not a JSON object' "
        f"WHEN {declared} IS NULL THEN 'no resourceType' "
        f"WHEN {declared} <> {_sql_string(resource_type)} "
        f"THEN 'resourceType is ''' || {shown} || {holds} "
        "ELSE 'not valid JSON' END"
    )


def duckdb_resources_sql(files: Sequence[Path], resource_type: str) -> str:
    """A DuckDB relation text `(SELECT ... AS resource FROM ...)` with one JSON value per valid
    line of `files`: the source the compiled views read, so they never see a corrupt line.

    Judges lines by the same rule as `scan_integrity` (lines DuckDB cannot decode are
    skipped), in one parse per line plus the cast to JSON."""
    if not files:
        return "(SELECT CAST(NULL AS JSON) AS resource WHERE false)"
    return (
        f"(SELECT CAST({_TEXT_SQL} AS JSON) AS resource FROM {_read_lines_sql(files)} "
        f"WHERE {_valid_sql(resource_type)})"
    )


# -- the integrity scan ---------------------------------------------------------------------


@dataclass(frozen=True)
class _FileScan:
    lines: int
    valid: int
    corrupt_count: int
    corrupt: list[CorruptLine]


def scan_integrity(
    export: BulkExport, connection: duckdb.DuckDBPyConnection, *, keep: int = 100
) -> IntegrityReport:
    """Count each type's lines and valid resources, and locate the first `keep` corrupt lines.

    One streaming pass per file, in DuckDB, on all its threads: each line is judged and its
    verdict (a byte, and a short text for a corrupt line) kept in a temporary table whose row
    order is the file's line order; the counts and line numbers come from that table."""
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    owner = {file: kind for kind, paths in export.files.items() for file in paths}
    lines = dict.fromkeys(export.files, 0)
    valid = dict.fromkeys(export.files, 0)
    corrupt: list[CorruptLine] = []
    corrupt_count = 0
    with _insertion_order_kept(connection):
        for file in sorted(owner):
            resource_type = owner[file]
            scan = _scan_file(connection, file, resource_type, keep - len(corrupt))
            lines[resource_type] += scan.lines
            valid[resource_type] += scan.valid
            corrupt_count += scan.corrupt_count
            corrupt.extend(scan.corrupt)
    return IntegrityReport(lines, valid, tuple(corrupt), corrupt_count)


@contextmanager
def _insertion_order_kept(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Line numbers are row positions in the verdict table, which follow the file only while
    DuckDB preserves insertion order; a connection tuned to drop it gets it back meanwhile."""
    row = connection.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    was_on = bool(row and row[0])
    if not was_on:
        connection.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        if not was_on:
            connection.execute("SET preserve_insertion_order = false")


def _scan_file(
    connection: duckdb.DuckDBPyConnection, file: Path, resource_type: str, keep: int
) -> _FileScan:
    suffix = uuid.uuid4().hex
    verdicts = f"venapath_verdicts_{suffix}"
    rejects = (f"venapath_rejects_{suffix}", f"venapath_reject_scans_{suffix}")
    try:
        connection.execute(
            f"CREATE TEMPORARY TABLE {verdicts} AS {_verdicts_sql(file, resource_type, rejects)}"
        )
        (row,) = connection.execute(_summary_sql(verdicts, keep)).fetchall()
        rejected = _rejected_lines(connection, rejects[0])
    except duckdb.Error as error:
        error.add_note(f"venapath: while checking the lines of {file}")
        raise
    finally:
        for table in (verdicts, *rejects):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    read_lines, valid_lines, corrupt_read, examples = row
    numbers = _line_numbers([int(e["position"]) + 1 for e in examples], [n for n, _ in rejected])
    found = [
        CorruptLine(file, number, str(example["problem"]))
        for number, example in zip(numbers, examples, strict=True)
    ]
    found += [CorruptLine(file, number, problem) for number, problem in rejected]
    found.sort(key=lambda corrupt_line: corrupt_line.line)
    return _FileScan(
        lines=int(read_lines) + len(rejected),
        valid=int(valid_lines),
        corrupt_count=int(corrupt_read) + len(rejected),
        corrupt=found[:keep],
    )


def _verdicts_sql(file: Path, resource_type: str, rejects: tuple[str, str]) -> str:
    """One row per line DuckDB could read, in file order: its kind, and for a corrupt line
    what is wrong (CASE works that out only for the rows reaching that branch)."""
    return (
        f"SELECT CAST(kind AS UTINYINT) AS kind, CASE WHEN kind = {_LINE_CORRUPT} "
        f"THEN {_problem_sql(_TEXT_SQL, resource_type)} END AS problem "
        f"FROM (SELECT line, {_kind_sql(resource_type)} AS kind "
        f"FROM {_read_lines_sql([file], rejects)})"
    )


def _summary_sql(verdicts: str, keep: int) -> str:
    """Counts and the first `keep` corrupt lines; `rowid` is a row's position in the freshly
    written verdict table, so its 0-based position among the lines DuckDB read."""
    examples = (
        f"arg_min({{'position': rowid, 'problem': problem}}, rowid, {keep}) "
        f"FILTER (WHERE kind = {_LINE_CORRUPT})"
        if keep > 0
        else "NULL"
    )
    return (
        f"SELECT count(*) FILTER (WHERE kind <> {_LINE_BLANK}), "
        f"count(*) FILTER (WHERE kind = {_LINE_VALID}), "
        f"count(*) FILTER (WHERE kind = {_LINE_CORRUPT}), "
        f"coalesce({examples}, []) FROM {verdicts}"
    )


def _rejected_lines(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[int, str]]:
    """Lines DuckDB could not hand over (bad UTF-8, too long), as (line number, problem)."""
    rows = connection.execute(
        f"SELECT line, min(error_type) FROM {table} GROUP BY line ORDER BY line"
    ).fetchall()
    return [(int(line), _reject_problem(str(error_type))) for line, error_type in rows]


def _reject_problem(error_type: str) -> str:
    if error_type == "INVALID ENCODING":
        return "not valid UTF-8 text"
    if error_type == "LINE SIZE OVER MAXIMUM":
        return f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB, the longest line read"
    return f"unreadable ({error_type.lower()})"


def _line_numbers(ordinals: Sequence[int], rejected: Sequence[int]) -> list[int]:
    """File line numbers of lines DuckDB returned, from their position among the returned
    lines (`ordinals`, ascending) and the line numbers it skipped (`rejected`, ascending)."""
    numbers: list[int] = []
    skipped = 0
    for ordinal in ordinals:
        while skipped < len(rejected) and rejected[skipped] <= ordinal + skipped:
            skipped += 1
        numbers.append(ordinal + skipped)
    return numbers


# -- the same lines on Spark ----------------------------------------------------------------


_SPARK_JSON_OPTIONS: Final = (
    "map('allowSingleQuotes', 'false', 'columnNameOfCorruptRecord', '_corrupt_record')"
)


def spark_resources(spark: SparkSession, files: Sequence[Path], resource_type: str) -> DataFrame:
    """A DataFrame of one STRING column `resource`: the valid lines of `files`, by the rule
    `scan_integrity` counts with, so both engines screen the same resources.

    Spark's JSON functions read the first JSON value of a text and ignore what follows, so
    the line is parsed twice: wrapped in `[...]` (a second value or a stray `}` makes that
    fail or hold two elements) and wrapped in `{"v": ...}` (a stray `]` makes that fail),
    which also yields `resourceType`. Spark's text reader does not check UTF-8 and its JSON
    parser replaces bad bytes, so that is checked apart."""
    if not files:
        return spark.createDataFrame([], "resource STRING")
    lines = spark.read.text([_hadoop_path(file) for file in files])
    checked = lines.selectExpr(
        "CASE WHEN startswith(value, '\\uFEFF') THEN substr(value, 2) ELSE value END AS resource"
    ).selectExpr(
        "resource",
        f"octet_length(resource) <= {MAX_LINE_BYTES} AS short_enough",
        f"{_spark_utf8_sql(spark)} AS utf8",
        f"size(from_json(concat('[', resource, ']'), 'ARRAY<STRING>', {_SPARK_JSON_OPTIONS})) "
        "AS json_values",
        "from_json(concat('{\"v\":', resource, '}'), "
        f"'v STRUCT<resourceType: STRING>, _corrupt_record STRING', {_SPARK_JSON_OPTIONS}) "
        "AS wrapped",
    )
    valid = (
        "coalesce(short_enough AND utf8 AND json_values = 1 AND wrapped._corrupt_record IS NULL "
        f"AND wrapped.v.resourceType = {_sql_string(resource_type)}, false)"
    )
    return checked.where(valid).select("resource")


def _spark_utf8_sql(spark: SparkSession) -> str:
    """True when column `resource` holds valid UTF-8. Spark 4 has a function for it; Spark 3
    decodes bad bytes to U+FFFD, so a text is valid UTF-8 when decoding and re-encoding it
    gives back the same bytes (Spark 4 would raise an error on that decode instead)."""
    if int(spark.version.split(".")[0]) >= 4:
        return "is_valid_utf8(resource)"
    raw = "CAST(resource AS BINARY)"
    return f"encode(decode({raw}, 'UTF-8'), 'UTF-8') = {raw}"


def _hadoop_path(file: Path) -> str:
    """Spark expands glob characters in paths; a file name holding one is meant literally."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", str(file.absolute()))
