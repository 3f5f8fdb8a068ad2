"""Benchmark: `venapath screen` on generated cohorts, beside the floor and the per-patient path.

    .venv/bin/python bench/screen.py [--sizes 10000,100000] [--million] [--engines duckdb]
                                     [--runs 2] [--memory-limit 1.5GB] [--partitions N]
                                     [--spark-master URL] [--sample 500] [--work DIR] [--keep]
                                     [--no-general-views]

For each size, a cohort is generated once (`venapath synth`, seed 1) and then measured:
- scan: DuckDB `read_json_auto` of every NDJSON file plus count(*), the floor no screen can
  beat (it parses the JSON and does nothing else);
- views: the knowledge base's compiled views against the hand-flattened queries of
  `bench/screen_reference.py` (`bench/views_vs_hand.py`), with the number of rows that differ
  (EXCEPT ALL both ways; 0 means the same rows), and against the general compiler's path
  unless `--no-general-views` (the slowest query of the run at a million patients);
- screen: `venapath screen` per engine, in a fresh process, `--runs` times into the same
  folder (run 1 compiles the rules query, later runs reuse it from the cache): wall time,
  patients/s, MB/s of NDJSON and the peak resident memory of the process tree (the Spark JVM
  included), with the number of patient partitions DuckDB used (`--partitions`, default
  chosen by the screen from the export's size);
- per-patient path: fhir.resources parse + mapping + engine, one patient at a time, on
  `--sample` patients, extrapolated to the cohort.
Figures are printed as a table at the end; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from views_vs_hand import compare as compare_views

REPO = Path(__file__).resolve().parent.parent
VENAPATH = Path(sys.executable).with_name("venapath")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children[parent].append(int(entry.name))
        rss[int(entry.name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def _run_measured(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak resident bytes of the process tree, sampled every 50 ms)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return elapsed, peak


def _bare_scan(export: Path) -> float:
    files = sorted(str(p) for p in export.glob("*.ndjson"))
    connection = duckdb.connect()
    started = time.perf_counter()
    for path in files:  # one file per resource type, each with its own shape
        connection.execute(f"SELECT count(*) FROM read_json_auto('{path}')").fetchall()
    return time.perf_counter() - started


def _per_patient(export: Path, sample: int) -> float:
    """Seconds per patient for parse + map + evaluate, on a random sample of patients."""
    from venapath.fhir import parse
    from venapath.kb.loader import load_knowledge_base
    from venapath.services.fhir_evaluation import assess_fhir_data
    from venapath.synth import DEFAULT_AS_OF

    chosen: set[str] = set()
    with (export / "Patient.ndjson").open() as handle:
        ids = [json.loads(line)["id"] for _, line in zip(range(50_000), handle, strict=False)]
    chosen = set(random.Random(1).sample(ids, min(sample, len(ids))))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    owner_pattern = re.compile(r'"(?:id|reference)":"(?:Patient/)?([0-9a-f-]{36})"')
    for path in export.glob("*.ndjson"):
        with path.open() as handle:
            for line in handle:  # a regex first: json.loads only the sampled patients' lines
                owners = {m for m in owner_pattern.findall(line) if m in chosen}
                if not owners:
                    continue
                resource = json.loads(line)
                if resource["resourceType"] == "Patient":
                    owner = resource["id"]
                else:
                    holder = resource.get("subject") or resource.get("patient") or {}
                    owner = str(holder.get("reference", "")).removeprefix("Patient/")
                if owner in chosen:
                    grouped[owner].append(resource)
    kb = load_knowledge_base()
    # Every patient is a chart never seen before, as in a population: resources validated for
    # an earlier cohort size (the same seed gives the same first patients) must not be reused.
    parse.forget_validated_resources()
    started = time.perf_counter()
    for resources in grouped.values():
        assess_fhir_data(resources, now=DEFAULT_AS_OF, kb=kb, trace=False)
    return (time.perf_counter() - started) / max(len(grouped), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--million", action="store_true", help="Add 1,000,000 patients.")
    parser.add_argument("--engines", default="duckdb")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--spark-master", default=None)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the generated cohorts.")
    parser.add_argument("--no-general-views", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    engines = args.engines.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="venapath-screen-bench-"))
    rows: list[dict[str, Any]] = []
    for size in sizes:
        export = work / f"cohort-{size}"
        if not (export / "manifest.json").exists():
            print(f"generating {size:,} patients in {export} ...", flush=True)
            subprocess.run(
                [
                    str(VENAPATH),
                    "synth",
                    "-n",
                    str(size),
                    "--seed",
                    "1",
                    "--out",
                    str(export),
                    "--quiet",
                ],
                check=True,
            )
        megabytes = sum(p.stat().st_size for p in export.glob("*.ndjson")) / 1e6
        bare = _bare_scan(export)
        views = compare_views(export, 1, general=not args.no_general_views)
        view_seconds = sum(v["view_s"] for v in views)
        hand_seconds = sum(v["hand_s"] for v in views)
        differing = sum(v["differing_rows"] + v["differing_general"] for v in views)
        per_patient = _per_patient(export, args.sample)
        for engine, run in [(e, r) for e in engines for r in range(1, args.runs + 1)]:
            out = work / f"result-{size}-{engine}"
            command = [str(VENAPATH), "screen", str(export), "--out", str(out)]
            command += ["--engine", engine, "--quiet", "--format", "json"]
            if args.memory_limit and engine == "duckdb":
                command += ["--memory-limit", args.memory_limit]
            if args.partitions and engine == "duckdb":
                command += ["--partitions", str(args.partitions)]
            if args.spark_master and engine == "spark":
                command += ["--spark-master", args.spark_master]
            seconds, peak = _run_measured(command)
            summary = json.loads((out / "summary.json").read_text())
            row = {
                "patients": size,
                "engine": engine,
                "run": run,
                "rules_query_cached": summary["run"].get("rules_query_cached"),
                "partitions": summary["run"].get("partitions", 1),
                "views_seconds": round(view_seconds, 2),
                "hand_seconds": round(hand_seconds, 2),
                "views_vs_hand": round(view_seconds / hand_seconds, 2),
                "view_rows_differing": differing,
                "ndjson_mb": round(megabytes, 1),
                "seconds": round(seconds, 2),
                "screen_seconds_inside": summary["run"]["seconds"],
                "patients_per_s": round(size / seconds),
                "mb_per_s": round(megabytes / seconds, 1),
                "peak_mb": round(peak / 1e6),
                "bare_scan_seconds": round(bare, 2),
                "vs_bare_scan": round(seconds / bare, 2),
                "per_patient_seconds_extrapolated": round(per_patient * size, 1),
                "speedup_vs_per_patient": round(per_patient * size / seconds, 1),
                "stages": summary["run"]["stage_seconds"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    _print_table(rows)
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'patients':>10} {'engine':>7} {'run':>3} {'parts':>5} {'NDJSON MB':>10} {'wall s':>8} "
        f"{'pat/s':>8} {'peak MB':>8} {'scan s':>7} {'x scan':>7} {'views/hand':>10} "
        f"{'diff':>5} {'per-pat s':>10} {'x faster':>9}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['patients']:>10,} {r['engine']:>7} {r['run']:>3} {r['partitions']:>5} "
            f"{r['ndjson_mb']:>10,.1f} "
            f"{r['seconds']:>8.2f} {r['patients_per_s']:>8,} {r['peak_mb']:>8,} "
            f"{r['bare_scan_seconds']:>7.2f} {r['vs_bare_scan']:>7.2f} "
            f"{r['views_vs_hand']:>10.2f} {r['view_rows_differing']:>5} "
            f"{r['per_patient_seconds_extrapolated']:>10,.1f} {r['speedup_vs_per_patient']:>9.1f}"
        )


if __name__ == "__main__":
    main()
