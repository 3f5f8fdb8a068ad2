"""Write a synthetic cohort as FHIR Bulk Data NDJSON files plus an `$export` manifest.

Why this shape: Bulk Data is how population data leaves an EHR (one NDJSON file per resource
type, and a manifest naming the files and their line counts), so a cohort written this way
feeds the same loaders a real export would. Patients are generated one at a time and their
resources written at once to buffered files, so a million patients never sit in memory; the
manifest is written last (atomically), so its presence means the files are complete.

Same seed, same patients, same bytes: every patient draws from its own generator seeded by
(seed, index), timestamps count back from a fixed `as_of` rather than the clock, and JSON is
written with a fixed key order and separators.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from venapath.errors import ArgumentError
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.synth.profiles import Archetype, SyntheticPatient, generate_patient
from venapath.synth.resources import RESOURCE_TYPES, CodeBook

DEFAULT_AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
"""The moment the cohort is exported (`transactionTime`); every record is dated before it.
Fixed, not the clock, so the same seed gives the same bytes on any day."""
MANIFEST_NAME = "manifest.json"
MAX_PATIENTS = 100_000_000
_BUFFER_BYTES = 1 << 20


class SynthInputError(ArgumentError):
    """A bad argument to the generator (the message names it)."""


@dataclass(frozen=True)
class CohortSummary:
    """What was written: counts by resource type and archetype, and the manifest path."""

    out_dir: Path
    patients: int
    seed: int
    as_of: datetime
    resources: dict[str, int]
    archetypes: dict[str, int]
    manifest: dict[str, Any] = field(repr=False)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST_NAME


def check_arguments(patients: int, out_dir: Path, as_of: datetime) -> None:
    """Refuse what cannot be generated, naming the argument (before any file is touched)."""
    if patients < 1:
        raise SynthInputError(f"--patients: {patients} is not a positive number of patients")
    if patients > MAX_PATIENTS:
        raise SynthInputError(f"--patients: {patients} is more than {MAX_PATIENTS:,}")
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthInputError(f"--out: {out_dir} exists and is not a directory")
    if as_of.tzinfo is None:
        raise SynthInputError("--as-of: needs a time zone (e.g. 2026-01-01T00:00:00+00:00)")


def iter_patients(
    patients: int,
    seed: int,
    as_of: datetime = DEFAULT_AS_OF,
    *,
    kb: KnowledgeBase | None = None,
    start: int = 0,
) -> Iterator[SyntheticPatient]:
    """Generate patients `start` .. `start + patients - 1` of the cohort of `seed`, lazily."""
    book = CodeBook(kb or load_knowledge_base())
    for index in range(start, start + patients):
        yield generate_patient(book, seed, index, as_of)


class NdjsonWriter:
    """One NDJSON file per resource type, opened when its first line arrives.

    Lines are gathered per type and written in blocks: one `write` call per few thousand
    lines instead of one per line.
    """

    def __init__(self, out_dir: Path, block_lines: int = 4096) -> None:
        self.out_dir = out_dir
        self.counts: Counter[str] = Counter()
        self._block_lines = block_lines
        self._files: dict[str, BinaryIO] = {}
        self._pending: dict[str, list[str]] = {}

    def write(self, resource_type: str, line: str) -> None:
        """Queue one resource (serialised JSON without the newline) for its file."""
        pending = self._pending.get(resource_type)
        if pending is None:
            pending = self._pending[resource_type] = []
        pending.append(line)
        if len(pending) >= self._block_lines:
            self._flush(resource_type, pending)

    def _flush(self, resource_type: str, pending: list[str]) -> None:
        if not pending:
            return
        handle = self._files.get(resource_type)
        if handle is None:
            path = self.out_dir / f"{resource_type}.ndjson"
            handle = open(path, "wb", buffering=_BUFFER_BYTES)  # noqa: SIM115 (closed in close())
            self._files[resource_type] = handle
        pending.append("")
        handle.write("\n".join(pending).encode("utf-8"))
        self.counts[resource_type] += len(pending) - 1
        pending.clear()

    def close(self) -> None:
        """Write what is queued and close every file."""
        try:
            for resource_type, pending in self._pending.items():
                self._flush(resource_type, pending)
        finally:
            for handle in self._files.values():
                handle.close()
            self._files.clear()

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def write_cohort(
    out_dir: Path,
    patients: int,
    seed: int,
    as_of: datetime = DEFAULT_AS_OF,
    *,
    kb: KnowledgeBase | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> CohortSummary:
    """Generate `patients` patients into `out_dir` and write the manifest; returns a summary.

    `progress(done)` is called every `progress_every` patients and at the end. Files of
    resource types this cohort does not hold are removed if an earlier run left them, so the
    directory always matches its manifest.
    """
    check_arguments(patients, out_dir, as_of)
    knowledge = kb or load_knowledge_base()
    out_dir.mkdir(parents=True, exist_ok=True)
    stale_manifest = out_dir / MANIFEST_NAME
    if stale_manifest.exists():
        stale_manifest.unlink()  # the directory is incomplete until the new manifest lands
    archetypes: Counter[str] = Counter()
    with NdjsonWriter(out_dir) as writer:
        for done, patient in enumerate(iter_patients(patients, seed, as_of, kb=knowledge), start=1):
            for resource_type, line in patient.lines:
                writer.write(resource_type, line)
            archetypes[patient.archetype.value] += 1
            if progress is not None and done % progress_every == 0:
                progress(done)
    counts = dict(writer.counts)  # complete only once the writer has flushed and closed
    for resource_type in RESOURCE_TYPES:
        path = out_dir / f"{resource_type}.ndjson"
        if resource_type not in counts and path.exists():
            path.unlink()
    archetype_counts = {a.value: archetypes[a.value] for a in Archetype if archetypes[a.value]}
    manifest = build_manifest(counts, patients, seed, as_of, knowledge, archetype_counts)
    _write_atomically(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    if progress is not None:
        progress(patients)
    ordered = {t: counts[t] for t in RESOURCE_TYPES if t in counts}
    return CohortSummary(out_dir, patients, seed, as_of, ordered, archetype_counts, manifest)


def build_manifest(
    counts: dict[str, int],
    patients: int,
    seed: int,
    as_of: datetime,
    kb: KnowledgeBase,
    archetypes: dict[str, int],
) -> dict[str, Any]:
    """The body of a completed Bulk Data `$export` status request, for these files.

    `url` is the file name relative to the manifest (the export was never served over HTTP);
    `extension` (a key the Bulk Data IG reserves for extensions) says how to regenerate it.
    """
    types = [t for t in RESOURCE_TYPES if counts.get(t)]
    return {
        "transactionTime": as_of.isoformat(),
        "request": f"https://synthetic.venapath.invalid/fhir/$export?_type={','.join(types)}",
        "requiresAccessToken": False,
        "output": [{"type": t, "url": f"{t}.ndjson", "count": counts[t]} for t in types],
        "error": [],
        "extension": {
            "https://venapath.org/fhir/synthetic-cohort": {
                "generator": "venapath synth",
                "patients": patients,
                "seed": seed,
                "knowledgeVersion": kb.version,
                "archetypes": archetypes,
            }
        },
    }


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
