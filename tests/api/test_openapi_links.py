"""The OpenAPI's links: each names a real operation, a real parameter of it, and a property the
answer it starts from really has (the stateful schemathesis run in test_openapi_fuzz.py follows
them; this checks them in the inner loop)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for methods in openapi["paths"].values()
        for operation in methods.values()
    }


def _links(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, the answer it starts from, the link) for every declared link."""
    found = []
    for methods in openapi["paths"].values():
        for operation in methods.values():
            for answer in operation["responses"].values():
                for name, link in answer.get("links", {}).items():
                    found.append((name, answer, link))
    return found


def _answer_properties(openapi: dict[str, Any], answer: dict[str, Any]) -> set[str]:
    schema = answer["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[1]
    return set(openapi["components"]["schemas"][name]["properties"])


def test_patient_create_links_to_its_read_change_and_retraction(openapi: dict[str, Any]) -> None:
    links = openapi["paths"]["/api/v1/patients"]["post"]["responses"]["201"]["links"]
    assert links["GetPatient"]["parameters"] == {"patient_id": "$response.body#/id"}
    assert links["UpdatePatient"]["requestBody"] == {"version": "$response.body#/version"}
    assert links["RetractPatient"]["parameters"]["query.version"] == "$response.body#/version"
    assert links["CreateEpisode"]["requestBody"] == {"patient_id": "$response.body#/id"}


def test_every_link_names_a_real_operation_parameter_and_answer_property(
    openapi: dict[str, Any],
) -> None:
    operations = _operations(openapi)
    links = _links(openapi)
    assert len(links) >= 20
    for name, answer, link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        for parameter in link.get("parameters", {}):
            assert parameter.split(".")[-1] in names, (name, parameter)
        expressions = [*link.get("parameters", {}).values(), *link.get("requestBody", {}).values()]
        for expression in expressions:
            assert expression.startswith("$response.body#/"), (name, expression)
            pointer = expression.removeprefix("$response.body#/")
            assert pointer in _answer_properties(openapi, answer), (name, pointer)
        if "requestBody" in link:
            body_ref = target["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = openapi["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
            assert set(link["requestBody"]) <= set(body["properties"]), name


def test_the_record_export_is_declared_as_fhir_json(openapi: dict[str, Any]) -> None:
    """It answers application/fhir+json; the stateful run found it declared as JSON."""
    path = openapi["paths"]["/api/v1/fhir/Patient/{patient_id}/$export-record"]
    assert set(path["get"]["responses"]["200"]["content"]) == {"application/fhir+json"}
