"""Evaluate FHIR R4 data: the path REST and CDS Hooks share, so both give the same answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from venapath.domain.case import Case, ProposedProcedure
from venapath.engine.assessment import Assessment
from venapath.fhir.parse import ParsedResources, read_resources
from venapath.fhir.to_case import MappingReport, case_from_fhir
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

WHOLE_RECORD = frozenset({"Condition", "Procedure"})
"""A Bundle sent as a patient's record is read as complete for these lists (see fhir/to_case)."""


@dataclass(frozen=True)
class FhirAssessment:
    case: Case
    assessment: Assessment
    report: MappingReport
    patient_id: str | None


def assess_fhir_data(
    data: Any,
    *,
    now: datetime | None = None,
    kb: KnowledgeBase | None = None,
    complete: frozenset[str] = WHOLE_RECORD,
    trace: bool = True,
) -> FhirAssessment:
    """Validate FHIR JSON data (a Bundle or resources), map it to a case and evaluate it."""
    return assess_parsed(read_resources(data), now=now, kb=kb, complete=complete, trace=trace)


def assess_parsed(
    parsed: ParsedResources,
    *,
    now: datetime | None = None,
    kb: KnowledgeBase | None = None,
    complete: frozenset[str] = WHOLE_RECORD,
    proposed: tuple[ProposedProcedure, ...] = (),
    trace: bool = True,
) -> FhirAssessment:
    knowledge = kb or load_knowledge_base()
    moment = now or datetime.now(UTC)
    mapped = case_from_fhir(parsed, knowledge.codes, moment, complete=complete)
    case = mapped.case
    if proposed:
        case = case.model_copy(update={"proposed_procedures": proposed})
    assessment = assess_case(case, now=moment, kb=knowledge, trace=trace)
    return FhirAssessment(case, assessment, mapped.report, mapped.patient_id)
