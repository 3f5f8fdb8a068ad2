"""The CDS card feedback page: accepted and overridden counts with coded override reasons per
service, no free-text comment shown, AGGREGATE_READ only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from venapath.cdshooks.feedback import DatabaseFeedbackStore
from venapath.cdshooks.models import FeedbackItem
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
