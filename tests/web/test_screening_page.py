"""The population screen page: the last screen's summary for AGGREGATE_READ roles, a plain
sentence when there is none, and one screened patient's row only for roles that see
identities (the read audited)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from identity_support import identity_settings, session_csrf, sign_in
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.domain.access import Role, local_operator
from venapath.kb.model import KnowledgeBase
from venapath.service import build_service
from venapath.services.registry import Registry
from venapath.settings import load_settings

FLAGGED_ID = "screen-patient-007"
QUIET_ID = "screen-patient-002"


def write_screen(folder: Path) -> None:
    recommendation = pa.struct(
        [
            ("place", pa.int64()),
            ("rule_id", pa.string()),
            ("action", pa.string()),
            ("strength", pa.string()),
            ("urgency", pa.string()),
            ("certainty", pa.string()),
        ]
    )
    strings = pa.list_(pa.string())
    table = pa.table(
        {
            "patient_id": [FLAGGED_ID, QUIET_ID],
            "error": pa.array([None, None], pa.string()),
            "urgency": pa.array(["urgent", None], pa.string()),
            "pathways": pa.array([["dvt_leg"], []], strings),
            "possible_pathways": pa.array([[], ["cvt"]], strings),
            "recommendations": pa.array(
                [
                    [
                        {
                            "place": 1,
                            "rule_id": "dvt.cdt.iliofemoral",
                            "action": "catheter_directed_thrombolysis",
                            "strength": "consider",
                            "urgency": "urgent",
                            "certainty": "provisional",
                        }
                    ],
                    [],
                ],
                pa.list_(recommendation),
            ),
            "contraindications": pa.array([["active_bleeding"], []], strings),
            "alerts": pa.array([[], []], strings),
            "needs_data": pa.array([["platelet_count"], ["gcs"]], strings),
            "follow_up_due": pa.array([[], []], strings),
            "follow_up_overdue": pa.array([["stent/duplex_6w"], []], strings),
        }
    )
    pq.write_table(table, folder / "patients.parquet")
    summary = {
        "knowledge_version": "test-kb",
        "as_of": "2026-12-01T08:00:00+00:00",
        "patients": 2,
        "patients_with_errors": 0,
        "findings": {
            "early_thrombus_removal_candidates": {"patients": 1, "share": 0.5},
            "open_contraindication": {"patients": 1, "share": 0.5},
            "follow_up_due_now": {"patients": 0, "share": 0.0},
            "follow_up_overdue_no_visit_recorded": {"patients": 1, "share": 0.5},
        },
        "pathways": [{"id": "dvt_leg", "title": "Leg DVT", "applies": 1, "possible": 0}],
        "urgency": {"urgent": {"patients": 1, "share": 0.5}, "none": {"patients": 1, "share": 0.5}},
        "missing_facts": [
            {
                "fact": "platelet_count",
                "patients": 1,
                "share": 0.5,
                "description": "Platelet count",
                "settled_by": ["full blood count"],
            }
        ],
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def client_for(kb: KnowledgeBase, registry: Registry, folder: Path | None) -> TestClient:
    overrides: dict[str, Any] = {"screen_results_dir": folder} if folder else {}
    settings = load_settings(
        env="development", max_body_bytes=1_000_000, **identity_settings(), **overrides
    )
    app = build_service(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=registry)
    return TestClient(app, follow_redirects=False)


def become(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    assert sign_in(client, f"{role.value}-1").status_code == 303
    client.headers["X-CSRF-Token"] = session_csrf(client)


@pytest.fixture(scope="module")
def screened(
    web: TestClient, kb: KnowledgeBase, module_registry: Registry, tmp_path_factory: Any
) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("screen")
    write_screen(folder)
    with client_for(kb, module_registry, folder) as client:
        yield client


def test_without_a_screen_the_page_says_so(
    web: TestClient, kb: KnowledgeBase, module_registry: Registry
) -> None:
    with client_for(kb, module_registry, None) as client:
        become(client, Role.RESEARCHER)
        page = client.get("/screening")
    assert page.status_code == 200
    assert "No screen results folder is set" in page.text


def test_a_clinician_sees_the_summary_and_opens_a_flagged_patient(
    screened: TestClient, module_registry: Registry
) -> None:
    become(screened, Role.CLINICIAN)
    page = screened.get("/screening")
    assert page.status_code == 200
    for words in ("early thrombus removal candidates", "open contraindication", "Platelet count"):
        assert words in page.text
    assert f"/screening/patients/{FLAGGED_ID}" in page.text
    assert f"/screening/patients/{QUIET_ID}" not in page.text  # nothing to act on
    since = datetime.now(UTC) - timedelta(minutes=5)
    row = screened.get(f"/screening/patients/{FLAGGED_ID}")
    assert row.status_code == 200
    assert "dvt.cdt.iliofemoral" in row.text
    assert "active_bleeding" in row.text
    assert "stent/duplex_6w" in row.text
    events = list(module_registry.audit.export(local_operator("auditor"), since, None))
    assert any(f"screen_result/{FLAGGED_ID}" in str(e) for e in events)
    assert screened.get("/screening/patients/nobody").status_code == 404


def test_a_researcher_sees_counts_and_no_patient(screened: TestClient) -> None:
    become(screened, Role.RESEARCHER)
    page = screened.get("/screening")
    assert page.status_code == 200
    assert "Platelet count" in page.text
    assert FLAGGED_ID not in page.text
    refused = screened.get(f"/screening/patients/{FLAGGED_ID}")
    assert refused.status_code == 403
    assert "dvt.cdt.iliofemoral" not in refused.text


def test_a_coordinator_may_not_see_the_screen(screened: TestClient) -> None:
    become(screened, Role.COORDINATOR)
    assert screened.get("/screening").status_code == 403
