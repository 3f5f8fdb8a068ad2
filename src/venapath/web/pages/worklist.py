"""The worklist: what needs doing now, for clinicians and follow-up coordinators.

Active episodes by the urgency of their latest assessment (with the time windows still open
and a live clock), follow-up tasks that need a call today, are overdue or due, and the
check-ins of the last week. A task is marked done here with a note (a plain form post, so
it works without JavaScript; the page comes back with the task gone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from venapath.domain.access import Permission
from venapath.domain.records import TaskState, TaskStatus, TaskUpdate
from venapath.errors import InputError
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render

DAYS_AHEAD = 7
CHECK_IN_DAYS = 7
ROWS = 50
"""Rows per list on one page of the worklist (the most pressing first); `?page=2` shows the
next rows of each list. Fewer rows render faster and read better than hundreds at once."""


def build_worklist_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/worklist", response_class=HTMLResponse)
    def worklist_page(request: Request, page: str = "1") -> HTMLResponse:
        principal = page_principal(request, Permission.WORKLIST_READ)
        number = _page_number(page)
        now = datetime.now(UTC)
        board = registry.worklist_board(
            principal,
            now.date(),
            now - timedelta(days=CHECK_IN_DAYS),
            days_ahead=DAYS_AHEAD,
            limit=ROWS,
            offset=(number - 1) * ROWS,
        )
        by_state: dict[str, list[object]] = {state.value: [] for state in TaskState}
        for item in board.tasks:
            by_state[item.state.value].append(item.task)
        context = page_context(
            request,
            principal,
            kb,
            now=now,
            episodes=board.episodes,
            check_ins=board.check_ins,
            tasks=by_state,
            may_complete=principal.may(Permission.TASK_WRITE),
            may_open_patients=principal.may(Permission.PATIENT_READ),
            days_ahead=DAYS_AHEAD,
            page=number,
            rows=ROWS,
            # A full list may have more rows on the next page (at worst that page is empty).
            more=ROWS in (len(board.tasks), len(board.episodes), len(board.check_ins)),
            back=_page_path(number),
        )
        return HTMLResponse(render("worklist.html", context))

    @router.post("/tasks/{task_id}/done")
    def complete_task(
        request: Request,
        task_id: str,
        version: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/worklist",
    ) -> RedirectResponse:
        principal = page_principal(request, Permission.TASK_WRITE)
        if not version.isdigit():
            raise InputError.at("/version", "the task's version is missing; reload the page")
        change = TaskUpdate(
            version=int(version), status=TaskStatus.DONE, note=note.strip()[:2000] or None
        )
        registry.update_task(task_id, change, principal)
        return RedirectResponse(_local(back), status_code=303)

    return router


MAX_PAGE = 10_000


def _page_number(text: str) -> int:
    """The `page` query parameter: a whole number from 1 (a clear error otherwise)."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise InputError.at("/page", f"page must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _page_path(number: int) -> str:
    return "/worklist" if number == 1 else f"/worklist?page={number}"


def _local(path: str) -> str:
    """Only a path on this site is followed after a post (never another host)."""
    return path if path.startswith("/") and not path.startswith("//") else "/worklist"
