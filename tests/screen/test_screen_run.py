"""Screen runs: the rules query is compiled once per knowledge version; memory options."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from venapath.screen.pipeline import (
    SPILL_DIR_NAME,
    ScreenInputError,
    ScreenOptions,
    screen,
)
from venapath.screen.query_cache import CACHE_DIR_NAME
from venapath.synth import DEFAULT_AS_OF, write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(folder, 60, seed=3, as_of=DEFAULT_AS_OF)
    return folder


def _rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY patient_id").fetchall()


def test_the_second_run_reuses_the_compiled_rules_query(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = screen(cohort, out, ScreenOptions(memory_limit="1GB"))
    first_rows = _rows(first.patients_path)
    assert first.summary["run"]["rules_query_cached"] is False
    cached = list((out / CACHE_DIR_NAME).glob("rules-*.duckdb.sql"))
    assert len(cached) == 1
    second = screen(cohort, out, ScreenOptions())
    assert second.summary["run"]["rules_query_cached"] is True
    assert _rows(second.patients_path) == first_rows
    assert not (out / SPILL_DIR_NAME).exists()
    other = screen(cohort, tmp_path / "other", ScreenOptions(only="leg_dvt"))
    assert other.summary["run"]["rules_query_cached"] is False


def test_a_changed_cached_query_is_what_runs(cohort: Path, tmp_path: Path) -> None:
    """The cache is really read (not just written): a planted query's rows come out."""
    out = tmp_path / "out"
    screen(cohort, out, ScreenOptions())
    (cached,) = (out / CACHE_DIR_NAME).glob("rules-*.duckdb.sql")
    cached.write_text(cached.read_text() + " LIMIT 3")
    again = screen(cohort, out, ScreenOptions())
    assert len(_rows(again.patients_path)) == 3
    assert json.loads((out / "summary.json").read_text())["run"]["rules_query_cached"]


@pytest.mark.parametrize("value", ["lots", "12", "-1GB", "1.5 parsecs"])
def test_a_bad_memory_limit_is_refused_by_name(cohort: Path, tmp_path: Path, value: str) -> None:
    with pytest.raises(ScreenInputError, match="--memory-limit"):
        screen(cohort, tmp_path / "out", ScreenOptions(memory_limit=value))
    assert not (tmp_path / "out").exists()
