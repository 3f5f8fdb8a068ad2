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


@dataclass
class ServiceFeedback:
    """Feedback on one CDS service's cards: how many were accepted and overridden, and the
    override reasons the EHR sent, counted (free-text comments are not shown: they may name
    a patient)."""

    service_id: str
    accepted: int = 0
    overridden: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    overridden_without_reason: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.overridden


def feedback_summary(database: Database) -> list[ServiceFeedback]:
    """Every stored feedback item, counted per service (the busiest first)."""
    services: dict[str, ServiceFeedback] = {}
    for service_id, outcome, item in DbFeedbackStore(database).all_items():
        summary = services.setdefault(service_id, ServiceFeedback(service_id))
        if outcome == "accepted":
            summary.accepted += 1
            continue
        summary.overridden += 1
        reason = _reason_label(item)
        if reason is None:
            summary.overridden_without_reason += 1
        else:
            summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
    return sorted(services.values(), key=lambda s: (-s.total, s.service_id))


def _reason_label(item: dict[str, object]) -> str | None:
    """The override reason's display (or code) as the EHR coded it."""
    override = item.get("overrideReason")
    if not isinstance(override, dict):
        return None
    coding = override.get("reason")
    if not isinstance(coding, dict):
        return None
    label = coding.get("display") or coding.get("code")
    return str(label)[:200] if label else None
