"""Benchmark: what storing a CDS call's issued cards adds to the call (the cold path).

    .venv/bin/python bench/issued_cards.py [--calls 300] [--database-url URL]

Two figures, in process, on a fresh migrated SQLite registry (or the database given):
- the write alone: `DatabaseFeedbackStore.issue` of an order-sign answer's cards (one INSERT
  of a batch, one transaction), --calls times;
- a whole order-sign call over the in-process HTTP client (alteplase ordered, platelets 60,
  prefetch sent), with issued cards stored in the database and with them kept in memory:
  the difference is what the store costs a call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fhir_fixtures import dvt_record, medication_request, searchset  # noqa: E402
from identity_support import identity_settings  # noqa: E402
from venapath.api.app import create_app  # noqa: E402
from venapath.cdshooks.feedback import (  # noqa: E402
    DatabaseFeedbackStore,
    FeedbackStore,
    MemoryFeedbackStore,
)
from venapath.cdshooks.fhir_client import FhirFetcher  # noqa: E402
from venapath.cdshooks.hooks import CdsServices, HookAnswer  # noqa: E402
from venapath.cdshooks.models import HookRequest  # noqa: E402
from venapath.cdshooks.prefetch import prefetch_answers  # noqa: E402
from venapath.kb.loader import load_knowledge_base  # noqa: E402
from venapath.kb.model import KnowledgeBase  # noqa: E402
from venapath.persistence import migrate  # noqa: E402
from venapath.persistence.database import Database  # noqa: E402
from venapath.services.registry import Registry  # noqa: E402
from venapath.settings import load_settings  # noqa: E402

ORDER_SIGN = "venapath-order-sign"


def _body(templates: dict[str, str]) -> dict[str, Any]:
    order = medication_request("draft-1", "8410", "alteplase", status="draft")
    return {
        "hook": "order-sign",
        "hookInstance": "bench-issued-cards",
        "context": {
            "userId": "Practitioner/bench",
            "patientId": "p1",
            "draftOrders": searchset(order),
        },
        "prefetch": prefetch_answers(dvt_record(platelets=60), templates),
    }


def _percentiles(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:<52} {statistics.median(ordered):8.2f} {p95:8.2f} {ordered[-1]:8.2f}")


def _timed(work: Callable[[], object], calls: int) -> list[float]:
    for _ in range(5):
        work()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _write_alone(kb: KnowledgeBase, database: Database, calls: int) -> list[float]:
    services = CdsServices(kb, FhirFetcher(httpx.AsyncClient(), 1.0))  # the prefetch is sent
    templates = dict(services.discovery().services[0].prefetch)
    request = HookRequest.model_validate(_body(templates))
    answer = asyncio.run(services.call(ORDER_SIGN, request))
    print(f"one order-sign answer: {len(answer.issued)} cards")
    store = DatabaseFeedbackStore(database)
    return _timed(lambda: store.issue(_with_fresh_uuids(answer)), calls)


def _with_fresh_uuids(answer: HookAnswer) -> HookAnswer:
    """The answer with new card uuids (a card uuid is stored once)."""
    issued = [
        replace(i, card=i.card.model_copy(update={"uuid": str(uuid.uuid4())}))
        for i in answer.issued
    ]
    return replace(answer, issued=issued)


def _whole_call(
    kb: KnowledgeBase, database: Database, store: FeedbackStore, calls: int
) -> list[float]:
    settings = load_settings(env="development", **identity_settings())
    app = create_app(settings, kb=kb, feedback=store, registry=Registry(database, kb))
    with TestClient(app) as client:
        templates = dict(client.get("/cds-services").json()["services"][0]["prefetch"])
        body = _body(templates)

        def call() -> None:
            response = client.post(f"/cds-services/{ORDER_SIGN}", json=body)
            assert response.status_code == 200, response.text

        return _timed(call, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory(prefix="venapath-cards-bench-") as folder:
        url = arguments.database_url or f"sqlite:///{Path(folder) / 'registry.sqlite3'}"
        database = Database(url)
        migrate.upgrade(database)
        print(f"database: {database.dialect}; {arguments.calls} calls each\n")
        print(f"{'':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        _percentiles(
            "issue(): one batch INSERT, one transaction",
            _write_alone(kb, database, arguments.calls),
        )
        stored = _whole_call(kb, database, DatabaseFeedbackStore(database), arguments.calls)
        _percentiles("order-sign call, cards stored in the database", stored)
        kept = _whole_call(kb, database, MemoryFeedbackStore(), arguments.calls)
        _percentiles("order-sign call, cards kept in memory", kept)
        database.dispose()


if __name__ == "__main__":
    main()
