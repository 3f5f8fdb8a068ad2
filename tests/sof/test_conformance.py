"""The official SQL on FHIR v2 conformance suite, on DuckDB and on Spark.

Every case of every file runs on both engines. Cases listed in `venapath/sof/unsupported.yaml`
are strict xfails, so one that starts passing fails the run until the list is updated.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from venapath.sof import ViewDefinitionError, ViewEvaluationError, run_view

SUITE = Path(
    os.environ.get(
        "VENAPATH_SOF_SUITE",
        Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sql-on-fhir-v2-tests",
    )
)
ENGINES = ("duckdb", "duckdb-typed", "spark")
"""duckdb-typed: the typed fast path the screen uses (general path for what it cannot read)."""


def _unsupported() -> dict[tuple[str, str, str], str]:
    text = resources.files("venapath.sof").joinpath("unsupported.yaml").read_text("utf-8")
    entries = yaml.safe_load(text) or []
    out: dict[tuple[str, str, str], str] = {}
    for entry in entries:
        engines = ENGINES if entry["engine"] == "all" else _engines(entry["engine"])
        for engine in engines:
            out[(entry["file"], entry["test"], engine)] = entry["reason"]
    return out


def _engines(name: str) -> tuple[str, ...]:
    """An entry for DuckDB holds for its typed path too."""
    return ("duckdb", "duckdb-typed") if name == "duckdb" else (name,)


def _cases() -> Iterator[Any]:
    if not SUITE.is_dir():
        yield pytest.param(
            None, None, None, marks=pytest.mark.skip(reason=f"suite not found at {SUITE}")
        )
        return
    unsupported = _unsupported()
    for path in sorted(SUITE.glob("*.json")):
        suite = json.loads(path.read_text("utf-8"))
        for test in suite["tests"]:
            for engine in ENGINES:
                reason = unsupported.get((path.name, test["title"], engine))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(
                    engine,
                    suite["resources"],
                    test,
                    id=f"{path.stem}/{test['title']}/{engine}",
                    marks=marks,
                )


def _normal(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() else round(value, 9)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(
        json.dumps({k: _normal(v) for k, v in row.items()}, sort_keys=True) for row in rows
    )


@pytest.fixture(scope="module")
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB for the module's cases, as the screen shares one for its views.

    Opening a connection costs more than most cases; each case registers its resources under
    a name of its own and unregisters them afterwards, so no case sees another's data. The
    one-connection-per-call path (`connection=None`) is the NDJSON test's below."""
    connection = duckdb.connect()
    yield connection
    connection.close()


def _run(engine: str, resources_: list[dict[str, Any]], view: Any, request: Any) -> Any:
    if engine == "spark":
        spark = request.getfixturevalue("spark_session")
        rows = run_view(view, "spark", resources_, spark=spark)
        assert isinstance(rows, list)
        return rows, list(rows[0]) if rows else None
    table = run_view(
        view,
        "duckdb",
        resources_,
        connection=request.getfixturevalue("duckdb_connection"),
        typed=engine == "duckdb-typed",
    )
    assert not isinstance(table, list)
    return table.to_pylist(), table.column_names


@pytest.mark.parametrize(("engine", "resources_", "test"), list(_cases()))
def test_conformance(
    engine: str, resources_: list[dict[str, Any]], test: dict[str, Any], request: Any
) -> None:
    if test.get("expectError"):
        with pytest.raises((ViewDefinitionError, ViewEvaluationError)):
            _run(engine, resources_, test["view"], request)
        return
    rows, columns = _run(engine, resources_, test["view"], request)
    assert _canonical(rows) == _canonical(test["expect"])
    if "expectColumns" in test and columns is not None:
        assert columns == test["expectColumns"]
    elif test["expect"] and columns is not None:
        assert set(columns) == {k for row in test["expect"] for k in row}


@pytest.mark.parametrize("engine", ENGINES)
def test_ndjson_files_give_the_same_rows(engine: str, tmp_path: Path, request: Any) -> None:
    """The Bulk-export path (NDJSON on disk, split over files) against one suite case."""
    if not SUITE.is_dir():
        pytest.skip(f"suite not found at {SUITE}")
    suite = json.loads((SUITE / "union.json").read_text("utf-8"))
    test = next(t for t in suite["tests"] if t["title"] == "basic")
    files = [tmp_path / "Patient.000.ndjson", tmp_path / "Patient.001.ndjson"]
    for n, path in enumerate(files):
        lines = [json.dumps(r) for r in suite["resources"][n::2]]
        path.write_text("\n".join(lines) + "\n", "utf-8")
    if engine == "spark":
        rows = run_view(
            test["view"], "spark", files, spark=request.getfixturevalue("spark_session")
        )
    else:
        table = run_view(test["view"], "duckdb", files)
        assert not isinstance(table, list)
        rows = table.to_pylist()
    assert isinstance(rows, list)
    assert _canonical(rows) == _canonical(test["expect"])


def test_unsupported_entries_name_real_cases() -> None:
    """A stale entry (renamed or removed case) would otherwise xfail nothing, silently."""
    if not SUITE.is_dir():
        pytest.skip(f"suite not found at {SUITE}")
    known = {
        (path.name, test["title"])
        for path in SUITE.glob("*.json")
        for test in json.loads(path.read_text("utf-8"))["tests"]
    }
    stale = [key for key in _unsupported() if key[:2] not in known or key[2] not in ENGINES]
    assert stale == []
