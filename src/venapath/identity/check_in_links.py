"""A patient's private check-in link: how a patient is known without an account.

The link carries a random token (256 bits); the database keeps only its SHA-256, so a copy
of the database holds no usable link. A link opens one procedure's check-in, once, before
it expires. Redeeming it yields a `Principal` confined to that patient that may do one
thing: submit that check-in. An expired, used or unknown link is refused in words and shows
nothing of the record.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from venapath.domain.access import Principal, Role
from venapath.errors import GoneError, NotFoundError
from venapath.persistence.database import Database
from venapath.persistence.tables import CheckInLinkRow

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class LinkGrant:
    """What a valid link allows: this patient's check-in for this procedure."""

    link_id: str
    patient_id: str
    procedure_id: str
    expires_at: datetime
    principal: Principal


class LinkUsedError(GoneError):
    """The link was used already: a check-in link works once."""


class LinkExpiredError(GoneError):
    """The link is past its expiry."""


def redeem(database: Database, token: str, now: datetime) -> LinkGrant:
    """The grant a link gives, or an error that names only what is wrong with the link."""
    if not 20 <= len(token) <= 100:
        raise NotFoundError("check-in link", "this link")
    with database.session() as session:
        row = session.scalars(
            select(CheckInLinkRow).where(CheckInLinkRow.token_hash == token_hash(token))
        ).one_or_none()
        if row is None:
            raise NotFoundError("check-in link", "this link")
        if row.used_at is not None:
            raise LinkUsedError("check-in link", "this link")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires <= now:
            raise LinkExpiredError("check-in link", "this link")
        principal = Principal(
            subject=f"check-in-link:{row.id}",
            display="Patient (check-in link)",
            roles=frozenset({Role.PATIENT}),
            method="check-in-link",
            patient_id=row.patient_id,
        )
        return LinkGrant(row.id, row.patient_id, row.procedure_id, expires, principal)
