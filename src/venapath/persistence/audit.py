"""The audit trail: every access to patient data, every sign-in and every refusal, as FHIR R4
AuditEvents following IHE Basic Audit Log Patterns (BALP), in a hash chain.

One door for writing it: `AuditTrail.record_event(fact)`. The registry calls it inside the
transaction of the change it audits (so the change and its entry commit together or not at
all); identity, CDS Hooks and the evaluate routes call it for sign-ins, refusals and
evaluations. Each entry gets the next sequence number and a SHA-256 hash over the previous
entry's hash and its own canonical JSON, taken under a lock (the write lock on SQLite, an
advisory lock on PostgreSQL), so the chain never forks; `verify()` walks it and names the
first entry that was edited, deleted or moved.

It lives in the persistence layer so every layer above (identity, services, API, CLI) can
call it. Entries never carry a password, a token, an MRN or a record's contents: who, what
kind of act on which records of which patient, from where, when, and with what outcome.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from venapath.domain.access import Permission, Principal
from venapath.errors import RefusedError
from venapath.persistence.database import Database
from venapath.persistence.tables import AuditEventRow

GENESIS_HASH = "0" * 64
CHAIN_LOCK_KEY = 0x56454E4150415448  # "VENAPATH": the PostgreSQL advisory lock of the chain
BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ROLE_SYSTEM = "urn:venapath:role"

FHIR_TYPE = {
    "patient": "Patient",
    "episode": "Condition",
    "procedure": "Procedure",
    "check_in": "QuestionnaireResponse",
    "outcome": "Observation",
    "task": "Task",
    "assessment": "GuidanceResponse",
    "audit": "AuditEvent",
}
"""Registry record kinds and the FHIR resource each is exported as (`fhir/records.py`)."""


class AuditAction(StrEnum):
    """What was done. Each maps to a BALP pattern (type, subtype, action code, profile)."""

    READ = "read"
    QUERY = "query"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    EVALUATE = "evaluate"
    LOGIN = "login"
    LOGOUT = "logout"


class AuditOutcome(StrEnum):
    """FHIR R4 AuditEvent.outcome codes."""

    SUCCESS = "0"
    REFUSED = "4"  # minor failure: the request was refused (permission, authentication)
    FAILED = "8"  # serious failure: the act was attempted and did not complete


@dataclass(frozen=True)
class _Pattern:
    type_system: str
    type_code: str
    type_display: str
    subtype_system: str
    subtype_code: str
    action: str  # C R U D E
    profile: str | None  # the BALP profile when a patient is named
    profile_no_patient: str | None


_PATTERNS = {
    AuditAction.READ: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "read", "R",
        "IHE.BasicAudit.PatientRead", "IHE.BasicAudit.Read",
    ),
    AuditAction.QUERY: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "search-type", "E",
        "IHE.BasicAudit.PatientQuery", "IHE.BasicAudit.Query",
    ),
    AuditAction.CREATE: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "create", "C",
        "IHE.BasicAudit.PatientCreate", "IHE.BasicAudit.Create",
    ),
    AuditAction.UPDATE: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "update", "U",
        "IHE.BasicAudit.PatientUpdate", "IHE.BasicAudit.Update",
    ),
    AuditAction.DELETE: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "delete", "D",
        "IHE.BasicAudit.PatientDelete", "IHE.BasicAudit.Delete",
    ),
    AuditAction.EXPORT: _Pattern(
        DCM, "110106", "Export", LIFECYCLE, "disclose", "R",
        "IHE.BasicAudit.PrivacyDisclosure.Source", "IHE.BasicAudit.PrivacyDisclosure.Source",
    ),
    AuditAction.EVALUATE: _Pattern(
        EVENT_TYPE, "rest", "Restful Operation", RESTFUL, "operation", "E", None, None,
    ),
    AuditAction.LOGIN: _Pattern(
        DCM, "110114", "User Authentication", DCM, "110122", "E", None, None,
    ),
    AuditAction.LOGOUT: _Pattern(
        DCM, "110114", "User Authentication", DCM, "110123", "E", None, None,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class AuditFact:
    """What happened, as the caller knows it; the trail turns it into an AuditEvent.

    `principal` is the verified caller; for a failed sign-in there is none, and
    `claimed_subject` names the account that was tried (never the password). `resources`
    are the records touched, as `kind/id` (`procedure/6f1c...`); the first is the primary
    one, indexed for `events_of`. `query` is the search as sent (no identifiers in it).
    `request` is the HTTP method and route template a refusal answered (`GET
    /api/v1/patients/{patient_id}`: the template, never the filled-in path), and `repeats`
    how many identical events this one entry stands for (refusals are coalesced,
    identity/events.py).
    """

    action: AuditAction
    principal: Principal | None
    outcome: AuditOutcome = AuditOutcome.SUCCESS
    patient_id: str | None = None
    resources: tuple[str, ...] = ()
    query: str | None = None
    detail: str | None = None
    claimed_subject: str | None = None
    client_address: str | None = None
    request: str | None = None
    repeats: int = 1

    @property
    def actor(self) -> str:
        if self.principal is not None:
            return self.principal.subject
        return f"unverified:{self.claimed_subject or 'anonymous'}"


@dataclass(frozen=True)
class ChainReport:
    """The outcome of `verify`: how many entries were checked and the first one that fails."""

    checked: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def canonical_json(document: dict[str, Any]) -> str:
    """One spelling of a JSON document (sorted keys, no spaces) so its hash is reproducible
    whatever order the database gives the keys back in."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LAST_ENTRY = (
    select(AuditEventRow.seq, AuditEventRow.hash).order_by(AuditEventRow.seq.desc()).limit(1)
)
_INSERT_ENTRY = insert(AuditEventRow)
"""Built once; run on a Core connection (no ORM unit of work)."""


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(event)}".encode()).hexdigest()


@dataclass
class AuditTrail:
    database: Database
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    observer: str = "VenaPath"

    # ------------------------------------------------------------------------- writing

    def record_event(self, fact: AuditFact, session: Session | None = None) -> int:
        """Append one entry; inside `session` (the caller's transaction) when given, else in
        a transaction of its own. Returns the entry's sequence number."""
        if session is not None:
            return self._append(session, fact)
        with self.database.session() as own:
            return self._append(own, fact)

    def _append(self, session: Session, fact: AuditFact) -> int:
        session.flush()  # the audited change first, so no row lock is taken under the chain lock
        # Core statements on the session's connection: the entry is one INSERT, and the ORM
        # unit of work it used to go through cost more than the statement (every CDS call
        # and every REST evaluation writes an entry).
        connection = session.connection()
        if self.database.dialect == "postgresql":
            connection.execute(_CHAIN_LOCK, {"key": CHAIN_LOCK_KEY})
        last = connection.execute(_LAST_ENTRY).first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = self._event(seq, fact)
        primary = fact.resources[0].split("/", 1) if fact.resources else [None, None]
        connection.execute(
            _INSERT_ENTRY,
            {
                "seq": seq,
                "recorded_at": datetime.fromisoformat(event["recorded"]),
                "action": fact.action.value,
                "outcome": fact.outcome.value,
                "actor": fact.actor[:200],
                "patient_id": fact.patient_id[:64] if fact.patient_id else None,
                "entity": primary[0][:32] if primary[0] else None,
                "entity_id": primary[1][:64] if primary[1] else None,
                "event": event,
                "prev_hash": prev_hash,
                "hash": chain_hash(prev_hash, event),
            },
        )
        return seq

    def _event(self, seq: int, fact: AuditFact) -> dict[str, Any]:
        pattern = _PATTERNS[fact.action]
        profile = pattern.profile if fact.patient_id else pattern.profile_no_patient
        event: dict[str, Any] = {
            "resourceType": "AuditEvent",
            "id": str(seq),
            "type": {
                "system": pattern.type_system,
                "code": pattern.type_code,
                "display": pattern.type_display,
            },
            "subtype": [{"system": pattern.subtype_system, "code": pattern.subtype_code}],
            "action": pattern.action,
            "recorded": self.clock().astimezone(UTC).isoformat(timespec="milliseconds"),
            "outcome": fact.outcome.value,
            "agent": self._agents(fact),
            "source": {
                "observer": {"display": self.observer},
                "type": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                        "code": "4",
                        "display": "Application Server",
                    }
                ],
            },
            "entity": self._entities(fact),
        }
        if profile:
            event["meta"] = {"profile": [BALP + profile]}
        if fact.detail:
            event["outcomeDesc"] = fact.detail[:500]
        return event

    @staticmethod
    def _agents(fact: AuditFact) -> list[dict[str, Any]]:
        principal = fact.principal
        address = fact.client_address or (principal.client_address if principal else None)
        user: dict[str, Any] = {
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "IRCP" if principal is None else "AUT",
                    }
                ]
            },
            "who": {"identifier": {"value": fact.actor[:200]}},
            "requestor": True,
        }
        if principal is not None:
            user["who"]["display"] = principal.display[:200]
            user["role"] = [
                {"coding": [{"system": ROLE_SYSTEM, "code": role.value}]}
                for role in sorted(principal.roles)
            ]
            user["extension"] = [
                {"url": "urn:venapath:authentication-method", "valueString": principal.method}
            ]
        client: dict[str, Any] = {
            "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
            "who": {"display": "client"},
            "requestor": False,
        }
        if address:
            client["network"] = {"address": address[:100], "type": "2"}
        server = {
            "type": {
                "coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]
            },
            "who": {"display": "VenaPath"},
            "requestor": False,
        }
        return [user, client, server]

    @staticmethod
    def _entities(fact: AuditFact) -> list[dict[str, Any]]:
        entities: list[dict[str, Any]] = []
        if fact.patient_id:
            entities.append(
                {
                    "what": {"reference": f"Patient/{fact.patient_id}"},
                    "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                    "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
                }
            )
        for resource in fact.resources:
            kind, _, record_id = resource.partition("/")
            if kind == "patient" and record_id == fact.patient_id:
                continue
            entities.append(
                {
                    "what": {"reference": f"{FHIR_TYPE.get(kind, kind)}/{record_id}"},
                    "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                    "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
                }
            )
        if fact.query is not None:
            entities.append(
                {
                    "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                    "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                    "query": base64.b64encode(fact.query.encode()).decode(),
                }
            )
        if fact.request is not None or fact.repeats != 1:
            entities.append(_request_entity(fact))
        return entities

    # ------------------------------------------------------------------------- reading

    def _may_read(self, principal: Principal, what: str) -> None:
        """Reading the trail needs AUDIT_READ; a refusal is itself recorded."""
        if principal.may(Permission.AUDIT_READ) and principal.patient_id is None:
            return
        self.record_event(
            AuditFact(
                AuditAction.QUERY,
                principal,
                AuditOutcome.REFUSED,
                resources=("audit/" + what[:30],),
                detail="reading the audit trail needs the audit.read permission",
            )
        )
        raise RefusedError("reading the audit trail needs the audit.read permission")

    def events_of(self, principal: Principal, entity: str, entity_id: str) -> list[dict[str, Any]]:
        """The entries about one record (its primary resource), oldest first; audited."""
        self._may_read(principal, entity)
        with self.database.session() as session:
            rows = session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.entity == entity, AuditEventRow.entity_id == entity_id)
                .order_by(AuditEventRow.seq)
            ).all()
            events = [row.event for row in rows]
            self._append(
                session,
                AuditFact(
                    AuditAction.QUERY,
                    principal,
                    resources=(f"{entity}/{entity_id}",),
                    query=f"entity={entity}&entity_id={entity_id}",
                ),
            )
        return events

    def export(
        self, principal: Principal, since: datetime, patient_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Entries recorded at or after `since` (about one patient, when given); audited
        before the first entry is read (this is not a generator, so the check runs now)."""
        self._may_read(principal, "export")
        query = f"since={since.isoformat()}" + (f"&patient={patient_id}" if patient_id else "")
        self.record_event(
            AuditFact(AuditAction.EXPORT, principal, patient_id=patient_id, query=query)
        )
        statement = (
            select(AuditEventRow.event)
            .where(AuditEventRow.recorded_at >= since)
            .order_by(AuditEventRow.seq)
        )
        if patient_id is not None:
            statement = statement.where(AuditEventRow.patient_id == patient_id)
        return self._stream(statement)

    def _stream(self, statement: Any) -> Iterator[dict[str, Any]]:
        with self.database.session() as session:
            yield from session.scalars(statement.execution_options(yield_per=500))

    def verify(self, principal: Principal) -> ChainReport:
        """Walk the chain from the first entry; the first mismatch is where it was altered."""
        self._may_read(principal, "verify")
        report = self._walk()
        self.record_event(
            AuditFact(
                AuditAction.QUERY,
                principal,
                resources=("audit/chain",),
                query="verify",
                detail="chain intact" if report.intact else f"chain broken at {report.broken_at}",
            )
        )
        return report

    def _walk(self) -> ChainReport:
        prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
        with self.database.session() as session:
            rows = session.scalars(
                select(AuditEventRow).order_by(AuditEventRow.seq).execution_options(yield_per=500)
            )
            for row in rows:
                problem = _check_row(row, expected_seq, prev_hash)
                if problem:
                    return ChainReport(checked, row.seq, problem)
                prev_hash, expected_seq, checked = row.hash, row.seq + 1, checked + 1
        return ChainReport(checked)


def _request_entity(fact: AuditFact) -> dict[str, Any]:
    """The request an entry is about (method and route template) and how many identical
    requests it stands for, as an entity with `detail` pairs (R4 AuditEvent.entity.detail)."""
    entity: dict[str, Any] = {
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "description": "the HTTP request (route template)",
        "detail": [{"type": "repeats", "valueString": str(fact.repeats)}],
    }
    if fact.request is not None:
        entity["what"] = {"display": fact.request[:300]}
    return entity


def _check_row(row: AuditEventRow, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected entry {expected_seq} next, found {row.seq}: entries were deleted"
    if row.prev_hash != prev_hash:
        return "does not follow the entry before it: entries were deleted or reordered"
    if row.hash != chain_hash(row.prev_hash, row.event):
        return "its content does not match its hash: the entry was edited"
    if row.event.get("id") != str(row.seq) or row.event.get("outcome") != row.outcome:
        return "its columns disagree with its event: the entry was edited"
    return None
