"""The database handle: one engine and session factory per process, set up for safety.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, foreign keys on and
a busy timeout, so an acknowledged write survives a killed process and readers never block
the writer. PostgreSQL connections are checked before use and time out quickly, so that a
database restart turns into fast 503 answers instead of hung requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from venapath.errors import UnavailableError


class DatabaseUnavailableError(UnavailableError):
    """The database cannot be reached right now; the caller may retry shortly.

    The message is the same for everyone (it reaches HTTP clients); `reason`, the driver's
    first line (host and port, never a password), is for the operator at the command line."""

    def __init__(self, reason: str) -> None:
        super().__init__("the registry database cannot be reached; retry shortly")
        self.reason = reason


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


READ_ONLY_OPTION = "venapath_read_only"


def _sqlite_begin(connection: Connection) -> None:
    """pysqlite's own transaction handling defers BEGIN; a writer takes the write lock at once,
    so two writers queue on busy_timeout instead of failing on upgrade. A read-only
    transaction (`Database.read`) takes no lock: in WAL mode it reads a snapshot beside the
    writer, so a hot read (the session check of every request) never queues behind a write."""
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """An engine and its sessions. `session()` commits on success and rolls back on error."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 10},
                hide_parameters=True,
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            event.listen(
                self.engine,
                "connect",
                lambda dbapi_connection, _record: setattr(
                    dbapi_connection, "isolation_level", None
                ),
            )
        else:
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                pool_timeout=3,
                connect_args={"connect_timeout": 3},
                # Bound values are patient data: never in an exception's text, hence never logged.
                hide_parameters=True,
            )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as error:
            if _is_connection_failure(error):
                raise DatabaseUnavailableError(str(error.orig).strip().splitlines()[0]) from error
            raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot single-statement writes that need no
        ORM session (its unit of work costs more than the statement). Errors as `session()`."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except OperationalError as error:
            if _is_connection_failure(error):
                raise DatabaseUnavailableError(str(error.orig).strip().splitlines()[0]) from error
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A Core connection in one read-only transaction, for hot reads that need no ORM
        session and no write lock (on SQLite, a deferred BEGIN). Errors as `session()`.
        A write through it fails on SQLite as soon as another writer holds the lock."""
        try:
            with self.engine.connect() as plain:
                connection = plain.execution_options(**{READ_ONLY_OPTION: True})
                with connection.begin():
                    yield connection
        except OperationalError as error:
            if _is_connection_failure(error):
                raise DatabaseUnavailableError(str(error.orig).strip().splitlines()[0]) from error
            raise

    @contextmanager
    def connect(self, *, begin: bool = False) -> Iterator[Connection]:
        """A plain connection (in a transaction with `begin`), for schema work; a refused or
        lost connection raises DatabaseUnavailableError like `session()` does."""
        try:
            with self.engine.begin() if begin else self.engine.connect() as connection:
                yield connection
        except OperationalError as error:
            if _is_connection_failure(error):
                raise DatabaseUnavailableError(str(error.orig).strip().splitlines()[0]) from error
            raise

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except DBAPIError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_failure(error: OperationalError) -> bool:
    """A lost or refused connection, not a constraint or syntax problem."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    markers = (
        "connection",
        "server closed",
        "terminating",
        "could not connect",
        "shutting down",
        "database is locked",
        "the database system is",
    )
    return any(marker in text for marker in markers)
