"""Sign-in, sessions, CSRF, expiry, sign-out and lock-out, as a browser meets them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from identity_support import PASSWORD, session_csrf, sign_in
from venapath.identity.accounts import SIGN_IN_REFUSED, AccountService
from venapath.identity.sessions import session_cookie_name
from venapath.persistence.database import Database
from venapath.persistence.tables import AuthSessionRow
from venapath.settings import Settings

WRITE = "/api/v1/patients"
ALERT = re.compile(r'<p role="alert"><strong>([^<]*)</strong>')


def _alert(page: str) -> str:
    found = ALERT.search(page)
    assert found, page
    return found[1]


def test_sign_in_sets_a_hardened_session_cookie(anonymous: TestClient, settings: Settings) -> None:
    response = sign_in(anonymous, "clinician-1")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session_cookie_name(settings)}=")
    assert session_cookie_name(settings).startswith("__Host-")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert anonymous.get("/api/v1/patients").status_code == 200


def test_a_state_changing_request_without_the_csrf_token_is_refused(
    anonymous: TestClient,
) -> None:
    sign_in(anonymous, "clinician-1")
    refused = anonymous.post(WRITE, json={"sex": "female"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf"
    wrong = anonymous.post(WRITE, json={"sex": "female"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    accepted = anonymous.post(
        WRITE, json={"sex": "female"}, headers={"X-CSRF-Token": session_csrf(anonymous)}
    )
    assert accepted.status_code == 201, accepted.text


def test_the_sign_in_form_needs_its_own_csrf_token(anonymous: TestClient) -> None:
    response = anonymous.post("/auth/login", data={"username": "clinician-1", "password": PASSWORD})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers or "session" not in response.headers["set-cookie"]


def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    anonymous: TestClient, settings: Settings
) -> None:
    sign_in(anonymous, "coordinator-1")
    stolen = anonymous.cookies.get(session_cookie_name(settings))
    assert stolen
    csrf = session_csrf(anonymous)
    form = anonymous.post("/auth/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert form.status_code == 303
    anonymous.cookies.set(session_cookie_name(settings), stolen)
    replay = anonymous.get("/api/v1/worklist")
    assert replay.status_code == 401
    assert replay.json()["code"] == "session_expired"


def test_sign_out_without_csrf_is_refused(anonymous: TestClient) -> None:
    sign_in(anonymous, "coordinator-1")
    assert anonymous.post("/auth/logout").status_code == 403
    assert anonymous.get("/api/v1/worklist").status_code == 200


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_idle_and_absolute_expiry_end_a_session(
    anonymous: TestClient, secure_database: Database, column: str
) -> None:
    sign_in(anonymous, "researcher-1")
    assert anonymous.get("/api/v1/kb").status_code == 200
    past = datetime.now(UTC) - timedelta(days=2)
    with secure_database.session() as session:
        session.execute(update(AuthSessionRow).values({column: past}))
    expired = anonymous.get("/api/v1/kb")
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_expired"


def test_a_browser_is_sent_to_sign_in(anonymous: TestClient) -> None:
    response = anonymous.get(
        "/auth/session", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=%2Fauth%2Fsession"


def test_next_never_redirects_off_site(anonymous: TestClient) -> None:
    page = anonymous.get("/auth/login", params={"next": "//evil.example/x"})
    assert 'name="next" value="/"' in page.text


def test_lock_out_after_repeated_failures_with_the_same_message(
    app_factory: Callable[[Settings], TestClient], secure_database: Database, settings: Settings
) -> None:
    service = AccountService(secure_database, settings)
    service.add("lockme", "Lock Me", "clinician", PASSWORD)
    with app_factory(settings) as client:
        unknown = sign_in(client, "nobody-here", "wrong password entirely")
        assert unknown.status_code == 401
        for _ in range(settings.sign_in_lockout_threshold):
            wrong = sign_in(client, "lockme", "wrong password entirely")
            assert wrong.status_code == 401
            assert SIGN_IN_REFUSED.capitalize() in wrong.text
        locked = sign_in(client, "lockme", PASSWORD)  # the right password, while locked
        assert locked.status_code == 401
        assert _alert(locked.text) == _alert(unknown.text) == SIGN_IN_REFUSED.capitalize() + "."
        assert service.get("lockme").locked_until is not None
        service.reset_password("lockme", "a brand new pass phrase for him")
        assert sign_in(client, "lockme", "a brand new pass phrase for him").status_code == 303


def test_disabled_accounts_and_their_sessions_are_refused(
    app_factory: Callable[[Settings], TestClient], secure_database: Database, settings: Settings
) -> None:
    service = AccountService(secure_database, settings)
    service.add("leaver", "Leaver", "coordinator", PASSWORD)
    with app_factory(settings) as client:
        assert sign_in(client, "leaver").status_code == 303
        assert client.get("/api/v1/worklist").status_code == 200
        service.set_disabled("leaver", True)
        assert client.get("/api/v1/worklist").status_code == 401
        assert sign_in(client, "leaver").status_code == 401


def test_demo_accounts_are_refused_outside_development(
    app_factory: Callable[[Settings], TestClient], secure_database: Database, settings: Settings
) -> None:
    AccountService(secure_database, settings).add(
        "demo-x", "Demo", "clinician", PASSWORD, demo=True
    )
    with app_factory(settings) as client:
        assert sign_in(client, "demo-x").status_code == 401


def test_no_password_reaches_the_log(
    anonymous: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG"):
        sign_in(anonymous, "clinician-1", "my secret wrong passphrase")
        sign_in(anonymous, "clinician-1")
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "my secret wrong passphrase" not in logged
    assert PASSWORD not in logged
    assert "sign-in-failed" in logged
    assert "wrong password" in logged
