"""An assessment as FHIR: a GuidanceResponse with the recommendations in a RequestGroup.

The GuidanceResponse is the FHIR shape for "the result of running decision support". It
names the knowledge version as its module, carries the recommendations as RequestGroup
actions (each with its rule, rationale and citations), the facts still needed as data
requirements, and contraindications, time windows and alerts as notes, so a FHIR client
loses nothing a JSON client would see.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from venapath.domain.vocabulary import Urgency
from venapath.engine.assessment import Assessment, CitationOut, Recommendation
from venapath.fhir.requirements import feed_for_pointers
from venapath.kb.model import KnowledgeBase

ACTION_SYSTEM = "urn:venapath:codesystem:action"
STRENGTH_SYSTEM = "urn:venapath:codesystem:strength"
RULE_SYSTEM = "urn:venapath:rule"
_PRIORITY = {Urgency.EMERGENCY: "stat", Urgency.URGENT: "urgent", Urgency.ROUTINE: "routine"}


def guidance_response(
    assessment: Assessment, kb: KnowledgeBase, patient_id: str | None
) -> dict[str, Any]:
    """The assessment as an R4 GuidanceResponse (validated with the R4B model)."""
    subject = {"reference": f"Patient/{patient_id}"} if patient_id else None
    request_group: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": "recommendations",
        "status": "active",
        "intent": "proposal",
        "authoredOn": assessment.evaluated_at.isoformat(),
        "action": [_action(r) for r in assessment.recommendations],
    }
    if subject:
        request_group["subject"] = subject
    if not request_group["action"]:
        del request_group["action"]
    data: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "moduleUri": f"urn:venapath:knowledge-base:{assessment.knowledge_version}",
        "status": _status(assessment),
        "occurrenceDateTime": assessment.evaluated_at.isoformat(),
        "contained": [request_group],
        "result": {"reference": "#recommendations"},
        "identifier": [{"system": "urn:venapath:case", "value": assessment.case_id}],
    }
    if subject:
        data["subject"] = subject
    notes = _notes(assessment)
    if notes:
        data["note"] = [{"text": text} for text in notes]
    requirements = _data_requirements(assessment, kb)
    if requirements:
        data["dataRequirement"] = requirements
    GuidanceResponse.model_validate(data)  # the output contract: refuse to emit invalid FHIR
    return data


def _status(assessment: Assessment) -> str:
    if assessment.errors:
        return "failure"
    if assessment.needs_data:
        return "data-required"
    return "success"


def _action(recommendation: Recommendation) -> dict[str, Any]:
    strength = recommendation.strength.value
    description = recommendation.rationale
    if recommendation.capped_by:
        description += f" (lowered by {', '.join(recommendation.capped_by)})"
    if recommendation.pending_contraindications:
        pending = ", ".join(recommendation.pending_contraindications)
        description += f" Provisional: contraindications not yet checked: {pending}."
    return {
        "id": recommendation.rule_id,
        "title": recommendation.title,
        "description": description,
        "priority": _PRIORITY[recommendation.urgency],
        "code": [
            {"coding": [{"system": ACTION_SYSTEM, "code": recommendation.action.value}]},
            {"coding": [{"system": STRENGTH_SYSTEM, "code": strength}]},
            {"coding": [{"system": RULE_SYSTEM, "code": recommendation.rule_id}]},
        ],
        "documentation": [_citation(c) for c in recommendation.citations],
    }


def _citation(citation: CitationOut) -> dict[str, Any]:
    artifact: dict[str, Any] = {
        "type": "citation",
        "label": citation.id,
        "display": f"{citation.title} ({citation.kind.value}; evidence: {citation.evidence})",
    }
    if citation.locator:
        artifact["citation"] = citation.locator
    if citation.url:
        artifact["url"] = citation.url
    return artifact


def _notes(assessment: Assessment) -> list[str]:
    notes = [
        f"Contraindication {c.rule_id}: {c.title} (caps "
        f"{', '.join(a.value for a in c.actions)} at {c.ceiling.value})"
        for c in assessment.contraindications
    ]
    for window in assessment.time_windows:
        elapsed = "unknown" if window.elapsed is None else f"{window.elapsed:g} {window.unit}"
        notes.append(
            f"Time window {window.id}: {window.label}; limit {window.limit:g} {window.unit} "
            f"({window.bound} bound), elapsed {elapsed}, status {window.status.value}"
        )
    notes += [
        f"Alert {alert.id} ({alert.severity}): {alert.message}" for alert in assessment.alerts
    ]
    notes += [f"Rule error {error.rule_id}: {error.message}" for error in assessment.errors]
    notes += [
        f"Needs data: {need.fact} ({need.description}); settled by {', '.join(need.settled_by)}"
        for need in assessment.needs_data
    ]
    return notes


_CODE_PATH = {"DiagnosticReport": "conclusionCode"}
"""Where a resource type carries the codes the mapping reads, when not in `code`."""


def _data_requirements(assessment: Assessment, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One requirement per resource type, with the codes that would settle a missing fact."""
    pointers = {pointer for need in assessment.needs_data for pointer in need.settled_by}
    if not pointers:
        return []
    requirements = []
    for resource_type, codes in sorted(feed_for_pointers(kb, pointers).codes.items()):
        requirement: dict[str, Any] = {"type": resource_type}
        if codes:
            requirement["codeFilter"] = [
                {
                    "path": _CODE_PATH.get(resource_type, "code"),
                    "code": [
                        {"system": c.system.uri, "code": c.code, "display": c.display}
                        for c in codes
                    ],
                }
            ]
        requirements.append(requirement)
    return requirements
