"""Feedback and JWT replay storage in the registry database: durable across restarts,
stored once however often posted, shared by workers (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from venapath.cdshooks.feedback import DatabaseFeedbackStore
from venapath.cdshooks.models import FeedbackItem
from venapath.persistence.database import Database
from venapath.persistence.stores import DbReplayStore
from venapath.persistence.tables import CdsFeedbackRow

ITEM = FeedbackItem.model_validate(
    {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:00:00Z"}
)


def _count(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(CdsFeedbackRow)) or 0)


def test_a_repeat_is_not_stored_twice_and_survives_a_restart(database: Database) -> None:
    assert DatabaseFeedbackStore(database).record("svc", ITEM) is True
    restarted = Database(database.url)
    try:
        assert DatabaseFeedbackStore(restarted).record("svc", ITEM) is False
    finally:
        restarted.dispose()
    assert _count(database) == 1


def test_concurrent_repeats_store_one(database: Database) -> None:
    store = DatabaseFeedbackStore(database)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.record("svc", ITEM), range(32)))
    assert results.count(True) == 1
    assert _count(database) == 1


def test_a_token_id_is_refused_by_every_worker_until_it_expires(database: Database) -> None:
    other_worker = Database(database.url)
    first, second = DbReplayStore(database), DbReplayStore(other_worker)
    soon = time.time() + 60
    assert first.remember("https://ehr", "jti-1", soon) is True
    assert second.remember("https://ehr", "jti-1", soon) is False
    assert second.remember("https://other-ehr", "jti-1", soon) is True
    assert first.remember("https://ehr", "jti-old", time.time() - 1) is True
    assert second.remember("https://ehr", "jti-old", soon) is True  # expired: may be reused
    other_worker.dispose()


def test_a_token_id_raced_by_many_threads_is_accepted_once(database: Database) -> None:
    """The check and the record are one statement: two workers cannot both accept an id."""
    stores = [DbReplayStore(database) for _ in range(4)]
    soon = time.time() + 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda i: stores[i % 4].remember("https://ehr", "jti-race", soon), range(32))
        )
    assert results.count(True) == 1


def test_an_expired_token_id_is_taken_over_once(database: Database) -> None:
    store = DbReplayStore(database)
    assert store.remember("https://ehr", "jti-x", time.time() - 5) is True
    soon = time.time() + 60
    assert store.remember("https://ehr", "jti-x", soon) is True
    assert store.remember("https://ehr", "jti-x", soon) is False
