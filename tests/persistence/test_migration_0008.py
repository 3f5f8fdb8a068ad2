"""Migration 0008: the issued CDS cards table and the worklist's indexes come and go with it;
the data of the tables it leaves alone stays (SQLite)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from venapath.persistence import migrate
from venapath.persistence.database import Database


def _indexes(database: Database, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(database.engine).get_indexes(table)}


def test_0008_upgrades_and_downgrades_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    try:
        migrate.upgrade(database, "0007")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO patients (id, pseudonym, version, created_at, updated_at) "
                    "VALUES ('p1', 'KEPT-1', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        assert "cds_issued_cards" not in inspect(database.engine).get_table_names()

        migrate.upgrade(database, "0008")
        assert migrate.current(database) == "0008"
        migrate.check(database)
        assert "ix_assessments_episode_evaluated" in _indexes(database, "assessments")
        assert "ix_check_ins_submitted_at" in _indexes(database, "check_ins")
        assert "ix_episodes_status_updated_id" in _indexes(database, "episodes")
        assert "ix_episodes_status_updated" not in _indexes(database, "episodes")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO cds_issued_cards (uuid, service_id, rule_ids, actions, "
                    "knowledge_version, patient_ref, issued_at) VALUES ('c1', 'svc', "
                    "'[\"R-1\"]', '[\"anticoagulation\"]', '0.5.0', 'digest', CURRENT_TIMESTAMP)"
                )
            )

        migrate.downgrade(database, "0007")
        assert migrate.current(database) == "0007"
        assert "cds_issued_cards" not in inspect(database.engine).get_table_names()
        assert "ix_assessments_episode_evaluated" not in _indexes(database, "assessments")
        assert "ix_check_ins_submitted_at" not in _indexes(database, "check_ins")
        assert "ix_episodes_status_updated" in _indexes(database, "episodes")

        migrate.upgrade(database)
        migrate.check(database)
        with database.engine.connect() as connection:
            kept = connection.execute(text("SELECT pseudonym FROM patients")).scalar_one()
            cards = connection.execute(text("SELECT count(*) FROM cds_issued_cards")).scalar_one()
        assert (kept, cards) == ("KEPT-1", 0)
    finally:
        database.dispose()
