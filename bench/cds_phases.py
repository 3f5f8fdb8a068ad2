"""CPU time of one CDS patient-view, phase by phase, in process (no HTTP, no JWT).

    .venv/bin/python bench/cds_phases.py [--calls 150] [--profile]

`bench/cds_load.py` measures latency over HTTP, which on a shared machine mostly measures
the machine. This measures what the service's own work costs per call, in CPU time, on the
same 53-resource chart: reading and R4B validation of the prefetch, the FHIR-to-case
mapping with facts and the engine, and the cards. Two modes, as the service meets them:

- every resource new (a chart never seen: the validated-resource cache is emptied first);
- `cds_load.py --cold`: every call brings new laboratory values, the rest was seen before.

Medians of `--calls` calls, each on its own chart variant, pinned to one core.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from cds_load import realistic_record  # noqa: E402
from venapath.cdshooks.cards import patient_view_cards  # noqa: E402
from venapath.cdshooks.hooks import CdsServices, _parse_answers  # noqa: E402
from venapath.cdshooks.prefetch import prefetch_answers  # noqa: E402
from venapath.fhir import parse  # noqa: E402
from venapath.kb.loader import load_knowledge_base  # noqa: E402
from venapath.services.fhir_evaluation import assess_parsed  # noqa: E402

WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--profile", action="store_true", help="cProfile the new-chart calls")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    kb = load_knowledge_base()
    services = CdsServices(kb, fetcher=None)  # type: ignore[arg-type]  # never fetches here
    templates = services._templates
    charts = [
        prefetch_answers(realistic_record(variant + 1), templates)
        for variant in range(args.calls + WARM_UP)
    ]
    now = datetime.now(UTC)

    def call(prefetch: dict[str, Any], every_resource_new: bool) -> tuple[float, float, float]:
        if every_resource_new:
            parse.forget_validated_resources()
        answered = {key: prefetch.get(key) for key in templates}
        start = time.process_time()
        parsed = _parse_answers(answered, services._history_for(answered))
        read = time.process_time()
        result = assess_parsed(parsed, now=now, kb=kb, complete=frozenset(), trace=False)
        assessed = time.process_time()
        patient_view_cards(result.assessment, kb, None)
        done = time.process_time()
        return read - start, assessed - read, done - assessed

    for chart in charts[:WARM_UP]:
        call(chart, every_resource_new=True)
    measured = charts[WARM_UP:]
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for chart in measured:
            call(chart, every_resource_new=True)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    print(f"knowledge {kb.version}; {len(measured)} calls per mode; CPU ms, medians; one core")
    for every_resource_new, label in ((True, "every resource new"), (False, "new labs only")):
        phases = [call(chart, every_resource_new) for chart in measured]
        read, assessed, cards = (statistics.median(p[i] for p in phases) * 1000 for i in range(3))
        total = statistics.median(sum(p) for p in phases) * 1000
        print(
            f"{label:<20} read+validate {read:5.2f}  mapping+facts+engine {assessed:5.2f}  "
            f"cards {cards:5.2f}  whole {total:5.2f}"
        )


if __name__ == "__main__":
    main()
