"""Export one patient's record as a FHIR R4 Bundle (a disclosure, audited by the registry).

The records are read through the registry door in one transaction (`Registry.export_record`);
this module only turns them into FHIR. Importing such a Bundle is `Registry.import_record`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from venapath.domain.access import Principal
from venapath.domain.records import AssessmentOut, TaskOut
from venapath.engine.assessment import Assessment
from venapath.fhir import records as fhir_records
from venapath.fhir.guidance import guidance_response
from venapath.services.registry import Registry


def export_patient(registry: Registry, patient_id: str, principal: Principal) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle of everything recorded for one patient (no MRN)."""
    record = registry.export_record(patient_id, principal)
    episode_of = {p.id: p.episode_id for p in record.procedures}
    resources: list[dict[str, Any]] = [fhir_records.patient_resource(record.patient)]
    resources += [fhir_records.condition_resource(e) for e in record.episodes]
    resources += [fhir_records.procedure_resource(p, episode_of[p.id]) for p in record.procedures]
    resources += [fhir_records.outcome_resource(o) for o in record.outcomes]
    resources += [fhir_records.check_in_resource(c) for c in record.check_ins]
    resources += _care_plans_and_tasks(record.tasks, patient_id)
    resources += [_guidance(registry, a) for a in record.assessments]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": registry.clock().isoformat(),
        "meta": {
            "tag": [{"system": "urn:venapath:knowledge-version", "code": registry.kb.version}]
        },
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources if "id" in r
        ],
    }


def _care_plans_and_tasks(tasks: list[TaskOut], patient_id: str) -> list[dict[str, Any]]:
    plans: dict[tuple[str, str], list[TaskOut]] = defaultdict(list)
    for task in tasks:
        if task.protocol_id:
            anchor = task.procedure_id or task.episode_id or patient_id
            plans[(f"{task.protocol_id} v{task.protocol_version}", anchor)].append(task)
    plan_ids = {key: str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join(key))) for key in plans}
    resources = [
        fhir_records.care_plan_resource(plan_ids[key], patient_id, key[0], members)
        for key, members in plans.items()
    ]
    for task in tasks:
        key = (
            (
                f"{task.protocol_id} v{task.protocol_version}",
                task.procedure_id or task.episode_id or patient_id,
            )
            if task.protocol_id
            else None
        )
        resources.append(fhir_records.task_resource(task, plan_ids.get(key) if key else None))
    return resources


def _guidance(registry: Registry, assessment: AssessmentOut) -> dict[str, Any]:
    result = Assessment.model_validate(assessment.result)
    resource = guidance_response(result, registry.kb, assessment.patient_id)
    resource["id"] = assessment.id
    resource["extension"] = [fhir_records.assessment_extension(assessment)]
    return resource
