"""A cache of the knowledge base's parsed YAML, keyed by the exact bytes of its files.

Parsing the YAML is most of a knowledge-base load (about 0.1 s of a `venapath evaluate` that
should take well under half a second), while reading the same documents back from JSON takes
a few milliseconds. Only the parse is cached: every rule, source and window is still validated
on every load, so a cached load refuses exactly what an uncached one refuses.

The key is a SHA-256 over every file's path and bytes, the PyYAML version and this module's
format number: a changed file, a new parser or a new format misses the cache. A document that
JSON cannot carry unchanged (a YAML date, a non-string key) disables caching for that knowledge
base rather than altering what the loader sees. Any failure to read or write the cache falls
back to parsing; the cache is never needed.

The folder is VENAPATH_CACHE_DIR when set ("off" disables the cache), else
$XDG_CACHE_HOME/venapath, else ~/.cache/venapath.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CACHE_FORMAT = 1
CACHE_DIR_ENV = "VENAPATH_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where parsed knowledge bases are kept, or None when caching is switched off."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "venapath"


def parsed_documents(
    directory: Path, files: list[Path], parse: Callable[[Path], Any]
) -> dict[Path, Any]:
    """Every file's parsed document: from the cache when its bytes are unchanged, else `parse`.

    `parse` reports its own problems (and returns None for a file it cannot parse); a result
    holding any None document is not cached, so a broken file is re-read, and re-reported,
    every time.
    """
    folder = cache_dir()
    if folder is None:
        return {path: parse(path) for path in files}
    key = _key(directory, files)
    target = folder / f"kb-parsed-{key}.json"
    cached = _read(target, directory, files)
    if cached is not None:
        return cached
    documents = {path: parse(path) for path in files}
    if all(document is not None for document in documents.values()):
        _write(target, directory, documents)
    return documents


def _key(directory: Path, files: list[Path]) -> str:
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{yaml.__version__}\0".encode())
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _read(target: Path, directory: Path, files: list[Path]) -> dict[Path, Any] | None:
    try:
        stored = json.loads(target.read_bytes())
        return {path: stored[path.relative_to(directory).as_posix()] for path in files}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(target: Path, directory: Path, documents: dict[Path, Any]) -> None:
    named = {path.relative_to(directory).as_posix(): doc for path, doc in documents.items()}
    try:
        text = json.dumps(named, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return  # a date or other non-JSON value: parse every time instead
    if json.loads(text) != named:
        return  # JSON would change a document (e.g. an integer key): never cache that
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".kb-parsed-")
    except OSError:
        return  # a read-only or missing home: parse every time
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)  # atomic: a reader sees the old file or the whole new one
    except OSError:
        Path(temporary).unlink(missing_ok=True)
