"""The typed fast path: same rows as the general compiler, whatever the JSON's shape."""

from __future__ import annotations

import importlib
import json
import typing
from typing import Any

import duckdb
import pytest

from venapath.screen.views import load_views
from venapath.sof import ViewEvaluationError, compile_view, run_view
from venapath.sof.compile import _ViewCompiler
from venapath.sof.dialect import DuckDBDialect
from venapath.sof.fhir_elements import ELEMENTS, element

_MODULES = {
    "Observation.referenceRange": ("observation", "ObservationReferenceRange"),
    "Observation.component": ("observation", "ObservationComponent"),
    "Patient.contact": ("patient", "PatientContact"),
    "Patient.link": ("patient", "PatientLink"),
    "AllergyIntolerance": ("allergyintolerance", "AllergyIntolerance"),
    "MedicationRequest": ("medicationrequest", "MedicationRequest"),
    "MedicationStatement": ("medicationstatement", "MedicationStatement"),
}


def _model(type_name: str) -> Any:
    module, name = _MODULES.get(type_name, (type_name.lower(), type_name))
    return getattr(importlib.import_module(f"fhir.resources.R4B.{module}"), name)


def _repeats(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, typing.List):  # noqa: UP006
        return True
    return any(_repeats(arg) for arg in typing.get_args(annotation))


@pytest.mark.parametrize("type_name", sorted(ELEMENTS))
def test_element_table_matches_the_fhir_models(type_name: str) -> None:
    fields = _model(type_name).model_fields
    for name in ELEMENTS[type_name]:
        if name == "resourceType":
            continue
        assert name in fields, f"{type_name}.{name} is not a FHIR element"
        declared = element(type_name, name)
        assert declared is not None
        assert declared[1] == _repeats(fields[name].annotation), f"{type_name}.{name} cardinality"


def test_every_screen_view_takes_the_typed_path() -> None:
    for resource_type, view in load_views().items():
        assert compile_view(view, "duckdb", typed=True).typed, resource_type


def _observation(**extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "valueQuantity": {"value": 13.1, "unit": "g/dL", "code": "g/dL"},
        "referenceRange": [{"high": {"value": 17.5, "code": "g/dL"}}],
    }
    resource.update(extra)
    return resource


ODD_SHAPES = [
    _observation(),
    _observation(valueQuantity=[{"value": 7}]),  # 0..1 given as a list
    _observation(code={"coding": {"system": "s", "code": "c"}}),  # 0..* given as an object
    _observation(code={"coding": "c"}),
    _observation(code={"coding": [[{"code": "nested"}]]}),
    _observation(code={"coding": [None, {"code": "after-null"}]}),
    _observation(status=None),
    _observation(valueQuantity={"value": "12"}),  # a decimal given as a string
    _observation(valueQuantity={"value": True}),
    _observation(status=5),
    _observation(status={"odd": 1}),
    _observation(referenceRange=[{"high": {"code": "g/dL"}}, {"high": {"value": 3}}]),
    _observation(referenceRange={"high": {"value": 4}}),
    _observation(subject={"reference": "http://x/fhir/Patient/p2/_history/3"}),
    _observation(subject={"reference": "Group/g1"}),
    _observation(subject=[{"reference": "Patient/p3"}]),
    _observation(component=[{"code": {"coding": [{"code": "c1"}]}, "valueQuantity": {"value": 1}}]),
    _observation(component={"code": {"coding": [{"code": "c2"}]}}),
    _observation(interpretation=[{"coding": [{"code": "H"}, {"code": "HH"}]}, {"text": "x"}]),
    _observation(valueCodeableConcept={"coding": [{"code": "pos"}]}, valueQuantity=None),
    {"resourceType": "Observation", "id": "bare"},
    {"resourceType": "Observation", "id": "o2", "status": "final", "code": {}},
]


def _rows(table: Any) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


def test_typed_and_general_give_the_same_rows_on_odd_shapes() -> None:
    view = load_views()["Observation"]
    general = run_view(view, "duckdb", ODD_SHAPES)
    typed = run_view(view, "duckdb", ODD_SHAPES, typed=True)
    assert _rows(typed) == _rows(general)
    assert len(general) >= len(ODD_SHAPES)


def _guard_matches(resource: dict[str, Any] | str) -> bool:
    compiler = _ViewCompiler(load_views()["Observation"], DuckDBDialect(), 12, typed=True)
    compiler.rows()
    assert compiler.typed is not None
    pattern = compiler.typed.guard_pattern()
    text = resource if isinstance(resource, str) else json.dumps(resource)
    found = duckdb.sql("SELECT regexp_matches(?, ?)", params=[text, pattern]).fetchone()
    assert found is not None
    return bool(found[0])


def test_the_guard_sends_only_odd_shapes_to_the_general_path() -> None:
    assert not _guard_matches(_observation())
    assert not _guard_matches(_observation(interpretation=[{"coding": [{"code": "H"}]}]))
    assert _guard_matches(_observation(valueQuantity=[{"value": 7}]))
    assert _guard_matches(_observation(code={"coding": {"code": "c"}}))
    assert _guard_matches(_observation(code={"coding": [[{"code": "c"}]]}))
    assert _guard_matches(_observation(status=None))
    escaped_key = json.dumps(_observation()).replace('"status"', '"\\u0073tatus"')
    assert _guard_matches(escaped_key)


def test_two_values_where_fhir_allows_one_fail_on_both_paths() -> None:
    view = load_views()["Observation"]
    odd = [_observation(), _observation(valueQuantity=[{"value": 1}, {"value": 2}])]
    for typed in (False, True):
        with pytest.raises(ViewEvaluationError, match="more than one item"):
            run_view(view, "duckdb", odd, typed=typed)


def test_a_single_valued_column_over_two_items_still_fails_on_the_typed_path() -> None:
    view = {
        "resourceType": "ViewDefinition",
        "resource": "Patient",
        "select": [{"column": [{"name": "given", "path": "name.given"}]}],
    }
    resources = [{"resourceType": "Patient", "id": "p", "name": [{"given": ["a", "b"]}]}]
    assert compile_view(view, "duckdb", typed=True).typed
    with pytest.raises(ViewEvaluationError, match="more than one item"):
        run_view(view, "duckdb", resources, typed=True)


def test_paths_outside_the_element_table_use_the_general_path() -> None:
    view = {
        "resourceType": "ViewDefinition",
        "resource": "Patient",
        "select": [{"column": [{"name": "x", "path": "extension.url"}]}],
    }
    assert not compile_view(view, "duckdb", typed=True).typed
