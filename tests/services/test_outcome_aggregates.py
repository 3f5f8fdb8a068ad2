"""The dashboards' registry read: what counts as a restenosis event and as censoring, the
mRS-at-90-days window, and that the read needs AGGREGATE_READ and names no patient."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from venapath.domain.access import Permission, Principal, Role, local_operator
from venapath.domain.records import EpisodeIn, OutcomeIn, PatientIn, ProcedureIn
from venapath.errors import RefusedError
from venapath.services.registry import Registry

NOW = datetime.now(UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def stenosis_episode(registry: Registry, pseudonym: str) -> str:
    actor = local_operator("test")
    patient = registry.create_patient(
        PatientIn.model_validate({"pseudonym": pseudonym, "sex": "female", "birth_year": 1980}),
        actor,
    )
    episode = EpisodeIn.model_validate(
        {
            "patient_id": patient.id,
            "condition": "venous_stenosis",
            "onset_at": ago(200),
            "diagnosed_at": ago(190),
        }
    )
    return registry.create_episode(episode, actor).id


def procedure(registry: Registry, episode_id: str, kind: str, days_ago: float) -> None:
    data = ProcedureIn.model_validate(
        {"episode_id": episode_id, "kind": kind, "performed_at": ago(days_ago)}
    )
    registry.record_procedure(data, local_operator("test"))


def outcome(registry: Registry, episode_id: str, days_ago: float, **fields: object) -> None:
    data = OutcomeIn.model_validate(
        {"episode_id": episode_id, "assessed_at": ago(days_ago), **fields}
    )
    registry.record_outcome(data, local_operator("test"))


def test_events_censoring_and_mrs_window(registry: Registry) -> None:
    repeated = stenosis_episode(registry, "AGG-1")
    procedure(registry, repeated, "venoplasty", 180)
    procedure(registry, repeated, "venoplasty", 120)  # repeat at day 60: an event
    occluded = stenosis_episode(registry, "AGG-2")
    procedure(registry, occluded, "venous_stent", 150)
    outcome(registry, occluded, 100, measure="recanalisation", recanalisation="none")
    followed = stenosis_episode(registry, "AGG-3")
    procedure(registry, followed, "venous_stent", 150)
    outcome(registry, followed, 90, measure="mrs", score=1)  # day 100 of the episode
    outcome(registry, followed, 50, measure="villalta", score=4, venous_ulcer=False)

    figures = registry.outcome_aggregates(local_operator("test"))

    by_kind = sorted((s.kind, round(s.days), s.event) for s in figures.survival)
    assert by_kind == [
        ("venoplasty", 60, True),
        ("venous_stent", 50, True),
        ("venous_stent", 100, False),
    ]
    assert figures.recanalisation["none"] == 1
    assert figures.mrs_90[1] == 1
    assert sum(figures.mrs_90.values()) == 1
    assert sum(b.count for b in figures.villalta) == 1
    assert sum(b.count for b in figures.onset_to_treatment) == 3


def test_the_read_needs_aggregate_read(registry: Registry) -> None:
    coordinator = Principal(
        subject="local:coordinator",
        display="c",
        roles=frozenset({Role.COORDINATOR}),
        method="password",
    )
    assert not coordinator.may(Permission.AGGREGATE_READ)
    with pytest.raises(RefusedError):
        registry.outcome_aggregates(coordinator)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def audited_queries(registry: Registry) -> int:
    """Entries for the dashboards' query (BALP carries the query base64-encoded)."""
    query = base64.b64encode(b"aggregates/outcomes").decode()
    events = registry.audit.export(local_operator("auditor"), since=NOW - timedelta(days=1))
    return sum(1 for e in events if query in str(e))


def test_figures_are_reused_until_a_write_or_a_minute_and_every_read_is_audited(
    registry: Registry,
) -> None:
    clock = FakeMonotonic()
    registry.aggregates_cache.clock = clock
    episode = stenosis_episode(registry, "AGG-C")
    procedure(registry, episode, "venoplasty", 100)
    reader = local_operator("test")

    first = registry.outcome_aggregates(reader)
    assert registry.outcome_aggregates(reader) is first  # nothing written: reused

    procedure(registry, episode, "venoplasty", 40)  # a write through the door
    after_write = registry.outcome_aggregates(reader)
    assert after_write is not first
    assert [s.event for s in after_write.survival] == [True]

    clock.now += 61  # another process may have written: recomputed after a minute at most
    assert registry.outcome_aggregates(reader) is not after_write
    assert audited_queries(registry) == 4
