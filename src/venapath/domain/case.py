"""Case format v1: everything VenaPath can know about one patient episode at one moment.

Every field is optional and absent means *unknown*, never *no*. Write `false` to say
something was looked for and is not there. Two lists are closed once they are written:
`diagnoses` (a condition not listed is not diagnosed and not suspected) and
`imaging.thrombosed_segments` (a segment not listed was not found thrombosed in the
regions named by `imaging.regions_imaged`).

Units are explicit: either in the field name (`_days`, `_hours`, `_cm`, `_percent`,
`_mmhg`, `_ml_min`) or as a quantity with a `unit` field (laboratory values).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from venapath.domain.anatomy import GROUPS_BY_ID, SEGMENTS_BY_ID, Region
from venapath.domain.text import UnstorableTextError, first_unstorable
from venapath.domain.units import Creatinine, DDimer, Haemoglobin, Platelets
from venapath.domain.vocabulary import Action, Modality, Side

CASE_FORMAT_VERSION = 1

_MODEL = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


PROXIMAL_LEG_SEGMENTS = GROUPS_BY_ID["proximal_leg_veins"].members
"""The segments `imaging.proximal_veins_clear` speaks for (popliteal and above)."""

EARLIEST_YEAR = 1900
"""No clinical record VenaPath reads predates it: an earlier date is a typing error (0001)."""


def _no_epoch_numbers(value: object) -> object:
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date-time with a time zone, not a number")
    return value


def _not_before_1900(value: datetime) -> datetime:
    if value.year < EARLIEST_YEAR:
        raise ValueError(f"a date before {EARLIEST_YEAR} is not plausible")
    return value


Moment = Annotated[
    AwareDatetime, BeforeValidator(_no_epoch_numbers), AfterValidator(_not_before_1900)
]
"""A date-time with a time zone, written as text (a bare number is refused, not read as
epoch), not before 1900."""
Flag = Annotated[bool, Strict()]
"""Yes/no fields take true or false only: 0, 1 or "no" in a JSON body is an error, not a guess."""
Whole = Annotated[int, Strict()]
Number = Annotated[float, Strict()]  # 4 and 4.0 are numbers; true is not
Days = Annotated[int, Strict(), Field(ge=0, le=36500)]
Percent = Annotated[float, Strict(), Field(ge=0, le=100)]


class _Part(BaseModel):
    model_config = _MODEL


# --------------------------------------------------------------------------- patient


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Patient(_Part):
    age_years: Whole | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None
    pregnant: Flag | None = None
    postpartum_days: Days | None = Field(
        default=None, description="Days since delivery; absent if not postpartum or unknown."
    )
    postpartum: Flag | None = Field(
        default=None,
        description="Within 6 weeks of delivery. Implied true by postpartum_days <= 42.",
    )
    breastfeeding: Flag | None = None
    weight_kg: Number | None = Field(default=None, gt=0, le=400)
    gestational_age_weeks: Whole | None = Field(
        default=None,
        ge=0,
        le=44,
        description="Completed weeks of the current pregnancy; a value implies pregnant.",
    )


# ------------------------------------------------------------------------ risk factors


class Thrombophilia(StrEnum):
    NONE = "none"
    MILD = "mild"
    SEVERE = "severe"


class Provocation(StrEnum):
    """Whether the thrombosis followed a transient risk factor (provoked) or not."""

    PROVOKED_TRANSIENT = "provoked_transient"
    PERSISTENT_RISK_FACTOR = "persistent_risk_factor"
    UNPROVOKED = "unprovoked"


class RiskFactors(_Part):
    active_cancer: Flag | None = Field(
        default=None, description="Treatment ongoing, within the past 6 months, or palliative."
    )
    thrombophilia: Thrombophilia | None = Field(
        default=None,
        description="severe: homozygous factor V Leiden or prothrombin G20210A, protein C/S or "
        "antithrombin deficiency, combined defects (AHA/ASA 2011 via 2014 women's guideline).",
    )
    antiphospholipid_syndrome: Flag | None = None
    oral_contraceptives: Flag | None = Field(
        default=None,
        description="Oestrogen-containing contraception (combined pill, patch or ring). "
        "Progestin-only methods are not counted: the ESO advice concerns oestrogens.",
    )
    inflammatory_disease: Flag | None = None
    infection: Flag | None = None
    cns_infection: Flag | None = None
    recent_surgery: Flag | None = None
    days_since_major_surgery: Days | None = None
    recent_dural_puncture_or_epidural: Flag | None = None
    intracranial_hypotension: Flag | None = Field(
        default=None,
        description="Intracranial hypotension or a CSF leak, spontaneous or iatrogenic.",
    )
    immobilisation: Flag | None = Field(
        default=None, description="Paralysis, paresis or recent plaster immobilisation of the leg."
    )
    bedridden_days: Days | None = Field(default=None, description="Recent bed rest, in days.")
    previous_vte: Flag | None = None
    previous_dvt_documented: Flag | None = None
    previous_cvt_episodes: Whole | None = Field(default=None, ge=0, le=50)
    inpatient: Flag | None = None
    head_trauma: Flag | None = None
    provocation: Provocation | None = None
    distal_extension_risk: Flag | None = Field(
        default=None,
        description="Clinician's judgement that an isolated distal DVT has risk factors for "
        "extension (CHEST 2021 lists them in its full text).",
    )
    multiple_sclerosis: Flag | None = None
    csf_leak_active: Flag | None = Field(
        default=None,
        description="A CSF leak is present now and not sealed (by a blood patch, surgery or on "
        "its own). Decides whether the leak still needs closing, whatever the procedure list "
        "says; true also counts as intracranial hypotension.",
    )
    major_surgery_within_12_weeks: Flag | None = Field(
        default=None,
        description="Major surgery within the last 12 weeks (Wells). Lets a clinician say "
        "'no recent surgery' without inventing a number; `days_since_major_surgery`, when "
        "given, decides instead.",
    )
    bedridden_3_days_or_more: Flag | None = Field(
        default=None,
        description="Bedridden for 3 days or more recently (Wells), when the number of days "
        "is not known; `bedridden_days`, when given, decides instead.",
    )


# ------------------------------------------------------------------------ presentation


class SymptomKind(StrEnum):
    HEADACHE = "headache"
    ORTHOSTATIC_HEADACHE = "orthostatic_headache"
    HEADACHE_CHARACTER_CHANGED = "headache_character_changed"
    BLURRED_VISION = "blurred_vision"
    FAINTING = "fainting"
    LOSS_OF_CONSCIOUSNESS = "loss_of_consciousness"
    LIMB_WEAKNESS = "limb_weakness"
    SPEECH_DIFFICULTY = "speech_difficulty"
    SEIZURE = "seizure"
    CONFUSION = "confusion"
    NAUSEA_VOMITING = "nausea_vomiting"
    LEG_PAIN = "leg_pain"
    LEG_SWELLING = "leg_swelling"
    LEG_REDNESS = "leg_redness"
    LEG_WARMTH = "leg_warmth"
    FEVER = "fever"
    URINARY_SYMPTOMS = "urinary_symptoms"


class Symptom(_Part):
    kind: SymptomKind
    onset: Moment | None = None


class ConditionName(StrEnum):
    CEREBRAL_VENOUS_THROMBOSIS = "cerebral_venous_thrombosis"
    LEG_DVT = "leg_dvt"
    ARM_DVT = "arm_dvt"
    INTRACRANIAL_HYPOTENSION = "intracranial_hypotension"
    VENOUS_STENOSIS = "venous_stenosis"


class DiagnosisStatus(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    EXCLUDED = "excluded"


class Diagnosis(_Part):
    condition: ConditionName
    status: DiagnosisStatus
    at: Moment | None = Field(default=None, description="When it was diagnosed.")
    recurrent: Flag | None = None


class Presentation(_Part):
    symptom_onset: Moment | None = Field(
        default=None, description="Onset of the presenting symptoms (the clock for time windows)."
    )
    symptoms: tuple[Symptom, ...] | None = None
    symptom_free: Flag | None = Field(
        default=None, description="true when the patient was asked and reports no symptoms."
    )


# ------------------------------------------------------------------------------ exam


class Consciousness(StrEnum):
    ALERT = "alert"
    SOMNOLENT = "somnolent"
    STUPOR = "stupor"
    COMA = "coma"


class Phlegmasia(StrEnum):
    NONE = "none"
    ALBA_DOLENS = "alba_dolens"
    CERULEA_DOLENS = "cerulea_dolens"


class LegExam(_Part):
    side: Side | None = None
    entire_leg_swollen: Flag | None = None
    calf_difference_cm: Number | None = Field(
        default=None,
        ge=0,
        le=40,
        description="Calf circumference difference from the other leg, 10 cm below the tibial "
        "tuberosity.",
    )
    deep_vein_tenderness: Flag | None = Field(
        default=None, description="Localised tenderness along the deep venous system."
    )
    pain: Flag | None = None
    swelling: Flag | None = None
    redness: Flag | None = None
    warmth: Flag | None = None
    pitting_oedema: Flag | None = Field(
        default=None, description="Pitting oedema confined to the symptomatic leg."
    )
    collateral_superficial_veins: Flag | None = None
    severe_symptoms: Flag | None = Field(
        default=None,
        description="Severe leg symptoms (CHEST: a reason to anticoagulate distal DVT).",
    )
    phlegmasia: Phlegmasia | None = None
    venous_gangrene: Flag | None = None


class Exam(_Part):
    gcs: Whole | None = Field(default=None, ge=3, le=15)
    gcs_before: Whole | None = Field(
        default=None, ge=3, le=15, description="Earlier GCS, to see a fall."
    )
    consciousness: Consciousness | None = None
    mental_status_disorder: Flag | None = None
    focal_deficit: Flag | None = None
    seizure: Flag | None = None
    bilateral_babinski: Flag | None = None
    papilloedema: Flag | None = None
    systolic_bp_mmhg: Whole | None = Field(default=None, ge=40, le=300)
    diastolic_bp_mmhg: Whole | None = Field(default=None, ge=20, le=200)
    blood_pressure_normal: Flag | None = Field(
        default=None,
        description="Blood pressure measured and normal (below 140/90 mmHg), when the numbers "
        "are not written. Only true is read: it settles every blood-pressure threshold the "
        "rules and scores use (all lie above 140/90).",
    )
    leg: LegExam | None = None
    alternative_diagnosis_as_likely: Flag | None = Field(
        default=None, description="An alternative diagnosis is at least as likely as DVT (Wells)."
    )


# --------------------------------------------------------------------------- imaging


class ThrombosedSegment(_Part):
    segment: str = Field(description="A segment id from the venous anatomy vocabulary.")
    side: Side | None = None
    modality: Modality | None = None
    occlusive: Flag | None = None
    chronic: Flag | None = None
    seen_at: Moment | None = None


class Imaging(_Part):
    regions_imaged: tuple[Region, ...] | None = Field(
        default=None,
        description="Regions whose veins were imaged; in these, an unlisted segment is not "
        "thrombosed.",
    )
    thrombosed_segments: tuple[ThrombosedSegment, ...] | None = None
    intracerebral_haemorrhage: Flag | None = None
    haemorrhage_due_to_cvt: Flag | None = Field(
        default=None, description="The haemorrhage is a consequence of the venous thrombosis."
    )
    venous_infarct: Flag | None = None
    largest_lesion_cm: Number | None = Field(default=None, ge=0, le=25)
    mass_effect: Flag | None = None
    herniation: Flag | None = Field(default=None, description="Herniation or impending herniation.")
    subdural_collection: Flag | None = None
    cortical_venous_reflux: Flag | None = None
    hydrocephalus: Flag | None = None
    thrombus_extension_to_proximal_veins: Flag | None = Field(
        default=None,
        description="On serial imaging of a distal DVT, extension into popliteal or above.",
    )
    iliac_imaging_inconclusive: Flag | None = Field(
        default=None, description="Ultrasound could not show the veins above the inguinal ligament."
    )
    distal_thrombus_extension: Flag | None = Field(
        default=None,
        description="On serial imaging of a distal DVT, extension within the calf veins.",
    )
    proximal_veins_clear: Flag | None = Field(
        default=None,
        description="A leg scan showed no thrombus at or above the popliteal vein (popliteal, "
        "femoral, common femoral; iliac veins judged from the common femoral flow) without a "
        "pelvic scan. Only true is read: the proximal leg veins then count as not thrombosed, "
        "so a listed calf thrombus is an isolated distal DVT.",
    )


# ------------------------------------------------------------------------------ labs


class Labs(_Part):
    platelets: Platelets | None = None
    inr: Number | None = Field(default=None, ge=0.5, le=20)
    haemoglobin: Haemoglobin | None = None
    creatinine: Creatinine | None = None
    egfr_ml_min: Number | None = Field(default=None, ge=0, le=250)
    d_dimer: DDimer | None = None
    creatinine_normal: Flag | None = Field(
        default=None,
        description="Serum creatinine within the laboratory's reference range, when the value "
        "is not written. Only true is read.",
    )
    hit_or_vitt_suspected: Flag | None = Field(
        default=None,
        description="Heparin-induced or vaccine-induced immune thrombocytopenia (HIT/VITT) is "
        "suspected or confirmed (anti-PF4 testing pending or positive).",
    )
    metabolic_or_infection_screen_normal: Flag | None = Field(
        default=None, description="Blood and urine tests exclude infection or a metabolic cause."
    )


# ------------------------------------------------------------------------- treatment


class AnticoagulantAgent(StrEnum):
    LMWH = "lmwh"
    UNFRACTIONATED_HEPARIN = "unfractionated_heparin"
    FONDAPARINUX = "fondaparinux"
    VITAMIN_K_ANTAGONIST = "vitamin_k_antagonist"
    DABIGATRAN = "dabigatran"
    RIVAROXABAN = "rivaroxaban"
    APIXABAN = "apixaban"
    EDOXABAN = "edoxaban"

    @property
    def is_doac(self) -> bool:
        return self in _DOACS

    @property
    def is_parenteral(self) -> bool:
        return self in _PARENTERAL


_DOACS = frozenset(
    {
        AnticoagulantAgent.DABIGATRAN,
        AnticoagulantAgent.RIVAROXABAN,
        AnticoagulantAgent.APIXABAN,
        AnticoagulantAgent.EDOXABAN,
    }
)
_PARENTERAL = frozenset(
    {
        AnticoagulantAgent.LMWH,
        AnticoagulantAgent.UNFRACTIONATED_HEPARIN,
        AnticoagulantAgent.FONDAPARINUX,
    }
)


class Anticoagulation(_Part):
    agent: AnticoagulantAgent | None = None
    started_at: Moment | None = None
    therapeutic: Flag | None = None
    parenteral_lead_in_days: Whole | None = Field(
        default=None,
        ge=0,
        le=365,
        description="Days of parenteral heparin before the current oral agent (0 = started orally).",
    )


class ProcedureKind(StrEnum):
    VENOPLASTY = "venoplasty"
    VENOUS_STENT = "venous_stent"
    CATHETER_DIRECTED_THROMBOLYSIS = "catheter_directed_thrombolysis"
    PHARMACOMECHANICAL_THROMBECTOMY = "pharmacomechanical_thrombectomy"
    MECHANICAL_THROMBECTOMY = "mechanical_thrombectomy"
    EPIDURAL_BLOOD_PATCH = "epidural_blood_patch"
    DECOMPRESSIVE_CRANIECTOMY = "decompressive_craniectomy"
    LUMBAR_PUNCTURE = "lumbar_puncture"
    IVC_FILTER = "ivc_filter"


class Procedure(_Part):
    kind: ProcedureKind
    performed_at: Moment | None = None
    segment: str | None = None
    side: Side | None = None
    succeeded: Flag | None = None


class Treatment(_Part):
    anticoagulation: Anticoagulation | None = None
    thrombolysis_within_7_days: Flag | None = None
    antiplatelet_or_nsaid: Flag | None = None
    procedures: tuple[Procedure, ...] | None = None


class Course(_Part):
    neurological_deterioration: Flag | None = Field(
        default=None,
        description="Falling consciousness, new deficit or new seizures since treatment began.",
    )
    thrombus_propagation: Flag | None = None
    leg_symptoms_worsening: Flag | None = None
    platelet_fall_on_heparin: Flag | None = Field(
        default=None,
        description="Platelets fell by 50% or more from the highest count while on heparin "
        "(the typical fall of the 4Ts score): read as suspected HIT.",
    )


# ------------------------------------------------------------- bleeding and contraindications


class BleedingRisk(_Part):
    """SIR 2014 (modified) absolute and relative contraindications, TO-ACT exclusions, HAS-BLED items."""

    active_bleeding: Flag | None = Field(
        default=None, description="Active internal bleeding or DIC."
    )
    bleeding_disorder: Flag | None = None
    recent_neurovascular_event_3_months: Flag | None = Field(
        default=None,
        description="Stroke or TIA, intracranial or spinal neurosurgery, or intracranial trauma "
        "within 3 months.",
    )
    anticoagulation_contraindicated: Flag | None = Field(
        default=None, description="An absolute contraindication to anticoagulation."
    )
    recent_intracranial_haemorrhage: Flag | None = Field(
        default=None,
        description="An intracranial haemorrhage within the last 3 months (for example a "
        "haemorrhagic stroke weeks ago). With a CVT, `imaging.haemorrhage_due_to_cvt: true` "
        "says the haemorrhage is the CVT's own, which does not count against anticoagulation.",
    )
    major_event_within_10_days: Flag | None = Field(
        default=None,
        description="CPR, major surgery, cataract surgery, delivery, organ biopsy or major trauma "
        "within 7-10 days.",
    )
    intracranial_lesion_or_seizure_disorder: Flag | None = None
    gi_bleeding_within_3_months: Flag | None = None
    internal_eye_surgery_within_3_months: Flag | None = None
    thrombolytic_or_contrast_allergy: Flag | None = None
    right_to_left_shunt: Flag | None = Field(
        default=None,
        description="Right-to-left cardiac or pulmonary shunt, or left-heart thrombus (SIR).",
    )
    severe_illness_precluding_procedure: Flag | None = Field(
        default=None,
        description="Severe dyspnoea or severe acute medical illness precluding a safe "
        "procedure (SIR relative contraindication).",
    )
    infected_thrombus_suspected: Flag | None = None
    severe_hepatic_dysfunction: Flag | None = None
    bacterial_endocarditis: Flag | None = None
    diabetic_haemorrhagic_retinopathy: Flag | None = None
    previous_major_bleeding: Flag | None = None
    stroke_history: Flag | None = None
    chronic_dialysis_or_renal_transplant: Flag | None = None
    chronic_liver_disease: Flag | None = None
    labile_inr: Flag | None = None
    alcohol_units_per_week: Whole | None = Field(default=None, ge=0, le=400)
    alcohol_8_or_more_units_per_week: Flag | None = Field(
        default=None,
        description="Drinks 8 or more units a week (HAS-BLED), when the number is not known: "
        "false says 'no excess' without inventing a number; `alcohol_units_per_week`, when "
        "given, decides instead.",
    )


class Function(_Part):
    ambulatory: Flag | None = None
    good_functional_status: Flag | None = None
    life_expectancy_over_1_year: Flag | None = None


# ------------------------------------------------------------------------ follow-up


class SymptomResponse(StrEnum):
    MARKED = "marked"
    SLIGHT = "slight"
    NONE = "none"
    WORSENING = "worsening"


class Indication(StrEnum):
    CCSVI_MULTIPLE_SCLEROSIS = "ccsvi_multiple_sclerosis"
    ILIAC_VEIN_COMPRESSION = "iliac_vein_compression"
    POST_THROMBOTIC_OBSTRUCTION = "post_thrombotic_obstruction"
    ACUTE_DVT = "acute_dvt"
    IDIOPATHIC_INTRACRANIAL_HYPERTENSION = "idiopathic_intracranial_hypertension"
    CEREBRAL_VENOUS_THROMBOSIS = "cerebral_venous_thrombosis"
    OTHER = "other"


class VillaltaItems(_Part):
    """Villalta scale items, each 0 (none) to 3 (severe); the ulcer is separate."""

    pain: Whole | None = Field(default=None, ge=0, le=3)
    cramps: Whole | None = Field(default=None, ge=0, le=3)
    heaviness: Whole | None = Field(default=None, ge=0, le=3)
    paraesthesia: Whole | None = Field(default=None, ge=0, le=3)
    pruritus: Whole | None = Field(default=None, ge=0, le=3)
    pretibial_oedema: Whole | None = Field(default=None, ge=0, le=3)
    skin_induration: Whole | None = Field(default=None, ge=0, le=3)
    hyperpigmentation: Whole | None = Field(default=None, ge=0, le=3)
    redness: Whole | None = Field(default=None, ge=0, le=3)
    venous_ectasia: Whole | None = Field(default=None, ge=0, le=3)
    pain_on_calf_compression: Whole | None = Field(default=None, ge=0, le=3)
    venous_ulcer: Flag | None = None


class FollowUp(_Part):
    """Present only when the case is a post-procedure follow-up; absent means it is not one."""

    procedure_kind: ProcedureKind | None = None
    procedure_date: Moment | None = None
    indication: Indication | None = None
    earlier_repeat_procedures: Whole | None = Field(
        default=None,
        ge=0,
        le=50,
        description="Repeats of this procedure kind already done in this episode, the one "
        "followed up included: 0 when it was the first, 1 when it was the second, 3 after the "
        "fourth. The registry's repeat_number minus 1.",
    )
    symptom_response: SymptomResponse | None = None
    improvement_lasted_days: Days | None = None
    reverted_for_days: Days | None = Field(
        default=None, description="How long symptoms have been back at the pre-procedure level."
    )
    worsening_for_days: Days | None = Field(
        default=None, description="How long symptoms have kept worsening since the procedure."
    )
    symptoms_back_within_hours: Flag | None = None
    fever_or_urinary_symptoms: Flag | None = None
    in_stent_stenosis_percent: Percent | None = None
    stent_occluded: Flag | None = None
    villalta: VillaltaItems | None = None


class ProposedProcedure(_Part):
    """A procedure someone is asking for, to be checked against the evidence."""

    action: Action
    indication: Indication | None = None


# ------------------------------------------------------------------------------ case


class Case(_Part):
    """One patient episode at one moment. See docs/case-format.md."""

    format_version: int = Field(default=CASE_FORMAT_VERSION, ge=1, le=CASE_FORMAT_VERSION)
    case_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    as_of: Moment | None = Field(
        default=None, description="The moment the case describes; evaluation time if absent."
    )
    patient: Patient | None = None
    risk_factors: RiskFactors | None = None
    diagnoses: tuple[Diagnosis, ...] | None = None
    presentation: Presentation | None = None
    exam: Exam | None = None
    imaging: Imaging | None = None
    labs: Labs | None = None
    treatment: Treatment | None = None
    course: Course | None = None
    bleeding_risk: BleedingRisk | None = None
    function: Function | None = None
    follow_up: FollowUp | None = None
    proposed_procedures: tuple[ProposedProcedure, ...] | None = Field(
        default=None, description="Procedures someone asks for; absent means none is proposed."
    )

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        """Text a database cannot store (NUL, lone surrogates) is refused, naming the field."""
        found = first_unstorable(data) if isinstance(data, dict) else None
        if found is not None:
            raise UnstorableTextError(*found)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_consistency(self)
        return self


class ContradictionError(ValueError):
    """Two parts of a case cannot both be true; `pointer` names the field to fix."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer
        self.message = message


def _check_consistency(case: Case) -> None:
    """Reject contradictions a clinician would spot at once, naming the field (JSON pointer)."""
    patient = case.patient
    if patient is not None and patient.sex is Sex.MALE:
        for name in (
            "pregnant",
            "postpartum",
            "postpartum_days",
            "breastfeeding",
            "gestational_age_weeks",
        ):
            value = getattr(patient, name)
            if value not in (None, False):
                raise ContradictionError(f"/patient/{name}", f"{name} is set for a male patient")
    if patient is not None and patient.pregnant and patient.postpartum_days is not None:
        raise ContradictionError(
            "/patient/postpartum_days", "a patient cannot be pregnant and postpartum at once"
        )
    _check_gestation(patient)
    young = patient is not None and patient.age_years is not None and patient.age_years < 10
    if young and patient is not None and patient.pregnant:
        raise ContradictionError("/patient/pregnant", "pregnancy stated for a child under 10")
    exam = case.exam
    if exam is not None and exam.gcs is not None and exam.consciousness is not None:
        if exam.consciousness is Consciousness.ALERT and exam.gcs < 13:
            raise ContradictionError(
                "/exam/consciousness", f"'alert' contradicts GCS {exam.gcs} (alert needs GCS >= 13)"
            )
        if exam.consciousness is Consciousness.COMA and exam.gcs > 8:
            raise ContradictionError(
                "/exam/consciousness", f"'coma' contradicts GCS {exam.gcs} (coma is GCS <= 8)"
            )
    _check_stated_normal(case)
    _check_segments(case)
    _check_proximal_clear(case)
    _check_exclusions(case)
    _check_timeline(case)


def _check_gestation(patient: Patient | None) -> None:
    """A gestational age means a current pregnancy: it cannot stand beside 'not pregnant' or
    a delivery already counted in postpartum_days."""
    if patient is None or patient.gestational_age_weeks is None:
        return
    if patient.pregnant is False:
        raise ContradictionError(
            "/patient/gestational_age_weeks", "a gestational age is given but pregnant is false"
        )
    if patient.postpartum_days is not None:
        raise ContradictionError(
            "/patient/gestational_age_weeks",
            "a patient cannot be pregnant (gestational age) and postpartum at once",
        )


NORMAL_BLOOD_PRESSURE_BELOW = (140, 90)
"""'Normal' blood pressure: below 140/90 mmHg, under every threshold the rules compare."""
CREATININE_NEVER_NORMAL_UMOL_L = 200.0
"""No laboratory reference range reaches this (HAS-BLED's abnormal renal function)."""


def _check_stated_normal(case: Case) -> None:
    """A stated 'normal' cannot stand beside a number that is not."""
    exam = case.exam
    if exam is not None and exam.blood_pressure_normal:
        systolic_limit, diastolic_limit = NORMAL_BLOOD_PRESSURE_BELOW
        for name, value, limit in (
            ("systolic_bp_mmhg", exam.systolic_bp_mmhg, systolic_limit),
            ("diastolic_bp_mmhg", exam.diastolic_bp_mmhg, diastolic_limit),
        ):
            if value is not None and value >= limit:
                raise ContradictionError(
                    "/exam/blood_pressure_normal",
                    f"'normal' contradicts {name} {value} (normal is below "
                    f"{systolic_limit}/{diastolic_limit} mmHg)",
                )
    labs = case.labs
    if labs is not None and labs.creatinine_normal and labs.creatinine is not None:
        measured = labs.creatinine.umol_per_l()
        if measured >= CREATININE_NEVER_NORMAL_UMOL_L:
            raise ContradictionError(
                "/labs/creatinine_normal",
                f"'normal' contradicts creatinine {measured:.0f} umol/L",
            )


def _check_segments(case: Case) -> None:
    for index, procedure in enumerate(_procedures(case)):
        if procedure.segment is not None and procedure.segment not in SEGMENTS_BY_ID:
            raise UnknownWordError(
                f"/treatment/procedures/{index}/segment", procedure.segment, tuple(SEGMENTS_BY_ID)
            )
    imaging = case.imaging
    if imaging is None or imaging.thrombosed_segments is None:
        return
    for index, item in enumerate(imaging.thrombosed_segments):
        segment = SEGMENTS_BY_ID.get(item.segment)
        if segment is None:
            raise UnknownWordError(
                f"/imaging/thrombosed_segments/{index}/segment",
                item.segment,
                tuple(SEGMENTS_BY_ID),
            )
        if not segment.paired and item.side in (Side.LEFT, Side.RIGHT, Side.BILATERAL):
            raise ContradictionError(
                f"/imaging/thrombosed_segments/{index}/side",
                f"{item.segment} is a midline vein and has no {item.side.value} side",
            )
        if imaging.regions_imaged is not None and segment.region not in imaging.regions_imaged:
            raise ContradictionError(
                f"/imaging/thrombosed_segments/{index}/segment",
                f"{item.segment} lies in region '{segment.region.value}', which "
                "imaging.regions_imaged does not list",
            )


def _check_proximal_clear(case: Case) -> None:
    """`proximal_veins_clear` says no thrombus at or above the popliteal vein: a listed
    proximal segment contradicts it."""
    imaging = case.imaging
    if imaging is None or not imaging.proximal_veins_clear:
        return
    for index, item in enumerate(imaging.thrombosed_segments or ()):
        if item.segment in PROXIMAL_LEG_SEGMENTS:
            raise ContradictionError(
                "/imaging/proximal_veins_clear",
                f"the proximal leg veins are said to be clear but "
                f"/imaging/thrombosed_segments/{index} lists {item.segment}",
            )


def _procedures(case: Case) -> tuple[Procedure, ...]:
    if case.treatment is None or case.treatment.procedures is None:
        return ()
    return case.treatment.procedures


_REGION_OF_CONDITION = {
    ConditionName.CEREBRAL_VENOUS_THROMBOSIS: {Region.CEREBRAL},
    ConditionName.LEG_DVT: {Region.LEG, Region.PELVIC_ABDOMINAL},
    ConditionName.ARM_DVT: {Region.ARM},
}


def _check_exclusions(case: Case) -> None:
    """An excluded diagnosis cannot stand beside a thrombus listed in its region."""
    segments = case.imaging.thrombosed_segments if case.imaging is not None else None
    for index, diagnosis in enumerate(case.diagnoses or ()):
        regions = _REGION_OF_CONDITION.get(diagnosis.condition)
        if diagnosis.status is not DiagnosisStatus.EXCLUDED or regions is None or not segments:
            continue
        clash = next(
            (s.segment for s in segments if SEGMENTS_BY_ID[s.segment].region in regions), None
        )
        if clash is not None:
            raise ContradictionError(
                f"/diagnoses/{index}/status",
                f"{diagnosis.condition.value} is excluded but {clash} is listed as thrombosed",
            )


def _check_timeline(case: Case) -> None:
    as_of = case.as_of
    if as_of is None:
        return
    stamped: list[tuple[str, datetime | None]] = []
    if case.presentation is not None:
        stamped.append(("/presentation/symptom_onset", case.presentation.symptom_onset))
    if case.follow_up is not None:
        stamped.append(("/follow_up/procedure_date", case.follow_up.procedure_date))
    if case.treatment is not None and case.treatment.anticoagulation is not None:
        stamped.append(
            ("/treatment/anticoagulation/started_at", case.treatment.anticoagulation.started_at)
        )
    for index, diagnosis in enumerate(case.diagnoses or ()):
        stamped.append((f"/diagnoses/{index}/at", diagnosis.at))
    for pointer, moment in stamped:
        if moment is not None and moment > as_of:
            raise ContradictionError(
                pointer, f"{moment.isoformat()} is after as_of {as_of.isoformat()}"
            )


class UnknownWordError(ValueError):
    """A word that is not in a closed vocabulary; carries the nearest known words."""

    def __init__(self, pointer: str, word: str, vocabulary: tuple[str, ...]) -> None:
        import difflib

        self.pointer = pointer
        self.word = word
        self.suggestions = tuple(difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.5))
        hint = (
            f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else ""
        )
        self.message = f"unknown word {word!r}{hint}"
        super().__init__(f"{pointer}: {self.message}")
