"""`venapath synth` end to end through Typer: files, summary, and clear errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from venapath.cli.main import app

runner = CliRunner()


def test_synth_writes_the_cohort_and_its_manifest(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    result = runner.invoke(app, ["synth", "--patients", "40", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    assert counts["Patient"] == 40
    for item in manifest["output"]:
        assert len((out / item["url"]).read_text().splitlines()) == item["count"]
    assert "Observation" in result.output  # the summary table


def test_synth_is_reproducible_from_the_command_line(tmp_path: Path) -> None:
    for name in ("a", "b"):
        args = ["synth", "-n", "25", "--seed", "9", "--out", str(tmp_path / name), "--quiet"]
        assert runner.invoke(app, args).exit_code == 0
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_synth_honours_the_export_time(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    args = ["synth", "-n", "3", "--out", str(out), "--as-of", "2025-06-30T12:00:00+02:00"]
    result = runner.invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["transactionTime"] == "2025-06-30T12:00:00+02:00"


def test_synth_refuses_fewer_than_one_patient(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--patients", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--patients" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_synth_refuses_an_output_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory")
    result = runner.invoke(app, ["synth", "--patients", "5", "--out", str(target)])
    assert result.exit_code == 2
    assert "not a directory" in result.output
    assert target.read_text() == "not a directory"


def test_synth_refuses_an_export_time_without_a_zone(tmp_path: Path) -> None:
    args = ["synth", "-n", "5", "--out", str(tmp_path / "x"), "--as-of", "2026-01-01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--as-of" in result.output
