"""A demonstration registry: patients on every pathway, procedures, check-ins, outcomes and
follow-up tasks in every state (call today, overdue, due, upcoming, done, cancelled).

Dates count back from the day it is loaded, so the worklist always has something in each
state. Every record goes through the registry service, exactly as a coordinator's would.
Invented patients only; the pseudonyms start with DEMO-. Besides the scenarios, a seeded
cohort of 40 patients followed after a first venoplasty or stent (events and censoring
spread over years) gives the restenosis-free survival dashboard a curve to read.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from venapath.domain.access import Principal, Role
from venapath.domain.case import Case
from venapath.domain.records import (
    CheckInIn,
    EpisodeIn,
    EpisodeStatus,
    EpisodeUpdate,
    OutcomeIn,
    PatientIn,
    ProcedureIn,
    TaskStatus,
    TaskUpdate,
)
from venapath.persistence.tables import PatientRow
from venapath.services.registry import Registry

ACTOR = Principal(
    subject="service:demo-loader",
    display="demonstration data loader",
    roles=frozenset({Role.CLINICIAN}),
    method="cli",
)
"""The demo loader writes as a clinician would, through the registry door, audited as itself."""
FIRST_PSEUDONYM = "DEMO-01"


@dataclass
class _Loader:
    registry: Registry
    now: datetime

    def ago(self, days: float = 0, hours: float = 0) -> str:
        return (self.now - timedelta(days=days, hours=hours)).isoformat()

    def patient(self, number: int, sex: str, birth_year: int) -> str:
        data = PatientIn.model_validate(
            {"pseudonym": f"DEMO-{number:02d}", "sex": sex, "birth_year": birth_year}
        )
        return self.registry.create_patient(data, ACTOR).id

    def episode(self, patient_id: str, **fields: Any) -> str:
        data = EpisodeIn.model_validate({"patient_id": patient_id, **fields})
        return self.registry.create_episode(data, ACTOR).id

    def procedure(self, episode_id: str, **fields: Any) -> str:
        data = ProcedureIn.model_validate({"episode_id": episode_id, **fields})
        return self.registry.record_procedure(data, ACTOR).id

    def check_in(self, procedure_id: str, **fields: Any) -> None:
        data = CheckInIn.model_validate({"procedure_id": procedure_id, **fields})
        self.registry.record_check_in(data, ACTOR)

    def outcome(self, episode_id: str, **fields: Any) -> None:
        data = OutcomeIn.model_validate({"episode_id": episode_id, **fields})
        self.registry.record_outcome(data, ACTOR)

    def assess(self, patient_id: str, episode_id: str, case: dict[str, Any]) -> None:
        self.registry.record_assessment(patient_id, episode_id, Case.model_validate(case), ACTOR)

    def close_episode(self, episode_id: str) -> None:
        current = self.registry.get_episode(episode_id, ACTOR)
        change = EpisodeUpdate(version=current.version, status=EpisodeStatus.CLOSED)
        self.registry.update_episode(episode_id, change, ACTOR)

    def close_tasks(self, patient_id: str, step_ids: set[str] | None, status: TaskStatus) -> None:
        """Close the patient's scheduled tasks of these protocol steps (None: all of them)."""
        for task in self.registry.tasks_of(patient_id, ACTOR):
            wanted = step_ids is None or task.step_id in step_ids
            if wanted and task.status is TaskStatus.SCHEDULED:
                update = TaskUpdate(
                    version=task.version,
                    status=status,
                    completed_at=self.now if status is TaskStatus.DONE else None,
                    note="demo",
                )
                self.registry.update_task(task.id, update, ACTOR)


def _cvt_on_anticoagulation(load: _Loader) -> None:
    patient = load.patient(1, "female", 1991)
    episode = load.episode(
        patient,
        condition="cerebral_venous_thrombosis",
        pathway="cvt_acute",
        segments=["superior_sagittal_sinus", "transverse_sinus"],
        side="right",
        onset_at=load.ago(days=125),
        diagnosed_at=load.ago(days=122),
        provocation="provoked_transient",
        anticoagulation_planned_end=(load.now + timedelta(days=10)).date().isoformat(),
    )
    load.assess(
        patient,
        episode,
        {
            "case_id": "demo-cvt-1",
            "as_of": load.ago(days=122),
            "patient": {"age_years": 34, "sex": "female"},
            "diagnoses": [{"condition": "cerebral_venous_thrombosis", "status": "confirmed"}],
            "imaging": {
                "thrombosed_segments": [
                    {"segment": "superior_sagittal_sinus"},
                    {"segment": "transverse_sinus", "side": "right"},
                ]
            },
        },
    )


def _cvt_after_intracranial_hypotension(load: _Loader) -> None:
    """Seed 002: CVT after intracranial hypotension, rescued by mechanical thrombectomy."""
    patient = load.patient(2, "female", 1980)
    episode = load.episode(
        patient,
        condition="cerebral_venous_thrombosis",
        pathway="intracranial_hypotension",
        segments=["superior_sagittal_sinus", "straight_sinus"],
        onset_at=load.ago(days=64),
        diagnosed_at=load.ago(days=62),
        provocation="provoked_transient",
        notes="Spontaneous intracranial hypotension; deterioration despite heparin.",
    )
    load.procedure(
        episode,
        kind="mechanical_thrombectomy",
        performed_at=load.ago(days=61),
        operator="Dr A. Neuro-IR",
        access_vein="common_femoral_vein",
        access_side="right",
        sheath_french=8,
        treated_segments=["superior_sagittal_sinus", "straight_sinus"],
        devices=[
            {"device_class": "stent_retriever"},
            {"device_class": "aspiration_catheter"},
        ],
        qureshi_before="none",
        qureshi_after="III",
        contrast_ml=140,
        fluoroscopy_minutes=48,
        checklist={"monitoring_hours": 24, "discharge_anticoagulant": "warfarin"},
    )
    load.procedure(
        episode,
        kind="epidural_blood_patch",
        performed_at=load.ago(days=55),
        access_vein="lumbar_epidural_space",
    )
    load.outcome(episode, measure="mrs", score=1, assessed_at=load.ago(days=5))


def _iliofemoral_dvt_stented(load: _Loader) -> None:
    patient = load.patient(3, "male", 1968)
    episode = load.episode(
        patient,
        condition="leg_dvt",
        pathway="leg_dvt",
        segments=["common_iliac_vein", "external_iliac_vein", "common_femoral_vein"],
        side="left",
        onset_at=load.ago(days=26),
        diagnosed_at=load.ago(days=24),
        provocation="unprovoked",
        anticoagulation_planned_end=(load.now + timedelta(days=160)).date().isoformat(),
    )
    load.assess(
        patient,
        episode,
        {
            "case_id": "demo-dvt-3",
            "as_of": load.ago(days=24),
            "patient": {"age_years": 58, "sex": "male"},
            "diagnoses": [{"condition": "leg_dvt", "status": "confirmed"}],
            "presentation": {"symptom_onset": load.ago(days=26)},
            "imaging": {
                "thrombosed_segments": [
                    {"segment": "common_iliac_vein", "side": "left"},
                    {"segment": "common_femoral_vein", "side": "left"},
                ]
            },
        },
    )
    load.procedure(
        episode,
        kind="pharmacomechanical_thrombectomy",
        performed_at=load.ago(days=22),
        operator="Dr B. Vascular",
        access_vein="popliteal_vein",
        access_side="left",
        sheath_french=10,
        treated_segments=["common_iliac_vein", "external_iliac_vein", "common_femoral_vein"],
        devices=[{"device_class": "rheolytic"}],
        thrombolysis={"agent": "alteplase", "total_dose": 10, "dose_unit": "mg"},
        thrombus_removed_percent=85,
        residual_stenosis_percent=60,
        complications=[{"description": "minor access-site haematoma", "sir_class": "A"}],
        checklist={
            "haemostasis_by_pressure": True,
            "monitoring_hours": 6,
            "discharge_anticoagulant": "rivaroxaban",
        },
    )
    load.procedure(
        episode,
        kind="venous_stent",
        performed_at=load.ago(days=22, hours=-1),
        operator="Dr B. Vascular",
        access_vein="popliteal_vein",
        access_side="left",
        treated_segments=["common_iliac_vein"],
        devices=[{"device_class": "stent", "size": "14 mm x 90 mm"}],
        residual_stenosis_percent=5,
    )
    load.close_tasks(patient, {"duplex-24-hours"}, TaskStatus.DONE)  # 2-week scan: overdue


def _dvt_anticoagulation_only(load: _Loader) -> None:
    patient = load.patient(4, "female", 1957)
    load.episode(
        patient,
        condition="leg_dvt",
        pathway="leg_dvt",
        segments=["femoral_vein", "popliteal_vein"],
        side="right",
        onset_at=load.ago(days=250),
        diagnosed_at=load.ago(days=248),
        provocation="provoked_transient",
    )  # Villalta at 6 months: overdue


def _venoplasty_symptoms_within_hours(load: _Loader) -> None:
    patient = load.patient(5, "female", 1979)
    episode = load.episode(
        patient,
        condition="venous_stenosis",
        pathway="venoplasty_follow_up",
        indication="ccsvi_multiple_sclerosis",
        segments=["internal_jugular_vein"],
        side="left",
    )
    for days in (400, 250, 130):
        load.procedure(episode, kind="venoplasty", performed_at=load.ago(days=days))
    latest = load.procedure(
        episode,
        kind="venoplasty",
        performed_at=load.ago(hours=10),
        access_vein="common_femoral_vein",
        devices=[{"device_class": "balloon", "size": "10 mm"}],
        checklist={"haemostasis_by_pressure": True, "monitoring_hours": 2},
    )
    load.check_in(latest, submitted_at=load.ago(hours=1), symptoms_back_within_hours=True)


def _venoplasty_restenosis(load: _Loader) -> None:
    patient = load.patient(6, "male", 1972)
    episode = load.episode(
        patient,
        condition="venous_stenosis",
        pathway="venoplasty_follow_up",
        indication="ccsvi_multiple_sclerosis",
        segments=["internal_jugular_vein"],
        side="right",
    )
    procedure = load.procedure(episode, kind="venoplasty", performed_at=load.ago(days=75))
    load.check_in(
        procedure,
        submitted_at=load.ago(hours=3),
        symptom_response="marked",
        symptoms_back_within_hours=False,
        improvement_lasted_days=45,
        reverted_for_days=16,
    )


def _stent_a_year_on(load: _Loader) -> None:
    patient = load.patient(7, "female", 1985)
    episode = load.episode(
        patient,
        condition="venous_stenosis",
        pathway="venous_stent_follow_up",
        indication="iliac_vein_compression",
        segments=["common_iliac_vein"],
        side="left",
    )
    load.procedure(
        episode,
        kind="venous_stent",
        performed_at=load.ago(days=368),
        devices=[{"device_class": "stent", "size": "16 mm x 120 mm"}],
    )
    steps = {"duplex-24-hours", "duplex-2-weeks", "duplex-6-weeks", "duplex-3-months"}
    load.close_tasks(patient, steps, TaskStatus.DONE)
    load.close_tasks(patient, {"duplex-6-months"}, TaskStatus.CANCELLED)  # yearly scan: due


def _phlegmasia(load: _Loader) -> None:
    patient = load.patient(8, "male", 1949)
    episode = load.episode(
        patient,
        condition="leg_dvt",
        pathway="leg_dvt",
        segments=["common_femoral_vein", "external_iliac_vein", "femoral_vein"],
        side="left",
        onset_at=load.ago(hours=30),
        diagnosed_at=load.ago(hours=6),
    )
    load.assess(
        patient,
        episode,
        {
            "case_id": "demo-phlegmasia-8",
            "as_of": load.ago(hours=6),
            "patient": {"age_years": 77, "sex": "male"},
            "diagnoses": [{"condition": "leg_dvt", "status": "confirmed"}],
            "exam": {"leg": {"phlegmasia": "cerulea_dolens"}},
            "imaging": {
                "thrombosed_segments": [
                    {"segment": "common_femoral_vein", "side": "left"},
                    {"segment": "external_iliac_vein", "side": "left"},
                ]
            },
        },
    )


def _distal_dvt_followed(load: _Loader) -> None:
    patient = load.patient(9, "female", 1990)
    episode = load.episode(
        patient,
        condition="leg_dvt",
        pathway="leg_dvt",
        segments=["posterior_tibial_vein"],
        side="left",
        onset_at=load.ago(days=400),
        diagnosed_at=load.ago(days=398),
        provocation="provoked_transient",
    )
    load.close_tasks(patient, {"villalta-6-months", "villalta-12-months"}, TaskStatus.DONE)
    load.outcome(
        episode, measure="villalta", score=3, venous_ulcer=False, assessed_at=load.ago(days=30)
    )
    load.outcome(
        episode, measure="post_thrombotic_syndrome", present=False, assessed_at=load.ago(days=30)
    )


def _suspected_cvt(load: _Loader) -> None:
    patient = load.patient(10, "female", 1996)
    episode = load.episode(
        patient, condition="cerebral_venous_thrombosis", pathway="cvt_suspected"
    )  # no diagnosis date yet: the episode says which date would schedule its imaging
    load.assess(
        patient,
        episode,
        {
            "case_id": "demo-cvt-suspected-10",
            "as_of": load.ago(hours=2),
            "patient": {"age_years": 29, "sex": "female", "postpartum_days": 9},
            "diagnoses": [{"condition": "cerebral_venous_thrombosis", "status": "suspected"}],
            "presentation": {
                "symptom_onset": load.ago(days=2),
                "symptoms": [{"kind": "headache"}, {"kind": "seizure"}],
            },
        },
    )


@dataclass(frozen=True)
class CohortArm:
    """Invented follow-up for one kind of index procedure: Weibull times to restenosis.

    Illustrative figures only, chosen so the survival chart has a shape to read; they are
    not taken from any study and say nothing about real restenosis rates."""

    kind: str
    pathway: str
    indication: str
    segment: str
    weibull_scale_days: float
    weibull_shape: float
    patients: int


COHORT_ARMS = (
    CohortArm(
        "venoplasty",
        "venoplasty_follow_up",
        "ccsvi_multiple_sclerosis",
        "internal_jugular_vein",
        600.0,
        1.2,
        20,
    ),
    CohortArm(
        "venous_stent",
        "venous_stent_follow_up",
        "iliac_vein_compression",
        "common_iliac_vein",
        1500.0,
        1.0,
        20,
    ),
)
COHORT_FIRST_NUMBER = 20
COHORT_SEED = 20261207
"""Fixed: the demo registry is the same on every load (its tests and screenshots rely on it)."""
ENROLMENT_DAYS = (30.0, 1000.0)
"""Index procedures spread over these days before the load: later ones are followed less."""
LOSS_TO_FOLLOW_UP_MEAN_DAYS = 900.0
"""Mean of the exponential time after which a patient stops coming back (censoring)."""


def _follow_up_cohort(load: _Loader) -> None:
    """Patients followed after a first venoplasty or stent, for the restenosis-free survival
    dashboard: each either has a restenosis event (a repeat venoplasty, or a duplex showing
    occlusion after a stent) or is censored at the last duplex scan before the load or
    before they were lost to follow-up. Their tasks are done and their episodes closed: they
    are history, kept off the worklist."""
    rng = random.Random(COHORT_SEED)
    number = COHORT_FIRST_NUMBER
    for arm in COHORT_ARMS:
        for _ in range(arm.patients):
            _cohort_patient(load, rng, arm, number)
            number += 1


def _cohort_patient(load: _Loader, rng: random.Random, arm: CohortArm, number: int) -> None:
    enrolled_days = rng.uniform(*ENROLMENT_DAYS)
    event_days = rng.weibullvariate(arm.weibull_scale_days, arm.weibull_shape)
    lost_days = rng.expovariate(1 / LOSS_TO_FOLLOW_UP_MEAN_DAYS)
    last_contact_days = min(lost_days, enrolled_days - 1)
    patient = load.patient(number, rng.choice(("female", "male")), rng.randint(1950, 2000))
    episode = load.episode(
        patient,
        condition="venous_stenosis",
        pathway=arm.pathway,
        indication=arm.indication,
        segments=[arm.segment],
        side=rng.choice(("left", "right")),
    )
    load.procedure(episode, kind=arm.kind, performed_at=load.ago(days=enrolled_days))
    if event_days < last_contact_days:
        _restenosis(load, arm, episode, load.ago(days=enrolled_days - event_days))
    elif last_contact_days >= 1:
        load.outcome(
            episode,
            measure="recanalisation",
            recanalisation=rng.choice(("complete", "complete", "partial")),
            imaging_modality="duplex ultrasound",
            assessed_at=load.ago(days=enrolled_days - last_contact_days),
        )
    load.close_tasks(patient, None, TaskStatus.DONE)
    load.close_episode(episode)


def _restenosis(load: _Loader, arm: CohortArm, episode: str, when: str) -> None:
    if arm.kind == "venoplasty":
        load.procedure(episode, kind="venoplasty", performed_at=when)
    else:
        load.outcome(
            episode,
            measure="recanalisation",
            recanalisation="none",
            imaging_modality="duplex ultrasound",
            assessed_at=when,
        )


SCENARIOS: tuple[Callable[[_Loader], None], ...] = (
    _cvt_on_anticoagulation,
    _cvt_after_intracranial_hypotension,
    _iliofemoral_dvt_stented,
    _dvt_anticoagulation_only,
    _venoplasty_symptoms_within_hours,
    _venoplasty_restenosis,
    _stent_a_year_on,
    _phlegmasia,
    _distal_dvt_followed,
    _suspected_cvt,
)


def demo_loaded(registry: Registry) -> bool:
    with registry.database.session() as session:
        found = session.scalar(select(PatientRow.id).where(PatientRow.pseudonym == FIRST_PSEUDONYM))
    return found is not None


def load_demo(
    registry: Registry, now: datetime | None = None, *, follow_up_cohort: bool = True
) -> dict[str, int]:
    """Load the demonstration patients; returns the registry's row counts afterwards.

    `follow_up_cohort=False` leaves out the 40 patients behind the survival dashboard (most
    of the loading time), for tests that need only the scenarios."""
    load = _Loader(registry, now or datetime.now(UTC))
    for scenario in SCENARIOS:
        scenario(load)
    if follow_up_cohort:
        _follow_up_cohort(load)
    return registry.counts()
