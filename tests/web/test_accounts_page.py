"""Account administration from the web: an admin adds, disables, re-roles and resets an
account through AccountService, each change audited; other roles are refused; every form
carries and needs the CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from identity_support import PASSWORD
from venapath.domain.access import Role, local_operator
from venapath.services.registry import Registry

NEW_PASSWORD = "a long new password for tests"


def test_an_admin_manages_an_account_and_every_change_is_audited(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    caller.become(Role.ADMIN)
    since = datetime.now(UTC) - timedelta(minutes=5)
    page = web.get("/admin/accounts")
    assert page.status_code == 200
    assert "clinician-1" in page.text
    forms = re.findall(r'<form method="post".*?</form>', page.text, re.S)
    assert forms
    assert all('name="csrf_token"' in form for form in forms)
    added = web.post(
        "/admin/accounts",
        data={
            "username": "nurse-7",
            "display_name": "Nurse Seven",
            "role": "coordinator",
            "password": PASSWORD,
        },
    )
    assert added.status_code == 303
    assert "nurse-7" in web.get("/admin/accounts").text
    assert web.post("/admin/accounts/nurse-7/role", data={"role": "clinician"}).status_code == 303
    assert (
        web.post("/admin/accounts/nurse-7/password", data={"password": NEW_PASSWORD}).status_code
        == 303
    )
    assert (
        web.post("/admin/accounts/nurse-7/disabled", data={"disabled": "true"}).status_code == 303
    )
    listed = web.get("/admin/accounts").text
    row = re.search(r"nurse-7</th>.*?</tr>", listed, re.S)
    assert row is not None
    assert "clinician" in row.group(0)
    assert "disabled" in row.group(0)
    events = [str(e) for e in module_registry.audit.export(local_operator("auditor"), since, None)]
    for what in ("added as coordinator", "role set to clinician", "password reset", "disabled"):
        assert any(what in e for e in events), what
    assert not any(NEW_PASSWORD in e or PASSWORD in e for e in events)


def test_bad_input_is_refused_in_words(web: TestClient, caller: Any) -> None:
    caller.become(Role.ADMIN)
    answer = web.post(
        "/admin/accounts",
        data={"username": "x", "display_name": "", "role": "patient", "password": "short"},
    )
    assert answer.status_code == 422
    assert "Traceback" not in answer.text
    assert (
        web.post("/admin/accounts/admin-1/disabled", data={"disabled": "true"}).status_code == 422
    )


def test_other_roles_are_refused(web: TestClient, caller: Any) -> None:
    for role in (Role.CLINICIAN, Role.RESEARCHER, Role.COORDINATOR):
        caller.become(role)
        assert web.get("/admin/accounts").status_code == 403
        assert (
            web.post("/admin/accounts/clinician-1/disabled", data={"disabled": "true"}).status_code
            == 403
        )


def test_a_post_without_the_csrf_token_is_refused(web: TestClient, caller: Any) -> None:
    caller.become(Role.ADMIN)
    web.headers.pop("X-CSRF-Token", None)
    answer = web.post("/admin/accounts/clinician-1/disabled", data={"disabled": "true"})
    assert answer.status_code == 403
    caller.become(Role.CLINICIAN)  # clinician-1 still signs in: nothing was changed
