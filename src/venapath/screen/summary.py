"""The cohort summary: counts, proportions and the missing-fact ranking, from patients.parquet.

Read back from the Parquet file with Arrow compute (column by column, vectorised) rather
than asked of the engine: the same code then summarises a DuckDB and a Spark screen, so the
two summaries can only differ if the per-patient tables do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from venapath.domain.facts import catalogue
from venapath.domain.vocabulary import Action, Strength
from venapath.kb.model import KnowledgeBase
from venapath.screen.bulk import BulkExport, IntegrityReport

THROMBUS_REMOVAL = (
    Action.CATHETER_DIRECTED_THROMBOLYSIS,
    Action.PHARMACOMECHANICAL_THROMBECTOMY,
    Action.MECHANICAL_THROMBECTOMY,
    Action.CEREBRAL_VENOUS_THROMBOLYSIS,
    Action.CEREBRAL_VENOUS_THROMBECTOMY,
)
"""Actions that remove thrombus early (lysis or thrombectomy, leg or sinus)."""
IN_FAVOUR = (Strength.RECOMMENDED, Strength.CONSIDER)
MISSING_FACTS_SHOWN = 15
SUMMARY_COLUMNS = (
    "error",
    "urgency",
    "pathways",
    "possible_pathways",
    "recommendations",
    "contraindications",
    "needs_data",
    "active_venous_thrombosis",
    "follow_up_due",
    "follow_up_overdue",
)
"""The columns of patients.parquet the summary reads: only these are loaded (a million
patients' ids and alerts would only add memory)."""


def summarise(
    patients_parquet: Path,
    kb: KnowledgeBase,
    integrity: IntegrityReport,
    export: BulkExport,
    now: datetime,
    options: Any,
) -> dict[str, Any]:
    """The summary document saved as summary.json (and printed as tables by the CLI)."""
    table = pq.read_table(patients_parquet, columns=list(SUMMARY_COLUMNS))
    total = table.num_rows
    screened = _count(pc.is_null(table["error"]))
    return {
        "knowledge_version": kb.version,
        "as_of": now.isoformat(),
        "export": {
            "folder": str(export.root),
            "bytes": export.total_bytes,
            "resources": dict(integrity.valid),
            "corrupt_lines": integrity.corrupt_count,
            "corrupt_examples": [
                {"file": str(c.file), "line": c.line, "problem": c.problem}
                for c in integrity.corrupt
            ],
        },
        "filters": {"limit": options.limit, "only": options.only},
        "patients": total,
        "patients_with_errors": total - screened,
        "findings": _findings(table, total),
        "pathways": _pathways(table, kb, total),
        "urgency": _counted(table["urgency"], total),
        "missing_facts": _missing_facts(table, total),
    }


def _findings(table: pa.Table, total: int) -> dict[str, dict[str, float]]:
    recommendations = table["recommendations"]
    removal = _any_recommendation(
        recommendations, [a.value for a in THROMBUS_REMOVAL], [s.value for s in IN_FAVOUR]
    )
    firm_removal = _any_recommendation(
        recommendations,
        [a.value for a in THROMBUS_REMOVAL],
        [s.value for s in IN_FAVOUR],
        certainty="firm",
    )
    return {
        "active_venous_thrombosis": _share(
            _count(pc.fill_null(table["active_venous_thrombosis"], False)), total
        ),
        "early_thrombus_removal_candidates": _share(_count(removal), total),
        "early_thrombus_removal_candidates_firm": _share(_count(firm_removal), total),
        "open_contraindication": _share(
            _count(pc.greater(pc.list_value_length(table["contraindications"]), 0)), total
        ),
        "emergency_or_urgent": _share(
            _count(pc.is_in(table["urgency"], pa.array(["emergency", "urgent"]))), total
        ),
        "follow_up_due_now": _share(
            _count(pc.greater(pc.list_value_length(table["follow_up_due"]), 0)), total
        ),
        "follow_up_overdue_no_visit_recorded": _share(
            _count(pc.greater(pc.list_value_length(table["follow_up_overdue"]), 0)), total
        ),
        "needs_data": _share(
            _count(pc.greater(pc.list_value_length(table["needs_data"]), 0)), total
        ),
    }


def _any_recommendation(
    column: pa.ChunkedArray,
    actions: list[str],
    strengths: list[str],
    certainty: str | None = None,
) -> pa.Array:
    """Per patient: has a recommendation of one of `actions` at one of `strengths`."""
    lists = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    hit = pc.and_(
        pc.is_in(pc.struct_field(flat, "action"), pa.array(actions)),
        pc.is_in(pc.struct_field(flat, "strength"), pa.array(strengths)),
    )
    if certainty is not None:
        hit = pc.and_(hit, pc.equal(pc.struct_field(flat, "certainty"), certainty))
    marked = [False] * len(lists)
    for parent, value in zip(parents.to_pylist(), hit.to_pylist(), strict=True):
        if value:
            marked[parent] = True
    return pa.array(marked)


def _pathways(table: pa.Table, kb: KnowledgeBase, total: int) -> list[dict[str, Any]]:
    applies = _value_counts(pc.list_flatten(table["pathways"]))
    possible = _value_counts(pc.list_flatten(table["possible_pathways"]))
    return [
        {
            "id": pathway.id,
            "title": pathway.title,
            "applies": applies.get(pathway.id, 0),
            "applies_share": _ratio(applies.get(pathway.id, 0), total),
            "possible": possible.get(pathway.id, 0),
        }
        for pathway in kb.pathways
    ]


def _missing_facts(table: pa.Table, total: int) -> list[dict[str, Any]]:
    counts = _value_counts(pc.list_flatten(table["needs_data"]))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    definitions = catalogue()
    return [
        {
            "fact": name,
            "patients": count,
            "share": _ratio(count, total),
            "description": definitions[name].description if name in definitions else "",
            "settled_by": list(definitions[name].settled_by) if name in definitions else [],
        }
        for name, count in ranked[:MISSING_FACTS_SHOWN]
    ]


def _counted(column: pa.ChunkedArray, total: int) -> dict[str, dict[str, float]]:
    counts = _value_counts(pc.fill_null(column, "none"))
    return {name: _share(count, total) for name, count in sorted(counts.items())}


def _value_counts(values: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    result: Mapping[str, int] = {
        item["values"]: item["counts"] for item in pc.value_counts(values).to_pylist()
    }
    return dict(result)


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _share(count: int, total: int) -> dict[str, float]:
    return {"patients": count, "share": _ratio(count, total)}


def _ratio(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0
