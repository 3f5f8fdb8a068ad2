"""A Spark standalone cluster on loopback: one master and N workers, for tests and benchmarks.

Why it exists: the screen's `--spark-master spark://...` path must be exercised against real
standalone daemons (scheduling, executors in their own JVMs and Python workers, shuffles over
the network), not only Spark's local mode. The daemons are started with `bin/spark-class`
from the installed PySpark package, so they are the very Spark the driver runs: no separate
distribution to download or keep in step.

What it guarantees:
- every process (master, workers, executors, the driver started with `driver_env()`) binds to
  127.0.0.1 through SPARK_LOCAL_IP; web UIs too;
- configuration goes through SPARK_CONF_DIR/spark-defaults.conf, which the daemons and a
  PySpark driver (launched through spark-submit) both read, so the screen's own code needs
  no test-only switches;
- `start()` returns only once the master reports every worker ALIVE (read from its JSON
  status page), so a job never waits for executors that are not there;
- `stop()` ends every JVM it started, executors included: each daemon leads its own process
  group (executors are forked by their worker into that group), and the whole group gets
  SIGTERM and then SIGKILL. Daemons also get SIGTERM if the starting process dies without
  calling `stop()` (Linux parent-death signal), so a killed test run leaves no Java behind.

Sizes are kept small on purpose (1 core and about 1 GB per executor): the development machine
has 2 cores shared by several people.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["ClusterStartError", "ClusterTuning", "LoopbackSparkCluster"]

LOOPBACK = "127.0.0.1"
_STOP_GRACE_SECONDS = 20.0


class ClusterStartError(RuntimeError):
    """The cluster did not come up; the message names the process and its log file."""


@dataclass(frozen=True)
class ClusterTuning:
    """Sizes for a small cluster on a small machine (each field is a Spark setting)."""

    workers: int = 2
    cores_per_worker: int = 1
    worker_memory: str = "1536m"
    executor_memory: str = "1g"
    driver_memory: str = "2g"
    shuffle_partitions: int = 4
    extra_conf: Mapping[str, str] = field(default_factory=dict)

    def spark_defaults(self, local_dir: Path) -> dict[str, str]:
        """spark-defaults.conf entries: what the driver asks of the cluster."""
        total_cores = self.workers * self.cores_per_worker
        return {
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.driver.memory": self.driver_memory,
            "spark.executor.memory": self.executor_memory,
            "spark.executor.cores": str(self.cores_per_worker),
            "spark.cores.max": str(total_cores),
            # The default of 200 shuffle partitions makes thousands of tiny tasks per query
            # on a cohort of a few hundred patients; a few per core is enough here.
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.default.parallelism": str(total_cores),
            "spark.local.dir": str(local_dir),
            "spark.ui.showConsoleProgress": "false",
            # The driver and the executors must run the same Python with venapath installed.
            "spark.pyspark.python": sys.executable,
            **self.extra_conf,
        }


class LoopbackSparkCluster:
    """`with LoopbackSparkCluster(work_dir) as cluster:` gives `cluster.master_url`.

    `work_dir` receives conf/, logs/ (one file per daemon), worker-N/ (each executor's
    stdout and stderr under app-*/N/) and local/ (shuffle and spill files).
    """

    def __init__(
        self,
        work_dir: Path,
        tuning: ClusterTuning | None = None,
        *,
        start_timeout: float = 180.0,
    ) -> None:
        self.work_dir = work_dir
        self.tuning = tuning or ClusterTuning()
        self.start_timeout = start_timeout
        self.master_port = _free_port()
        self.master_ui_port = _free_port()
        self.master_url = f"spark://{LOOPBACK}:{self.master_port}"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    # ------------------------------------------------------------------ environment

    @property
    def spark_home(self) -> Path:
        import pyspark

        return Path(pyspark.__file__).parent

    @property
    def conf_dir(self) -> Path:
        return self.work_dir / "conf"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    def driver_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a driver process (`venapath screen --spark-master ...`)."""
        return {
            **(os.environ if base is None else base),
            "SPARK_HOME": str(self.spark_home),
            "SPARK_CONF_DIR": str(self.conf_dir),
            "SPARK_LOCAL_IP": LOOPBACK,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }

    def _write_conf(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        local_dir = self.work_dir / "local"
        local_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key} {value}" for key, value in self.tuning.spark_defaults(local_dir).items()]
        (self.conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LoopbackSparkCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the master, then the workers; return once all workers are registered."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._write_conf()
        try:
            master = self._spawn(
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(self.master_port),
                    "--webui-port",
                    str(self.master_ui_port),
                ],
            )
            self._wait(lambda: self._master_status() is not None, master, "master")
            for number in range(self.tuning.workers):
                self._spawn(f"worker-{number}", self._worker_arguments(number))
            self._wait(self._all_workers_alive, None, "workers")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """End every process group started here: SIGTERM, a grace period, then SIGKILL."""
        for process in reversed(self._processes):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for process in self._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self._processes:
            # Also reaches executors the worker forked and did not end itself.
            _signal_group(process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def pids(self) -> list[int]:
        """Process ids of the master and the workers (executors are their children)."""
        return [process.pid for process in self._processes]

    def _worker_arguments(self, number: int) -> list[str]:
        work = self.work_dir / f"worker-{number}"
        work.mkdir(parents=True, exist_ok=True)
        return [
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--webui-port",
            "0",
            "--cores",
            str(self.tuning.cores_per_worker),
            "--memory",
            self.tuning.worker_memory,
            "--work-dir",
            str(work),
            self.master_url,
        ]

    def _spawn(self, name: str, arguments: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        self._logs.append(log)
        env = {
            **self.driver_env(),
            "SPARK_LOG_DIR": str(self.log_dir),
            "SPARK_WORKER_DIR": str(self.work_dir),
        }
        process = subprocess.Popen(
            [str(self.spark_home / "bin" / "spark-class"), *arguments],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._processes.append(process)
        return process

    # ------------------------------------------------------------------ readiness

    def _master_status(self) -> dict[str, Any] | None:
        """The master's JSON status page, or None while it does not answer."""
        url = f"http://{LOOPBACK}:{self.master_ui_port}/json/"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status: dict[str, Any] = json.load(response)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        if status.get("url") != self.master_url:
            # Another program held the port and Spark moved to the next one.
            raise ClusterStartError(
                f"master answered as {status.get('url')!r}, expected {self.master_url}; "
                f"see {self.log_dir / 'master.log'}"
            )
        return status

    def _all_workers_alive(self) -> bool:
        status = self._master_status()
        alive = 0 if status is None else int(status.get("aliveworkers", 0))
        return alive >= self.tuning.workers

    def _wait(
        self, ready: Callable[[], bool], process: subprocess.Popen[bytes] | None, what: str
    ) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for started in self._processes if process is None else [process]:
                if started.poll() is not None:
                    raise ClusterStartError(
                        f"a Spark {what} process exited with {started.returncode}; "
                        f"see the logs in {self.log_dir}"
                    )
            if ready():
                return
            time.sleep(0.5)
        raise ClusterStartError(
            f"Spark {what} not ready after {self.start_timeout:.0f} s; see the logs in "
            f"{self.log_dir}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the starting process dies (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
