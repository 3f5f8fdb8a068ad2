"""The fact catalogue: every named value a rule may read, with one definition each.

A fact has a type, a unit where it has one, a plain description, the case fields that
settle it (JSON pointers, used for "needs data"), and one derivation from a `Case`.
Derivations return None for unknown and never guess: a fact becomes False only when the
case says so, or when a closed list in the case (diagnoses, thrombosed segments within
the regions imaged, symptoms, procedures) rules it out.

Facts produced by risk scores (`source="score:<id>"`) are declared here too, so the
knowledge base can be checked against one list; the engine fills them in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from venapath.domain.anatomy import GROUPS, GROUPS_BY_ID, SEGMENTS_BY_ID, Region
from venapath.domain.case import (
    PROXIMAL_LEG_SEGMENTS,
    AnticoagulantAgent,
    Case,
    ConditionName,
    Consciousness,
    DiagnosisStatus,
    Indication,
    Phlegmasia,
    ProcedureKind,
    Provocation,
    Sex,
    SymptomKind,
    SymptomResponse,
    Thrombophilia,
)
from venapath.domain.kleene import Truth, k_and, k_not, k_or
from venapath.domain.vocabulary import Action

FactValue = bool | int | float | str | None
Facts = Mapping[str, FactValue]


class FactType(StrEnum):
    BOOLEAN = "boolean"
    NUMBER = "number"
    CHOICE = "choice"


Derivation = Callable[[Case, datetime], FactValue]


@dataclass(frozen=True)
class FactDefinition:
    name: str
    type: FactType
    description: str
    settled_by: tuple[str, ...]
    derive: Derivation | None = None
    unit: str | None = None
    choices: tuple[str, ...] = ()
    source: str = "case"


_CATALOGUE: list[FactDefinition] = []


def _fact(
    name: str,
    type_: FactType,
    description: str,
    settled_by: Iterable[str],
    derive: Derivation | None,
    *,
    unit: str | None = None,
    choices: Iterable[str] = (),
    source: str = "case",
) -> None:
    _CATALOGUE.append(
        FactDefinition(
            name, type_, description, tuple(settled_by), derive, unit, tuple(choices), source
        )
    )


def _boolean(name: str, description: str, pointer: str, derive: Derivation) -> None:
    _fact(name, FactType.BOOLEAN, description, (pointer,), derive)


def _number(name: str, description: str, pointer: str, unit: str, derive: Derivation) -> None:
    _fact(name, FactType.NUMBER, description, (pointer,), derive, unit=unit)


def _attr(obj: object | None, name: str) -> Any:
    """getattr that passes unknown (None) through: the case's optional blocks nest."""
    return None if obj is None else getattr(obj, name)


def _stated_or_any(stated: Truth, *others: Truth) -> Truth:
    """True if any source shows it; otherwise only the direct statement can say no.

    A direct statement ("no seizure") settles the fact when the other sources are silent;
    the other sources can only add a positive finding (an unchanged GCS does not show that
    nothing else deteriorated).
    """
    if stated is True or any(value is True for value in others):
        return True
    return stated


def _truth(value: Any) -> Truth:
    """Narrow a case value to three-valued truth, refusing anything that is not one."""
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean or unknown, got {value!r}")


def _hours_between(start: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return round((now - start).total_seconds() / 3600.0, 3)


def _days_between(start: datetime | None, now: datetime) -> float | None:
    hours = _hours_between(start, now)
    return None if hours is None else round(hours / 24.0, 3)


# ----------------------------------------------------------------------- patient facts


def _patient_field(name: str) -> Derivation:
    return lambda case, _now: _attr(case.patient, name)


def _male(case: Case, _now: datetime) -> Truth:
    sex = _attr(case.patient, "sex")
    return None if sex is None else sex is Sex.MALE


def _pregnant(case: Case, now: datetime) -> Truth:
    if _male(case, now):
        return False
    if _attr(case.patient, "gestational_age_weeks") is not None:
        return True  # a gestational age is a current pregnancy
    return _truth(_attr(case.patient, "pregnant"))


def _postpartum(case: Case, now: datetime) -> Truth:
    patient = case.patient
    if patient is None:
        return None
    if patient.postpartum_days is not None:
        return patient.postpartum_days <= 42
    if patient.postpartum is not None:
        return patient.postpartum
    if _male(case, now) or patient.pregnant:
        return False
    return None


def _breastfeeding(case: Case, now: datetime) -> Truth:
    if _male(case, now):
        return False
    return _truth(_attr(case.patient, "breastfeeding"))


_fact(
    "age_years",
    FactType.NUMBER,
    "Age",
    ["/patient/age_years"],
    _patient_field("age_years"),
    unit="years",
)
_boolean("male_sex", "Male sex", "/patient/sex", _male)
_fact(
    "pregnant",
    FactType.BOOLEAN,
    "Currently pregnant",
    ["/patient/pregnant", "/patient/gestational_age_weeks"],
    _pregnant,
)
_number(
    "gestational_age_weeks",
    "Completed weeks of the current pregnancy",
    "/patient/gestational_age_weeks",
    "weeks",
    _patient_field("gestational_age_weeks"),
)
_fact(
    "postpartum",
    FactType.BOOLEAN,
    "Within 6 weeks (42 days) of delivery",
    ["/patient/postpartum_days", "/patient/postpartum"],
    _postpartum,
)
_boolean("breastfeeding", "Breastfeeding", "/patient/breastfeeding", _breastfeeding)
_fact(
    "pregnant_or_breastfeeding",
    FactType.BOOLEAN,
    "Pregnant or breastfeeding",
    ["/patient/pregnant", "/patient/gestational_age_weeks", "/patient/breastfeeding"],
    lambda c, n: k_or([_pregnant(c, n), _breastfeeding(c, n)]),
)

# ------------------------------------------------------------------- risk factor facts


def _risk(name: str) -> Derivation:
    return lambda case, _now: _attr(case.risk_factors, name)


for _name, _description in (
    ("active_cancer", "Active cancer (treatment ongoing, within 6 months, or palliative)"),
    ("antiphospholipid_syndrome", "Antiphospholipid syndrome"),
    (
        "oral_contraceptives",
        "Oestrogen-containing contraception (progestin-only methods are not counted)",
    ),
    ("inflammatory_disease", "Inflammatory disease"),
    ("infection", "Infection"),
    ("cns_infection", "Central nervous system infection"),
    ("recent_surgery", "Recent surgery"),
    ("recent_dural_puncture_or_epidural", "Recent dural puncture, spinal or epidural"),
    ("immobilisation", "Paralysis, paresis or recent plaster immobilisation of the leg"),
    ("previous_vte", "Previous venous thromboembolism"),
    ("inpatient", "Inpatient"),
    ("head_trauma", "Head trauma"),
    ("multiple_sclerosis", "Multiple sclerosis"),
    ("distal_extension_risk", "Risk factors for extension of a distal DVT (clinician's judgement)"),
):
    _boolean(_name, _description, f"/risk_factors/{_name}", _risk(_name))


def _thrombophilia(case: Case, _now: datetime) -> str | None:
    value = _attr(case.risk_factors, "thrombophilia")
    return None if value is None else str(value)


def _severe_thrombophilia(case: Case, now: datetime) -> Truth:
    level = _attr(case.risk_factors, "thrombophilia")
    severe = None if level is None else level is Thrombophilia.SEVERE
    return k_or([severe, _attr(case.risk_factors, "antiphospholipid_syndrome")])


def _intracranial_hypotension(case: Case, now: datetime) -> Truth:
    stated = _attr(case.risk_factors, "intracranial_hypotension")
    diagnosed = _condition_status(case, ConditionName.INTRACRANIAL_HYPOTENSION)
    leaking = _attr(case.risk_factors, "csf_leak_active")
    return _stated_or_any(k_or([stated, diagnosed]), leaking)


def _bedridden_or_surgery(case: Case, _now: datetime) -> Truth:
    rf = case.risk_factors
    if rf is None:
        return None
    bedridden = _truth(rf.bedridden_3_days_or_more)
    if rf.bedridden_days is not None:  # a number, when given, decides
        bedridden = rf.bedridden_days >= 3
    surgery = _truth(rf.major_surgery_within_12_weeks)
    if rf.days_since_major_surgery is not None:
        surgery = rf.days_since_major_surgery <= 84
    return k_or([bedridden, surgery])


def _previous_dvt(case: Case, _now: datetime) -> Truth:
    return _truth(_attr(case.risk_factors, "previous_dvt_documented"))


def _recurrent_cvt(case: Case, _now: datetime) -> Truth:
    """Either source settles it: prior episodes in the history, or a diagnosis marked recurrent."""
    episodes = _attr(case.risk_factors, "previous_cvt_episodes")
    from_history = None if episodes is None else episodes >= 1
    flagged = [
        d.recurrent
        for d in case.diagnoses or ()
        if d.condition is ConditionName.CEREBRAL_VENOUS_THROMBOSIS and d.recurrent is not None
    ]
    return k_or([from_history, *flagged]) if flagged else from_history


def _provocation(case: Case, _now: datetime) -> str | None:
    value = _attr(case.risk_factors, "provocation")
    return None if value is None else str(value)


def _provoked(case: Case, _now: datetime) -> Truth:
    value = _attr(case.risk_factors, "provocation")
    return None if value is None else value is Provocation.PROVOKED_TRANSIENT


_fact(
    "thrombophilia",
    FactType.CHOICE,
    "Thrombophilia (none, mild or severe)",
    ["/risk_factors/thrombophilia"],
    _thrombophilia,
    choices=[t.value for t in Thrombophilia],
)
_fact(
    "severe_thrombophilia",
    FactType.BOOLEAN,
    "Severe thrombophilia or antiphospholipid syndrome (AHA/ASA definition)",
    ["/risk_factors/thrombophilia", "/risk_factors/antiphospholipid_syndrome"],
    _severe_thrombophilia,
)
_fact(
    "intracranial_hypotension_diagnosed",
    FactType.BOOLEAN,
    "Intracranial hypotension is a confirmed diagnosis (closed diagnoses list)",
    ["/diagnoses"],
    lambda c, n: _condition_status(c, ConditionName.INTRACRANIAL_HYPOTENSION),
)
_fact(
    "intracranial_hypotension",
    FactType.BOOLEAN,
    "Intracranial hypotension or CSF leak",
    ["/risk_factors/intracranial_hypotension", "/diagnoses", "/risk_factors/csf_leak_active"],
    _intracranial_hypotension,
)
_fact(
    "bedridden_3_days_or_major_surgery_12_weeks",
    FactType.BOOLEAN,
    "Bedridden 3 days or more, or major surgery within 12 weeks (Wells item)",
    [
        "/risk_factors/bedridden_days",
        "/risk_factors/days_since_major_surgery",
        "/risk_factors/major_surgery_within_12_weeks",
        "/risk_factors/bedridden_3_days_or_more",
    ],
    _bedridden_or_surgery,
)
_boolean(
    "previous_dvt",
    "Previously documented DVT",
    "/risk_factors/previous_dvt_documented",
    _previous_dvt,
)
_fact(
    "recurrent_cvt",
    FactType.BOOLEAN,
    "This is a recurrent CVT",
    ["/risk_factors/previous_cvt_episodes", "/diagnoses"],
    _recurrent_cvt,
)
_fact(
    "provocation",
    FactType.CHOICE,
    "Provoked by a transient factor, persistent factor, or unprovoked",
    ["/risk_factors/provocation"],
    _provocation,
    choices=[p.value for p in Provocation],
)
_boolean(
    "provoked_by_transient_factor",
    "Provoked by a transient risk factor",
    "/risk_factors/provocation",
    _provoked,
)

# ----------------------------------------------------------------------- diagnoses


def _condition_status(case: Case, condition: ConditionName) -> Truth:
    """Confirmed? True/False from the closed diagnoses list, None if there is no list."""
    if case.diagnoses is None:
        return None
    return any(
        d.condition is condition and d.status is DiagnosisStatus.CONFIRMED for d in case.diagnoses
    )


def _region_thrombosed(case: Case, regions: frozenset[Region]) -> Truth:
    return _group_involved_in(
        case, frozenset(s for s, seg in SEGMENTS_BY_ID.items() if seg.region in regions)
    )


def _confirmed(condition: ConditionName, regions: frozenset[Region]) -> Derivation:
    def derive(case: Case, _now: datetime) -> Truth:
        if _excluded(case, condition):
            return False
        diagnosed = _condition_status(case, condition)
        seen = _region_thrombosed(case, regions)
        if diagnosed or seen:
            return True
        if diagnosed is False:
            return (
                False  # the closed diagnoses list does not name it, and no thrombus was seen there
            )
        return seen

    return derive


def _excluded(case: Case, condition: ConditionName) -> bool:
    return any(
        d.condition is condition and d.status is DiagnosisStatus.EXCLUDED
        for d in case.diagnoses or ()
    )


def _suspected(condition: ConditionName, regions: frozenset[Region]) -> Derivation:
    confirmed = _confirmed(condition, regions)

    def derive(case: Case, now: datetime) -> Truth:
        if confirmed(case, now) is True or _excluded(case, condition):
            return False
        if case.diagnoses is None:
            return None
        return any(
            d.condition is condition and d.status is DiagnosisStatus.SUSPECTED
            for d in case.diagnoses
        )

    return derive


_CEREBRAL_REGIONS = frozenset({Region.CEREBRAL})
_LEG_REGIONS = frozenset({Region.LEG, Region.PELVIC_ABDOMINAL})
_ARM_REGIONS = frozenset({Region.ARM})
for _prefix, _condition, _regions, _label in (
    (
        "cvt",
        ConditionName.CEREBRAL_VENOUS_THROMBOSIS,
        _CEREBRAL_REGIONS,
        "cerebral venous thrombosis",
    ),
    ("leg_dvt", ConditionName.LEG_DVT, _LEG_REGIONS, "deep vein thrombosis of the leg"),
    ("arm_dvt", ConditionName.ARM_DVT, _ARM_REGIONS, "deep vein thrombosis of the arm"),
):
    _fact(
        f"{_prefix}_confirmed",
        FactType.BOOLEAN,
        f"Confirmed {_label}",
        ["/diagnoses", "/imaging/thrombosed_segments"],
        _confirmed(_condition, _regions),
    )
    _fact(
        f"{_prefix}_suspected",
        FactType.BOOLEAN,
        f"Suspected, not yet confirmed or excluded, {_label}",
        ["/diagnoses"],
        _suspected(_condition, _regions),
    )


def _diagnosis_time(case: Case) -> datetime | None:
    moments = [
        d.at
        for d in case.diagnoses or ()
        if d.status is DiagnosisStatus.CONFIRMED and d.at is not None
    ]
    return min(moments) if moments else None


def _onset(case: Case) -> datetime | None:
    presentation = case.presentation
    if presentation is None:
        return None
    if presentation.symptom_onset is not None:
        return presentation.symptom_onset
    onsets = [s.onset for s in presentation.symptoms or () if s.onset is not None]
    return min(onsets) if onsets else None


_number(
    "hours_since_onset",
    "Hours since the presenting symptoms began",
    "/presentation/symptom_onset",
    "h",
    lambda c, n: _hours_between(_onset(c), n),
)
_number(
    "days_since_onset",
    "Days since the presenting symptoms began",
    "/presentation/symptom_onset",
    "d",
    lambda c, n: _days_between(_onset(c), n),
)
_number(
    "days_since_diagnosis",
    "Days since the thrombosis was confirmed",
    "/diagnoses/0/at",
    "d",
    lambda c, n: _days_between(_diagnosis_time(c), n),
)

# ------------------------------------------------------------------------ symptoms


def _symptom(kind: SymptomKind) -> Derivation:
    def derive(case: Case, _now: datetime) -> Truth:
        presentation = case.presentation
        if presentation is None:
            return None
        if presentation.symptoms is not None:
            return any(s.kind is kind for s in presentation.symptoms)
        return False if presentation.symptom_free else None

    return derive


for _kind in SymptomKind:
    _boolean(
        f"symptom_{_kind.value}",
        f"Reports {_kind.value.replace('_', ' ')}",
        "/presentation/symptoms",
        _symptom(_kind),
    )

# ---------------------------------------------------------------------------- exam


def _exam(name: str) -> Derivation:
    return lambda case, _now: _attr(case.exam, name)


def _leg(name: str) -> Derivation:
    return lambda case, _now: _attr(_attr(case.exam, "leg"), name)


def _coma(case: Case, _now: datetime) -> Truth:
    exam = case.exam
    if exam is None:
        return None
    by_gcs = None if exam.gcs is None else exam.gcs < 9
    by_level = None if exam.consciousness is None else exam.consciousness is Consciousness.COMA
    if by_gcs is not None:
        return by_gcs  # a measured GCS settles it (a contradicting level is refused on input)
    return by_level


def _consciousness(case: Case, _now: datetime) -> str | None:
    exam = case.exam
    if exam is None:
        return None
    if exam.consciousness is not None:
        return exam.consciousness.value
    return "coma" if exam.gcs is not None and exam.gcs < 9 else None


def _gcs_fell(case: Case) -> Truth:
    exam = case.exam
    if exam is None or exam.gcs is None or exam.gcs_before is None:
        return None
    return exam.gcs < exam.gcs_before


def _seizure(case: Case, now: datetime) -> Truth:
    return _stated_or_any(
        _truth(_attr(case.exam, "seizure")), _truth(_symptom(SymptomKind.SEIZURE)(case, now))
    )


def _mental_status(case: Case, now: datetime) -> Truth:
    stated = _attr(case.exam, "mental_status_disorder")
    level = _attr(case.exam, "consciousness")
    impaired = None if level is None else level is not Consciousness.ALERT
    return _stated_or_any(_truth(stated), impaired)


_number("gcs", "Glasgow Coma Scale now", "/exam/gcs", "points", _exam("gcs"))
_boolean("coma", "Coma (GCS < 9 or stated coma)", "/exam/gcs", _coma)
_fact(
    "consciousness",
    FactType.CHOICE,
    "Level of consciousness",
    ["/exam/consciousness"],
    _consciousness,
    choices=[c.value for c in Consciousness],
)
_boolean(
    "mental_status_disorder",
    "Mental status disorder (impaired consciousness or confusion)",
    "/exam/mental_status_disorder",
    _mental_status,
)
for _name, _description in (
    ("focal_deficit", "Focal neurological deficit"),
    ("bilateral_babinski", "Bilateral Babinski signs"),
    ("papilloedema", "Papilloedema"),
    ("alternative_diagnosis_as_likely", "An alternative diagnosis is at least as likely as DVT"),
):
    _boolean(_name, _description, f"/exam/{_name}", _exam(_name))
_boolean("seizure", "Seizure at presentation or since", "/exam/seizure", _seizure)
_number(
    "systolic_bp_mmhg",
    "Systolic blood pressure",
    "/exam/systolic_bp_mmhg",
    "mmHg",
    _exam("systolic_bp_mmhg"),
)
_number(
    "diastolic_bp_mmhg",
    "Diastolic blood pressure",
    "/exam/diastolic_bp_mmhg",
    "mmHg",
    _exam("diastolic_bp_mmhg"),
)
_fact(
    "blood_pressure_recorded_normal",
    FactType.BOOLEAN,
    "The record says blood pressure is normal (below 140/90 mmHg) without giving the numbers "
    "(false when it does not say so): blood-pressure thresholds then read as not met",
    ["/exam/blood_pressure_normal"],
    lambda c, n: _attr(c.exam, "blood_pressure_normal") is True,
)

for _name, _description in (
    ("entire_leg_swollen", "Entire leg swollen"),
    ("deep_vein_tenderness", "Localised tenderness along the deep venous system"),
    ("pitting_oedema", "Pitting oedema confined to the symptomatic leg"),
    ("collateral_superficial_veins", "Collateral superficial (non-varicose) veins"),
    ("venous_gangrene", "Venous gangrene"),
    ("severe_symptoms", "Severe leg symptoms"),
):
    _boolean(_name, _description, f"/exam/leg/{_name}", _leg(_name))
for _name in ("pain", "swelling", "redness", "warmth"):
    _boolean(f"leg_{_name}", f"Leg {_name} on examination", f"/exam/leg/{_name}", _leg(_name))
_number(
    "calf_difference_cm",
    "Calf circumference difference from the other leg",
    "/exam/leg/calf_difference_cm",
    "cm",
    _leg("calf_difference_cm"),
)


def _phlegmasia_cerulea(case: Case, _now: datetime) -> Truth:
    value = _attr(_attr(case.exam, "leg"), "phlegmasia")
    return None if value is None else value is Phlegmasia.CERULEA_DOLENS


def _limb_threatening(case: Case, now: datetime) -> Truth:
    return k_or([_phlegmasia_cerulea(case, now), _truth(_leg("venous_gangrene")(case, now))])


def _any_phlegmasia(case: Case, _now: datetime) -> Truth:
    value = _attr(_attr(case.exam, "leg"), "phlegmasia")
    return None if value is None else value is not Phlegmasia.NONE


_boolean(
    "phlegmasia", "Phlegmasia (alba or cerulea dolens)", "/exam/leg/phlegmasia", _any_phlegmasia
)
_boolean(
    "phlegmasia_cerulea_dolens",
    "Phlegmasia cerulea dolens",
    "/exam/leg/phlegmasia",
    _phlegmasia_cerulea,
)
_fact(
    "limb_threatening_dvt",
    FactType.BOOLEAN,
    "Limb-threatening circulatory compromise (phlegmasia cerulea dolens or venous gangrene)",
    ["/exam/leg/phlegmasia", "/exam/leg/venous_gangrene"],
    _limb_threatening,
)

# ------------------------------------------------------------------------- imaging


def _group_involved_in(case: Case, members: frozenset[str]) -> Truth:
    """True if a listed segment is in `members`; False once every member's region was imaged."""
    imaging = case.imaging
    if imaging is None or imaging.thrombosed_segments is None:
        return None
    listed = {item.segment for item in imaging.thrombosed_segments}
    if listed & members:
        return True
    imaged = set(imaging.regions_imaged or ())
    imaged |= {SEGMENTS_BY_ID[s].region for s in listed}
    unseen = members - _stated_clear(case)
    member_regions = {SEGMENTS_BY_ID[s].region for s in unseen}
    return False if member_regions <= imaged else None


def _stated_clear(case: Case) -> frozenset[str]:
    """Segments a leg scan reports clear without their region being imaged: with
    `proximal_veins_clear: true`, popliteal and above (the iliac veins judged from the common
    femoral flow, not from a pelvic scan)."""
    if _attr(case.imaging, "proximal_veins_clear") is True:
        return PROXIMAL_LEG_SEGMENTS
    return frozenset()


def _involved(group_id: str) -> Derivation:
    members = GROUPS_BY_ID[group_id].members
    return lambda case, _now: _group_involved_in(case, members)


def _only(group_id: str, within_id: str) -> Derivation:
    """Thrombosis confined to `group_id` among the segments of `within_id`."""
    inside = GROUPS_BY_ID[group_id].members
    rest = GROUPS_BY_ID[within_id].members - inside

    def derive(case: Case, _now: datetime) -> Truth:
        return k_and([_group_involved_in(case, inside), k_not(_group_involved_in(case, rest))])

    return derive


_SEGMENT_POINTERS = (
    "/imaging/thrombosed_segments",
    "/imaging/regions_imaged",
    "/imaging/proximal_veins_clear",
)
for _group in GROUPS:
    _fact(
        f"{_group.id}_involved",
        FactType.BOOLEAN,
        f"Thrombosis involves: {_group.label}",
        _SEGMENT_POINTERS,
        _involved(_group.id),
    )
_fact(
    "isolated_cavernous_sinus_thrombosis",
    FactType.BOOLEAN,
    "The only thrombosed intracranial segment is the cavernous sinus",
    _SEGMENT_POINTERS,
    _only("cavernous_sinus", "cerebral_venous_system"),
)
_fact(
    "isolated_distal_dvt",
    FactType.BOOLEAN,
    "Leg DVT confined to the calf veins (most proximal extent below the popliteal vein)",
    _SEGMENT_POINTERS,
    _only("distal_leg_veins", "leg_deep_veins"),
)
_fact(
    "femoropopliteal_without_iliofemoral",
    FactType.BOOLEAN,
    "Femoropopliteal DVT without iliac or common femoral involvement",
    _SEGMENT_POINTERS,
    lambda c, n: k_and(
        [
            _truth(_involved("femoropopliteal")(c, n)),
            k_not(_truth(_involved("iliofemoral")(c, n))),
        ]
    ),
)


def _segment_count(case: Case, _now: datetime) -> int | None:
    imaging = case.imaging
    if imaging is None or imaging.thrombosed_segments is None:
        return None
    return len({(s.segment, s.side) for s in imaging.thrombosed_segments})


_number(
    "thrombosed_segment_count",
    "Number of thrombosed segments (a side counts apart)",
    "/imaging/thrombosed_segments",
    "segments",
    _segment_count,
)


def _imaging(name: str) -> Derivation:
    return lambda case, _now: _attr(case.imaging, name)


for _name, _description in (
    ("intracerebral_haemorrhage", "Intracerebral haemorrhage"),
    ("haemorrhage_due_to_cvt", "The haemorrhage is caused by the venous thrombosis"),
    ("venous_infarct", "Venous infarct"),
    ("mass_effect", "Mass effect"),
    ("herniation", "Herniation or impending herniation"),
    ("subdural_collection", "Subdural collection"),
    ("cortical_venous_reflux", "Cortical venous reflux"),
    ("hydrocephalus", "Hydrocephalus"),
    (
        "iliac_imaging_inconclusive",
        "Ultrasound could not show the veins above the inguinal ligament",
    ),
    ("thrombus_extension_to_proximal_veins", "Distal DVT has extended into the proximal veins"),
    ("distal_thrombus_extension", "Distal DVT has extended within the calf veins"),
):
    _boolean(_name, _description, f"/imaging/{_name}", _imaging(_name))
_number(
    "largest_lesion_cm",
    "Largest parenchymal lesion",
    "/imaging/largest_lesion_cm",
    "cm",
    _imaging("largest_lesion_cm"),
)

# ---------------------------------------------------------------------------- labs


def _platelets(case: Case, _now: datetime) -> float | None:
    value = _attr(case.labs, "platelets")
    return None if value is None else value.per_nanolitre()


def _haemoglobin(case: Case, _now: datetime) -> float | None:
    value = _attr(case.labs, "haemoglobin")
    return None if value is None else round(value.g_per_dl(), 3)


def _creatinine(case: Case, _now: datetime) -> float | None:
    value = _attr(case.labs, "creatinine")
    return None if value is None else round(value.umol_per_l(), 3)


def _d_dimer_positive(case: Case, _now: datetime) -> Truth:
    return _truth(_attr(_attr(case.labs, "d_dimer"), "positive"))


_number("platelets_10e9_l", "Platelet count", "/labs/platelets", "10^9/L", _platelets)
_number("inr", "INR", "/labs/inr", "ratio", lambda c, n: _attr(c.labs, "inr"))
_number("haemoglobin_g_dl", "Haemoglobin", "/labs/haemoglobin", "g/dL", _haemoglobin)
_number("creatinine_umol_l", "Serum creatinine", "/labs/creatinine", "umol/L", _creatinine)
_number(
    "egfr_ml_min",
    "Estimated GFR",
    "/labs/egfr_ml_min",
    "mL/min/1.73m2",
    lambda c, n: _attr(c.labs, "egfr_ml_min"),
)
_boolean(
    "d_dimer_positive",
    "D-dimer above the assay's validated cut-off",
    "/labs/d_dimer/positive",
    _d_dimer_positive,
)
_fact(
    "infection_screen_recorded_normal",
    FactType.BOOLEAN,
    "The record shows a normal blood and urine screen (false when none is recorded)",
    ["/labs/metabolic_or_infection_screen_normal"],
    lambda c, n: _attr(c.labs, "metabolic_or_infection_screen_normal") is True,
)
_fact(
    "creatinine_recorded_normal",
    FactType.BOOLEAN,
    "The record says serum creatinine is normal without giving the value (false when it "
    "does not say so): thresholds on creatinine then read as not met",
    ["/labs/creatinine_normal"],
    lambda c, n: _attr(c.labs, "creatinine_normal") is True,
)


def _platelet_fall_on_heparin(case: Case, _now: datetime) -> Truth:
    return _truth(_attr(case.course, "platelet_fall_on_heparin"))


def _hit_or_vitt_suspicion(case: Case, now: datetime) -> bool:
    """Recorded only: a clinician's suspicion, or a platelet fall of 50% or more on heparin.

    False when neither is recorded (this fact can only add the HIT/VITT alert, and the
    platelet-count route to the same alert is read on its own), so every CVT patient is
    not asked whether HIT is suspected."""
    return (
        _attr(case.labs, "hit_or_vitt_suspected") is True
        or _platelet_fall_on_heparin(case, now) is True
    )


_boolean(
    "platelet_fall_on_heparin",
    "Platelets fell by 50% or more while on heparin (4Ts typical fall)",
    "/course/platelet_fall_on_heparin",
    _platelet_fall_on_heparin,
)
_fact(
    "hit_or_vitt_suspicion_recorded",
    FactType.BOOLEAN,
    "The record shows suspected heparin- or vaccine-induced thrombocytopenia: stated, or a "
    "platelet fall of 50% or more on heparin (false when neither is recorded)",
    ["/labs/hit_or_vitt_suspected", "/course/platelet_fall_on_heparin"],
    _hit_or_vitt_suspicion,
)
_boolean(
    "metabolic_or_infection_screen_normal",
    "Blood and urine tests exclude infection or a metabolic cause",
    "/labs/metabolic_or_infection_screen_normal",
    lambda c, n: _attr(c.labs, "metabolic_or_infection_screen_normal"),
)

# ----------------------------------------------------------------------- treatment


def _agent(case: Case) -> AnticoagulantAgent | None:
    agent: AnticoagulantAgent | None = _attr(_attr(case.treatment, "anticoagulation"), "agent")
    return agent


def _agent_choice(case: Case, _now: datetime) -> str | None:
    agent = _agent(case)
    return None if agent is None else agent.value


def _on_anticoagulation(case: Case, _now: datetime) -> Truth:
    treatment = case.treatment
    if treatment is None or treatment.anticoagulation is None:
        return None
    anticoagulation = treatment.anticoagulation
    if anticoagulation.agent is not None or anticoagulation.therapeutic:
        return True
    return None  # a block with neither agent nor dose says nothing either way


def _on_therapeutic(case: Case, now: datetime) -> Truth:
    therapeutic = _attr(_attr(case.treatment, "anticoagulation"), "therapeutic")
    return k_and([_on_anticoagulation(case, now), therapeutic])


def _on_doac(case: Case, _now: datetime) -> Truth:
    agent = _agent(case)
    return None if agent is None else agent.is_doac


def _anticoagulation_start(case: Case) -> datetime | None:
    started: datetime | None = _attr(_attr(case.treatment, "anticoagulation"), "started_at")
    return started


def _procedures_of(case: Case, kinds: frozenset[ProcedureKind]) -> Truth:
    treatment = case.treatment
    if treatment is None or treatment.procedures is None:
        return None
    return any(p.kind in kinds for p in treatment.procedures)


def _ebp_succeeded(case: Case, _now: datetime) -> Truth:
    treatment = case.treatment
    if treatment is None or treatment.procedures is None:
        return None
    patches = [p for p in treatment.procedures if p.kind is ProcedureKind.EPIDURAL_BLOOD_PATCH]
    if not patches:
        return False
    return k_or([p.succeeded for p in patches])


_fact(
    "anticoagulant_agent",
    FactType.CHOICE,
    "Current anticoagulant",
    ["/treatment/anticoagulation/agent"],
    _agent_choice,
    choices=[a.value for a in AnticoagulantAgent],
)
_boolean(
    "on_anticoagulation",
    "Receiving an anticoagulant",
    "/treatment/anticoagulation",
    _on_anticoagulation,
)
_boolean(
    "on_therapeutic_anticoagulation",
    "Receiving therapeutic-dose anticoagulation",
    "/treatment/anticoagulation/therapeutic",
    _on_therapeutic,
)
_boolean(
    "on_doac",
    "The current anticoagulant is a direct oral anticoagulant",
    "/treatment/anticoagulation/agent",
    _on_doac,
)
_number(
    "days_on_anticoagulation",
    "Days since anticoagulation started",
    "/treatment/anticoagulation/started_at",
    "d",
    lambda c, n: _days_between(_anticoagulation_start(c), n),
)


def _doac_first(case: Case, now: datetime) -> Truth:
    lead_in = _attr(_attr(case.treatment, "anticoagulation"), "parenteral_lead_in_days")
    short = None if lead_in is None else lead_in < 5
    return k_and([_on_doac(case, now), short])


_fact(
    "doac_without_parenteral_lead_in",
    FactType.BOOLEAN,
    "On a DOAC after fewer than 5 days of parenteral heparin (RE-SPECT CVT's minimum lead-in)",
    ["/treatment/anticoagulation/agent", "/treatment/anticoagulation/parenteral_lead_in_days"],
    _doac_first,
)
_boolean(
    "thrombolysis_within_7_days",
    "Any thrombolytic in the last 7 days",
    "/treatment/thrombolysis_within_7_days",
    lambda c, n: _attr(c.treatment, "thrombolysis_within_7_days"),
)
_boolean(
    "antiplatelet_or_nsaid",
    "Antiplatelet agent or NSAID",
    "/treatment/antiplatelet_or_nsaid",
    lambda c, n: _attr(c.treatment, "antiplatelet_or_nsaid"),
)
_boolean(
    "endovascular_treatment_done",
    "Thrombolysis or thrombectomy already performed",
    "/treatment/procedures",
    lambda c, n: _procedures_of(
        c,
        frozenset(
            {
                ProcedureKind.CATHETER_DIRECTED_THROMBOLYSIS,
                ProcedureKind.PHARMACOMECHANICAL_THROMBECTOMY,
                ProcedureKind.MECHANICAL_THROMBECTOMY,
            }
        ),
    ),
)
_boolean(
    "epidural_blood_patch_succeeded",
    "An epidural blood patch has sealed the leak",
    "/treatment/procedures",
    _ebp_succeeded,
)


def _csf_leak_unsealed(case: Case, now: datetime) -> Truth:
    """The stated leak status decides; without one, a leak counts as unsealed until a listed
    blood patch has succeeded (the reading before the field existed)."""
    stated = _truth(_attr(case.risk_factors, "csf_leak_active"))
    if stated is not None:
        return stated
    return k_not(_ebp_succeeded(case, now))


_fact(
    "csf_leak_unsealed",
    FactType.BOOLEAN,
    "A CSF leak is still open: stated, or no listed blood patch has sealed it",
    ["/risk_factors/csf_leak_active", "/treatment/procedures"],
    _csf_leak_unsealed,
)

# -------------------------------------------------------------------------- course


def _course(name: str) -> Derivation:
    return lambda case, _now: _attr(case.course, name)


_fact(
    "neurological_deterioration",
    FactType.BOOLEAN,
    "Neurological deterioration (falling consciousness, new deficit or seizures)",
    ["/course/neurological_deterioration", "/exam/gcs_before"],
    lambda c, n: _stated_or_any(_truth(_course("neurological_deterioration")(c, n)), _gcs_fell(c)),
)
_boolean(
    "thrombus_propagation",
    "Thrombus propagation on imaging",
    "/course/thrombus_propagation",
    _course("thrombus_propagation"),
)
_boolean(
    "leg_symptoms_worsening",
    "Leg symptoms worsening despite treatment",
    "/course/leg_symptoms_worsening",
    _course("leg_symptoms_worsening"),
)

# ------------------------------------------------------- red-flag presentation of CVT


def _neurological_red_flag(case: Case, now: datetime) -> Truth:
    """A focal deficit, a seizure or falling/impaired consciousness, seen or reported.

    Impaired consciousness is read from the stated level or a recorded fall in GCS, not from
    one GCS value: the population screen derives this fact per combination of discrete
    fields, where a single measured GCS is not one of them.

    A red flag counts when it is recorded: with none recorded this is False, not unknown,
    so that every patient with an open exam is not held in a "possible" red-flag pathway
    and asked for it (the suspected-CVT pathway still asks). Once one is recorded, the
    pathway opens, and only the setting (headache, pregnancy...) can keep it undecided."""
    return any(
        value is True
        for value in [
            _truth(_attr(case.exam, "focal_deficit")),
            _seizure(case, now),
            _mental_status(case, now),
            _stated_or_any(
                _truth(_course("neurological_deterioration")(case, now)), _gcs_fell(case)
            ),
            _truth(_symptom(SymptomKind.LIMB_WEAKNESS)(case, now)),
            _truth(_symptom(SymptomKind.SPEECH_DIFFICULTY)(case, now)),
            _truth(_symptom(SymptomKind.LOSS_OF_CONSCIOUSNESS)(case, now)),
        ]
    )


def _cvt_context(case: Case, now: datetime) -> Truth:
    """Headache, or a setting where CVT is common: pregnancy, puerperium, dural puncture."""
    return k_or(
        [
            _truth(_symptom(SymptomKind.HEADACHE)(case, now)),
            _truth(_symptom(SymptomKind.HEADACHE_CHARACTER_CHANGED)(case, now)),
            _pregnant(case, now),
            _postpartum(case, now),
            _truth(_risk("recent_dural_puncture_or_epidural")(case, now)),
        ]
    )


def _cvt_red_flag_presentation(case: Case, now: datetime) -> Truth:
    """Red flags of CVT with no diagnosis yet: emergency advice must not wait for a typed
    "CVT suspected". Only a recorded confirmation or exclusion of CVT turns it off; an
    unknown diagnosis list does not (unknown never lowers urgency)."""
    confirmed = _confirmed(ConditionName.CEREBRAL_VENOUS_THROMBOSIS, _CEREBRAL_REGIONS)(case, now)
    if confirmed is True or _excluded(case, ConditionName.CEREBRAL_VENOUS_THROMBOSIS):
        return False
    return k_and([_neurological_red_flag(case, now), _cvt_context(case, now)])


_fact(
    "cvt_red_flag_presentation",
    FactType.BOOLEAN,
    "Red flags of cerebral venous thrombosis (focal deficit, seizure or falling consciousness) "
    "with headache, pregnancy, the puerperium or a recent dural puncture, CVT neither "
    "confirmed nor excluded",
    [
        "/presentation/symptoms",
        "/exam/focal_deficit",
        "/exam/seizure",
        "/exam/consciousness",
        "/course/neurological_deterioration",
        "/patient/pregnant",
        "/patient/postpartum_days",
        "/risk_factors/recent_dural_puncture_or_epidural",
        "/diagnoses",
    ],
    _cvt_red_flag_presentation,
)

# -------------------------------------------------------------------- bleeding risk


def _bleeding(name: str) -> Derivation:
    return lambda case, _now: _attr(case.bleeding_risk, name)


for _name, _description in (
    ("active_bleeding", "Active internal bleeding or disseminated intravascular coagulation"),
    ("bleeding_disorder", "Generalised bleeding disorder"),
    (
        "recent_neurovascular_event_3_months",
        "Stroke/TIA, intracranial or spinal neurosurgery, or intracranial trauma within 3 months",
    ),
    ("anticoagulation_contraindicated", "Absolute contraindication to anticoagulation"),
    (
        "major_event_within_10_days",
        "CPR, major surgery, cataract surgery, delivery, organ biopsy or major trauma within 10 days",
    ),
    ("intracranial_lesion_or_seizure_disorder", "Intracranial lesion or seizure disorder"),
    ("gi_bleeding_within_3_months", "Gastrointestinal bleeding within 3 months"),
    ("internal_eye_surgery_within_3_months", "Internal eye surgery within 3 months"),
    (
        "thrombolytic_or_contrast_allergy",
        "Serious allergy to thrombolytic, anticoagulant or contrast not controlled by premedication",
    ),
    ("right_to_left_shunt", "Right-to-left cardiac or pulmonary shunt, or left-heart thrombus"),
    (
        "severe_illness_precluding_procedure",
        "Severe dyspnoea or severe acute medical illness precluding a safe procedure",
    ),
    ("infected_thrombus_suspected", "Suspected infected thrombus"),
    ("severe_hepatic_dysfunction", "Severe hepatic dysfunction"),
    ("bacterial_endocarditis", "Bacterial endocarditis"),
    ("diabetic_haemorrhagic_retinopathy", "Diabetic haemorrhagic retinopathy"),
    ("previous_major_bleeding", "Previous major bleeding"),
    ("stroke_history", "History of stroke"),
    ("chronic_dialysis_or_renal_transplant", "Chronic dialysis or renal transplant"),
    ("chronic_liver_disease", "Chronic liver disease (e.g. cirrhosis)"),
    ("labile_inr", "Labile INR (time in therapeutic range < 60%)"),
):
    _boolean(_name, _description, f"/bleeding_risk/{_name}", _bleeding(_name))


def _haemorrhage_not_from_venous_thrombosis(case: Case, now: datetime) -> Truth:
    """A recent intracranial haemorrhage that the venous thrombosis did not cause.

    Its cause is known when the record says whether the CVT caused it; without a CVT (known
    absent) it cannot be the CVT's. A CVT with a haemorrhage of unstated cause stays unknown:
    the CVT's own haemorrhage never counts against anticoagulation (CHEST 2021 statement 5).
    """
    recent = _truth(_attr(case.bleeding_risk, "recent_intracranial_haemorrhage"))
    if recent is not True:
        return recent
    due_to_cvt = _truth(_attr(case.imaging, "haemorrhage_due_to_cvt"))
    if due_to_cvt is not None:
        return not due_to_cvt
    cvt = _confirmed(ConditionName.CEREBRAL_VENOUS_THROMBOSIS, _CEREBRAL_REGIONS)(case, now)
    return True if cvt is False else None


_fact(
    "recent_intracranial_haemorrhage_not_from_venous_thrombosis",
    FactType.BOOLEAN,
    "Intracranial haemorrhage within 3 months not caused by the venous thrombosis",
    [
        "/bleeding_risk/recent_intracranial_haemorrhage",
        "/imaging/haemorrhage_due_to_cvt",
        "/diagnoses",
    ],
    _haemorrhage_not_from_venous_thrombosis,
)
_number(
    "alcohol_units_per_week",
    "Alcohol",
    "/bleeding_risk/alcohol_units_per_week",
    "units/week",
    _bleeding("alcohol_units_per_week"),
)


def _alcohol_excess(case: Case, _now: datetime) -> Truth:
    units = _attr(case.bleeding_risk, "alcohol_units_per_week")
    if units is not None:  # a number, when given, decides
        return bool(units >= 8)
    return _truth(_attr(case.bleeding_risk, "alcohol_8_or_more_units_per_week"))


_fact(
    "alcohol_8_or_more_units_per_week",
    FactType.BOOLEAN,
    "Alcohol 8 or more units a week (HAS-BLED)",
    ["/bleeding_risk/alcohol_units_per_week", "/bleeding_risk/alcohol_8_or_more_units_per_week"],
    _alcohol_excess,
)

# ------------------------------------------------------------------------ function


def _function_field(name: str) -> Derivation:
    return lambda case, _now: _attr(case.function, name)


for _name, _description in (
    ("ambulatory", "Ambulatory"),
    ("good_functional_status", "Good functional status"),
    ("life_expectancy_over_1_year", "Life expectancy of 1 year or more"),
):
    _boolean(_name, _description, f"/function/{_name}", _function_field(_name))

# ------------------------------------------------------------------------ follow-up


def _follow(name: str) -> Derivation:
    return lambda case, _now: _attr(case.follow_up, name)


def _follow_choice(name: str) -> Derivation:
    def derive(case: Case, _now: datetime) -> str | None:
        if case.follow_up is None:
            return "none"  # no follow-up block: the case is not a post-procedure follow-up
        value = _attr(case.follow_up, name)
        return None if value is None else str(value)

    return derive


def _ccsvi(case: Case, _now: datetime) -> Truth:
    proposed = [
        p.indication is Indication.CCSVI_MULTIPLE_SCLEROSIS
        for p in case.proposed_procedures or ()
        if p.action in (Action.ANGIOPLASTY, Action.VENOUS_STENTING, Action.RETREATMENT)
    ]
    if case.follow_up is None:
        from_follow_up: Truth = False  # not a follow-up case
    else:
        indication = case.follow_up.indication
        from_follow_up = (
            None if indication is None else indication is Indication.CCSVI_MULTIPLE_SCLEROSIS
        )
    return k_or([*proposed, from_follow_up])


_fact(
    "followup_procedure_kind",
    FactType.CHOICE,
    "Procedure being followed up",
    ["/follow_up/procedure_kind"],
    _follow_choice("procedure_kind"),
    choices=["none", *(k.value for k in ProcedureKind)],
)
_fact(
    "followup_indication",
    FactType.CHOICE,
    "Why the followed-up procedure was done",
    ["/follow_up/indication"],
    _follow_choice("indication"),
    choices=["none", *(i.value for i in Indication)],
)
_number(
    "days_since_procedure",
    "Days since the followed-up procedure",
    "/follow_up/procedure_date",
    "d",
    lambda c, n: _days_between(_attr(c.follow_up, "procedure_date"), n),
)
_number(
    "earlier_repeat_procedures",
    "Repeats of the followed-up procedure kind done so far in this episode, that procedure "
    "included (0 after the first)",
    "/follow_up/earlier_repeat_procedures",
    "procedures",
    _follow("earlier_repeat_procedures"),
)
_fact(
    "symptom_response",
    FactType.CHOICE,
    "Symptom response to the procedure",
    ["/follow_up/symptom_response"],
    _follow_choice("symptom_response"),
    choices=["none", *(r.value for r in SymptomResponse)],
)
_number(
    "improvement_lasted_days",
    "How long the improvement lasted",
    "/follow_up/improvement_lasted_days",
    "d",
    _follow("improvement_lasted_days"),
)
_number(
    "reverted_for_days",
    "How long symptoms have been back at the pre-procedure level",
    "/follow_up/reverted_for_days",
    "d",
    _follow("reverted_for_days"),
)
_number(
    "worsening_for_days",
    "How long symptoms have kept worsening since the procedure",
    "/follow_up/worsening_for_days",
    "d",
    _follow("worsening_for_days"),
)
_boolean(
    "symptoms_back_within_hours",
    "Pre-procedure symptoms returned within hours",
    "/follow_up/symptoms_back_within_hours",
    _follow("symptoms_back_within_hours"),
)
_boolean(
    "fever_or_urinary_symptoms",
    "Fever or urinary symptoms",
    "/follow_up/fever_or_urinary_symptoms",
    _follow("fever_or_urinary_symptoms"),
)
_number(
    "in_stent_stenosis_percent",
    "In-stent stenosis (diameter loss)",
    "/follow_up/in_stent_stenosis_percent",
    "%",
    _follow("in_stent_stenosis_percent"),
)
_boolean("stent_occluded", "Stent occluded", "/follow_up/stent_occluded", _follow("stent_occluded"))
_fact(
    "ccsvi_indication",
    FactType.BOOLEAN,
    "Venoplasty or stenting proposed or done for CCSVI in multiple sclerosis",
    ["/proposed_procedures", "/follow_up/indication"],
    _ccsvi,
)

_VILLALTA_ITEMS = (
    "pain",
    "cramps",
    "heaviness",
    "paraesthesia",
    "pruritus",
    "pretibial_oedema",
    "skin_induration",
    "hyperpigmentation",
    "redness",
    "venous_ectasia",
    "pain_on_calf_compression",
)


def _villalta_item(name: str) -> Derivation:
    return lambda case, _now: _attr(_attr(case.follow_up, "villalta"), name)


for _item in _VILLALTA_ITEMS:
    _number(
        f"villalta_{_item}",
        f"Villalta item: {_item.replace('_', ' ')} (0-3)",
        f"/follow_up/villalta/{_item}",
        "points",
        _villalta_item(_item),
    )
_boolean(
    "venous_ulcer",
    "Venous ulcer",
    "/follow_up/villalta/venous_ulcer",
    lambda c, n: _attr(_attr(c.follow_up, "villalta"), "venous_ulcer"),
)

# ---------------------------------------------------------------------- score facts


# The scores package computes these; they are declared here so the knowledge base is
# checked against one list. A test holds the two in step.
for _name, _score, _description, _settled_by in (
    (
        "wells_dvt_likely",
        "wells_dvt",
        "Wells DVT score (2003) of 2 or more: DVT likely",
        ("/exam/leg", "/risk_factors", "/exam/alternative_diagnosis_as_likely"),
    ),
    (
        "has_bled_high_risk",
        "has_bled",
        "HAS-BLED of 3 or more: high bleeding risk",
        (
            "/bleeding_risk",
            "/exam/systolic_bp_mmhg",
            "/exam/blood_pressure_normal",
            "/labs/creatinine",
            "/labs/creatinine_normal",
            "/patient/age_years",
        ),
    ),
    (
        "koopman_poor_outcome_likely",
        "koopman",
        "Koopman CVT score of 14 or more",
        ("/exam", "/imaging", "/risk_factors"),
    ),
    (
        "cvt_grading_scale_severe",
        "cvt_grading_scale",
        "CVT Grading Scale severe (8-13)",
        ("/exam", "/imaging", "/patient/sex"),
    ),
    (
        "villalta_pts",
        "villalta",
        "Villalta 5 or more, or a venous ulcer: post-thrombotic syndrome",
        ("/follow_up/villalta",),
    ),
    (
        "villalta_severe_pts",
        "villalta",
        "Villalta 15 or more, or a venous ulcer: severe PTS",
        ("/follow_up/villalta",),
    ),
):
    _fact(_name, FactType.BOOLEAN, _description, _settled_by, None, source=f"score:{_score}")


# ------------------------------------------------------------------------- access


@cache
def catalogue() -> dict[str, FactDefinition]:
    """Every fact, by name, in declaration order (complete once this module is imported)."""
    return {definition.name: definition for definition in _CATALOGUE}


def derive_facts(case: Case, now: datetime) -> dict[str, FactValue]:
    """Every case-derived fact for `case` at `now`; unknown facts map to None."""
    moment = case.as_of or now
    return {d.name: d.derive(case, moment) for d in _CATALOGUE if d.derive is not None}
