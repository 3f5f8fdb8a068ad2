"""The database handle: one engine and session factory per process, set up for safety.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, foreign keys on and
a busy timeout, so an acknowledged write survives a killed process and readers never block
the writer. Its writers take turns (`WriterTurns`) before they ask SQLite for the write
lock. PostgreSQL connections are checked before use and time out quickly, so that a
database restart turns into fast 503 answers instead of hung requests.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
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


BUSY_TIMEOUT_SECONDS = 10.0
"""How long a writer waits for its turn, then for SQLite's write lock, before it gives up."""
TURN_POLL_SECONDS = 0.0002
"""How often a process whose turn it is re-tries the lock another process holds."""

try:
    import fcntl
except ImportError:  # not POSIX: writers of other processes queue in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]


class WriterTurns:
    """Writers of one SQLite file take turns here before they ask SQLite for its write lock.

    Why: a writer that finds the lock held waits in SQLite's busy handler, which sleeps in
    growing steps (1, 2, 5, 10, 15, 20, 25, 50, 100 ms) without learning when the lock is
    released. Every CDS call writes twice, so at 100 calls a second a sleeping writer keeps
    losing the lock to writers that arrive while it sleeps, and waits tens or hundreds of
    milliseconds for a lock that is held about a millisecond at a time (docs/performance.md).
    Here the threads of a process queue on a lock that wakes the next one as soon as it is
    released; across processes (uvicorn workers, the command line), the one thread whose turn
    it is in each process tries an flock() of a file beside the database every 0.2 ms.

    SQLite's own lock still decides who writes: the turns only order the waiting, and a
    writer that does not take turns (another program) is waited for in SQLite's busy handler
    as before. A writer still gives up after BUSY_TIMEOUT_SECONDS ("database is locked",
    which the service answers with 503), as SQLite's busy timeout did.
    """

    def __init__(self, database_file: Path) -> None:
        self.path = database_file.with_name(database_file.name + "-writers")
        self._threads = threading.Lock()
        self._file: int | None = None
        self._file_pid = 0

    def take(self) -> None:
        """Wait for this thread's turn; raise sqlite3.OperationalError after the timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        if not self._threads.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            self._take_file(deadline)
        except BaseException:
            self._threads.release()
            raise

    def give_back(self) -> None:
        try:
            if fcntl is not None and self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _take_file(self, deadline: float) -> None:
        if fcntl is None:
            return
        descriptor = self._descriptor()
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(TURN_POLL_SECONDS)

    def _descriptor(self) -> int:
        """This process's own open file (a forked child must not share its parent's lock)."""
        if self._file is None or self._file_pid != os.getpid():
            self._file = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._file_pid = os.getpid()
        return self._file


_TURNS: dict[Path, WriterTurns] = {}
_TURNS_LOCK = threading.Lock()


def writer_turns(database_file: Path) -> WriterTurns:
    """The one `WriterTurns` of this process for a database file (engines of the same file
    share it, so their threads queue together)."""
    key = database_file.resolve()
    with _TURNS_LOCK:
        turns = _TURNS.get(key)
        if turns is None:
            turns = _TURNS[key] = WriterTurns(key)
        return turns


class TurnTakingConnection(sqlite3.Connection):
    """A SQLite connection that gives its writer's turn back as soon as its transaction ends
    (commit, rollback or close), after SQLite released the write lock."""

    turns: WriterTurns | None = None
    holding = False

    def take_turn(self) -> None:
        if self.turns is not None and not self.holding:
            self.turns.take()
            self.holding = True

    def turn_over(self) -> None:
        if self.holding and not self.in_transaction and self.turns is not None:
            self.holding = False
            self.turns.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.turn_over()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.turn_over()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holding and self.turns is not None:
                self.holding = False
                self.turns.give_back()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


READ_ONLY_OPTION = "venapath_read_only"


def _sqlite_begin(connection: Connection) -> None:
    """pysqlite's own transaction handling defers BEGIN; a writer takes its turn, then the write
    lock at once, so two writers queue instead of failing on upgrade. A read-only
    transaction (`Database.read`) takes no lock: in WAL mode it reads a snapshot beside the
    writer, so a hot read (the session check of every request) never queues behind a write."""
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    if read_only:
        connection.exec_driver_sql("BEGIN")
        return
    dbapi_connection = connection.connection.dbapi_connection
    if not isinstance(dbapi_connection, TurnTakingConnection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    try:
        dbapi_connection.take_turn()
    except sqlite3.OperationalError as error:
        raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from None
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.turn_over()
        raise


class Database:
    """An engine and its sessions. `session()` commits on success and rolls back on error."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            turns = None
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                turns = writer_turns(Path(parsed.database))
            self.engine: Engine = create_engine(
                url,
                connect_args={
                    "check_same_thread": False,
                    "timeout": BUSY_TIMEOUT_SECONDS,
                    "factory": TurnTakingConnection,
                },
                hide_parameters=True,
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if turns is not None:
                event.listen(
                    self.engine,
                    "connect",
                    lambda dbapi_connection, _record: setattr(dbapi_connection, "turns", turns),
                )
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
