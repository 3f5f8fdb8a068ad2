"""Assessments: a case evaluated for a patient, kept with its inputs, result and knowledge
version, so that re-evaluating the stored case reproduces the stored result."""

from __future__ import annotations

import uuid
from datetime import datetime

from venapath.domain.case import Case
from venapath.domain.records import AssessmentOut
from venapath.engine.assessment import Assessment
from venapath.errors import InputError
from venapath.persistence import queries
from venapath.persistence.tables import AssessmentRow
from venapath.services.evaluation import assess_case
from venapath.services.registry.door import Call, Door, dump
from venapath.services.registry.records import assessment_out


def store(
    call: Call,
    patient_id: str,
    episode_id: str | None,
    case: Case,
    assessment: Assessment,
    now: datetime,
) -> AssessmentRow:
    row = AssessmentRow(
        id=str(uuid.uuid4()),
        patient_id=patient_id,
        episode_id=episode_id,
        case=dump(case),
        result=assessment.model_dump(mode="json"),
        knowledge_version=assessment.knowledge_version,
        evaluated_at=assessment.evaluated_at,
        created_by=call.principal.subject[:200],
        created_at=now,
    )
    call.session.add(row)
    call.session.flush()
    call.touch("assessment", row.id)
    return row


def record(
    door: Door, call: Call, patient_id: str, episode_id: str | None, case: Case
) -> AssessmentOut:
    """Evaluate a case for a patient and keep inputs, result and knowledge version."""
    now = door.clock()
    call.patient(patient_id)
    if episode_id is not None:
        episode = call.episode(episode_id, pointer="/episode_id")
        if episode.patient_id != patient_id:
            raise InputError.at("/episode_id", "belongs to another patient")
    assessment = assess_case(case, now=now, kb=door.kb, trace=False)
    # The evaluation moment becomes part of the stored inputs, so that re-evaluating the
    # stored case reproduces the stored result exactly.
    pinned = case if case.as_of else case.model_copy(update={"as_of": assessment.evaluated_at})
    row = store(call, patient_id, episode_id, pinned, assessment, now)
    call.touch("assessment", row.id, primary=True)
    return assessment_out(row)


def get(call: Call, assessment_id: str) -> AssessmentOut:
    row = call.assessment(assessment_id)
    call.touch("assessment", row.id, primary=True)
    return assessment_out(row)


def of_patient(call: Call, patient_id: str) -> list[AssessmentOut]:
    call.patient(patient_id)
    rows = queries.assessments_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("assessment", row.id)
    return [assessment_out(row) for row in rows]
