"""The one door for security events: what each becomes in the audit trail, how refusals are
coalesced (a bound on writes, whatever a client sends), and what a failed write does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from db_support import fresh_database
from venapath.domain.access import Principal, Role, local_operator
from venapath.identity.events import (
    AuditUnavailableError,
    RefusalCoalescer,
    SecurityEvent,
    SecurityEvents,
    record_security_event,
)
from venapath.persistence.audit import AuditAction, AuditFact, AuditOutcome, AuditTrail
from venapath.persistence.database import Database, DatabaseUnavailableError
from venapath.persistence.tables import AuditEventRow

CLINICIAN = Principal(
    subject="local:dr-a",
    display="Dr A",
    roles=frozenset({Role.CLINICIAN}),
    method="local",
    client_address="10.0.0.7",
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokenTrail:
    """An audit trail whose every write fails, as when the database has gone away."""

    def __init__(self) -> None:
        self.attempts = 0

    def record_event(self, fact: AuditFact, session: Any = None) -> int:
        self.attempts += 1
        raise DatabaseUnavailableError("connection refused")


@pytest.fixture
def database(tmp_path: Path) -> Any:
    with fresh_database("sqlite", tmp_path) as fresh:
        yield fresh


def events_in(database: Database) -> list[dict[str, Any]]:
    with database.session() as session:
        rows = session.query(AuditEventRow).order_by(AuditEventRow.seq).all()
        return [row.event for row in rows]


def refusal(client: str = "203.0.113.9", path: str = "/api/v1/patients") -> AuditFact:
    return AuditFact(
        AuditAction.LOGIN,
        None,
        AuditOutcome.REFUSED,
        detail="401 missing: sign in",
        client_address=client,
        request=f"GET {path}",
    )


# --------------------------------------------------------------------------- coalescing


def test_identical_refusals_in_one_window_become_two_entries_with_their_count() -> None:
    clock = FakeClock()
    coalescer = RefusalCoalescer(window=60, clock=clock)
    written = [fact for _ in range(50) for fact in coalescer.admit(refusal())]
    assert len(written) == 1
    assert written[0].repeats == 1
    clock.now += 61
    closed = coalescer.admit(None)
    assert len(closed) == 1
    assert closed[0].repeats == 49
    assert "49 more of: 401 missing" in (closed[0].detail or "")
    assert coalescer.admit(None) == []  # nothing left open


def test_other_clients_and_other_routes_are_not_merged() -> None:
    coalescer = RefusalCoalescer(window=60, clock=FakeClock())
    written = [
        *coalescer.admit(refusal("203.0.113.1")),
        *coalescer.admit(refusal("203.0.113.2")),
        *coalescer.admit(refusal("203.0.113.1", "/api/v1/worklist")),
        *coalescer.admit(refusal("203.0.113.1")),
    ]
    assert [(f.client_address, f.request) for f in written] == [
        ("203.0.113.1", "GET /api/v1/patients"),
        ("203.0.113.2", "GET /api/v1/patients"),
        ("203.0.113.1", "GET /api/v1/worklist"),
    ]


def test_many_clients_cannot_open_more_than_the_bound() -> None:
    clock = FakeClock()
    coalescer = RefusalCoalescer(window=60, max_open=3, clock=clock)
    written = [f for n in range(1000) for f in coalescer.admit(refusal(f"198.51.100.{n % 250}"))]
    written += [f for n in range(1000) for f in coalescer.admit(refusal(path=f"/x/{n}"))]
    assert len(written) == 4  # three kinds of their own, then one shared overflow entry
    assert written[-1].request == "(several)"
    assert written[-1].client_address is None
    assert written[-1].actor == "unverified:(several)"
    clock.now += 61
    summaries = coalescer.admit(None)
    assert sum(f.repeats for f in summaries) + len(written) == 2000  # every refusal counted


def test_drain_writes_what_is_still_counting() -> None:
    coalescer = RefusalCoalescer(window=60, clock=FakeClock())
    for _ in range(5):
        coalescer.admit(refusal())
    drained = coalescer.drain()
    assert [f.repeats for f in drained] == [4]
    assert coalescer.drain() == []


# ----------------------------------------------------------------- the entries written


def test_each_event_kind_lands_in_the_trail_as_its_balp_pattern(database: Database) -> None:
    events = SecurityEvents(AuditTrail(database))
    record_security_event(events, SecurityEvent.SIGN_IN, principal=CLINICIAN)
    record_security_event(events, SecurityEvent.SIGN_OUT, principal=CLINICIAN)
    record_security_event(
        events,
        SecurityEvent.SIGN_IN_FAILED,
        subject="dr-b",
        code="401",
        client_address="10.0.0.8",
        detail="locked",
    )
    record_security_event(
        events,
        SecurityEvent.ACCOUNT_CHANGED,
        principal=local_operator("root"),
        action=AuditAction.CREATE,
        resources=("account/42",),
        detail="add dr-c",
    )
    sign_in, sign_out, failed, changed = events_in(database)

    assert sign_in["subtype"][0]["code"] == "110122"  # Login
    assert sign_in["outcome"] == AuditOutcome.SUCCESS.value
    user, client, _ = sign_in["agent"]
    assert user["who"]["identifier"]["value"] == "local:dr-a"
    assert user["role"][0]["coding"][0]["code"] == "clinician"
    assert client["network"]["address"] == "10.0.0.7"

    assert sign_out["subtype"][0]["code"] == "110123"  # Logout

    assert failed["subtype"][0]["code"] == "110122"
    assert failed["outcome"] == AuditOutcome.REFUSED.value
    assert failed["agent"][0]["who"]["identifier"]["value"] == "unverified:dr-b"
    assert "role" not in failed["agent"][0]
    assert failed["outcomeDesc"] == "401: locked"

    assert changed["subtype"][0]["code"] == "create"
    assert changed["agent"][0]["who"]["identifier"]["value"] == "cli:root"
    assert {"reference": "account/42"} in [e.get("what") for e in changed["entity"]]
    assert AuditTrail(database).verify(local_operator("auditor")).intact


@pytest.mark.parametrize(
    ("method", "code", "path", "subtype"),
    [
        ("GET", "401 missing", "/api/v1/patients", "110122"),  # unauthenticated: a failed login
        ("GET", "403 forbidden", "/api/v1/patients/{patient_id}", "read"),
        ("POST", "403 csrf", "/api/v1/patients", "create"),
        ("POST", "403 forbidden", "/api/v1/fhir/evaluate", "operation"),
        ("PATCH", "403 forbidden", "/api/v1/patients/{patient_id}", "update"),
        ("DELETE", "403 forbidden", "/api/v1/patients/{patient_id}", "delete"),
    ],
)
def test_a_refusal_is_recorded_as_the_act_it_refused(
    database: Database, method: str, code: str, path: str, subtype: str
) -> None:
    events = SecurityEvents(AuditTrail(database))
    principal = None if code.startswith("401") else CLINICIAN
    record_security_event(
        events, SecurityEvent.REFUSED, principal=principal, code=code, method=method, path=path
    )
    (entry,) = events_in(database)
    assert entry["subtype"][0]["code"] == subtype
    assert entry["outcome"] == AuditOutcome.REFUSED.value
    request = entry["entity"][-1]
    assert request["what"]["display"] == f"{method} {path}"
    assert request["detail"] == [{"type": "repeats", "valueString": "1"}]


# ------------------------------------------------------------------ a failed audit write


def test_a_sign_in_that_cannot_be_audited_is_refused() -> None:
    broken = BrokenTrail()
    events = SecurityEvents(broken)  # type: ignore[arg-type]
    with pytest.raises(AuditUnavailableError, match="could not be recorded"):
        record_security_event(events, SecurityEvent.SIGN_IN, principal=CLINICIAN)
    with pytest.raises(AuditUnavailableError):
        record_security_event(events, SecurityEvent.ACCOUNT_CHANGED, principal=CLINICIAN)
    assert broken.attempts == 2


def test_refusals_and_sign_outs_go_on_when_the_audit_cannot_be_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = SecurityEvents(BrokenTrail())  # type: ignore[arg-type]
    with caplog.at_level("ERROR", logger="venapath.security"):
        record_security_event(events, SecurityEvent.REFUSED, code="401 missing", method="GET")
        record_security_event(events, SecurityEvent.SIGN_IN_FAILED, subject="x", code="401")
        record_security_event(events, SecurityEvent.SIGN_OUT, principal=CLINICIAN)
    assert [r.getMessage() for r in caplog.records].count("audit write failed") == 3


def test_two_applications_do_not_share_a_trail(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        fresh_database("sqlite", tmp_path / "a") as first,
        fresh_database("sqlite", tmp_path / "b") as second,
    ):
        record_security_event(
            SecurityEvents(AuditTrail(first)), SecurityEvent.SIGN_IN, principal=CLINICIAN
        )
        assert len(events_in(first)) == 1
        assert events_in(second) == []


# ------------------------------------------------- account changes and their entries, as one


def _accounts(database: Database) -> Any:
    from venapath.identity.accounts import AccountService
    from venapath.settings import AccountSettings

    return AccountService(database, AccountSettings(env="development"))


def _recording(events: SecurityEvents) -> Any:
    def record(session: Any, account: Any) -> None:
        record_security_event(
            events,
            SecurityEvent.ACCOUNT_CHANGED,
            principal=local_operator("root"),
            resources=(f"account/{account.id}",),
            detail=f"role set to {account.role.value}",
            session=session,
        )

    return record


def test_an_account_change_and_its_audit_entry_commit_together(database: Database) -> None:
    accounts = _accounts(database)
    accounts.add("dr-d", "Dr D", "clinician", "a long enough passphrase here")
    accounts.set_role("dr-d", "coordinator", audit=_recording(SecurityEvents(AuditTrail(database))))
    (entry,) = events_in(database)
    assert entry["outcomeDesc"] == "role set to coordinator"
    assert accounts.get("dr-d").role is Role.COORDINATOR


def test_an_account_change_whose_entry_cannot_be_written_is_not_made(
    database: Database,
) -> None:
    accounts = _accounts(database)
    accounts.add("dr-e", "Dr E", "clinician", "a long enough passphrase here")
    broken = SecurityEvents(BrokenTrail())  # type: ignore[arg-type]
    with pytest.raises(AuditUnavailableError):
        accounts.set_role("dr-e", "admin", audit=_recording(broken))
    with pytest.raises(AuditUnavailableError):
        accounts.add(
            "dr-f", "Dr F", "admin", "another long passphrase here", audit=_recording(broken)
        )
    assert accounts.get("dr-e").role is Role.CLINICIAN  # rolled back with its entry
    assert [a.username for a in accounts.list()] == ["dr-e"]
    assert events_in(database) == []
