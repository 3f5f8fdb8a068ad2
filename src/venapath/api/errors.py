"""Every error the HTTP service can send, mapped in one place.

REST endpoints answer `application/problem+json` (RFC 9457) with a list of field problems;
FHIR and CDS Hooks endpoints answer an `OperationOutcome`. Nothing internal leaks: an
unexpected exception is logged (without request bodies) and answered with a plain 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from venapath.cdshooks.auth import TokenRejectedError
from venapath.cdshooks.hooks import HookError
from venapath.errors import (
    ConflictError,
    GoneError,
    InputError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    VenaPathError,
)
from venapath.fhir.errors import FhirInputError, FhirProblem
from venapath.fhir.outcome import operation_outcome
from venapath.persistence.database import DatabaseUnavailableError
from venapath.persistence.migrate import SchemaOutOfDateError
from venapath.services.case_input import CaseInputError
from venapath.services.scoring import ScoreInputError

log = logging.getLogger("venapath.api")
PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"
FHIR_PREFIXES = ("/cds-services", "/api/v1/fhir")


@dataclass(frozen=True)
class FieldProblem:
    pointer: str
    message: str


class ApiError(Exception):
    """An error a handler raises on purpose, with its status and the fields at fault."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        problems: list[FieldProblem] | None = None,
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
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    500: "exception",
}


def error_response(request: Request, error: ApiError) -> JSONResponse:
    headers = dict(error.headers)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if request.url.path.startswith(FHIR_PREFIXES):
        problems = [FhirProblem(p.pointer or "$", p.message) for p in error.problems]
        body = operation_outcome(
            problems or [FhirProblem("$", error.detail)],
            code=_OUTCOME_CODE.get(error.status, "processing"),
        )
        return JSONResponse(body, status_code=error.status, media_type=FHIR_JSON, headers=headers)
    body_problem: dict[str, Any] = {
        "type": "about:blank",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.problems:
        body_problem["errors"] = [
            {"pointer": p.pointer, "detail": p.message} for p in error.problems
        ]
    return JSONResponse(
        body_problem, status_code=error.status, media_type=PROBLEM_JSON, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(CaseInputError, _case_input)  # type: ignore[arg-type]
    app.add_exception_handler(FhirInputError, _fhir_input)  # type: ignore[arg-type]
    app.add_exception_handler(HookError, _hook)  # type: ignore[arg-type]
    app.add_exception_handler(TokenRejectedError, _token)  # type: ignore[arg-type]
    app.add_exception_handler(ScoreInputError, _score)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(VenaPathError, _venapath_error)  # type: ignore[arg-type]
    app.add_exception_handler(DatabaseUnavailableError, _unavailable)
    app.add_exception_handler(SchemaOutOfDateError, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


_STATUS: tuple[tuple[type[VenaPathError], int], ...] = (
    (TooLargeError, 413),
    (InputError, 422),
    (NotFoundError, 404),
    (GoneError, 410),
    (ConflictError, 409),
    (UnauthenticatedError, 401),
    (RefusedError, 403),
    (RateLimitedError, 429),
    (UnavailableError, 503),
)


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
    """The one error tree (`venapath/errors.py`), mapped by class."""
    page = _page_for(request, error)
    if page is not None:
        return page
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    problems: list[FieldProblem] = []
    if isinstance(error, InputError):
        problems = [FieldProblem(p.pointer, p.message) for p in error.problems]
    elif isinstance(error, ConflictError):
        problems = [FieldProblem(error.pointer, error.message)]
    headers = {}
    if isinstance(error, RateLimitedError | UnavailableError):
        headers["Retry-After"] = str(error.retry_after)
    return error_response(
        request, ApiError(status, error.title, error.message, problems, headers=headers)
    )


RETRY_AFTER_SECONDS = "5"


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    """Fail fast while the database is away; clients retry, nothing was half-written."""
    log.warning("database unavailable", extra={"error": str(error)[:200]})
    return error_response(
        request,
        ApiError(
            503,
            "Service unavailable",
            "the registry database cannot be reached; retry shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ),
    )


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(request, error)


async def _case_input(request: Request, error: CaseInputError) -> JSONResponse:
    problems = [FieldProblem(p.pointer, p.message) for p in error.problems]
    return error_response(
        request, ApiError(422, "Invalid case", "the case does not meet case format v1", problems)
    )


async def _fhir_input(request: Request, error: FhirInputError) -> JSONResponse:
    problems = [FieldProblem(p.location, p.message) for p in error.problems]
    return error_response(request, ApiError(422, "Invalid FHIR input", str(error), problems))


async def _hook(request: Request, error: HookError) -> JSONResponse:
    problems = [FieldProblem(p.location, p.message) for p in error.problems]
    return error_response(
        request, ApiError(error.status, "CDS Hooks request refused", error.message, problems)
    )


async def _token(request: Request, error: TokenRejectedError) -> JSONResponse:
    return error_response(request, ApiError(401, "Unauthorized", str(error)))


async def _score(request: Request, error: ScoreInputError) -> JSONResponse:
    return error_response(
        request,
        ApiError(
            422, "Invalid score items", str(error), [FieldProblem(error.field, error.message)]
        ),
    )


async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = []
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ())]
        where = location[0] if location else "request"
        pointer = "/" + "/".join(location[1:]) if where == "body" else ".".join(location)
        problems.append(FieldProblem(pointer, str(detail.get("msg", "invalid"))))
    # CDS Hooks clients expect 400 for a malformed call; REST uses 422 for a body it understood.
    status = 400 if request.url.path.startswith("/cds-services") else 422
    return error_response(
        request, ApiError(status, "Invalid request", "the request does not match the API", problems)
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
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request, ApiError(500, "Internal error", "an unexpected error occurred; it was logged")
    )
