"""Issuing a patient's check-in link, and the check-in it opens (used once, atomically).

Staff with CHECK_IN_SEND issue a link for one procedure; the token is shown once to be sent
to the patient and only its hash is stored. Submitting through the link records the
check-in and marks the link used in one transaction, so a double submit cannot record two.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from venapath.domain.records import CheckInIn, CheckInOut
from venapath.errors import ConflictError, InputError, RefusedError
from venapath.identity.check_in_links import new_token, token_hash
from venapath.persistence.tables import CheckInLinkRow
from venapath.services.registry import check_ins
from venapath.services.registry.door import Call, Door

MAX_DAYS = 30


@dataclass(frozen=True)
class IssuedLink:
    token: str
    link_id: str
    patient_id: str
    procedure_id: str
    expires_at: datetime


def issue(door: Door, call: Call, procedure_id: str, days: int) -> IssuedLink:
    if not 1 <= days <= MAX_DAYS:
        raise InputError.at("/days", f"a link lasts 1 to {MAX_DAYS} days")
    procedure = call.procedure(procedure_id, pointer="/procedure_id")
    now = door.clock()
    token = new_token()
    row = CheckInLinkRow(
        id=str(uuid.uuid4()),
        token_hash=token_hash(token),
        patient_id=procedure.patient_id,
        procedure_id=procedure.id,
        created_by=call.principal.subject[:200],
        created_at=now,
        expires_at=now + timedelta(days=days),
        used_at=None,
        check_in_id=None,
    )
    call.session.add(row)
    call.touch("check_in_link", row.id, primary=True)
    return IssuedLink(token, row.id, row.patient_id, row.procedure_id, row.expires_at)


def submit(door: Door, call: Call, link_id: str, data: CheckInIn) -> CheckInOut:
    """The patient's check-in through their link; the link is spent in the same transaction."""
    link = call.session.scalars(
        select(CheckInLinkRow).where(CheckInLinkRow.id == link_id).with_for_update()
    ).one_or_none()
    if link is None or link.patient_id != call.principal.patient_id:
        raise RefusedError("this check-in link does not belong to this sign-in")
    if link.used_at is not None:
        raise ConflictError("this check-in link was used already", pointer="/link")
    if data.procedure_id != link.procedure_id:
        raise InputError.at("/procedure_id", "this link is for another procedure")
    out = check_ins.record(door, call, data)
    link.used_at = door.clock()
    link.check_in_id = out.id
    return out
