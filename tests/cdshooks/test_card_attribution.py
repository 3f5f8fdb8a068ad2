"""Feedback is attributed to the rules of the card it names: every card a CDS service sends
is stored as issued (uuid, service, rules, actions, knowledge version, a digest of the
patient reference), over HTTP, in the registry database (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fhir_fixtures import dvt_record, medication_request, prefetch_for, searchset
from identity_support import identity_settings
from venapath.api.app import create_app
from venapath.cdshooks.feedback import feedback_report
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.persistence.tables import CdsFeedbackRow, CdsIssuedCardRow
from venapath.services.registry import Registry
from venapath.settings import load_settings

PATIENT_VIEW = "/cds-services/venapath-patient-view"
ORDER_SIGN = "/cds-services/venapath-order-sign"
ALTEPLASE = ("8410", "alteplase")
WHEN = "2026-12-01T09:00:00Z"


@pytest.fixture
def client(kb: KnowledgeBase, database: Database) -> Iterator[TestClient]:
    """The service with its default stores: issued cards and feedback in `database`."""
    settings = load_settings(env="development", **identity_settings())
    app = create_app(settings, kb=kb, registry=Registry(database, kb))
    with TestClient(app) as test_client:
        yield test_client


def _hook(hook: str, prefetch: dict[str, Any], **context: Any) -> dict[str, Any]:
    return {
        "hook": hook,
        "hookInstance": "5b0b4d1e-7f0a-4a43-8d7c-0c1b4b3f9a10",
        "context": {"userId": "Practitioner/example", "patientId": "p1", **context},
        "prefetch": prefetch,
    }


def _templates(client: TestClient) -> dict[str, str]:
    return dict(client.get("/cds-services").json()["services"][0]["prefetch"])


def _order_sign_cards(client: TestClient) -> list[dict[str, Any]]:
    order = medication_request("draft-1", ALTEPLASE[0], ALTEPLASE[1], status="draft")
    prefetch = prefetch_for(dvt_record(platelets=60), _templates(client))
    response = client.post(
        ORDER_SIGN, json=_hook("order-sign", prefetch, draftOrders=searchset(order))
    )
    assert response.status_code == 200, response.text
    return list(response.json()["cards"])


def _rules_named_in(detail: str) -> set[str]:
    """The rule ids a pathway card's text names, "(...; rule CVT-...)"."""
    return set(re.findall(r"rule ([A-Z0-9-]+)\)", detail))


def _count(database: Database, table: type[Any]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_feedback_is_counted_for_the_rules_of_the_card_it_names(
    client: TestClient, database: Database, kb: KnowledgeBase
) -> None:
    critical = next(c for c in _order_sign_cards(client) if c["indicator"] == "critical")
    view = client.post(
        PATIENT_VIEW, json=_hook("patient-view", prefetch_for(dvt_record(), _templates(client)))
    )
    pathway_card = view.json()["cards"][0]
    pathway_rules = _rules_named_in(pathway_card["detail"])
    assert pathway_rules

    overridden = {
        "card": critical["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": critical["overrideReasons"][0], "userComment": "Mrs X"},
        "outcomeTimestamp": WHEN,
    }
    accepted = {
        "card": pathway_card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "s1"}],
        "outcomeTimestamp": WHEN,
    }
    answer = client.post(f"{ORDER_SIGN}/feedback", json={"feedback": [overridden]})
    assert answer.json() == {"received": 1, "stored": 1}
    answer = client.post(f"{PATIENT_VIEW}/feedback", json={"feedback": [accepted]})
    assert answer.json() == {"received": 1, "stored": 1}

    report = feedback_report(database)
    by_rule = {r.rule_id: r for r in report.rules}
    platelets = by_rule["CI-SIR-PLATELETS-LOW"]
    assert (platelets.accepted, platelets.overridden) == (0, 1)
    assert platelets.reasons == {critical["overrideReasons"][0]["display"]: 1}
    assert platelets.services == {"venapath-order-sign"}
    assert platelets.actions
    assert platelets.knowledge_version == kb.version
    for rule_id in pathway_rules:
        assert (by_rule[rule_id].accepted, by_rule[rule_id].overridden) == (1, 0), rule_id
    assert set(by_rule) == pathway_rules | {"CI-SIR-PLATELETS-LOW"}
    assert report.unattributed == 0


def test_each_call_stores_its_cards_with_a_digest_of_the_patient(
    client: TestClient, database: Database, kb: KnowledgeBase
) -> None:
    cards = _order_sign_cards(client)
    with database.session() as session:
        rows = {row.uuid: row for row in session.scalars(select(CdsIssuedCardRow))}
    assert set(rows) == {c["uuid"] for c in cards}
    for row in rows.values():
        assert row.service_id == "venapath-order-sign"
        assert row.knowledge_version == kb.version
        assert row.rule_ids
        assert row.actions
        assert re.fullmatch(r"[0-9a-f]{64}", row.patient_ref)
        assert row.issued_at.tzinfo is not None
    critical = next(c for c in cards if c["indicator"] == "critical")
    assert "CI-SIR-PLATELETS-LOW" in rows[critical["uuid"]].rule_ids


def test_a_batch_naming_an_unknown_card_stores_nothing(
    client: TestClient, database: Database
) -> None:
    known = _order_sign_cards(client)[0]["uuid"]
    items = [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": WHEN}
        for card in (known, "not-a-card-we-sent")
    ]
    response = client.post(f"{ORDER_SIGN}/feedback", json={"feedback": items})
    assert response.status_code == 404
    issue = response.json()["issue"][0]
    assert "'not-a-card-we-sent' was not issued by CDS service" in issue["diagnostics"]
    assert issue["expression"] == ["/feedback/1/card"]
    assert _count(database, CdsFeedbackRow) == 0
