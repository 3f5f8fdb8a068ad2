"""The knowledge base's SQL on FHIR ViewDefinitions, run over a Bulk export as Ibis tables.

The views (`kb/data/views/*.json`) are the only place that says which parts of a FHIR
resource the screen reads: one flat row per coding, with the statuses, dates and values
beside it. They compile to one SQL query per resource type (`venapath.sof`), which the
engine runs while it streams the NDJSON; everything after that is Ibis over these tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ibis

from venapath.kb.loader import DEFAULT_KB_DIR, VIEW_DIR_NAME
from venapath.sof.compile import compile_view
from venapath.sof.run import spark_view_dataframe
from venapath.sof.view import ViewDefinition

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.pyspark import Backend as PySparkBackend

VIEW_DIR = DEFAULT_KB_DIR / VIEW_DIR_NAME

RESOURCE_VIEWS: Mapping[str, str] = {
    "Patient": "patient.json",
    "Condition": "condition.json",
    "Observation": "observation.json",
    "MedicationRequest": "medication_request.json",
    "MedicationStatement": "medication_statement.json",
    "MedicationAdministration": "medication_administration.json",
    "Procedure": "procedure.json",
    "AllergyIntolerance": "allergy_intolerance.json",
    "DiagnosticReport": "diagnostic_report.json",
}
"""Resource type -> its view file. Other resource types in an export are not read."""


@cache
def load_views(view_dir: Path = VIEW_DIR) -> dict[str, ViewDefinition]:
    """Every screen view, validated, by resource type."""
    views: dict[str, ViewDefinition] = {}
    for resource_type, name in RESOURCE_VIEWS.items():
        raw = json.loads((view_dir / name).read_text(encoding="utf-8"))
        view = ViewDefinition.model_validate(raw)
        if view.resource != resource_type:
            raise ValueError(f"{name}: reads {view.resource}, expected {resource_type}")
        views[resource_type] = view
    return views


@dataclass(frozen=True)
class DuckDBSource:
    """Runs views on DuckDB; `relation_sql(type)` is the SQL text yielding a `resource` JSON
    column (valid lines of that type's files, or an empty relation when it has none)."""

    backend: DuckDBBackend
    relations: Mapping[str, str]
    stored: ClassVar[bool] = False
    """Whether `table()` reads stored rows (no JSON work to keep from repeating)."""

    def table(self, resource_type: str) -> ibis.Table:
        view = load_views()[resource_type]
        source = self.relations.get(resource_type, "(SELECT NULL::JSON AS resource WHERE false)")
        compiled = compile_view(view, "duckdb", source=source, typed=True)
        # A view made by DuckDB itself: Ibis's `sql()` would re-parse the compiled text
        # through sqlglot, which rewrites its lambdas into a form DuckDB refuses.
        name = f"venapath_{resource_type.lower()}_{uuid.uuid4().hex[:8]}"
        self.backend.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {compiled.sql}")
        return self.backend.table(name)


@dataclass(frozen=True)
class ParquetSource:
    """The view rows of one partition's patients, read from the partition's Parquet files."""

    backend: DuckDBBackend
    files: dict[str, Path]
    """Resource type -> the Parquet file of its view's rows in this partition."""
    stored: ClassVar[bool] = True

    def table(self, resource_type: str) -> ibis.Table:
        # One name per type for every partition: the expressions over it are then the same
        # in each partition, and their compiled SQL is reused (`pipeline._DuckDB`).
        name = f"venapath_partition_{resource_type.lower()}"
        path = _sql_string(str(self.files[resource_type]))
        self.backend.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM "
            f"read_parquet({path}, hive_partitioning = false)"
        )
        return self.backend.table(name)


@dataclass(frozen=True)
class SparkSource:
    """Runs views on Spark; `frames` are each type's DataFrames of one `resource` JSON text
    column (valid lines only); a type without one reads as empty."""

    backend: PySparkBackend
    frames: Mapping[str, Any]
    stored: ClassVar[bool] = False

    def table(self, resource_type: str) -> ibis.Table:
        session = self.backend._session
        frame = self.frames.get(resource_type)
        if frame is None:
            frame = session.createDataFrame([], "resource STRING")
        result = spark_view_dataframe(load_views()[resource_type], frame, spark=session)
        name = f"venapath_{resource_type.lower()}_{uuid.uuid4().hex[:8]}"
        result.createOrReplaceTempView(name)
        return self.backend.table(name)


ViewSource = DuckDBSource | ParquetSource | SparkSource


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
