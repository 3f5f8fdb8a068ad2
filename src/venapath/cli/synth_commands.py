"""`venapath synth`: write a synthetic FHIR R4 cohort as Bulk Data NDJSON files.

The command only parses arguments and shows progress; generation lives in `venapath.synth`
so tests and other tools produce exactly the same patients.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from venapath.cli.inputs import fail_input, parse_moment
from venapath.synth import DEFAULT_AS_OF, write_cohort
from venapath.synth.bulk import check_arguments

console = Console(stderr=True, soft_wrap=True)


def _as_of(value: str | None) -> datetime:
    return DEFAULT_AS_OF if value is None else parse_moment("--as-of", value)


def synth(
    patients: Annotated[int, typer.Option("--patients", "-n", help="How many patients.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the NDJSON files and manifest.")
    ],
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same bytes.")] = 0,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Export time (ISO 8601 with zone); every record is dated before it. "
            f"Default {DEFAULT_AS_OF.isoformat()}, fixed so output does not depend on the day.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar or summary.")] = False,
) -> None:
    """Write a synthetic cohort (FHIR R4 Bulk Data NDJSON plus manifest.json) to --out."""
    moment = _as_of(as_of)
    check_arguments(patients, out, moment)
    progress = Progress(
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("patients"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("patients", total=patients)
        try:
            summary = write_cohort(
                out,
                patients,
                seed,
                moment,
                progress=lambda done: progress.update(task, completed=done),
            )
        except OSError as error:
            fail_input(f"--out: {error}")
    if quiet:
        return
    table = Table(title=f"{summary.manifest_path}", title_justify="left")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for resource_type, count in summary.resources.items():
        table.add_row(resource_type, f"{count:,}")
    console.print(table)
