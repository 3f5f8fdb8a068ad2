"""The command line maps the error tree once: 2 for what the caller must change, 3 for a
database that is away (retry later), one line each, no traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from venapath.cli.main import app

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/venapath"


def test_an_unreachable_database_exits_3_saying_so() -> None:
    result = CliRunner().invoke(
        app, ["followup", "due"], env={"VENAPATH_DATABASE_URL": UNREACHABLE}
    )
    assert result.exit_code == 3
    assert "cannot be reached" in result.output
    assert "Traceback" not in result.output


def test_bad_settings_exit_2_naming_the_variable() -> None:
    result = CliRunner().invoke(app, ["serve"], env={"VENAPATH_PORT": "70000"})
    assert result.exit_code == 2
    assert "VENAPATH_PORT" in result.output


def test_a_case_file_with_an_alias_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text("case_id: a\nx: &a 1\ny: *a\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", str(case)])
    assert result.exit_code == 2
    assert f"{case}: /: line 2: YAML anchors and aliases" in result.output
