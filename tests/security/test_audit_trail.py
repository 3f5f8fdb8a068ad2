"""Sign-ins, sign-outs, failed sign-ins, refusals and account changes land in the
hash-chained audit trail with the right actor and outcome; refusals are coalesced; a sign-in
that cannot be audited is refused; `venapath audit verify` passes over these entries and
still detects a tampered one."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from fhir_fixtures import collection, cvt_record, dvt_record
from identity_support import PASSWORD, bearer, session_csrf, sign_in
from jwt_support import BASE
from jwt_support import ISSUER as CDS_ISSUER
from jwt_support import token as cds_token
from venapath.cdshooks.prefetch import prefetch_answers, prefetch_templates
from venapath.cli.main import app as cli
from venapath.identity.accounts import SIGN_IN_REFUSED, AccountService
from venapath.identity.sessions import session_cookie_name
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditFact, AuditOutcome
from venapath.persistence.database import Database, DatabaseUnavailableError
from venapath.persistence.tables import AuditEventRow
from venapath.settings import Settings

LOGIN, LOGOUT = "110122", "110123"


def last_seq(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.coalesce(func.max(AuditEventRow.seq), 0))) or 0)


def entries_after(database: Database, seq: int) -> list[dict[str, Any]]:
    with database.session() as session:
        rows = session.scalars(
            select(AuditEventRow.event).where(AuditEventRow.seq > seq).order_by(AuditEventRow.seq)
        ).all()
        return list(rows)


def actor(event: dict[str, Any]) -> str:
    return str(event["agent"][0]["who"]["identifier"]["value"])


def address(event: dict[str, Any]) -> str | None:
    network = event["agent"][1].get("network")
    return None if network is None else str(network["address"])


def roles(event: dict[str, Any]) -> list[str]:
    return [r["coding"][0]["code"] for r in event["agent"][0].get("role", [])]


def request_of(event: dict[str, Any]) -> dict[str, Any]:
    found = [e for e in event["entity"] if e.get("description", "").startswith("the HTTP")]
    assert len(found) == 1, event
    return found[0]


def test_sign_in_and_sign_out_are_recorded_with_the_verified_actor(
    anonymous: TestClient, secure_database: Database
) -> None:
    start = last_seq(secure_database)
    assert sign_in(anonymous, "clinician-1").status_code == 303
    csrf = session_csrf(anonymous)
    assert anonymous.post("/auth/logout", data={"csrf_token": csrf}).status_code == 200
    signed_in, signed_out = [
        e for e in entries_after(secure_database, start) if e["type"]["code"] == "110114"
    ]
    assert signed_in["subtype"][0]["code"] == LOGIN
    assert signed_in["outcome"] == AuditOutcome.SUCCESS.value
    assert actor(signed_in) == "local:clinician-1"
    assert roles(signed_in) == ["clinician"]
    assert address(signed_in) == "testclient"
    assert signed_out["subtype"][0]["code"] == LOGOUT
    assert actor(signed_out) == "local:clinician-1"


def test_failed_and_locked_sign_ins_are_recorded_under_the_claimed_name(
    app_factory: Callable[[Settings], TestClient], secure_database: Database, settings: Settings
) -> None:
    AccountService(secure_database, settings).add("audit-lock", "Lock", "clinician", PASSWORD)
    start = last_seq(secure_database)
    wrong = "an entirely wrong pass phrase"
    with app_factory(settings) as client:
        for _ in range(settings.sign_in_lockout_threshold):
            assert sign_in(client, "audit-lock", wrong).status_code == 401
        locked = sign_in(client, "audit-lock", PASSWORD)
        assert locked.status_code == 401
        assert SIGN_IN_REFUSED.capitalize() in locked.text  # the same words as a wrong password
        during = entries_after(secure_database, start)
    after = entries_after(secure_database, start)  # the server stopped: counts written
    failures = [e for e in after if e["subtype"][0]["code"] == LOGIN]
    assert {actor(e) for e in failures} == {"unverified:audit-lock"}
    assert all(e["outcome"] == AuditOutcome.REFUSED.value for e in failures)
    reasons = [e["outcomeDesc"] for e in failures]
    assert reasons[:3] == [
        "401: wrong password",
        "401: locked after this failure",
        "401: locked",
    ]
    # the repeated wrong passwords between the first and the locking one were counted into
    # one entry, written when the server stopped
    assert len(during) == 3
    assert "more of: 401: wrong password" in reasons[3]
    repeats = int(request_of(failures[3])["detail"][0]["valueString"])
    assert repeats == settings.sign_in_lockout_threshold - 2
    stored = json.dumps(after)
    assert wrong not in stored
    assert PASSWORD not in stored


def test_refusals_name_the_route_template_and_the_verified_actor(
    anonymous: TestClient, secure_database: Database
) -> None:
    start = last_seq(secure_database)
    assert anonymous.get("/api/v1/patients/p-404-secret").status_code == 401
    assert anonymous.get("/api/v1/patients", headers=bearer("system/Task.rs")).status_code == 403
    sign_in(anonymous, "researcher-1")
    assert anonymous.get("/api/v1/patients").status_code == 403
    unauthenticated, wrong_scope, forbidden = [
        e
        for e in entries_after(secure_database, start)
        if e["outcome"] == AuditOutcome.REFUSED.value
    ]
    assert actor(unauthenticated) == "unverified:anonymous"
    assert unauthenticated["subtype"][0]["code"] == LOGIN  # a 401 is a failed authentication
    assert request_of(unauthenticated)["what"]["display"] == "GET /api/v1/patients/{patient_id}"
    assert "p-404-secret" not in json.dumps(unauthenticated)  # the template, not the path
    assert address(unauthenticated) == "testclient"
    assert actor(wrong_scope) == f"{'https://auth.test'}#integration-engine"
    assert wrong_scope["outcomeDesc"].startswith("403 wrong_scope")
    assert actor(forbidden) == "local:researcher-1"
    assert roles(forbidden) == ["researcher"]
    assert forbidden["subtype"][0]["code"] == "read"
    assert forbidden["outcomeDesc"].startswith("403 forbidden")


def test_a_flood_of_anonymous_refusals_writes_two_entries(
    app_factory: Callable[[Settings], TestClient], secure_database: Database, settings: Settings
) -> None:
    start = last_seq(secure_database)
    with app_factory(settings) as client:
        for _ in range(40):
            assert client.get("/api/v1/worklist").status_code == 401
        assert len(entries_after(secure_database, start)) == 1
    first, summary = entries_after(secure_database, start)
    assert request_of(first)["detail"] == [{"type": "repeats", "valueString": "1"}]
    assert request_of(summary)["detail"] == [{"type": "repeats", "valueString": "39"}]
    assert request_of(summary)["what"]["display"] == "GET /api/v1/worklist"
    assert summary["outcomeDesc"].startswith("39 more of: 401 missing")


class BrokenTrail:
    def record_event(self, fact: AuditFact, session: Any = None) -> int:
        raise DatabaseUnavailableError("connection refused")


def test_a_sign_in_that_cannot_be_audited_fails_closed(
    app_factory: Callable[[Settings], TestClient], settings: Settings
) -> None:
    with app_factory(settings) as client:
        events = client.app.state.security_events  # type: ignore[attr-defined]
        working, events.trail = events.trail, BrokenTrail()
        try:
            refused = sign_in(client, "clinician-1")
        finally:
            events.trail = working
        assert refused.status_code == 503
        assert "could not be recorded in the audit trail" in refused.text
        assert session_cookie_name(settings) not in refused.headers.get("set-cookie", "")
        assert client.get("/api/v1/worklist").status_code == 401  # not signed in


def test_account_changes_from_the_admin_page_are_recorded(
    anonymous: TestClient, secure_database: Database
) -> None:
    start = last_seq(secure_database)
    sign_in(anonymous, "admin-1")
    csrf = session_csrf(anonymous)
    form = {
        "username": "audited-nurse",
        "display_name": "Nurse",
        "role": "coordinator",
        "password": PASSWORD,
        "csrf_token": csrf,
    }
    assert anonymous.post("/admin/accounts", data=form, follow_redirects=False).status_code == 303
    (added,) = [e for e in entries_after(secure_database, start) if "audited-nurse" in str(e)]
    assert added["subtype"][0]["code"] == "create"
    assert actor(added) == "local:admin-1"
    assert added["outcomeDesc"] == "added as coordinator audited-nurse"
    assert PASSWORD not in json.dumps(added)


def test_audit_verify_passes_over_these_entries_and_detects_a_tampered_one(
    secure_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert secure_database.dialect == "sqlite"
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(secure_database.url.removeprefix("sqlite:///"), copy)
    monkeypatch.setenv("VENAPATH_DATABASE_URL", f"sqlite:///{copy}")
    runner = CliRunner()
    intact = runner.invoke(cli, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "audit chain intact" in intact.output
    with sqlite3.connect(copy) as live:
        (seq,) = live.execute(
            f"SELECT min(seq) FROM audit_events WHERE event LIKE '%{LOGIN}%'"
        ).fetchone()
        live.execute("DROP TRIGGER audit_events_no_update")
        live.execute(  # a sign-in turned into a sign-out
            f"UPDATE audit_events SET event = replace(event, '{LOGIN}', '{LOGOUT}') "
            f"WHERE seq = {int(seq)}"
        )
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"broken at entry {seq}" in broken.output


def test_cds_hooks_calls_and_refused_cds_tokens_are_audited(
    anonymous: TestClient, secure_database: Database, kb: KnowledgeBase
) -> None:
    path = "/cds-services/venapath-patient-view"
    body = {
        "hook": "patient-view",
        "hookInstance": "5b0f3c2e-0000-4000-8000-0000000000a1",
        "context": {"userId": "Practitioner/dr-cds", "patientId": "p1"},
        "prefetch": prefetch_answers(cvt_record(), prefetch_templates(kb)),
    }
    start = last_seq(secure_database)
    signed = {"Authorization": f"Bearer {cds_token(BASE + path)}"}
    assert anonymous.post(path, json=body, headers=signed).status_code == 200
    assert anonymous.post(path, json=body).status_code == 401
    evaluated, refused = entries_after(secure_database, start)

    assert evaluated["subtype"][0]["code"] == "operation"
    assert evaluated["outcome"] == AuditOutcome.SUCCESS.value
    assert actor(evaluated) == f"cds:{CDS_ISSUER}"  # the EHR whose JWT was verified
    assert evaluated["agent"][0]["who"]["display"] == "Practitioner/dr-cds"
    assert roles(evaluated) == ["service"]
    assert address(evaluated) == "testclient"
    assert [e["what"]["reference"] for e in evaluated["entity"]] == [
        "Patient/p1",
        "operation/cds-venapath-patient-view",
    ]

    assert refused["outcome"] == AuditOutcome.REFUSED.value
    assert actor(refused) == "unverified:anonymous"
    assert refused["outcomeDesc"].startswith("401 cds_token")
    assert request_of(refused)["what"]["display"] == "POST /cds-services/{service_id}"


@pytest.mark.parametrize("output", ["guidance", "assessment"])
def test_a_fhir_evaluation_names_its_patient_in_whichever_format_it_answers(
    anonymous: TestClient, secure_database: Database, output: str
) -> None:
    """The evaluation of a chart is an access to that patient's data: the entry names the
    patient whether the answer is a GuidanceResponse or the JSON view (which has no subject)."""
    start = last_seq(secure_database)
    response = anonymous.post(
        f"/api/v1/fhir/evaluate?format={output}",
        json=collection(*dvt_record()),
        headers={**bearer(), "content-type": "application/fhir+json"},
    )
    assert response.status_code == 200, response.text
    (evaluated,) = entries_after(secure_database, start)
    assert evaluated["subtype"][0]["code"] == "operation"
    assert "Patient/p1" in [e["what"].get("reference") for e in evaluated["entity"]]
