"""Crash safety of the real server: SIGKILL at random moments during a stream of writes.

Each write is a procedure report, which stores the procedure, its six duplex-surveillance
tasks and an audit entry in one transaction. After 50 kills and a restart, every write the
server acknowledged (201) is present, no transaction is half-present (a procedure always has
all six tasks and its audit entry, a task never exists without its procedure), and the
database passes its own integrity check.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from db_support import BACKENDS, fresh_url
from identity_support import bearer
from registry_checks import check_consistent, make_episode
from server_support import VENAPATH, free_port, identity_environment, wait_until_ready
from venapath.persistence import migrate
from venapath.persistence.database import Database

pytestmark = pytest.mark.slow
KILLS = 50


def _start(url: str, port: int, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "VENAPATH_ENV": "development",
        "VENAPATH_DATABASE_URL": url,
        "VENAPATH_LOG_LEVEL": "warning",
        **identity_environment(),
    }
    with log.open("a") as sink:
        return subprocess.Popen(
            [str(VENAPATH), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )


def _write_until_killed(
    base: str, episode_id: str, acknowledged: list[str], stop: threading.Event
) -> None:
    """Post procedure reports back to back; remember the ids the server confirmed."""
    performed = datetime.now(UTC) - timedelta(days=1)
    with httpx.Client(timeout=5, headers=bearer(lifetime=3600)) as client:
        while not stop.is_set():
            try:
                response = client.post(
                    f"{base}/api/v1/procedures",
                    json={
                        "episode_id": episode_id,
                        "kind": "venous_stent",
                        "performed_at": performed.isoformat(),
                    },
                )
            except httpx.HTTPError:
                return  # the server died mid-request: that write was never acknowledged
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_writes_survive_sigkill(backend: str, tmp_path: Path) -> None:
    chooser = random.Random(20261125)
    with fresh_url(backend, tmp_path) as url:
        database = Database(url)
        migrate.upgrade(database)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "server.log"
        acknowledged: list[str] = []
        episode_id: str | None = None
        try:
            for _ in range(KILLS):
                process = _start(url, port, log, tmp_path)
                wait_until_ready(base, process, log)
                episode_id = episode_id or make_episode(base)
                stop = threading.Event()
                writer = threading.Thread(
                    target=_write_until_killed, args=(base, episode_id, acknowledged, stop)
                )
                writer.start()
                time.sleep(chooser.uniform(0.02, 0.4))
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                stop.set()
                writer.join(timeout=10)
            process = _start(url, port, log, tmp_path)
            wait_until_ready(base, process, log)
            for procedure_id in chooser.sample(acknowledged, min(20, len(acknowledged))):
                assert (
                    httpx.get(
                        f"{base}/api/v1/procedures/{procedure_id}", headers=bearer()
                    ).status_code
                    == 200
                )
            process.terminate()
            process.wait(timeout=10)
            assert len(acknowledged) > KILLS, "the stream of writes hardly ran"
            check_consistent(database, acknowledged)
        finally:
            database.dispose()
