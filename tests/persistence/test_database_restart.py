"""PostgreSQL restarted under load: requests fail fast with 503 and Retry-After while it is
away, the service recovers by itself within seconds, and no write is half-done.

This restarts the machine's PostgreSQL cluster, so it runs only where the test database is
configured and `pg_ctlcluster` can restart it (CI: `.ci/run`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from db_support import PG_URL, fresh_url
from identity_support import bearer
from registry_checks import check_consistent, make_episode
from server_support import VENAPATH, free_port, identity_environment, wait_until_ready
from venapath.persistence import migrate
from venapath.persistence.database import Database

CLUSTER = (
    next(iter(sorted(os.listdir("/etc/postgresql"))), None)
    if os.path.isdir("/etc/postgresql")
    else None
)
CAN_RESTART = bool(PG_URL and CLUSTER and shutil.which("pg_ctlcluster") and os.geteuid() == 0)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CAN_RESTART,
        reason="needs VENAPATH_TEST_DATABASE_URL and a local cluster that pg_ctlcluster can restart",
    ),
]


def _cluster(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", str(CLUSTER), "main", action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_requests_fail_fast_and_recover_after_a_restart(tmp_path: Path) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        database = Database(url)
        migrate.upgrade(database)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "server.log"
        environment = {
            **os.environ,
            "VENAPATH_ENV": "development",
            "VENAPATH_DATABASE_URL": url,
            **identity_environment(),
        }
        with log.open("w") as sink:
            process = subprocess.Popen(
                [str(VENAPATH), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=environment,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        outcomes: list[tuple[float, int, float, str | None]] = []
        acknowledged: list[str] = []
        stop = threading.Event()
        try:
            wait_until_ready(base, process, log)
            episode_id = make_episode(base)
            writer = threading.Thread(
                target=_stream, args=(base, episode_id, outcomes, acknowledged, stop)
            )
            writer.start()
            time.sleep(1.0)
            down_at = time.monotonic()
            _cluster("stop")
            time.sleep(3.0)
            _cluster("start")
            up_at = time.monotonic()
            time.sleep(8.0)
            stop.set()
            writer.join(timeout=30)
        finally:
            if (
                subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.find(
                    "online"
                )
                < 0
            ):
                _cluster("start")
            process.terminate()
            process.wait(timeout=10)

        unavailable = [o for o in outcomes if o[1] == 503]
        assert unavailable, "no request met the database while it was down"
        assert all(o[3] for o in unavailable), "every 503 carries Retry-After"
        assert max(o[2] for o in unavailable) < 5.0, "503s come fast, not after long waits"
        assert {o[1] for o in outcomes} <= {201, 503}, f"unexpected statuses: {outcomes[:5]}"
        recovered = [o for o in outcomes if o[1] == 201 and o[0] > up_at]
        assert recovered, "the service did not recover after the database came back"
        assert recovered[0][0] - up_at < 5.0, "recovery took more than a few seconds"
        assert any(o[0] < down_at and o[1] == 201 for o in outcomes)
        check_consistent(database, acknowledged)
        database.dispose()
        print(
            f"restart: {len(outcomes)} requests, {len(unavailable)} answered 503 "
            f"(slowest {max(o[2] for o in unavailable) * 1000:.0f} ms), first 201 "
            f"{recovered[0][0] - up_at:.2f} s after the database was back"
        )


def _stream(
    base: str,
    episode_id: str,
    outcomes: list[tuple[float, int, float, str | None]],
    acknowledged: list[str],
    stop: threading.Event,
) -> None:
    performed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"episode_id": episode_id, "kind": "venous_stent", "performed_at": performed}
    with httpx.Client(timeout=10, headers=bearer(lifetime=3600)) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = client.post(f"{base}/api/v1/procedures", json=body)
            elapsed = time.monotonic() - started
            outcomes.append(
                (started, response.status_code, elapsed, response.headers.get("retry-after"))
            )
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
            time.sleep(0.02)
