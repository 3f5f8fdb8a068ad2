"""Registry commands: the database schema, the follow-up worklist, FHIR export/import,
backup/restore of the embedded SQLite file, the audit trail and the demonstration data.

The person at the command line is `local_operator(<os user>)`: every read and write goes
through the registry door with that principal and is audited under that name.

The database is the one VENAPATH_DATABASE_URL names, else `venapath.sqlite3` in
VENAPATH_DATA_DIR (default `var/`).
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from venapath.cli.inputs import errors, fail_input, parse_day, parse_moment
from venapath.domain.access import Principal, local_operator
from venapath.persistence import migrate
from venapath.persistence.database import Database
from venapath.services.demo import demo_loaded, load_demo
from venapath.services.evaluation import knowledge_base
from venapath.services.exchange import export_patient
from venapath.services.registry import Registry
from venapath.settings import database_url

db_app = typer.Typer(help="The registry database: schema migrations.", no_args_is_help=True)
followup_app = typer.Typer(help="Follow-up worklist.", no_args_is_help=True)
demo_app = typer.Typer(help="Demonstration data.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: export and verify.", no_args_is_help=True)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _operator() -> Principal:
    return local_operator(getpass.getuser())


def _database() -> Database:
    return Database(database_url())


def _registry() -> Registry:
    database = _database()
    migrate.ensure_current(database)
    return Registry(database, knowledge_base())


def _safe_url(database: Database) -> str:
    return make_url(database.url).render_as_string(hide_password=True)


# ------------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    database = _database()
    migrate.upgrade(database, revision)
    out.print(f"{_safe_url(database)} is at revision {migrate.current(database)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the newest this version knows."""
    database = _database()
    out.print(f"database: {_safe_url(database)}")
    out.print(f"revision: {migrate.current(database) or 'none (empty database)'}")
    out.print(f"newest:   {migrate.head()}")


@db_app.command("check")
def db_check() -> None:
    """Exit 1 unless the database is at the newest revision and matches the table models."""
    database = _database()
    try:
        migrate.check(database)
    except migrate.SchemaOutOfDateError as error:
        errors.print(f"[bold red]check failed:[/] {escape(error.message)}", highlight=False)
        raise typer.Exit(code=1) from None
    out.print(f"{_safe_url(database)}: schema is current ({migrate.head()})")


# ------------------------------------------------------------------------- follow-up


@followup_app.command("due")
def followup_due(
    as_of: Annotated[
        str | None, typer.Option(help="The day (YYYY-MM-DD); today if absent.")
    ] = None,
    days_ahead: Annotated[
        int, typer.Option(min=0, max=365, help="Also list tasks opening within N days.")
    ] = 0,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Who needs a call today, who is overdue, who is due."""
    if output_format not in ("text", "json"):
        fail_input(f"--format: {output_format!r} is not one of text, json")
    day = parse_day("--as-of", as_of) if as_of else datetime.now(UTC).date()
    items = _registry().worklist(_operator(), day, days_ahead=days_ahead)
    if output_format == "json":
        rows = [{"state": i.state.value, "task": i.task.model_dump(mode="json")} for i in items]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Follow-up worklist for {day.isoformat()}")
    for column in ("State", "Patient", "Task", "Window", "Protocol"):
        table.add_column(column)
    colours = {"call_today": "bold red", "overdue": "red", "due": "yellow", "upcoming": "cyan"}
    for item in items:
        task = item.task
        protocol = (
            f"{task.protocol_id} v{task.protocol_version}" if task.protocol_id else "check-in"
        )
        state = f"[{colours.get(item.state.value, '')}]{item.state.value}[/]"
        window = f"{task.due_from} → {task.due_by}"
        table.add_row(state, task.pseudonym, task.title, window, protocol)
    out.print(table)
    out.print(f"{len(items)} task(s)")


# -------------------------------------------------------------------- export / import


def export_command(
    patient_id: Annotated[str, typer.Argument(help="The patient's id.")],
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write; stdout if absent.")
    ] = None,
) -> None:
    """Export one patient's record as a FHIR R4 Bundle (JSON)."""
    bundle = export_patient(_registry(), patient_id, _operator())
    text = json.dumps(bundle, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        errors.print(f"wrote {output} ({len(bundle['entry'])} resources)")


def import_command(
    bundle_file: Annotated[Path, typer.Argument(help="A Bundle made by export.")],
) -> None:
    """Import a patient's record from a FHIR Bundle made by `venapath export`."""
    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    except OSError as error:
        fail_input(f"{bundle_file}: {error.strerror}")
    except json.JSONDecodeError as error:
        fail_input(f"{bundle_file}: not JSON (line {error.lineno}: {error.msg})")
    outcome = _registry().import_record(bundle, _operator())
    out.print(f"imported patient {outcome.patient_id}: {outcome.created}")


# ------------------------------------------------------------------- backup / restore


def _sqlite_path() -> Path:
    url = make_url(database_url())
    if url.get_backend_name() != "sqlite" or not url.database:
        fail_input(
            "backup and restore are for the embedded SQLite database; use pg_dump for PostgreSQL"
        )
    return Path(url.database)


def backup_command(
    target: Annotated[Path, typer.Argument(help="The backup file to write.")],
) -> None:
    """Copy the SQLite database to TARGET while it is in use (a consistent snapshot)."""
    source = _sqlite_path()
    if not source.is_file():
        fail_input(f"{source}: no database here yet")
    if target.exists():
        fail_input(f"{target}: exists; choose a new file name")
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    out.print(f"backed up {source} to {target}")


def restore_command(
    backup: Annotated[Path, typer.Argument(help="A file made by `venapath backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that has data.")
    ] = False,
) -> None:
    """Replace the SQLite database with BACKUP after checking it (stop the server first)."""
    if not backup.is_file():
        fail_input(f"{backup}: no such file")
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as candidate:
        try:
            verdict = candidate.execute("PRAGMA integrity_check").fetchone()[0]
            revision = candidate.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as error:
            fail_input(f"{backup}: not a VenaPath database ({error})")
    if verdict != "ok":
        fail_input(f"{backup}: failed its integrity check ({verdict})")
    target = _sqlite_path()
    if target.is_file() and not force:
        fail_input(f"{target} exists; add --force to replace it with {backup}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(backup) as source, sqlite3.connect(target) as live:
        source.backup(live)
    out.print(f"restored {target} from {backup} (revision {revision[0] if revision else 'none'})")
    migrate.upgrade(Database(database_url()))


# ------------------------------------------------------------------------------ audit


@audit_app.command("export")
def audit_export(
    since: Annotated[
        str, typer.Option(help="ISO 8601 date-time with a time zone: entries from then on.")
    ],
    patient: Annotated[str | None, typer.Option(help="Only entries about this patient.")] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="NDJSON file to write; stdout if absent.")
    ] = None,
) -> None:
    """Write the FHIR AuditEvents since a moment as NDJSON (the export is itself audited)."""
    moment = parse_moment("--since", since)
    registry = _registry()
    events = registry.audit.export(_operator(), moment, patient)
    lines = (json.dumps(event, separators=(",", ":")) + "\n" for event in events)
    if output is None:
        count = sum(1 for line in lines if sys.stdout.write(line) is not None)
    else:
        with output.open("w", encoding="utf-8") as sink:
            count = sum(1 for line in lines if sink.write(line) is not None)
    errors.print(f"{count} audit event(s)")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first entry edited, deleted or moved."""
    report = _registry().audit.verify(_operator())
    if not report.intact:
        errors.print(
            f"[bold red]error:[/] audit chain broken at entry {report.broken_at} after "
            f"{report.checked} good entries: {report.reason}",
            highlight=False,
        )
        raise typer.Exit(code=1)
    out.print(f"audit chain intact: {report.checked} entries")


# ------------------------------------------------------------------------------- demo


@demo_app.command("load")
def demo_load() -> None:
    """Load demonstration patients (DEMO-01...) with follow-up in every state."""
    registry = _registry()
    if demo_loaded(registry):
        out.print("demo data is already loaded")
        return
    counts = load_demo(registry)
    out.print(f"demo data loaded: {counts}")
