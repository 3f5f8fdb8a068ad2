"""`venapath users`: accounts from the command line; passwords never echoed or taken as options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from venapath.cli.main import app

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/venapath"


def _run(tmp_path: Path, *args: str, stdin: str = "", env: str = "production") -> Any:
    """`venapath ARGS` in process (the root group maps errors as the installed command does)."""
    environment = {
        "VENAPATH_DATA_DIR": str(tmp_path),
        "VENAPATH_ENV": env,
        "VENAPATH_DATABASE_URL": None,
    }
    result = CliRunner().invoke(app, list(args), input=stdin, env=environment)
    result.returncode = result.exit_code
    return result


def test_users_lifecycle(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    secret = "a long and private pass phrase"
    added = _run(
        tmp_path, "users", "add", "jdoe", "--role", "clinician", "--password-stdin", stdin=secret
    )
    assert added.returncode == 0, added.stderr
    weak = _run(tmp_path, "users", "add", "weak", "--role", "admin", "--password-stdin", stdin="pw")
    assert weak.returncode == 2
    assert "/password" in weak.stderr
    assert _run(tmp_path, "users", "set-role", "jdoe", "researcher").returncode == 0
    assert _run(tmp_path, "users", "disable", "jdoe").returncode == 0
    listed = _run(tmp_path, "users", "list")
    assert "jdoe" in listed.stdout
    assert "researcher" in listed.stdout
    assert "disabled" in listed.stdout
    assert secret not in listed.stdout + listed.stderr + added.stdout + added.stderr
    assert "$argon2" not in listed.stdout

    # every change is in the audit trail, as the operator at the command line
    trail = tmp_path / "audit.ndjson"
    since = "2000-01-01T00:00:00+00:00"
    assert _run(tmp_path, "audit", "export", "--since", since, "--out", str(trail)).returncode == 0
    changes = [e for e in map(json.loads, trail.read_text().splitlines()) if "jdoe" in str(e)]
    assert [e["outcomeDesc"] for e in changes] == ["add jdoe", "set-role jdoe", "disable jdoe"]
    assert [e["subtype"][0]["code"] for e in changes] == ["create", "update", "update"]
    assert all(e["agent"][0]["who"]["identifier"]["value"].startswith("cli:") for e in changes)
    assert secret not in trail.read_text()
    assert "audit chain intact" in _run(tmp_path, "audit", "verify").stdout


def test_demo_accounts_only_in_development(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    refused = _run(tmp_path, "users", "demo")
    assert refused.returncode == 2
    made = _run(tmp_path, "users", "demo", env="development")
    assert made.returncode == 0, made.stderr
    assert "demo-clinician" in made.stdout
    assert "demo-admin" in made.stdout


def test_an_account_error_exits_2_naming_the_field(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    missing = _run(tmp_path, "users", "disable", "nobody")
    assert missing.returncode == 2
    assert "error: account 'nobody' does not exist" in missing.stderr
    role = _run(
        tmp_path, "users", "add", "xavier", "--role", "pope", "--password-stdin", stdin="p" * 20
    )
    assert role.returncode == 2
    assert "error: /role: " in role.stderr
    assert "Traceback" not in missing.output + role.output


def test_a_database_that_is_away_exits_3() -> None:
    """Retry later (3), not "change your input" (2): the same map as every other command."""
    result = CliRunner().invoke(app, ["users", "list"], env={"VENAPATH_DATABASE_URL": UNREACHABLE})
    assert result.exit_code == 3, result.output
    assert "unavailable: " in result.stderr
    assert "cannot be reached" in result.stderr


def test_bad_account_settings_exit_2_naming_the_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["users", "list"], env={"VENAPATH_ENV": "staging", "VENAPATH_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2, result.output
    assert "VENAPATH_ENV" in result.stderr
