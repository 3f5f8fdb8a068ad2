"""Check-ins: what a patient reports after a procedure, evaluated with the follow-up rules.

Urgent answers make a task to call the patient today; every answer gets plain advice and
the safety net. Unknown is not "no": an urgent rule waiting for an answer means a call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from venapath.domain.case import Case, FollowUp, ProcedureKind
from venapath.domain.records import CheckInIn, CheckInOut, EpisodeIn, PatientAdvice, TaskOut
from venapath.domain.vocabulary import Strength, Urgency
from venapath.engine.assessment import Assessment
from venapath.errors import InputError, NotFoundError
from venapath.kb.model import KnowledgeBase
from venapath.persistence import queries
from venapath.persistence.tables import CheckInRow, EpisodeRow, ProcedureRow, TaskRow
from venapath.services import followup
from venapath.services.evaluation import assess_case
from venapath.services.registry import assessments
from venapath.services.registry.door import Call, Door, dump
from venapath.services.registry.records import check_in_out


def record(door: Door, call: Call, data: CheckInIn) -> CheckInOut:
    """Evaluate what the patient reports; urgent answers make a task to call today."""
    door.not_in_future(data.submitted_at, "/submitted_at")
    now = door.clock()
    session = call.session
    procedure = call.procedure(data.procedure_id, pointer="/procedure_id")
    if data.submitted_at < procedure.performed_at:
        raise InputError.at("/submitted_at", "is before the procedure it follows up")
    episode = session.get(EpisodeRow, procedure.episode_id)
    case = _check_in_case(data, procedure, episode)
    assessment = assess_case(case, kb=door.kb, trace=False)
    advice, text = patient_advice(assessment, door.kb)
    assessment_row = assessments.store(
        call, procedure.patient_id, procedure.episode_id, case, assessment, now
    )
    urgent_id = None
    if advice is not PatientAdvice.ROUTINE:
        task = followup.urgent_task(
            patient_id=procedure.patient_id,
            episode_id=procedure.episode_id,
            procedure_id=procedure.id,
            reason=text,
            now=now,
        )
        session.add(task)
        urgent_id = task.id
    row = CheckInRow(
        id=str(uuid.uuid4()),
        patient_id=procedure.patient_id,
        procedure_id=procedure.id,
        submitted_at=data.submitted_at,
        answers=dump(data),
        advice=advice.value,
        advice_text=text,
        assessment_id=assessment_row.id,
        urgent_task_id=urgent_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    call.touch("check_in", row.id, primary=True)
    return check_in_out(row)


def of_patient(call: Call, patient_id: str) -> list[CheckInOut]:
    call.patient(patient_id)
    rows = queries.check_ins_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("check_in", row.id)
    return [check_in_out(row) for row in rows]


@dataclass(frozen=True)
class CheckInReview:
    """One submitted check-in as the care team reviews it: the answers, the advice the
    patient was shown, the procedure it follows up, and the task it raised (if any)."""

    check_in: CheckInOut
    pseudonym: str
    procedure_kind: str
    performed_at: datetime
    task: TaskOut | None
    task_note: str | None


def review(call: Call, check_in_id: str) -> CheckInReview:
    """One check-in with what it points to, read in one transaction (one audit entry that
    names the check-in, its procedure and its task)."""
    row = call.check_in(check_in_id)
    patient = call.patient(row.patient_id)
    procedure = call.session.get(ProcedureRow, row.procedure_id)
    if procedure is None:  # a foreign key: only a damaged database gets here
        raise NotFoundError("procedure", row.procedure_id)
    call.touch("check_in", row.id, primary=True)
    call.touch("procedure", procedure.id)
    task = call.session.get(TaskRow, row.urgent_task_id) if row.urgent_task_id else None
    if task is not None:
        call.touch("task", task.id)
    return CheckInReview(
        check_in=check_in_out(row),
        pseudonym=patient.pseudonym,
        procedure_kind=procedure.kind,
        performed_at=procedure.performed_at,
        task=followup.task_out(task, patient.pseudonym) if task is not None else None,
        task_note=task.note if task is not None else None,
    )


def _check_in_case(data: CheckInIn, procedure: ProcedureRow, episode: EpisodeRow | None) -> Case:
    indication = EpisodeIn.model_validate(episode.record).indication if episode else None
    return Case(
        case_id=f"check-in-{procedure.id[:8]}",
        as_of=data.submitted_at,
        follow_up=FollowUp(
            procedure_kind=ProcedureKind(procedure.kind),
            procedure_date=procedure.performed_at,
            indication=indication,
            earlier_repeat_procedures=procedure.repeat_number - 1,
            symptom_response=data.symptom_response,
            improvement_lasted_days=data.improvement_lasted_days,
            reverted_for_days=data.reverted_for_days,
            worsening_for_days=data.worsening_for_days,
            symptoms_back_within_hours=data.symptoms_back_within_hours,
            fever_or_urinary_symptoms=data.fever_or_urinary_symptoms,
        ),
    )


SAFETY_NET = (
    "If your symptoms come back within hours of the procedure, or you feel much worse, call "
    "your interventional radiologist at once; if they cannot be reached, call your doctor or "
    "go to the emergency department."
)


FOLLOW_UP_PATHWAYS = frozenset({"venoplasty_follow_up", "venous_stent_follow_up"})
"""The pathways whose rules read what a patient reports after a procedure."""
CHECK_IN_POINTERS = frozenset(
    f"/follow_up/{name}"
    for name in CheckInIn.model_fields
    if name not in ("procedure_id", "submitted_at", "comment")
)
"""The case fields a check-in answers: only these can be asked of the patient on a call."""


def patient_advice(assessment: Assessment, kb: KnowledgeBase) -> tuple[PatientAdvice, str]:
    """Plain advice from the follow-up rules, and the safety net always.

    The most urgent follow-up recommendation in favour decides. When none fires but an
    urgent follow-up rule is unknown for want of an answer (unknown is not "no"), the care
    team calls today to settle it. Other pathways are not judged from a symptom check-in.
    """
    in_favour = [
        r
        for r in assessment.recommendations
        if r.pathway in FOLLOW_UP_PATHWAYS and r.strength.rank >= Strength.CONSIDER.rank
    ]
    if in_favour:
        top = max(in_favour, key=lambda r: r.urgency.rank)
        if top.urgency is Urgency.EMERGENCY:
            return (
                PatientAdvice.EMERGENCY,
                f"Seek care now. {top.title} ({top.rule_id}). {SAFETY_NET}",
            )
        if top.urgency is Urgency.URGENT:
            lead = "Your care team will call you today."
            return PatientAdvice.CALL_TODAY, f"{lead} {top.title} ({top.rule_id}). {SAFETY_NET}"
    pending = _urgent_rules_waiting_for_data(assessment, kb)
    if pending:
        facts = "; ".join(dict.fromkeys(f for found in pending.values() for f in found))
        return (
            PatientAdvice.CALL_TODAY,
            f"Your care team will call you today to ask about: {facts} "
            f"({', '.join(sorted(pending))}). {SAFETY_NET}",
        )
    if in_favour:
        top = max(in_favour, key=lambda r: r.urgency.rank)
        return (
            PatientAdvice.ROUTINE,
            f"Nothing you reported needs care now; keep to your plan: {top.title} "
            f"({top.rule_id}). {SAFETY_NET}",
        )
    return PatientAdvice.ROUTINE, "Nothing you reported needs care now. " + SAFETY_NET


def _urgent_rules_waiting_for_data(
    assessment: Assessment, kb: KnowledgeBase
) -> dict[str, list[str]]:
    """Urgent follow-up rules that could fire once a check-in question is answered: rule →
    the questions."""
    waiting: dict[str, list[str]] = {}
    urgent_follow_up = {
        rule.id: rule
        for pathway in FOLLOW_UP_PATHWAYS
        for rule in kb.rules_by_pathway.get(pathway, ())
    }
    for need in assessment.needs_data:
        if not CHECK_IN_POINTERS.intersection(need.settled_by):
            continue  # not something the patient can answer (a scan, a lab result)
        for rule_id in need.rules:
            rule = urgent_follow_up.get(rule_id)  # entries may also name pathways
            if rule is None:
                continue
            spec = rule.recommend
            if (
                rule.pathway in FOLLOW_UP_PATHWAYS
                and spec
                and spec.urgency.rank >= Urgency.URGENT.rank
            ):
                waiting.setdefault(rule_id, []).append(need.description.lower())
    return waiting
