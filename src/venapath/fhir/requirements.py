"""Which FHIR data feeds which case fields, derived from the value sets and the rules.

This is how CDS Hooks prefetch templates and GuidanceResponse data requirements come from
the rules themselves: a rule reads facts, a fact is settled by case fields, and a case
field is fed by the value sets whose target writes it (or, for age and sex, by Patient).
Nothing here is a hand-kept list of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from venapath.domain.facts import catalogue
from venapath.fhir.to_case import (
    _FOLLOWED_UP,
    CCSVI_REASON_FIELD,
    DISTAL_EXTENSION_FIELD,
    GESTATIONAL_AGE_FIELD,
    INDICATION_FIELD,
    PREGNANT_FIELD,
    PROPAGATION_FIELD,
    PROXIMAL_EXTENSION_FIELD,
)
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import (
    AnticoagulantTarget,
    Code,
    DiagnosisTarget,
    FlagTarget,
    MeasurementTarget,
    PostProcedureSymptomTarget,
    ProcedureTarget,
    Resource,
    SeizureTarget,
    ValueSet,
)

PATIENT_FIELDS = ("/patient/age_years", "/patient/sex")
"""Case fields read from the Patient resource itself."""
ANTICOAGULATION_FIELDS = (
    "/treatment/anticoagulation/agent",
    "/treatment/anticoagulation/started_at",
    "/treatment/anticoagulation/therapeutic",
)
"""Case fields an anticoagulant order, statement or administration sets (to_case.py)."""
THROMBUS_COURSE_FIELDS = (PROPAGATION_FIELD, PROXIMAL_EXTENSION_FIELD, DISTAL_EXTENSION_FIELD)
"""Case fields read from segment Conditions and final imaging reports placed in time
(`to_case._read_thrombus_course`); propagation also needs the start of anticoagulation."""
REPORT_FIELDS = ("/imaging/thrombosed_segments", *THROMBUS_COURSE_FIELDS)
"""Case fields a final report's coded conclusion feeds (`to_case._read_diagnostic_report`):
the thrombosed segments and the thrombus course, so a rule that reads the diagnoses alone
never asks for reports."""


@dataclass
class Feed:
    """The FHIR resource types (and, for each, the codes) that feed some case fields."""

    codes: dict[str, list[Code]] = field(default_factory=dict)
    _seen: dict[str, set[Code]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, resource_type: str, codes: tuple[Code, ...] = ()) -> None:
        """Add each code once, in first-seen order. The set beside the list keeps this linear:
        a list membership test compares models field by field, and the service builds its
        prefetch templates from thousands of codes at every start."""
        known = self.codes.setdefault(resource_type, [])
        seen = self._seen.setdefault(resource_type, set())
        for code in codes:
            if code not in seen:
                seen.add(code)
                known.append(code)

    @property
    def resource_types(self) -> list[str]:
        return sorted(self.codes)


def fields_written(value_set: ValueSet) -> tuple[str, ...]:
    """The case fields a value set's target can set."""
    target = value_set.target
    if isinstance(target, DiagnosisTarget):
        return (
            "/diagnoses",
            "/imaging/thrombosed_segments",
            "/presentation/symptom_onset",
            *THROMBUS_COURSE_FIELDS,
        )
    if isinstance(target, FlagTarget) and target.field == CCSVI_REASON_FIELD:
        return (target.field, INDICATION_FIELD)  # a procedure's reason (to_case._reason_is_ccsvi)
    if isinstance(target, MeasurementTarget) and target.field == GESTATIONAL_AGE_FIELD:
        return (target.field, PREGNANT_FIELD)
    if isinstance(target, FlagTarget | MeasurementTarget | PostProcedureSymptomTarget):
        return (target.field,)
    if isinstance(target, AnticoagulantTarget):
        return (*ANTICOAGULATION_FIELDS, PROPAGATION_FIELD)
    if isinstance(target, ProcedureTarget) and target.procedure in _FOLLOWED_UP:
        return ("/treatment/procedures", "/follow_up")
    if isinstance(target, ProcedureTarget):
        return ("/treatment/procedures",)
    if isinstance(target, SeizureTarget):
        return ("/exam/seizure", "/course/neurological_deterioration")
    return ()


def _overlaps(pointer: str, written: str) -> bool:
    """True when one pointer contains the other (a field and its parent block)."""
    return (
        pointer == written or pointer.startswith(written + "/") or written.startswith(pointer + "/")
    )


def feed_for_pointers(kb: KnowledgeBase, pointers: set[str]) -> Feed:
    """The resources and codes that can settle any of these case fields."""
    feed = Feed()
    if any(_overlaps(p, w) for p in pointers for w in PATIENT_FIELDS):
        feed.add("Patient")
    for value_set in kb.value_sets:
        if any(_overlaps(p, w) for p in pointers for w in fields_written(value_set)):
            for resource_type in _resource_types(value_set):
                feed.add(resource_type, value_set.codes)
        if any(_overlaps(p, w) for p in pointers for w in REPORT_FIELDS):
            for also in value_set.also_read_in:
                feed.add(also.value, value_set.codes)
    return feed


def _resource_types(value_set: ValueSet) -> tuple[str, ...]:
    """The resource types a value set is read from. Administrations are read for
    anticoagulants only (the days on therapy and its dose), so they are asked for only when
    a rule reads a fact those fields settle."""
    if value_set.resource is not Resource.MEDICATION:
        return (value_set.resource.value,)
    if isinstance(value_set.target, AnticoagulantTarget):
        return ("MedicationRequest", "MedicationStatement", "MedicationAdministration")
    return ("MedicationRequest", "MedicationStatement")


def facts_read_by_rules(kb: KnowledgeBase) -> set[str]:
    """Every fact a pathway, rule or time window of `kb` reads."""
    names: set[str] = set()
    for pathway in kb.pathways:
        names |= pathway.facts
    for rule in kb.rules:
        names |= set(rule.facts)
    names |= {window.clock for window in kb.time_windows}
    return names


def feed_for_rules(kb: KnowledgeBase) -> Feed:
    """What FHIR data the rules of `kb` can use, through the facts they read."""
    definitions = catalogue()
    pointers = {
        pointer
        for name in facts_read_by_rules(kb)
        if name in definitions
        for pointer in definitions[name].settled_by
    }
    return feed_for_pointers(kb, pointers)
