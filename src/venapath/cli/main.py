"""The `venapath` command line. Commands call services; they hold no clinical logic.

Exit codes (`cli/errors.py`): 0 success, 2 bad input, not found, conflict or refused (the
message names the field and the problem), 3 the database is unavailable or its schema out of
date, 1 an internal failure (reported without a traceback unless VENAPATH_DEBUG is set).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel

from venapath.cli.console import LazyConsole
from venapath.cli.errors import report_internal
from venapath.cli.inputs import fail_input, parse_moment
from venapath.cli.lazy import LazyGroup
from venapath.domain.case import CASE_FORMAT_VERSION, Case
from venapath.engine.assessment import RESULT_FORMAT_VERSION, Assessment
from venapath.kb.model import KnowledgeBase
from venapath.services.case_input import load_case_file
from venapath.services.evaluation import assess_case, knowledge_base

app = typer.Typer(
    name="venapath",
    help="Decision support for venous thrombosis and its interventional treatment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Every subcommand but evaluate, schema and facts is imported only when it runs
    # (venapath/cli/lazy.py): `venapath evaluate` must not pay for SQLAlchemy or FastAPI.
    cls=LazyGroup,
)

stdout = LazyConsole(soft_wrap=False, width=None if sys.stdout.isatty() else 120)
stderr = LazyConsole(stderr=True, soft_wrap=True)


def _parse_now(value: str | None) -> datetime | None:
    return None if value is None else parse_moment("--now", value)


@app.command()
def evaluate(
    cases: Annotated[
        list[Path], typer.Argument(help="Case files (YAML or JSON).", show_default=False)
    ],
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    now: Annotated[
        str | None, typer.Option(help="Evaluation time (ISO 8601) when a case has no as_of.")
    ] = None,
    kb_dir: Annotated[Path | None, typer.Option("--kb", help="Knowledge base directory.")] = None,
    trace: Annotated[bool, typer.Option(help="Show the per-rule trace in text output.")] = False,
) -> None:
    """Evaluate one or more case files and print the recommendations."""
    if output_format not in ("text", "json"):
        fail_input(f"--format: {output_format!r} is not one of text, json")
    moment = _parse_now(now)
    knowledge = _knowledge(kb_dir)
    loaded: list[Case] = [load_case_file(path) for path in cases]
    results = [assess_case(case, now=moment, kb=knowledge) for case in loaded]
    if output_format == "json":
        _print_json(results)
    else:
        from venapath.cli.render import render_assessment  # rich tables: text output only

        for assessment in results:
            render_assessment(stdout.get(), assessment, show_trace=trace)


def _print_json(results: list[Assessment]) -> None:
    documents = [json.loads(result.model_dump_json()) for result in results]
    payload = documents[0] if len(documents) == 1 else documents
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _knowledge(kb_dir: Path | None) -> KnowledgeBase:
    return knowledge_base(kb_dir)


@app.command()
def schema(
    which: Annotated[str, typer.Argument(help="case or result")],
) -> None:
    """Print the JSON Schema of the case format or of the result."""
    models: dict[str, type[BaseModel]] = {"case": Case, "result": Assessment}
    model = models.get(which)
    if model is None:
        fail_input(f"schema: {which!r} is not one of {', '.join(models)}")
    document = model.model_json_schema(mode="validation" if which == "case" else "serialization")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    version = RESULT_FORMAT_VERSION if which == "result" else CASE_FORMAT_VERSION
    document["$id"] = f"https://venapath.org/schema/{which}/v{version}"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command()
def facts() -> None:
    """List every fact a rule can read, with its unit and the case fields that settle it."""
    from rich.table import Table

    from venapath.domain.facts import catalogue

    table = Table(title="Fact catalogue", title_justify="left")
    for column in ("fact", "type", "unit", "settled by", "description"):
        table.add_column(column)
    for definition in catalogue().values():
        table.add_row(
            definition.name,
            definition.type.value,
            definition.unit or "",
            ", ".join(definition.settled_by),
            definition.description,
        )
    stdout.print(table)


def main() -> None:
    """Console entry point. Errors of the tree are mapped by the root group (`cli/errors.py`);
    anything else is an internal failure, reported on one line with exit 1."""
    try:
        app()
    except Exception as error:  # the last line of defence: no traceback for users
        if os.environ.get("VENAPATH_DEBUG"):
            raise
        sys.exit(report_internal(error))
