"""Running a compiled ViewDefinition on DuckDB or Spark, over resource dicts or NDJSON files.

NDJSON is read as raw JSON text per line (`read_ndjson_objects` / `spark.read.text`), never
through schema inference: a Bulk export's resources of one type still differ in shape, and the
compiled SQL walks the JSON itself.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from venapath.sof.compile import REPEAT_DEPTH, CompiledView, compile_view
from venapath.sof.view import ViewDefinition

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "Engine",
    "Source",
    "ViewEvaluationError",
    "duckdb_relation",
    "run_view",
    "spark_dataframe",
    "spark_view_dataframe",
]

Engine = Literal["duckdb", "spark"]
PathLike = str | os.PathLike[str]
Source = PathLike | Sequence[PathLike] | Iterable[Mapping[str, Any]]
"""NDJSON file path(s) or glob(s), or parsed resources (dicts)."""

_ERROR_PREFIX = "venapath.sof: "
_MAX_ITERATIONS = "spark.sql.analyzer.maxIterations"


class ViewEvaluationError(RuntimeError):
    """The data broke a rule only checkable per row (a non-boolean `where`, a list in a
    column without `collection: true`, `repeat` deeper than its limit)."""


def _split_source(source: Source) -> tuple[list[str] | None, list[Mapping[str, Any]] | None]:
    if isinstance(source, str | os.PathLike):
        return [os.fspath(source)], None
    items = list(source)
    if all(isinstance(item, str | os.PathLike) for item in items) and items:
        return [os.fspath(item) for item in items], None  # type: ignore[arg-type]
    if not all(isinstance(item, Mapping) for item in items):
        raise TypeError("source must be NDJSON path(s) or an iterable of resource dicts")
    return None, items  # type: ignore[return-value]


def _evaluation_error(exc: Exception) -> ViewEvaluationError | None:
    text = str(exc)
    start = text.find(_ERROR_PREFIX)
    if start < 0:
        return None
    message = text[start + len(_ERROR_PREFIX) :].splitlines()[0]
    return ViewEvaluationError(message)


# -- DuckDB -----------------------------------------------------------------------------------
def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_relation(
    view: ViewDefinition | Mapping[str, Any],
    source: Source,
    *,
    connection: duckdb.DuckDBPyConnection,
    repeat_depth: int = REPEAT_DEPTH,
    typed: bool = False,
) -> tuple[duckdb.DuckDBPyRelation, str | None]:
    """A lazy DuckDB relation for the view (stream it with `fetch_record_batch`).

    Also returns the name of a registered in-memory table when `source` was resource dicts;
    the caller unregisters it once done."""
    paths, resources = _split_source(source)
    registered: str | None = None
    if paths is not None:
        files = ", ".join(_sql_string(p) for p in paths)
        relation = f"(SELECT json AS resource FROM read_ndjson_objects([{files}]))"
    else:
        assert resources is not None
        registered = f"_venapath_sof_{uuid.uuid4().hex}"
        texts = pa.array([json.dumps(r) for r in resources], pa.string())
        connection.register(registered, pa.table({"resource": texts}))
        relation = f"(SELECT CAST(resource AS JSON) AS resource FROM {registered})"
    compiled = compile_view(view, "duckdb", source=relation, repeat_depth=repeat_depth, typed=typed)
    try:
        return connection.sql(compiled.sql), registered
    except duckdb.Error:
        if registered is not None:
            connection.unregister(registered)
        raise


def _run_duckdb(
    view: ViewDefinition | Mapping[str, Any],
    source: Source,
    connection: duckdb.DuckDBPyConnection | None,
    repeat_depth: int,
    typed: bool,
) -> pa.Table:
    con = connection if connection is not None else duckdb.connect()
    relation, registered = duckdb_relation(
        view, source, connection=con, repeat_depth=repeat_depth, typed=typed
    )
    try:
        return relation.to_arrow_table()
    except duckdb.Error as exc:
        error = _evaluation_error(exc)
        if error is not None:
            raise error from exc
        raise
    finally:
        if registered is not None:
            con.unregister(registered)
        if connection is None:
            con.close()


# -- Spark ------------------------------------------------------------------------------------
def spark_dataframe(
    view: ViewDefinition | Mapping[str, Any],
    source: Source,
    *,
    spark: SparkSession,
    repeat_depth: int = REPEAT_DEPTH,
) -> DataFrame:
    """A lazy Spark DataFrame for the view; per-row rule violations surface at action time."""
    paths, resources = _split_source(source)
    if paths is not None:
        frame = spark.read.text(paths).withColumnRenamed("value", "resource")
    else:
        assert resources is not None
        rows = [(json.dumps(r),) for r in resources]
        frame = spark.createDataFrame(rows, "resource STRING")
    return spark_view_dataframe(view, frame, spark=spark, repeat_depth=repeat_depth)


def spark_view_dataframe(
    view: ViewDefinition | Mapping[str, Any],
    frame: DataFrame,
    *,
    spark: SparkSession,
    repeat_depth: int = REPEAT_DEPTH,
) -> DataFrame:
    """The view over `frame`, a DataFrame with one JSON text column named `resource`
    (lets the caller choose how lines are read and which are kept)."""
    marker = f"__venapath_source_{uuid.uuid4().hex}__"
    compiled: CompiledView = compile_view(view, "spark", source=marker, repeat_depth=repeat_depth)
    # spark.sql formats DataFrame arguments with str.format, so literal braces are doubled.
    text = compiled.sql.replace("{", "{{").replace("}", "}}").replace(marker, "{resources}")
    # The analyzer needs a pass per level of nested lambdas; deep views (repeat, nested
    # forEach) outgrow the default 100. spark.sql analyses eagerly, so the raised limit is
    # only in force while this query is analysed.
    previous = spark.conf.get(_MAX_ITERATIONS, None)
    spark.conf.set(_MAX_ITERATIONS, "1000")
    try:
        return spark.sql(text, resources=frame)
    finally:
        if previous is None:
            spark.conf.unset(_MAX_ITERATIONS)
        else:
            spark.conf.set(_MAX_ITERATIONS, previous)


def _run_spark(
    view: ViewDefinition | Mapping[str, Any],
    source: Source,
    spark: SparkSession | None,
    repeat_depth: int,
) -> list[dict[str, Any]]:
    if spark is None:
        raise ValueError("engine 'spark' needs a SparkSession: run_view(..., spark=session)")
    frame = spark_dataframe(view, source, spark=spark, repeat_depth=repeat_depth)
    try:
        collected = frame.collect()
    except Exception as exc:
        error = _evaluation_error(exc)
        if error is not None:
            raise error from exc
        raise
    return [row.asDict(recursive=True) for row in collected]


def run_view(
    view: ViewDefinition | Mapping[str, Any],
    engine: Engine,
    source: Source,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    spark: SparkSession | None = None,
    repeat_depth: int = REPEAT_DEPTH,
    typed: bool = False,
) -> pa.Table | list[dict[str, Any]]:
    """Run a ViewDefinition: DuckDB returns a pyarrow Table, Spark a list of row dicts.

    For population-sized Spark runs use `spark_dataframe` and keep the result distributed.
    Raises `ViewDefinitionError` for an invalid view and `ViewEvaluationError` for data that
    breaks a per-row rule. `typed` (DuckDB): read rows of FHIR shape through one typed parse
    where the view allows it (`venapath.sof.typed`); the rows are the same."""
    if engine == "duckdb":
        return _run_duckdb(view, source, connection, repeat_depth, typed)
    if engine == "spark":
        return _run_spark(view, source, spark, repeat_depth)
    raise ValueError(f"unknown engine {engine!r}; expected 'duckdb' or 'spark'")
