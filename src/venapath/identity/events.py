"""Security events (sign-in, sign-out, failed sign-in, refusal, account change): the one
function that records them, `record_security_event`.

Each event becomes an entry of the hash-chained audit trail (persistence/audit.py, FHIR
AuditEvent after IHE BALP) and a line of the `venapath.security` log for the operator's
monitoring. The trail is not a module global: each application builds one `SecurityEvents`
over its own `AuditTrail` and hands it to the code that records (the middleware, the sign-in
routes, the account pages, the SMART routes, the `venapath users` commands).

Callers pass only what an auditor needs: never a password, token, cookie or patient
identifier. The actor is the verified `Principal` when there is one, else the claimed
subject (the account name typed in a failed sign-in), else "anonymous"; `path` is a route
template; `detail` is a short reason such as "locked" or "expired".

Refusals and failed sign-ins are coalesced (`RefusalCoalescer`): an anonymous client must
not be able to make the service write an audit entry per request it sends. What happens when the audit write
fails depends on the event (`FAIL_CLOSED`): a sign-in or an account change is answered
with AuditUnavailableError (503) rather than succeed unrecorded; a refusal, a failed sign-in
or a sign-out goes on (the caller is refused or signed out either way) and the failure is
logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from venapath.domain.access import Principal
from venapath.errors import UnavailableError, VenaPathError
from venapath.persistence.audit import AuditAction, AuditFact, AuditOutcome, AuditTrail

security_log = logging.getLogger("venapath.security")

REFUSAL_WINDOW_SECONDS = 60.0
"""Identical refusals from one client within this long after the first share one entry."""
MAX_OPEN_REFUSALS = 1000
"""Kinds of refusal counted at once; beyond this, refusals share one overflow entry."""


class SecurityEvent(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_IN_FAILED = "sign-in-failed"
    SIGN_OUT = "sign-out"
    REFUSED = "refused"  # a request refused for missing or insufficient credentials
    ACCOUNT_CHANGED = "account-changed"  # add, disable, set-role, reset


FAIL_CLOSED = frozenset({SecurityEvent.SIGN_IN, SecurityEvent.ACCOUNT_CHANGED})
"""Events that must not succeed unrecorded: if the audit write fails, the caller refuses."""
COALESCED = frozenset({SecurityEvent.REFUSED, SecurityEvent.SIGN_IN_FAILED})
"""Events anyone can cause without credentials: counted, not written one by one."""

_ACTION = {
    SecurityEvent.SIGN_IN: AuditAction.LOGIN,
    SecurityEvent.SIGN_IN_FAILED: AuditAction.LOGIN,
    SecurityEvent.SIGN_OUT: AuditAction.LOGOUT,
    SecurityEvent.ACCOUNT_CHANGED: AuditAction.UPDATE,
}
_OUTCOME = {
    SecurityEvent.SIGN_IN: AuditOutcome.SUCCESS,
    SecurityEvent.SIGN_IN_FAILED: AuditOutcome.REFUSED,
    SecurityEvent.SIGN_OUT: AuditOutcome.SUCCESS,
    SecurityEvent.REFUSED: AuditOutcome.REFUSED,
    SecurityEvent.ACCOUNT_CHANGED: AuditOutcome.SUCCESS,
}
_ATTEMPTED = {
    "GET": AuditAction.READ,
    "HEAD": AuditAction.READ,
    "OPTIONS": AuditAction.READ,
    "PUT": AuditAction.UPDATE,
    "PATCH": AuditAction.UPDATE,
    "DELETE": AuditAction.DELETE,
}


class AuditUnavailableError(UnavailableError):
    """A sign-in or account change could not be written to the audit trail, so it was
    refused (or, for an account change already made, reported as unrecorded)."""


@dataclass(frozen=True)
class _RefusalKind:
    client: str | None
    actor: str
    code: str
    request: str | None


@dataclass
class _OpenWindow:
    first: AuditFact
    closes_at: float
    suppressed: int = 0


class RefusalCoalescer:
    """Turns a stream of refusals into a bounded number of audit entries.

    The first refusal of a kind (same client address, actor, status and code, method and
    route template) is written at once; identical ones within `window` seconds are only
    counted, and once the window has closed they are written as one entry whose `repeats`
    is their count (at the next security event after that, or at `drain` when the server
    stops). With `max_open` kinds already counting, a new kind joins one shared overflow
    window instead of opening its own, so at most `max_open + 1` first entries and as many
    summaries are written per window, whatever the client sends. Thread-safe; per process.
    """

    def __init__(
        self,
        window: float = REFUSAL_WINDOW_SECONDS,
        max_open: int = MAX_OPEN_REFUSALS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_open = max_open
        self.clock = clock
        self._open: dict[_RefusalKind | None, _OpenWindow] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0  # windows are looked over at most once a second

    def admit(self, fact: AuditFact | None) -> list[AuditFact]:
        """The entries to write now: summaries of closed windows, and `fact` if it opens a
        window of its own (None: only close what is due)."""
        now = self.clock()
        with self._lock:
            due: list[AuditFact] = []
            if now >= self._next_sweep:
                self._next_sweep = now + min(1.0, self.window)
                due = self._close(lambda window: window.closes_at <= now)
            if fact is not None:
                due.extend(self._count(fact, now))
        return due

    def drain(self) -> list[AuditFact]:
        """Every counted refusal not yet written (the server is stopping)."""
        with self._lock:
            return self._close(lambda _: True)

    def _count(self, fact: AuditFact, now: float) -> list[AuditFact]:
        kind: _RefusalKind | None = _RefusalKind(
            fact.client_address, fact.actor, fact.detail or "", fact.request
        )
        if kind not in self._open and len(self._open) >= self.max_open:
            kind = None  # the overflow window: refusals of every further kind, together
            fact = replace(
                fact,
                principal=None,
                claimed_subject="(several)",
                client_address=None,
                request="(several)",
            )
        window = self._open.get(kind)
        if window is not None:
            window.suppressed += 1
            return []
        self._open[kind] = _OpenWindow(fact, now + self.window)
        return [fact]

    def _close(self, closing: Callable[[_OpenWindow], bool]) -> list[AuditFact]:
        closed = [kind for kind, window in self._open.items() if closing(window)]
        summaries = []
        for kind in closed:
            window = self._open.pop(kind)
            if window.suppressed:
                summaries.append(_summary(window, self.window))
        return summaries


def _summary(window: _OpenWindow, seconds: float) -> AuditFact:
    what = window.first.detail or "refused"
    return replace(
        window.first,
        repeats=window.suppressed,
        detail=f"{window.suppressed} more of: {what} (within {seconds:.0f} s of the first)",
    )


class SecurityEvents:
    """Where one application's security events go: its audit trail, through the coalescer."""

    def __init__(self, trail: AuditTrail, coalescer: RefusalCoalescer | None = None) -> None:
        self.trail = trail
        self.coalescer = coalescer or RefusalCoalescer()

    def flush(self) -> None:
        """Write every refusal counted but not yet written (call when the server stops)."""
        for fact in self.coalescer.drain():
            self.write(SecurityEvent.REFUSED, fact)

    def write(self, event: SecurityEvent, fact: AuditFact, session: Session | None = None) -> None:
        """Append one entry; on failure log it, and raise for a FAIL_CLOSED event. Inside
        `session` (the audited change's transaction) a failure always raises, so the change
        is rolled back with its entry."""
        try:
            self.trail.record_event(fact, session)
        except (SQLAlchemyError, VenaPathError) as error:
            security_log.error(
                "audit write failed",
                extra={"event": event.value, "subject": fact.actor, "error": type(error).__name__},
            )
            if event in FAIL_CLOSED or session is not None:
                raise AuditUnavailableError(
                    f"the {event.value} could not be recorded in the audit trail; try again"
                ) from None


def record_security_event(
    events: SecurityEvents,
    event: SecurityEvent,
    *,
    principal: Principal | None = None,
    subject: str | None = None,
    code: str | None = None,
    client_address: str | None = None,
    method: str | None = None,
    path: str | None = None,
    detail: str | None = None,
    resources: tuple[str, ...] = (),
    action: AuditAction | None = None,
    session: Session | None = None,
) -> None:
    """Record one security event in the audit trail (and the security log). Blocking: call
    it off the event loop. `principal` is the verified actor; without one, `subject` is
    what was claimed (never verified). `code` is the short status (`401 missing`, `locked`);
    `path` a route template; `action` overrides the default audit action (an account
    created rather than changed); `session`, the transaction of the change being recorded
    (the entry then commits or rolls back with it). Raises AuditUnavailableError for a
    FAIL_CLOSED event whose entry could not be written."""
    address = client_address or (principal.client_address if principal else None)
    reason = ": ".join(part for part in (code, (detail or "")[:200]) if part) or None
    security_log.info(
        event.value,
        extra={
            "event": event.value,
            "subject": (principal.subject if principal else subject or "anonymous")[:300],
            "outcome": code,
            "client": address,
            "http_method": method,
            "path": path,
            "detail": (detail or "")[:200] or None,
        },
    )
    request = f"{method} {path}" if method and path else path
    fact = AuditFact(
        action or _action(event, code, method, path),
        principal,
        _OUTCOME[event],
        patient_id=principal.patient_id if principal else None,  # a SMART launch's patient
        resources=resources,
        detail=reason,
        claimed_subject=None if principal else (subject or None),
        client_address=address,
        request=request,
    )
    coalesced = event in COALESCED
    for entry in events.coalescer.admit(fact if coalesced else None):
        events.write(SecurityEvent.REFUSED, entry)
    if not coalesced:
        events.write(event, fact, session)


def _action(
    event: SecurityEvent, code: str | None, method: str | None, path: str | None
) -> AuditAction:
    """A refusal is recorded as the act that was attempted: a 401 as a failed
    authentication, otherwise the REST interaction its method stands for (a POST to an
    operation, `$...` or `evaluate`, as an evaluation; another POST as a create)."""
    if event is not SecurityEvent.REFUSED:
        return _ACTION[event]
    if code is not None and code.startswith("401"):
        return AuditAction.LOGIN
    if method is None:
        return AuditAction.READ
    if method == "POST":
        operation = path is not None and ("$" in path or path.endswith("evaluate"))
        return AuditAction.EVALUATE if operation else AuditAction.CREATE
    return _ATTEMPTED.get(method, AuditAction.READ)
