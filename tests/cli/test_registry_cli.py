"""Registry commands end to end on a SQLite file: db, demo, worklist, export/import,
backup/restore; bad input gives exit 2 and a message that names the problem."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from venapath.cli.main import app
from venapath.persistence import migrate

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VENAPATH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("VENAPATH_DATABASE_URL", raising=False)
    return tmp_path / "var"


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_schema_commands(data_dir: Path) -> None:
    assert "none (empty database)" in _run("db", "current")
    assert f"is at revision {migrate.head()}" in _run("db", "upgrade")
    assert "schema is current" in _run("db", "check")


FULL_DEMO = pytest.mark.slow
"""Loads the whole demonstration registry through the CLI (seconds of CPU): `make test` runs
it, `make unit` leaves it out; the demo data itself is read by the web tests in the inner loop."""


@FULL_DEMO
def test_demo_worklist_export_import_backup_restore(data_dir: Path, tmp_path: Path) -> None:
    assert "demo data loaded" in _run("demo", "load")
    assert "already loaded" in _run("demo", "load")
    worklist = json.loads(_run("followup", "due", "--format", "json"))
    states = {item["state"] for item in worklist}
    assert {"call_today", "overdue", "due"} <= states
    ahead = json.loads(_run("followup", "due", "--days-ahead", "30", "--format", "json"))
    assert "upcoming" in {item["state"] for item in ahead}
    assert "DEMO-05" in _run("followup", "due")

    patient_id = worklist[0]["task"]["patient_id"]
    bundle_file = tmp_path / "record.json"
    _run("export", patient_id, "--out", str(bundle_file))
    bundle = json.loads(bundle_file.read_text())
    assert bundle["resourceType"] == "Bundle"
    assert "already used" in _run("import", str(bundle_file), code=2)
    pseudonym = worklist[0]["task"]["pseudonym"]
    bundle_file.write_text(bundle_file.read_text().replace(pseudonym, "COPY-OF-DEMO"))
    assert "imported patient" in _run("import", str(bundle_file))

    backup = tmp_path / "backup.sqlite3"
    _run("backup", str(backup))
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        patients = copy.execute("SELECT count(*) FROM patients").fetchone()[0]
    assert "exists; add --force" in _run("restore", str(backup), code=2)
    _run("demo", "load")  # no-op; the live file keeps its data
    assert "restored" in _run("restore", str(backup), "--force")
    with sqlite3.connect(data_dir / "venapath.sqlite3") as live:
        assert live.execute("SELECT count(*) FROM patients").fetchone()[0] == patients


def test_bad_input_names_the_problem(data_dir: Path, tmp_path: Path) -> None:
    assert "--as-of" in _run("followup", "due", "--as-of", "2026-13-01", code=2)
    assert "--format" in _run("followup", "due", "--format", "xml", code=2)
    assert "does not exist" in _run("export", "no-such-patient", code=2)
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    assert "not JSON" in _run("import", str(not_json), code=2)
    not_db = tmp_path / "junk.sqlite3"
    not_db.write_bytes(b"not a database at all" * 100)
    assert "not a VenaPath database" in _run("restore", str(not_db), code=2)


def test_backup_refuses_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENAPATH_DATABASE_URL", "postgresql+psycopg://user@db.example/venapath")
    assert "pg_dump" in _run("backup", "/tmp/never-written.sqlite3", code=2)


@FULL_DEMO
def test_audit_export_and_verify(data_dir: Path, tmp_path: Path) -> None:
    _run("demo", "load")
    assert "audit chain intact" in _run("audit", "verify")
    out = tmp_path / "audit.ndjson"
    _run("audit", "export", "--since", "2000-01-01T00:00:00+00:00", "--out", str(out))
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events
    assert {e["resourceType"] for e in events} == {"AuditEvent"}
    assert events[0]["agent"][0]["who"]["identifier"]["value"] == "service:demo-loader"
    assert "--since" in _run("audit", "export", "--since", "yesterday", code=2)
    database = data_dir / "venapath.sqlite3"
    with sqlite3.connect(database) as live:
        live.execute("DROP TRIGGER audit_events_no_update")
        live.execute(
            "UPDATE audit_events SET actor = 'nobody', event = "
            "replace(event, 'demo-loader', 'nobody') WHERE seq = 5"
        )
    assert "broken at entry 5" in _run("audit", "verify", code=1)
