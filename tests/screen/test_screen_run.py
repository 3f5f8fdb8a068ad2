"""Screen runs: the rules query is compiled once per knowledge version; memory options and
patient partitions."""

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


def _file_rows(path: Path) -> list[tuple[object, ...]]:
    """The rows in the file's own order (the screen writes them in patient order)."""
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


def _without_run(summary: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in summary.items() if key != "run"}


@pytest.mark.parametrize("limit", [None, 7])
def test_patient_partitions_give_the_unpartitioned_result(
    cohort: Path, tmp_path: Path, limit: int | None
) -> None:
    """Partitioning is only about memory: the same rows in the same order, the same summary.
    Five partitions of 60 patients leave some partitions without rows of some views."""
    whole = screen(cohort, tmp_path / "whole", ScreenOptions(partitions=1, limit=limit))
    split = screen(cohort, tmp_path / "split", ScreenOptions(partitions=5, limit=limit))
    assert whole.summary["run"]["partitions"] == 1
    assert split.summary["run"]["partitions"] == 5
    rows = _file_rows(whole.patients_path)
    assert len(rows) == (limit or 60)
    assert _file_rows(split.patients_path) == rows
    assert _without_run(split.summary) == _without_run(whole.summary)
    assert not (tmp_path / "split" / SPILL_DIR_NAME).exists()


def test_a_large_export_is_partitioned_by_default(
    cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venapath.screen import partition

    export_bytes = sum(p.stat().st_size for p in cohort.glob("*.ndjson"))
    monkeypatch.setattr(partition, "PARTITION_BYTES", -(-export_bytes // 3))
    result = screen(cohort, tmp_path / "out", ScreenOptions())
    assert result.summary["run"]["partitions"] == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ScreenOptions(partitions=0), "--partitions: must be at least 1"),
        (ScreenOptions(engine="spark", partitions=2), "--partitions: only with --engine duckdb"),
    ],
)
def test_bad_partitions_are_refused_by_name(
    cohort: Path, tmp_path: Path, options: ScreenOptions, message: str
) -> None:
    with pytest.raises(ScreenInputError, match=message):
        screen(cohort, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()
