"""`venapath users`: local accounts of the embedded default (add, list, disable, enable,
set-role, reset, demo).

Passwords are read from a hidden prompt (asked twice) or, for scripts, from standard input
with `--password-stdin`; never from an option, which would land in the shell history and the
process list. Nothing here prints or logs a password, except `demo`, which makes throw-away
development accounts and must show how to sign in with them.

Errors are not caught here: the root group maps them (`cli/errors.py`), so a refused input
exits 2 naming the field (`/password`, `/username`) and a database that is away or not
migrated exits 3, as for every other command.
"""

from __future__ import annotations

import getpass
import secrets
import sys
from collections.abc import Callable
from functools import partial
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from venapath.cli.inputs import fail_input
from venapath.domain.access import local_operator
from venapath.identity.accounts import ACCOUNT_ROLES, Account, AccountAudit, AccountService
from venapath.identity.events import SecurityEvent, SecurityEvents, record_security_event
from venapath.persistence import migrate
from venapath.persistence.audit import AuditAction, AuditTrail
from venapath.persistence.database import Database
from venapath.settings import database_url, load_account_settings

users_app = typer.Typer(help="Local accounts (sign-in without a hospital provider).")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
DEMO_ROLES = ACCOUNT_ROLES
ROLE_HELP = "clinician, coordinator, researcher or admin"


def _service() -> AccountService:
    settings = load_account_settings()
    database = Database(database_url(settings))
    migrate.ensure_current(database)
    return AccountService(database, settings)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat it: "):
        fail_input("password: the two entries differ")
    return first


def _recorder(service: AccountService, what: str) -> AccountAudit:
    """The change's audit entry, as the operator at this command line, written in the
    change's own transaction: if it cannot be recorded, the change is not made (exit 3)."""
    security = SecurityEvents(AuditTrail(service.database))

    def record(session: Session, account: Account) -> None:
        record_security_event(
            security,
            SecurityEvent.ACCOUNT_CHANGED,
            principal=local_operator(getpass.getuser()),
            action=AuditAction.CREATE if what == "add" else AuditAction.UPDATE,
            resources=(f"account/{account.id}",),
            detail=f"{what} {account.username}",
            session=session,
        )

    return record


def _run(service: AccountService, action: str, call: Callable[..., Account]) -> Account:
    """Make the change `call` makes, recorded in the audit trail in the same transaction."""
    return call(audit=_recorder(service, action))


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name (lower case).")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    name: Annotated[str, typer.Option(help="The name people read.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Add an account; asks for its password (at least 15 characters; a passphrase)."""
    service = _service()
    password = _password(password_stdin)
    account = _run(service, "add", partial(service.add, username, name or username, role, password))
    out.print(f"added {account.username} ({account.role.value})")


@users_app.command("list")
def list_accounts() -> None:
    """Every account, its role and state (never a password or hash)."""
    table = Table("user name", "name", "role", "state", "failed sign-ins")
    for account in _service().list():
        state = "disabled" if account.disabled else "active"
        if account.locked_until is not None:
            state += f", locked until {account.locked_until:%Y-%m-%d %H:%M} UTC"
        if account.demo:
            state += ", demo"
        table.add_row(
            account.username,
            account.display_name,
            account.role.value,
            state,
            str(account.failed_attempts),
        )
    out.print(table)


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable an account and end its sessions."""
    service = _service()
    account = _run(service, "disable", partial(service.set_disabled, username, True))
    out.print(f"disabled {account.username}; its sessions have ended")


@users_app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled account."""
    service = _service()
    account = _run(service, "enable", partial(service.set_disabled, username, False))
    out.print(f"enabled {account.username}")


@users_app.command("set-role")
def set_role(username: str, role: Annotated[str, typer.Argument(help=ROLE_HELP)]) -> None:
    """Change an account's role; its sessions end, the new role applies at next sign-in."""
    service = _service()
    account = _run(service, "set-role", partial(service.set_role, username, role))
    out.print(f"{account.username} is now {account.role.value}; its sessions have ended")


@users_app.command("reset")
def reset(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Set a new password, lift a lock-out and end the account's sessions."""
    service = _service()
    password = _password(password_stdin)
    account = _run(service, "reset", partial(service.reset_password, username, password))
    out.print(f"new password set for {account.username}; lock lifted, sessions ended")


@users_app.command("demo")
def demo() -> None:
    """Development only: one demonstration account per role, with fresh random passwords."""
    service = _service()
    if not service.settings.development:
        fail_input("demo accounts exist only in development (VENAPATH_ENV=development)")
    table = Table("role", "user name", "password")
    existing = {a.username for a in service.list()}
    for role in DEMO_ROLES:
        username = f"demo-{role.value}"
        password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
        if username in existing:
            _run(service, "reset", partial(service.reset_password, username, password))
        else:
            name = f"Demo {role.value}"
            _run(
                service,
                "add",
                partial(service.add, username, name, role.value, password, demo=True),
            )
        table.add_row(role.value, username, password)
    out.print("Demonstration accounts (development only; refused in production):")
    out.print(table)
    out.print("Sign in at /auth/login with one of them.")
