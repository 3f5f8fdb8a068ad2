"""Benchmark: the knowledge base's compiled views against hand-flattened queries.

    .venv/bin/python bench/views_vs_hand.py COHORT_DIR [--repeat 3]

For every resource type of the cohort: the view as the screen runs it (valid-line filter,
typed fast path), the same view on the general path only, and the hand-written query of
`bench/screen_reference.py`, each materialised into a temporary table (best of --repeat),
then the rows compared with EXCEPT ALL in both directions. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screen_reference import REFERENCES
from venapath.screen.bulk import duckdb_resources_sql
from venapath.screen.views import load_views
from venapath.sof.compile import compile_view


def _best(connection: duckdb.DuckDBPyConnection, name: str, sql: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        best = min(best, time.perf_counter() - started)
    return best


def _differences(connection: duckdb.DuckDBPyConnection, a: str, b: str) -> int:
    query = "SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {})"
    one = connection.execute(query.format(a, b)).fetchone()
    two = connection.execute(query.format(b, a)).fetchone()
    assert one is not None
    assert two is not None
    return int(one[0]) + int(two[0])


def compare(cohort: Path, repeat: int, *, general: bool = True) -> list[dict[str, Any]]:
    """One row per resource type: seconds of each query, rows, and differing rows.
    `general=False` leaves out the general-path query (the slowest, at a million patients
    several times the others) and reports its time and differences as 0."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    results: list[dict[str, Any]] = []
    views = load_views()
    for resource_type, reference in REFERENCES.items():
        files = sorted(cohort.glob(f"{resource_type}*.ndjson"))
        if not files:
            continue
        source = duckdb_resources_sql(files, resource_type)
        typed = compile_view(views[resource_type], "duckdb", source=source, typed=True)
        row = {
            "resource": resource_type,
            "view_s": _best(connection, "v_typed", typed.sql, repeat),
            "general_s": 0.0,
            "hand_s": _best(connection, "v_hand", reference(files), repeat),
        }
        if general:
            sql = compile_view(views[resource_type], "duckdb", source=source).sql
            row["general_s"] = _best(connection, "v_general", sql, repeat)
        count = connection.execute("SELECT count(*) FROM v_typed").fetchone()
        assert count is not None
        row["rows"] = int(count[0])
        row["differing_rows"] = _differences(connection, "v_typed", "v_hand")
        row["differing_general"] = (
            _differences(connection, "v_typed", "v_general") if general else 0
        )
        results.append(row)
    return results


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'resource':>20} {'rows':>9} {'view s':>8} {'hand s':>8} {'x hand':>7} "
        f"{'general s':>10} {'x hand':>7} {'diff':>5}"
    )
    totals = {"view_s": 0.0, "hand_s": 0.0, "general_s": 0.0}
    for r in rows:
        for key in totals:
            totals[key] += r[key]
        print(
            f"{r['resource']:>20} {r['rows']:>9,} {r['view_s']:>8.2f} {r['hand_s']:>8.2f} "
            f"{r['view_s'] / r['hand_s']:>7.2f} {r['general_s']:>10.2f} "
            f"{r['general_s'] / r['hand_s']:>7.2f} "
            f"{r['differing_rows'] + r['differing_general']:>5}"
        )
    print(
        f"{'all':>20} {'':>9} {totals['view_s']:>8.2f} {totals['hand_s']:>8.2f} "
        f"{totals['view_s'] / totals['hand_s']:>7.2f} {totals['general_s']:>10.2f} "
        f"{totals['general_s'] / totals['hand_s']:>7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cohort", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_table(compare(args.cohort, args.repeat))


if __name__ == "__main__":
    main()
