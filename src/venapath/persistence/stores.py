"""Small stores the CDS Hooks service needs, kept in the registry database so that every
worker process (and every restart) sees the same state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
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
    """JWT ids seen by any worker; an id is refused again until its token expires."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._inserts = 0

    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = datetime.now(UTC)
        key = f"{issuer}\x1f{jti}"[:256]
        self._inserts += 1
        try:
            with self._database.session() as session:
                if self._inserts % 1000 == 0:
                    session.execute(delete(JwtReplayRow).where(JwtReplayRow.expires_at < now))
                existing = session.get(JwtReplayRow, key)
                if existing is not None:
                    if existing.expires_at > now:
                        return False
                    session.delete(existing)
                    session.flush()
                session.add(
                    JwtReplayRow(jti=key, expires_at=datetime.fromtimestamp(expires_at, UTC))
                )
        except IntegrityError:
            return False  # another worker stored the same id at the same moment
        return True
