"""OpenAPI links: how a record one call creates is read, changed or extended by the next.

A client (and schemathesis's stateful tests) follows them: `POST /patients` answers with the
patient's `id`, which `GET /patients/{patient_id}` takes; its `version`, which a PATCH must
send back; and an episode for that patient takes it as `patient_id` in the body. Written as
one table so the chain of the registry (patient -> episode -> procedure -> check-in) reads
top to bottom; `add_links` writes it into the generated schema (OpenAPI 3.1 Link objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"


@dataclass(frozen=True)
class Link:
    """From the `status` answer of `source` (path, method) to the operation `target`."""

    name: str
    source: tuple[str, str]
    target: tuple[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)
    status: str = "201"


def _id(pointer: str = "id") -> str:
    return f"$response.body#/{pointer}"


CREATE_PATIENT = (f"{API}/patients", "post")
PATIENT = f"{API}/patients/{{patient_id}}"
CREATE_EPISODE = (f"{API}/episodes", "post")
EPISODE = f"{API}/episodes/{{episode_id}}"
CREATE_PROCEDURE = (f"{API}/procedures", "post")
ASSESS = (f"{PATIENT}/assessments", "post")
CHECK_IN = (f"{API}/check-ins", "post")
IMPORT_RECORD = (f"{API}/fhir/$import-record", "post")
PATIENT_ID = {"patient_id": _id()}
VERSION = {"version": _id("version")}
QUERY_VERSION = {"query.version": _id("version")}

LINKS: tuple[Link, ...] = (
    Link("GetPatient", CREATE_PATIENT, (PATIENT, "get"), PATIENT_ID),
    Link("UpdatePatient", CREATE_PATIENT, (PATIENT, "patch"), PATIENT_ID, VERSION),
    Link("RetractPatient", CREATE_PATIENT, (PATIENT, "delete"), PATIENT_ID | QUERY_VERSION),
    Link("PatientEpisodes", CREATE_PATIENT, (f"{PATIENT}/episodes", "get"), PATIENT_ID),
    Link("PatientProcedures", CREATE_PATIENT, (f"{PATIENT}/procedures", "get"), PATIENT_ID),
    Link("PatientOutcomes", CREATE_PATIENT, (f"{PATIENT}/outcomes", "get"), PATIENT_ID),
    Link("PatientTasks", CREATE_PATIENT, (f"{PATIENT}/tasks", "get"), PATIENT_ID),
    Link("PatientAssessments", CREATE_PATIENT, (f"{PATIENT}/assessments", "get"), PATIENT_ID),
    Link("AssessPatient", CREATE_PATIENT, ASSESS, PATIENT_ID),
    Link(
        "ExportRecord",
        CREATE_PATIENT,
        (f"{API}/fhir/Patient/{{patient_id}}/$export-record", "get"),
        PATIENT_ID,
    ),
    Link("CreateEpisode", CREATE_PATIENT, CREATE_EPISODE, body={"patient_id": _id()}),
    Link("GetUpdatedPatient", (PATIENT, "patch"), (PATIENT, "get"), PATIENT_ID, status="200"),
    Link("GetEpisode", CREATE_EPISODE, (EPISODE, "get"), {"episode_id": _id()}),
    Link("UpdateEpisode", CREATE_EPISODE, (EPISODE, "patch"), {"episode_id": _id()}, VERSION),
    Link("EpisodePatient", CREATE_EPISODE, (PATIENT, "get"), {"patient_id": _id("patient_id")}),
    Link("RecordProcedure", CREATE_EPISODE, CREATE_PROCEDURE, body={"episode_id": _id()}),
    Link("RecordOutcome", CREATE_EPISODE, (f"{API}/outcomes", "post"), body={"episode_id": _id()}),
    Link(
        "GetProcedure",
        CREATE_PROCEDURE,
        (f"{API}/procedures/{{procedure_id}}", "get"),
        {"procedure_id": _id()},
    ),
    Link("CheckIn", CREATE_PROCEDURE, CHECK_IN, body={"procedure_id": _id()}),
    Link(
        "CheckInAssessment",
        CHECK_IN,
        (f"{API}/assessments/{{assessment_id}}", "get"),
        {"assessment_id": _id("assessment_id")},
    ),
    Link(
        "GetAssessment",
        ASSESS,
        (f"{API}/assessments/{{assessment_id}}", "get"),
        {"assessment_id": _id()},
    ),
    Link("ImportedPatient", IMPORT_RECORD, (PATIENT, "get"), {"patient_id": _id("patient_id")}),
)


def add_links(schema: dict[str, Any], links: tuple[Link, ...] = LINKS) -> None:
    """Write every link into the answer it starts from, naming its target by operationId.

    A link whose source or target is not in `schema` is a mistake in the table: KeyError."""
    paths = schema["paths"]
    for link in links:
        source_path, source_method = link.source
        target_path, target_method = link.target
        target = paths[target_path][target_method]
        answer = paths[source_path][source_method]["responses"][link.status]
        declared: dict[str, Any] = {"operationId": target["operationId"]}
        if link.parameters:
            declared["parameters"] = dict(link.parameters)
        if link.body:
            declared["requestBody"] = dict(link.body)
        answer.setdefault("links", {})[link.name] = declared
