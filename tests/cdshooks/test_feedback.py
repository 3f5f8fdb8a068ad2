"""Feedback storage: durable across restarts and stored once however often it is posted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from venapath.cdshooks.feedback import SqliteFeedbackStore
from venapath.cdshooks.models import FeedbackItem

ITEM = FeedbackItem.model_validate(
    {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:00:00Z"}
)


def test_a_repeat_is_not_stored_twice_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    assert SqliteFeedbackStore(path).record("svc", ITEM) is True
    reopened = SqliteFeedbackStore(path)
    assert reopened.record("svc", ITEM) is False
    assert reopened.count() == 1


def test_concurrent_repeats_store_one(tmp_path: Path) -> None:
    store = SqliteFeedbackStore(tmp_path / "feedback.sqlite3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.record("svc", ITEM), range(32)))
    assert results.count(True) == 1
    assert store.count() == 1
