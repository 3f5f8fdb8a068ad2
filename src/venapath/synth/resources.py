"""Builders of FHIR R4 resources (as NDJSON lines) for synthetic patients, codes from the KB.

Why codes come from the knowledge base at run time: the cohort exists to exercise the FHIR
mapping (`venapath.fhir.to_case`), which understands a code only through a value set. A
generator with its own copy of the codes would drift from the value sets and quietly produce
patients the mapping no longer recognises. So `CodeBook` resolves every venous code by value-set
id (and code, side or display text) from the loaded knowledge base, and fails loudly when a
code the profiles ask for is not there any more.

A few ordinary codes outside the value sets are used on purpose (hypertension, HbA1c, a knee
replacement, ...): real records carry them, and the mapping must list them as unmapped, not
fail. `OUTSIDE_CODES` holds them; `CodeBook` checks at start-up that none of them is claimed by a
value set (or, for the few that must reach a value set through an ICD-10 prefix, that exactly
the expected one claims it). ICD-10-CM codes there were checked against the CMS ICD-10-CM
tabular of April 1 2026 (the XML shipped in PyPI simple-icd-10-cm 1.5.0, the same release the
condition value sets cite); the SNOMED CT, LOINC and RxNorm codes there are widely published
ones (the brief's examples 38341003 and 4548-4 among them).

Resources come out as NDJSON text assembled from fragments serialised once (see
`PatientRecord`), which keeps generation fast enough for a million patients.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from venapath.kb.codes import Coding
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import Code, CodeSystem, Resource, ValueSet

JsonDict = dict[str, Any]

UCUM = "http://unitsofmeasure.org"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ARCHETYPE_SYSTEM = "https://venapath.org/fhir/CodeSystem/synthetic-archetype"
"""Patient.meta.tag system naming the archetype a synthetic patient was built from."""
INDEX_SYSTEM = "https://venapath.org/fhir/synthetic-patient-index"
"""Patient.identifier system whose value `seed:index` regenerates the patient alone."""
_TEST_DATA_TAG: JsonDict = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HTEST",
    "display": "test health data",
}

_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

RESOURCE_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
    "AllergyIntolerance",
    "DiagnosticReport",
)
"""The resource types a cohort can hold, in the order the manifest lists them."""


class SynthCodeError(RuntimeError):
    """The knowledge base no longer has a code the synthetic profiles rely on."""


# --------------------------------------------------------------------------- concepts


@dataclass(frozen=True, slots=True)
class Concept:
    """A CodeableConcept ready to serialise, with the code and side it carries."""

    json: JsonDict
    code: str
    display: str
    side: str | None = None
    json_text: str = ""
    """The same CodeableConcept as compact JSON text, serialised once."""

    def __post_init__(self) -> None:
        if not self.json_text:
            object.__setattr__(self, "json_text", _json(self.json))


def _concept(codings: Iterable[tuple[str, str, str]], text: str | None = None) -> JsonDict:
    items = [{"system": s, "code": c, "display": d} for s, c, d in codings]
    return {"coding": items, "text": text or items[0]["display"]}


@dataclass(frozen=True, slots=True)
class OutsideCode:
    """A real code outside every value set; `value_set` names the one prefix set it must hit."""

    system: CodeSystem
    code: str
    display: str
    also: tuple[tuple[CodeSystem, str, str], ...] = ()
    value_set: str | None = None


OUTSIDE_CODES: dict[str, OutsideCode] = {
    # --- ordinary conditions of people without venous thrombosis (ICD-10-CM, April 2026)
    "hypertension": OutsideCode(
        CodeSystem.ICD10CM,
        "I10",
        "Essential (primary) hypertension",
        also=((CodeSystem.SNOMED, "38341003", "Hypertensive disorder"),),
    ),
    "type2_diabetes": OutsideCode(
        CodeSystem.ICD10CM,
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        also=((CodeSystem.SNOMED, "44054006", "Diabetes mellitus type 2"),),
    ),
    "hyperlipidaemia": OutsideCode(CodeSystem.ICD10CM, "E78.5", "Hyperlipidemia, unspecified"),
    "asthma": OutsideCode(CodeSystem.ICD10CM, "J45.909", "Unspecified asthma, uncomplicated"),
    "depression": OutsideCode(
        CodeSystem.ICD10CM, "F32.9", "Major depressive disorder, single episode, unspecified"
    ),
    "hypothyroidism": OutsideCode(CodeSystem.ICD10CM, "E03.9", "Hypothyroidism, unspecified"),
    "gord": OutsideCode(
        CodeSystem.ICD10CM, "K21.9", "Gastro-esophageal reflux disease without esophagitis"
    ),
    "knee_osteoarthritis": OutsideCode(
        CodeSystem.ICD10CM, "M17.9", "Osteoarthritis of knee, unspecified"
    ),
    "obesity": OutsideCode(CodeSystem.ICD10CM, "E66.9", "Obesity, unspecified"),
    "copd": OutsideCode(
        CodeSystem.ICD10CM, "J44.9", "Chronic obstructive pulmonary disease, unspecified"
    ),
    "atrial_fibrillation": OutsideCode(
        CodeSystem.ICD10CM, "I48.91", "Unspecified atrial fibrillation"
    ),
    # --- contraindications and risk factors no value set reads (ICD-10-CM, April 2026)
    "thrombocytopenia": OutsideCode(CodeSystem.ICD10CM, "D69.6", "Thrombocytopenia, unspecified"),
    "anaemia": OutsideCode(CodeSystem.ICD10CM, "D64.9", "Anemia, unspecified"),
    "ckd_stage_4": OutsideCode(
        CodeSystem.ICD10CM, "N18.4", "Chronic kidney disease, stage 4 (severe)"
    ),
    "end_stage_renal_disease": OutsideCode(CodeSystem.ICD10CM, "N18.6", "End stage renal disease"),
    "dialysis": OutsideCode(CodeSystem.ICD10CM, "Z99.2", "Dependence on renal dialysis"),
    "factor_v_leiden": OutsideCode(CodeSystem.ICD10CM, "D68.51", "Activated protein C resistance"),
    "prothrombin_mutation": OutsideCode(CodeSystem.ICD10CM, "D68.52", "Prothrombin gene mutation"),
    "other_thrombophilia": OutsideCode(CodeSystem.ICD10CM, "D68.59", "Other primary thrombophilia"),
    "idiopathic_intracranial_hypertension": OutsideCode(
        CodeSystem.ICD10CM, "G93.2", "Benign intracranial hypertension"
    ),
    "pts_right": OutsideCode(
        CodeSystem.ICD10CM,
        "I87.001",
        "Postthrombotic syndrome without complications of right lower extremity",
    ),
    "pts_left": OutsideCode(
        CodeSystem.ICD10CM,
        "I87.002",
        "Postthrombotic syndrome without complications of left lower extremity",
    ),
    "pulmonary_embolism": OutsideCode(
        CodeSystem.ICD10CM, "I26.99", "Other pulmonary embolism without acute cor pulmonale"
    ),
    # --- recent surgery (SNOMED CT procedures, not in any value set)
    "total_knee_replacement": OutsideCode(
        CodeSystem.SNOMED, "609588000", "Total knee replacement (procedure)"
    ),
    "total_hip_replacement": OutsideCode(
        CodeSystem.SNOMED, "52734007", "Total hip replacement (procedure)"
    ),
    # --- ordinary results and medicines (LOINC, RxNorm)
    "hba1c": OutsideCode(CodeSystem.LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
    "glucose": OutsideCode(CodeSystem.LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
    "cholesterol": OutsideCode(
        CodeSystem.LOINC, "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"
    ),
    "heart_rate": OutsideCode(CodeSystem.LOINC, "8867-4", "Heart rate"),
    "body_height": OutsideCode(CodeSystem.LOINC, "8302-2", "Body height"),
    "bp_panel": OutsideCode(CodeSystem.LOINC, "85354-9", "Blood pressure panel"),
    "lisinopril": OutsideCode(CodeSystem.RXNORM, "314076", "lisinopril 10 MG Oral Tablet"),
    # --- full ICD-10-CM codes that reach a value set through its 3-character prefix
    "ms_relapsing_remitting": OutsideCode(
        CodeSystem.ICD10CM,
        "G35.A",
        "Relapsing-remitting multiple sclerosis",
        value_set="multiple-sclerosis-icd10cm",
    ),
    "ms_unspecified": OutsideCode(
        CodeSystem.ICD10CM,
        "G35.D",
        "Multiple sclerosis, unspecified",
        value_set="multiple-sclerosis-icd10cm",
    ),
    **{
        f"cancer_{key}": OutsideCode(
            CodeSystem.ICD10CM, code, display, value_set="malignant-neoplasm-icd10cm"
        )
        for key, code, display in (
            (
                "lung",
                "C34.90",
                "Malignant neoplasm of unspecified part of unspecified bronchus or lung",
            ),
            ("colon", "C18.9", "Malignant neoplasm of colon, unspecified"),
            (
                "breast",
                "C50.919",
                "Malignant neoplasm of unspecified site of unspecified female breast",
            ),
            ("pancreas", "C25.9", "Malignant neoplasm of pancreas, unspecified"),
            ("prostate", "C61", "Malignant neoplasm of prostate"),
            ("stomach", "C16.9", "Malignant neoplasm of stomach, unspecified"),
            ("ovary", "C56.9", "Malignant neoplasm of unspecified ovary"),
            ("bladder", "C67.9", "Malignant neoplasm of bladder, unspecified"),
            ("kidney", "C64.9", "Malignant neoplasm of unspecified kidney, except renal pelvis"),
            ("brain", "C71.9", "Malignant neoplasm of brain, unspecified"),
            ("myeloma", "C90.00", "Multiple myeloma not having achieved remission"),
            ("aml", "C92.00", "Acute myeloblastic leukemia, not having achieved remission"),
        )
    },
}
CANCER_KEYS = tuple(key for key in OUTSIDE_CODES if key.startswith("cancer_"))
FEMALE_ONLY_CANCERS = frozenset({"cancer_breast", "cancer_ovary"})
MALE_ONLY_CANCERS = frozenset({"cancer_prostate"})


class CodeBook:
    """Concepts from the knowledge base's value sets, prepared once and looked up fast."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._sets: dict[str, ValueSet] = {vs.id: vs for vs in kb.value_sets}
        self._cache: dict[tuple[str, str | None, str | None, bool], tuple[Concept, ...]] = {}
        self._by_code: dict[tuple[str, str], Concept] = {}
        for value_set in kb.value_sets:
            for code in value_set.codes:
                concept = _from_code(code)
                self._by_code[(value_set.id, code.code)] = concept
        self._outside = {key: self._check_outside(key, item) for key, item in OUTSIDE_CODES.items()}

    def _check_outside(self, key: str, item: OutsideCode) -> Concept:
        claimed = {
            match.value_set.id
            for system, code in ((item.system, item.code), *((s, c) for s, c, _ in item.also))
            for resource in Resource
            for match in self.kb.codes.lookup(resource, Coding(system.uri, code))
        }
        expected = {item.value_set} if item.value_set else set()
        if claimed != expected:
            raise SynthCodeError(
                f"{key} ({item.code}): expected value sets {sorted(expected)}, "
                f"the knowledge base claims it for {sorted(claimed)}"
            )
        codings = [(item.system.uri, item.code, item.display)]
        codings += [(system.uri, code, display) for system, code, display in item.also]
        return Concept(_concept(codings, item.display), item.code, item.display)

    def code(self, value_set_id: str, code: str) -> Concept:
        """One named code of one value set (fails when the value set dropped it)."""
        concept = self._by_code.get((value_set_id, code))
        if concept is None:
            raise SynthCodeError(f"value set {value_set_id!r} has no code {code!r}")
        return concept

    def codes(
        self,
        value_set_id: str,
        side: str | None = None,
        contains: str | None = None,
        *,
        any_side: bool = False,
    ) -> tuple[Concept, ...]:
        """The codes of a value set with this side (or none) whose display has `contains`.

        With `any_side`, laterality is ignored. A sided request falls back to the set's
        unsided codes when it has no code for that side (SNOMED sets often have none).
        """
        key = (value_set_id, side, contains, any_side)
        found = self._cache.get(key)
        if found is None:
            found = self._select(value_set_id, side, contains, any_side)
            self._cache[key] = found
        return found

    def _select(
        self, value_set_id: str, side: str | None, contains: str | None, any_side: bool
    ) -> tuple[Concept, ...]:
        value_set = self._sets.get(value_set_id)
        if value_set is None:
            raise SynthCodeError(f"the knowledge base has no value set {value_set_id!r}")
        pool = [
            self._by_code[(value_set_id, c.code)]
            for c in value_set.codes
            if c.match == "exact" and (contains is None or contains in c.display)
        ]
        if not any_side:
            sided = [c for c in pool if c.side == side]
            pool = sided or [c for c in pool if c.side is None]
        if not pool:
            raise SynthCodeError(
                f"value set {value_set_id!r} has no code for side={side} contains={contains!r}"
            )
        return tuple(pool)

    def pick(
        self,
        rng: random.Random,
        value_set_id: str,
        side: str | None = None,
        contains: str | None = None,
        *,
        any_side: bool = False,
    ) -> Concept:
        return rng.choice(self.codes(value_set_id, side, contains, any_side=any_side))

    def outside(self, key: str) -> Concept:
        """A code outside the value sets (see `OUTSIDE_CODES`)."""
        return self._outside[key]


def _from_code(code: Code) -> Concept:
    side = code.side.value if code.side is not None else None
    return Concept(
        _concept([(code.system.uri, code.code, code.display)]), code.code, code.display, side
    )


def text_concept(text: str) -> Concept:
    """A CodeableConcept with text only: what a free-text problem-list entry looks like."""
    return Concept({"text": text}, "", text)


# ------------------------------------------------------------------------ laboratory


class Lab(StrEnum):
    PLATELETS = "platelets"
    HAEMOGLOBIN = "haemoglobin"
    CREATININE = "creatinine"
    EGFR = "egfr"
    INR = "inr"
    D_DIMER_FEU = "d_dimer_feu"
    D_DIMER_DDU = "d_dimer_ddu"
    WEIGHT = "weight"
    GCS = "gcs"


@dataclass(frozen=True, slots=True)
class LabForm:
    """How one laboratory reports a quantity: the LOINC code, the UCUM unit and the factor
    from the canonical value the profiles use (US conventional units)."""

    value_set: str
    loinc: str
    unit: str
    factor: float = 1.0
    digits: int = 1


_LAB_FORMS: dict[Lab, tuple[LabForm, LabForm]] = {
    # (US conventional, SI); the SI creatinine uses the moles code, as laboratories do.
    Lab.PLATELETS: (
        LabForm("platelet-count-loinc", "777-3", "10*3/uL", digits=0),
        LabForm("platelet-count-loinc", "777-3", "10*9/L", digits=0),
    ),
    Lab.HAEMOGLOBIN: (
        LabForm("haemoglobin-loinc", "718-7", "g/dL"),
        LabForm("haemoglobin-loinc", "718-7", "g/L", 10.0, 0),
    ),
    Lab.CREATININE: (
        LabForm("creatinine-loinc", "2160-0", "mg/dL", digits=2),
        LabForm("creatinine-loinc", "14682-9", "umol/L", 88.42, 0),
    ),
    Lab.EGFR: (
        LabForm("egfr-loinc", "98979-8", "mL/min/{1.73_m2}", digits=0),
        LabForm("egfr-loinc", "98979-8", "mL/min/{1.73_m2}", digits=0),
    ),
    Lab.INR: (
        LabForm("inr-loinc", "6301-6", "{INR}"),
        LabForm("inr-loinc", "6301-6", "{INR}"),
    ),
    # D-dimer in ng/mL with the basis stated in the unit annotation and by the code.
    Lab.D_DIMER_FEU: (
        LabForm("d-dimer-feu-loinc", "48065-7", "ng/mL{FEU}", digits=0),
        LabForm("d-dimer-feu-loinc", "48065-7", "ng/mL{FEU}", digits=0),
    ),
    Lab.D_DIMER_DDU: (
        LabForm("d-dimer-ddu-loinc", "48066-5", "ng/mL{DDU}", digits=0),
        LabForm("d-dimer-ddu-loinc", "48066-5", "ng/mL{DDU}", digits=0),
    ),
    Lab.WEIGHT: (
        LabForm("body-weight-loinc", "29463-7", "kg"),
        LabForm("body-weight-loinc", "29463-7", "kg"),
    ),
    Lab.GCS: (
        LabForm("gcs-total-loinc", "9269-2", "{score}", digits=0),
        LabForm("gcs-total-loinc", "9269-2", "{score}", digits=0),
    ),
}
_VITAL_LABS = frozenset({Lab.WEIGHT, Lab.GCS})
D_DIMER_CUTOFF_NG_ML = {Lab.D_DIMER_FEU: 500.0, Lab.D_DIMER_DDU: 250.0}
"""Reference upper limits the synthetic laboratory reports (assay-specific in real life; the
DDU one is half the FEU one, the approximate relation dvt.md §10 gives as UNVERIFIED)."""


def _category(system: str, code: str) -> str:
    return _json([{"coding": [{"system": system, "code": code}]}])


def _status(system: str, code: str) -> str:
    return _json({"coding": [{"system": system, "code": code}]})


_LABORATORY = _category(_OBSERVATION_CATEGORY, "laboratory")
_VITAL_SIGNS = _category(_OBSERVATION_CATEGORY, "vital-signs")
_EXAM = _category(_OBSERVATION_CATEGORY, "exam")
_PROBLEM_LIST = _category(_CONDITION_CATEGORY, "problem-list-item")
_ENCOUNTER_DIAGNOSIS = _category(_CONDITION_CATEGORY, "encounter-diagnosis")
_CLINICAL = {code: _status(_CONDITION_CLINICAL, code) for code in ("active", "resolved")}
_VERIFICATION = {
    code: _status(_CONDITION_VERIFICATION, code) for code in ("confirmed", "provisional", "refuted")
}
_RADIOLOGY = _category("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")
_DUPLEX_REPORT = _json({"text": "Duplex ultrasound of the veins"})
"""A report's own code as text only: no LOINC imaging code is vouched for here, and the
mapping reads only the coded conclusion."""
_REPORT_STATUSES = frozenset({"final", "preliminary"})
_ALLERGY_ACTIVE = _status(_ALLERGY_CLINICAL, "active")
_ALLERGY_CONFIRMED = _status(_ALLERGY_VERIFICATION, "confirmed")
_INTERPRETATIONS = {
    code: _json([{"coding": [{"system": _INTERPRETATION, "code": code}]}])
    for code in ("H", "N", "L")
}
_TEST_DATA_TAG_JSON = _json(_TEST_DATA_TAG)
_MEDICATION_STATUSES = frozenset({"active", "completed", "stopped", "on-hold"})


_FRAGMENTS: dict[tuple[str, str], str] = {}


def _fragment(key: tuple[str, str], value: object) -> str:
    """JSON text of a small value drawn from a closed list (a tag, a name), serialised once."""
    text = _FRAGMENTS.get(key)
    if text is None:
        text = _FRAGMENTS[key] = _json(value)
    return text


def _quantity(value: str, unit: str) -> str:
    return f'{{"value":{value},"unit":"{unit}","system":"{UCUM}","code":"{unit}"}}'


def _number(value: float, digits: int) -> str:
    """A JSON number: an integer when no decimals are kept, else the shortest float repr."""
    if digits == 0:
        return str(round(value))
    return repr(round(float(value), digits))


# ------------------------------------------------------------------------ moments

Moment = int
"""A moment as whole minutes since 1970-01-01T00:00Z: cheap to draw, add and format."""
DAY = 1440
HOUR = 60
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_TEXT: dict[int, str] = {}


def days(value: float) -> Moment:
    """A duration of `value` days, in minutes."""
    return round(value * DAY)


def moment_of(when: datetime) -> Moment:
    """The minute `when` falls in (floored, so a moment never lies after `when`)."""
    if when.tzinfo is None:
        raise ValueError("a moment needs a time zone")
    return math.floor(when.timestamp() / 60)


def stamp(moment: Moment) -> str:
    """FHIR dateTime in UTC, e.g. 2025-12-30T14:05:00+00:00."""
    day, minute = divmod(moment, DAY)
    text = _DAY_TEXT.get(day)
    if text is None:
        text = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        _DAY_TEXT[day] = text
    return f"{text}T{minute // 60:02d}:{minute % 60:02d}:00+00:00"


# ------------------------------------------------------------------------ the record


@dataclass
class PatientRecord:
    """One synthetic patient's resources as NDJSON lines, in generation order.

    The lines are assembled from fragments serialised once (codes, statuses, categories)
    and from values that never need escaping (ids, moments, numbers), so no JSON encoder
    runs per resource: that is what makes a million patients affordable. Free text goes
    through the encoder. `si_units` picks the unit convention of the patient's laboratory
    (the mapping reads both, so a cohort exercises both conversions).
    """

    book: CodeBook
    patient_id: str
    now: Moment
    si_units: bool = False
    lines: list[tuple[str, str]] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._subject = f'{{"reference":"Patient/{self.patient_id}"}}'

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{self.patient_id}-{prefix}{self._counter}"

    def ago(self, days_before: float, minutes: int = 0) -> Moment:
        """A moment `days_before` days (and `minutes`) before `now`."""
        return self.now - round(days_before * DAY) - minutes

    def clamp(self, moment: Moment) -> Moment:
        """Never after `now`: a record from the future would be reported, not read."""
        return moment if moment < self.now else self.now

    # ------------------------------------------------------------------ resources

    def patient(
        self,
        *,
        gender: str,
        birth_date: date,
        archetype: str,
        index_value: str,
        name: tuple[str, str],
    ) -> None:
        tag = _fragment(("tag", archetype), {"system": ARCHETYPE_SYSTEM, "code": archetype})
        identifier = _json([{"system": INDEX_SYSTEM, "value": index_value}])
        names = _fragment(name, [{"use": "official", "family": name[1], "given": [name[0]]}])
        self.lines.append(
            (
                "Patient",
                f'{{"resourceType":"Patient","id":"{self.patient_id}",'
                f'"meta":{{"tag":[{_TEST_DATA_TAG_JSON},{tag}]}},"identifier":{identifier},'
                f'"name":{names},"gender":"{gender}","birthDate":"{birth_date.isoformat()}"}}',
            )
        )

    def condition(
        self,
        concept: Concept,
        *,
        recorded: Moment,
        onset: Moment | None = None,
        verification: str = "confirmed",
        clinical: str = "active",
        problem_list: bool = False,
    ) -> None:
        recorded = self.clamp(recorded)
        onset_part = ""
        if onset is not None:
            onset_part = f',"onsetDateTime":"{stamp(min(onset, recorded))}"'
        category = _PROBLEM_LIST if problem_list else _ENCOUNTER_DIAGNOSIS
        self.lines.append(
            (
                "Condition",
                f'{{"resourceType":"Condition","id":"{self._id("c")}",'
                f'"clinicalStatus":{_CLINICAL[clinical]},'
                f'"verificationStatus":{_VERIFICATION[verification]},"category":{category},'
                f'"code":{concept.json_text},"subject":{self._subject}{onset_part},'
                f'"recordedDate":"{stamp(recorded)}"}}',
            )
        )

    def lab(self, lab: Lab, value: float, when: Moment) -> None:
        """An Observation of `value`, given in US conventional units, in the patient's units."""
        form = _LAB_FORMS[lab][1 if self.si_units else 0]
        quantity = _quantity(_number(value * form.factor, form.digits), form.unit)
        if lab in _VITAL_LABS:
            category = _EXAM if lab is Lab.GCS else _VITAL_SIGNS
        else:
            category = _LABORATORY
        extra = ""
        cutoff = D_DIMER_CUTOFF_NG_ML.get(lab)
        if cutoff is not None:
            call = _INTERPRETATIONS["H" if value > cutoff else "N"]
            high = _quantity(_number(cutoff, 0), form.unit)
            extra = f',"interpretation":{call},"referenceRange":[{{"high":{high}}}]'
        code = self.book.code(form.value_set, form.loinc).json_text
        self._observation(category, code, when, f'"valueQuantity":{quantity}{extra}')

    def measurement(
        self, concept: Concept, value: float, unit: str, when: Moment, *, laboratory: bool
    ) -> None:
        """An Observation with a code outside the value sets (HbA1c, heart rate, ...)."""
        digits = 0 if isinstance(value, int) else 1
        quantity = _quantity(_number(value, digits), unit)
        category = _LABORATORY if laboratory else _VITAL_SIGNS
        self._observation(category, concept.json_text, when, f'"valueQuantity":{quantity}')

    def blood_pressure(self, systolic: int, diastolic: int, when: Moment) -> None:
        """The panel EHRs send: its own code is unmapped, its components are read."""
        book = self.book
        components = (
            f'"component":[{{"code":{book.code("systolic-bp-loinc", "8480-6").json_text},'
            f'"valueQuantity":{_quantity(str(systolic), "mm[Hg]")}}},'
            f'{{"code":{book.code("diastolic-bp-loinc", "8462-4").json_text},'
            f'"valueQuantity":{_quantity(str(diastolic), "mm[Hg]")}}}]'
        )
        self._observation(_VITAL_SIGNS, book.outside("bp_panel").json_text, when, components)

    def _observation(self, category: str, code: str, when: Moment, value: str) -> None:
        self.lines.append(
            (
                "Observation",
                f'{{"resourceType":"Observation","id":"{self._id("o")}","status":"final",'
                f'"category":{category},"code":{code},"subject":{self._subject},'
                f'"effectiveDateTime":"{stamp(self.clamp(when))}",{value}}}',
            )
        )

    def medication(self, concept: Concept, authored: Moment, *, status: str = "active") -> None:
        if status not in _MEDICATION_STATUSES:
            raise ValueError(f"medication status {status!r}")
        self.lines.append(
            (
                "MedicationRequest",
                f'{{"resourceType":"MedicationRequest","id":"{self._id("m")}",'
                f'"status":"{status}","intent":"order",'
                f'"medicationCodeableConcept":{concept.json_text},"subject":{self._subject},'
                f'"authoredOn":"{stamp(self.clamp(authored))}"}}',
            )
        )

    def procedure(self, concept: Concept, performed: Moment) -> None:
        self.lines.append(
            (
                "Procedure",
                f'{{"resourceType":"Procedure","id":"{self._id("p")}","status":"completed",'
                f'"code":{concept.json_text},"subject":{self._subject},'
                f'"performedDateTime":"{stamp(self.clamp(performed))}"}}',
            )
        )

    def imaging_report(
        self, concepts: list[Concept], imaged: Moment, *, status: str = "final"
    ) -> None:
        """A duplex ultrasound report whose conclusion codes `concepts` (none: a narrative
        report, without conclusionCode), imaged at `imaged` and released (`issued`) two hours
        later; the mapping dates it by the imaging."""
        if status not in _REPORT_STATUSES:
            raise ValueError(f"report status {status!r}")
        imaged = self.clamp(imaged)
        issued = self.clamp(imaged + 2 * HOUR)
        conclusion = ""
        if concepts:
            conclusion = ',"conclusionCode":[' + ",".join(c.json_text for c in concepts) + "]"
        self.lines.append(
            (
                "DiagnosticReport",
                f'{{"resourceType":"DiagnosticReport","id":"{self._id("r")}",'
                f'"status":"{status}","category":{_RADIOLOGY},"code":{_DUPLEX_REPORT},'
                f'"subject":{self._subject},"effectiveDateTime":"{stamp(imaged)}",'
                f'"issued":"{stamp(issued)}"{conclusion}}}',
            )
        )

    def allergy(self, concept: Concept, recorded: Moment) -> None:
        self.lines.append(
            (
                "AllergyIntolerance",
                f'{{"resourceType":"AllergyIntolerance","id":"{self._id("a")}",'
                f'"clinicalStatus":{_ALLERGY_ACTIVE},"verificationStatus":{_ALLERGY_CONFIRMED},'
                f'"code":{concept.json_text},"patient":{self._subject},'
                f'"recordedDate":"{stamp(self.clamp(recorded))}"}}',
            )
        )
