"""`venapath evaluate` starts at once: it loads the decision core and nothing it does not use.

The registry (SQLAlchemy, Alembic), the web service (FastAPI, uvicorn, httpx) and the
population screen (DuckDB, Ibis, PySpark) are subcommands of their own and are imported only
when one of them runs (`venapath/cli/lazy.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paths_support import EXAMPLES
from venapath.cli.lazy import LAZY_COMMANDS, load_command
from venapath.cli.main import app

CASE = EXAMPLES / "seed-cvt-intracranial-hypotension.yaml"
FORBIDDEN = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "ibis",
    "pyspark",
    "duckdb",
    "pandas",
    "pyarrow",
    "fhir",  # fhir.resources
    "venapath.persistence",
    "venapath.services.registry",
    "venapath.api",
    "venapath.cdshooks",
    "venapath.screen",
    "venapath.fhir",
    "venapath.sof",
)
RUN_EVALUATE = (
    "import sys\n"
    "from venapath.cli.main import main\n"
    "sys.argv = ['venapath', *sys.argv[1:]]\n"
    "main()\n"
)


def _imported_modules(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    """Run the CLI in a fresh interpreter with -X importtime; the modules it imported."""
    environment = {**os.environ, "VENAPATH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN_EVALUATE, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, done.stdout


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.slow  # a fresh interpreter per test (seconds each)
def test_evaluate_json_loads_the_decision_core_only(tmp_path: Path) -> None:
    modules, output = _imported_modules(tmp_path, "evaluate", "--format", "json", str(CASE))
    assert json.loads(output)["urgency"] == "emergency"
    assert {"venapath.engine.evaluate", "venapath.kb.loader", "pydantic"} <= modules
    loaded = sorted(m for m in modules for p in FORBIDDEN if _matches(m, p))
    assert loaded == [], f"venapath evaluate imported {loaded}"
    assert not any(_matches(m, "rich") for m in modules), "JSON output needs no rich"


@pytest.mark.slow  # a fresh interpreter per test (seconds each)
def test_evaluate_text_loads_rich_but_nothing_heavier(tmp_path: Path) -> None:
    modules, output = _imported_modules(tmp_path, "evaluate", str(CASE))
    assert "Urgency: emergency" in output
    assert "rich.table" in modules
    assert sorted(m for m in modules for p in FORBIDDEN if _matches(m, p)) == []


@pytest.mark.slow  # a fresh interpreter per test (seconds each)
def test_a_registry_command_still_loads_its_own_modules(tmp_path: Path) -> None:
    """The lazy table is not a way to lose a command: `db` pulls in SQLAlchemy when it runs."""
    modules, output = _imported_modules(tmp_path, "db", "--help")
    assert "upgrade" in output
    assert "sqlalchemy" in modules


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_lazy_command_resolves_to_a_named_command(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert command.help or command.callback is not None


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for name in (*LAZY_COMMANDS, "evaluate", "schema", "facts"):
        assert f" {name} " in result.output, name


def test_an_unknown_command_is_refused_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["evaluat"])
    assert result.exit_code == 2
    assert "evaluat" in result.output
