"""The FHIR R4 element definitions the typed view compiler may rely on: type and cardinality.

Why a table: a path such as `valueQuantity.value` is at most one value by the FHIR definitions
(`Observation.valueQuantity` 0..1, `Quantity.value` 0..1), so the typed compiler can read it
as a plain struct field instead of wrapping every step in a FHIRPath collection. Only what is
listed here is trusted; a path through any other element makes the compiler fall back to the
general one (`venapath.sof.paths`), so an omission costs speed, never correctness.

Each entry is `element name -> (FHIR type, max cardinality is *)`, copied from the R4
specification (hl7.org/fhir/R4, each resource's "Structure" table). `tests/sof/test_typed.py`
checks every entry against the R4B models of `fhir.resources` (the R4 and R4B definitions of
these elements are the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["COMPLEX_TYPES", "ELEMENTS", "STRING_TYPES", "element"]

Element = tuple[str, bool]
"""(FHIR type name, whether the element may repeat)."""

_ONE: Final = False
_MANY: Final = True

STRING_TYPES: Final = frozenset(
    {
        "string",
        "code",
        "id",
        "uri",
        "url",
        "canonical",
        "oid",
        "uuid",
        "markdown",
        "date",
        "dateTime",
        "instant",
        "time",
    }
)
"""Primitives whose JSON form is a string: the typed read keeps them as VARCHAR."""

_COMMON: dict[str, Element] = {
    "resourceType": ("code", _ONE),
    "id": ("id", _ONE),
    "implicitRules": ("uri", _ONE),
    "language": ("code", _ONE),
}

_DATATYPES: dict[str, dict[str, Element]] = {
    "CodeableConcept": {"coding": ("Coding", _MANY), "text": ("string", _ONE)},
    "Coding": {
        "system": ("uri", _ONE),
        "version": ("string", _ONE),
        "code": ("code", _ONE),
        "display": ("string", _ONE),
        "userSelected": ("boolean", _ONE),
    },
    "Reference": {
        "reference": ("string", _ONE),
        "type": ("uri", _ONE),
        "identifier": ("Identifier", _ONE),
        "display": ("string", _ONE),
    },
    "Identifier": {
        "use": ("code", _ONE),
        "type": ("CodeableConcept", _ONE),
        "system": ("uri", _ONE),
        "value": ("string", _ONE),
        "period": ("Period", _ONE),
        "assigner": ("Reference", _ONE),
    },
    "Quantity": {
        "value": ("decimal", _ONE),
        "comparator": ("code", _ONE),
        "unit": ("string", _ONE),
        "system": ("uri", _ONE),
        "code": ("code", _ONE),
    },
    "Period": {"start": ("dateTime", _ONE), "end": ("dateTime", _ONE)},
    "HumanName": {
        "use": ("code", _ONE),
        "text": ("string", _ONE),
        "family": ("string", _ONE),
        "given": ("string", _MANY),
        "prefix": ("string", _MANY),
        "suffix": ("string", _MANY),
        "period": ("Period", _ONE),
    },
    "ContactPoint": {
        "system": ("code", _ONE),
        "value": ("string", _ONE),
        "use": ("code", _ONE),
        "rank": ("positiveInt", _ONE),
        "period": ("Period", _ONE),
    },
    "Address": {
        "use": ("code", _ONE),
        "type": ("code", _ONE),
        "text": ("string", _ONE),
        "line": ("string", _MANY),
        "city": ("string", _ONE),
        "district": ("string", _ONE),
        "state": ("string", _ONE),
        "postalCode": ("string", _ONE),
        "country": ("string", _ONE),
        "period": ("Period", _ONE),
    },
    "Patient.contact": {
        "relationship": ("CodeableConcept", _MANY),
        "name": ("HumanName", _ONE),
        "telecom": ("ContactPoint", _MANY),
        "address": ("Address", _ONE),
        "gender": ("code", _ONE),
        "organization": ("Reference", _ONE),
        "period": ("Period", _ONE),
    },
    "Patient.link": {"other": ("Reference", _ONE), "type": ("code", _ONE)},
    "Range": {"low": ("Quantity", _ONE), "high": ("Quantity", _ONE)},
    "Annotation": {
        "authorReference": ("Reference", _ONE),
        "authorString": ("string", _ONE),
        "time": ("dateTime", _ONE),
        "text": ("markdown", _ONE),
    },
    "Observation.referenceRange": {
        "low": ("Quantity", _ONE),
        "high": ("Quantity", _ONE),
        "type": ("CodeableConcept", _ONE),
        "appliesTo": ("CodeableConcept", _MANY),
        "age": ("Range", _ONE),
        "text": ("string", _ONE),
    },
    "Observation.component": {
        "code": ("CodeableConcept", _ONE),
        "valueQuantity": ("Quantity", _ONE),
        "valueCodeableConcept": ("CodeableConcept", _ONE),
        "valueString": ("string", _ONE),
        "valueBoolean": ("boolean", _ONE),
        "valueInteger": ("integer", _ONE),
        "valueRange": ("Range", _ONE),
        "valueDateTime": ("dateTime", _ONE),
        "valueTime": ("time", _ONE),
        "valuePeriod": ("Period", _ONE),
        "dataAbsentReason": ("CodeableConcept", _ONE),
        "interpretation": ("CodeableConcept", _MANY),
        "referenceRange": ("Observation.referenceRange", _MANY),
    },
}

_RESOURCES: dict[str, dict[str, Element]] = {
    "Patient": {
        "identifier": ("Identifier", _MANY),
        "active": ("boolean", _ONE),
        "name": ("HumanName", _MANY),
        "telecom": ("ContactPoint", _MANY),
        "gender": ("code", _ONE),
        "birthDate": ("date", _ONE),
        "deceasedBoolean": ("boolean", _ONE),
        "deceasedDateTime": ("dateTime", _ONE),
        "address": ("Address", _MANY),
        "maritalStatus": ("CodeableConcept", _ONE),
        "multipleBirthBoolean": ("boolean", _ONE),
        "multipleBirthInteger": ("integer", _ONE),
        "managingOrganization": ("Reference", _ONE),
        "generalPractitioner": ("Reference", _MANY),
        "contact": ("Patient.contact", _MANY),
        "link": ("Patient.link", _MANY),
    },
    "Condition": {
        "identifier": ("Identifier", _MANY),
        "clinicalStatus": ("CodeableConcept", _ONE),
        "verificationStatus": ("CodeableConcept", _ONE),
        "category": ("CodeableConcept", _MANY),
        "severity": ("CodeableConcept", _ONE),
        "code": ("CodeableConcept", _ONE),
        "bodySite": ("CodeableConcept", _MANY),
        "subject": ("Reference", _ONE),
        "encounter": ("Reference", _ONE),
        "onsetDateTime": ("dateTime", _ONE),
        "onsetPeriod": ("Period", _ONE),
        "onsetRange": ("Range", _ONE),
        "onsetString": ("string", _ONE),
        "abatementDateTime": ("dateTime", _ONE),
        "abatementPeriod": ("Period", _ONE),
        "abatementString": ("string", _ONE),
        "recordedDate": ("dateTime", _ONE),
        "recorder": ("Reference", _ONE),
        "asserter": ("Reference", _ONE),
        "note": ("Annotation", _MANY),
    },
    "Observation": {
        "identifier": ("Identifier", _MANY),
        "basedOn": ("Reference", _MANY),
        "partOf": ("Reference", _MANY),
        "status": ("code", _ONE),
        "category": ("CodeableConcept", _MANY),
        "code": ("CodeableConcept", _ONE),
        "subject": ("Reference", _ONE),
        "focus": ("Reference", _MANY),
        "encounter": ("Reference", _ONE),
        "effectiveDateTime": ("dateTime", _ONE),
        "effectivePeriod": ("Period", _ONE),
        "effectiveInstant": ("instant", _ONE),
        "issued": ("instant", _ONE),
        "performer": ("Reference", _MANY),
        "valueQuantity": ("Quantity", _ONE),
        "valueCodeableConcept": ("CodeableConcept", _ONE),
        "valueString": ("string", _ONE),
        "valueBoolean": ("boolean", _ONE),
        "valueInteger": ("integer", _ONE),
        "valueRange": ("Range", _ONE),
        "valueDateTime": ("dateTime", _ONE),
        "valueTime": ("time", _ONE),
        "valuePeriod": ("Period", _ONE),
        "dataAbsentReason": ("CodeableConcept", _ONE),
        "interpretation": ("CodeableConcept", _MANY),
        "note": ("Annotation", _MANY),
        "bodySite": ("CodeableConcept", _ONE),
        "method": ("CodeableConcept", _ONE),
        "specimen": ("Reference", _ONE),
        "device": ("Reference", _ONE),
        "referenceRange": ("Observation.referenceRange", _MANY),
        "hasMember": ("Reference", _MANY),
        "derivedFrom": ("Reference", _MANY),
        "component": ("Observation.component", _MANY),
    },
    "MedicationRequest": {
        "identifier": ("Identifier", _MANY),
        "status": ("code", _ONE),
        "statusReason": ("CodeableConcept", _ONE),
        "intent": ("code", _ONE),
        "category": ("CodeableConcept", _MANY),
        "priority": ("code", _ONE),
        "doNotPerform": ("boolean", _ONE),
        "medicationCodeableConcept": ("CodeableConcept", _ONE),
        "medicationReference": ("Reference", _ONE),
        "subject": ("Reference", _ONE),
        "encounter": ("Reference", _ONE),
        "authoredOn": ("dateTime", _ONE),
        "requester": ("Reference", _ONE),
        "reasonCode": ("CodeableConcept", _MANY),
        "reasonReference": ("Reference", _MANY),
        "note": ("Annotation", _MANY),
    },
    "MedicationStatement": {
        "identifier": ("Identifier", _MANY),
        "basedOn": ("Reference", _MANY),
        "partOf": ("Reference", _MANY),
        "status": ("code", _ONE),
        "statusReason": ("CodeableConcept", _MANY),
        "category": ("CodeableConcept", _ONE),
        "medicationCodeableConcept": ("CodeableConcept", _ONE),
        "medicationReference": ("Reference", _ONE),
        "subject": ("Reference", _ONE),
        "context": ("Reference", _ONE),
        "effectiveDateTime": ("dateTime", _ONE),
        "effectivePeriod": ("Period", _ONE),
        "dateAsserted": ("dateTime", _ONE),
        "informationSource": ("Reference", _ONE),
        "derivedFrom": ("Reference", _MANY),
        "reasonCode": ("CodeableConcept", _MANY),
        "reasonReference": ("Reference", _MANY),
        "note": ("Annotation", _MANY),
    },
    "MedicationAdministration": {
        "identifier": ("Identifier", _MANY),
        "partOf": ("Reference", _MANY),
        "status": ("code", _ONE),
        "statusReason": ("CodeableConcept", _MANY),
        "category": ("CodeableConcept", _ONE),
        "medicationCodeableConcept": ("CodeableConcept", _ONE),
        "medicationReference": ("Reference", _ONE),
        "subject": ("Reference", _ONE),
        "context": ("Reference", _ONE),
        "effectiveDateTime": ("dateTime", _ONE),
        "effectivePeriod": ("Period", _ONE),
        "request": ("Reference", _ONE),
        "reasonCode": ("CodeableConcept", _MANY),
        "note": ("Annotation", _MANY),
    },
    "Procedure": {
        "identifier": ("Identifier", _MANY),
        "basedOn": ("Reference", _MANY),
        "partOf": ("Reference", _MANY),
        "status": ("code", _ONE),
        "statusReason": ("CodeableConcept", _ONE),
        "category": ("CodeableConcept", _ONE),
        "code": ("CodeableConcept", _ONE),
        "subject": ("Reference", _ONE),
        "encounter": ("Reference", _ONE),
        "performedDateTime": ("dateTime", _ONE),
        "performedPeriod": ("Period", _ONE),
        "performedString": ("string", _ONE),
        "performedRange": ("Range", _ONE),
        "recorder": ("Reference", _ONE),
        "asserter": ("Reference", _ONE),
        "reasonCode": ("CodeableConcept", _MANY),
        "reasonReference": ("Reference", _MANY),
        "bodySite": ("CodeableConcept", _MANY),
        "outcome": ("CodeableConcept", _ONE),
        "complication": ("CodeableConcept", _MANY),
        "note": ("Annotation", _MANY),
    },
    "DiagnosticReport": {
        "identifier": ("Identifier", _MANY),
        "basedOn": ("Reference", _MANY),
        "status": ("code", _ONE),
        "category": ("CodeableConcept", _MANY),
        "code": ("CodeableConcept", _ONE),
        "subject": ("Reference", _ONE),
        "encounter": ("Reference", _ONE),
        "effectiveDateTime": ("dateTime", _ONE),
        "effectivePeriod": ("Period", _ONE),
        "issued": ("instant", _ONE),
        "performer": ("Reference", _MANY),
        "resultsInterpreter": ("Reference", _MANY),
        "specimen": ("Reference", _MANY),
        "result": ("Reference", _MANY),
        "imagingStudy": ("Reference", _MANY),
        "conclusion": ("string", _ONE),
        "conclusionCode": ("CodeableConcept", _MANY),
    },
    "AllergyIntolerance": {
        "identifier": ("Identifier", _MANY),
        "clinicalStatus": ("CodeableConcept", _ONE),
        "verificationStatus": ("CodeableConcept", _ONE),
        "type": ("code", _ONE),
        "category": ("code", _MANY),
        "criticality": ("code", _ONE),
        "code": ("CodeableConcept", _ONE),
        "patient": ("Reference", _ONE),
        "encounter": ("Reference", _ONE),
        "onsetDateTime": ("dateTime", _ONE),
        "recordedDate": ("dateTime", _ONE),
        "recorder": ("Reference", _ONE),
        "asserter": ("Reference", _ONE),
        "lastOccurrence": ("dateTime", _ONE),
        "note": ("Annotation", _MANY),
    },
}

ELEMENTS: Final[Mapping[str, Mapping[str, Element]]] = {
    **_DATATYPES,
    **{name: {**_COMMON, **elements} for name, elements in _RESOURCES.items()},
}
"""Type (resource, datatype or backbone element `Resource.element`) -> its known elements."""

COMPLEX_TYPES: Final = frozenset(ELEMENTS)


def element(type_name: str, name: str) -> Element | None:
    """The definition of `type_name.name`, or None when the table does not know it."""
    return ELEMENTS.get(type_name, {}).get(name)
