"""`venapath screen EXPORT_DIR --out DIR`: the rules over a whole FHIR Bulk export.

The command parses options, shows progress and prints the summary; the screen itself lives
in `venapath.screen` so tests and the benchmark run exactly the same pipeline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from venapath.cli.inputs import fail_input, parse_moment

console = Console(stderr=True, soft_wrap=True)
output = Console(soft_wrap=True)


TOKEN_VARIABLE = "VENAPATH_BULK_TOKEN"
"""Environment variable holding the bearer token for --from (never an option: the command
line of a process is visible to every user of the machine)."""


def screen_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for patients.parquet and summary.json.")
    ],
    export_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder of a FHIR Bulk Data export (NDJSON, manifest.json)."),
    ] = None,
    from_url: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Export straight from the EHR: its Group/ID/$export or Patient/$export URL. "
            f"Bearer token from ${TOKEN_VARIABLE}.",
        ),
    ] = None,
    download_dir: Annotated[
        Path | None,
        typer.Option(
            "--download-dir",
            help="Where --from downloads (resumable; default OUT.download beside OUT).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="With --from: only resources changed since (ISO 8601)."),
    ] = None,
    max_wait: Annotated[
        float, typer.Option("--max-wait", help="With --from: longest wait for the export, s.")
    ] = 3600.0,
    engine: Annotated[str, typer.Option(help="Engine: duckdb or spark.")] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="Spark master URL (default local[*]); --engine spark."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Screen only the first N patients (by id).")
    ] = None,
    only: Annotated[
        str | None, typer.Option(help="Keep only patients for whom this pathway applies.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The moment to screen at (ISO 8601 with zone). Default: the export's "
            "transactionTime, else now.",
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="DuckDB memory limit (e.g. 1.5GB); past it DuckDB spills to OUT's staging "
            "folder. Default: DuckDB's own (80% of RAM).",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            help="DuckDB: screen the patients in this many partitions (ranges of patient "
            "ids), so memory holds one at a time. Default: one per 512 MB of NDJSON.",
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Summary on stdout: table or json.")
    ] = "table",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Screen every patient of a Bulk export: pathways, urgency, candidates, contraindications,
    missing facts. Writes OUT/patients.parquet and OUT/summary.json."""
    # Imported here: the engines (DuckDB, Ibis, Spark) would slow every other command's start.
    from venapath.screen.pipeline import ScreenOptions, screen

    if output_format not in ("table", "json"):
        fail_input(f"--format: {output_format!r}; expected table or json")
    if (export_dir is None) == (from_url is None):
        fail_input("EXPORT_DIR or --from: give exactly one (a folder or an EHR's $export URL)")
    if from_url is not None:
        export_dir = _download(
            from_url,
            download_dir or out.with_name(out.name + ".download"),
            parse_moment("--since", since) if since else None,
            max_wait,
            quiet,
        )
    elif download_dir is not None or since is not None:
        fail_input("--download-dir and --since: only with --from")
    assert export_dir is not None
    options = ScreenOptions(
        engine=engine,  # type: ignore[arg-type]  # checked by the screen, which names it
        spark_master=spark_master,
        limit=limit,
        only=only,
        now=parse_moment("--as-of", as_of) if as_of else None,
        memory_limit=memory_limit,
        partitions=partitions,
    )
    progress = Progress(
        TextColumn("[bold]screen[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task("starting", total=1.0, rate="")
        started = time.perf_counter()

        def report(stage: str, done: float, lines: int) -> None:
            elapsed = time.perf_counter() - started
            rate = f"{lines / elapsed:,.0f} rows/s" if lines and elapsed else ""
            progress.update(task, description=stage, completed=done, rate=rate)

        try:
            result = screen(export_dir, out, options, progress=report)
        except OSError as error:
            fail_input(f"--out: {error}")
    if output_format == "json":
        output.print_json(json.dumps(result.summary))
        return
    _print_summary(result.summary, result.out_dir)


def _download(url: str, folder: Path, since: Any, max_wait: float, quiet: bool) -> Path:
    """Run (or resume) the Bulk Data export into `folder`, with a progress bar."""
    import os

    from rich.progress import DownloadColumn, TransferSpeedColumn

    from venapath.screen.bulk_client import BulkDataError, BulkOptions, StaticToken
    from venapath.screen.bulk_client import download_export as export
    from venapath.screen.views import RESOURCE_VIEWS

    options = BulkOptions(types=tuple(RESOURCE_VIEWS), since=since, max_wait=max_wait)
    tokens = StaticToken(os.environ.get(TOKEN_VARIABLE) or None)
    bar = Progress(
        TextColumn("[bold]bulk[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    with bar:
        task = bar.add_task("kick-off", total=None)

        def report(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total or None)

        try:
            return export(url, folder, tokens, options, progress=report)
        except BulkDataError as error:
            fail_input(str(error))
        except OSError as error:
            fail_input(f"--download-dir: {error}")
    raise AssertionError("unreachable")


def _print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    patients = summary["patients"]
    seconds = summary["run"]["seconds"]
    rate = patients / seconds if seconds else 0.0
    output.print(
        f"Screened {patients:,} patients in {seconds:.1f} s ({rate:,.0f} patients/s) with "
        f"knowledge base {summary['knowledge_version']}, as of {summary['as_of']}."
    )
    export = summary["export"]
    if export["corrupt_lines"]:
        output.print(
            f"[yellow]{export['corrupt_lines']:,} corrupt NDJSON line(s) skipped[/]; first:"
        )
        for example in export["corrupt_examples"][:10]:
            output.print(f"  {example['file']}:{example['line']}: {example['problem']}")
    if summary["patients_with_errors"]:
        output.print(
            f"[yellow]{summary['patients_with_errors']:,} patient(s) with an impossible "
            "record[/] (see the `error` column)."
        )
    output.print(_findings_table(summary))
    output.print(_pathway_table(summary))
    output.print(_missing_table(summary))
    output.print(f"Per-patient table: {out_dir / 'patients.parquet'}")
    output.print(f"Summary: {out_dir / 'summary.json'}")


def _findings_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Findings", title_justify="left")
    table.add_column("finding")
    table.add_column("patients", justify="right")
    table.add_column("share", justify="right")
    for name, value in summary["findings"].items():
        table.add_row(name.replace("_", " "), f"{value['patients']:,}", f"{value['share']:.2%}")
    for name, value in summary["urgency"].items():
        table.add_row(f"urgency {name}", f"{value['patients']:,}", f"{value['share']:.2%}")
    return table


def _pathway_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Pathways", title_justify="left")
    table.add_column("pathway")
    table.add_column("applies", justify="right")
    table.add_column("share", justify="right")
    table.add_column("possible", justify="right")
    for pathway in summary["pathways"]:
        table.add_row(
            pathway["id"],
            f"{pathway['applies']:,}",
            f"{pathway['applies_share']:.2%}",
            f"{pathway['possible']:,}",
        )
    return table


def _missing_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Facts missing most often", title_justify="left")
    table.add_column("fact")
    table.add_column("patients", justify="right")
    table.add_column("settled by")
    for item in summary["missing_facts"]:
        table.add_row(item["fact"], f"{item['patients']:,}", ", ".join(item["settled_by"]))
    return table
