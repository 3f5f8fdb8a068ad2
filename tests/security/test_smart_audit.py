"""A SMART EHR launch, its reads of the EHR's FHIR server and the evaluation of the patient in
context are in the audit trail (who, which patient, which resources, outcome); a refused
launch and a page without a launch are too; the EHR access token is stored encrypted.
Against the loopback test EHR (tests/smart_ehr.py), never an outside service."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from db_support import fresh_database
from smart_ehr import CLIENT_ID, PATIENT_ID, LoopbackEhr, running_ehr
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.cdshooks.hooks import CdsServices, PrefetchIncompleteError
from venapath.domain.access import local_operator
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditOutcome, AuditTrail
from venapath.persistence.database import Database
from venapath.persistence.tables import AuditEventRow, SmartLaunchRow
from venapath.services.registry import Registry
from venapath.settings import SmartSettings, load_settings

CALLBACK = "http://testserver/smart/callback"
TOKEN_KEY = SecretStr(base64.urlsafe_b64encode(bytes(range(32, 64))).decode())


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("smart-audit")) as fresh:
        yield fresh


@pytest.fixture(scope="module")
def ehr() -> Iterator[LoopbackEhr]:
    with running_ehr() as test_ehr:
        test_ehr.redirect_uris.add(CALLBACK)
        yield test_ehr


@pytest.fixture(scope="module")
def browser(kb: KnowledgeBase, database: Database, ehr: LoopbackEhr) -> Iterator[TestClient]:
    app = create_app(
        load_settings(env="development", allowed_hosts=["testserver"]),
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=Registry(database, kb),
        smart=SmartSettings(
            client_id=CLIENT_ID,
            issuers=(ehr.fhir_base,),
            standalone_iss=ehr.fhir_base,
            token_key=TOKEN_KEY,
        ),
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_browser(browser: TestClient) -> None:
    browser.cookies.clear()


def launched(browser: TestClient, ehr: LoopbackEhr) -> None:
    """An EHR launch: /smart/launch -> the EHR's authorize endpoint -> /smart/callback."""
    started = browser.get(
        "/smart/launch",
        params={"iss": ehr.fhir_base, "launch": ehr.new_launch()},
        follow_redirects=False,
    )
    assert started.status_code == 302, started.text
    at_ehr = httpx.get(started.headers["location"], follow_redirects=False)
    done = browser.get(at_ehr.headers["location"], follow_redirects=False)
    assert done.status_code == 302, done.text


def last_seq(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.coalesce(func.max(AuditEventRow.seq), 0))) or 0)


def entries_after(database: Database, seq: int) -> list[dict[str, Any]]:
    with database.session() as session:
        return list(
            session.scalars(
                select(AuditEventRow.event)
                .where(AuditEventRow.seq > seq)
                .order_by(AuditEventRow.seq)
            )
        )


def actor(event: dict[str, Any]) -> str:
    return str(event["agent"][0]["who"]["identifier"]["value"])


def references(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event["entity"] if "reference" in e.get("what", {})]


def test_a_launch_its_ehr_read_and_its_evaluation_are_audited(
    browser: TestClient, ehr: LoopbackEhr, database: Database
) -> None:
    start = last_seq(database)
    launched(browser, ehr)
    assert browser.get("/smart/app").status_code == 200
    signed_in, read, evaluated = entries_after(database, start)
    user = f"{ehr.issuer}#dr-okafor"

    assert signed_in["subtype"][0]["code"] == "110122"
    assert signed_in["outcome"] == AuditOutcome.SUCCESS.value
    assert actor(signed_in) == user
    assert signed_in["agent"][0]["extension"][0]["valueString"] == "smart"
    assert f"Patient/{PATIENT_ID}" in references(signed_in)

    assert read["subtype"][0]["code"] == "search-type"
    assert read["outcome"] == AuditOutcome.SUCCESS.value
    assert actor(read) == user
    assert read["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientQuery")
    read_refs = references(read)
    assert read_refs[0] == f"Patient/{PATIENT_ID}"
    assert any(ref.startswith("Condition/") for ref in read_refs)
    assert read["outcomeDesc"].startswith(f"read from the EHR's FHIR server {ehr.fhir_base}: ")
    assert "Condition 1" in read["outcomeDesc"]

    assert evaluated["subtype"][0]["code"] == "operation"
    assert actor(evaluated) == user
    assert references(evaluated) == [f"Patient/{PATIENT_ID}", "operation/smart-evaluate"]
    assert evaluated["agent"][1]["network"]["address"] == "testclient"

    assert AuditTrail(database).verify(local_operator("auditor")).intact
    tokens = ehr.issued_tokens()
    assert not any(token in json.dumps(entries_after(database, start)) for token in tokens)


def test_the_ehr_access_token_is_stored_encrypted(
    browser: TestClient, ehr: LoopbackEhr, database: Database
) -> None:
    launched(browser, ehr)
    with database.session() as session:
        stored = [t for t in session.scalars(select(SmartLaunchRow.access_token)) if t]
    assert stored
    issued = ehr.issued_tokens()
    assert issued
    for ciphertext in stored:
        assert ciphertext.startswith("v1.")
        assert not any(token in ciphertext for token in issued)
    assert browser.get("/smart/app").status_code == 200  # and it still opens


def test_a_failed_ehr_read_is_audited_as_a_failure(
    browser: TestClient, ehr: LoopbackEhr, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched(browser, ehr)
    start = last_seq(database)

    async def unreachable(*_: object) -> None:
        raise PrefetchIncompleteError("the FHIR server failed: timed out")

    monkeypatch.setattr(CdsServices, "patient_record", unreachable)
    assert browser.get("/smart/app/assessment").status_code == 503
    (failed,) = entries_after(database, start)
    assert failed["subtype"][0]["code"] == "search-type"
    assert failed["outcome"] == AuditOutcome.FAILED.value
    assert references(failed) == [f"Patient/{PATIENT_ID}"]
    assert "timed out" in failed["outcomeDesc"]


def test_refused_launches_and_pages_without_a_launch_are_audited(
    browser: TestClient, database: Database
) -> None:
    start = last_seq(database)
    stranger = "http://127.0.0.1:9/not-registered/fhir"
    assert browser.get("/smart/launch", params={"iss": stranger, "launch": "x"}).status_code == 403
    assert browser.get("/smart/app").status_code == 403
    launch, page = entries_after(database, start)
    assert launch["subtype"][0]["code"] == "110122"
    assert launch["outcome"] == AuditOutcome.REFUSED.value
    assert actor(launch) == "unverified:anonymous"
    assert launch["outcomeDesc"].startswith("403 smart: ")
    assert page["outcome"] == AuditOutcome.REFUSED.value
    request = page["entity"][-1]
    assert request["what"]["display"] == "GET /smart/app"


def test_no_issued_token_is_anywhere_in_the_database_files(
    ehr: LoopbackEhr, database: Database
) -> None:
    """Not only the column: the database file (and its write-ahead log) never holds a token
    in the clear, so a copied file or backup gives none away."""
    issued = ehr.issued_tokens()
    assert issued  # the tests above launched
    main = Path(database.url.removeprefix("sqlite:///"))
    files = [f for f in (main, main.with_name(main.name + "-wal")) if f.exists()]
    content = b"".join(f.read_bytes() for f in files)
    assert b"v1." in content  # the sealed tokens are there
    assert not any(token.encode() in content for token in issued)
