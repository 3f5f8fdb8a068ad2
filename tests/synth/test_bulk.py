"""The synthetic cohort writer: Bulk Data files and manifest, determinism, valid FHIR R4.

A cohort is only worth generating at scale if its bytes are reproducible (a failing patient
can be regenerated), its manifest agrees with its files, and every line is FHIR that the R4B
models accept and whose references resolve.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from venapath.kb.model import KnowledgeBase
from venapath.synth import (
    DEFAULT_AS_OF,
    MIX,
    Archetype,
    CodeBook,
    SynthInputError,
    generate_patient,
    iter_patients,
    write_cohort,
)
from venapath.synth.bulk import MANIFEST_NAME
from venapath.synth.resources import ARCHETYPE_SYSTEM, RESOURCE_TYPES, stamp

SEED = 20261125
COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, 300, SEED, kb=kb)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _resources(out: Path) -> dict[str, list[dict[str, Any]]]:
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    return {
        item["type"]: [json.loads(line) for line in _lines(out / item["url"])]
        for item in manifest["output"]
    }


# --------------------------------------------------------------------- manifest


def test_manifest_has_the_shape_of_a_completed_export(cohort: Path) -> None:
    manifest = json.loads((cohort / MANIFEST_NAME).read_text())
    assert manifest["transactionTime"] == DEFAULT_AS_OF.isoformat()
    assert "$export" in manifest["request"]
    assert manifest["requiresAccessToken"] is False
    assert manifest["error"] == []
    types = [item["type"] for item in manifest["output"]]
    assert types[:3] == ["Patient", "Condition", "Observation"]
    assert set(types) <= set(RESOURCE_TYPES)
    for item in manifest["output"]:
        assert item["url"] == f"{item['type']}.ndjson"  # relative to the manifest
    extension = manifest["extension"]["https://venapath.org/fhir/synthetic-cohort"]
    assert extension["patients"] == 300
    assert extension["seed"] == SEED
    assert sum(extension["archetypes"].values()) == 300


def test_manifest_counts_equal_the_line_counts_and_list_every_file(cohort: Path) -> None:
    manifest = json.loads((cohort / MANIFEST_NAME).read_text())
    for item in manifest["output"]:
        assert len(_lines(cohort / item["url"])) == item["count"] > 0
    listed = {item["url"] for item in manifest["output"]} | {MANIFEST_NAME}
    assert {path.name for path in cohort.iterdir()} == listed
    patients = next(item for item in manifest["output"] if item["type"] == "Patient")
    assert patients["count"] == 300


def test_a_rerun_into_the_same_directory_leaves_no_stale_file(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    (tmp_path / "AllergyIntolerance.ndjson").write_text("stale\n")
    (tmp_path / "Procedure.ndjson").write_text("stale\n")
    summary = write_cohort(tmp_path, 3, 1, kb=kb)
    listed = {f"{t}.ndjson" for t in summary.resources} | {MANIFEST_NAME}
    assert {path.name for path in tmp_path.iterdir()} == listed
    for resource_type, count in summary.resources.items():
        assert len(_lines(tmp_path / f"{resource_type}.ndjson")) == count


# ------------------------------------------------------------------- determinism


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path, kb: KnowledgeBase) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_cohort(first, 250, 42, kb=kb)
    write_cohort(second, 250, 42, kb=kb)
    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_different_seed_writes_different_patients(tmp_path: Path, kb: KnowledgeBase) -> None:
    write_cohort(tmp_path / "a", 50, 1, kb=kb)
    write_cohort(tmp_path / "b", 50, 2, kb=kb)
    for name in ("Patient.ndjson", "Condition.ndjson", "Observation.ndjson"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_any_patient_can_be_regenerated_alone(cohort: Path, kb: KnowledgeBase) -> None:
    book = CodeBook(kb)
    by_type = {
        t: _lines(cohort / f"{t}.ndjson")
        for t in RESOURCE_TYPES
        if (cohort / f"{t}.ndjson").exists()
    }
    for index in (0, 137, 299):
        alone = generate_patient(book, SEED, index, DEFAULT_AS_OF)
        identifier = json.loads(alone.lines[0][1])["identifier"][0]["value"]
        assert identifier == f"{SEED}:{index}"
        for resource_type, line in alone.lines:
            assert line in by_type[resource_type]


def test_seed_and_index_do_not_collide(kb: KnowledgeBase) -> None:
    book = CodeBook(kb)
    first = generate_patient(book, 1, 23, DEFAULT_AS_OF)
    second = generate_patient(book, 12, 3, DEFAULT_AS_OF)
    assert first.patient_id != second.patient_id


# ----------------------------------------------------------------- FHIR validity


def test_every_line_is_compact_json_of_its_file_type(cohort: Path) -> None:
    for resource_type in RESOURCE_TYPES:
        path = cohort / f"{resource_type}.ndjson"
        if not path.exists():
            continue
        for line in _lines(path):
            resource = json.loads(line)
            assert resource["resourceType"] == resource_type
            assert COMPACT(resource) == line  # one canonical serialisation, no stray spaces


def test_a_sample_of_each_type_validates_as_fhir_r4b(cohort: Path) -> None:
    for resource_type, resources in _resources(cohort).items():
        model = get_fhir_model_class(resource_type)
        for resource in resources[:60]:
            model.model_validate(resource)


def test_ids_are_unique_and_references_point_to_existing_patients(cohort: Path) -> None:
    resources = _resources(cohort)
    patient_ids = {p["id"] for p in resources["Patient"]}
    assert len(patient_ids) == 300
    seen: Counter[tuple[str, str]] = Counter()
    for resource_type, items in resources.items():
        for resource in items:
            seen[(resource_type, resource["id"])] += 1
            if resource_type == "Patient":
                continue
            holder = resource.get("subject") or resource["patient"]
            kind, _, target = holder["reference"].partition("/")
            assert kind == "Patient"
            assert target in patient_ids
    assert max(seen.values()) == 1


def test_no_record_is_dated_after_the_export(cohort: Path) -> None:
    limit = DEFAULT_AS_OF
    for resource_type, items in _resources(cohort).items():
        for resource in items:
            for key in ("recordedDate", "onsetDateTime", "effectiveDateTime", "authoredOn"):
                if key in resource:
                    assert datetime.fromisoformat(resource[key]) <= limit, resource_type
            if "performedDateTime" in resource:
                assert datetime.fromisoformat(resource["performedDateTime"]) <= limit


def test_the_cohort_is_mostly_people_without_venous_thrombosis(cohort: Path) -> None:
    tags = Counter(
        tag["code"]
        for patient in _resources(cohort)["Patient"]
        for tag in patient["meta"]["tag"]
        if tag["system"] == ARCHETYPE_SYSTEM
    )
    assert sum(tags.values()) == 300
    assert 0.7 < tags[Archetype.NO_THROMBOSIS.value] / 300 < 0.9
    assert len(tags) >= 6  # several venous archetypes in a few hundred patients


def test_the_mix_is_a_distribution() -> None:
    assert sum(rate.value for rate in MIX.values()) == pytest.approx(1.0)
    assert all(rate.value > 0 and rate.source for rate in MIX.values())


def test_moments_format_as_fhir_date_times() -> None:
    assert stamp(0) == "1970-01-01T00:00:00+00:00"
    assert stamp(29_448_000 + 14 * 60 + 5) == "2025-12-28T14:05:00+00:00"


# -------------------------------------------------------------------- arguments


@pytest.mark.parametrize("patients", [0, -3])
def test_a_cohort_needs_at_least_one_patient(
    tmp_path: Path, kb: KnowledgeBase, patients: int
) -> None:
    with pytest.raises(SynthInputError, match="--patients"):
        write_cohort(tmp_path, patients, 1, kb=kb)


def test_the_output_must_be_a_directory(tmp_path: Path, kb: KnowledgeBase) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SynthInputError, match="--out"):
        write_cohort(target, 5, 1, kb=kb)


def test_the_export_time_needs_a_zone(tmp_path: Path, kb: KnowledgeBase) -> None:
    with pytest.raises(SynthInputError, match="--as-of"):
        write_cohort(tmp_path, 5, 1, datetime(2026, 1, 1), kb=kb)


# --------------------------------------------------------------------- property


@settings(max_examples=examples(20), deadline=None)
@given(
    seed=st.integers(min_value=-(2**63), max_value=2**63),
    as_of=st.datetimes(
        min_value=datetime(2001, 1, 1),
        max_value=datetime(2090, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
        ),
    ),
)
def test_any_seed_and_export_time_give_valid_fhir(
    kb: KnowledgeBase, seed: int, as_of: datetime
) -> None:
    for patient in iter_patients(4, seed, as_of, kb=kb):
        for resource_type, line in patient.lines:
            resource = json.loads(line)
            assert COMPACT(resource) == line
            get_fhir_model_class(resource_type).model_validate(resource)
            for key in ("recordedDate", "onsetDateTime", "effectiveDateTime", "authoredOn"):
                if key in resource:
                    assert datetime.fromisoformat(resource[key]) <= as_of
