"""The write pattern of CDS calls on one SQLite file from several processes: wall time per call.

    .venv/bin/python bench/sqlite_writers.py [--rate 100] [--seconds 20] [--processes 2]
        [--threads 4] [--cpu-ms 3] [--no-turns]

Each simulated call does what a CDS call writes, as `venapath serve` does it: the JWT id
(one transaction), then the issued cards and the audit entry (one transaction), after
`--cpu-ms` of pure-Python work holding the interpreter lock, as the CDS work does in a
server worker. `--processes` processes (uvicorn workers) with `--threads` threads each share
the arrival rate (open loop: each call has its scheduled time, and its latency runs from
then). It prints the percentiles of the write part of a call (from the end of its CPU work
to the commit of its second transaction).

`--no-turns` leaves the waiting to SQLite's busy handler alone (what the code did before
`WriterTurns`), for a side-by-side comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _call_rows() -> list[dict[str, Any]]:
    return [
        {
            "uuid": str(uuid.uuid4()),
            "service_id": "venapath-patient-view",
            "rule_ids": ["CVT-ANTICOAG-1", "CVT-IMAGING-2"],
            "actions": ["anticoagulation"],
            "knowledge_version": "bench",
            "patient_ref": "0" * 64,
            "issued_at": datetime.now(UTC),
        }
        for _ in range(3)
    ]


def _burn(milliseconds: float) -> None:
    """Pure-Python work that holds the interpreter lock, as the CDS work does."""
    end = time.thread_time() + milliseconds / 1000
    while time.thread_time() < end:
        sum(range(200))


def _worker(url: str, begin: float, indices: list[int], rate: float, args: Any, out: Any) -> None:
    import venapath.persistence.database as database_module

    if args.no_turns:
        database_module.writer_turns = lambda _path: None  # type: ignore[assignment, return-value]
    from venapath.identity.tokens import cds_client_principal
    from venapath.persistence.audit import AuditAction, AuditFact, AuditTrail
    from venapath.persistence.stores import DbIssuedCardStore, DbReplayStore

    database = database_module.Database(url)
    replay, cards, trail = (
        DbReplayStore(database),
        DbIssuedCardStore(database),
        AuditTrail(database),
    )
    principal = cds_client_principal("https://ehr.test", "Practitioner/1", "127.0.0.1")
    fact = AuditFact(
        AuditAction.EVALUATE,
        principal,
        patient_id="p1",
        resources=("operation/cds-venapath-patient-view",),
    )
    latencies: list[float] = []
    lock = threading.Lock()

    def thread(mine: list[int]) -> None:
        for index in mine:
            scheduled = begin + index / rate
            if (wait := scheduled - time.time()) > 0:
                time.sleep(wait)
            _burn(args.cpu_ms)
            start = time.perf_counter()
            replay.remember("https://ehr.test", uuid.uuid4().hex, time.time() + 300)
            with database.session() as session:
                cards.add(_call_rows(), session.connection())
                trail.record_event(fact, session)
            with lock:
                latencies.append((time.perf_counter() - start) * 1000)

    threads = [
        threading.Thread(target=thread, args=(indices[k :: args.threads],))
        for k in range(args.threads)
    ]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    database.dispose()
    out.put(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second in all")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per process")
    parser.add_argument("--cpu-ms", type=float, default=3.0, help="CPU work per call")
    parser.add_argument("--no-turns", action="store_true", help="SQLite's busy handler alone")
    args = parser.parse_args()

    from venapath.persistence.database import Database
    from venapath.persistence.migrate import ensure_current

    folder = Path(tempfile.mkdtemp(prefix="venapath-writers-", dir=os.environ.get("TMPDIR")))
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    database = Database(url)
    ensure_current(database)
    database.dispose()
    total = int(args.rate * args.seconds)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    begin = time.time() + 3  # every process started and connected
    processes = [
        context.Process(
            target=_worker,
            args=(url, begin, list(range(p, total, args.processes)), args.rate, args, out),
        )
        for p in range(args.processes)
    ]
    for process in processes:
        process.start()
    latencies = sorted(value for _ in processes for value in out.get())
    for process in processes:
        process.join()
    cuts = statistics.quantiles(latencies, n=100)
    mode = "SQLite's busy handler alone" if args.no_turns else "writer turns"
    print(
        f"{len(latencies)} calls at {args.rate:g}/s, {args.processes} processes x "
        f"{args.threads} threads, {args.cpu_ms:g} ms CPU each; {mode}"
    )
    print(
        f"write part of a call, ms: p50 {cuts[49]:.2f}  p95 {cuts[94]:.2f}  "
        f"p99 {cuts[98]:.2f}  max {latencies[-1]:.1f}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
