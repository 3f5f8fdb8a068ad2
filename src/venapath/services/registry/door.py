"""The registry's one door: every read and write of patient records passes through `Door.run`.

`run` checks the caller's permission (refusals are audited, then raised), opens one
transaction, lets the operation load what it needs through a `Call` (which confines a
patient-bound caller to that patient and answers retracted patients: 410 to reads, 409 to
writes), stores the idempotency record and the audit entry in that same transaction, and
turns optimistic-concurrency races (StaleDataError, IntegrityError, serialization
failures) into a ConflictError naming /version. Nothing is half-written: on any error the
transaction rolls back whole.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from venapath.domain.access import Permission, Principal
from venapath.errors import ConflictError, GoneError, InputError, NotFoundError, RefusedError
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import (
    AuditAction,
    AuditFact,
    AuditOutcome,
    AuditTrail,
    canonical_json,
)
from venapath.persistence.database import Database
from venapath.persistence.tables import (
    AssessmentRow,
    CheckInRow,
    EpisodeRow,
    IdempotencyRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)

T = TypeVar("T")
CLOCK_SKEW = timedelta(minutes=5)
"""A record may be stamped this far in the future (clocks disagree); later is refused."""
RACE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
IDEMPOTENCY_POINTER = "/headers/Idempotency-Key"


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class Idempotency:
    """A write's `Idempotency-Key` and the fingerprint of the request it was sent with."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, operation: str, *parts: Any) -> Idempotency | None:
        if key is None:
            return None
        if not key.strip() or len(key) > 200:
            raise InputError.at(IDEMPOTENCY_POINTER, "must be 1 to 200 characters")
        material = canonical_json({"operation": operation, "request": list(parts)})
        return cls(key, hashlib.sha256(material.encode()).hexdigest())


@dataclass(frozen=True)
class Operation:
    """What a registry method does, for the permission check and the audit entry."""

    name: str
    permissions: tuple[Permission, ...]
    action: AuditAction
    write: bool


@dataclass
class Call:
    """One operation in progress: its transaction, its caller, and what it touched."""

    session: Session
    principal: Principal
    write: bool
    patient_id: str | None = None
    resources: list[str] = field(default_factory=list)
    query: str | None = None

    def touch(self, kind: str, record_id: str, *, primary: bool = False) -> None:
        reference = f"{kind}/{record_id}"
        if primary:
            self.resources.insert(0, reference)
        else:
            self.resources.append(reference)

    def _confine(self, patient_id: str) -> None:
        bound = self.principal.patient_id
        if bound is not None and bound != patient_id:
            raise RefusedError("this sign-in is limited to one patient; this record is another's")

    def patient(self, patient_id: str, *, pointer: str | None = None) -> PatientRow:
        """A patient this call may use. Retracted: GoneError to a read, ConflictError to a
        write. `pointer` set means the id came from the request body (a missing one is 422)."""
        row = self.session.get(PatientRow, patient_id)
        if row is None:
            if pointer is not None:
                raise InputError.at(pointer, f"patient {patient_id!r} does not exist")
            raise NotFoundError("patient", patient_id)
        self._confine(patient_id)
        self.patient_id = patient_id  # named in the audit entry, also of a refused attempt
        if row.deleted_at is not None:
            if self.write:
                raise ConflictError(
                    f"patient {patient_id!r} was retracted; its record takes no new writes",
                    pointer=pointer or "/patient_id",
                )
            raise GoneError("patient", patient_id)
        return row

    def _child(self, row_type: type[T], kind: str, record_id: str, pointer: str | None) -> T:
        row = self.session.get(row_type, record_id)
        if row is None or getattr(row, "deleted_at", None) is not None:
            if pointer is not None:
                raise InputError.at(pointer, f"{kind} {record_id!r} does not exist")
            raise NotFoundError(kind, record_id)
        self.patient(getattr(row, "patient_id"), pointer=pointer)  # noqa: B009
        return row

    def episode(self, episode_id: str, *, pointer: str | None = None) -> EpisodeRow:
        return self._child(EpisodeRow, "episode", episode_id, pointer)

    def procedure(self, procedure_id: str, *, pointer: str | None = None) -> ProcedureRow:
        return self._child(ProcedureRow, "procedure", procedure_id, pointer)

    def task(self, task_id: str) -> TaskRow:
        return self._child(TaskRow, "task", task_id, None)

    def assessment(self, assessment_id: str) -> AssessmentRow:
        return self._child(AssessmentRow, "assessment", assessment_id, None)

    def check_in(self, check_in_id: str) -> CheckInRow:
        return self._child(CheckInRow, "check_in", check_in_id, None)

    def fact(self, action: AuditAction) -> AuditFact:
        return AuditFact(
            action,
            self.principal,
            patient_id=self.patient_id,
            resources=tuple(self.resources),
            query=self.query,
        )


@dataclass
class Door:
    database: Database
    kb: KnowledgeBase
    clock: Callable[[], datetime]
    audit: AuditTrail
    committed_writes: int = 0
    """How many write transactions this door has committed: a cheap "has anything changed"
    for what is computed from the whole registry (the outcome dashboards' cache)."""
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def not_in_future(self, moment: datetime, pointer: str) -> None:
        if moment > self.clock() + CLOCK_SKEW:
            raise InputError.at(pointer, f"{moment.isoformat()} is in the future")

    def refuse(self, principal: Principal, operation: Operation, reason: str) -> RefusedError:
        """Record a refusal in a transaction of its own (the refused one rolls back)."""
        self.audit.record_event(
            AuditFact(
                operation.action,
                principal,
                AuditOutcome.REFUSED,
                resources=(f"operation/{operation.name}",),
                detail=reason,
            )
        )
        return RefusedError(reason)

    def run(
        self,
        principal: Principal,
        operation: Operation,
        work: Callable[[Call], T],
        *,
        idempotency: Idempotency | None = None,
        replay: Callable[[dict[str, Any]], T] | None = None,
        dump_result: Callable[[T], dict[str, Any]] | None = None,
    ) -> T:
        if not any(principal.may(p) for p in operation.permissions):
            needed = " or ".join(p.value for p in operation.permissions)
            raise self.refuse(principal, operation, f"{operation.name} needs {needed}")
        calls: list[Call] = []
        try:
            return self._transaction(
                principal, operation, _remember(work, calls), idempotency, replay, dump_result
            )
        except RefusedError as refused:
            raise self.refuse(principal, operation, refused.message) from None
        except (GoneError, ConflictError) as failed:
            self._record_failure(principal, operation, calls, failed)
            raise
        except StaleDataError:
            raise self._race(principal, operation, calls) from None
        except IntegrityError:
            if idempotency is not None and replay is not None:
                stored = self._stored(principal, idempotency)
                if stored is not None:
                    return replay(stored)
            raise self._race(principal, operation, calls) from None
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) in RACE_SQLSTATES:
                raise self._race(principal, operation, calls) from None
            raise

    def _race(self, principal: Principal, operation: Operation, calls: list[Call]) -> ConflictError:
        """Another transaction changed the same rows first: a 409, recorded like a conflict."""
        conflict = ConflictError(
            f"{operation.name}: the record was changed by someone else at the same moment; "
            "reload it and try again"
        )
        self._record_failure(principal, operation, calls, conflict)
        return conflict

    def _transaction(
        self,
        principal: Principal,
        operation: Operation,
        work: Callable[[Call], T],
        idempotency: Idempotency | None,
        replay: Callable[[dict[str, Any]], T] | None,
        dump_result: Callable[[T], dict[str, Any]] | None,
    ) -> T:
        with self.database.session() as session:
            if idempotency is not None and replay is not None:
                earlier = _lookup(session, principal, idempotency)
                if earlier is not None:
                    self.audit.record_event(_replayed(principal, operation, earlier), session)
                    return replay(earlier)
            call = Call(session, principal, operation.write)
            result = work(call)
            if idempotency is not None and dump_result is not None:
                session.add(
                    IdempotencyRow(
                        subject=principal.subject[:200],
                        key=idempotency.key,
                        operation=operation.name,
                        fingerprint=idempotency.fingerprint,
                        response=dump_result(result),
                        created_at=self.clock(),
                    )
                )
            self.audit.record_event(call.fact(operation.action), session)
        if operation.write:
            with self._count_lock:
                self.committed_writes += 1
        return result

    def _record_failure(
        self, principal: Principal, operation: Operation, calls: list[Call], error: Exception
    ) -> None:
        """A read of a retracted patient, or a write refused as a conflict, is an attempt on
        patient data: recorded (outcome 4) in a transaction of its own."""
        call = calls[0] if calls else None
        self.audit.record_event(
            AuditFact(
                operation.action,
                principal,
                AuditOutcome.REFUSED,
                patient_id=call.patient_id if call else None,
                resources=tuple(call.resources) if call else (f"operation/{operation.name}",),
                detail=f"{type(error).__name__}: {error}"[:300],
            )
        )

    def _stored(self, principal: Principal, idempotency: Idempotency) -> dict[str, Any] | None:
        with self.database.session() as session:
            return _lookup(session, principal, idempotency)


def _lookup(
    session: Session, principal: Principal, idempotency: Idempotency
) -> dict[str, Any] | None:
    row = session.get(IdempotencyRow, (principal.subject[:200], idempotency.key))
    if row is None:
        return None
    if row.fingerprint != idempotency.fingerprint:
        raise InputError.at(
            IDEMPOTENCY_POINTER,
            "this key was already used for a different request; use a new key for a new request",
        )
    return dict(row.response)


def _remember(work: Callable[[Call], T], calls: list[Call]) -> Callable[[Call], T]:
    """The operation's work, keeping its Call so a failure can still name the patient."""

    def remembered(call: Call) -> T:
        calls.append(call)
        return work(call)

    return remembered


def _replayed(principal: Principal, operation: Operation, response: dict[str, Any]) -> AuditFact:
    """A retried write answered from its stored response: nothing written, data sent again."""
    patient_id = response.get("patient_id") or (
        response.get("id") if operation.name == "create_patient" else None
    )
    return AuditFact(
        AuditAction.READ,
        principal,
        patient_id=patient_id if isinstance(patient_id, str) else None,
        resources=(f"operation/{operation.name}",),
        detail="a retried request (same Idempotency-Key) answered with the first response",
    )


def check_version(row: PatientRow | EpisodeRow | TaskRow, version: int, entity: str) -> None:
    if row.version != version:
        raise ConflictError(
            f"{entity} {row.id} is at version {row.version}, not {version}: "
            "it was changed since you read it; reload and apply your change again"
        )


def touch_all(call: Call, kind: str, ids: Iterable[str]) -> None:
    for record_id in ids:
        call.touch(kind, record_id)
