"""Benchmark: evaluations per second on one core, and the wall time of one CLI call.

    .venv/bin/python bench/evaluate.py [--seconds 5]

Goals (issue: decision core): >= 10,000 evaluations/s in-process for the whole knowledge
base; one `venapath evaluate` call under 0.5 s wall time.

Each rate is printed twice: per wall-clock second, and per second of CPU time of this
process. On a shared machine, waiting for a core inflates wall time far more than CPU time;
the CPU figure is what the code costs, the wall figure what a quiet core would show only
when the machine is quiet (quote `uptime` with either).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from venapath.domain.facts import derive_facts
from venapath.engine.evaluate import evaluate
from venapath.kb.loader import load_knowledge_base
from venapath.services.case_input import load_case_file

REPO = Path(__file__).resolve().parent.parent
CASES = sorted((REPO / "examples" / "cases").glob("*.yaml"))


def _rate(label: str, work, seconds: float) -> float:  # type: ignore[no-untyped-def]
    count = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        work()
        count += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    rate = count / elapsed
    print(
        f"{label:<50} {rate:>8,.0f} /s wall  {count / cpu:>8,.0f} /s CPU  "
        f"({1e6 * cpu / count:,.0f} us CPU each)"
    )
    return rate


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    kb = load_knowledge_base()
    cases = [load_case_file(path) for path in CASES]
    prepared = [(case, derive_facts(case, case.as_of)) for case in cases if case.as_of]  # type: ignore[arg-type]
    print(
        f"knowledge {kb.version}: {len(kb.rules)} rules; {len(prepared)} example cases; one core\n"
    )

    index = [0]

    def next_case():  # type: ignore[no-untyped-def]
        index[0] = (index[0] + 1) % len(prepared)
        return prepared[index[0]]

    def engine_no_trace() -> None:
        case, facts = next_case()
        evaluate(kb, facts, case.as_of, case_id=case.case_id, trace=False)

    def engine_with_trace() -> None:
        case, facts = next_case()
        evaluate(kb, facts, case.as_of, case_id=case.case_id, trace=True)

    def full_path() -> None:
        case, _ = next_case()
        facts = derive_facts(case, case.as_of)  # type: ignore[arg-type]
        evaluate(kb, facts, case.as_of, case_id=case.case_id, trace=False).model_dump_json()

    _rate("evaluate(kb, facts, now), no trace", engine_no_trace, args.seconds)
    _rate("evaluate(kb, facts, now), with per-rule trace", engine_with_trace, args.seconds)
    _rate("derive facts + evaluate + serialise JSON", full_path, args.seconds)

    cli = Path(sys.executable).parent / "venapath"  # the console script of this interpreter
    target = REPO / "examples" / "cases" / "seed-cvt-intracranial-hypotension.yaml"
    walls = []
    cpus = []
    for _ in range(7):
        start = time.perf_counter()
        cpu_start = _children_cpu()
        subprocess.run(
            [str(cli), "evaluate", "--format", "json", str(target)], check=True, capture_output=True
        )
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu_start)
    print(
        f"\n`venapath evaluate --format json <seed case>` wall time: median "
        f"{statistics.median(walls):.3f} s, min {min(walls):.3f} s, max {max(walls):.3f} s; "
        f"CPU time: median {statistics.median(cpus):.3f} s (7 runs)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
