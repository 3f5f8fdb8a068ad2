"""Every error the HTTP service can send, mapped in one place, by base class.

The tree of `venapath/errors.py` decides the status: `STATUS_BY_CLASS` is walked along the
error's class hierarchy, so a new subclass is mapped by its base without a new handler.
REST endpoints answer `application/problem+json` (RFC 9457) with a list of field problems;
FHIR and CDS Hooks endpoints answer an `OperationOutcome`. 401 carries `WWW-Authenticate`,
429 and 503 carry `Retry-After`. Nothing internal leaks: an unexpected exception is logged
(type and place only, never request bodies or SQL parameters) and answered with a plain 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from venapath.cdshooks.hooks import PrefetchIncompleteError
from venapath.errors import (
    ConflictError,
    GoneError,
    InputError,
    NotFoundError,
    Problem,
    RateLimitedError,
    RefusedError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    VenaPathError,
)
from venapath.fhir.errors import FhirProblem
from venapath.fhir.outcome import operation_outcome

log = logging.getLogger("venapath.api")
PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"
FHIR_PREFIXES = ("/cds-services", "/api/v1/fhir")
CDS_PREFIX = "/cds-services"

FieldProblem = Problem
"""The problem type of an error response: a JSON pointer (or FHIRPath location) and a message."""

STATUS_BY_CLASS: dict[type[VenaPathError], int] = {
    VenaPathError: 400,
    InputError: 422,
    TooLargeError: 413,
    NotFoundError: 404,
    GoneError: 410,
    ConflictError: 409,
    RefusedError: 403,
    UnauthenticatedError: 401,
    RateLimitedError: 429,
    UnavailableError: 503,
    # CDS Hooks 2.0: a service that cannot get the data it needs answers 412.
    PrefetchIncompleteError: 412,
}
"""HTTP status of each class of the tree; a subclass not listed takes its nearest base's."""


class ApiError(VenaPathError):
    """A refusal of the HTTP protocol itself (an unsupported media type, a method not allowed)
    whose status is not a kind of the tree; everything else raises a class of the tree."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.problems = problems or []
        self.headers = headers or {}


_OUTCOME_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def status_of(error: VenaPathError, path: str = "") -> int:
    """The HTTP status for `error` on `path`, by the nearest mapped class in its hierarchy."""
    if isinstance(error, ApiError):
        return error.status
    status = next(STATUS_BY_CLASS[k] for k in type(error).__mro__ if k in STATUS_BY_CLASS)
    if status == 422 and path.startswith(CDS_PREFIX):
        return 400  # CDS Hooks clients expect 400 for a request the service cannot use
    return status


def problems_of(error: VenaPathError) -> list[Problem]:
    """The field problems an error names (none for errors about no field in particular)."""
    if isinstance(error, InputError | ApiError):
        return list(error.problems)
    if isinstance(error, ConflictError) and error.pointer:
        return [Problem(error.pointer, error.message)]
    if isinstance(error, NotFoundError) and error.pointer:
        return [Problem(error.pointer, error.message)]
    return []


def headers_of(error: VenaPathError, status: int) -> dict[str, str]:
    headers = dict(error.headers) if isinstance(error, ApiError) else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, RateLimitedError | UnavailableError):
        headers["Retry-After"] = str(error.retry_after)
    return headers


def error_body(
    path: str, status: int, title: str, detail: str, problems: list[Problem]
) -> tuple[dict[str, Any], str]:
    """The body and media type of an error answer: an OperationOutcome on the FHIR and CDS
    Hooks paths, problem+json elsewhere. Used by the handlers and by the ASGI middleware."""
    if path.startswith(FHIR_PREFIXES):
        issues = [FhirProblem(p.pointer or "$", p.message) for p in problems]
        body = operation_outcome(
            issues or [FhirProblem("$", detail)], code=_OUTCOME_CODE.get(status, "processing")
        )
        return body, FHIR_JSON
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if problems:
        document["errors"] = [{"pointer": p.pointer, "detail": p.message} for p in problems]
    return document, PROBLEM_JSON


def error_response(request: Request, error: VenaPathError) -> JSONResponse:
    """The one translation of a VenaPath error into an HTTP answer."""
    path = request.url.path
    status = status_of(error, path)
    title = error.title if isinstance(error, ApiError) else type(error).title
    body, media = error_body(path, status, title, error.message, problems_of(error))
    return JSONResponse(
        body, status_code=status, media_type=media, headers=headers_of(error, status)
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VenaPathError, _venapath_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(RecursionError, _too_deep)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


API_PREFIXES = ("/api/", "/cds-services", "/health", "/ready", "/openapi.json", "/docs")
HTML_ERROR_HOOK = "html_error_page"


def _page_for(request: Request, error: Exception) -> Response | None:
    """A page, not JSON, for a request to one of the web app's pages (when it is mounted)."""
    hook = getattr(request.app.state, HTML_ERROR_HOOK, None)
    if hook is None or request.url.path.startswith(API_PREFIXES):
        return None
    page: Response = hook(request, error)
    return page


async def _venapath_error(request: Request, error: VenaPathError) -> Response:
    page = _page_for(request, error)
    if page is not None:
        return page
    if isinstance(error, UnavailableError):
        # Fail fast while a dependency is away; clients retry, nothing was half-written.
        log.warning("dependency unavailable: %s", type(error).__name__)
    return error_response(request, error)


async def _too_deep(request: Request, error: RecursionError) -> JSONResponse:
    """A last line behind the depth limits: input nested beyond what any reader accepts."""
    refusal = TooLargeError("", "nesting depth", 0, "the input is nested too deeply to read")
    return error_response(request, refusal)


async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = []
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ())]
        where = location[0] if location else "request"
        pointer = "/" + "/".join(location[1:]) if where == "body" else ".".join(location)
        problems.append(Problem(pointer, str(detail.get("msg", "invalid"))[:200]))
    return error_response(
        request,
        ApiError(422, "Invalid request", "the request does not match the API", problems)
        if not request.url.path.startswith(CDS_PREFIX)
        else ApiError(400, "Invalid request", "the request does not match the API", problems),
    )


async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
    title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "Request refused")
    headers = dict(error.headers or {})  # e.g. Allow on a 405
    return error_response(
        request, ApiError(error.status_code, title, str(error.detail), headers=headers)
    )


async def _unexpected(request: Request, error: Exception) -> Response:
    page = _page_for(request, error)
    if page is not None:
        return page
    # The log formatter (api/logs.py) writes the traceback's frames and the exception's type,
    # never its text: a database error's text can quote the values it refused.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(
        request, ApiError(500, "Internal error", "an unexpected error occurred; it was logged")
    )
