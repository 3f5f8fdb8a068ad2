"""`screen(export, out)`: the knowledge base's rules over a whole Bulk export, in one engine.

Stages, each a query the engine plans and streams (nothing per patient in Python):
1. integrity: every NDJSON line is checked once; corrupt lines are reported with file and
   line number and left out, the rest is screened;
2. views: the knowledge base's ViewDefinitions flatten each resource type; on DuckDB, a
   large export's views are written once to Parquet split into patient partitions
   (`partition.py`), so that stages 3 to 5 hold one partition at a time;
3. case columns: value-set joins and per-patient aggregation (`case_columns.py`);
4. facts: the catalogue's derivations, once per distinct signature (`facts.py`);
5. rules: the knowledge base compiled to Ibis (`rules.py`), scores included;
6. outputs: `patients.parquet` (one row per patient, the partitions' rows merged in
   patient order) and `summary.json`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from venapath.errors import ArgumentError
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.screen.bulk import (
    BulkExport,
    IntegrityReport,
    duckdb_resources_sql,
    open_export,
    scan_integrity,
    spark_resources,
)
from venapath.screen.case_columns import CaseColumns
from venapath.screen.codes import code_rows
from venapath.screen.facts import SIGNATURE_COLUMNS, SignatureMemo, facts_table, signature
from venapath.screen.follow_up import follow_up_columns
from venapath.screen.outputs import PATIENTS_FILE, SUMMARY_FILE
from venapath.screen.partition import partition_count, partition_views
from venapath.screen.query_cache import QueryCache, cache_key
from venapath.screen.rules import assess
from venapath.screen.summary import summarise
from venapath.screen.views import RESOURCE_VIEWS, DuckDBSource, SparkSource, ViewSource

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
SPILL_DIR_NAME = ".spill"
"""Where DuckDB spills past its memory limit: inside the output's staging folder (never a
shared temporary folder), removed before the results are moved into place. The partitioned
views and the partitions' results are written there too."""
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)

Progress = Callable[[str, float, int], None]
"""Called with (stage description, fraction of the whole screen done, NDJSON lines read so
far): the line count lets a progress bar show a rate."""


PLAN_STRING_LIMIT = 100_000
"""Characters of a Spark plan kept when Spark prints it (its logs, its listener events)."""


class ScreenInputError(ArgumentError):
    """A bad argument to the screen (the message names it)."""


@dataclass(frozen=True)
class ScreenOptions:
    engine: Engine = "duckdb"
    spark_master: str | None = None
    limit: int | None = None
    only: str | None = None
    now: datetime | None = None
    memory_limit: str | None = None
    partitions: int | None = None
    """Patient partitions (DuckDB): None chooses one per `partition.PARTITION_BYTES` of
    NDJSON; 1 reads the views straight from the NDJSON into memory."""


@dataclass
class ScreenResult:
    out_dir: Path
    summary: dict[str, Any]
    integrity: IntegrityReport
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def patients_path(self) -> Path:
        return self.out_dir / PATIENTS_FILE


def check_options(options: ScreenOptions, kb: KnowledgeBase) -> None:
    if options.engine not in ENGINES:
        raise ScreenInputError(
            f"--engine: unknown engine {options.engine!r}; expected one of {', '.join(ENGINES)}"
        )
    if options.spark_master is not None and options.engine != "spark":
        raise ScreenInputError("--spark-master: only with --engine spark")
    if options.memory_limit is not None and options.engine != "duckdb":
        raise ScreenInputError("--memory-limit: only with --engine duckdb")
    if options.memory_limit is not None and not _MEMORY.match(options.memory_limit):
        raise ScreenInputError(
            f"--memory-limit: {options.memory_limit!r} is not a size such as 1.5GB or 800MB"
        )
    if options.partitions is not None and options.engine != "duckdb":
        raise ScreenInputError("--partitions: only with --engine duckdb")
    if options.partitions is not None and options.partitions < 1:
        raise ScreenInputError(f"--partitions: must be at least 1, got {options.partitions}")
    if options.limit is not None and options.limit < 1:
        raise ScreenInputError(f"--limit: must be at least 1, got {options.limit}")
    pathway_ids = [p.id for p in kb.pathways]
    if options.only is not None and options.only not in pathway_ids:
        raise ScreenInputError(
            f"--only: unknown pathway {options.only!r}; expected one of {', '.join(pathway_ids)}"
        )


def screen(
    export_dir: Path,
    out_dir: Path,
    options: ScreenOptions,
    *,
    kb: KnowledgeBase | None = None,
    progress: Progress | None = None,
) -> ScreenResult:
    """Screen every patient of the export; write the per-patient table and the summary.

    Raises ScreenInputError or NotABulkExportError before anything is written. Output is
    written to a temporary folder beside `out_dir` and moved into place at the end, so a
    failed screen never leaves half a result.
    """
    knowledge = kb or load_knowledge_base()
    check_options(options, knowledge)
    export = open_export(export_dir)
    now = options.now or _export_time(export)
    report = progress or (lambda _stage, _done, _lines: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with _engine(options, staging / SPILL_DIR_NAME) as engine:
            report("checking NDJSON lines", 0.0, 0)
            with _timed(timings, "integrity"):
                integrity = scan_integrity(export, engine.duckdb_scanner())
            lines = sum(integrity.lines.values())
            report("reading views", 0.15, lines)
            with _timed(timings, "views"):
                sources = engine.sources(export, _partitions(options, export), staging)
            run = _Run(
                knowledge,
                options,
                now,
                engine.codes(knowledge),
                SignatureMemo(now),
                QueryCache(out_dir, staging),
            )
            _screen_partitions(
                engine, sources, run, staging, timings, lambda text, done: report(text, done, lines)
            )
            report("summarising", 0.9, lines)
            with _timed(timings, "summary"):
                summary = summarise(
                    staging / PATIENTS_FILE, knowledge, integrity, export, now, options
                )
        elapsed = time.perf_counter() - started
        summary["run"] = {
            "engine": options.engine,
            "rules_query_cached": run.cache.hit,
            "partitions": len(sources),
            **({"spark_master": engine.master} if isinstance(engine, _Spark) else {}),
            "seconds": round(elapsed, 3),
            "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
        }
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        shutil.rmtree(staging / SPILL_DIR_NAME, ignore_errors=True)
        _replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report("done", 1.0, sum(integrity.lines.values()))
    return ScreenResult(out_dir, summary, integrity, elapsed, timings)


@dataclass(frozen=True)
class _Run:
    """What every partition of one screen shares."""

    knowledge: KnowledgeBase
    options: ScreenOptions
    now: datetime
    codes: ir.Table
    memo: SignatureMemo
    cache: QueryCache


def _screen_partitions(
    engine: _Engine,
    sources: list[ViewSource],
    run: _Run,
    staging: Path,
    timings: dict[str, float],
    report: Callable[[str, float], None],
) -> None:
    """Stages 3 to 5 once per partition, then the partitions' rows merged in patient order
    into the one per-patient table (a single partition writes it directly)."""
    parts: list[Path] = []
    for index, source in enumerate(sources):
        report(
            f"screening patients (part {index + 1} of {len(sources)})",
            0.2 + 0.7 * index / len(sources),
        )
        part = staging / PATIENTS_FILE
        if len(sources) > 1:
            part = staging / SPILL_DIR_NAME / "results" / f"{index}.parquet"
            part.parent.mkdir(parents=True, exist_ok=True)
        _screen_partition(engine, source, run, part, timings)
        parts.append(part)
    if len(parts) > 1:
        with _timed(timings, "merge"):
            engine.merge_parquet(parts, staging / PATIENTS_FILE, run.options.limit)


def _partitions(options: ScreenOptions, export: BulkExport) -> int:
    if options.partitions is not None:
        return options.partitions
    return partition_count(export.total_bytes) if options.engine == "duckdb" else 1


def _screen_partition(
    engine: _Engine, source: ViewSource, run: _Run, part: Path, timings: dict[str, float]
) -> None:
    """Case columns, facts and rules for the patients of one partition; rows to `part`."""
    with _timed(timings, "case columns"):
        cases = engine.materialise(
            CaseColumns(source, run.codes, run.now, engine.materialise).table(), "cases"
        )
        if run.options.limit is not None:  # the partition's first; merged, the first overall
            cases = engine.materialise(
                cases.order_by("patient_id").limit(run.options.limit), "limited"
            )
    with _timed(timings, "facts"):
        facts, errors = _facts(engine, cases, run.memo)
    with _timed(timings, "rules and output"):
        visits = follow_up_columns(cases, run.knowledge, run.now.date())
        _write_results(engine, run, facts, errors, visits, part)


def _facts(engine: _Engine, cases: ir.Table, memo: SignatureMemo) -> tuple[ir.Table, ir.Table]:
    keyed = cases.mutate(signature=signature(cases))
    distinct = keyed.select("signature", *SIGNATURE_COLUMNS).distinct(on="signature")
    rows = distinct.to_pyarrow().to_pylist()
    derived = memo.facts_of(rows)
    lookup = engine.upload(derived.table, "signature_facts")
    error_rows = [{"signature": k, "error": v} for k, v in derived.errors.items()]
    errors = engine.upload_rows(error_rows, {"signature": "string", "error": "string"}, "errors")
    return facts_table(cases, lookup, memo.now), errors


def _write_results(
    engine: _Engine,
    run: _Run,
    facts: ir.Table,
    errors: ir.Table,
    visits: ir.Table,
    path: Path,
) -> None:
    """The rules query over materialised inputs of fixed names, so that its SQL depends only
    on the knowledge base and the options, and is compiled once per knowledge version."""
    facts = engine.materialise(facts, "facts")
    visits = engine.materialise(visits, "visits")
    schemas = [repr(table.schema()) for table in (facts, errors, visits)]
    key = cache_key(run.knowledge.version, run.options.only, engine.dialect, schemas)
    sql = run.cache.get(
        key,
        engine.dialect,
        lambda: engine.compile_sql(_results(facts, errors, visits, run.knowledge, run.options)),
    )
    engine.write_sql_parquet(sql, path)


def _results(
    facts: ir.Table,
    errors: ir.Table,
    visits: ir.Table,
    kb: KnowledgeBase,
    options: ScreenOptions,
) -> ir.Table:
    """Assessment per patient; a patient whose record is impossible gets its error instead."""
    assessed = assess(facts.drop("signature"), kb)
    flagged = facts.select("patient_id", "signature").join(errors, "signature", how="left")
    flagged = flagged.join(
        facts.select("patient_id", active_venous_thrombosis=_active_thrombosis(facts)),
        "patient_id",
    ).select("patient_id", "error", "active_venous_thrombosis")
    flagged = flagged.join(visits, "patient_id").select(
        *flagged.columns, "follow_up_due", "follow_up_overdue"
    )
    result = assessed.join(flagged, "patient_id", how="left")
    result = result.select(
        *assessed.columns,
        "active_venous_thrombosis",
        "follow_up_due",
        "follow_up_overdue",
        "error",
    )
    if options.only is not None:
        result = result.filter(result.pathways.contains(options.only))
    result = result.mutate(knowledge_version=ibis.literal(kb.version))
    return result.order_by("patient_id")


ACTIVE_THROMBOSIS_FACTS = ("cvt_confirmed", "leg_dvt_confirmed", "arm_dvt_confirmed")
"""Confirmed venous thrombosis of any site the knowledge base covers (a DVT or a CVT)."""


def _active_thrombosis(facts: ir.Table) -> ir.BooleanValue:
    value: ir.BooleanValue = facts[ACTIVE_THROMBOSIS_FACTS[0]]
    for name in ACTIVE_THROMBOSIS_FACTS[1:]:
        value = value | facts[name]
    return value


def _export_time(export: BulkExport) -> datetime:
    """The export's transactionTime (what "now" was for its data); the clock otherwise."""
    from datetime import UTC

    stamp = (export.manifest or {}).get("transactionTime")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    return datetime.now(UTC)


def _replace(staging: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Adds the block's seconds to `timings[stage]` (a partitioned screen runs a stage once
    per partition)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


# ------------------------------------------------------------------------------ engines


class _Engine:
    """What the pipeline needs from an engine; DuckDB and Spark differ only here."""

    backend: Any
    dialect: str

    def compile_sql(self, table: ir.Table) -> str:
        return str(ibis.to_sql(table, dialect=self.dialect))

    def write_sql_parquet(self, sql: str, path: Path) -> None:
        raise NotImplementedError

    def duckdb_scanner(self) -> Any:
        raise NotImplementedError

    def source(self, export: BulkExport) -> ViewSource:
        raise NotImplementedError

    def sources(self, export: BulkExport, partitions: int, staging: Path) -> list[ViewSource]:
        """The views, one source per patient partition (engines that do not partition
        ignore `partitions` and give one)."""
        return [self.source(export)]

    def merge_parquet(self, parts: list[Path], path: Path, limit: int | None) -> None:
        raise NotImplementedError

    def codes(self, kb: KnowledgeBase) -> ir.Table:
        return self.upload(code_rows(kb), "value_set_codes")

    def upload(self, table: Any, name: str) -> ir.Table:
        return self.backend.create_table(f"venapath_{name}", table, temp=True, overwrite=True)

    def upload_rows(
        self, rows: list[dict[str, Any]], schema: dict[str, str], name: str
    ) -> ir.Table:
        import pyarrow as pa  # type: ignore[import-untyped]

        arrow_schema = pa.schema([(k, pa.string()) for k in schema])
        return self.upload(pa.Table.from_pylist(rows, schema=arrow_schema), name)

    def materialise(self, table: ir.Table, name: str) -> ir.Table:
        return self.backend.create_table(f"venapath_{name}", table, temp=True, overwrite=True)

    def write_parquet(self, table: ir.Table, path: Path) -> None:
        raise NotImplementedError


class _DuckDB(_Engine):
    dialect = "duckdb"

    def __init__(self, memory_limit: str | None, spill_dir: Path) -> None:
        self.backend = ibis.duckdb.connect()
        self._statements: dict[Any, tuple[str, str]] = {}
        self.backend.raw_sql("SET TimeZone = 'UTC'")
        spill_dir.mkdir(parents=True, exist_ok=True)
        self.backend.raw_sql(f"SET temp_directory = {_sql_string(str(spill_dir))}")
        if memory_limit:
            self.backend.raw_sql(f"SET memory_limit = {_sql_string(memory_limit)}")

    def write_sql_parquet(self, sql: str, path: Path) -> None:
        self.backend.raw_sql(
            f"COPY ({sql}) TO {_sql_string(str(path))} (FORMAT parquet)"
        ).fetchall()

    def materialise(self, table: ir.Table, name: str) -> ir.Table:
        """`table` stored as temporary table `venapath_{name}`, typed by its Ibis schema.

        Why not Ibis's `create_table`: compiling the expression through sqlglot costs more
        than running it on a partition, and `create_table(overwrite=True)` copies the rows
        a second time. Each partition builds the same expressions over tables of the same
        names, so the statements compiled for the first partition are looked up (Ibis
        expressions compare by structure) and run again for the others."""
        statements = self._statements.get(table.op())
        if statements is None:
            statements = self._compile_materialise(table, f"venapath_{name}")
            self._statements[table.op()] = statements
        create, insert = statements
        self.backend._run_pre_execute_hooks(table)
        self.backend.con.execute(create)
        self.backend.con.execute(insert)
        return self.backend.table(f"venapath_{name}")

    def _compile_materialise(self, table: ir.Table, name: str) -> tuple[str, str]:
        import sqlglot.expressions as sge

        quoted = self.backend.compiler.quoted
        target = sge.table_(name, quoted=quoted)
        create = sge.Create(
            kind="TABLE",
            this=sge.Schema(
                this=target, expressions=table.schema().to_sqlglot_column_defs(self.dialect)
            ),
            properties=sge.Properties(expressions=[sge.TemporaryProperty()]),
            replace=True,
        )
        columns = [sge.to_identifier(column, quoted=quoted) for column in table.columns]
        query = self.backend.compiler.to_sqlglot(table)
        insert = sge.insert(query, into=target, columns=columns)
        return create.sql(self.dialect), insert.sql(self.dialect)

    def duckdb_scanner(self) -> Any:
        return self.backend.con

    def source(self, export: BulkExport) -> DuckDBSource:
        relations = {
            resource_type: duckdb_resources_sql(export.files_of(resource_type), resource_type)
            for resource_type in RESOURCE_VIEWS
            if export.files_of(resource_type)
        }
        return DuckDBSource(self.backend, relations)

    def sources(self, export: BulkExport, partitions: int, staging: Path) -> list[ViewSource]:
        if partitions == 1:
            return [self.source(export)]
        folder = staging / SPILL_DIR_NAME / "views"
        return list(partition_views(self.source(export), folder, partitions))

    def merge_parquet(self, parts: list[Path], path: Path, limit: int | None) -> None:
        """The partitions' rows as one file in patient order, as one screen writes it: each
        part is sorted by patient id and the parts follow each other in id order
        (`partition.py`), so this is their concatenation, streamed (DuckDB keeps the order
        of the files and of their rows: insertion order is preserved)."""
        listed = ", ".join(_sql_string(str(part)) for part in parts)
        query = f"SELECT * FROM read_parquet([{listed}], hive_partitioning = false)"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        self.backend.raw_sql(
            f"COPY ({query}) TO {_sql_string(str(path))} (FORMAT parquet)"
        ).fetchall()

    def write_parquet(self, table: ir.Table, path: Path) -> None:
        self.backend.to_parquet(table, path)

    def close(self) -> None:
        self.backend.disconnect()


class _Spark(_Engine):
    dialect = "pyspark"

    def __init__(self, master: str | None) -> None:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName("venapath-screen")
        if master is not None:
            builder = builder.master(master)
        elif _configured_master() is None:  # neither spark-submit --master nor spark-defaults
            builder = builder.master("local[*]")
        session = (
            builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            # The compiled rules query is large: its plan, printed whole for the event log,
            # can exhaust the driver's heap. Cut the printed plan, never the query.
            .config("spark.sql.maxPlanStringLength", str(PLAN_STRING_LIMIT))
            .getOrCreate()
        )
        self.session = session
        self.master: str | None = session.sparkContext.master
        self.backend = ibis.pyspark.connect(session)
        self._scanner = ibis.duckdb.connect().con

    def duckdb_scanner(self) -> Any:
        """Line checks (with line numbers) run in DuckDB on the driver, for both engines."""
        return self._scanner

    def source(self, export: BulkExport) -> ViewSource:
        frames = {
            resource_type: spark_resources(
                self.session, export.files_of(resource_type), resource_type
            )
            for resource_type in RESOURCE_VIEWS
            if export.files_of(resource_type)
        }
        return SparkSource(self.backend, frames)

    def upload(self, table: Any, name: str) -> ir.Table:
        # From Python rows, not pandas: pandas turns a missing number into NaN, which Spark
        # keeps as NaN (larger than every number) instead of NULL (unknown).
        frame = self.session.createDataFrame(table.to_pylist(), schema=_spark_schema(table))
        view = f"venapath_{name}"
        frame.createOrReplaceTempView(view)
        return self.backend.table(view)

    def materialise(self, table: ir.Table, name: str) -> ir.Table:
        return spark_materialise(self.backend, table, name)

    def write_parquet(self, table: ir.Table, path: Path) -> None:
        self.write_sql_parquet(str(ibis.to_sql(table, dialect="pyspark")), path)

    def write_sql_parquet(self, sql: str, path: Path) -> None:
        frame = self.session.sql(sql)
        temporary = path.with_name(path.name + ".parts")
        frame.coalesce(1).write.mode("overwrite").parquet(str(temporary))
        part = next(temporary.glob("part-*.parquet"))
        os.replace(part, path)
        shutil.rmtree(temporary)

    def close(self) -> None:
        """Drop what this screen persisted: a session that outlives the screen (a notebook,
        a test run) would otherwise keep every screen's tables in its memory."""
        self.session.catalog.clearCache()
        self._scanner.close()


def spark_materialise(backend: Any, table: ir.Table, name: str) -> ir.Table:
    """`table` persisted by Spark as temporary view `venapath_{name}`.

    Why: Spark does not share a subplan read twice. Without this, every later step that
    reads a view or a matched table plans (and runs) its whole JSON work again, and the
    rules query's plan grows until the driver's heap is exhausted."""
    backend._run_pre_execute_hooks(table)  # registers the in-memory tables it reads
    frame = backend._session.sql(str(ibis.to_sql(table, dialect="pyspark")))
    frame = frame.persist()
    view = f"venapath_{name}"
    frame.createOrReplaceTempView(view)
    return backend.table(view)


def _configured_master() -> str | None:
    """The master spark-submit or spark-defaults.conf gave, if any.

    Python's SparkConf sees those settings only once it is connected to the JVM: under
    spark-submit the JVM already runs and passes them as its system properties; otherwise
    this starts the JVM (the session reuses it). Before that, SparkConf() is empty and a
    spark-submit --master would silently be replaced by local[*].
    """
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    master: str | None = SparkConf().get("spark.master", None)
    return master


def _spark_schema(table: Any) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(table.schema)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def _engine(options: ScreenOptions, spill_dir: Path) -> Iterator[_Engine]:
    engine: _DuckDB | _Spark
    if options.engine == "spark":
        engine = _Spark(options.spark_master)
    else:
        engine = _DuckDB(options.memory_limit, spill_dir)
    try:
        yield engine
    finally:
        engine.close()
