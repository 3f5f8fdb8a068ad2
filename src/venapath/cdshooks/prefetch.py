"""Prefetch templates, generated from the facts the rules read (fhir/requirements.py).

Each resource type that can feed a rule gets one key. Observations are filtered by the
LOINC codes of the value sets, so the EHR sends the handful of results the rules can use
instead of the whole chart; Conditions and Procedures are asked for in full because the
mapping reads those lists as complete (a problem list closes `diagnoses`). DiagnosticReports
are asked for only when final (or amended, corrected) and only with a coded conclusion the
value sets name (the `conclusion` search parameter): the mapping reads nothing else of a
report, and a chart's many laboratory and imaging reports stay on the EHR.
"""

from __future__ import annotations

from typing import Any

from venapath.fhir.requirements import Feed, feed_for_rules
from venapath.fhir.to_case import FINAL_REPORT
from venapath.kb.codes import DOTTED_SYSTEMS
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import CodeSystem

PATIENT_TOKEN = "{{context.patientId}}"

KEY_BY_TYPE = {
    "Patient": "patient",
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "MedicationAdministration": "medicationAdministrations",
    "Procedure": "procedures",
    "AllergyIntolerance": "allergies",
    "DiagnosticReport": "diagnosticReports",
}
TYPE_BY_KEY = {key: resource_type for resource_type, key in KEY_BY_TYPE.items()}
COMPLETE_WHEN_ANSWERED = frozenset({"Condition", "Procedure"})
"""Lists read as the whole record once the EHR answers the query (see fhir/to_case.py)."""


def prefetch_templates(kb: KnowledgeBase) -> dict[str, str]:
    """Key -> FHIR query template, for every resource type the rules can use."""
    return templates_for(feed_for_rules(kb))


def templates_for(feed: Feed) -> dict[str, str]:
    templates: dict[str, str] = {}
    for resource_type in feed.resource_types:
        key = KEY_BY_TYPE.get(resource_type)
        if key is not None:
            templates[key] = _query(resource_type, feed)
    return templates


def _query(resource_type: str, feed: Feed) -> str:
    if resource_type == "Patient":
        return f"Patient/{PATIENT_TOKEN}"
    query = f"{resource_type}?patient={PATIENT_TOKEN}"
    if resource_type == "Observation":
        loinc = sorted({c.code for c in feed.codes[resource_type] if c.system is CodeSystem.LOINC})
        if loinc:
            query += "&code=" + ",".join(f"{CodeSystem.LOINC.uri}|{code}" for code in loinc)
        query += "&_sort=-date&_count=200"
    if resource_type == "DiagnosticReport":
        query += _report_filter(feed)
    return query


def _report_filter(feed: Feed) -> str:
    """Final reports whose conclusion carries a value-set code.

    A filter must never hide a report the mapping would read, so the codes go without their
    system (a token without one matches the code in any system: the answer can only hold
    more than the mapping reads), ICD-10 codes in both spellings the mapping accepts (I82.412
    and I82412), and a prefix code (an ICD-10 family, which no token can express) drops the
    conclusion filter altogether. Bare codes also keep the query about half as long."""
    query = "&status=" + ",".join(sorted(FINAL_REPORT))
    codes = feed.codes["DiagnosticReport"]
    if any(code.match == "prefix" for code in codes):
        return query
    tokens = {code.code for code in codes}
    tokens |= {code.code.replace(".", "") for code in codes if code.system in DOTTED_SYSTEMS}
    return query + "&conclusion=" + ",".join(sorted(tokens))


def prefetch_answers(resources: list[dict[str, Any]], templates: dict[str, str]) -> dict[str, Any]:
    """Each prefetch key answered from a chart's resources, as an EHR answers it: the
    Patient itself (None without one), a searchset Bundle for every other key. The
    service's start-up warm-up and the tests build their prefetch with it."""
    answers: dict[str, Any] = {}
    for key in templates:
        resource_type = TYPE_BY_KEY[key]
        found = [r for r in resources if r["resourceType"] == resource_type]
        if resource_type == "Patient":
            answers[key] = found[0] if found else None
        else:
            answers[key] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "entry": [{"resource": r} for r in found],
            }
    return answers
