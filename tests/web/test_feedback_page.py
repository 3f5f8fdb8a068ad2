"""The CDS card feedback page: accepted and overridden counts with coded override reasons per
rule (of the issued card each item names) and per service, no free-text comment shown,
AGGREGATE_READ only."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from venapath.cdshooks.cards import IssuedCard
from venapath.cdshooks.feedback import DatabaseFeedbackStore
from venapath.cdshooks.hooks import HookAnswer, patient_reference
from venapath.cdshooks.models import Card, FeedbackItem, HookResponse, Source
from venapath.domain.access import Role
from venapath.services.registry import Registry

COMMENT = "Spoke with Mrs Example about this"


def test_feedback_is_counted_per_service_with_reasons(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    store = DatabaseFeedbackStore(module_registry.database)
    moment = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    items = [
        {"card": "c1", "outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}]},
        {
            "card": "c2",
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "bleeding-risk", "display": "Bleeding risk too high"},
                "userComment": COMMENT,
            },
        },
        {"card": "c3", "outcome": "overridden"},
    ]
    for item in items:
        assert store.record(
            "venapath-dvt", FeedbackItem.model_validate({**item, "outcomeTimestamp": moment})
        )
    caller.become(Role.RESEARCHER)
    page = web.get("/feedback")
    assert page.status_code == 200
    html = page.text
    assert "venapath-dvt" in html
    assert "Bleeding risk too high: 1" in html
    assert "no reason given: 1" in html
    assert COMMENT not in html
    assert 'href="/feedback"' in html


def test_a_coordinator_may_not_see_feedback(web: TestClient, caller: Any) -> None:
    caller.become(Role.COORDINATOR)
    assert web.get("/feedback").status_code == 403


def _issue(store: DatabaseFeedbackStore, service_id: str, uuid: str, rules: list[str]) -> None:
    card = Card(uuid=uuid, summary="A card", indicator="warning", source=Source(label="VenaPath"))
    store.issue(
        HookAnswer(
            response=HookResponse(cards=[card]),
            issued=[IssuedCard(card, tuple(rules), ("anticoagulation",))],
            service_id=service_id,
            knowledge_version="0.5.0+test",
            patient_ref=patient_reference(None, "p1"),
            issued_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        )
    )


def _rule_row(html: str, rule_id: str) -> tuple[int, int, str]:
    """(accepted, overridden, reasons cell) of the rule's row in the per-rule table."""
    row = re.search(
        rf"<code>{rule_id}</code></a></th>\s*<td>(?P<version>[^<]*)</td>\s*<td>[^<]*</td>\s*"
        r"<td>(?P<accepted>\d+)</td>\s*<td>(?P<overridden>\d+)</td>\s*<td>(?P<reasons>.*?)</td>",
        html,
        re.DOTALL,
    )
    assert row is not None, f"no row for {rule_id}"
    assert row["version"] == "0.5.0+test"
    return int(row["accepted"]), int(row["overridden"]), row["reasons"]


def test_feedback_is_shown_per_rule_of_the_card_it_names(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    store = DatabaseFeedbackStore(module_registry.database)
    service = "venapath-patient-view"
    _issue(store, service, "card-a", ["RULE-SHARED", "RULE-A"])
    _issue(store, service, "card-b", ["RULE-SHARED"])
    moment = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    override = {"reason": {"code": "specialist-decision", "display": "Decided with the team"}}
    items = [
        {"card": "card-a", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}]},
        {"card": "card-b", "outcome": "overridden", "overrideReason": override},
        {"card": "card-b", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}]},
    ]
    for item in items:
        parsed = FeedbackItem.model_validate({**item, "outcomeTimestamp": moment})
        store.check_issued(service, [parsed])
        assert store.record(service, parsed)
    caller.become(Role.RESEARCHER)
    html = web.get("/feedback").text
    assert "Feedback per rule" in html
    shared = _rule_row(html, "RULE-SHARED")
    assert shared[:2] == (2, 1)
    assert "Decided with the team: 1" in shared[2]
    assert _rule_row(html, "RULE-A")[:2] == (1, 0)
    assert "anticoagulation" in html
