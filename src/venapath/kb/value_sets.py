"""Value sets: which codes an EHR sends mean what in the case model.

A value set names the FHIR resource type it reads, the codes (with their code system and the
source that vouches for them) and one *target*: the part of the case those codes settle.
The FHIR mapping reads nothing else, so a code that is in no value set is reported as
unknown and never guessed at, and the prefetch a CDS service asks for follows from the
value sets that feed the facts the rules read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from venapath.domain.case import (
    AnticoagulantAgent,
    ConditionName,
    ProcedureKind,
    Thrombophilia,
)
from venapath.domain.units import DDimerBasis
from venapath.domain.vocabulary import Side

_STRICT = ConfigDict(extra="forbid", frozen=True)


class CodeSystem(StrEnum):
    """Short names for the code systems VenaPath reads; `uri` is what FHIR carries."""

    ICD10CM = "icd10cm"
    SNOMED = "snomed"
    LOINC = "loinc"
    RXNORM = "rxnorm"
    ICD10PCS = "icd10pcs"

    @property
    def uri(self) -> str:
        return _SYSTEM_URIS[self]


_SYSTEM_URIS = {
    CodeSystem.ICD10CM: "http://hl7.org/fhir/sid/icd-10-cm",
    CodeSystem.SNOMED: "http://snomed.info/sct",
    CodeSystem.LOINC: "http://loinc.org",
    CodeSystem.RXNORM: "http://www.nlm.nih.gov/research/umls/rxnorm",
    CodeSystem.ICD10PCS: "http://www.cms.gov/Medicare/Coding/ICD10",
}
SYSTEM_BY_URI = {uri: system for system, uri in _SYSTEM_URIS.items()}


class Resource(StrEnum):
    """FHIR R4 resource types a value set can read."""

    CONDITION = "Condition"
    OBSERVATION = "Observation"
    MEDICATION = "MedicationRequest"  # also MedicationStatement; anticoagulants also MedicationAdministration
    PROCEDURE = "Procedure"
    ALLERGY = "AllergyIntolerance"
    DIAGNOSTIC_REPORT = "DiagnosticReport"  # its conclusionCode; only as `also_read_in`


ALSO_READ_IN = frozenset({Resource.DIAGNOSTIC_REPORT})
"""Resource types a value set may name in `also_read_in`: a diagnosis's codes also read as the
coded conclusion of a report (DiagnosticReport.conclusionCode holds SNOMED CT findings and
the like, the same codes a problem list holds)."""


class Code(BaseModel):
    model_config = _STRICT
    system: CodeSystem
    code: str = Field(min_length=1, max_length=64)
    display: str = Field(min_length=1)
    match: Literal["exact", "prefix"] = Field(
        default="exact",
        description="prefix: every code that starts with this one (ICD-10 families only).",
    )
    side: Side | None = Field(default=None, description="Laterality the code itself states.")


# ------------------------------------------------------------------------------ targets


class DiagnosisTarget(BaseModel):
    """A diagnosis in the closed `diagnoses` list, optionally with the segment it names."""

    model_config = _STRICT
    kind: Literal["diagnosis"]
    condition: ConditionName
    segment: str | None = Field(default=None, description="An anatomy segment id.")
    chronic: bool | None = None


class FlagTarget(BaseModel):
    """A yes/no (or enumerated) case field, set when an active record carries the code."""

    model_config = _STRICT
    kind: Literal["flag"]
    field: str = Field(pattern=r"^(/[a-z0-9_]+)+$", description="JSON pointer into the case.")
    value: bool | Thrombophilia = True


class MeasurementTarget(BaseModel):
    """A laboratory value or an exam measurement read from an Observation."""

    model_config = _STRICT
    kind: Literal["measurement"]
    field: Literal[
        "/labs/platelets",
        "/labs/inr",
        "/labs/haemoglobin",
        "/labs/creatinine",
        "/labs/egfr_ml_min",
        "/labs/d_dimer",
        "/exam/gcs",
        "/exam/systolic_bp_mmhg",
        "/exam/diastolic_bp_mmhg",
        "/patient/weight_kg",
        "/patient/gestational_age_weeks",
    ]
    basis: DDimerBasis | None = Field(default=None, description="D-dimer only: FEU or DDU.")


class TreatmentDose(BaseModel):
    """The least dose of an agent that is a treatment dose for venous thrombosis, as its
    source states it. A dose at or above it makes anticoagulation therapeutic
    (`/treatment/anticoagulation/therapeutic`); a lower or unreadable dose leaves that
    unknown, never false (renal or weight-reduced treatment doses sit below these floors).

    Each floor reads one kind of dose: `mg_per_day` a total oral or subcutaneous dose in mg,
    `mg_per_kg_per_day` the same per kg of the charted weight (a mg dose of an LMWH is
    enoxaparin: dalteparin is dosed in units), `infused_units_per_day` a continuous
    intravenous infusion rate in units (IU) per day."""

    model_config = _STRICT
    mg_per_day: float | None = Field(default=None, gt=0)
    mg_per_kg_per_day: float | None = Field(default=None, gt=0)
    infused_units_per_day: float | None = Field(default=None, gt=0)
    source: str
    locator: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class AnticoagulantTarget(BaseModel):
    model_config = _STRICT
    kind: Literal["anticoagulant"]
    agent: AnticoagulantAgent
    treatment_dose: TreatmentDose | None = None


class SeizureTarget(BaseModel):
    """A seizure recorded as a problem or encounter diagnosis. Read with its time: a seizure
    since the presenting symptoms began counts as a seizure (`/exam/seizure`), and one after
    anticoagulation started as neurological deterioration (new seizures)."""

    model_config = _STRICT
    kind: Literal["seizure"]


class PostProcedureSymptomTarget(BaseModel):
    """A symptom recorded as a problem or encounter diagnosis, read with its time: one whose
    onset (else recorded date) is at or after the followed-up venoplasty or stent sets the
    follow-up field (`/follow_up/fever_or_urinary_symptoms`). An earlier one, or one without
    a time, says nothing about the course after the procedure and is not read."""

    model_config = _STRICT
    kind: Literal["post_procedure_symptom"]
    field: Literal["/follow_up/fever_or_urinary_symptoms"]


class ProcedureTarget(BaseModel):
    model_config = _STRICT
    kind: Literal["procedure"]
    procedure: ProcedureKind


Target = Annotated[
    DiagnosisTarget
    | FlagTarget
    | MeasurementTarget
    | AnticoagulantTarget
    | ProcedureTarget
    | SeizureTarget
    | PostProcedureSymptomTarget,
    Field(discriminator="kind"),
]


class ValueSet(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=3)
    source: str = Field(description="A source id from sources.yaml that lists these codes.")
    locator: str | None = Field(
        default=None, description="Where in the source: a value set OID, a table, a chapter."
    )
    resource: Resource
    also_read_in: tuple[Resource, ...] = Field(
        default=(),
        description="Other resource types whose coded finding carries these same codes, read "
        "for the same target (DiagnosticReport: its conclusionCode). One list of codes, so a "
        "problem-list code and the same code on an imaging report can never drift apart.",
    )
    target: Target
    codes: tuple[Code, ...] = Field(min_length=1)

    @property
    def resources(self) -> tuple[Resource, ...]:
        """Every resource type these codes are read from: `resource`, then `also_read_in`."""
        return (self.resource, *self.also_read_in)


def also_read_in_problem(value_set: ValueSet) -> str | None:
    """Why a value set's `also_read_in` cannot stand (None when it can).

    Only a diagnosis read from Condition may also be read from a report's conclusion: the
    mapping reads a report's conclusion as a dated finding of that diagnosis, nothing else."""
    extra = value_set.also_read_in
    if not extra:
        return None
    if value_set.resource in extra or len(set(extra)) != len(extra):
        return "also_read_in repeats a resource type"
    unknown = sorted(r.value for r in extra if r not in ALSO_READ_IN)
    if unknown:
        return f"also_read_in: {', '.join(unknown)} cannot carry a value set's codes"
    if value_set.resource is not Resource.CONDITION or not isinstance(
        value_set.target, DiagnosisTarget
    ):
        return "also_read_in DiagnosticReport: only for a diagnosis read from Condition"
    return None


def flag_field_problem(pointer: str) -> str | None:
    """Why `pointer` cannot be a flag target (None when it names a yes/no case field).

    A flag sets one case field from the presence of a code, so the field must exist and hold
    a boolean (or the thrombophilia grade); anything else would be a guess about meaning.
    """
    from typing import Annotated, get_args, get_origin

    from pydantic import BaseModel as _Model

    from venapath.domain.case import Case

    model: type[_Model] = Case
    parts = pointer.strip("/").split("/")
    for depth, name in enumerate(parts):
        field = model.model_fields.get(name)
        if field is None:
            return f"{pointer}: the case has no field {name!r}"
        kinds = [
            get_args(k)[0] if get_origin(k) is Annotated else k
            for k in get_args(field.annotation)
            if k is not type(None)
        ]
        last = depth == len(parts) - 1
        nested = next((k for k in kinds if isinstance(k, type) and issubclass(k, _Model)), None)
        if not last:
            if nested is None:
                return f"{pointer}: {name!r} has no fields of its own"
            model = nested
        elif not set(kinds) & {bool, Thrombophilia}:
            return f"{pointer}: not a yes/no field"
    return None
