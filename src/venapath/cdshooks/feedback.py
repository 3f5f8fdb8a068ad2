"""Card feedback: stored once however often the EHR repeats it (the spec allows repeats)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from venapath.cdshooks.models import FeedbackItem


class FeedbackStore(Protocol):
    def record(self, service_id: str, item: FeedbackItem) -> bool:
        """Store one feedback item; False when the same item was stored before."""
        ...


def feedback_key(service_id: str, item: FeedbackItem) -> tuple[str, str, str, str]:
    """What makes two feedback posts the same: service, card, outcome and its timestamp."""
    return (service_id, item.card, item.outcome, item.outcomeTimestamp.isoformat())


@dataclass
class MemoryFeedbackStore:
    """Feedback kept in this process (tests and development)."""

    items: dict[tuple[str, str, str, str], FeedbackItem] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        key = feedback_key(service_id, item)
        with self._lock:
            if key in self.items:
                return False
            self.items[key] = item
            return True


class SqliteFeedbackStore:
    """Feedback in a SQLite file in the data directory: durable, and idempotent by its key.

    The primary key is the feedback key, so a repeated post is ignored by the database
    itself (INSERT OR IGNORE), also when two workers receive it at the same moment.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA busy_timeout=5000")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS cds_feedback ("
                " service_id TEXT NOT NULL, card TEXT NOT NULL, outcome TEXT NOT NULL,"
                " outcome_timestamp TEXT NOT NULL, item TEXT NOT NULL, received_at TEXT NOT NULL,"
                " PRIMARY KEY (service_id, card, outcome, outcome_timestamp))"
            )

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        key = feedback_key(service_id, item)
        with self._lock:
            cursor = self._connection.execute(
                "INSERT OR IGNORE INTO cds_feedback VALUES (?, ?, ?, ?, ?, ?)",
                (*key, item.model_dump_json(), datetime.now(UTC).isoformat()),
            )
        return cursor.rowcount == 1

    def count(self) -> int:
        with self._lock:
            row = self._connection.execute("SELECT count(*) FROM cds_feedback").fetchone()
        return int(row[0])
