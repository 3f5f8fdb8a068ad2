"""CPU time of one CDS patient-view through the whole app, and of its stores, in process.

    .venv/bin/python bench/cds_request_parts.py [--calls 150]

The app is built as `venapath serve` builds it, in production mode (every call carries a
freshly signed JWT; the replay list, issued cards and audit trail in a fresh SQLite
registry), and called through httpx's ASGI transport with the chart of
`bench/cds_load.py --cold` (new laboratory values on every call). It prints the CPU time
per call of the whole process (the in-process client included), and the CPU time of the
thread that ran each of these parts: the CDS work (`CdsServices._answer`: FHIR reading,
R4B validation, mapping, engine, cards), the JWT replay store, the issued-card store and
the audit entry (and, where the cards and the audit entry share one transaction, that whole
transaction with its commit). What is left is JWT verification, FastAPI (the 27 KiB body
into `HookRequest`), the response and the client.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

from cds_load import requests  # noqa: E402
from jwt_support import BASE, issuer_settings, token  # noqa: E402

WARM_UP = 20
PATH = "/cds-services/venapath-patient-view"
SPENT: defaultdict[str, float] = defaultdict(float)


def _timed(owner: type, name: str, label: str) -> None:
    """Wrap `owner.name` so that the CPU time of the thread running it adds to SPENT[label]."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.thread_time() - start

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    os.environ.update(
        {
            "VENAPATH_ENV": "production",
            "VENAPATH_PUBLIC_BASE_URL": BASE,
            "VENAPATH_TRUSTED_ISSUERS": json.dumps(issuer_settings()),
            "VENAPATH_LOG_LEVEL": "warning",
            "VENAPATH_ALLOWED_HOSTS": json.dumps(["testserver"]),
            "VENAPATH_DATA_DIR": tempfile.mkdtemp(prefix="venapath-cds-parts-"),
        }
    )
    from venapath.cdshooks.feedback import DatabaseFeedbackStore
    from venapath.cdshooks.hooks import CdsServices
    from venapath.cdshooks.router import CdsHooksApi
    from venapath.persistence.audit import AuditTrail
    from venapath.persistence.database import Database
    from venapath.persistence.migrate import ensure_current
    from venapath.persistence.stores import DbReplayStore
    from venapath.service import build_service
    from venapath.settings import database_url, load_settings

    _timed(CdsServices, "_answer", "CDS work (_answer)")
    _timed(DbReplayStore, "remember", "JWT replay store")
    _timed(DatabaseFeedbackStore, "issue", "issued-card store")
    _timed(AuditTrail, "record_event", "audit entry")
    if hasattr(CdsHooksApi, "_store_answer"):  # cards and audit entry in one transaction
        _timed(CdsHooksApi, "_store_answer", "cards + audit, one transaction")
    settings = load_settings()
    database = Database(database_url(settings))
    ensure_current(database)
    database.dispose()
    app = build_service(settings)
    asyncio.run(_drive(app, args.calls))


async def _drive(app: Any, calls: int) -> None:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        discovery = await client.get(
            "/cds-services", headers={"Authorization": f"Bearer {token(BASE + '/cds-services')}"}
        )
        templates = discovery.json()["services"][0]["prefetch"]
        total = calls + WARM_UP
        bodies = [json.dumps(requests(templates, v)[0][1]).encode() for v in range(total)]
        tokens = [f"Bearer {token(BASE + PATH)}" for _ in range(total)]

        async def call(index: int) -> None:
            headers = {"Authorization": tokens[index], "Content-Type": "application/json"}
            response = await client.post(PATH, content=bodies[index], headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.text[:300]}")

        for index in range(WARM_UP):
            await call(index)
        SPENT.clear()
        start = time.process_time()
        for index in range(WARM_UP, total):
            await call(index)
        whole = (time.process_time() - start) / calls * 1000
    print(f"{calls} patient-view calls, new labs each; CPU ms per call, one core")
    print(f"  whole process (client included)  {whole:5.2f}")
    for label, seconds in SPENT.items():
        print(f"  {label:<32} {seconds / calls * 1000:5.2f}")


if __name__ == "__main__":
    main()
