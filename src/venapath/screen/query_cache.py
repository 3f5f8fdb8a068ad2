"""The compiled rules query, cached on disk per knowledge version and reused.

Why: the knowledge base compiles to one large query (hundreds of kB of SQL). Building the
Ibis expression and compiling it through sqlglot took about 5 s per screen, the same every
time for the same knowledge base, a fixed cost that dominated small screens.

What makes two runs share a query. The query reads only tables of fixed names (the facts,
errors and follow-up tables the pipeline materialises first), so it depends on nothing but:
the knowledge version (release plus content hash), the `--only` pathway, the engine's SQL
dialect, the column types of those tables, and the code that compiles it. All of that is in
the key; anything else changing would be a bug, and a changed key simply compiles afresh.
The run's moment (`now`) is not in the query: the clocks are computed into the facts table.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

__all__ = ["CACHE_DIR_NAME", "QueryCache", "cache_key"]

CACHE_DIR_NAME: Final = ".cache"
"""Folder inside the screen's output folder holding compiled queries."""

_COMPILER_SOURCES: Final = ("rules.py", "scores.py", "conditions.py", "pipeline.py")
"""Modules whose code shapes the rules query: a change to any of them changes the key."""


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _COMPILER_SOURCES:
        digest.update((here / name).read_bytes())
    import ibis

    digest.update(ibis.__version__.encode())
    return digest.hexdigest()


def cache_key(
    knowledge_version: str, only: str | None, dialect: str, schemas: Sequence[str]
) -> str:
    """Hex key naming one compiled query; see the module docstring for what goes in."""
    parts = {
        "knowledge_version": knowledge_version,
        "only": only,
        "dialect": dialect,
        "schemas": list(schemas),
        "code": _code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


class QueryCache:
    """Compiled queries read from `previous` (the last run's output) and written to `current`
        (this run's staging folder), so the cache moves with the results it produced. Within a run
    a query is kept in memory too: a partitioned screen runs it once per partition.
    `hit` says whether this run read a query compiled by an earlier run."""

    def __init__(self, previous: Path, current: Path) -> None:
        self.previous = previous / CACHE_DIR_NAME
        self.current = current / CACHE_DIR_NAME
        self.hit = False
        self._this_run: dict[str, str] = {}

    def get(self, key: str, dialect: str, build: Callable[[], str]) -> str:
        name = f"rules-{key}.{dialect}.sql"
        if name in self._this_run:
            return self._this_run[name]
        cached = self.previous / name
        if cached.is_file():
            sql = cached.read_text(encoding="utf-8")
            self.hit = True
        else:
            sql = build()
        self.current.mkdir(parents=True, exist_ok=True)
        partial = self.current / f"{name}.partial"
        partial.write_text(sql, encoding="utf-8")
        os.replace(partial, self.current / name)
        self._this_run[name] = sql
        return sql
