"""Writers of one SQLite file take turns (`WriterTurns`): one holds the write lock at a time,
threads of a process and other processes alike; a turn is given back however its
transaction ends; a writer that cannot get its turn gives up after the busy timeout with the
same 503 as before, instead of hanging."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import venapath.persistence.database as database_module
from venapath.persistence.database import Database, DatabaseUnavailableError, writer_turns
from venapath.persistence.migrate import ensure_current
from venapath.persistence.stores import DbReplayStore
from venapath.persistence.tables import JwtReplayRow


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.sqlite3"
    database = Database(f"sqlite:///{path}")
    ensure_current(database)
    database.dispose()
    return path


def _count(database: Database) -> int:
    with database.read() as connection:
        return int(connection.scalar(select(func.count()).select_from(JwtReplayRow)) or 0)


def test_threads_of_two_engines_write_one_at_a_time_and_every_write_lands(
    database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    turns = writer_turns(database_file)
    holders = 0
    most = 0
    guard = threading.Lock()
    take, give_back = turns.take, turns.give_back

    def counted_take() -> None:
        nonlocal holders, most
        take()
        with guard:
            holders += 1
            most = max(most, holders)

    def counted_give_back() -> None:
        nonlocal holders
        with guard:
            holders -= 1
        give_back()

    monkeypatch.setattr(turns, "take", counted_take)
    monkeypatch.setattr(turns, "give_back", counted_give_back)
    engines = [Database(f"sqlite:///{database_file}") for _ in range(2)]
    stores = [DbReplayStore(engine) for engine in engines]

    def write(store: DbReplayStore, thread: int) -> None:
        for index in range(40):
            assert store.remember("https://ehr.test", f"{thread}-{index}", time.time() + 300)

    threads = [threading.Thread(target=write, args=(stores[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(engines[0]) == 8 * 40
    assert most == 1
    assert holders == 0
    for engine in engines:
        engine.dispose()


def test_the_turn_is_given_back_when_a_transaction_fails(database_file: Path) -> None:
    database = Database(f"sqlite:///{database_file}")
    with pytest.raises(RuntimeError), database.session():
        raise RuntimeError("the change is refused half-way")
    started = time.monotonic()
    assert DbReplayStore(database).remember("https://ehr.test", "after", time.time() + 300)
    assert time.monotonic() - started < 1.0
    database.dispose()


def test_a_writer_of_this_process_waits_at_most_the_busy_timeout(
    database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.3)
    database = Database(f"sqlite:///{database_file}")
    holding = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with database.session() as session:
            session.execute(text("SELECT 1"))  # the transaction begins: the turn is taken
            holding.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError):
        DbReplayStore(database).remember("https://ehr.test", "blocked", time.time() + 300)
    waited = time.monotonic() - started
    done.set()
    holder.join()
    assert 0.25 < waited < 3
    assert DbReplayStore(database).remember("https://ehr.test", "later", time.time() + 300)
    database.dispose()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from venapath.persistence.database import Database
    database = Database(sys.argv[1])
    with database.session() as session:
        session.execute(text("SELECT 1"))
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_a_writer_waits_for_another_process_and_gives_up_after_the_busy_timeout(
    database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other process holds its turn (and SQLite's lock); this one waits, then answers
    "database is locked" (503) instead of hanging; once the other is done, it writes."""
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.5)
    url = f"sqlite:///{database_file}"
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "2.5"], stdout=subprocess.PIPE, text=True
    )
    database = Database(url)
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "holding"
        assert (database_file.parent / (database_file.name + "-writers")).exists()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            DbReplayStore(database).remember("https://ehr.test", "blocked", time.time() + 300)
        assert 0.4 < time.monotonic() - started < 2.0
    finally:
        other.wait(10)
        other.stdout.close()
    assert DbReplayStore(database).remember("https://ehr.test", "after", time.time() + 300)
    database.dispose()
