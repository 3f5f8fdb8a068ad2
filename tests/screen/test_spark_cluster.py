"""The screen on a real Spark standalone cluster: a master and two workers on loopback.

Started with the `spark-class` script that ships with PySpark (no home-made distribution),
every process and web UI bound to 127.0.0.1 through SPARK_LOCAL_IP, on free ports. The
screen runs as `venapath screen --engine spark --spark-master spark://127.0.0.1:PORT` in its
own process (the driver) and must write the same rows as DuckDB.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from venapath.synth import DEFAULT_AS_OF, write_cohort

# Not in `make test`: run with `make test-cluster` (it starts a standalone Spark master and two
# workers; it has not yet been seen to pass on the 2-core development machine in time).
pytestmark = [pytest.mark.slow, pytest.mark.cluster]

VENAPATH = Path(sys.executable).with_name("venapath")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Spark process exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def _spark_env(work: Path) -> dict[str, str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    return {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_WORKER_DIR": str(work / "worker"),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime on PATH")
    work = tmp_path_factory.mktemp("spark")
    env = _spark_env(work)
    spark_class = str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")
    port = _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    log = (work / "cluster.log").open("wb")
    try:
        master = subprocess.Popen(
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(_free_port()),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(master)
        _wait_for_port(port, master, 120)
        for n in range(2):
            worker = subprocess.Popen(
                [
                    spark_class,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--webui-port",
                    str(_free_port()),
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--work-dir",
                    str(work / f"worker{n}"),
                    master_url,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            processes.append(worker)
        time.sleep(5)  # workers register with the master
        yield master_url
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(
        f"SELECT * EXCLUDE (knowledge_version) FROM read_parquet('{path}') ORDER BY patient_id"
    ).fetchall()


def test_the_screen_on_a_spark_cluster_equals_duckdb(spark_cluster: str, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    write_cohort(cohort, 40, seed=5, as_of=DEFAULT_AS_OF)
    env = _spark_env(tmp_path)
    spark_out, duck_out = tmp_path / "spark", tmp_path / "duckdb"
    command = [str(VENAPATH), "screen", str(cohort), "--quiet", "--format", "json"]
    subprocess.run(
        [*command, "--out", str(spark_out), "--engine", "spark", "--spark-master", spark_cluster],
        env=env,
        check=True,
        capture_output=True,
        timeout=3600,  # Spark plans the large rules query slowly on a loaded machine
    )
    subprocess.run([*command, "--out", str(duck_out)], env=env, check=True, capture_output=True)
    spark_rows = _rows(spark_out / "patients.parquet")
    assert len(spark_rows) == 40
    assert spark_rows == _rows(duck_out / "patients.parquet")
