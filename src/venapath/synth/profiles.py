"""Archetypes of the synthetic cohort and the rates behind them, with where each rate came from.

Why a rate table with sources: a synthetic cohort is only useful for testing a venous pathway
engine if it looks like the patients the engine will meet, and only honest if every number
says whether it comes from the literature or was chosen. Figures are taken from the research
notes in /work/shared/research (dvt.md, cvt.md and their verification files), cited as
"dvt.md §4 [S16]" (file, section, source key there). `SYNTHETIC` marks a rate the notes give
no figure for: it is a synthetic-data choice, picked to be plausible, and says so.

The cohort mix is deliberately enriched. At population rates a cohort would hold almost no
venous thrombosis: cerebral venous thrombosis is 1.32 per 100,000 person-years (cvt.md §6
[Coutinho-2012-incidence]), i.e. about one patient in 75,000, and the notes give no population
DVT incidence at all. The mix therefore reads like a registry of a vascular/neurology service
whose catchment also holds many people without venous disease: 81% have none (plain
demographics, ordinary conditions and results), 19% carry one of the venous archetypes.

Rates used (value, then source):

| rate | value | source |
|---|---|---|
| cohort mix (all archetype weights) | see `MIX` | SYNTHETIC (enriched, see above) |
| iliofemoral share of proximal leg DVT | 391/692 = 56.5% | dvt.md §4 ATTRACT iliofemoral subgroup [S16, S17] (a trial population) |
| distal DVT extending to the proximal veins at 2 weeks | 12/212 = 6.3% | dvt.md §1 [S54] |
| stent placed after pharmacomechanical CDT | 28% | dvt.md §4 [S16c] |
| CDT/PCDT for phlegmasia cerulea dolens (when lysis allowed) | 90% | SYNTHETIC, following AHA 2011 Class I (dvt.md §6 [S9]) |
| IV unfractionated heparin first in phlegmasia | 100% | dvt.md §6 [S31] (eMedicine, secondary) |
| CVT patients who are women | 75% | cvt.md §6 [Alimohammadi-2022] (3:1, [Silvis-2016]) |
| CVT patients under 50 | 80% | cvt.md §6 [Alimohammadi-2022] |
| reproductive risk factor: puerperium / oral contraceptive / pregnancy | 44% / 33% / 23% | cvt.md §6 [VENOST-2020] |
| inherited thrombophilia in CVT | 30% (25-35%) | cvt.md §6 [SNIS-2018] |
| cortical vein involvement in CVT | 17% | cvt-verification.md (DynaMed ISCVT site frequencies) |
| median delay onset to CVT diagnosis | 7 days | cvt.md §6 [StatPearls] |
| oral anticoagulant after CVT: DOAC only / VKA only / both | 33.0% / 51.8% / 15.1% | cvt.md §4 ACTION-CVT [ACTION-pubmed] |
| switch from heparin to oral agent | day 5-15 | cvt.md §4 RE-SPECT CVT [RESPECT-pubmed] |
| endovascular therapy in CVT | 79/987 = 8% | cvt.md §10 [Siegler-2022] |
| intrasinus thrombolysis with CVT thrombectomy | 71% | cvt.md §10 [Siddiqui-2015] |
| re-intervention among CCSVI jugular venoplasties | 13.5% | dvt.md §8 [S46] |
| anticoagulation after venous stenting | first 6-12 months, LMWH first 2-6 weeks | dvt.md §8 [S34] (Delphi) |
| antiplatelets after venous sinus stenting | >= 3-6 months | dvt.md §8 [S41] |
| thrombocytopenia / anaemia cut-offs | platelets < 100, Hb < 9 g/dL | dvt.md §4 ATTRACT exclusions [S16b] |
| every other prevalence (conditions, risk factors, contraindications, agent choice, timing) | see constants | SYNTHETIC |

The number of CVTs after intracranial hypotension is also a choice: among patients with
spontaneous intracranial hypotension only 0.9% (5/563) had CVT (cvt.md §7 [Oien-2022]), so the
"intracranial hypotension without CVT" archetype is kept apart and the CVT-after-IH archetype
is enriched, like every venous archetype here.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import accumulate

from venapath.synth.resources import (
    CANCER_KEYS,
    FEMALE_ONLY_CANCERS,
    HOUR,
    MALE_ONLY_CANCERS,
    CodeBook,
    Concept,
    JsonDict,
    Lab,
    Moment,
    PatientRecord,
    days,
    moment_of,
    text_concept,
)

SYNTHETIC = "SYNTHETIC: no figure in /work/shared/research; a synthetic-data choice"


@dataclass(frozen=True)
class Rate:
    """A probability (or share) and the source it was taken from."""

    value: float
    source: str = SYNTHETIC


class Archetype(StrEnum):
    NO_THROMBOSIS = "no_thrombosis"
    LEG_DVT_SUSPECTED = "leg_dvt_suspected"
    LEG_DVT_DISTAL = "leg_dvt_distal"
    LEG_DVT_PROXIMAL = "leg_dvt_proximal"
    LEG_DVT_ILIOFEMORAL = "leg_dvt_iliofemoral"
    PHLEGMASIA = "phlegmasia_cerulea_dolens"
    CVT = "cvt"
    CVT_INTRACRANIAL_HYPOTENSION = "cvt_intracranial_hypotension"
    INTRACRANIAL_HYPOTENSION = "intracranial_hypotension"
    VENOPLASTY_FOLLOW_UP = "venoplasty_follow_up"
    VENOUS_STENT_FOLLOW_UP = "venous_stent_follow_up"


# ----------------------------------------------------------------------- the mix

_LEG_DVT = 0.09  # all confirmed leg DVT in the cohort: SYNTHETIC
_DISTAL_SHARE = 0.30  # isolated distal share of leg DVT: SYNTHETIC
_PHLEGMASIA = 0.002  # SYNTHETIC (rare; taken out of the iliofemoral share)
ILIOFEMORAL_OF_PROXIMAL = Rate(391 / 692, "dvt.md §4 ATTRACT iliofemoral subgroup [S16, S17]")
_PROXIMAL = _LEG_DVT * (1 - _DISTAL_SHARE)
_CVT_ALL = 0.03  # SYNTHETIC (enriched; population incidence 1.32/100,000/yr, cvt.md §6)
_CVT_AFTER_IH_SHARE = 0.10  # share of CVT after intracranial hypotension: SYNTHETIC

MIX: dict[Archetype, Rate] = {
    Archetype.NO_THROMBOSIS: Rate(0.81),
    Archetype.LEG_DVT_SUSPECTED: Rate(0.02),
    Archetype.LEG_DVT_DISTAL: Rate(_LEG_DVT * _DISTAL_SHARE),
    Archetype.LEG_DVT_PROXIMAL: Rate(
        _PROXIMAL * (1 - ILIOFEMORAL_OF_PROXIMAL.value),
        f"{SYNTHETIC}; split from iliofemoral by {ILIOFEMORAL_OF_PROXIMAL.source}",
    ),
    Archetype.LEG_DVT_ILIOFEMORAL: Rate(
        _PROXIMAL * ILIOFEMORAL_OF_PROXIMAL.value - _PHLEGMASIA,
        f"{SYNTHETIC}; split by {ILIOFEMORAL_OF_PROXIMAL.source}",
    ),
    Archetype.PHLEGMASIA: Rate(_PHLEGMASIA),
    Archetype.CVT: Rate(_CVT_ALL * (1 - _CVT_AFTER_IH_SHARE)),
    Archetype.CVT_INTRACRANIAL_HYPOTENSION: Rate(_CVT_ALL * _CVT_AFTER_IH_SHARE),
    Archetype.INTRACRANIAL_HYPOTENSION: Rate(0.01),
    Archetype.VENOPLASTY_FOLLOW_UP: Rate(0.015),
    Archetype.VENOUS_STENT_FOLLOW_UP: Rate(0.025),
}
"""Share of the cohort in each archetype (sums to 1)."""

EXPECTED_PATHWAYS: dict[Archetype, frozenset[str]] = {
    Archetype.NO_THROMBOSIS: frozenset(),
    Archetype.LEG_DVT_SUSPECTED: frozenset({"leg_dvt_suspected"}),
    Archetype.LEG_DVT_DISTAL: frozenset({"leg_dvt"}),
    Archetype.LEG_DVT_PROXIMAL: frozenset({"leg_dvt"}),
    Archetype.LEG_DVT_ILIOFEMORAL: frozenset({"leg_dvt"}),
    # The mapping has no value set for phlegmasia, so limb_threatening_dvt stays "possible".
    Archetype.PHLEGMASIA: frozenset({"leg_dvt"}),
    Archetype.CVT: frozenset({"cvt_acute"}),
    Archetype.CVT_INTRACRANIAL_HYPOTENSION: frozenset({"cvt_acute", "intracranial_hypotension"}),
    Archetype.INTRACRANIAL_HYPOTENSION: frozenset({"intracranial_hypotension"}),
    Archetype.VENOPLASTY_FOLLOW_UP: frozenset({"venoplasty_follow_up"}),
    Archetype.VENOUS_STENT_FOLLOW_UP: frozenset({"venous_stent_follow_up"}),
}
"""Pathways each archetype is built to reach with status `applies` (others may also apply)."""

_ARCHETYPES = tuple(MIX)
_CUMULATIVE = tuple(accumulate(rate.value for rate in MIX.values()))

# ------------------------------------------------------------------ rates by topic

# Leg DVT
DISTAL_EXTENSION_2_WEEKS = Rate(12 / 212, "dvt.md §1 [S54]")
STENT_AFTER_PCDT = Rate(0.28, "dvt.md §4 [S16c]")
PCDT_ILIOFEMORAL = Rate(0.15)  # SYNTHETIC; selected patients only (CHEST 2021, SIR 2023)
PCDT_WITH_THROMBECTOMY = Rate(0.6)  # pharmacomechanical vs drug-only CDT: SYNTHETIC
PHLEGMASIA_CDT = Rate(0.9, f"{SYNTHETIC}, following AHA 2011 Class I (dvt.md §6 [S9])")
DISTAL_ANTICOAGULATED = Rate(0.6)  # rest: serial imaging (CHEST 2021, dvt.md §1): SYNTHETIC
DVT_ACTIVE_CANCER = Rate(0.15)
DVT_PREVIOUS_VTE = Rate(0.12)
DVT_RECENT_SURGERY = Rate(0.10)  # within 12 weeks, the Wells window (dvt.md §5 [S26])
DVT_SNOMED_CODED = Rate(0.3)  # problem lists coded in SNOMED CT rather than ICD-10-CM
DVT_BILATERAL = Rate(0.02)
DVT_SUSPECTED_D_DIMER_POSITIVE = Rate(0.5)
DVT_SUSPECTED_EMPIRIC_LMWH = Rate(0.3)

# Imaging reports (DiagnosticReport): a duplex ultrasound behind each DVT finding
DUPLEX_REPORT_CODED = Rate(0.5)  # conclusion coded (the rest: narrative only): SYNTHETIC
REPORT_PRELIMINARY = Rate(0.1)  # not yet finalised at export time: SYNTHETIC
EXTENSION_ON_PROBLEM_LIST = Rate(0.5)  # distal extension also charted as a Condition: SYNTHETIC
PROXIMAL_EXTENSION_ON_ANTICOAGULATION = Rate(0.05)  # follow-up scan finds iliac thrombus: SYNTHETIC

# Cerebral venous thrombosis
CVT_FEMALE = Rate(0.75, "cvt.md §6 [Alimohammadi-2022]; 3:1 in [Silvis-2016]")
CVT_UNDER_50 = Rate(0.80, "cvt.md §6 [Alimohammadi-2022]")
CVT_REPRODUCTIVE_RISK = Rate(0.5)  # of women 16-45: SYNTHETIC
CVT_REPRODUCTIVE_KIND = (
    ("puerperium", 0.44),
    ("oral_contraceptive", 0.33),
    ("pregnancy", 0.23),
)  # cvt.md §6 [VENOST-2020]
CVT_THROMBOPHILIA = Rate(0.30, "cvt.md §6 [SNIS-2018] (25-35%)")
CVT_CORTICAL_VEIN = Rate(0.17, "cvt-verification.md, DynaMed ISCVT site frequencies")
CVT_DIAGNOSIS_DELAY_MEDIAN_DAYS = Rate(7.0, "cvt.md §6 [StatPearls]")
CVT_ORAL_AGENT = (("doac", 0.330), ("vka", 0.518), ("vka_then_doac", 0.151))
# cvt.md §4 ACTION-CVT [ACTION-pubmed]
CVT_SWITCH_DAYS = (5, 15)  # cvt.md §4 RE-SPECT CVT [RESPECT-pubmed]
CVT_EVT = Rate(79 / 987, "cvt.md §10 [Siegler-2022]")
CVT_EVT_WITH_THROMBOLYSIS = Rate(0.71, "cvt.md §10 [Siddiqui-2015]")
CVT_CRANIECTOMY = Rate(0.015)
CVT_ANTIPHOSPHOLIPID = Rate(0.03)
CVT_ACTIVE_CANCER = Rate(0.05)
CVT_LMWH_FIRST = Rate(0.85)  # ESO 2017 prefers LMWH over UFH (cvt.md §2); the share is SYNTHETIC
CVT_IH_EVT = Rate(0.05)  # case reports only (cvt.md §7 [Kwon-2020-JNN, Kang-2024-HPR])

# Follow-up after venous procedures
CCSVI_REINTERVENTION = Rate(0.135, "dvt.md §8 [S46]")
STENT_ANTICOAGULATION_MONTHS = (6, 12)  # dvt.md §8 [S34]
STENT_LMWH_WEEKS = (2, 6)  # dvt.md §8 [S34]
SINUS_STENT_ANTIPLATELET_MONTHS = (3, 6)  # dvt.md §8 [S41]

# Contraindications and bleeding risk (ATTRACT and TO-ACT cut-offs, prevalences SYNTHETIC)
THROMBOCYTOPENIA = Rate(0.03)
ANAEMIA = Rate(0.04)
SEVERE_RENAL_IMPAIRMENT = Rate(0.04)
ACTIVE_BLEEDING = Rate(0.02)
STROKE_HISTORY = Rate(0.03)
CHRONIC_LIVER_DISEASE = Rate(0.02)
BLEEDING_DISORDER = Rate(0.005)
THROMBOLYTIC_ALLERGY = Rate(0.005)
ANTIPLATELET_OR_NSAID = Rate(0.08)

# Background of everyone: ordinary conditions (crude adult prevalence, scaled by age where
# marked), results and risk flags. All SYNTHETIC.
ORDINARY_CONDITIONS: tuple[tuple[str, float, bool], ...] = (
    ("hypertension", 0.30, True),
    ("type2_diabetes", 0.10, True),
    ("hyperlipidaemia", 0.22, True),
    ("asthma", 0.08, False),
    ("depression", 0.08, False),
    ("hypothyroidism", 0.05, False),
    ("gord", 0.10, False),
    ("knee_osteoarthritis", 0.10, True),
    ("obesity", 0.15, False),
    ("copd", 0.05, True),
    ("atrial_fibrillation", 0.03, True),
)
VITALS_RECORDED = Rate(0.7)
ROUTINE_LABS = Rate(0.55)
LIPIDS_AND_GLUCOSE = Rate(0.3)
HEALTHY_ACTIVE_CANCER = Rate(0.025)
HEALTHY_PREVIOUS_VTE = Rate(0.015)
HEALTHY_MULTIPLE_SCLEROSIS = Rate(0.002)
SI_UNITS = Rate(0.4)  # laboratories reporting SI rather than US conventional units

_FEMALE_NAMES = ("Ana", "Maria", "Sofia", "Emma", "Olivia", "Nadia", "Ingrid", "Aiko", "Leila")
_MALE_NAMES = ("Jonas", "Ravi", "Tomas", "Liam", "Noah", "Omar", "Pedro", "Kenji", "Lukas")
_FAMILY_NAMES = (
    "Silva",
    "Novak",
    "Jensen",
    "Okafor",
    "Haddad",
    "Kowalski",
    "Moreau",
    "Tanaka",
    "Berg",
    "Costa",
    "Nguyen",
    "Schmidt",
)


# --------------------------------------------------------------------- generation


@dataclass(frozen=True)
class SyntheticPatient:
    """A generated patient: the archetype it was built from and its resources, in order."""

    index: int
    patient_id: str
    archetype: Archetype
    lines: list[tuple[str, str]]
    """(resource type, NDJSON line) pairs, in the order they were generated."""

    def resources(self) -> list[JsonDict]:
        """The resources parsed back into dicts (for tests and one-patient use)."""
        return [json.loads(line) for _, line in self.lines]


def patient_rng(seed: int, index: int) -> random.Random:
    """The patient's own generator: any patient can be regenerated without the others.

    A string seed is hashed (SHA-512) by `random`, so (1, 23) and (12, 3) do not collide,
    and it does not depend on PYTHONHASHSEED.
    """
    return random.Random(f"venapath-synth:{seed}:{index}")


def choose_archetype(rng: random.Random) -> Archetype:
    position = bisect_right(_CUMULATIVE, rng.random() * _CUMULATIVE[-1])
    return _ARCHETYPES[min(position, len(_ARCHETYPES) - 1)]


def generate_patient(
    book: CodeBook,
    seed: int,
    index: int,
    as_of: datetime,
    archetype: Archetype | None = None,
) -> SyntheticPatient:
    """Patient number `index` of the cohort of `seed` (or of a forced archetype, for tests)."""
    rng = patient_rng(seed, index)
    chosen = choose_archetype(rng)
    if archetype is not None:
        chosen = archetype
    bits = rng.getrandbits(128)
    patient_id = _uuid4(bits)
    now = moment_of(as_of)
    record = PatientRecord(book, patient_id, now, si_units=rng.random() < SI_UNITS.value)
    today = as_of.astimezone(UTC).date()
    _BUILDERS[chosen](_Context(rng, record, book, chosen, f"{seed}:{index}", today))
    return SyntheticPatient(index, patient_id, chosen, record.lines)


def _uuid4(bits: int) -> str:
    bits = (bits & ~(0xF << 76)) | (0x4 << 76)  # version 4
    bits = (bits & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass
class _Context:
    rng: random.Random
    record: PatientRecord
    book: CodeBook
    archetype: Archetype
    index_value: str
    today: date
    sex: str = "female"
    age: int = 50

    def chance(self, rate: Rate) -> bool:
        return self.rng.random() < rate.value

    def ago(self, days_before: float, minutes: int = 0) -> Moment:
        return self.record.ago(days_before, minutes)

    def minutes(self) -> int:
        return self.rng.randrange(0, 24 * 60)

    def weighted(self, options: tuple[tuple[str, float], ...]) -> str:
        total = sum(weight for _, weight in options)
        point = self.rng.random() * total
        for name, weight in options:
            point -= weight
            if point < 0:
                return name
        return options[-1][0]


# ------------------------------------------------------------------- demographics


def _demographics(ctx: _Context, sex: str, age: int) -> None:
    rng = ctx.rng
    ctx.sex, ctx.age = sex, age
    birth = _years_before(ctx.today, age) - timedelta(days=rng.randrange(0, 365))
    given = rng.choice(_FEMALE_NAMES if sex == "female" else _MALE_NAMES)
    ctx.record.patient(
        gender=sex,
        birth_date=birth,
        archetype=ctx.archetype.value,
        index_value=ctx.index_value,
        name=(given, rng.choice(_FAMILY_NAMES)),
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _adult_age(ctx: _Context, low: int, high: int, mode: int) -> int:
    return round(ctx.rng.triangular(low, high, mode))


# ---------------------------------------------------------------------- background


def _background(ctx: _Context, *, risk_flags: bool) -> set[str]:
    """Ordinary conditions, vitals and routine results; returns the condition keys."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    factor = min(2.0, max(0.2, ctx.age / 55))
    present: set[str] = set()
    for key, prevalence, by_age in ORDINARY_CONDITIONS:
        if rng.random() < prevalence * (factor if by_age else 1.0):
            present.add(key)
            onset = ctx.ago(rng.uniform(200, 3650))
            record.condition(book.outside(key), recorded=onset, onset=onset, problem_list=True)
    if "hypertension" in present and rng.random() < 0.6:
        record.medication(book.outside("lisinopril"), ctx.ago(rng.uniform(30, 720)))
    if "atrial_fibrillation" in present and rng.random() < 0.6:
        agent = ("anticoagulant-apixaban-rxnorm", "1364445")
        if rng.random() < 0.3:
            agent = ("anticoagulant-vitamin-k-antagonist-rxnorm", "855332")
        record.medication(book.code(*agent), ctx.ago(rng.uniform(60, 1500)))
    if ctx.chance(VITALS_RECORDED):
        when = ctx.ago(rng.uniform(20, 700), ctx.minutes())
        weight = rng.gauss(82 if ctx.sex == "male" else 70, 14)
        if "obesity" in present:
            weight += 25
        record.lab(Lab.WEIGHT, _clip(weight, 40, 200), when)
        systolic = rng.gauss(150 if "hypertension" in present else 124, 12)
        record.blood_pressure(round(_clip(systolic, 90, 210)), round(rng.uniform(62, 92)), when)
        if rng.random() < 0.5:
            record.measurement(
                book.outside("heart_rate"), rng.randrange(54, 96), "/min", when, laboratory=False
            )
        if rng.random() < 0.3:
            height = rng.gauss(176 if ctx.sex == "male" else 163, 7)
            record.measurement(
                book.outside("body_height"), round(height, 1), "cm", when, laboratory=False
            )
    if ctx.chance(ROUTINE_LABS):
        _routine_labs(ctx, ctx.ago(rng.uniform(30, 700), ctx.minutes()), present)
    if risk_flags:
        _healthy_flags(ctx)
    return present


def _routine_labs(ctx: _Context, when: Moment, present: set[str]) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    record.lab(Lab.PLATELETS, _clip(rng.gauss(255, 55), 150, 450), when)
    record.lab(Lab.HAEMOGLOBIN, _normal_haemoglobin(ctx), when)
    creatinine = _normal_creatinine(ctx)
    record.lab(Lab.CREATININE, creatinine, when)
    record.lab(Lab.EGFR, egfr_ckd_epi_2021(creatinine, ctx.age, ctx.sex == "female"), when)
    if "type2_diabetes" in present:
        record.measurement(
            book.outside("hba1c"), round(rng.uniform(6.0, 9.5), 1), "%", when, laboratory=True
        )
    if ctx.chance(LIPIDS_AND_GLUCOSE):
        record.measurement(
            book.outside("glucose"), rng.randrange(72, 125), "mg/dL", when, laboratory=True
        )
        record.measurement(
            book.outside("cholesterol"), rng.randrange(140, 260), "mg/dL", when, laboratory=True
        )


def _healthy_flags(ctx: _Context) -> None:
    """Risk factors and bleeding risks that matter to the rules but open no pathway."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    if ctx.chance(HEALTHY_ACTIVE_CANCER):
        _cancer(ctx, ctx.ago(rng.uniform(30, 700)))
    if ctx.chance(HEALTHY_PREVIOUS_VTE):
        when = ctx.ago(rng.uniform(400, 4000))
        record.condition(
            book.code("previous-vte-icd10cm", "Z86.718"), recorded=when, problem_list=True
        )
    if ctx.chance(HEALTHY_MULTIPLE_SCLEROSIS):
        _multiple_sclerosis(ctx)
    if ctx.chance(STROKE_HISTORY):
        when = ctx.ago(rng.uniform(200, 3000))
        record.condition(
            book.code("stroke-history-icd10cm", "Z86.73"), recorded=when, problem_list=True
        )
    if ctx.chance(CHRONIC_LIVER_DISEASE):
        _liver_disease(ctx)
    if ctx.chance(ANTIPLATELET_OR_NSAID):
        _antiplatelet_or_nsaid(ctx, ctx.ago(rng.uniform(5, 400)))


def _normal_haemoglobin(ctx: _Context) -> float:
    mean = 15.0 if ctx.sex == "male" else 13.5
    return _clip(ctx.rng.gauss(mean, 1.1), 10.5, 18.5)


def _normal_creatinine(ctx: _Context) -> float:
    mean = 0.98 if ctx.sex == "male" else 0.78
    return _clip(ctx.rng.gauss(mean, 0.15), 0.45, 1.5)


def egfr_ckd_epi_2021(creatinine_mg_dl: float, age: int, female: bool) -> float:
    """eGFR (mL/min/1.73 m²) by the race-free CKD-EPI 2021 creatinine equation.

    Used so that a synthetic eGFR agrees with the creatinine beside it, as it would in a
    laboratory report; it is not used for any clinical purpose.
    """
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_dl / kappa
    value = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age
    return float(round(value * (1.012 if female else 1.0)))


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


# --------------------------------------------------------- shared clinical pieces


def _cancer(ctx: _Context, when: Moment) -> None:
    keys = [
        key
        for key in CANCER_KEYS
        if not (ctx.sex == "male" and key in FEMALE_ONLY_CANCERS)
        and not (ctx.sex == "female" and key in MALE_ONLY_CANCERS)
    ]
    concept = ctx.book.outside(ctx.rng.choice(keys))
    ctx.record.condition(concept, recorded=when, onset=when, problem_list=True)


def _multiple_sclerosis(ctx: _Context) -> None:
    when = ctx.ago(ctx.rng.uniform(400, 5000))
    key = "ms_relapsing_remitting" if ctx.rng.random() < 0.8 else "ms_unspecified"
    ctx.record.condition(ctx.book.outside(key), recorded=when, onset=when, problem_list=True)


def _liver_disease(ctx: _Context) -> None:
    when = ctx.ago(ctx.rng.uniform(200, 3000))
    code = "K70.30" if ctx.rng.random() < 0.4 else "K74.60"
    concept = ctx.book.code("chronic-liver-disease-icd10cm", code)
    ctx.record.condition(concept, recorded=when, problem_list=True)


def _antiplatelet_or_nsaid(ctx: _Context, when: Moment) -> None:
    choice = ctx.rng.random()
    if choice < 0.5:
        concept = ctx.book.code("antiplatelet-rxnorm-vsac", "243670")  # aspirin 81 MG
    elif choice < 0.65:
        concept = ctx.book.code("antiplatelet-rxnorm-vsac", "309362")  # clopidogrel 75 MG
    elif choice < 0.85:
        concept = ctx.book.code("nsaid-and-aspirin-rxnorm-pddi", "197805")  # ibuprofen 400 MG
    else:
        concept = ctx.book.code("nsaid-and-aspirin-rxnorm-pddi", "198014")  # naproxen 500 MG
    ctx.record.medication(concept, when)


@dataclass
class _Risks:
    """Contraindications and bleeding risks drawn for an acute venous patient."""

    thrombocytopenia: bool = False
    anaemia: bool = False
    renal: bool = False
    active_bleeding: bool = False
    liver: bool = False
    bleeding_disorder: bool = False
    allergy: bool = False

    @property
    def blocks_lysis(self) -> bool:
        """Any contraindication the generator lets rule out thrombolysis (dvt.md §5)."""
        return (
            self.thrombocytopenia
            or self.anaemia
            or self.renal
            or self.active_bleeding
            or self.liver
            or self.bleeding_disorder
            or self.allergy
        )


def _contraindications(ctx: _Context, when: Moment) -> _Risks:
    """Draw and record bleeding risks; ATTRACT/TO-ACT give the cut-offs, not the rates."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    risks = _Risks(
        thrombocytopenia=ctx.chance(THROMBOCYTOPENIA),
        anaemia=ctx.chance(ANAEMIA),
        renal=ctx.chance(SEVERE_RENAL_IMPAIRMENT),
        active_bleeding=ctx.chance(ACTIVE_BLEEDING),
        liver=ctx.chance(CHRONIC_LIVER_DISEASE),
        bleeding_disorder=ctx.chance(BLEEDING_DISORDER),
        allergy=ctx.chance(THROMBOLYTIC_ALLERGY),
    )
    if risks.thrombocytopenia:
        record.condition(book.outside("thrombocytopenia"), recorded=when, onset=when)
    if risks.anaemia:
        record.condition(book.outside("anaemia"), recorded=when, onset=when)
    if risks.renal:
        earlier = ctx.ago(rng.uniform(300, 2000))
        record.condition(book.outside("ckd_stage_4"), recorded=earlier, problem_list=True)
    if risks.active_bleeding:
        # Read as active internal bleeding (value set active-internal-bleeding-icd10cm).
        concept = book.code("active-internal-bleeding-icd10cm", "K92.2")
        record.condition(concept, recorded=when, onset=when)
    if risks.liver:
        _liver_disease(ctx)
    if risks.bleeding_disorder:
        concept = book.code("bleeding-disorder-icd10cm", "D68.01")
        record.condition(concept, recorded=ctx.ago(rng.uniform(1000, 9000)), problem_list=True)
    if risks.allergy:
        concept = book.pick(rng, "thrombolytic-allergy-snomed")
        record.allergy(concept, ctx.ago(rng.uniform(300, 5000)))
    if ctx.chance(STROKE_HISTORY):
        concept = book.code("stroke-history-icd10cm", "Z86.73")
        record.condition(concept, recorded=ctx.ago(rng.uniform(200, 3000)), problem_list=True)
    if ctx.chance(ANTIPLATELET_OR_NSAID):
        _antiplatelet_or_nsaid(ctx, ctx.ago(rng.uniform(10, 400)))
    return risks


def _acute_labs(
    ctx: _Context, when: Moment, risks: _Risks, *, d_dimer_positive: bool = True
) -> None:
    """The results drawn when a venous thrombosis is worked up."""
    rng, record = ctx.rng, ctx.record
    platelets = rng.uniform(25, 95) if risks.thrombocytopenia else rng.gauss(250, 60)
    record.lab(Lab.PLATELETS, _clip(platelets, 10, 500), when)
    haemoglobin = rng.uniform(6.5, 8.8) if risks.anaemia else _normal_haemoglobin(ctx)
    record.lab(Lab.HAEMOGLOBIN, haemoglobin, when)
    creatinine = rng.uniform(2.4, 5.0) if risks.renal else _normal_creatinine(ctx)
    record.lab(Lab.CREATININE, creatinine, when)
    record.lab(Lab.EGFR, egfr_ckd_epi_2021(creatinine, ctx.age, ctx.sex == "female"), when)
    inr = rng.uniform(1.5, 2.2) if risks.liver else rng.uniform(0.9, 1.15)
    record.lab(Lab.INR, inr, when)
    basis = Lab.D_DIMER_FEU if rng.random() < 0.7 else Lab.D_DIMER_DDU
    scale = 1.0 if basis is Lab.D_DIMER_FEU else 0.5
    if d_dimer_positive:
        d_dimer = math.exp(rng.uniform(math.log(650), math.log(12000)))
    else:
        d_dimer = rng.uniform(120, 460)
    record.lab(basis, d_dimer * scale, when)
    if rng.random() < 0.8:
        systolic = round(_clip(rng.gauss(132, 16), 95, 200))
        record.blood_pressure(systolic, round(rng.uniform(64, 96)), when)
    if rng.random() < 0.6:
        weight = rng.gauss(84 if ctx.sex == "male" else 72, 15)
        record.lab(Lab.WEIGHT, _clip(weight, 40, 200), when)


_DOACS = (("apixaban", 0.45), ("rivaroxaban", 0.35), ("edoxaban", 0.10), ("dabigatran", 0.10))
# SYNTHETIC shares; DOACs preferred over VKA (CHEST 2021, dvt.md §1)
_DOAC_CODES = {
    "apixaban": ("anticoagulant-apixaban-rxnorm", "1364445"),
    "rivaroxaban": ("anticoagulant-rivaroxaban-rxnorm", "1232082"),
    "edoxaban": ("anticoagulant-edoxaban-rxnorm", "1599555"),
    "dabigatran": ("anticoagulant-dabigatran-rxnorm", "1037045"),
}


def _on_anticoagulation(ctx: _Context, start: Moment, *, cancer: bool, risks: _Risks) -> None:
    """Start anticoagulation for a leg DVT the way a mix of services would."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    draw = rng.random()
    if risks.renal:  # DOACs avoided with severe renal impairment (dvt.md rules table, rule 6)
        record.medication(
            book.code("anticoagulant-lmwh-rxnorm", "854241"), start, status="completed"
        )
        record.medication(book.code("anticoagulant-vitamin-k-antagonist-rxnorm", "855332"), start)
        return
    if cancer and draw < 0.5:
        record.medication(book.code("anticoagulant-lmwh-rxnorm", "978746"), start)  # dalteparin
        return
    if draw < 0.78:
        agent = ctx.weighted(_DOACS)
        value_set, code = _DOAC_CODES[agent]
        if agent in ("edoxaban", "dabigatran"):  # edoxaban and dabigatran follow heparin
            lead_in = start + days(rng.uniform(5, 10))
            lmwh = book.code("anticoagulant-lmwh-rxnorm", "854241")
            if lead_in > record.now:  # still in the heparin lead-in at export time
                record.medication(lmwh, start)
                return
            record.medication(lmwh, start, status="completed")
            record.medication(book.code(value_set, code), lead_in)
        else:
            record.medication(book.code(value_set, code), start)
    elif draw < 0.9:
        record.medication(
            book.code("anticoagulant-lmwh-rxnorm", "854241"), start, status="completed"
        )
        record.medication(book.code("anticoagulant-vitamin-k-antagonist-rxnorm", "855332"), start)
    else:
        record.medication(book.code("anticoagulant-lmwh-rxnorm", "854248"), start)


# ------------------------------------------------------------------ archetypes


def _no_thrombosis(ctx: _Context) -> None:
    sex = "female" if ctx.rng.random() < 0.51 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 18, 95, 45))
    _background(ctx, risk_flags=True)


_LEG_SEGMENTS_DISTAL = (
    "leg-dvt-acute-tibial-vein-icd10cm",
    "leg-dvt-acute-peroneal-vein-icd10cm",
    "leg-dvt-acute-calf-muscular-vein-icd10cm",
    "leg-dvt-acute-unspecified-distal-deep-veins-icd10cm",
)
_LEG_SEGMENTS_PROXIMAL = (
    ("leg-dvt-acute-femoral-vein-icd10cm", "leg-dvt-acute-femoral-snomed"),
    ("leg-dvt-acute-popliteal-vein-icd10cm", "leg-dvt-acute-popliteal-snomed"),
    ("leg-dvt-acute-unspecified-proximal-deep-veins-icd10cm", None),
)


def _leg_side(ctx: _Context) -> str:
    if ctx.chance(DVT_BILATERAL):
        return "bilateral"
    return "left" if ctx.rng.random() < 0.5 else "right"


def _dvt_patient(ctx: _Context) -> tuple[Moment, Moment, bool, _Risks]:
    """Demographics, background, risk factors, contraindications and the work-up time.

    Returns (onset, diagnosis, active cancer, risks).
    """
    rng, record, book = ctx.rng, ctx.record, ctx.book
    sex = "female" if rng.random() < 0.5 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 18, 95, 64))
    _background(ctx, risk_flags=False)
    days_ago = rng.uniform(0.2, 14) if rng.random() < 0.75 else rng.uniform(14, 90)
    onset = ctx.ago(days_ago + rng.uniform(0.5, 5), ctx.minutes())
    diagnosis = ctx.ago(days_ago, ctx.minutes())
    cancer = ctx.chance(DVT_ACTIVE_CANCER)
    if cancer:
        _cancer(ctx, diagnosis - days(rng.uniform(20, 170)))
    if ctx.chance(DVT_PREVIOUS_VTE):
        earlier = diagnosis - days(rng.uniform(400, 4000))
        code = "Z86.718" if rng.random() < 0.8 else "Z86.711"
        record.condition(
            book.code("previous-vte-icd10cm", code), recorded=earlier, problem_list=True
        )
    if ctx.chance(DVT_RECENT_SURGERY):
        # Recent surgery has no value set either: an unmapped Procedure, as EHRs send it.
        key = "total_knee_replacement" if rng.random() < 0.5 else "total_hip_replacement"
        record.procedure(book.outside(key), onset - days(rng.uniform(7, 84)))
    risks = _contraindications(ctx, diagnosis)
    _acute_labs(ctx, diagnosis, risks)
    return onset, diagnosis, cancer, risks


def _dvt_condition(
    ctx: _Context, options: tuple[str, str | None], side: str, onset: Moment, when: Moment
) -> None:
    icd, snomed = options
    value_set = snomed if snomed is not None and ctx.chance(DVT_SNOMED_CODED) else icd
    concept = ctx.book.pick(ctx.rng, value_set, side)
    ctx.record.condition(concept, recorded=when, onset=onset)
    _duplex_report(ctx, concept, when)


def _duplex_report(ctx: _Context, concept: Concept, imaged: Moment) -> None:
    """The diagnostic duplex ultrasound behind a DVT finding: its conclusion coded with the
    finding's code or narrative only; now and then not yet final."""
    coded = ctx.chance(DUPLEX_REPORT_CODED)
    status = "preliminary" if ctx.chance(REPORT_PRELIMINARY) else "final"
    ctx.record.imaging_report([concept] if coded else [], imaged, status=status)


def _extension_on_treatment(ctx: _Context, side: str, diagnosis: Moment, risks: _Risks) -> None:
    """A follow-up duplex 3-10 days into anticoagulation that finds thrombus in the iliac
    vein of the same leg: propagation despite anticoagulation, in the report alone."""
    if risks.active_bleeding or not ctx.chance(PROXIMAL_EXTENSION_ON_ANTICOAGULATION):
        return
    imaged = diagnosis + days(ctx.rng.uniform(3, 10))
    if imaged > ctx.record.now:
        return
    iliac = ctx.book.pick(ctx.rng, "leg-dvt-acute-iliac-snomed", side)
    ctx.record.imaging_report([iliac], imaged)


def _anticoagulate_unless_bleeding(
    ctx: _Context, start: Moment, cancer: bool, risks: _Risks
) -> None:
    if risks.active_bleeding:
        if ctx.rng.random() < 0.5:  # no anticoagulation possible: a filter (dvt.md §1)
            concept = ctx.book.code("ivc-filter-snomed", "397913009")
            ctx.record.procedure(concept, start + round(ctx.rng.uniform(4, 48) * HOUR))
        return
    _on_anticoagulation(ctx, start, cancer=cancer, risks=risks)


def _leg_dvt_distal(ctx: _Context) -> None:
    onset, diagnosis, cancer, risks = _dvt_patient(ctx)
    side = _leg_side(ctx)
    value_set = ctx.rng.choice(_LEG_SEGMENTS_DISTAL)
    calf = ctx.book.pick(ctx.rng, value_set, side)
    ctx.record.condition(calf, recorded=diagnosis, onset=onset)
    _duplex_report(ctx, calf, diagnosis)
    anticoagulated = ctx.chance(DISTAL_ANTICOAGULATED)
    if anticoagulated:
        _anticoagulate_unless_bleeding(ctx, diagnosis, cancer, risks)
    extended_at = diagnosis + days(14)
    if extended_at <= ctx.record.now and ctx.chance(DISTAL_EXTENSION_2_WEEKS):
        concept = ctx.book.pick(ctx.rng, "leg-dvt-acute-popliteal-vein-icd10cm", side)
        ctx.record.imaging_report([concept], extended_at)  # the serial scan that found it
        if ctx.chance(EXTENSION_ON_PROBLEM_LIST):
            ctx.record.condition(concept, recorded=extended_at, onset=extended_at - days(2))
        if not anticoagulated:
            _anticoagulate_unless_bleeding(ctx, extended_at, cancer, risks)


def _leg_dvt_proximal(ctx: _Context) -> None:
    onset, diagnosis, cancer, risks = _dvt_patient(ctx)
    side = _leg_side(ctx)
    _dvt_condition(ctx, ctx.rng.choice(_LEG_SEGMENTS_PROXIMAL), side, onset, diagnosis)
    _anticoagulate_unless_bleeding(ctx, diagnosis, cancer, risks)
    _extension_on_treatment(ctx, side, diagnosis, risks)


def _iliac_codes(ctx: _Context, side: str, onset: Moment, diagnosis: Moment) -> None:
    """Iliofemoral DVT: an iliac (or iliofemoral) code, often with the femoral segment too."""
    _dvt_condition(
        ctx,
        ("leg-dvt-acute-iliac-vein-icd10cm", "leg-dvt-acute-iliac-snomed"),
        side,
        onset,
        diagnosis,
    )
    if ctx.rng.random() < 0.6:
        concept = ctx.book.pick(ctx.rng, "leg-dvt-acute-femoral-vein-icd10cm", side)
        ctx.record.condition(concept, recorded=diagnosis, onset=onset)


def _catheter_treatment(
    ctx: _Context, side: str, when: Moment, *, lysis: bool, thrombectomy: bool
) -> None:
    """CDT and/or mechanical thrombectomy of the common iliac vein on the treated side."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    vein_side = side if side in ("left", "right") else "left"
    if lysis:
        record.procedure(
            book.pick(
                rng,
                "catheter-directed-thrombolysis-icd10pcs",
                vein_side,
                "Common Iliac Vein, Percutaneous Approach",
            ),
            when,
        )
        record.medication(book.code("thrombolytic-rxnorm", "1804799"), when, status="completed")
    if thrombectomy:
        record.procedure(
            book.pick(rng, "mechanical-thrombectomy-icd10pcs", vein_side, "Common Iliac Vein"),
            when,
        )


def _leg_dvt_iliofemoral(ctx: _Context) -> None:
    onset, diagnosis, cancer, risks = _dvt_patient(ctx)
    rng = ctx.rng
    side = _leg_side(ctx)
    _iliac_codes(ctx, side, onset, diagnosis)
    _anticoagulate_unless_bleeding(ctx, diagnosis, cancer, risks)
    eligible = (
        not risks.blocks_lysis
        and ctx.age <= 75
        and (diagnosis - onset) <= days(14)  # ATTRACT selection (dvt.md §4)
    )
    if not (eligible and ctx.chance(PCDT_ILIOFEMORAL)):
        return
    when = ctx.record.clamp(diagnosis + days(rng.uniform(0.5, 4)))
    _catheter_treatment(
        ctx, side, when, lysis=True, thrombectomy=ctx.chance(PCDT_WITH_THROMBECTOMY)
    )
    if ctx.chance(STENT_AFTER_PCDT):
        vein_side = side if side in ("left", "right") else "left"
        stent = ctx.book.pick(
            rng,
            "venous-stent-icd10pcs",
            vein_side,
            "Common Iliac Vein with Intraluminal Device, Percutaneous Approach",
        )
        ctx.record.procedure(stent, when + HOUR)


def _phlegmasia(ctx: _Context) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    sex = "female" if rng.random() < 0.5 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 25, 92, 62))
    _background(ctx, risk_flags=False)
    diagnosis = ctx.ago(rng.uniform(0.1, 3), ctx.minutes())
    onset = diagnosis - round(rng.uniform(6, 72) * HOUR)
    cancer = ctx.chance(DVT_ACTIVE_CANCER)
    if cancer:
        _cancer(ctx, diagnosis - days(rng.uniform(20, 170)))
    risks = _contraindications(ctx, diagnosis)
    _acute_labs(ctx, diagnosis, risks)
    side = "left" if rng.random() < 0.5 else "right"
    _iliac_codes(ctx, side, onset, diagnosis)
    # No code in the value sets says phlegmasia: a free-text problem, reported as unmapped.
    record.condition(
        text_concept(f"Phlegmasia cerulea dolens, {side} leg"), recorded=diagnosis, onset=onset
    )
    # IV unfractionated heparin at once (dvt.md §6 [S31]).
    record.medication(
        book.code("anticoagulant-unfractionated-heparin-rxnorm", "1658717"), diagnosis
    )
    when = record.clamp(diagnosis + round(rng.uniform(2, 20) * HOUR))
    if not risks.blocks_lysis and ctx.chance(PHLEGMASIA_CDT):
        _catheter_treatment(ctx, side, when, lysis=True, thrombectomy=rng.random() < 0.7)
    else:  # lysis contraindicated: mechanical-only removal (dvt.md rule 10)
        _catheter_treatment(ctx, side, when, lysis=False, thrombectomy=True)


def _leg_dvt_suspected(ctx: _Context) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    sex = "female" if rng.random() < 0.55 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 18, 95, 58))
    _background(ctx, risk_flags=True)
    when = ctx.ago(rng.uniform(0.05, 2), ctx.minutes())
    onset = when - days(rng.uniform(0.5, 6))
    side = "left" if rng.random() < 0.5 else "right"
    if rng.random() < 0.7:
        concept = book.pick(rng, "leg-dvt-acute-unspecified-deep-veins-icd10cm", side)
    else:
        concept = book.code("leg-dvt-snomed", "404223003")
    record.condition(concept, recorded=when, onset=onset, verification="provisional")
    _acute_labs(ctx, when, _Risks(), d_dimer_positive=ctx.chance(DVT_SUSPECTED_D_DIMER_POSITIVE))
    if ctx.chance(DVT_SUSPECTED_EMPIRIC_LMWH):
        record.medication(book.code("anticoagulant-lmwh-rxnorm", "854241"), when)


# ---------------------------------------------------------------------------- CVT


def _cvt_patient(ctx: _Context) -> tuple[Moment, Moment]:
    """Demographics by the CVT figures; returns (onset, diagnosis)."""
    rng = ctx.rng
    sex = "female" if ctx.chance(CVT_FEMALE) else "male"
    age = rng.randint(18, 49) if ctx.chance(CVT_UNDER_50) else rng.randint(50, 85)
    _demographics(ctx, sex, age)
    _background(ctx, risk_flags=False)
    diagnosis = ctx.ago(rng.uniform(0.1, 45), ctx.minutes())
    median = CVT_DIAGNOSIS_DELAY_MEDIAN_DAYS.value
    delay = min(60.0, rng.expovariate(math.log(2) / median))
    return diagnosis - days(delay), diagnosis


def _cvt_diagnosis(ctx: _Context, onset: Moment, diagnosis: Moment) -> bool:
    """Record the CVT code(s); returns True when the CVT is pregnancy-related."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    pregnant = False
    if ctx.sex == "female" and 16 <= ctx.age <= 45 and ctx.chance(CVT_REPRODUCTIVE_RISK):
        kind = ctx.weighted(CVT_REPRODUCTIVE_KIND)
        if kind == "puerperium":
            concept = book.code("cvt-icd10cm", "O87.3")
        elif kind == "pregnancy":
            pregnant = True
            concept = book.code("cvt-icd10cm", rng.choice(("O22.51", "O22.52", "O22.53")))
        else:  # oral contraceptive: the pill is not in any value set, the CVT code is
            concept = book.code("cvt-icd10cm", "I67.6")
    else:
        draw = rng.random()
        if draw < 0.7:
            concept = book.code("cvt-icd10cm", "I67.6")
        elif draw < 0.85:
            concept = book.code("cvt-snomed-resq", "192759008")
        elif draw < 0.95:
            concept = book.code("cvt-icd10cm", "I63.6")
        else:
            concept = book.code("cvt-icd10cm", "G08")
    record.condition(concept, recorded=diagnosis, onset=onset)
    if ctx.chance(CVT_CORTICAL_VEIN):
        cortical = book.code("cvt-cortical-vein-snomed-vsac", "433971000124107")
        record.condition(cortical, recorded=diagnosis, onset=onset)
    return pregnant


CVT_FALLEN_GCS = 12
"""A CVT patient with a GCS this low was alert (GCS 15) two days earlier in the chart, so the
screen and the per-patient mapping read a neurological deterioration from the course. Drawn
from values already chosen, so the random stream (and every other patient) is unchanged."""


def _cvt_risks_and_labs(ctx: _Context, diagnosis: Moment) -> _Risks:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    if ctx.chance(CVT_THROMBOPHILIA):
        key = ctx.weighted(
            (("factor_v_leiden", 0.5), ("prothrombin_mutation", 0.3), ("other_thrombophilia", 0.2))
        )
        earlier = diagnosis - days(rng.uniform(0, 2000))
        record.condition(book.outside(key), recorded=earlier, problem_list=True)
    if ctx.chance(CVT_ANTIPHOSPHOLIPID):
        concept = book.code("antiphospholipid-syndrome-icd10cm", "D68.61")
        record.condition(concept, recorded=diagnosis - days(rng.uniform(0, 900)))
    if ctx.chance(CVT_ACTIVE_CANCER):
        _cancer(ctx, diagnosis - days(rng.uniform(10, 170)))
    risks = _contraindications(ctx, diagnosis)
    _acute_labs(ctx, diagnosis, risks, d_dimer_positive=rng.random() < 0.9)
    gcs_draw = rng.random()
    if gcs_draw < 0.75:
        gcs = 15
    elif gcs_draw < 0.90:
        gcs = rng.randint(13, 14)
    elif gcs_draw < 0.96:
        gcs = rng.randint(9, 12)
    else:
        gcs = rng.randint(3, 8)
    measured = diagnosis + rng.randrange(5, 90)
    if gcs <= CVT_FALLEN_GCS:  # the chart shows the fall: alert two days before
        record.lab(Lab.GCS, 15, measured - days(2))
    record.lab(Lab.GCS, gcs, measured)
    return risks


def _cvt_anticoagulation(ctx: _Context, diagnosis: Moment, pregnant: bool) -> None:
    """Parenteral heparin first, then (after day 5-15) an oral agent as ACTION-CVT saw."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    if ctx.chance(CVT_LMWH_FIRST) or pregnant:
        parenteral = book.code("anticoagulant-lmwh-rxnorm", "854241")
    else:
        parenteral = book.code("anticoagulant-unfractionated-heparin-rxnorm", "1658717")
    switch = diagnosis + days(rng.uniform(*CVT_SWITCH_DAYS))
    if pregnant or switch > record.now:  # LMWH throughout pregnancy (cvt.md §1)
        record.medication(parenteral, diagnosis)
        return
    record.medication(parenteral, diagnosis, status="completed")
    kind = ctx.weighted(CVT_ORAL_AGENT)
    warfarin = book.code("anticoagulant-vitamin-k-antagonist-rxnorm", "855332")
    dabigatran = book.code("anticoagulant-dabigatran-rxnorm", "1037045")
    if kind == "doac":
        record.medication(dabigatran, switch)
    elif kind == "vka":
        record.medication(warfarin, switch)
    else:
        later = switch + days(rng.uniform(5, 30))
        if later <= record.now:
            record.medication(warfarin, switch, status="stopped")
            record.medication(dabigatran, later)
        else:
            record.medication(warfarin, switch)


def _cvt_endovascular(ctx: _Context, diagnosis: Moment, rate: Rate, risks: _Risks) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    if not ctx.chance(rate):
        return
    when = record.clamp(diagnosis + days(rng.uniform(0.5, 6)))
    if rng.random() < 0.5:
        record.procedure(book.code("mechanical-thrombectomy-icd10pcs", "05CL3ZZ"), when)
    else:
        record.procedure(book.code("mechanical-thrombectomy-snomed", "439625002"), when)
    if not risks.blocks_lysis and ctx.chance(CVT_EVT_WITH_THROMBOLYSIS):
        record.procedure(book.code("catheter-directed-thrombolysis-snomed", "438999008"), when)
        agent = "11055" if rng.random() < 0.5 else "8410"  # urokinase or alteplase
        record.medication(book.code("thrombolytic-rxnorm", agent), when, status="completed")


def _cvt(ctx: _Context) -> None:
    onset, diagnosis = _cvt_patient(ctx)
    pregnant = _cvt_diagnosis(ctx, onset, diagnosis)
    risks = _cvt_risks_and_labs(ctx, diagnosis)
    if not risks.active_bleeding:
        _cvt_anticoagulation(ctx, diagnosis, pregnant)
    _cvt_endovascular(ctx, diagnosis, CVT_EVT, risks)
    if ctx.chance(CVT_CRANIECTOMY):
        when = ctx.record.clamp(diagnosis + days(ctx.rng.uniform(0.2, 3)))
        concept = ctx.book.code("decompressive-craniectomy-snomed", "1288015005")
        ctx.record.procedure(concept, when)


_IH_KINDS = (
    ("spontaneous", 0.40),
    ("csf_leak", 0.20),
    ("dural_puncture", 0.25),
    ("epidural_puerperium", 0.15),
)  # SYNTHETIC shares of how the intracranial hypotension arose


def _intracranial_hypotension(ctx: _Context, before: Moment, *, need_diagnosis: bool) -> None:
    """Record the leak, spontaneous or after a dural puncture, some days before `before`."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    kinds = _IH_KINDS if ctx.sex == "female" and 18 <= ctx.age <= 45 else _IH_KINDS[:3]
    kind = ctx.weighted(kinds)
    start = before - days(rng.uniform(3, 30))
    if kind == "spontaneous":
        record.condition(
            book.code("intracranial-hypotension-icd10cm", "G96.811"), recorded=start, onset=start
        )
        if rng.random() < 0.5:
            leak = book.code("csf-leak-icd10cm", "G96.02")
            record.condition(leak, recorded=start + days(rng.uniform(1, 10)))
        return
    if kind == "csf_leak":
        code = rng.choice(("G96.00", "G96.01", "G96.02"))
        record.condition(book.code("csf-leak-icd10cm", code), recorded=start, onset=start)
    elif kind == "dural_puncture":
        puncture = start - days(rng.uniform(0.5, 3))
        record.procedure(book.code("lumbar-puncture-icd10pcs", "009U3ZX"), puncture)
        record.condition(
            book.code("dural-puncture-reaction-icd10cm", "G97.1"), recorded=start, onset=start
        )
    else:
        record.condition(
            book.code("dural-puncture-reaction-icd10cm", "O89.4"), recorded=start, onset=start
        )
    if need_diagnosis:  # the pathway opens on a stated diagnosis of intracranial hypotension
        code = "G96.811" if kind == "csf_leak" else "G97.84"
        when = start + days(rng.uniform(0.5, 2))
        record.condition(book.code("intracranial-hypotension-icd10cm", code), recorded=when)


def _cvt_after_intracranial_hypotension(ctx: _Context) -> None:
    rng = ctx.rng
    sex = "female" if rng.random() < 0.6 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 20, 70, 40))
    _background(ctx, risk_flags=False)
    diagnosis = ctx.ago(rng.uniform(0.1, 30), ctx.minutes())
    onset = diagnosis - days(rng.uniform(0.5, 6))
    _intracranial_hypotension(ctx, onset, need_diagnosis=False)
    concept = ctx.book.code("cvt-icd10cm", "I67.6")
    if rng.random() < 0.2:
        concept = ctx.book.code("cvt-snomed-resq", "192759008")
    ctx.record.condition(concept, recorded=diagnosis, onset=onset)
    risks = _cvt_risks_and_labs(ctx, diagnosis)
    if not risks.active_bleeding:
        _cvt_anticoagulation(ctx, diagnosis, pregnant=False)
    _cvt_endovascular(ctx, diagnosis, CVT_IH_EVT, risks)


def _intracranial_hypotension_only(ctx: _Context) -> None:
    rng = ctx.rng
    sex = "female" if rng.random() < 0.6 else "male"
    _demographics(ctx, sex, _adult_age(ctx, 20, 75, 42))
    _background(ctx, risk_flags=True)
    _intracranial_hypotension(ctx, ctx.ago(rng.uniform(0, 60)), need_diagnosis=True)


# ---------------------------------------------------------------------- follow-up


def _procedure_date(ctx: _Context, low_days: float, high_days: float) -> Moment:
    """Skewed towards recent procedures, as a follow-up clinic's list is."""
    span = high_days - low_days
    return ctx.ago(low_days + span * ctx.rng.random() ** 2, ctx.minutes())


def _venoplasty_follow_up(ctx: _Context) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    indication = ctx.weighted(
        (("iliac_compression", 0.40), ("ccsvi", 0.25), ("iih_sinus", 0.15), ("central_vein", 0.20))
    )  # SYNTHETIC shares
    sex = (
        "female"
        if rng.random() < (0.7 if indication in ("ccsvi", "iih_sinus") else 0.55)
        else "male"
    )
    _demographics(ctx, sex, _adult_age(ctx, 20, 85, 45))
    _background(ctx, risk_flags=False)
    when = _procedure_date(ctx, 3, 1100)
    side = "left" if rng.random() < 0.75 else "right"
    if indication == "iliac_compression":
        record.condition(
            book.code("venous-compression-icd10cm", "I87.1"),
            recorded=when - days(rng.uniform(10, 200)),
            problem_list=True,
        )
        concept = book.pick(
            rng, "venoplasty-icd10pcs", side, "Common Iliac Vein, Percutaneous Approach"
        )
    elif indication == "ccsvi":
        _multiple_sclerosis(ctx)
        vein = "Right Internal Jugular Vein, Percutaneous Approach"
        if side == "left":
            vein = "Left Internal Jugular Vein, Percutaneous Approach"
        concept = book.pick(rng, "venoplasty-icd10pcs", side, vein)
        if ctx.chance(CCSVI_REINTERVENTION):
            earlier = when - days(rng.uniform(180, 540))
            record.procedure(concept, earlier)
    elif indication == "iih_sinus":
        record.condition(
            book.outside("idiopathic_intracranial_hypertension"),
            recorded=when - days(rng.uniform(60, 900)),
            problem_list=True,
        )
        concept = book.code("venoplasty-snomed", "439700004")
    else:
        record.condition(
            book.outside("end_stage_renal_disease"),
            recorded=when - days(rng.uniform(200, 2000)),
            problem_list=True,
        )
        record.condition(
            book.outside("dialysis"),
            recorded=when - days(rng.uniform(100, 1500)),
            problem_list=True,
        )
        concept = book.code("venoplasty-snomed", rng.choice(("708860008", "276893007")))
    record.procedure(concept, when)
    if rng.random() < 0.3:
        _antiplatelet_or_nsaid(ctx, when)
    _routine_labs(ctx, record.clamp(when + days(rng.uniform(1, 60))), set())


def _venous_stent_follow_up(ctx: _Context) -> None:
    rng, record, book = ctx.rng, ctx.record, ctx.book
    indication = ctx.weighted(
        (("nivl", 0.40), ("post_thrombotic", 0.35), ("iih_sinus", 0.15), ("ivc", 0.10))
    )  # SYNTHETIC shares
    sex = (
        "female" if rng.random() < (0.7 if indication in ("nivl", "iih_sinus") else 0.5) else "male"
    )
    _demographics(ctx, sex, _adult_age(ctx, 20, 85, 48))
    _background(ctx, risk_flags=False)
    when = _procedure_date(ctx, 1, 1800)
    side = "left" if rng.random() < 0.8 else "right"
    iliac = "Common Iliac Vein with Intraluminal Device, Percutaneous Approach"
    if indication == "nivl":
        record.condition(
            book.code("venous-compression-icd10cm", "I87.1"),
            recorded=when - days(rng.uniform(10, 200)),
            problem_list=True,
        )
        stent = book.pick(rng, "venous-stent-icd10pcs", side, iliac)
    elif indication == "post_thrombotic":
        record.condition(
            book.code("previous-vte-icd10cm", "Z86.718"),
            recorded=when - days(rng.uniform(200, 3000)),
            problem_list=True,
        )
        record.condition(
            book.outside("pts_left" if side == "left" else "pts_right"),
            recorded=when - days(rng.uniform(30, 600)),
            problem_list=True,
        )
        stent = book.pick(rng, "venous-stent-icd10pcs", side, iliac)
    elif indication == "iih_sinus":
        record.condition(
            book.outside("idiopathic_intracranial_hypertension"),
            recorded=when - days(rng.uniform(60, 900)),
            problem_list=True,
        )
        stent = book.code("venous-stent-snomed", rng.choice(("439703002", "1287777003")))
    else:
        record.condition(
            book.code("previous-vte-icd10cm", "Z86.718"),
            recorded=when - days(rng.uniform(200, 3000)),
            problem_list=True,
        )
        stent = book.code("venous-stent-icd10pcs", "06703DZ")
    record.procedure(stent, when)
    _stent_antithrombotics(ctx, when, sinus=indication == "iih_sinus")
    _routine_labs(ctx, record.clamp(when + days(rng.uniform(1, 90))), set())


def _stent_antithrombotics(ctx: _Context, when: Moment, *, sinus: bool) -> None:
    """What the Delphi consensus (and, for sinus stents, the JNIS 2019 advice) describe."""
    rng, record, book = ctx.rng, ctx.record, ctx.book
    as_of = record.now
    if sinus:
        months = rng.uniform(*SINUS_STENT_ANTIPLATELET_MONTHS)
        status = "active" if when + days(30 * months) > as_of else "completed"
        record.medication(book.code("antiplatelet-rxnorm-vsac", "243670"), when, status=status)
        record.medication(book.code("antiplatelet-rxnorm-vsac", "309362"), when, status=status)
        return
    weeks = rng.uniform(*STENT_LMWH_WEEKS)
    months = rng.uniform(*STENT_ANTICOAGULATION_MONTHS)
    oral_from = when + days(7 * weeks)
    stop = when + days(30 * months)
    lmwh = book.code("anticoagulant-lmwh-rxnorm", "854241")
    if oral_from > as_of:
        record.medication(lmwh, when)
        return
    record.medication(lmwh, when, status="completed")
    oral = book.code("anticoagulant-rivaroxaban-rxnorm", "1232086")
    if rng.random() < 0.3:
        oral = book.code("anticoagulant-vitamin-k-antagonist-rxnorm", "855332")
    record.medication(oral, oral_from, status="active" if stop > as_of else "completed")
    if stop <= as_of and rng.random() < 0.3:  # long-term antiplatelet: no consensus (S34)
        record.medication(book.code("antiplatelet-rxnorm-vsac", "243670"), stop)


_BUILDERS: dict[Archetype, Callable[[_Context], None]] = {
    Archetype.NO_THROMBOSIS: _no_thrombosis,
    Archetype.LEG_DVT_SUSPECTED: _leg_dvt_suspected,
    Archetype.LEG_DVT_DISTAL: _leg_dvt_distal,
    Archetype.LEG_DVT_PROXIMAL: _leg_dvt_proximal,
    Archetype.LEG_DVT_ILIOFEMORAL: _leg_dvt_iliofemoral,
    Archetype.PHLEGMASIA: _phlegmasia,
    Archetype.CVT: _cvt,
    Archetype.CVT_INTRACRANIAL_HYPOTENSION: _cvt_after_intracranial_hypotension,
    Archetype.INTRACRANIAL_HYPOTENSION: _intracranial_hypotension_only,
    Archetype.VENOPLASTY_FOLLOW_UP: _venoplasty_follow_up,
    Archetype.VENOUS_STENT_FOLLOW_UP: _venous_stent_follow_up,
}
