"""Server-side sign-in sessions: the browser holds only a random token in a cookie.

The table stores the SHA-256 of the token (a stolen copy of the table is no set of cookies)
and a CSRF token bound to the session. A session ends at sign-out, after
`session_idle_minutes` without a request, after `session_absolute_hours` in any case, and
when its account is disabled, changes role or has its password reset.

Every request checks its session, so the check is one primary-key read in a read-only
transaction (no ORM unit of work, no write lock), and the idle clock (`last_seen_at`) is
written at most once per `TOUCH_INTERVAL` (or a tenth of the idle limit, if shorter). The
read is never cached: a sign-out in any worker process ends the session for the next
request everywhere. Because `last_seen_at` may lag the last request by up to that interval,
idle expiry can come that much early, never late; absolute expiry is exact.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from venapath.domain.access import Permission, Principal, Role
from venapath.persistence.database import Database
from venapath.persistence.tables import AuthSessionRow
from venapath.settings import Settings

# last_seen_at is written at most this often, so a busy session is not a write per request.
TOUCH_INTERVAL = timedelta(seconds=60)
# ... and at least ten times per idle limit, so a session in use never idles out.
TOUCHES_PER_IDLE_LIMIT = 10


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


# The columns a request needs, by primary key: built once (the statement is cached compiled).
_LIVE_SESSION = select(
    AuthSessionRow.subject,
    AuthSessionRow.display,
    AuthSessionRow.roles,
    AuthSessionRow.method,
    AuthSessionRow.patient_id,
    AuthSessionRow.granted,
    AuthSessionRow.csrf_token,
    AuthSessionRow.last_seen_at,
    AuthSessionRow.expires_at,
    AuthSessionRow.ended_at,
).where(AuthSessionRow.id == bindparam("id"))


def _principal(row: Row[*tuple[Any, ...]], digest: str, client_address: str | None) -> Principal:
    return Principal(
        subject=row.subject,
        display=row.display,
        roles=_roles(row.roles),
        method=row.method,
        client_address=client_address,
        session_id=digest[:16],
        patient_id=row.patient_id,
        granted=_permissions(row.granted),
    )


@functools.lru_cache(maxsize=256)
def _roles(stored: str) -> frozenset[Role]:
    """Roles as stored ("clinician,coordinator"); few distinct values, so parsed once each."""
    return frozenset(Role(r) for r in stored.split(",") if r)


@functools.lru_cache(maxsize=256)
def _permissions(stored: str) -> frozenset[Permission]:
    return frozenset(Permission(p) for p in stored.split(",") if p)


class SessionStore:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.absolute = timedelta(hours=settings.session_absolute_hours)
        self.touch_interval = min(TOUCH_INTERVAL, self.idle / TOUCHES_PER_IDLE_LIMIT)
        self.clock = clock

    def start(self, who: SignedIn, client_address: str | None) -> SessionGrant:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
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
        """The live session for a cookie value, or None (unknown, ended, idle or too old).

        One read; a write only when the session has just expired (it is ended) or its idle
        clock is due (`touch_interval`)."""
        if not token or len(token) > 100:
            return None
        digest = token_digest(token)
        now = self.clock()
        with self.database.read() as connection:
            row = connection.execute(_LIVE_SESSION, {"id": digest}).one_or_none()
        if row is None or row.ended_at is not None:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= self.idle:
            self._set(digest, ended_at=now)
            return None
        if now - row.last_seen_at >= self.touch_interval:
            self._set(digest, last_seen_at=now)
        return ActiveSession(_principal(row, digest, client_address), row.csrf_token)

    def _set(self, digest: str, **values: datetime) -> None:
        """Write to a session that has not ended (a sign-out meanwhile wins)."""
        with self.database.transaction() as connection:
            connection.execute(
                update(AuthSessionRow)
                .where(AuthSessionRow.id == digest, AuthSessionRow.ended_at.is_(None))
                .values(**values)
            )

    def end(self, token: str) -> bool:
        """Sign-out: the session cannot be used again, even with a copy of the cookie."""
        with self.database.session() as session:
            result = session.execute(
                update(AuthSessionRow)
                .where(AuthSessionRow.id == token_digest(token), AuthSessionRow.ended_at.is_(None))
                .values(ended_at=self.clock())
            )
            return bool(getattr(result, "rowcount", 0))
