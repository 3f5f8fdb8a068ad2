"""Alembic environment: runs on the connection the caller hands over (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from venapath.persistence.tables import Base

config = context.config
connection = config.attributes.get("connection")


def _run(bound: Connection) -> None:
    context.configure(
        connection=bound,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as fresh:
        _run(fresh)
        fresh.commit()
