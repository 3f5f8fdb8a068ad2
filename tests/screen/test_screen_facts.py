"""The screen's facts equal the per-patient path's facts, patient by patient, on both engines.

The per-patient path (fhir.resources parse, `case_from_fhir`, `derive_facts`) is the
reference; the screen reads the same NDJSON through the knowledge base's views, the case
columns and the signature lookup. Clocks are compared to the 0.001 the catalogue rounds to.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pytest

from venapath.domain.case import Case
from venapath.domain.facts import derive_facts
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import case_from_fhir
from venapath.kb.model import KnowledgeBase
from venapath.screen.case_columns import CaseColumns
from venapath.screen.codes import code_rows
from venapath.screen.facts import (
    MEASURED_FACTS,
    SIGNATURE_COLUMNS,
    case_facts,
    facts_of_signatures,
    facts_table,
    signature,
    signature_case,
)
from venapath.screen.pipeline import spark_materialise
from venapath.screen.views import RESOURCE_VIEWS, DuckDBSource, SparkSource
from venapath.services.fhir_evaluation import WHOLE_RECORD
from venapath.synth import DEFAULT_AS_OF, write_cohort

NOW = DEFAULT_AS_OF
PATIENTS = 250


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Path:
    out = tmp_path_factory.mktemp("facts-cohort")
    write_cohort(out, PATIENTS, 11, kb=kb)
    return out


@pytest.fixture(scope="module")
def reference(cohort: Path, kb: KnowledgeBase) -> dict[str, dict[str, Any]]:
    """Facts per patient id, from the per-patient path."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in cohort.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            if resource["resourceType"] == "Patient":
                grouped[resource["id"]].append(resource)
                continue
            holder = resource.get("subject") or resource["patient"]
            grouped[holder["reference"].removeprefix("Patient/")].append(resource)
    facts = {}
    for patient_id, resources in grouped.items():
        mapped = case_from_fhir(read_resources(resources), kb.codes, NOW, complete=WHOLE_RECORD)
        facts[patient_id] = derive_facts(mapped.case, NOW)
    return facts


def _screen_facts(
    source: Any, kb: KnowledgeBase, materialise: Callable[[ir.Table, str], ir.Table]
) -> dict[str, dict[str, Any]]:
    """The screen's facts per patient id, with intermediate tables stored as the screen
    stores them (`materialise`): unstored, Spark plans every reused view again."""
    codes = ibis.memtable(code_rows(kb))
    cases = CaseColumns(source, codes, NOW, materialise=materialise).table()
    keyed = cases.mutate(signature=signature(cases))
    rows = keyed.select("signature", *SIGNATURE_COLUMNS).distinct(on="signature")
    derived = facts_of_signatures(rows.to_pyarrow().to_pylist(), NOW)
    assert derived.errors == {}
    lookup = ibis.memtable(derived.table)
    table = facts_table(cases, lookup, NOW).to_pyarrow().to_pylist()
    return {row["patient_id"]: row for row in table}


def _differences(
    reference: dict[str, dict[str, Any]], screened: dict[str, dict[str, Any]]
) -> list[tuple[str, str, Any, Any]]:
    assert set(screened) == set(reference)
    names = [d.name for d in case_facts()]
    found = []
    for patient_id, expected in reference.items():
        row = screened[patient_id]
        for name in names:
            want, got = expected.get(name), row[name]
            if isinstance(want, int | float) and not isinstance(want, bool) and got is not None:
                if abs(float(want) - float(got)) <= 0.0011:
                    continue
            elif want == got:
                continue
            found.append((patient_id, name, want, got))
    return found


def test_duckdb_facts_equal_the_per_patient_path(
    cohort: Path, reference: dict[str, dict[str, Any]], kb: KnowledgeBase
) -> None:
    backend = ibis.duckdb.connect()
    backend.raw_sql("SET TimeZone = 'UTC'")
    relations = {
        resource_type: f"(SELECT json AS resource FROM read_ndjson_objects(['{path}']))"
        for resource_type in RESOURCE_VIEWS
        if (path := cohort / f"{resource_type}.ndjson").exists()
    }
    screened = _screen_facts(
        DuckDBSource(backend, relations),
        kb,
        lambda table, name: backend.create_table(
            f"venapath_{name}", table, temp=True, overwrite=True
        ),
    )
    assert _differences(reference, screened) == []
    confirmed = sum(1 for row in screened.values() if row["leg_dvt_confirmed"])
    assert confirmed > 10  # the cohort exercises the venous facts, not only empty records


def test_spark_facts_equal_the_per_patient_path(
    cohort: Path, reference: dict[str, dict[str, Any]], kb: KnowledgeBase, spark_session: Any
) -> None:
    backend = ibis.pyspark.connect(spark_session)
    frames = {
        resource_type: spark_session.read.text(str(path)).withColumnRenamed("value", "resource")
        for resource_type in RESOURCE_VIEWS
        if (path := cohort / f"{resource_type}.ndjson").exists()
    }
    screened = _screen_facts(
        SparkSource(backend, frames),
        kb,
        lambda table, name: spark_materialise(backend, table, name),
    )
    assert _differences(reference, screened) == []


# ------------------------------------------------------------- the measured/discrete split

_SIGNATURES = [
    {"sex": "female", "diagnoses": ["leg_dvt:confirmed"], "segments": ["femoral_vein|left|false"]},
    {"sex": "male", "diagnoses": ["cerebral_venous_thrombosis:confirmed"], "agent": "lmwh"},
    {"diagnoses": ["leg_dvt:suspected"], "flags": ["/risk_factors/active_cancer=true"]},
    {"diagnoses": [], "procedure_kinds": ["venous_stent"], "follow_up_kind": "venous_stent"},
    {"diagnoses": ["intracranial_hypotension:confirmed", "cerebral_venous_thrombosis:suspected"]},
    # a gestational age always comes with the pregnancy it implies (case_columns.gestation)
    {
        "sex": "female",
        "diagnoses": ["cerebral_venous_thrombosis:confirmed"],
        "flags": ["/patient/pregnant=true"],
    },
]


def _with_measurements(data: dict[str, Any], variant: int) -> dict[str, Any]:
    """The same discrete case with every measured field the FHIR mapping can set."""
    low = variant == 0
    data = json.loads(json.dumps(data, default=str))
    data.setdefault("patient", {})["age_years"] = 17 if low else 80
    data["patient"]["weight_kg"] = 40.0 if low else 130.0
    if data["patient"].get("pregnant"):
        data["patient"]["gestational_age_weeks"] = 8 if low else 41
    data["labs"] = {
        "platelets": {"value": 20.0 if low else 400.0, "unit": "10^9/L"},
        "inr": 0.9 if low else 3.5,
        "haemoglobin": {"value": 7.0 if low else 16.0, "unit": "g/dL"},
        "creatinine": {"value": 40.0 if low else 400.0, "unit": "umol/L"},
        "egfr_ml_min": 10.0 if low else 110.0,
        "d_dimer": {"positive": not low},
    }
    data["exam"] = {"gcs": 5 if low else 15, "systolic_bp_mmhg": 90 if low else 200}
    data["exam"]["diastolic_bp_mmhg"] = 50 if low else 120
    onset = NOW - (timedelta(hours=3) if low else timedelta(days=400))
    data.setdefault("presentation", {})["symptom_onset"] = onset.isoformat()
    if data.get("diagnoses"):
        data["diagnoses"] = [
            {**d, "at": onset.isoformat()} if d["status"] == "confirmed" else d
            for d in data["diagnoses"]
        ]
    if data.get("treatment", {}).get("anticoagulation"):
        data["treatment"]["anticoagulation"]["started_at"] = onset.isoformat()
    if data.get("follow_up"):
        data["follow_up"]["procedure_date"] = onset.isoformat()
    data["treatment"]["thrombolysis_within_7_days"] = True
    return data


@pytest.mark.parametrize("row", _SIGNATURES, ids=lambda row: ",".join(row))
def test_only_measured_facts_depend_on_measured_fields(row: dict[str, Any]) -> None:
    """The signature lookup is exact only if no other fact reads a measured field."""
    full_row = {name: row.get(name) for name in SIGNATURE_COLUMNS}
    bare = derive_facts(Case.model_validate(signature_case(full_row, NOW)), NOW)
    for variant in (0, 1):
        data = _with_measurements(signature_case(full_row, NOW), variant)
        data["treatment"].pop("thrombolysis_within_7_days")
        measured = derive_facts(Case.model_validate(data), NOW)
        changed = {name for name in bare if bare[name] != measured[name]}
        assert changed <= set(MEASURED_FACTS), changed - set(MEASURED_FACTS)


def test_signature_errors_name_the_contradiction() -> None:
    rows = [
        {
            "signature": "x",
            "diagnoses": ["leg_dvt:excluded"],
            "segments": ["femoral_vein|left|false"],
        }
    ]
    derived = facts_of_signatures(rows, datetime(2026, 1, 1, tzinfo=NOW.tzinfo))
    assert derived.table.num_rows == 0
    assert "leg_dvt is excluded but femoral_vein is listed as thrombosed" in derived.errors["x"]
