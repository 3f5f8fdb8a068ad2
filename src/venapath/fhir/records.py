"""Registry records as FHIR R4 resources, and back.

Standard elements carry what FHIR has a place for (dates, status, body sites, complications,
devices, the care plan's tasks), so any FHIR consumer can read the export. Each resource also
carries the VenaPath record it came from in one extension (`RECORD_EXTENSION`, a JSON
string), so that importing an export recreates the record exactly; a Bundle without it
cannot be imported and is refused with the resource named.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from venapath.domain.anatomy import SEGMENTS
from venapath.domain.records import (
    AssessmentOut,
    CheckInOut,
    EpisodeOut,
    EpisodeStatus,
    OutcomeOut,
    PatientOut,
    ProcedureOut,
    TaskOut,
    TaskStatus,
)

RECORD_EXTENSION = "https://venapath.org/fhir/StructureDefinition/registry-record"
CODE_SYSTEM = "https://venapath.org/fhir/CodeSystem/"
PSEUDONYM_SYSTEM = "urn:venapath:pseudonym"
_SEGMENT_LABEL = {segment.id: segment.label for segment in SEGMENTS}


def _record(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps({"kind": kind, "record": data}, sort_keys=True, separators=(",", ":"))
    return {"url": RECORD_EXTENSION, "valueString": payload}


def read_record(resource: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The VenaPath record a resource carries, or None when it carries none."""
    for extension in resource.get("extension", []):
        if isinstance(extension, dict) and extension.get("url") == RECORD_EXTENSION:
            loaded = json.loads(extension["valueString"])
            return str(loaded["kind"]), dict(loaded["record"])
    return None


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": CODE_SYSTEM + system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code.replace("_", " ")}


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value not in (None, [], {})}


def patient_resource(patient: PatientOut) -> dict[str, Any]:
    return _drop_none(
        {
            "resourceType": "Patient",
            "id": patient.id,
            "extension": [_record("patient", patient.model_dump(mode="json"))],
            "identifier": [{"system": PSEUDONYM_SYSTEM, "value": patient.pseudonym}],
            "gender": patient.sex.value if patient.sex else None,
            "birthDate": str(patient.birth_year) if patient.birth_year else None,
        }
    )


def condition_resource(episode: EpisodeOut) -> dict[str, Any]:
    active = episode.status is EpisodeStatus.ACTIVE
    return _drop_none(
        {
            "resourceType": "Condition",
            "id": episode.id,
            "extension": [_record("episode", episode.model_dump(mode="json"))],
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active" if active else "resolved",
                    }
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "code": _concept("condition", episode.condition.value),
            "bodySite": [
                {"text": _SEGMENT_LABEL.get(segment, segment)} for segment in episode.segments
            ],
            "subject": {"reference": f"Patient/{episode.patient_id}"},
            "onsetDateTime": _iso(episode.onset_at),
            "recordedDate": _iso(episode.diagnosed_at),
            "note": [{"text": episode.notes}] if episode.notes else None,
        }
    )


def procedure_resource(procedure: ProcedureOut, episode_id: str) -> dict[str, Any]:
    return _drop_none(
        {
            "resourceType": "Procedure",
            "id": procedure.id,
            "extension": [_record("procedure", procedure.model_dump(mode="json"))],
            "status": "completed",
            "code": _concept("procedure", procedure.kind.value),
            "subject": {"reference": f"Patient/{procedure.patient_id}"},
            "performedDateTime": procedure.performed_at.isoformat(),
            "performer": (
                [{"actor": {"display": procedure.operator}}] if procedure.operator else None
            ),
            "reasonReference": [{"reference": f"Condition/{episode_id}"}],
            "bodySite": [
                {"text": _SEGMENT_LABEL.get(segment, segment)}
                for segment in procedure.treated_segments
            ],
            "complication": [
                {"text": f"{c.description} (SIR class {c.sir_class.value})"}
                for c in procedure.complications
            ],
            "usedCode": [
                _concept("device-class", d.device_class.value, d.name) for d in procedure.devices
            ],
            "note": [{"text": procedure.notes}] if procedure.notes else None,
        }
    )


def outcome_resource(outcome: OutcomeOut) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if outcome.score is not None:
        value["valueInteger"] = outcome.score
    elif outcome.recanalisation is not None:
        value["valueCodeableConcept"] = _concept("recanalisation", outcome.recanalisation.value)
    elif outcome.present is not None:
        value["valueBoolean"] = outcome.present
    return {
        "resourceType": "Observation",
        "id": outcome.id,
        "extension": [_record("outcome", outcome.model_dump(mode="json"))],
        "status": "final",
        "code": _concept("outcome", outcome.measure.value),
        "subject": {"reference": f"Patient/{outcome.patient_id}"},
        "focus": [{"reference": f"Condition/{outcome.episode_id}"}],
        "effectiveDateTime": outcome.assessed_at.isoformat(),
        **value,
    }


def check_in_resource(check_in: CheckInOut) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": check_in.id,
        "extension": [_record("check_in", check_in.model_dump(mode="json"))],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": _concept("check-in", "post_procedure_check_in", "Post-procedure check-in"),
        "subject": {"reference": f"Patient/{check_in.patient_id}"},
        "focus": [{"reference": f"Procedure/{check_in.procedure_id}"}],
        "effectiveDateTime": check_in.submitted_at.isoformat(),
        "valueString": check_in.advice_text,
        "interpretation": [_concept("advice", check_in.advice.value)],
    }


_TASK_STATUS = {
    TaskStatus.SCHEDULED: "requested",
    TaskStatus.DONE: "completed",
    TaskStatus.CANCELLED: "cancelled",
}


def task_resource(task: TaskOut, care_plan_id: str | None) -> dict[str, Any]:
    focus = (
        f"Procedure/{task.procedure_id}"
        if task.procedure_id
        else (f"Condition/{task.episode_id}" if task.episode_id else None)
    )
    return _drop_none(
        {
            "resourceType": "Task",
            "id": task.id,
            "extension": [_record("task", task.model_dump(mode="json"))],
            "status": _TASK_STATUS[task.status],
            "intent": "plan",
            "priority": "urgent" if task.urgent else "routine",
            "code": _concept("task-kind", task.kind),
            "description": task.title,
            "for": {"reference": f"Patient/{task.patient_id}"},
            "focus": {"reference": focus} if focus else None,
            "basedOn": [{"reference": f"CarePlan/{care_plan_id}"}] if care_plan_id else None,
            "executionPeriod": _drop_none(
                {
                    "start": task.due_from.isoformat(),
                    "end": task.due_by.isoformat(),
                }
            ),
            "lastModified": _iso(task.completed_at),
            "note": [{"text": task.reason}],
        }
    )


def care_plan_resource(
    plan_id: str, patient_id: str, protocol_label: str, tasks: list[TaskOut]
) -> dict[str, Any]:
    open_tasks = any(t.status is TaskStatus.SCHEDULED for t in tasks)
    return {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active" if open_tasks else "completed",
        "intent": "plan",
        "title": f"Follow-up: {protocol_label}",
        "instantiatesUri": [f"urn:venapath:follow-up-protocol:{protocol_label.replace(' ', ':')}"],
        "subject": {"reference": f"Patient/{patient_id}"},
        "activity": [{"reference": {"reference": f"Task/{t.id}"}} for t in tasks],
    }


def assessment_extension(assessment: AssessmentOut) -> dict[str, Any]:
    return _record("assessment", assessment.model_dump(mode="json"))
