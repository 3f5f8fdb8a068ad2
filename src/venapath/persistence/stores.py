"""Small stores the CDS Hooks service needs, kept in the registry database so that every
worker process (and every restart) sees the same state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from venapath.persistence.database import Database
from venapath.persistence.tables import CdsFeedbackRow, JwtReplayRow


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

    def all_items(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(service id, outcome, item) of every stored feedback item, oldest first."""
        with self._database.session() as session:
            rows = session.scalars(select(CdsFeedbackRow).order_by(CdsFeedbackRow.received_at))
            return [(row.service_id, row.outcome, dict(row.item)) for row in rows]


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
