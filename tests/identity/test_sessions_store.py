"""The session store keeps what a SMART launch needs: one patient in context, granted scopes."""

from __future__ import annotations

from pathlib import Path

from db_support import fresh_database
from venapath.domain.access import Permission, Role
from venapath.identity.sessions import SessionStore, SignedIn
from venapath.settings import load_settings


def test_a_confined_session_round_trips(tmp_path: Path) -> None:
    settings = load_settings(env="development")
    with fresh_database("sqlite", tmp_path) as database:
        store = SessionStore(database, settings)
        who = SignedIn(
            subject="smart:https://ehr.test#dr-1",
            display="Dr One",
            roles=frozenset({Role.CLINICIAN}),
            method="smart",
            patient_id="p-42",
            granted=frozenset({Permission.EVALUATE}),
        )
        grant = store.start(who, "10.0.0.1")
        active = store.resolve(grant.token, "10.0.0.1")
        assert active is not None
        assert active.principal.patient_id == "p-42"
        assert active.principal.granted == frozenset({Permission.EVALUATE})
        assert active.principal.may(Permission.PATIENT_READ, "p-42")
        assert not active.principal.may(Permission.PATIENT_READ, "p-43")
        assert store.end(grant.token)
        assert store.resolve(grant.token, "10.0.0.1") is None
        assert store.resolve("not-a-token", None) is None
