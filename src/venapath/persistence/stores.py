"""Small stores the CDS Hooks service needs, kept in the registry database so that every
worker process (and every restart) sees the same state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from venapath.persistence.database import Database
from venapath.persistence.tables import CdsFeedbackRow, CdsIssuedCardRow, JwtReplayRow


class DbFeedbackStore:
    """Card feedback, stored once however often the EHR repeats it (the key decides)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record_item(self, key: tuple[str, str, str, str], item: dict[str, Any]) -> bool:
        service_id, card, outcome, outcome_timestamp = key
        try:
            with self._database.session() as session:
                session.add(
                    CdsFeedbackRow(
                        service_id=service_id,
                        card=card,
                        outcome=outcome,
                        outcome_timestamp=outcome_timestamp,
                        item=item,
                        received_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return False
        return True

    def all_items(self) -> list[AttributedItem]:
        """Every stored feedback item, oldest first, with the card it names when that card
        was issued by the same service (None for feedback on a card no longer known)."""
        feedback, issued = CdsFeedbackRow, CdsIssuedCardRow
        statement = (
            select(
                feedback.service_id,
                feedback.outcome,
                feedback.item,
                issued.rule_ids,
                issued.actions,
                issued.knowledge_version,
            )
            .outerjoin(
                issued, and_(issued.uuid == feedback.card, issued.service_id == feedback.service_id)
            )
            .order_by(feedback.received_at)
        )
        with self._database.session() as session:
            return [
                AttributedItem(
                    row.service_id,
                    row.outcome,
                    dict(row.item),
                    None
                    if row.knowledge_version is None
                    else IssuedCardFacts(
                        tuple(row.rule_ids), tuple(row.actions), row.knowledge_version
                    ),
                )
                for row in session.execute(statement)
            ]


@dataclass(frozen=True)
class IssuedCardFacts:
    """What an issued card carried: the rules behind it, its actions, its knowledge version."""

    rule_ids: tuple[str, ...]
    actions: tuple[str, ...]
    knowledge_version: str


@dataclass(frozen=True)
class AttributedItem:
    service_id: str
    outcome: str
    item: dict[str, Any]
    card: IssuedCardFacts | None


class DbIssuedCardStore:
    """Cards as the CDS services sent them. A call's cards are written by one INSERT of a
    batch (a Core statement, no ORM unit of work): it runs on every CDS call."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._statement = insert(CdsIssuedCardRow)

    def add(self, rows: list[dict[str, Any]], connection: Connection | None = None) -> None:
        """Store the cards of one call; each row holds every column of `cds_issued_cards`.
        Inside `connection`'s transaction (the caller's, on this store's database) when
        given, else in a transaction of its own."""
        if not rows:
            return
        if connection is not None:
            connection.execute(self._statement, rows)
            return
        with self._database.transaction() as own:
            own.execute(self._statement, rows)

    def issued_by(self, service_id: str, uuids: set[str]) -> set[str]:
        """Those of `uuids` that `service_id` issued."""
        if not uuids:
            return set()
        statement = select(CdsIssuedCardRow.uuid).where(
            CdsIssuedCardRow.service_id == service_id, CdsIssuedCardRow.uuid.in_(uuids)
        )
        with self._database.transaction() as connection:
            return set(connection.scalars(statement))


class DbReplayStore:
    """JWT ids seen by any worker; an id is refused again until its token expires.

    One Core statement per token, `INSERT ... ON CONFLICT (jti) DO UPDATE ... WHERE the stored
    id has expired`: it inserts a new id, takes over an expired one, and changes nothing for a
    live one, atomically, so whether it returns the row is the answer. It runs on every CDS call,
    where the ORM session it replaces cost several times the commit itself.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._inserts = 0
        self._statement = _remember_statement(database.dialect)

    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = datetime.now(UTC)
        values = {
            "key": f"{issuer}\x1f{jti}"[:256],
            "expires": datetime.fromtimestamp(expires_at, UTC),
            "now": now,
        }
        self._inserts += 1
        try:
            with self._database.transaction() as connection:
                if self._inserts % 1000 == 0:
                    connection.execute(delete(JwtReplayRow).where(JwtReplayRow.expires_at < now))
                return connection.execute(self._statement, values).first() is not None
        except IntegrityError:
            return False  # cannot happen with ON CONFLICT; refused rather than let through


def _remember_statement(dialect: str) -> Any:
    """The upsert, built once with bound parameters `key`, `expires` and `now`."""
    table = JwtReplayRow.__table__
    expires_type = table.c.expires_at.type
    insert = _insert_for(dialect)(table).values(
        jti=bindparam("key"), expires_at=bindparam("expires", type_=expires_type)
    )
    return insert.on_conflict_do_update(
        index_elements=[table.c.jti],
        set_={"expires_at": insert.excluded.expires_at},
        where=table.c.expires_at <= bindparam("now", type_=expires_type),
    ).returning(table.c.jti)


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT construct that has `on_conflict_do_update` (SQLite, PostgreSQL)."""
    if dialect == "postgresql":
        return postgresql_insert
    return sqlite_insert
