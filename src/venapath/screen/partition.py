"""Patient partitions: a DuckDB screen whose working set does not grow with the cohort.

Why: the case-column, facts and rules stages hold every view row of the patients they
work on in memory. Over a whole export that grew with the cohort (about 5 GB at a million
patients). Every one of those stages is per patient (each groups or joins by
`patient_id`), so the screen can run them on one slice of the patients at a time and
append the results: the same rows, with a working set of one slice.

How: the Patient view gives `count - 1` boundaries, the patient ids at equal steps of
their sorted order, so partition N holds the ids between two boundaries (and the last one
also rows without an id). Each view is read from the NDJSON once, as before, and written to
Parquet in the spill folder, one file per partition (a partition without rows of a view
gets an empty file of the view's columns). All rows of one `patient_id` land in the same
partition, so no patient is ever split. The later stages then read one partition's files
at a time (`ParquetSource`).

Why ranges rather than a hash: each partition's results come out sorted by patient id and
the partitions follow each other in id order, so the one per-patient table is their
concatenation. Merging hash partitions needed a sort of every result row, which at a
million patients took more memory than any partition.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Final

from venapath.screen.views import RESOURCE_VIEWS, DuckDBSource, ParquetSource

__all__ = ["PARTITION_BYTES", "partition_count", "partition_views"]

PARTITION_BYTES: Final = 512 * 1000 * 1000
"""NDJSON bytes per partition when the count is chosen automatically: about 87,000
synthetic patients (5.9 KB each). Measured: a million patients in 12 partitions peaked at
1.6 to 1.8 GB for the whole process, each partition's stages at 1.2 to 1.4 GB."""

_BUCKET: Final = "venapath_partition"
"""The partition column while the views are written (not stored in the files)."""


def partition_count(export_bytes: int) -> int:
    """Partitions for an export of this many NDJSON bytes: one per PARTITION_BYTES."""
    return max(1, math.ceil(export_bytes / PARTITION_BYTES))


def partition_views(source: DuckDBSource, folder: Path, count: int) -> list[ParquetSource]:
    """Write every view once, split into at most `count` partitions of consecutive patient
    ids (fewer when there are fewer distinct ids); one source per partition, in id order."""
    bounds = _bounds(source, count)
    files: list[dict[str, Path]] = [{} for _ in range(len(bounds) + 1)]
    for resource_type in RESOURCE_VIEWS:
        written = _write_view(source, resource_type, folder / resource_type, bounds)
        for index, path in enumerate(written):
            files[index][resource_type] = path
    return [ParquetSource(source.backend, by_type) for by_type in files]


def _bounds(source: DuckDBSource, count: int) -> list[str]:
    """The sorted, distinct patient ids that start partitions 1 to count - 1."""
    if count < 2:
        return []
    view = source.table("Patient").get_name()
    steps = ", ".join(str(i / count) for i in range(1, count))
    row = source.backend.con.execute(
        f"SELECT quantile_disc(patient_id, [{steps}]) FROM {view} WHERE patient_id IS NOT NULL"
    ).fetchone()
    found = row[0] if row is not None and row[0] is not None else []
    return sorted({str(bound) for bound in found})


def _bucket_sql(bounds: list[str]) -> str:
    """Partition of a row: how many boundaries its id reaches; no id: the last partition
    (where ORDER BY puts a NULL id too)."""
    if not bounds:
        return "0"
    listed = ", ".join(_sql_string(bound) for bound in bounds)
    reached = f"len(list_filter([{listed}], lambda b: b <= patient_id))"
    return f"CASE WHEN patient_id IS NULL THEN {len(bounds)} ELSE {reached} END"


def _write_view(
    source: DuckDBSource, resource_type: str, folder: Path, bounds: list[str]
) -> list[Path]:
    """The view's rows as one Parquet file per partition (`folder/N.parquet`), in one read
    of the NDJSON; DuckDB writes the partitions side by side as it streams."""
    count = len(bounds) + 1
    view = source.table(resource_type).get_name()
    connection = source.backend.con
    staged = folder.with_name(f"{folder.name}.hive")
    folder.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(
        f"COPY (SELECT *, {_bucket_sql(bounds)} AS {_BUCKET} FROM {view}) "
        f"TO {_sql_string(str(staged))} (FORMAT parquet, PARTITION_BY ({_BUCKET}))"
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{index}.parquet"
        written = sorted((staged / f"{_BUCKET}={index}").glob("*.parquet"))
        if len(written) == 1:
            written[0].rename(path)
        else:  # no rows (or, defensively, several files): one file of the view's columns
            query = _union_query(written) if written else f"SELECT * FROM {view} WHERE false"
            connection.execute(f"COPY ({query}) TO {_sql_string(str(path))} (FORMAT parquet)")
        paths.append(path)
    shutil.rmtree(staged, ignore_errors=True)
    return paths


def _union_query(files: list[Path]) -> str:
    listed = ", ".join(_sql_string(str(p)) for p in files)
    return f"SELECT * FROM read_parquet([{listed}], hive_partitioning = false)"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
