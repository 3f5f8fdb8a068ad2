"""Storage of the registry: SQLAlchemy 2 tables, the database handle and Alembic migrations.

Migrations are the source of truth for the schema; `tables.py` must match them, which
`venapath db check` (and the test suite) verifies on SQLite and PostgreSQL alike.
"""
