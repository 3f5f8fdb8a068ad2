"""The screen on a real Spark standalone cluster: a master and two workers on loopback.

Started with the `spark-class` script that ships with PySpark (no home-made distribution),
every process and web UI bound to 127.0.0.1 through SPARK_LOCAL_IP, on free ports
(`venapath.screen.spark_cluster`). The screen runs as `venapath screen --engine spark
--spark-master spark://127.0.0.1:PORT` in its own process (the driver) and must write the same
rows as DuckDB. Teardown must leave no Java process behind, also when the test fails.

Time on the 2-core development machine is mostly the driver planning the large rules query,
not the cohort; a few hundred patients keep the executors' share small.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from venapath.screen.spark_cluster import ClusterTuning, LoopbackSparkCluster
from venapath.synth import DEFAULT_AS_OF, write_cohort

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

VENAPATH = Path(sys.executable).with_name("venapath")
PATIENTS = 300
DRIVER_TIMEOUT_SECONDS = 1800  # a loaded 2-core machine has taken 6 minutes for 40 patients

TUNING = ClusterTuning(
    workers=2,
    cores_per_worker=1,
    worker_memory="1536m",
    executor_memory="1g",
    driver_memory="2g",
    shuffle_partitions=4,
    # Adaptive execution re-plans the remaining query after every stage; for the screen's
    # large rules plan that costs more than it saves on small cohorts.
    extra_conf={"spark.sql.adaptive.enabled": "false"},
)


def _needs_java() -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime on PATH")


def _processes_in_groups(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of `groups` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group in groups and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_failing_run_leaves_no_spark_process(tmp_path: Path) -> None:
    _needs_java()
    cluster = LoopbackSparkCluster(tmp_path, ClusterTuning(workers=1))
    groups: set[int] = set()

    def fail_inside_the_cluster() -> None:
        nonlocal groups
        with cluster:
            groups = set(cluster.pids())
            assert len(groups) == 2  # the master and one worker
            assert _processes_in_groups(groups)
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        fail_inside_the_cluster()
    assert groups
    assert _processes_in_groups(groups) == []


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSparkCluster]:
    _needs_java()
    cluster = LoopbackSparkCluster(tmp_path_factory.mktemp("spark"), TUNING)
    try:
        cluster.start()
        groups = set(cluster.pids())
        yield cluster
    finally:
        cluster.stop()
    assert _processes_in_groups(groups) == [], f"left running; logs in {cluster.log_dir}"


def _run_driver(command: list[str], env: dict[str, str], log: Path) -> None:
    """Run a driver in its own process group; on a timeout or an error end the whole group
    (the Python process and the JVM it started) and show the end of its log."""
    with log.open("wb") as output:
        driver = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = driver.wait(timeout=DRIVER_TIMEOUT_SECONDS)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    if returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        pytest.fail(f"{' '.join(command[:3])} ... exited with {returncode}:\n{tail}")


def _rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(
        f"SELECT * EXCLUDE (knowledge_version) FROM read_parquet('{path}') ORDER BY patient_id"
    ).fetchall()


def test_the_screen_on_a_spark_cluster_equals_duckdb(
    spark_cluster: LoopbackSparkCluster, tmp_path: Path
) -> None:
    cohort = tmp_path / "cohort"
    write_cohort(cohort, PATIENTS, seed=5, as_of=DEFAULT_AS_OF)
    env, master = spark_cluster.driver_env(), spark_cluster.master_url
    spark_out, duck_out = tmp_path / "spark", tmp_path / "duckdb"
    command = [str(VENAPATH), "screen", str(cohort), "--quiet", "--format", "json"]
    _run_driver(
        [*command, "--out", str(spark_out), "--engine", "spark", "--spark-master", master],
        env,
        tmp_path / "spark-driver.log",
    )
    _run_driver([*command, "--out", str(duck_out)], env, tmp_path / "duckdb.log")
    spark_rows = _rows(spark_out / "patients.parquet")
    assert len(spark_rows) == PATIENTS
    assert spark_rows == _rows(duck_out / "patients.parquet")
    # The work ran on the cluster's executors, not in a local Spark inside the driver.
    assert json.loads((spark_out / "summary.json").read_text())["run"]["spark_master"] == master
    executor_logs = list(spark_cluster.work_dir.glob("worker-*/app-*/*/stderr"))
    assert len(executor_logs) == TUNING.workers
    assert all("Finished task" in log.read_text() for log in executor_logs)
