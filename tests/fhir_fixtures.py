"""FHIR R4 records built the way an EHR sends them, one per pathway, for mapping and hook tests.

Codes are the ones a US EHR puts on the problem list and results (ICD-10-CM, SNOMED CT,
LOINC with UCUM units, RxNorm); every one of them is in the knowledge base's value sets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from venapath.engine.assessment import Assessment
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import Mapped, case_from_fhir
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def patient(
    patient_id: str = "p1", gender: str = "female", birth: str = "1968-04-02"
) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id, "gender": gender, "birthDate": birth}


def condition(
    resource_id: str,
    system: str,
    code: str,
    display: str,
    *,
    patient_id: str = "p1",
    onset_hours_ago: float | None = None,
    verification: str = "confirmed",
    clinical: str = "active",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": resource_id,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": clinical}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": verification}]},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{patient_id}"},
        "recordedDate": at(1),
    }
    if onset_hours_ago is not None:
        resource["onsetDateTime"] = at(onset_hours_ago)
    return resource


def observation(
    resource_id: str,
    loinc: str,
    display: str,
    value: float,
    unit: str,
    *,
    patient_id: str = "p1",
    hours_ago: float = 2,
    interpretation: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": at(hours_ago),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    if interpretation is not None:
        resource["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": interpretation,
                    }
                ]
            }
        ]
    return resource


def blood_pressure(resource_id: str, systolic: float, diastolic: float) -> dict[str, Any]:
    def component(code: str, display: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {
            "coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": at(1),
        "component": [
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    }


def medication_request(
    resource_id: str,
    rxnorm: str,
    display: str,
    *,
    status: str = "active",
    hours_ago: float = 3,
    patient_id: str = "p1",
    dosage: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    request = {
        "resourceType": "MedicationRequest",
        "id": resource_id,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": at(hours_ago),
    }
    if dosage is not None:
        request["dosageInstruction"] = dosage
    return request


def dose_every(mg: float, hours: float) -> dict[str, Any]:
    """A Dosage: `mg` every `hours` hours."""
    return {
        "timing": {"repeat": {"frequency": 1, "period": hours, "periodUnit": "h"}},
        "doseAndRate": [
            {"doseQuantity": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
    }


def infusion(units_per_hour: float) -> dict[str, Any]:
    """A Dosage (request) or dosage (administration) part: a rate in U/h."""
    return {"rateQuantity": {"value": units_per_hour, "unit": "U/h", "system": UCUM, "code": "U/h"}}


def medication_administration(
    resource_id: str,
    rxnorm: str,
    display: str,
    *,
    hours_ago: float = 3,
    until_hours_ago: float | None = None,
    status: str = "completed",
    mg: float | None = None,
    units_per_hour: float | None = None,
    patient_id: str = "p1",
) -> dict[str, Any]:
    """An administration given `hours_ago` (an infusion: until `until_hours_ago`, or running)."""
    given: dict[str, Any] = (
        {"effectiveDateTime": at(hours_ago)}
        if until_hours_ago is None and status != "in-progress"
        else {
            "effectivePeriod": {"start": at(hours_ago)}
            | ({} if until_hours_ago is None else {"end": at(until_hours_ago)})
        }
    )
    dosage: dict[str, Any] = {}
    if mg is not None:
        dosage["dose"] = {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}
    if units_per_hour is not None:
        dosage |= infusion(units_per_hour)
    return {
        "resourceType": "MedicationAdministration",
        "id": resource_id,
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        **given,
        **({"dosage": dosage} if dosage else {}),
    }


def diagnostic_report(
    resource_id: str,
    conclusion: list[tuple[str, str, str]] | None,
    *,
    patient_id: str = "p1",
    imaged_hours_ago: float | None = 20,
    issued_hours_ago: float = 2,
    status: str = "final",
    period: bool = False,
) -> dict[str, Any]:
    """An imaging report (a duplex ultrasound, say) with its coded conclusion as
    (system, code, display) triples; none leaves conclusionCode out (a narrative only).
    Imaged `imaged_hours_ago` (effectiveDateTime, or effectivePeriod.start with `period`),
    released `issued_hours_ago`. The report's own code is text only, as some EHRs send it."""
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": resource_id,
        "status": status,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {"text": "Duplex ultrasound of the leg veins"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "issued": at(issued_hours_ago),
        "conclusion": "See the coded conclusion.",
    }
    if imaged_hours_ago is not None and period:
        resource["effectivePeriod"] = {"start": at(imaged_hours_ago)}
    elif imaged_hours_ago is not None:
        resource["effectiveDateTime"] = at(imaged_hours_ago)
    if conclusion is not None:
        resource["conclusionCode"] = [
            {"coding": [{"system": system, "code": code, "display": display}], "text": display}
            for system, code, display in conclusion
        ]
    return resource


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def collection(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r} for r in resources
        ],
    }


WHOLE = frozenset({"Condition", "Procedure"})
"""The resource types these records hold whole: an absent one there is a known absence."""


def map_record(kb: KnowledgeBase, record: list[dict[str, Any]]) -> Mapped:
    """A record mapped as the per-patient path maps a chart, at NOW."""
    return case_from_fhir(read_resources(collection(*record)), kb.codes, NOW, complete=WHOLE)


def assess_record(kb: KnowledgeBase, record: list[dict[str, Any]]) -> Assessment:
    """A record mapped and assessed by the whole knowledge base, without trace."""
    return assess_case(map_record(kb, record).case, kb=kb, trace=False)


# ------------------------------------------------------------------- records by pathway


def dvt_record(platelets: float = 240, systolic: float = 128) -> list[dict[str, Any]]:
    """Acute left femoral DVT two days ago, ordinary labs."""
    return [
        patient(),
        condition(
            "dvt",
            ICD10,
            "I82.412",
            "Acute embolism and thrombosis of left femoral vein",
            onset_hours_ago=48,
        ),
        observation(
            "plt", "777-3", "Platelets [#/volume] in Blood by Automated count", platelets, "10*3/uL"
        ),
        observation("hb", "718-7", "Hemoglobin [Mass/volume] in Blood", 13.1, "g/dL"),
        observation("crea", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 0.9, "mg/dL"),
        blood_pressure("bp", systolic, 82),
    ]


def cvt_record() -> list[dict[str, Any]]:
    """Confirmed cerebral venous thrombosis, one day from onset, on heparin."""
    return [
        patient(birth="1991-09-12"),
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=30,
        ),
        observation("gcs", "9269-2", "Glasgow coma score total", 14, "{score}"),
        observation("plt", "777-3", "Platelets", 210, "10*3/uL"),
    ]


def cvt_intracranial_hypotension_record() -> list[dict[str, Any]]:
    """The seed case's shape: CVT after spontaneous intracranial hypotension."""
    return [
        *cvt_record(),
        condition(
            "sih",
            ICD10,
            "G96.811",
            "Intracranial hypotension, spontaneous",
            onset_hours_ago=24 * 10,
        ),
    ]


def suspected_dvt_record() -> list[dict[str, Any]]:
    return [
        patient(),
        condition(
            "dvt-q",
            ICD10,
            "I82.412",
            "Acute embolism and thrombosis of left femoral vein",
            verification="provisional",
            onset_hours_ago=10,
        ),
    ]
