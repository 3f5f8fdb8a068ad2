"""Security events (sign-in, sign-out, failed sign-in, refusal): the one function that records them.

Until the registry's audit door records these as AuditEvents, they go to the
`venapath.security` log. Callers pass only what an auditor needs: never a password, token,
cookie or patient identifier (a subject is an account name, an issuer-qualified `sub` or a
client id; `detail` is a short reason such as "locked" or "expired").
"""

from __future__ import annotations

import logging
from enum import StrEnum

security_log = logging.getLogger("venapath.security")


class SecurityEvent(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_IN_FAILED = "sign-in-failed"
    SIGN_OUT = "sign-out"
    REFUSED = "refused"  # a request refused for missing or insufficient credentials
    ACCOUNT_CHANGED = "account-changed"  # add, disable, set-role, reset


def record_security_event(
    event: SecurityEvent,
    *,
    subject: str | None,
    outcome: str,
    client_address: str | None = None,
    method: str | None = None,
    path: str | None = None,
    detail: str | None = None,
) -> None:
    """Record one security event. `path` is a route template or a path without its query."""
    security_log.info(
        event.value,
        extra={
            "event": event.value,
            "subject": (subject or "anonymous")[:300],
            "outcome": outcome,
            "client": client_address,
            "http_method": method,
            "path": path,
            "detail": (detail or "")[:200] or None,
        },
    )
