"""Reading FHIR JSON: R4B validation, refusing non-R4 types, naming every problem's location."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest

from fhir_fixtures import collection, condition, dvt_record, patient
from venapath.fhir import parse
from venapath.fhir.errors import FhirInputError
from venapath.fhir.parse import parse_json_text, read_resources

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "synthea-sample"


def test_a_collection_bundle_is_read_by_type() -> None:
    parsed = read_resources(collection(*dvt_record()))
    assert len(parsed.of("Patient")) == 1
    assert len(parsed.of("Observation")) == 4
    assert parsed.of("Condition")[0].id == "dvt"


def test_resources_not_read_are_counted_not_validated() -> None:
    claim = {"resourceType": "Claim", "id": "c1", "status": "not-a-status"}
    parsed = read_resources(collection(patient(), claim))
    assert parsed.not_read == {"Claim": 1}


def test_an_r5_only_resource_type_is_refused_with_its_location() -> None:
    usage = {"resourceType": "MedicationUsage", "id": "m1"}
    with pytest.raises(FhirInputError) as caught:
        read_resources(collection(patient(), usage))
    problem = caught.value.problems[0]
    assert problem.location == "$.entry[1].resource.resourceType"
    assert "not a FHIR R4 resource type" in problem.message


def test_an_invalid_resource_names_the_field() -> None:
    broken = condition("c", "http://hl7.org/fhir/sid/icd-10-cm", "I67.6", "CVT")
    broken["onsetDateTime"] = "yesterday"
    with pytest.raises(FhirInputError) as caught:
        read_resources(collection(patient(), broken))
    assert any("onsetDateTime" in p.location for p in caught.value.problems)


def test_every_problem_is_reported_not_only_the_first() -> None:
    with pytest.raises(FhirInputError) as caught:
        read_resources([{"resourceType": "Nope"}, 5, {"id": "x"}])
    assert len(caught.value.problems) == 3


def test_a_list_inside_a_list_is_refused() -> None:
    with pytest.raises(FhirInputError, match="expected a FHIR resource"):
        read_resources([[]])


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(FhirInputError, match="line 2 column"):
        parse_json_text('{\n  "resourceType": }')


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/synthea-sample is not present")
def test_every_synthea_bundle_and_ndjson_line_parses() -> None:
    bundles = sorted((SYNTHEA / "bundles").glob("*.json"))
    assert bundles
    for path in bundles:
        parsed = read_resources(json.loads(path.read_text()))
        assert parsed.of("Patient")
    for path in sorted((SYNTHEA / "resources").glob("*.ndjson")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert read_resources(lines).by_type


def test_the_same_resource_text_is_validated_once_and_reused() -> None:
    first = read_resources(collection(*dvt_record())).of("Condition")[0]
    again = read_resources(collection(*dvt_record())).of("Condition")[0]
    assert again is first


def test_validated_resources_kept_are_bounded_and_a_resource_in_use_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Least recently used leaves first: the resources an EHR sends with every hook stay kept
    while a stream of one-off resources passes through (the bound keeps full garbage
    collections short, `parse._remember`)."""
    monkeypatch.setattr(parse, "_CACHE_SIZE", 10)
    monkeypatch.setattr(parse, "_VALIDATED", OrderedDict())
    in_use = patient("in-use")
    kept = read_resources(collection(in_use)).of("Patient")[0]
    first_passer = read_resources(collection(patient("passer-0"))).of("Patient")[0]
    for number in range(1, 30):
        read_resources(collection(patient(f"passer-{number}")))
        assert read_resources(collection(in_use)).of("Patient")[0] is kept
    assert len(parse._VALIDATED) == 10
    assert read_resources(collection(patient("passer-0"))).of("Patient")[0] is not first_passer
