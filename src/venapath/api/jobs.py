"""The CPU-heavy parts of the evaluation routes, as functions a worker process can run.

Module-level functions with plain arguments (bytes, strings, datetimes), returning the body
and media type of the answer: they pickle, so `WorkPool` can run them in a thread or in a
worker process. `kb` is the app's knowledge base in a thread; in a worker process it is None
and the worker's own copy of the bundled knowledge base is used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from venapath.engine.assessment import Assessment
from venapath.fhir.guidance import guidance_response
from venapath.fhir.parse import parse_json_text
from venapath.kb.model import KnowledgeBase
from venapath.services.case_input import parse_case_text
from venapath.services.evaluation import assess_case, knowledge_base
from venapath.services.fhir_evaluation import WHOLE_RECORD, assess_fhir_data

FHIR_JSON = "application/fhir+json"
Answer = tuple[bytes, str]
PatientAnswer = tuple[bytes, str, str | None]
"""An answer about one patient: the body, its media type and the patient's id (for the audit
entry of the evaluation, so the route does not parse the body again to find it)."""
"""The body and the media type of a 200 answer."""


class FhirEvaluation(BaseModel):
    """The JSON view of a FHIR evaluation: the case built, the assessment, the mapping report."""

    case: dict[str, Any]
    assessment: Assessment
    mapping: dict[str, Any]


def evaluate_case_body(
    body: bytes, json_only: bool, now: datetime | None, trace: bool, kb: KnowledgeBase | None
) -> Answer:
    """Parse, validate and evaluate a case body (YAML or JSON)."""
    case = parse_case_text(body, "request body", json_only=json_only)
    result = assess_case(case, now=now, kb=kb or knowledge_base(), trace=trace)
    return result.model_dump_json().encode(), "application/json"


def evaluate_fhir_body(
    body: bytes, output: str, whole_record: bool, now: datetime | None, kb: KnowledgeBase | None
) -> PatientAnswer:
    """Parse, validate, map and evaluate one patient's FHIR data."""
    knowledge = kb or knowledge_base()
    data = parse_json_text(body)
    complete = WHOLE_RECORD if whole_record else frozenset()
    result = assess_fhir_data(data, now=now, kb=knowledge, complete=complete, trace=False)
    if output == "guidance":
        guidance = guidance_response(result.assessment, knowledge, result.patient_id)
        return _json_bytes(guidance), FHIR_JSON, result.patient_id
    view = FhirEvaluation(
        case=result.case.model_dump(mode="json", exclude_none=True),
        assessment=result.assessment,
        mapping=result.report.as_dict(),
    )
    return view.model_dump_json().encode(), "application/json", result.patient_id


def _json_bytes(data: Any) -> bytes:
    import json

    if isinstance(data, BaseModel):
        return data.model_dump_json().encode()
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
