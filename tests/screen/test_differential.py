"""Differential test: the screen and the per-patient engine agree on every patient.

Populations are generated (`venapath synth`), then roughened by a seeded mutator that does
what real exports do: provisional and refuted diagnoses, resolved problems, entered-in-error
records, missing dates, other units, duplicated records, stopped medications. Each patient's
record then goes through the per-patient path (fhir.resources parse, mapping, engine), and
the whole export through `screen` on DuckDB and on Spark. Every patient must get the same
pathways, urgency, recommendations (action, strength, urgency, certainty), contraindications,
alerts and needs-data, in the same order.
"""

from __future__ import annotations

import copy
import json
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from venapath.fhir.errors import FhirInputError
from venapath.kb.model import KnowledgeBase
from venapath.screen.pipeline import PATIENTS_FILE, ScreenOptions, screen
from venapath.services.fhir_evaluation import assess_fhir_data
from venapath.synth import DEFAULT_AS_OF, write_cohort
from venapath.synth.bulk import MANIFEST_NAME

NOW = DEFAULT_AS_OF


# ------------------------------------------------------------------------------ mutator


def _coding(code: str, system: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _mutate(resource: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """Zero, one or two resources in place of `resource` (a duplicate keeps its own id)."""
    kind = resource["resourceType"]
    if kind == "Patient" or rng.random() > 0.35:
        return [resource]
    changed = copy.deepcopy(resource)
    roll = rng.random()
    if kind == "Condition":
        if roll < 0.2:
            changed["verificationStatus"] = _coding(
                rng.choice(["provisional", "differential", "refuted", "unconfirmed"]),
                _VERIFICATION,
            )
        elif roll < 0.35:
            changed["clinicalStatus"] = _coding(rng.choice(["resolved", "inactive"]), _CLINICAL)
        elif roll < 0.45:
            changed["verificationStatus"] = _coding("entered-in-error", _VERIFICATION)
        elif roll < 0.6:
            changed.pop("onsetDateTime", None)
        elif roll < 0.7:
            changed.pop("verificationStatus", None)
            changed.pop("clinicalStatus", None)
        else:
            twin = copy.deepcopy(changed)
            twin["id"] = f"{changed['id']}-twin"
            return [changed, twin]
    elif kind == "Observation":
        quantity = changed.get("valueQuantity")
        if roll < 0.3 and quantity is not None:
            quantity["code"] = quantity["unit"] = rng.choice(["mg/dL", "g/L", "zz", "10*3/uL"])
        elif roll < 0.5:
            changed["status"] = rng.choice(["cancelled", "preliminary", "entered-in-error"])
        elif roll < 0.7:
            changed.pop("effectiveDateTime", None)
        else:
            changed["effectiveDateTime"] = "2021-06-01"
    elif kind == "DiagnosticReport":
        _mutate_report(changed, roll, rng)
    elif kind in ("MedicationRequest", "Procedure"):
        if roll < 0.4:
            changed["status"] = rng.choice(["completed", "stopped", "on-hold", "not-done"])
        elif roll < 0.7:
            changed.pop("authoredOn", None)
            changed.pop("performedDateTime", None)
    return [changed]


def _mutate_report(report: dict[str, Any], roll: float, rng: random.Random) -> None:
    """An imaging report as exports carry them: not final, retracted, undated, uncoded, or
    dated by a period (which the mapping reads by its start)."""
    if roll < 0.4:
        report["status"] = rng.choice(["preliminary", "entered-in-error", "cancelled", "amended"])
    elif roll < 0.55:
        report.pop("effectiveDateTime", None)
    elif roll < 0.7:
        report.pop("conclusionCode", None)
    elif "effectiveDateTime" in report:
        report["effectivePeriod"] = {"start": report.pop("effectiveDateTime")}


def _write_roughened(source: Path, target: Path, seed: int) -> None:
    rng = random.Random(seed)
    target.mkdir(parents=True)
    manifest = json.loads((source / MANIFEST_NAME).read_text())
    for item in manifest["output"]:
        name = Path(item["url"]).name
        lines = []
        for line in (source / name).read_text().splitlines():
            lines.extend(json.dumps(r) for r in _mutate(json.loads(line), rng))
        (target / name).write_text("\n".join(lines) + "\n")
        item["count"] = len(lines)
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))


# ----------------------------------------------------------------------- per-patient path


def _by_patient(export: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in export.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            if resource["resourceType"] == "Patient":
                grouped[resource["id"]].append(resource)
            else:
                holder = resource.get("subject") or resource["patient"]
                grouped[holder["reference"].removeprefix("Patient/")].append(resource)
    return grouped


def _expected(export: Path, kb: KnowledgeBase, now: datetime = NOW) -> dict[str, dict[str, Any]]:
    expected = {}
    for patient_id, resources in _by_patient(export).items():
        try:
            result = assess_fhir_data(resources, now=now, kb=kb, trace=False)
        except FhirInputError as error:
            expected[patient_id] = {"error": str(error)}
            continue
        assessment = result.assessment
        expected[patient_id] = {
            "pathways": [p.id for p in assessment.pathways if p.status.value == "applies"],
            "possible_pathways": [
                p.id for p in assessment.pathways if p.status.value == "possible"
            ],
            "urgency": assessment.urgency.value if assessment.urgency else None,
            "recommendations": [
                {
                    "rule_id": r.rule_id,
                    "action": r.action.value,
                    "strength": r.strength.value,
                    "urgency": r.urgency.value,
                    "certainty": r.certainty,
                }
                for r in assessment.recommendations
            ],
            "contraindications": [c.rule_id for c in assessment.contraindications],
            "needs_data": [n.fact for n in assessment.needs_data],
            "alerts": [a.id for a in assessment.alerts],
        }
    return expected


def _screened(
    export: Path, out: Path, engine: str, kb: KnowledgeBase, now: datetime = NOW
) -> dict[str, Any]:
    screen(export, out, ScreenOptions(engine=engine, now=now), kb=kb)  # type: ignore[arg-type]
    rows = pq.read_table(out / PATIENTS_FILE).to_pylist()
    return {row["patient_id"]: row for row in rows}


def _compare(expected: dict[str, dict[str, Any]], screened: dict[str, Any]) -> list[str]:
    assert set(screened) == set(expected)
    problems = []
    for patient_id, want in expected.items():
        row = screened[patient_id]
        if "error" in want:
            if row["error"] is None:
                problems.append(f"{patient_id}: per-patient error {want['error']!r}, screen none")
            continue
        if row["error"] is not None:
            problems.append(f"{patient_id}: screen error {row['error']!r}")
            continue
        for key, value in want.items():
            got = row[key]
            if key == "recommendations":
                got = [{k: r[k] for k in value[0]} for r in got] if value else list(got or [])
            elif isinstance(value, list):
                got = list(got or [])
            if got != value:
                problems.append(f"{patient_id} {key}: per-patient {value}, screen {got}")
    return problems


@pytest.fixture(scope="module")
def populations(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> list[Path]:
    """A plain cohort and two roughened ones."""
    base = tmp_path_factory.mktemp("differential")
    plain = base / "plain"
    write_cohort(plain, 300, 21, kb=kb)
    exports = [plain]
    for seed in (1, 2):
        roughened = base / f"rough-{seed}"
        _write_roughened(plain, roughened, seed)
        exports.append(roughened)
    return exports


@pytest.mark.parametrize("index", [0, 1, 2], ids=["plain", "rough-1", "rough-2"])
def test_duckdb_screen_agrees_with_the_per_patient_engine(
    populations: list[Path], index: int, kb: KnowledgeBase, tmp_path: Path
) -> None:
    export = populations[index]
    expected = _expected(export, kb)
    screened = _screened(export, tmp_path / "out", "duckdb", kb)
    assert _compare(expected, screened) == []
    assert sum(1 for row in expected.values() if row.get("recommendations")) > 20


@pytest.mark.parametrize("index", [1, 2], ids=["rough-1", "rough-2"])
def test_a_partitioned_duckdb_screen_gives_the_same_rows(
    populations: list[Path], index: int, kb: KnowledgeBase, tmp_path: Path
) -> None:
    """Roughened records (twins, refuted and undated diagnoses, odd units) screened in four
    patient partitions: row for row, in order, what one partition gives."""
    rows = {}
    for count in (1, 4):
        out = tmp_path / f"partitions-{count}"
        screen(populations[index], out, ScreenOptions(now=NOW, partitions=count), kb=kb)
        rows[count] = pq.read_table(out / PATIENTS_FILE).to_pylist()
    assert len(rows[1]) == 300
    assert rows[4] == rows[1]


@pytest.mark.usefixtures("spark_session")
@pytest.mark.parametrize("index", [0, 1], ids=["plain", "rough-1"])
def test_spark_screen_agrees_with_the_per_patient_engine(
    populations: list[Path], index: int, kb: KnowledgeBase, tmp_path: Path
) -> None:
    export = populations[index]
    expected = _expected(export, kb)
    screened = _screened(export, tmp_path / "out", "spark", kb)
    assert _compare(expected, screened) == []
