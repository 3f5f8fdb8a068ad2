"""Errors as pages: the web layer's one mapping of the error tree to what a person sees.

A visitor who is not signed in is sent to the sign-in page and back; every other error is a
page in words, with the status the API would give, and never a stack trace. The HTTP
service calls `error_page` for requests that are not API calls (see `install_web`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from venapath.errors import (
    ConflictError,
    GoneError,
    InputError,
    NotFoundError,
    Problem,
    RateLimitedError,
    RefusedError,
    UnauthenticatedError,
    UnavailableError,
)
from venapath.identity.http import optional_principal
from venapath.web.access import SignInRequiredError
from venapath.web.context import page_context
from venapath.web.templating import N_, render

log = logging.getLogger("venapath.web")
SIGN_IN_PATH = "/auth/login"


def error_page(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInRequiredError):
        return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(error.next_path)}", status_code=303)
    if isinstance(error, UnauthenticatedError):
        return _page(request, 401, N_("Sign in needed"), str(error))
    status, title = _status_of(error)
    if status == 500:
        log.error("page failed", exc_info=(type(error), error, error.__traceback__))
        return _page(request, 500, N_("Something went wrong"), "The error was logged. Try again.")
    problems = error.problems if isinstance(error, InputError) else ()
    return _page(request, status, title, str(error), problems)


def _status_of(error: Exception) -> tuple[int, str]:
    status = getattr(error, "status", None)  # a protocol refusal that carries its own status
    if isinstance(status, int) and 400 <= status < 500:
        return status, str(getattr(error, "title", N_("Request refused")))
    for kind, status, title in (
        (RefusedError, 403, N_("Not allowed")),
        (NotFoundError, 404, N_("Not found")),
        (GoneError, 410, N_("No longer available")),
        (ConflictError, 409, N_("Changed by someone else")),
        (InputError, 422, N_("Please check what you entered")),
        (RateLimitedError, 429, N_("Too many requests")),
        (UnavailableError, 503, N_("Temporarily unavailable")),
    ):
        if isinstance(error, kind):
            return status, title
    return 500, N_("Something went wrong")


def _page(
    request: Request,
    status: int,
    title: str,
    message: str,
    problems: Sequence[Problem] = (),
) -> HTMLResponse:
    context = page_context(
        request,
        optional_principal(request),
        None,
        title=title,
        message=message,
        problems=list(problems),
    )
    return HTMLResponse(render("error.html", context), status_code=status)
