"""CDS cards offer "Open in VenaPath": a CDS Hooks 2.0 `smart` link with the patient as appContext."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from fhir_fixtures import cvt_record
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.cdshooks.models import Link
from venapath.cdshooks.prefetch import prefetch_answers, prefetch_templates
from venapath.domain.access import Permission, Principal, Role
from venapath.identity.launch_store import LaunchStore
from venapath.identity.smart import SmartConfiguration, SmartLaunchRefusedError
from venapath.identity.token_cipher import TokenCipher
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import DEVELOPMENT_TOKEN_KEY, SmartSettings, load_settings

LAUNCH_URL = "https://venapath.test/smart/launch"


def patient_view(kb: KnowledgeBase) -> dict[str, object]:
    return {
        "hook": "patient-view",
        "hookInstance": "5b0f3c2e-0000-4000-8000-000000000001",
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
        "prefetch": prefetch_answers(cvt_record(), prefetch_templates(kb)),
    }


@pytest.fixture(scope="module")
def with_smart(kb: KnowledgeBase, module_registry: Registry) -> Iterator[TestClient]:
    app = create_app(
        load_settings(env="development", allowed_hosts=["testserver"]),
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=SmartSettings(client_id="venapath", launch_url=LAUNCH_URL),
    )
    with TestClient(app) as client:
        yield client


def test_pathway_cards_link_to_the_smart_launch_with_the_patient(
    with_smart: TestClient, kb: KnowledgeBase
) -> None:
    cards = with_smart.post("/cds-services/venapath-patient-view", json=patient_view(kb)).json()[
        "cards"
    ]
    pathway_cards = [c for c in cards if c["source"].get("topic")]
    assert pathway_cards
    for card in pathway_cards:
        link = card["links"][0]
        assert link["type"] == "smart"
        assert link["url"] == LAUNCH_URL
        assert link["label"] == "Open in VenaPath"
        assert json.loads(link["appContext"]) == {"patient": "p1"}


def test_no_smart_link_when_smart_is_not_set_up(client: TestClient, kb: KnowledgeBase) -> None:
    cards = client.post("/cds-services/venapath-patient-view", json=patient_view(kb)).json()[
        "cards"
    ]
    assert cards
    assert all(link["type"] == "absolute" for c in cards for link in c.get("links") or [])


def test_app_context_belongs_to_smart_links_only() -> None:
    with pytest.raises(ValidationError, match="only valid on a smart link"):
        Link(label="x", url="https://x.test", type="absolute", appContext="{}")


# ------------------------------------------------------------------- launch store


def test_a_launch_session_ends_when_its_token_expires(module_registry: Registry) -> None:
    store = LaunchStore(module_registry.database, TokenCipher(DEVELOPMENT_TOKEN_KEY))
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    configuration = SmartConfiguration(
        authorization_endpoint="https://ehr.test/authorize", token_endpoint="https://ehr.test/token"
    )
    store.begin(
        state="s1",
        browser_secret="b1",
        kind="ehr",
        fhir_base="https://ehr.test/fhir",
        configuration=configuration,
        redirect_uri="https://venapath.test/smart/callback",
        code_verifier="v" * 64,
        now=start,
    )
    pending = store.consume(state="s1", browser_secret="b1", now=start)
    assert pending.code_verifier == "v" * 64
    principal = Principal(
        subject="ehr#dr",
        display="Practitioner/dr",
        roles=frozenset({Role.CLINICIAN}),
        method="smart",
        patient_id="p1",
    )
    store.open_session(
        state="s1",
        session_secret="sess",
        principal=principal,
        access_token="at",
        scope="launch",
        expires_in=600,
        now=start,
    )
    live = store.session("sess", now=start + timedelta(minutes=9))
    assert live.principal.patient_id == "p1"
    assert live.principal.may(Permission.EVALUATE, "p1")
    assert not live.principal.may(Permission.EVALUATE, "p2")  # confined to the launch patient
    assert live.principal.method == "smart"
    with pytest.raises(SmartLaunchRefusedError, match="expired"):
        store.session("sess", now=start + timedelta(minutes=11))
    store.end("sess")
    with pytest.raises(SmartLaunchRefusedError, match="unknown"):
        store.session("sess", now=start)


def test_a_pending_launch_expires(module_registry: Registry) -> None:
    store = LaunchStore(module_registry.database, TokenCipher(DEVELOPMENT_TOKEN_KEY))
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    store.begin(
        state="s2",
        browser_secret="b2",
        kind="standalone",
        fhir_base="https://ehr.test/fhir",
        configuration=SmartConfiguration(
            authorization_endpoint="https://ehr.test/a", token_endpoint="https://ehr.test/t"
        ),
        redirect_uri="https://venapath.test/smart/callback",
        code_verifier="w" * 64,
        now=start,
    )
    with pytest.raises(SmartLaunchRefusedError, match="expired"):
        store.consume(state="s2", browser_secret="b2", now=start + timedelta(minutes=11))
