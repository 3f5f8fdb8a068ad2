"""Benchmark: registry write and read throughput, and the follow-up worklist at 100k patients.

    .venv/bin/python bench/registry.py [--writes 1000] [--patients 100000] [--pg URL]

On SQLite (a fresh file) and, when a URL is given or VENAPATH_TEST_DATABASE_URL is set, on
PostgreSQL (a fresh schema, dropped afterwards):
- writes/s through the registry service: one procedure report each (procedure, six
  scheduled duplex tasks and an audit entry in one transaction);
- reads/s of one patient by id;
- the worklist query (call today / overdue / due, first 1,000 rows, and the full count)
  after bulk-loading --patients patients, each with an episode, a stent and its six tasks.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url

from venapath.domain.access import local_operator
from venapath.domain.records import EpisodeIn, PatientIn, ProcedureIn
from venapath.kb.loader import load_knowledge_base
from venapath.persistence import migrate
from venapath.persistence.database import Database
from venapath.persistence.tables import EpisodeRow, PatientRow, ProcedureRow, TaskRow
from venapath.services import followup
from venapath.services.registry import Registry

BENCH = local_operator("bench")
"""Writes and reads go through the registry door (permission check and audit) as in service."""

AS_OF = date(2026, 6, 1)


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="venapath-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'registry.sqlite3'}"


@contextmanager
def _postgresql(url: str) -> Iterator[str]:
    schema = f"vp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, pool_pre_ping=True)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _writes(registry: Registry, count: int) -> float:
    """Procedure reports per second, each for its own patient's episode (made beforehand)."""
    episodes = []
    for _ in range(count):
        patient = registry.create_patient(PatientIn(), BENCH)
        episode = EpisodeIn.model_validate(
            {"patient_id": patient.id, "condition": "venous_stenosis"}
        )
        episodes.append(registry.create_episode(episode, BENCH).id)
    performed = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    start = time.perf_counter()
    for episode_id in episodes:
        report = {"episode_id": episode_id, "kind": "venous_stent", "performed_at": performed}
        registry.record_procedure(ProcedureIn.model_validate(report), BENCH)
    return count / (time.perf_counter() - start)


def _reads(registry: Registry, patient_ids: list[str], count: int) -> float:
    chooser = random.Random(1)
    start = time.perf_counter()
    for _ in range(count):
        registry.get_patient(chooser.choice(patient_ids), BENCH)
    return count / (time.perf_counter() - start)


def _bulk_load(registry: Registry, patients: int, batch: int = 5000) -> tuple[float, list[str]]:
    """Patients with one stent each, stented on days spread over two years before AS_OF."""
    chooser = random.Random(7)
    now = datetime.now(UTC)
    ids: list[str] = []
    start = time.perf_counter()
    for offset in range(0, patients, batch):
        people, episodes, procedures, tasks = [], [], [], []
        for _ in range(min(batch, patients - offset)):
            patient_id, episode_id, procedure_id = (str(uuid.uuid4()) for _ in range(3))
            ids.append(patient_id)
            performed = datetime.combine(AS_OF, datetime.min.time(), UTC) - timedelta(
                days=chooser.randrange(0, 730)
            )
            common = {"version": 1, "created_at": now, "updated_at": now}
            people.append({"id": patient_id, "pseudonym": f"B-{patient_id[:13]}", **common})
            episodes.append(
                {
                    "id": episode_id, "patient_id": patient_id, "condition": "venous_stenosis",
                    "status": "active",
                    "record": {"patient_id": patient_id, "condition": "venous_stenosis"},
                    **common,
                }
            )  # fmt: skip
            row = ProcedureRow(id=procedure_id, kind="venous_stent", performed_at=performed)
            procedures.append(
                {
                    "id": procedure_id, "patient_id": patient_id, "episode_id": episode_id,
                    "kind": "venous_stent", "performed_at": performed, "repeat_number": 1,
                    "report": {"episode_id": episode_id, "kind": "venous_stent",
                               "performed_at": performed.isoformat()},
                    **common,
                }
            )  # fmt: skip
            for planned in followup.plan_for_procedure(registry.kb, row):
                tasks.append(
                    {
                        "id": str(uuid.uuid4()), "patient_id": patient_id,
                        "episode_id": episode_id, "procedure_id": procedure_id,
                        "protocol_id": planned.protocol.id,
                        "protocol_version": planned.protocol.version,
                        "step_id": planned.step.id, "schedule_key": planned.schedule_key,
                        "kind": planned.step.kind, "title": planned.step.title,
                        "due_from": planned.due_from, "due_by": planned.due_by,
                        "urgent": chooser.random() < 0.001, "reason": "bench",
                        "status": "done" if planned.due_by < AS_OF and chooser.random() < 0.8
                        else "scheduled",
                        **common,
                    }
                )  # fmt: skip
        with registry.database.session() as session:
            for table, rows in (
                (PatientRow, people),
                (EpisodeRow, episodes),
                (ProcedureRow, procedures),
                (TaskRow, tasks),
            ):
                session.execute(insert(table), rows)
    return time.perf_counter() - start, ids


def _timed(work, repeats: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run(label: str, url: str, writes: int, patients: int) -> None:
    database = Database(url)
    migrate.upgrade(database)
    registry = Registry(database, load_knowledge_base())
    write_rate = _writes(registry, writes)
    load_seconds, ids = _bulk_load(registry, patients)
    with database.engine.begin() as connection:  # fresh statistics, as autovacuum would make
        connection.exec_driver_sql("ANALYZE")
    read_rate = _reads(registry, ids, 5000)
    with database.session() as session:
        task_count = session.scalar(select(func.count()).select_from(TaskRow))
    worklist_seconds, items = _timed(lambda: registry.worklist(BENCH, AS_OF, limit=1000))
    count_seconds, open_count = _timed(lambda: _open_count(registry))
    print(
        f"{label:<11} writes {write_rate:7.0f}/s | reads {read_rate:7.0f}/s | "
        f"bulk load {patients:,} patients + {task_count:,} tasks in {load_seconds:5.1f} s | "
        f"worklist (first 1,000) {worklist_seconds * 1000:6.1f} ms | "
        f"count of open due/overdue ({open_count:,}) {count_seconds * 1000:6.1f} ms"
    )
    assert len(items) == 1000  # type: ignore[arg-type]
    database.dispose()


def _open_count(registry: Registry) -> int:
    with registry.database.session() as session:
        query = (
            select(func.count())
            .select_from(TaskRow)
            .where(TaskRow.status == "scheduled", TaskRow.due_from <= AS_OF)
        )
        return int(session.scalar(query) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("VENAPATH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; as of {AS_OF}")
    with _sqlite() as url:
        run("SQLite", url, args.writes, args.patients)
    if args.pg:
        with _postgresql(args.pg) as url:
            run("PostgreSQL", url, args.writes, args.patients)
    else:
        print("PostgreSQL: skipped (give --pg URL or set VENAPATH_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
