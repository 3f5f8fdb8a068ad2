"""Local accounts: add, list, disable, change role, reset password, and verify a sign-in.

A failed sign-in counts against the account; from `sign_in_lockout_threshold` failures on,
the account is locked for `sign_in_lockout_minutes`, doubling with each further failure (up
to a day). A locked, disabled or unknown account and a wrong password all give the one
message `SIGN_IN_REFUSED`, so the answer tells an attacker nothing; the audit says which.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from venapath.domain.access import Role
from venapath.errors import ConflictError, InputError, NotFoundError, RefusedError
from venapath.identity.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from venapath.persistence.database import Database
from venapath.persistence.tables import AccountRow, AuthSessionRow
from venapath.settings import AccountSettings

SIGN_IN_REFUSED = "the user name or password is not correct"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
ACCOUNT_ROLES = (Role.CLINICIAN, Role.COORDINATOR, Role.RESEARCHER, Role.ADMIN)
MAX_LOCK = timedelta(days=1)


class SignInRefusedError(RefusedError):
    """A sign-in that failed. `str()` is the one message users see; `reason` is for the audit."""

    title = "Unauthorized"

    def __init__(self, reason: str, username: str) -> None:
        super().__init__(SIGN_IN_REFUSED)
        self.reason = reason
        self.username = username


@dataclass(frozen=True)
class Account:
    """What may be shown about an account (never its hash)."""

    id: str
    username: str
    display_name: str
    role: Role
    disabled: bool
    demo: bool
    locked_until: datetime | None
    failed_attempts: int


def normal_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise InputError.at(
            "/username",
            "use 2 to 64 characters: lower-case letters, digits, '.', '_', '@' or '-'",
        )
    return name


def account_role(role: str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in ACCOUNT_ROLES:
        names = ", ".join(r.value for r in ACCOUNT_ROLES)
        raise InputError.at("/role", f"a person's role is one of: {names}")
    assert parsed is not None
    return parsed


AccountAudit = Callable[[Session, "Account"], None]
"""Records an account change inside the change's own transaction: if the entry cannot be
written, the change is rolled back with it (no unrecorded change, no record of a change that
was not made)."""


def _no_audit(session: Session, account: Account) -> None:
    """For callers that record nothing (tests, the demo accounts of `make run`)."""


class AccountService:
    def __init__(self, database: Database, settings: AccountSettings) -> None:
        self.database = database
        self.settings = settings

    def add(
        self,
        username: str,
        display_name: str,
        role: str,
        password: str,
        *,
        demo: bool = False,
        audit: AccountAudit = _no_audit,
    ) -> Account:
        name = normal_username(username)
        parsed_role = account_role(role)
        check_new_password(password, name, self.settings.password_min_length)
        now = datetime.now(UTC)
        row = AccountRow(
            id=str(uuid.uuid4()),
            username=name,
            display_name=display_name.strip()[:200] or name,
            role=parsed_role.value,
            password_hash=hash_password(password),
            disabled=False,
            demo=demo,
            failed_attempts=0,
            locked_until=None,
            created_at=now,
            updated_at=now,
            password_changed_at=now,
        )
        with self.database.session() as session:
            taken = session.scalar(select(AccountRow.id).where(AccountRow.username == name))
            if taken is not None:
                raise ConflictError(f"the user name {name!r} is taken", pointer="/username")
            session.add(row)
            account = _account(row)
            audit(session, account)
        return account

    def list(self) -> list[Account]:
        with self.database.session() as session:
            rows = session.scalars(select(AccountRow).order_by(AccountRow.username)).all()
            return [_account(row) for row in rows]

    def get(self, username: str) -> Account:
        with self.database.session() as session:
            return _account(self._row(session, username))

    def set_disabled(
        self, username: str, disabled: bool, *, audit: AccountAudit = _no_audit
    ) -> Account:
        """Disabling also ends every session of the account."""
        with self.database.session() as session:
            row = self._row(session, username)
            row.disabled = disabled
            row.updated_at = datetime.now(UTC)
            if disabled:
                _end_sessions(session, row.id)
            return _audited(session, row, audit)

    def set_role(self, username: str, role: str, *, audit: AccountAudit = _no_audit) -> Account:
        """A new role takes effect at the next sign-in: the account's sessions are ended."""
        parsed = account_role(role)
        with self.database.session() as session:
            row = self._row(session, username)
            row.role = parsed.value
            row.updated_at = datetime.now(UTC)
            _end_sessions(session, row.id)
            return _audited(session, row, audit)

    def reset_password(
        self, username: str, password: str, *, audit: AccountAudit = _no_audit
    ) -> Account:
        """A new password, the lock lifted and every session ended."""
        with self.database.session() as session:
            row = self._row(session, username)
            check_new_password(password, row.username, self.settings.password_min_length)
            now = datetime.now(UTC)
            row.password_hash = hash_password(password)
            row.password_changed_at = now
            row.failed_attempts = 0
            row.locked_until = None
            row.updated_at = now
            _end_sessions(session, row.id)
            return _audited(session, row, audit)

    def verify(self, username: str, password: str) -> Account:
        """The account when the password is right and the account may sign in; else
        SignInRefusedError with the one message for every failure. A failure is counted
        (and committed) before the error is raised."""
        name = username.strip().lower()
        now = datetime.now(UTC)
        refusal: str | None = None
        with self.database.session() as session:
            row = session.scalar(select(AccountRow).where(AccountRow.username == name))
            if row is None:
                verify_password(None, password)  # the same time as a wrong password
                refusal = "unknown user"
            elif row.locked_until is not None and row.locked_until > now:
                refusal = "locked"
            elif not verify_password(row.password_hash, password):
                self._count_failure(row, now)
                refusal = "locked after this failure" if row.locked_until else "wrong password"
            elif row.disabled:
                refusal = "disabled"
            elif row.demo and not self.settings.development:
                refusal = "demo account outside development"
            else:
                row.failed_attempts = 0
                row.locked_until = None
                if needs_rehash(row.password_hash):
                    row.password_hash = hash_password(password)
                account = _account(row)
        if refusal is not None:
            raise SignInRefusedError(refusal, name)
        return account

    def _count_failure(self, row: AccountRow, now: datetime) -> None:
        """Back-off: from the threshold on, each failure locks for twice as long."""
        row.failed_attempts += 1
        over = row.failed_attempts - self.settings.sign_in_lockout_threshold
        if over >= 0:
            lock = timedelta(minutes=self.settings.sign_in_lockout_minutes) * (2 ** min(over, 10))
            row.locked_until = now + min(lock, MAX_LOCK)
        row.updated_at = now

    @staticmethod
    def _row(session: Session, username: str) -> AccountRow:
        name = username.strip().lower()
        row = session.scalar(select(AccountRow).where(AccountRow.username == name))
        if row is None:
            raise NotFoundError("account", name, pointer="/username")
        return row


def _audited(session: Session, row: AccountRow, audit: AccountAudit) -> Account:
    account = _account(row)
    audit(session, account)
    return account


def _end_sessions(session: Session, account_id: str) -> None:
    session.execute(
        update(AuthSessionRow)
        .where(AuthSessionRow.account_id == account_id, AuthSessionRow.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        disabled=row.disabled,
        demo=row.demo,
        locked_until=row.locked_until,
        failed_attempts=row.failed_attempts,
    )
