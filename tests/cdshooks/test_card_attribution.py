"""Feedback is attributed to the rules of the card it names: every card a CDS service sends
is stored as issued (uuid, service, rules, actions, knowledge version, a digest of the
patient reference), over HTTP, in the registry database (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select
from sqlalchemy.exc import OperationalError

from fhir_fixtures import dvt_record, medication_request, searchset
from identity_support import identity_settings
from jwt_support import BASE
from jwt_support import token as jwt_token
from security_settings import production_settings
from venapath.api.app import create_app
from venapath.cdshooks.feedback import feedback_report
from venapath.cdshooks.prefetch import prefetch_answers, prefetch_templates
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditTrail
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
    prefetch = prefetch_answers(dvt_record(platelets=60), _templates(client))
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
        PATIENT_VIEW, json=_hook("patient-view", prefetch_answers(dvt_record(), _templates(client)))
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


class WriteTransactions:
    """The tables each committed write transaction of `database` inserted into, in order."""

    def __init__(self, database: Database) -> None:
        self.committed: list[set[str]] = []
        self._open: dict[int, set[str]] = {}
        engine = database.engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _begin(self, connection: Connection) -> None:
        self._open[id(connection)] = set()

    def _statement(self, connection: Connection, *args: Any) -> None:
        written = re.match(r"\s*INSERT INTO (\w+)", str(args[1]), re.IGNORECASE)
        if written and id(connection) in self._open:
            self._open[id(connection)].add(written.group(1))

    def _commit(self, connection: Connection) -> None:
        tables = self._open.pop(id(connection), set())
        if tables:
            self.committed.append(tables)

    def _rollback(self, connection: Connection) -> None:
        self._open.pop(id(connection), None)


@pytest.fixture
def production(kb: KnowledgeBase, database: Database) -> Iterator[TestClient]:
    """Production mode: every call carries a signed JWT, its id kept in `database`."""
    app = create_app(production_settings(), kb=kb, registry=Registry(database, kb))
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def _signed_patient_view(client: TestClient, kb: KnowledgeBase, authorization: str) -> Any:
    prefetch = prefetch_answers(dvt_record(), prefetch_templates(kb))
    return client.post(
        PATIENT_VIEW,
        json=_hook("patient-view", prefetch),
        headers={"Authorization": authorization},
    )


def test_a_call_writes_its_token_id_then_its_cards_and_audit_entry_in_one_transaction(
    production: TestClient, database: Database, kb: KnowledgeBase
) -> None:
    """Two write transactions per call, not three: on SQLite each queues for the file's one
    write lock and pays a commit. The token id is written before the body is read (a
    replay is refused before any work); the cards and the audit entry commit together."""
    authorization = f"Bearer {jwt_token(BASE + PATIENT_VIEW)}"
    writes = WriteTransactions(database)
    answer = _signed_patient_view(production, kb, authorization)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cards"]
    assert writes.committed == [{"jwt_replay"}, {"cds_issued_cards", "audit_events"}]

    cards = _count(database, CdsIssuedCardRow)
    replayed = _signed_patient_view(production, kb, authorization)
    assert replayed.status_code == 401
    assert "replay" in replayed.text
    assert _count(database, CdsIssuedCardRow) == cards


def test_cards_are_not_kept_when_the_calls_audit_entry_cannot_be_written(
    production: TestClient, database: Database, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cards and the entry commit together or not at all: no card is answered, and
    none is stored as issued, without the evaluation of the patient being audited."""

    def failing(*_: Any) -> int:
        raise OperationalError("INSERT INTO audit_events", {}, Exception("disk I/O error"))

    monkeypatch.setattr(AuditTrail, "_append", failing)
    answer = _signed_patient_view(production, kb, f"Bearer {jwt_token(BASE + PATIENT_VIEW)}")
    assert answer.status_code == 500
    assert "cards" not in answer.text
    assert _count(database, CdsIssuedCardRow) == 0
