"""Server-side sign-in sessions: the browser holds only a random token in a cookie.

The table stores the SHA-256 of the token (a stolen copy of the table is no set of cookies)
and a CSRF token bound to the session. A session ends at sign-out, after
`session_idle_minutes` without a request, after `session_absolute_hours` in any case, and
when its account is disabled, changes role or has its password reset.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from venapath.domain.access import Permission, Principal, Role
from venapath.persistence.database import Database
from venapath.persistence.tables import AuthSessionRow
from venapath.settings import Settings

# last_seen_at is written at most this often, so a busy session is not a write per request.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    """Who a new session is for, as the sign-in method verified them."""

    subject: str
    display: str
    roles: frozenset[Role]
    method: str  # "local", "oidc" or "smart"
    account_id: str | None = None
    patient_id: str | None = None  # a SMART patient launch confines the session to one patient
    granted: frozenset[Permission] = frozenset()  # permissions from launch scopes


@dataclass(frozen=True)
class SessionGrant:
    token: str  # goes into the cookie, and nowhere else
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    principal: Principal
    csrf_token: str


def session_cookie_name(settings: Settings) -> str:
    """`__Host-` (Secure, path /, no Domain) whenever the service is served over https."""
    return "__Host-venapath_session" if settings.https else "venapath_session"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.absolute = timedelta(hours=settings.session_absolute_hours)

    def start(self, who: SignedIn, client_address: str | None) -> SessionGrant:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = AuthSessionRow(
            id=token_digest(token),
            subject=who.subject[:300],
            display=who.display[:200],
            roles=",".join(sorted(r.value for r in who.roles)),
            method=who.method,
            account_id=who.account_id,
            patient_id=who.patient_id,
            granted=",".join(sorted(p.value for p in who.granted)),
            csrf_token=csrf,
            client_address=(client_address or "")[:64] or None,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
            ended_at=None,
        )
        with self.database.session() as session:
            session.add(row)
        return SessionGrant(token=token, csrf_token=csrf, expires_at=row.expires_at)

    def resolve(self, token: str, client_address: str | None) -> ActiveSession | None:
        """The live session for a cookie value, or None (unknown, ended, idle or too old)."""
        if not token or len(token) > 100:
            return None
        now = datetime.now(UTC)
        with self.database.session() as session:
            row = session.get(AuthSessionRow, token_digest(token))
            if row is None or row.ended_at is not None:
                return None
            if now >= row.expires_at or now - row.last_seen_at >= self.idle:
                row.ended_at = now
                return None
            if now - row.last_seen_at >= TOUCH_INTERVAL:
                row.last_seen_at = now
            principal = Principal(
                subject=row.subject,
                display=row.display,
                roles=frozenset(Role(r) for r in row.roles.split(",") if r),
                method=row.method,
                client_address=client_address,
                session_id=row.id[:16],
                patient_id=row.patient_id,
                granted=frozenset(Permission(p) for p in row.granted.split(",") if p),
            )
            return ActiveSession(principal=principal, csrf_token=row.csrf_token)

    def end(self, token: str) -> bool:
        """Sign-out: the session cannot be used again, even with a copy of the cookie."""
        with self.database.session() as session:
            result = session.execute(
                update(AuthSessionRow)
                .where(AuthSessionRow.id == token_digest(token), AuthSessionRow.ended_at.is_(None))
                .values(ended_at=datetime.now(UTC))
            )
            return bool(getattr(result, "rowcount", 0))
