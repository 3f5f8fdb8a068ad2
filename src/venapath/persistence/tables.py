"""The registry's tables. Every row that a user changes carries a version for optimistic
concurrency, and none is ever hard-deleted (`deleted_at` marks a retraction).

Time stamps are stored in UTC and always come back time-zone aware, on SQLite (which has no
time-zone type) as on PostgreSQL, so that code never compares naive with aware times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored; give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Document = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: JSONB on PostgreSQL, JSON text on SQLite."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: Document}  # noqa: RUF012


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True)


class Versioned:
    """Optimistic concurrency: SQLAlchemy adds `WHERE version = :read` to every UPDATE."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class PatientRow(Versioned, Base):
    __tablename__ = "patients"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012
    id: Mapped[str] = _id()
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None]


class PatientIdentifierRow(Base):
    """Hospital numbers live apart from the pseudonymous record and are never exported."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value", name="uq_patient_identifiers_system"),)
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    system: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class EpisodeRow(Versioned, Base):
    __tablename__ = "episodes"
    # The worklist reads the newest active episodes first, a page at a time; the id settles
    # ties so that pages neither repeat nor skip an episode (migration 0008).
    __table_args__ = (Index("ix_episodes_status_updated_id", "status", "updated_at", "id"),)
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    condition: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    diagnosed_at: Mapped[datetime | None]
    anticoagulation_planned_end: Mapped[date | None] = mapped_column(Date)
    record: Mapped[dict[str, Any]] = mapped_column(comment="The whole EpisodeIn document.")


class ProcedureRow(Versioned, Base):
    __tablename__ = "procedures"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    performed_at: Mapped[datetime]
    repeat_number: Mapped[int]
    report: Mapped[dict[str, Any]] = mapped_column(comment="The whole ProcedureIn document.")


class AssessmentRow(Base):
    """An evaluation as made: inputs, knowledge version and result. Never changed."""

    __tablename__ = "assessments"
    # The worklist reads each episode's newest assessment (migration 0008).
    __table_args__ = (Index("ix_assessments_episode_evaluated", "episode_id", "evaluated_at"),)
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[str | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    case: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]
    knowledge_version: Mapped[str] = mapped_column(String(64))
    evaluated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CheckInRow(Base):
    __tablename__ = "check_ins"
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure_id: Mapped[str] = mapped_column(ForeignKey("procedures.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(index=True)  # the worklist's newest first
    answers: Mapped[dict[str, Any]]
    advice: Mapped[str] = mapped_column(String(16))
    advice_text: Mapped[str] = mapped_column(Text)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"))
    urgent_task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    measure: Mapped[str] = mapped_column(String(32))
    assessed_at: Mapped[datetime]
    record: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class TaskRow(Versioned, Base):
    __tablename__ = "follow_up_tasks"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012
    __table_args__ = (Index("ix_follow_up_tasks_open_by_deadline", "status", "urgent", "due_by"),)
    id: Mapped[str] = _id()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    episode_id: Mapped[str | None] = mapped_column(ForeignKey("episodes.id"))
    procedure_id: Mapped[str | None] = mapped_column(ForeignKey("procedures.id"))
    protocol_id: Mapped[str | None] = mapped_column(String(64))
    protocol_version: Mapped[int | None]
    step_id: Mapped[str | None] = mapped_column(String(64))
    schedule_key: Mapped[str | None] = mapped_column(
        String(200), unique=True, comment="protocol:record:step:date; one task per occurrence."
    )
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    due_from: Mapped[date] = mapped_column(Date)
    due_by: Mapped[date] = mapped_column(Date)
    urgent: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    completed_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    """Append-only: database triggers refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class CdsFeedbackRow(Base):
    """CDS Hooks card feedback; the key makes a repeated post a no-op."""

    __tablename__ = "cds_feedback"
    service_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    card: Mapped[str] = mapped_column(String(100), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome_timestamp: Mapped[str] = mapped_column(String(64), primary_key=True)
    item: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class CdsIssuedCardRow(Base):
    """A card as a CDS service sent it, so that feedback naming the card is attributed to the
    rules it carries. Written once per call (one batch insert), never changed.

    `patient_ref` is a SHA-256 digest of the EHR's FHIR server and patient id, so cards of
    one patient can be grouped without this table holding the EHR's patient id in clear."""

    __tablename__ = "cds_issued_cards"
    uuid: Mapped[str] = mapped_column(String(128), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(100))
    rule_ids: Mapped[list[str]] = mapped_column(Document, comment="Rules behind the card.")
    actions: Mapped[list[str]] = mapped_column(Document, comment="Actions the card concerns.")
    knowledge_version: Mapped[str] = mapped_column(String(64))
    patient_ref: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]


class JwtReplayRow(Base):
    """JWT ids already seen, shared by every worker process, until their token expires."""

    __tablename__ = "jwt_replay"
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditEventRow(Base):
    """One FHIR R4 AuditEvent (IHE BALP), hash-chained to the one before it.

    Append-only: database triggers refuse UPDATE and DELETE. `seq` is assigned by the audit
    trail under a lock (1, 2, 3, ...); `hash` is SHA-256 over `prev_hash` and the event's
    canonical JSON, so an edited, deleted or reordered entry breaks the chain.
    The other columns repeat what the event says, for indexed look-ups; `audit verify`
    checks that they agree with the event. Ids are up to 64 characters (a FHIR id from an
    EHR, for evaluations of EHR data).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(2))
    actor: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class IdempotencyRow(Base):
    """A write made under an `Idempotency-Key`: stored with the write, in its transaction, so a
    retry returns the first response instead of writing again."""

    __tablename__ = "idempotency_keys"
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class AccountRow(Base):
    """A local account (the embedded default; hospitals sign in through OpenID Connect).

    `password_hash` is an argon2id PHC string. Failed sign-ins count up to a lock-out;
    `demo` accounts are refused outside development."""

    __tablename__ = "accounts"
    id: Mapped[str] = _id()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean)
    demo: Mapped[bool] = mapped_column(Boolean)
    failed_attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class AuthSessionRow(Base):
    """A signed-in browser session. The id is the SHA-256 of the cookie value, so a copy of
    the table cannot be replayed as cookies; the CSRF token is bound to the session."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    display: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    patient_id: Mapped[str | None] = mapped_column(
        String(64), comment="Set when the session is confined to one patient (SMART launch)."
    )
    granted: Mapped[str] = mapped_column(
        String(500), comment="Comma-separated permissions granted beyond the roles (scopes)."
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SmartLaunchRow(Base):
    """One SMART launch, from the redirect to the EHR until its access token expires.

    Browser secrets (the `state`, the cookie binding the state to the browser, the session
    cookie) are kept only as SHA-256 digests; the EHR's access token is kept here encrypted
    (AES-256-GCM, identity/token_cipher.py), on the server, and never sent to the browser."""

    __tablename__ = "smart_launches"
    state_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), comment="ehr or standalone")
    fhir_base: Mapped[str] = mapped_column(String(500))
    configuration: Mapped[dict[str, Any]] = mapped_column(comment="The EHR's SMART configuration.")
    redirect_uri: Mapped[str] = mapped_column(String(500))
    code_verifier: Mapped[str | None] = mapped_column(
        String(128), comment="PKCE verifier; cleared once the code is exchanged."
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    session_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    principal: Mapped[dict[str, Any] | None] = mapped_column(
        comment="subject, display, patient_id of the launch user."
    )


class CheckInLinkRow(Base):
    """A patient's private check-in link: only the SHA-256 of its token is kept, so the
    database never holds a usable link. Single-use and expiring."""

    __tablename__ = "check_in_links"
    id: Mapped[str] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure_id: Mapped[str] = mapped_column(ForeignKey("procedures.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    check_in_id: Mapped[str | None] = mapped_column(String(36))
