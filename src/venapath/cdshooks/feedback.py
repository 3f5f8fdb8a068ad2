"""Card feedback: stored once however often the EHR repeats it (the spec allows repeats)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from venapath.cdshooks.models import FeedbackItem
from venapath.persistence.database import Database
from venapath.persistence.stores import DbFeedbackStore


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


class DatabaseFeedbackStore:
    """Feedback in the registry database: durable, shared by workers, idempotent by its key."""

    def __init__(self, database: Database) -> None:
        self._store = DbFeedbackStore(database)

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        return self._store.record_item(feedback_key(service_id, item), item.model_dump(mode="json"))
