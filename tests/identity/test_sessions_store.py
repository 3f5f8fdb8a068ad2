"""The session store keeps what a SMART launch needs (one patient in context, granted scopes),
and its expiry stays exact although the idle clock is written at most once a minute."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from db_support import BACKENDS, fresh_database
from venapath.domain.access import Permission, Role
from venapath.identity.sessions import SessionStore, SignedIn
from venapath.persistence.database import Database
from venapath.persistence.tables import AuthSessionRow
from venapath.settings import load_settings


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_confined_session_round_trips(backend: str, tmp_path: Path) -> None:
    settings = load_settings(env="development")
    with fresh_database(backend, tmp_path) as database:
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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


CLINICIAN = SignedIn("local:c-1", "C One", frozenset({Role.CLINICIAN}), "local")


def _last_seen(database: Database) -> datetime:
    with database.read() as connection:
        return connection.execute(select(AuthSessionRow.last_seen_at)).scalar_one()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[SessionStore, Clock, Database]]:
    settings = load_settings(env="development", session_idle_minutes=30, session_absolute_hours=12)
    clock = Clock()
    with fresh_database("sqlite", tmp_path) as database:
        yield SessionStore(database, settings, clock=clock), clock, database


def test_the_idle_clock_is_written_once_per_touch_interval_not_per_request(
    store: tuple[SessionStore, Clock, Database],
) -> None:
    sessions, clock, database = store
    grant = sessions.start(CLINICIAN, None)
    started = clock.now
    for _ in range(5):
        clock.advance(seconds=10)
        assert sessions.resolve(grant.token, None) is not None
    assert _last_seen(database) == started  # 50 s of requests, no write
    clock.advance(seconds=10)
    assert sessions.resolve(grant.token, None) is not None
    assert _last_seen(database) == clock.now  # the 60th second: written


def test_a_session_in_steady_use_never_idles_out(
    store: tuple[SessionStore, Clock, Database],
) -> None:
    sessions, clock, _ = store
    grant = sessions.start(CLINICIAN, None)
    for _ in range(6 * 60):  # one request every 20 s for two hours
        clock.advance(seconds=20)
        assert sessions.resolve(grant.token, None) is not None


def test_idle_expiry_comes_at_most_one_touch_interval_early_and_never_late(
    store: tuple[SessionStore, Clock, Database],
) -> None:
    sessions, clock, database = store
    grant = sessions.start(CLINICIAN, None)
    clock.advance(seconds=59)
    assert sessions.resolve(grant.token, None) is not None  # not written: within the interval
    clock.advance(minutes=30, seconds=-59)  # 30 min after the write, 29:01 after the request
    assert sessions.resolve(grant.token, None) is None
    clock.advance(seconds=1)
    assert sessions.resolve(grant.token, None) is None  # ended, not only idle
    with database.read() as connection:
        assert connection.execute(select(AuthSessionRow.ended_at)).scalar_one() is not None


def test_a_one_minute_idle_limit_touches_every_six_seconds(tmp_path: Path) -> None:
    settings = load_settings(env="development", session_idle_minutes=1)
    clock = Clock()
    with fresh_database("sqlite", tmp_path) as database:
        sessions = SessionStore(database, settings, clock=clock)
        grant = sessions.start(CLINICIAN, None)
        for _ in range(30):  # a request every 10 s for five minutes
            clock.advance(seconds=10)
            assert sessions.resolve(grant.token, None) is not None
        clock.advance(seconds=60)
        assert sessions.resolve(grant.token, None) is None


def test_absolute_expiry_is_exact_for_a_session_in_use(
    store: tuple[SessionStore, Clock, Database],
) -> None:
    sessions, clock, _ = store
    grant = sessions.start(CLINICIAN, None)
    while clock.now + timedelta(minutes=1) < grant.expires_at:
        clock.advance(minutes=1)
        assert sessions.resolve(grant.token, None) is not None
    clock.now = grant.expires_at - timedelta(microseconds=1)
    assert sessions.resolve(grant.token, None) is not None
    clock.now = grant.expires_at
    assert sessions.resolve(grant.token, None) is None


def test_sign_out_wins_over_a_due_touch(store: tuple[SessionStore, Clock, Database]) -> None:
    sessions, clock, database = store
    grant = sessions.start(CLINICIAN, None)
    assert sessions.end(grant.token)
    clock.advance(minutes=5)  # a touch would be due
    assert sessions.resolve(grant.token, None) is None
    assert not sessions.end(grant.token)  # still ended, not brought back
    with database.read() as connection:
        assert connection.execute(select(AuthSessionRow.ended_at)).scalar_one() is not None


def test_a_session_check_does_not_queue_behind_a_writer(
    store: tuple[SessionStore, Clock, Database],
) -> None:
    sessions, _, database = store
    grant = sessions.start(CLINICIAN, None)
    with database.transaction() as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE)
        writer.execute(select(AuthSessionRow.id))
        started = time.monotonic()
        assert sessions.resolve(grant.token, None) is not None
        assert time.monotonic() - started < 1.0  # the busy timeout is 10 s
