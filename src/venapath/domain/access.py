"""Who is asking, and what each role may do: the vocabulary every door checks against.

The identity layer turns a verified session or token into a `Principal`; the registry door
checks a `Permission` against it and writes the principal into the audit trail; the HTTP
policy table maps every route to one permission. Deny by default: a permission no role is
given here is refused to everyone, and a principal with no roles may do nothing.

This module is pure data (no I/O), so the engine-free layers and the docs generator can
read the same table the service enforces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    RESEARCHER = "researcher"
    ADMIN = "admin"
    PATIENT = "patient"
    SERVICE = "service"


class Permission(StrEnum):
    """One kind of act. Routes, registry operations and SMART scopes all map onto these."""

    KNOWLEDGE_READ = "knowledge.read"  # rules, sources, scores: no patient data
    EVALUATE = "evaluate"  # run the engine on patient data sent in the request
    PATIENT_READ = "patient.read"  # identified registry records of any patient
    PATIENT_WRITE = "patient.write"  # create and change registry records
    PATIENT_RETRACT = "patient.retract"  # retract a patient (DELETE)
    RECORD_EXPORT = "record.export"  # a patient's whole record as a FHIR Bundle (a disclosure)
    RECORD_IMPORT = "record.import"
    WORKLIST_READ = "worklist.read"  # follow-up tasks due and overdue
    TASK_WRITE = "task.write"  # mark a follow-up task done, add a note
    CHECK_IN_SEND = "check_in.send"  # issue a patient's check-in link
    CHECK_IN_SUBMIT = "check_in.submit"  # answer one's own check-in (the patient's link)
    AGGREGATE_READ = "aggregate.read"  # de-identified counts and charts, no identities
    AUDIT_READ = "audit.read"
    ACCOUNTS_MANAGE = "accounts.manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLINICIAN: frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.EVALUATE,
            Permission.PATIENT_READ,
            Permission.PATIENT_WRITE,
            Permission.RECORD_EXPORT,
            Permission.WORKLIST_READ,
            Permission.TASK_WRITE,
            Permission.CHECK_IN_SEND,
            Permission.AGGREGATE_READ,
        }
    ),
    Role.COORDINATOR: frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.PATIENT_READ,
            Permission.WORKLIST_READ,
            Permission.TASK_WRITE,
            Permission.CHECK_IN_SEND,
        }
    ),
    Role.RESEARCHER: frozenset({Permission.KNOWLEDGE_READ, Permission.AGGREGATE_READ}),
    Role.ADMIN: frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.AUDIT_READ,
            Permission.ACCOUNTS_MANAGE,
            Permission.PATIENT_RETRACT,
            Permission.RECORD_IMPORT,
            Permission.AGGREGATE_READ,
        }
    ),
    Role.PATIENT: frozenset({Permission.CHECK_IN_SUBMIT}),
    # A machine client's permissions come from its granted scopes, not from this role.
    Role.SERVICE: frozenset(),
}


@dataclass(frozen=True)
class Principal:
    """A verified caller. Built only by the identity layer from a session or a token.

    `subject` is stable and unique (a local account id, an OIDC `sub` qualified by its
    issuer, a client id); `display` is for people to read. `patient_id` set means the caller
    is confined to that one patient (a SMART patient launch, a patient's check-in link).
    `granted` holds the permissions a token's scopes allow; for people it is empty and the
    roles decide.
    """

    subject: str
    display: str
    roles: frozenset[Role]
    method: str  # "local", "oidc", "smart", "bearer", "check-in-link", "cli"
    client_address: str | None = None
    session_id: str | None = None
    patient_id: str | None = None
    granted: frozenset[Permission] = field(default_factory=frozenset)

    @property
    def permissions(self) -> frozenset[Permission]:
        from_roles = frozenset().union(*(ROLE_PERMISSIONS[r] for r in self.roles))
        return from_roles | self.granted

    def may(self, permission: Permission, patient_id: str | None = None) -> bool:
        """True when this caller holds `permission` (for `patient_id`, when one is given)."""
        if permission not in self.permissions:
            return False
        return self.patient_id is None or patient_id is None or patient_id == self.patient_id

    @property
    def sees_identities(self) -> bool:
        """Researchers (and anyone without patient reads) see de-identified data only."""
        return Permission.PATIENT_READ in self.permissions


def local_operator(name: str) -> Principal:
    """The person at the command line of the server itself (`venapath export`, `demo load`).

    Whoever can run the CLI can read the database file; the audit still names them."""
    return Principal(
        subject=f"cli:{name}",
        display=name,
        roles=frozenset({Role.CLINICIAN, Role.ADMIN}),
        method="cli",
    )
