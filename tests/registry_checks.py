"""Checks shared by the crash and restart tests: make a record, prove nothing is half-written."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from identity_support import bearer
from venapath.persistence.database import Database

STENT_TASKS = 6
"""A venous-stent report schedules six duplex scans in the same transaction."""


def make_episode(base: str) -> str:
    headers = bearer()
    patient = httpx.post(f"{base}/api/v1/patients", json={}, headers=headers, timeout=10).json()
    episode = httpx.post(
        f"{base}/api/v1/episodes",
        json={"patient_id": patient["id"], "condition": "venous_stenosis"},
        headers=headers,
        timeout=10,
    )
    return str(episode.json()["id"])


def check_consistent(database: Database, acknowledged: list[str]) -> None:
    with database.engine.connect() as connection:
        stored = set(connection.execute(text("SELECT id FROM procedures")).scalars())
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged writes were lost"
        task_counts = connection.execute(
            text(
                "SELECT p.id, count(t.id) FROM procedures p "
                "LEFT JOIN follow_up_tasks t ON t.procedure_id = p.id GROUP BY p.id"
            )
        ).all()
        partial = [row for row in task_counts if row[1] != STENT_TASKS]
        assert not partial, f"procedures without all their tasks: {partial[:3]}"
        orphans = connection.execute(
            text(
                "SELECT count(*) FROM follow_up_tasks t WHERE t.procedure_id IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM procedures p WHERE p.id = t.procedure_id)"
            )
        ).scalar_one()
        assert orphans == 0
        unaudited = connection.execute(
            text(
                "SELECT count(*) FROM procedures p WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
                "WHERE a.entity = 'procedure' AND a.entity_id = p.id)"
            )
        ).scalar_one()
        assert unaudited == 0
        if database.dialect == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        else:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
