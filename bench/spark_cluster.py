"""Benchmark: `venapath screen` on a Spark standalone cluster on loopback, against DuckDB.

    .venv/bin/python bench/spark_cluster.py [--patients 100000] [--cohort DIR] [--work DIR]
                                            [--workers 2] [--executor-memory 1g]
                                            [--driver-memory 2g] [--shuffle-partitions 4]
                                            [--conf KEY=VALUE ...] [--keep]

Starts a master and `--workers` workers (1 core each) from the installed PySpark
(`venapath.screen.spark_cluster`), generates a cohort with `venapath synth` (seed 1) unless
`--cohort` names one, then runs in fresh processes:
- `venapath screen --engine spark --spark-master spark://127.0.0.1:PORT` (the driver);
- `venapath screen --engine duckdb` on the same files;
and prints for each: wall time, the peak resident memory of the driver's process tree (its
JVM included), GNU `time -v`'s maximum resident set size and, for Spark, the peak of the
cluster's daemons and executors together, sampled every 50 ms from /proc; then whether both
wrote the same rows (knowledge_version aside). Each screen compiles its rules query once (fresh output folder). Figures only;
nothing here is a test. Run it on an otherwise quiet machine and quote `uptime` beside it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screen import _tree_rss
from venapath.screen.spark_cluster import ClusterTuning, LoopbackSparkCluster

VENAPATH = Path(sys.executable).with_name("venapath")


def _measure(
    command: list[str], env: dict[str, str], cluster_pids: list[int], work: Path
) -> dict[str, float]:
    """Wall seconds; peak resident bytes of the command's tree and of the cluster's (sampled),
    and GNU time's maximum resident set size (`time -v`). For Spark the latter is the Python
    driver alone: GNU time counts the processes that are waited for, and PySpark does not
    wait for its JVM; the sampled tree includes that JVM."""
    report = work / f"time-{time.monotonic_ns()}.txt"
    started = time.perf_counter()
    process = subprocess.Popen(
        ["/usr/bin/time", "-v", "-o", str(report), *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peaks = {"driver": 0, "cluster": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks["driver"] = max(peaks["driver"], _tree_rss(process.pid))
            cluster = sum(_tree_rss(pid) for pid in cluster_pids)
            peaks["cluster"] = max(peaks["cluster"], cluster)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    largest = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
    return {
        "seconds": elapsed,
        "driver_rss": peaks["driver"],
        "cluster_rss": peaks["cluster"],
        "time_v_max_rss": int(largest.group(1)) * 1024 if largest else 0,
    }


def _rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(
        f"SELECT * EXCLUDE (knowledge_version) FROM read_parquet('{path}') ORDER BY patient_id"
    ).fetchall()


def _cohort(args: argparse.Namespace, work: Path) -> Path:
    if args.cohort is not None:
        cohort: Path = args.cohort
        return cohort
    cohort = work / f"cohort-{args.patients}"
    if not (cohort / "manifest.json").exists():
        print(f"generating {args.patients:,} patients in {cohort} ...", flush=True)
        synth = [str(VENAPATH), "synth", "-n", str(args.patients), "--seed", "1", "--quiet"]
        subprocess.run([*synth, "--out", str(cohort)], check=True)
    return cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--cohort", type=Path, default=None, help="An existing export folder.")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="1536m")
    parser.add_argument("--executor-memory", default="1g")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    parser.add_argument(
        "--conf", action="append", default=[], help="KEY=VALUE for spark-defaults.conf."
    )
    parser.add_argument("--keep", action="store_true", help="Keep outputs and cluster logs.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="venapath-spark-cluster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cohort = _cohort(args, work)
    tuning = ClusterTuning(
        workers=args.workers,
        worker_memory=args.worker_memory,
        executor_memory=args.executor_memory,
        driver_memory=args.driver_memory,
        shuffle_partitions=args.shuffle_partitions,
        extra_conf=dict(item.split("=", 1) for item in args.conf),
    )
    base = [str(VENAPATH), "screen", str(cohort), "--quiet", "--format", "json"]
    figures: dict[str, dict[str, float]] = {}
    try:
        with LoopbackSparkCluster(work / "cluster", tuning) as cluster:
            print(f"cluster up at {cluster.master_url} (logs in {cluster.log_dir})", flush=True)
            env = cluster.driver_env()
            spark_command = [*base, "--out", str(work / "out-spark"), "--engine", "spark"]
            spark_command += ["--spark-master", cluster.master_url]
            figures["spark cluster"] = _measure(spark_command, env, cluster.pids(), work)
        duck_command = [*base, "--out", str(work / "out-duckdb")]
        figures["duckdb"] = _measure(duck_command, env, [], work)
        spark_rows = _rows(work / "out-spark" / "patients.parquet")
        same = spark_rows == _rows(work / "out-duckdb" / "patients.parquet")
        stages = json.loads((work / "out-spark" / "summary.json").read_text())["run"]
        _print(args.patients if args.cohort is None else len(spark_rows), figures, same, stages)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _print(
    patients: int, figures: dict[str, dict[str, float]], same: bool, stages: dict[str, object]
) -> None:
    print(f"\npatients: {patients:,}")
    print(
        f"{'engine':<14} {'wall s':>8} {'driver tree peak GB':>20} "
        f"{'time -v max RSS GB':>19} {'cluster peak GB':>16}"
    )
    for name, figure in figures.items():
        cluster = f"{figure['cluster_rss'] / 1e9:.2f}" if figure["cluster_rss"] else "-"
        print(
            f"{name:<14} {figure['seconds']:>8.1f} {figure['driver_rss'] / 1e9:>20.2f} "
            f"{figure['time_v_max_rss'] / 1e9:>19.2f} {cluster:>16}"
        )
    print(f"spark stages (s): {stages.get('stage_seconds')}")
    print(f"same rows as DuckDB (knowledge_version aside): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
