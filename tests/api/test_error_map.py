"""The error tree is mapped once, by base class: every class has a status and an exit code,
each answer has the shape its path needs, and docs/errors.md names every class."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from venapath import errors
from venapath.api.errors import STATUS_BY_CLASS, install_error_handlers, status_of
from venapath.cli.errors import EXIT_REFUSED, EXIT_UNAVAILABLE, VenaPathGroup, exit_code_of
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

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"

# Every module that defines a class of the tree; importing them registers the subclasses.
MODULES_WITH_ERRORS = (
    "venapath.api.errors",
    "venapath.api.middleware",
    "venapath.cdshooks.auth",
    "venapath.cdshooks.fhir_client",
    "venapath.cdshooks.hooks",
    "venapath.fhir.errors",
    "venapath.identity.accounts",
    "venapath.identity.check_in_links",
    "venapath.identity.smart",
    "venapath.kb.loader",
    "venapath.persistence.database",
    "venapath.persistence.migrate",
    "venapath.screen.bulk",
    "venapath.screen.bulk_client",
    "venapath.screen.pipeline",
    "venapath.services.case_input",
    "venapath.services.scoring",
    "venapath.settings",
    "venapath.synth.bulk",
    "venapath.web.access",
)


def _tree_classes() -> list[type[VenaPathError]]:
    return [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, VenaPathError)
    ]


def _all_subclasses() -> set[type[VenaPathError]]:
    for name in MODULES_WITH_ERRORS:
        importlib.import_module(name)
    found: set[type[VenaPathError]] = set()
    pending = [VenaPathError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("venapath.") and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_every_class_of_the_tree_has_its_own_status() -> None:
    unmapped = [cls.__name__ for cls in _tree_classes() if cls not in STATUS_BY_CLASS]
    # ArgumentError is an InputError whose message names the argument: 422 like its base.
    assert unmapped == ["ArgumentError"]


def test_docs_name_every_error_class() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted(cls.__name__ for cls in _all_subclasses() if f"`{cls.__name__}`" not in text)
    assert missing == []


def test_the_purposeful_errors_of_every_module_are_in_the_tree() -> None:
    names = {cls.__name__ for cls in _all_subclasses()}
    expected = {
        "CaseInputError",
        "FhirInputError",
        "ScoreInputError",
        "KnowledgeBaseError",
        "ScreenInputError",
        "SynthInputError",
        "NotABulkExportError",
        "DatabaseUnavailableError",
        "SchemaOutOfDateError",
        "TokenRejectedError",
        "FhirServerUnavailableError",
        "HookError",
        "PrefetchIncompleteError",
        "BodyTooLargeError",
        "CaseTooLargeError",
        "SettingsError",
    }
    assert expected <= names


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InputError.at("/a", "bad"), 422, EXIT_REFUSED),
        (TooLargeError("", "depth", 64, "too deep"), 413, EXIT_REFUSED),
        (NotFoundError("patient", "p1"), 404, EXIT_REFUSED),
        (GoneError("patient", "p1"), 410, EXIT_REFUSED),
        (ConflictError("changed"), 409, EXIT_REFUSED),
        (RefusedError("no"), 403, EXIT_REFUSED),
        (UnauthenticatedError("no token"), 401, EXIT_REFUSED),
        (RateLimitedError("slow down", 7), 429, EXIT_REFUSED),
        (UnavailableError("database away"), 503, EXIT_UNAVAILABLE),
    ],
)
def test_status_and_exit_code_by_base_class(error: VenaPathError, status: int, code: int) -> None:
    assert status_of(error, "/api/v1/x") == status
    assert exit_code_of(error) == code


def test_an_input_error_on_cds_hooks_is_400() -> None:
    assert status_of(InputError.at("/a", "bad"), "/cds-services/x") == 400
    assert status_of(TooLargeError("", "d", 1, "too big"), "/cds-services/x") == 413


def _app(error: VenaPathError) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    async def fail() -> None:
        raise error

    app.add_api_route("/api/v1/fail", fail)
    app.add_api_route("/api/v1/fhir/fail", fail)
    return TestClient(app)


def test_rest_answers_problem_json_naming_the_field() -> None:
    response = _app(InputError([Problem("/exam/gcs", "too high")])).get("/api/v1/fail")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"pointer": "/exam/gcs", "detail": "too high"}]


def test_fhir_paths_answer_an_operation_outcome() -> None:
    response = _app(InputError([Problem("Bundle.entry[0]", "bad")])).get("/api/v1/fhir/fail")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[0]"]


def test_retry_after_and_www_authenticate() -> None:
    assert _app(RateLimitedError("slow", 7)).get("/api/v1/fail").headers["retry-after"] == "7"
    unavailable = _app(UnavailableError("away", retry_after=3)).get("/api/v1/fail")
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "3")
    refused = _app(UnauthenticatedError("expired")).get("/api/v1/fail")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_conflict_names_the_version() -> None:
    body = _app(ConflictError("changed since read")).get("/api/v1/fail").json()
    assert body["errors"] == [{"pointer": "/version", "detail": "changed since read"}]


def _cli(error: Exception) -> typer.Typer:
    app = typer.Typer(cls=VenaPathGroup)

    @app.command()
    def fail() -> None:
        raise error

    @app.command()
    def other() -> None:
        """A second command, so `fail` stays a subcommand."""

    return app


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (InputError.at("/exam/gcs", "too high"), 2, "/exam/gcs: too high"),
        (NotFoundError("patient", "p1"), 2, "patient 'p1' does not exist"),
        (UnavailableError("the database cannot be reached"), 3, "cannot be reached"),
    ],
)
def test_cli_maps_the_tree_to_exit_codes(error: VenaPathError, code: int, words: str) -> None:
    result = CliRunner().invoke(_cli(error), ["fail"])
    assert result.exit_code == code
    assert words in result.output
    assert "Traceback" not in result.output


def test_cli_markup_in_a_message_is_printed_as_text() -> None:
    result = CliRunner().invoke(_cli(InputError.at("/a", "[bold]x[/bold]")), ["fail"])
    assert "[bold]x[/bold]" in result.output
