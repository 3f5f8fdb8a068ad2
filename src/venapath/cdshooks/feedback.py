"""Card feedback, attributed to the rules of the card it names.

Every card a CDS service sends is stored as issued (its uuid, service, rules, actions,
knowledge version, a digest of the patient reference), so that CDS Hooks feedback naming the
card counts for the rules behind it. Feedback on a card the service never issued is refused
(`UnknownCardError`, naming the card). Feedback is stored once however often the EHR repeats
it (the specification allows repeats).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from venapath.cdshooks.hooks import HookAnswer
from venapath.cdshooks.models import FeedbackItem
from venapath.errors import NotFoundError, shown
from venapath.persistence.database import Database
from venapath.persistence.stores import (
    AttributedItem,
    DbFeedbackStore,
    DbIssuedCardStore,
    IssuedCardFacts,
)


class UnknownCardError(NotFoundError):
    """Feedback names a card that this CDS service did not issue (or that VenaPath no longer
    knows): it cannot be attributed to any rule, so it is refused, not stored."""

    def __init__(self, service_id: str, card: str, pointer: str) -> None:
        super().__init__("CDS card", card, pointer)
        self.service_id = service_id
        self.message = f"card {shown(card)} was not issued by CDS service {shown(service_id)}"
        self.args = (self.message,)


class FeedbackStore(Protocol):
    def issue(self, answer: HookAnswer, session: Session | None = None) -> None:
        """Store the cards a service sent (one write per call, however many cards).

        With `session`, inside that transaction when it is on the store's own database (the
        CDS call's audit entry is written in the same one), else in a transaction of its own."""
        ...

    def check_issued(self, service_id: str, items: list[FeedbackItem]) -> None:
        """Raise UnknownCardError for the first item naming a card `service_id` did not issue."""
        ...

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        """Store one feedback item; False when the same item was stored before."""
        ...


def feedback_key(service_id: str, item: FeedbackItem) -> tuple[str, str, str, str]:
    """What makes two feedback posts the same: service, card, outcome and its timestamp."""
    return (service_id, item.card, item.outcome, item.outcomeTimestamp.isoformat())


def issued_rows(answer: HookAnswer) -> list[dict[str, Any]]:
    """One `cds_issued_cards` row per card of the answer."""
    return [
        {
            "uuid": issued.card.uuid,
            "service_id": answer.service_id,
            "rule_ids": list(issued.rule_ids),
            "actions": list(issued.actions),
            "knowledge_version": answer.knowledge_version,
            "patient_ref": answer.patient_ref,
            "issued_at": answer.issued_at,
        }
        for issued in answer.issued
    ]


def _first_unknown(service_id: str, items: list[FeedbackItem], known: set[str]) -> None:
    for index, item in enumerate(items):
        if item.card not in known:
            raise UnknownCardError(service_id, item.card, f"/feedback/{index}/card")


@dataclass
class MemoryFeedbackStore:
    """Issued cards and feedback kept in this process (tests and development)."""

    items: dict[tuple[str, str, str, str], FeedbackItem] = field(default_factory=dict)
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, answer: HookAnswer, session: Session | None = None) -> None:
        with self._lock:
            self.cards.update((row["uuid"], row) for row in issued_rows(answer))

    def check_issued(self, service_id: str, items: list[FeedbackItem]) -> None:
        with self._lock:
            known = {
                item.card
                for item in items
                if self.cards.get(item.card, {}).get("service_id") == service_id
            }
        _first_unknown(service_id, items, known)

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        key = feedback_key(service_id, item)
        with self._lock:
            if key in self.items:
                return False
            self.items[key] = item
            return True


class DatabaseFeedbackStore:
    """Issued cards and feedback in the registry database: durable, shared by workers,
    feedback idempotent by its key."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._store = DbFeedbackStore(database)
        self._cards = DbIssuedCardStore(database)

    def issue(self, answer: HookAnswer, session: Session | None = None) -> None:
        joined = session is not None and session.get_bind() is self._database.engine
        self._cards.add(issued_rows(answer), session.connection() if joined and session else None)

    def check_issued(self, service_id: str, items: list[FeedbackItem]) -> None:
        known = self._cards.issued_by(service_id, {item.card for item in items})
        _first_unknown(service_id, items, known)

    def record(self, service_id: str, item: FeedbackItem) -> bool:
        return self._store.record_item(feedback_key(service_id, item), item.model_dump(mode="json"))


@dataclass
class Tally:
    """Accepted and overridden counts, and the override reasons the EHR sent, counted
    (free-text comments are not kept here: they may name a patient)."""

    accepted: int = 0
    overridden: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    overridden_without_reason: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.overridden

    def add(self, outcome: str, item: dict[str, object]) -> None:
        if outcome == "accepted":
            self.accepted += 1
            return
        self.overridden += 1
        reason = _reason_label(item)
        if reason is None:
            self.overridden_without_reason += 1
        else:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class ServiceFeedback(Tally):
    """Feedback on one CDS service's cards."""

    service_id: str = ""


@dataclass
class RuleFeedback(Tally):
    """Feedback on the cards that carried one rule, under one knowledge version. A card that
    carries several rules counts once for each of them."""

    rule_id: str = ""
    knowledge_version: str = ""
    actions: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class FeedbackReport:
    """What the feedback page shows: per service, per rule, and how many items could not
    be attributed (feedback stored before issued cards were kept)."""

    services: list[ServiceFeedback]
    rules: list[RuleFeedback]
    unattributed: int


def feedback_report(database: Database) -> FeedbackReport:
    """Every stored feedback item counted per service and per rule (the busiest first)."""
    items = DbFeedbackStore(database).all_items()
    return FeedbackReport(
        services=_per_service(items),
        rules=_per_rule(items),
        unattributed=sum(1 for item in items if item.card is None),
    )


def _per_service(items: Iterable[AttributedItem]) -> list[ServiceFeedback]:
    services: dict[str, ServiceFeedback] = {}
    for entry in items:
        summary = services.setdefault(
            entry.service_id, ServiceFeedback(service_id=entry.service_id)
        )
        summary.add(entry.outcome, entry.item)
    return sorted(services.values(), key=lambda s: (-s.total, s.service_id))


def _per_rule(items: Iterable[AttributedItem]) -> list[RuleFeedback]:
    rules: dict[tuple[str, str], RuleFeedback] = {}
    for entry in items:
        card: IssuedCardFacts | None = entry.card
        if card is None:
            continue
        for rule_id in card.rule_ids:
            key = (rule_id, card.knowledge_version)
            summary = rules.setdefault(
                key, RuleFeedback(rule_id=rule_id, knowledge_version=card.knowledge_version)
            )
            summary.add(entry.outcome, entry.item)
            summary.actions.update(card.actions)
            summary.services.add(entry.service_id)
    return sorted(rules.values(), key=lambda r: (-r.total, r.rule_id, r.knowledge_version))


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
