"""Population screen results: the last `venapath screen` summary (candidates for early
thrombus removal, open contraindications, follow-up due and overdue, the missing facts that
keep most patients undecided), read from the folder `VENAPATH_SCREEN_RESULTS_DIR`.

The summary holds counts only (AGGREGATE_READ, so researchers see it). One patient's row of
`patients.parquet` opens only for roles that see identities (PATIENT_READ); that read is
audited naming the screened patient's id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.domain.access import Permission
from venapath.errors import NotFoundError
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditFact, AuditTrail
from venapath.screen.outputs import PATIENTS_FILE, SUMMARY_FILE
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render, translations

_ = translations().gettext

PATIENT_ID_LIMIT = 200
ROW_COLUMNS = (
    "patient_id",
    "error",
    "urgency",
    "pathways",
    "possible_pathways",
    "recommendations",
    "contraindications",
    "alerts",
    "needs_data",
    "follow_up_due",
    "follow_up_overdue",
)


def read_summary(folder: Path | None) -> tuple[dict[str, Any] | None, str | None]:
    """The summary document, or None and the reason in words (no folder, no file, unreadable)."""
    if folder is None:
        return None, _("No screen results folder is set (VENAPATH_SCREEN_RESULTS_DIR).")
    path = folder / SUMMARY_FILE
    if not path.is_file():
        return None, _("No screen has been run into the results folder yet.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, _("The last screen's summary cannot be read; run the screen again.")
    if not isinstance(document, dict):
        return None, _("The last screen's summary cannot be read; run the screen again.")
    return document, None


def read_patient_row(folder: Path, patient_id: str) -> dict[str, Any] | None:
    """One screened patient's row, or None when the screen holds no such patient."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    path = folder / PATIENTS_FILE
    if not path.is_file():
        return None
    table = pq.read_table(path)
    present = [c for c in ROW_COLUMNS if c in table.column_names]
    rows = table.select(present).filter(pc.equal(table["patient_id"], patient_id)).to_pylist()
    return _complete(rows[0]) if rows else None


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    """Every column the templates read, None when this screen's file lacks it."""
    return {column: row.get(column) for column in ROW_COLUMNS}


URGENCY_ORDER = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3}
LISTED_PATIENTS = 200


def read_flagged(folder: Path) -> list[dict[str, Any]]:
    """Screened patients with something to act on (an urgency, a contraindication or an
    overdue follow-up), the most urgent first; at most LISTED_PATIENTS."""
    import pyarrow.parquet as pq

    path = folder / PATIENTS_FILE
    if not path.is_file():
        return []
    table = pq.read_table(path)
    present = [c for c in ROW_COLUMNS if c in table.column_names]
    flagged = [
        _complete(row)
        for row in table.select(present).to_pylist()
        if row.get("urgency") or row.get("contraindications") or row.get("follow_up_overdue")
    ]
    flagged.sort(key=lambda r: (URGENCY_ORDER.get(r.get("urgency") or "", 9), r["patient_id"]))
    return flagged[:LISTED_PATIENTS]


def build_screening_router(kb: KnowledgeBase, audit: AuditTrail, folder: Path | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/screening", response_class=HTMLResponse)
    def screening_page(request: Request) -> HTMLResponse:
        principal = page_principal(request, Permission.AGGREGATE_READ)
        summary, absent = read_summary(folder)
        flagged: list[dict[str, Any]] = []
        if summary is not None and folder is not None and principal.may(Permission.PATIENT_READ):
            flagged = read_flagged(folder)
            audit.record_event(
                AuditFact(
                    AuditAction.QUERY,
                    principal,
                    resources=tuple(f"screen_result/{r['patient_id']}" for r in flagged),
                    query="screen_results?flagged",
                )
            )
        context = page_context(
            request,
            principal,
            kb,
            summary=summary,
            absent=absent,
            flagged=flagged,
            may_open_patients=principal.may(Permission.PATIENT_READ),
        )
        return HTMLResponse(render("screening.html", context))

    @router.get("/screening/patients/{patient_id}", response_class=HTMLResponse)
    def screened_patient(request: Request, patient_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_READ)
        patient_id = patient_id[:PATIENT_ID_LIMIT]
        row = read_patient_row(folder, patient_id) if folder is not None else None
        if row is None:
            raise NotFoundError("screened patient", patient_id)
        audit.record_event(
            AuditFact(AuditAction.READ, principal, resources=(f"screen_result/{patient_id}",))
        )
        summary, _ = read_summary(folder)
        context = page_context(request, principal, kb, row=row, summary=summary)
        return HTMLResponse(render("screening_patient.html", context))

    return router
