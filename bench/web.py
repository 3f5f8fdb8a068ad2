"""Benchmark: server time of each main page of the web app with 10,000 patients registered.

    .venv/bin/python bench/web.py [--patients 10000] [--requests 60]

A fresh SQLite registry gets --patients patients in bulk (each with an episode, a stent and its
six follow-up tasks, as bench/registry.py loads them), the demonstration patients, and 200
stored assessments; each role signs in through the real form (clinician, coordinator,
researcher, admin) and asks for the main pages it uses. Each page is asked for
--requests times in process (the whole service: authentication, policy, the registry door and
its audit entry, rendering), after three warm-up requests, and the wall time of each answer is
recorded. Goal: p95 under 200 ms for every page on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from identity_support import PASSWORD, identity_settings
from registry import _bulk_load
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.domain.access import local_operator
from venapath.identity.accounts import AccountService
from venapath.kb.loader import load_knowledge_base
from venapath.persistence import migrate
from venapath.persistence.database import Database
from venapath.service import build_service
from venapath.services.case_input import load_case_file
from venapath.services.demo import load_demo
from venapath.services.registry import Registry
from venapath.settings import load_settings
from venapath.web.case_form import values_from_case

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 200.0
ROLES = ("clinician", "coordinator", "researcher", "admin")
OPERATOR = local_operator("bench")


def _prepare(registry: Registry, patients: int) -> tuple[str, str]:
    seconds, ids = _bulk_load(registry, patients)
    print(f"loaded {patients:,} patients with their stents and tasks in {seconds:.1f} s")
    load_demo(registry)
    case = load_case_file(REPO / "examples" / "cases" / "leg-dvt-iliofemoral-candidate.yaml")
    for patient_id in ids[:200]:
        episode = registry.episodes_of(patient_id, OPERATOR)[0]
        registry.record_assessment(patient_id, episode.id, case, OPERATOR)
    patient = ids[0]
    episode = registry.episodes_of(patient, OPERATOR)[0].id
    return patient, episode


def _a_check_in_with_a_task(registry: Registry) -> str:
    """A demo check-in that raised a call-today task (the demo patients follow the bulk)."""
    offset = 0
    while page := registry.list_patients(OPERATOR, limit=100, offset=offset):
        for patient in page:
            if not patient.pseudonym.startswith("DEMO-"):
                continue
            for check_in in registry.check_ins_of(patient.id, OPERATOR):
                if check_in.urgent_task_id is not None:
                    return check_in.id
        offset += len(page)
    raise SystemExit("the demo registry holds no check-in that raised a task")


def _sign_in(client: TestClient, username: str) -> None:
    page = client.get("/auth/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/auth/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    session = client.get("/auth/session").json()
    client.headers["X-CSRF-Token"] = session["csrf_token"]


def _time(client: TestClient, method: str, path: str, body: object, requests: int) -> list[float]:
    def ask() -> float:
        start = time.perf_counter()
        answer = client.request(method, path, data=body) if body else client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        assert answer.status_code == 200, f"{method} {path}: {answer.status_code}"
        return elapsed

    for _ in range(3):
        ask()
    return [ask() for _ in range(requests)]


def _report(role: str, method: str, path: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    label = f"{method} {re.sub(r'[0-9a-f-]{36}', '{id}', path)}"
    verdict = "met" if p95 < GOAL_MS else "NOT met"
    print(
        f"{role:<12} {label:<58} {statistics.median(times):8.1f} {p95:8.1f} "
        f"{times[-1]:8.1f}  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    arguments = parser.parse_args()
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory(prefix="venapath-web-bench-") as folder:
        database = Database(f"sqlite:///{Path(folder) / 'registry.sqlite3'}")
        migrate.upgrade(database)
        registry = Registry(database, kb)
        patient, episode = _prepare(registry, arguments.patients)
        settings = load_settings(env="development", **identity_settings())
        accounts = AccountService(database, settings)
        for role in ROLES:
            accounts.add(f"bench-{role}", f"Bench {role}", role, PASSWORD)
        check_in = _a_check_in_with_a_task(registry)
        app = build_service(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=registry)
        case = load_case_file(
            REPO / "examples" / "cases" / "seed-cvt-intracranial-hypotension.yaml"
        )
        pages = [
            ("clinician", "GET", "/worklist", None),
            ("clinician", "GET", "/patients", None),
            ("clinician", "GET", f"/patients/{patient}", None),
            ("clinician", "GET", "/evaluate", None),
            ("clinician", "POST", "/evaluate/result", values_from_case(case)),
            ("clinician", "GET", f"/patients/{patient}/procedures/new?episode={episode}", None),
            ("clinician", "GET", "/knowledge", None),
            ("clinician", "GET", "/knowledge/rules/CVT-ANTICOAGULATION-PARENTERAL", None),
            ("coordinator", "GET", f"/check-ins/{check_in}", None),
            ("researcher", "GET", "/dashboards", None),
            ("researcher", "GET", "/screening", None),
            ("researcher", "GET", "/feedback", None),
            ("admin", "GET", "/admin/accounts", None),
        ]
        print(f"\n{arguments.requests} requests per page, {arguments.patients:,} patients")
        print(f"{'role':<12} {'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal")
        for role in ROLES:
            with TestClient(app, follow_redirects=False) as client:
                _sign_in(client, f"bench-{role}")
                for _, method, path, body in (page for page in pages if page[0] == role):
                    _report(
                        role, method, path, _time(client, method, path, body, arguments.requests)
                    )
        database.dispose()


if __name__ == "__main__":
    main()
