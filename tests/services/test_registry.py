"""The registry service on SQLite and PostgreSQL: records, scheduling, audit, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from venapath.domain.access import local_operator
from venapath.domain.case import Case, ConditionName, Indication, ProcedureKind
from venapath.domain.records import (
    CheckInIn,
    EpisodeIn,
    EpisodeUpdate,
    OutcomeIn,
    OutcomeMeasure,
    PatientAdvice,
    PatientIn,
    PatientUpdate,
    ProcedureIn,
    TaskState,
    TaskStatus,
    TaskUpdate,
)
from venapath.errors import ConflictError, GoneError, InputError
from venapath.services.case_input import load_case_file
from venapath.services.evaluation import assess_case
from venapath.services.registry import Registry

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OP = local_operator("tester")


@pytest.fixture
def reg(registry: Registry) -> Registry:
    registry.clock = lambda: NOW
    return registry


def _episode(reg: Registry, condition: ConditionName, **extra: object) -> tuple[str, str]:
    patient = reg.create_patient(PatientIn(sex="female", birth_year=1980), OP)
    episode = reg.create_episode(
        EpisodeIn(patient_id=patient.id, condition=condition, **extra),  # type: ignore[arg-type]
        OP,
    )
    return patient.id, episode.id


def test_patient_mrn_is_kept_apart_and_never_audited(reg: Registry) -> None:
    patient = reg.create_patient(PatientIn(pseudonym="P-001", mrn="MRN-12345"), OP)
    assert "mrn" not in patient.model_dump()
    assert reg.find_patient_by_mrn("MRN-12345", OP).id == patient.id
    [created, read] = reg.audit_of("patient", patient.id, OP)
    assert created["action"] == "C"
    assert created["agent"][0]["who"]["identifier"]["value"] == OP.subject
    assert read["action"] == "E"  # the MRN look-up is a search
    assert "MRN-12345" not in str(created) + str(read)
    with pytest.raises(ConflictError) as taken:
        reg.create_patient(PatientIn(pseudonym="P-001"), OP)
    assert taken.value.pointer == "/pseudonym"
    with pytest.raises(ConflictError):
        reg.create_patient(PatientIn(mrn="MRN-12345"), OP)


def test_stale_update_is_refused_and_changes_nothing(reg: Registry) -> None:
    patient = reg.create_patient(PatientIn(birth_year=1970), OP)
    updated = reg.update_patient(patient.id, PatientUpdate(version=1, birth_year=1971), OP)
    assert updated.version == 2
    with pytest.raises(ConflictError, match="version 2, not 1"):
        reg.update_patient(patient.id, PatientUpdate(version=1, birth_year=1999), OP)
    assert reg.get_patient(patient.id, OP).birth_year == 1971
    actions = [(e["action"], e["outcome"]) for e in reg.audit_of("patient", patient.id, OP)]
    assert actions == [("C", "0"), ("U", "0"), ("R", "0")]


def test_concurrent_updates_one_wins_the_other_conflicts(reg: Registry) -> None:
    patient = reg.create_patient(PatientIn(), OP)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def update(year: int) -> None:
        barrier.wait()
        try:
            reg.update_patient(patient.id, PatientUpdate(version=1, birth_year=year), OP)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=update, args=(1950 + i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert reg.get_patient(patient.id, OP).version == 2


def test_retracted_patient_is_hidden_not_deleted(reg: Registry) -> None:
    patient_id, _ = _episode(
        reg, ConditionName.CEREBRAL_VENOUS_THROMBOSIS, diagnosed_at=NOW - timedelta(days=1)
    )
    reg.retract_patient(patient_id, 1, OP)
    with pytest.raises(GoneError):
        reg.get_patient(patient_id, OP)
    assert [e["action"] for e in reg.audit_of("patient", patient_id, OP)] == ["C", "D"]
    assert reg.worklist(OP, date(2026, 12, 1)) == []
    with reg.database.session() as session:
        assert session.execute(text("SELECT count(*) FROM patients")).scalar_one() == 1


def test_unknown_patient_and_future_dates_name_the_field(reg: Registry) -> None:
    with pytest.raises(InputError) as unknown:
        reg.create_episode(EpisodeIn(patient_id="nope", condition="leg_dvt"), OP)  # type: ignore[arg-type]
    assert unknown.value.problems[0].pointer == "/patient_id"
    patient = reg.create_patient(PatientIn(), OP)
    with pytest.raises(InputError) as future:
        reg.create_episode(
            EpisodeIn(
                patient_id=patient.id, condition="leg_dvt", diagnosed_at=NOW + timedelta(days=2)
            ),  # type: ignore[arg-type]
            OP,
        )
    assert future.value.problems[0].pointer == "/diagnosed_at"
    with pytest.raises(InputError) as pathway:
        reg.create_episode(
            EpisodeIn(patient_id=patient.id, condition="leg_dvt", pathway="made_up"),  # type: ignore[arg-type]
            OP,
        )
    assert pathway.value.problems[0].pointer == "/pathway"


def test_cvt_episode_schedules_imaging_and_says_what_is_missing(reg: Registry) -> None:
    patient_id, _ = _episode(
        reg,
        ConditionName.CEREBRAL_VENOUS_THROMBOSIS,
        diagnosed_at=datetime(2026, 1, 15, tzinfo=UTC),
        segments=("superior_sagittal_sinus",),
    )
    [task] = reg.tasks_of(patient_id, OP)
    assert (task.protocol_id, task.due_from, task.due_by) == (
        "cvt-imaging",
        date(2026, 4, 15),
        date(2026, 7, 15),
    )
    patient = reg.create_patient(PatientIn(), OP)
    undated = reg.create_episode(
        EpisodeIn(patient_id=patient.id, condition=ConditionName.CEREBRAL_VENOUS_THROMBOSIS), OP
    )
    assert "cvt-imaging v1 needs diagnosed_at" in undated.schedule_needs
    assert reg.tasks_of(patient.id, OP) == []


def test_planned_end_of_anticoagulation_moves_its_review(reg: Registry) -> None:
    patient_id, episode_id = _episode(
        reg, ConditionName.LEG_DVT, anticoagulation_planned_end=date(2026, 9, 1)
    )
    reg.update_episode(
        episode_id, EpisodeUpdate(version=1, anticoagulation_planned_end=date(2026, 12, 1)), OP
    )
    reviews = [t for t in reg.tasks_of(patient_id, OP) if t.protocol_id == "anticoagulation-review"]
    by_status = {t.status: t.due_by for t in reviews}
    assert by_status == {
        TaskStatus.CANCELLED: date(2026, 9, 1),
        TaskStatus.SCHEDULED: date(2026, 12, 1),
    }


def test_stent_schedules_duplex_surveillance_and_the_yearly_repeat(reg: Registry) -> None:
    patient_id, episode_id = _episode(reg, ConditionName.VENOUS_STENOSIS)
    reg.record_procedure(
        ProcedureIn(
            episode_id=episode_id,
            kind=ProcedureKind.VENOUS_STENT,
            performed_at=datetime(2025, 3, 10, 14, tzinfo=UTC),
            devices=({"device_class": "stent", "size": "14 mm x 90 mm"},),  # type: ignore[arg-type]
        ),
        OP,
    )
    tasks = reg.tasks_of(patient_id, OP)
    assert [t.due_from for t in tasks] == [
        date(2025, 3, 11),
        date(2025, 3, 24),
        date(2025, 4, 21),
        date(2025, 6, 10),
        date(2025, 9, 10),
        date(2026, 3, 10),
    ]
    yearly = tasks[-1]
    reg.update_task(yearly.id, TaskUpdate(version=1, status=TaskStatus.DONE), OP)
    following = [t for t in reg.tasks_of(patient_id, OP) if t.status is TaskStatus.SCHEDULED]
    assert following[-1].due_from == date(2027, 3, 10)
    with pytest.raises(ConflictError):
        reg.update_task(yearly.id, TaskUpdate(version=2, status=TaskStatus.DONE), OP)


def test_repeat_venoplasties_are_counted_and_flagged(reg: Registry) -> None:
    _, episode_id = _episode(
        reg, ConditionName.VENOUS_STENOSIS, indication=Indication.CCSVI_MULTIPLE_SCLEROSIS
    )
    first = datetime(2025, 1, 6, tzinfo=UTC)
    made = [
        reg.record_procedure(
            ProcedureIn(
                episode_id=episode_id,
                kind=ProcedureKind.VENOPLASTY,
                performed_at=first + timedelta(days=days),
            ),
            OP,
        )
        for days in (0, 14, 120, 240)
    ]
    assert [p.repeat_number for p in made] == [1, 2, 3, 4]
    assert made[0].warnings == []
    assert "protocol waits until 2025-02-03" in made[1].warnings[0]
    assert "considers a stent after 3 repeats" in made[3].warnings[-1]


@pytest.mark.parametrize(
    ("venoplasties", "repeats", "stent_considered"), [(3, 2, False), (4, 3, True)]
)
def test_the_repeat_count_is_the_same_in_the_registry_the_case_and_the_rule(
    reg: Registry, venoplasties: int, repeats: int, stent_considered: bool
) -> None:
    """One count (docs/case-format.md, docs/registry.md): `earlier_repeat_procedures` is the
    registry's repeat_number minus 1, the repeats done so far with the one followed up. The
    clinic protocol (seed 003) allows 3-4 repeat venoplasties before a stent is considered:
    after the fourth venoplasty (3 repeats) FU-VENOPLASTY-STENT-AFTER-REPEATS fires, as the
    registry's own warning says, and not after the third."""
    _, episode_id = _episode(
        reg, ConditionName.VENOUS_STENOSIS, indication=Indication.CCSVI_MULTIPLE_SCLEROSIS
    )
    first = datetime(2025, 1, 6, tzinfo=UTC)
    made = [
        reg.record_procedure(
            ProcedureIn(
                episode_id=episode_id,
                kind=ProcedureKind.VENOPLASTY,
                performed_at=first + timedelta(days=120 * number),
            ),
            OP,
        )
        for number in range(venoplasties)
    ]
    last = made[-1]
    assert last.repeat_number - 1 == repeats
    warned = any("considers a stent after 3 repeats" in w for w in last.warnings)
    assert warned is stent_considered
    check_in = reg.record_check_in(
        CheckInIn(
            procedure_id=last.id,
            submitted_at=NOW,
            symptom_response="worsening",  # type: ignore[arg-type]
            symptoms_back_within_hours=False,
            fever_or_urinary_symptoms=False,
        ),
        OP,
    )
    stored = reg.get_assessment(check_in.assessment_id, OP)
    follow_up = stored.case["follow_up"]
    assert isinstance(follow_up, dict)
    assert follow_up["earlier_repeat_procedures"] == repeats
    fired = {r["rule_id"] for r in stored.result["recommendations"]}  # type: ignore[union-attr]
    assert ("FU-VENOPLASTY-STENT-AFTER-REPEATS" in fired) is stent_considered


def test_check_in_with_early_symptoms_asks_for_care_and_a_call_today(reg: Registry) -> None:
    patient_id, episode_id = _episode(
        reg, ConditionName.VENOUS_STENOSIS, indication=Indication.CCSVI_MULTIPLE_SCLEROSIS
    )
    procedure = reg.record_procedure(
        ProcedureIn(
            episode_id=episode_id,
            kind=ProcedureKind.VENOPLASTY,
            performed_at=NOW - timedelta(hours=10),
        ),
        OP,
    )
    check_in = reg.record_check_in(
        CheckInIn(
            procedure_id=procedure.id,
            submitted_at=NOW - timedelta(hours=2),
            symptoms_back_within_hours=True,
        ),
        OP,
    )
    assert check_in.advice is PatientAdvice.EMERGENCY
    assert "FU-VENOPLASTY-SYMPTOMS-WITHIN-HOURS" in check_in.advice_text
    assert "emergency department" in check_in.advice_text
    stored = reg.get_assessment(check_in.assessment_id, OP)
    assert stored.knowledge_version == reg.kb.version
    worklist = reg.worklist(OP, NOW.date())
    assert worklist[0].state is TaskState.CALL_TODAY
    assert worklist[0].task.id == check_in.urgent_task_id
    assert worklist[0].task.patient_id == patient_id

    unanswered = reg.record_check_in(
        CheckInIn(procedure_id=procedure.id, submitted_at=NOW, symptom_response="marked"),  # type: ignore[arg-type]
        OP,
    )
    # Unknown is not "no": the urgent question left open is asked on a call today.
    assert unanswered.advice is PatientAdvice.CALL_TODAY
    assert "pre-procedure symptoms returned within hours" in unanswered.advice_text
    calm = reg.record_check_in(
        CheckInIn(
            procedure_id=procedure.id,
            submitted_at=NOW,
            symptom_response="marked",  # type: ignore[arg-type]
            symptoms_back_within_hours=False,
            reverted_for_days=0,
            fever_or_urinary_symptoms=False,
        ),
        OP,
    )
    assert calm.advice is PatientAdvice.ROUTINE
    assert calm.urgent_task_id is None
    with pytest.raises(InputError) as early:
        reg.record_check_in(
            CheckInIn(procedure_id=procedure.id, submitted_at=NOW - timedelta(days=1)), OP
        )
    assert early.value.problems[0].pointer == "/submitted_at"


def test_worklist_states_follow_the_calendar(reg: Registry) -> None:
    patient_id, _ = _episode(
        reg, ConditionName.LEG_DVT, diagnosed_at=datetime(2025, 1, 10, tzinfo=UTC)
    )
    states = {
        item.task.step_id: item.state
        for item in reg.worklist(OP, date(2025, 8, 20), days_ahead=0)
        if item.task.patient_id == patient_id
    }
    assert states == {"villalta-6-months": TaskState.OVERDUE}
    later = {
        item.task.step_id: item.state
        for item in reg.worklist(OP, date(2026, 1, 15), days_ahead=40)
        if item.task.patient_id == patient_id
    }
    assert later == {
        "villalta-6-months": TaskState.OVERDUE,
        "villalta-12-months": TaskState.DUE,
    }


def test_stored_assessment_reproduces_exactly(reg: Registry) -> None:
    patient_id, episode_id = _episode(reg, ConditionName.LEG_DVT)
    case = Case.model_validate(
        {
            "case_id": "repro",
            "diagnoses": [{"condition": "leg_dvt", "status": "confirmed"}],
            "imaging": {"thrombosed_segments": [{"segment": "femoral_vein", "side": "left"}]},
        }
    )
    stored = reg.record_assessment(patient_id, episode_id, case, OP)
    again = assess_case(Case.model_validate(stored.case), kb=reg.kb, trace=False)
    assert again.model_dump(mode="json") == stored.result
    assert stored.result["knowledge_version"] == reg.kb.version


def test_outcomes_are_checked_against_their_measure(reg: Registry) -> None:
    _, episode_id = _episode(
        reg, ConditionName.CEREBRAL_VENOUS_THROMBOSIS, diagnosed_at=NOW - timedelta(days=100)
    )
    outcome = reg.record_outcome(
        OutcomeIn(episode_id=episode_id, measure=OutcomeMeasure.MRS, assessed_at=NOW, score=1),
        OP,
    )
    assert outcome.score == 1
    with pytest.raises(ValidationError, match="mrs runs from 0 to 6"):
        OutcomeIn(episode_id=episode_id, measure=OutcomeMeasure.MRS, assessed_at=NOW, score=7)
    with pytest.raises(InputError) as before:
        reg.record_outcome(
            OutcomeIn(
                episode_id=episode_id,
                measure=OutcomeMeasure.DEATH,
                present=False,
                assessed_at=NOW - timedelta(days=200),
            ),
            OP,
        )
    assert before.value.problems[0].pointer == "/assessed_at"


def test_procedure_before_onset_and_negative_dose_are_refused(reg: Registry) -> None:
    _, episode_id = _episode(reg, ConditionName.LEG_DVT, onset_at=NOW - timedelta(days=3))
    with pytest.raises(InputError) as early:
        reg.record_procedure(
            ProcedureIn(
                episode_id=episode_id,
                kind=ProcedureKind.CATHETER_DIRECTED_THROMBOLYSIS,
                performed_at=NOW - timedelta(days=5),
            ),
            OP,
        )
    assert early.value.problems[0].pointer == "/performed_at"
    with pytest.raises(ValidationError) as negative:
        ProcedureIn.model_validate(
            {
                "episode_id": episode_id,
                "kind": "catheter_directed_thrombolysis",
                "performed_at": NOW.isoformat(),
                "thrombolysis": {"agent": "alteplase", "total_dose": -5, "dose_unit": "mg"},
            }
        )
    assert negative.value.errors()[0]["loc"] == ("thrombolysis", "total_dose")


def test_lysis_success_is_derived_from_the_percentage(reg: Registry) -> None:
    _, episode_id = _episode(reg, ConditionName.LEG_DVT)
    report = reg.record_procedure(
        ProcedureIn(
            episode_id=episode_id,
            kind=ProcedureKind.PHARMACOMECHANICAL_THROMBECTOMY,
            performed_at=NOW - timedelta(hours=3),
            thrombus_removed_percent=80.0,
            residual_stenosis_percent=30.0,
            complications=({"description": "groin haematoma", "sir_class": "B"},),  # type: ignore[arg-type]
            checklist={"haemostasis_by_pressure": True, "monitoring_hours": 6.0},  # type: ignore[arg-type]
        ),
        OP,
    )
    assert report.lysis_success is True
    assert reg.get_procedure(report.id, OP).checklist.haemostasis_by_pressure is True  # type: ignore[union-attr]


def test_audit_trail_cannot_be_edited(reg: Registry) -> None:
    reg.create_patient(PatientIn(), OP)
    with pytest.raises(Exception, match="append-only"), reg.database.session() as session:
        session.execute(text("UPDATE audit_events SET actor = 'someone else'"))
    with pytest.raises(Exception, match="append-only"), reg.database.session() as session:
        session.execute(text("DELETE FROM audit_events"))
    assert reg.counts()["audit_events"] == 1


def _early_symptoms_call(reg: Registry) -> None:
    """A venoplasty whose check-in reports symptoms back within hours: an urgent task."""
    _, episode_id = _episode(
        reg, ConditionName.VENOUS_STENOSIS, indication=Indication.CCSVI_MULTIPLE_SCLEROSIS
    )
    procedure = reg.record_procedure(
        ProcedureIn(
            episode_id=episode_id,
            kind=ProcedureKind.VENOPLASTY,
            performed_at=NOW - timedelta(hours=10),
        ),
        OP,
    )
    reg.record_check_in(
        CheckInIn(
            procedure_id=procedure.id,
            submitted_at=NOW - timedelta(hours=2),
            symptoms_back_within_hours=True,
        ),
        OP,
    )


def test_worklist_pages_walk_every_task_and_episode_once_urgent_calls_first(
    reg: Registry,
) -> None:
    for _ in range(2):
        _early_symptoms_call(reg)
    for _ in range(3):
        _episode(reg, ConditionName.LEG_DVT, diagnosed_at=NOW - timedelta(days=200))
    day, since, ahead, size = NOW.date(), NOW - timedelta(days=7), 400, 3
    everything = reg.worklist(OP, day, days_ahead=ahead)
    urgent = {item.task.id for item in everything if item.task.urgent}
    assert len(urgent) == 2
    assert len(everything) > 2 * size  # the walk crosses from urgent into routine pages
    tasks: list[list[str]] = []
    episodes: list[str] = []
    for offset in range(0, 2 * len(everything) + size, size):  # a bounded walk
        board = reg.worklist_board(OP, day, since, days_ahead=ahead, limit=size, offset=offset)
        if not board.tasks and not board.episodes:
            break
        assert len(board.tasks) <= size
        tasks.append([item.task.id for item in board.tasks])
        episodes += [summary.episode_id for summary in board.episodes]
    walked = [task_id for page in tasks for task_id in page]
    assert len(walked) == len(set(walked))
    assert set(walked) == {item.task.id for item in everything}
    assert urgent <= set(tasks[0])
    assert len(episodes) == len(set(episodes)) == 5


def test_the_board_shows_each_episodes_newest_assessment(reg: Registry) -> None:
    """Urgency and open windows come from the newest assessment of the episode only."""
    cases = Path(__file__).resolve().parents[2] / "examples" / "cases"
    patient_id, episode_id = _episode(reg, ConditionName.LEG_DVT)
    stored = [
        reg.record_assessment(patient_id, episode_id, load_case_file(cases / name), OP)
        for name in ("leg-dvt-isolated-distal.yaml", "leg-dvt-phlegmasia.yaml")
    ]
    older, newest = sorted(stored, key=lambda a: a.evaluated_at)  # the case's own time
    assert older.evaluated_at < newest.evaluated_at
    assert older.result["urgency"] != newest.result["urgency"]
    board = reg.worklist_board(OP, NOW.date(), NOW - timedelta(days=7), days_ahead=7, limit=10)
    [summary] = [s for s in board.episodes if s.episode_id == episode_id]
    assert summary.urgency == newest.result["urgency"]
    assert summary.evaluated_at == newest.evaluated_at
    assert summary.knowledge_version == reg.kb.version
    open_windows = [w for w in newest.result["time_windows"] if w["status"] != "passed"]
    assert open_windows
    assert [w.label for w in summary.windows] == [w["label"] for w in open_windows]
    assert [w.elapsed for w in summary.windows] == [w.get("elapsed") for w in open_windows]
