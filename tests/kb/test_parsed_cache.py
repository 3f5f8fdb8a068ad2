"""The parsed-YAML cache changes how fast the knowledge base loads, never what it holds."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from venapath.kb.loader import DEFAULT_KB_DIR, KnowledgeBaseError, load_knowledge_base
from venapath.kb.parsed_cache import CACHE_DIR_ENV


def _copy_kb(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, target)
    return target


def _without_compiled_checks(items: tuple[Any, ...]) -> list[Any]:
    """Rules and pathways minus their compiled closures, which compare by identity."""
    closures = {"check": None, "provided_check": None, "unless_check": None}
    return [
        dataclasses.replace(item, **{k: v for k, v in closures.items() if hasattr(item, k)})
        for item in items
    ]


def _cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("kb-parsed-*.json"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder


def test_a_cached_load_equals_a_parsed_one(tmp_path: Path, cache: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    first = load_knowledge_base(kb_dir)
    assert len(_cache_files(cache)) == 1
    second = load_knowledge_base(kb_dir)
    assert second.version == first.version
    assert _without_compiled_checks(second.rules) == _without_compiled_checks(first.rules)
    assert _without_compiled_checks(second.pathways) == _without_compiled_checks(first.pathways)
    assert second.sources == first.sources
    assert second.time_windows == first.time_windows
    assert second.value_sets == first.value_sets


def test_a_changed_file_misses_the_cache(tmp_path: Path, cache: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    before = load_knowledge_base(kb_dir)
    manifest = kb_dir / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "\n# edited\n")
    after = load_knowledge_base(kb_dir)
    assert after.content_hash != before.content_hash
    assert len(_cache_files(cache)) == 2


def test_a_cached_document_is_still_validated(tmp_path: Path, cache: Path) -> None:
    """A cache file altered behind the loader's back is refused like a bad YAML file."""
    kb_dir = _copy_kb(tmp_path)
    load_knowledge_base(kb_dir)
    (cached,) = _cache_files(cache)
    text = cached.read_text()
    assert '"source": "ESO-2017"' in text
    cached.write_text(text.replace('"source": "ESO-2017"', '"source": "NO-SUCH-SOURCE"'))
    with pytest.raises(KnowledgeBaseError, match="NO-SUCH-SOURCE"):
        load_knowledge_base(kb_dir)


def test_an_unreadable_cache_falls_back_to_parsing(tmp_path: Path, cache: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    expected = load_knowledge_base(kb_dir)
    (cached,) = _cache_files(cache)
    cached.write_text("{ not json")
    reloaded = load_knowledge_base(kb_dir)
    assert _without_compiled_checks(reloaded.rules) == _without_compiled_checks(expected.rules)


def test_a_broken_file_is_reported_every_time_and_never_cached(tmp_path: Path, cache: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    (kb_dir / "manifest.yaml").write_text("version: [unclosed\n")
    for _ in range(2):
        with pytest.raises(KnowledgeBaseError, match=r"manifest\.yaml"):
            load_knowledge_base(kb_dir)
    assert _cache_files(cache) == []


def test_a_yaml_date_is_not_cached_as_text(tmp_path: Path, cache: Path) -> None:
    """JSON cannot carry a date: such a knowledge base is parsed every time instead."""
    kb_dir = _copy_kb(tmp_path)
    manifest = kb_dir / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "\nx_reviewed: 2026-12-01\n")
    # Whether the manifest accepts the extra key is not this test's concern.
    with contextlib.suppress(KnowledgeBaseError):
        load_knowledge_base(kb_dir)
    assert _cache_files(cache) == []


def test_off_switches_the_cache_off(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, "off")
    load_knowledge_base(_copy_kb(tmp_path))
    assert not cache.exists()
