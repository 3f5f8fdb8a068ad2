"""Outcome dashboards over the demo registry: every chart drawn as accessible SVG with its
data table, CSV and PNG downloads, de-identified for researchers, refused to roles without
AGGREGATE_READ, and the read audited as a query naming no patient."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from venapath.domain.access import Role, local_operator
from venapath.services.demo import load_demo
from venapath.services.registry import Registry
from venapath.services.registry.aggregates import SurvivalSample
from venapath.web.charts import Chart, fit_survival
from venapath.web.pages.dashboards import CHART_IDS


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry)


def test_a_researcher_sees_every_chart_with_its_table_and_no_identity(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    caller.become(Role.RESEARCHER)
    page = web.get("/dashboards")
    assert page.status_code == 200
    html = page.text
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in html
        assert f"/dashboards/{chart_id}.csv" in html
        assert f"/dashboards/{chart_id}.png" in html
    assert 'role="img"' in html
    assert "<title id=" in html
    assert "<desc id=" in html
    assert "Number at risk" in html
    assert "Numbers at risk" in html  # the table under the survival chart
    assert "censored" in html  # the page says what counts as an event and as censoring
    assert "DEMO-" not in html
    for patient in module_registry.list_patients(local_operator("test"), limit=100):
        assert patient.id not in html
        assert patient.pseudonym not in html
    assert 'href="/dashboards"' in html  # in the menu
    assert " style=" not in html
    assert "<script>" not in html


def test_restenosis_survival_is_drawn_from_demo_procedures(web: TestClient) -> None:
    answer = web.get("/dashboards/restenosis-free.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["Group", "Day", "Number at risk", "Event-free", "Lower 95%", "Upper 95%"]
    assert len(rows) > 1, "the demo registry holds venoplasties or stents"
    for row in rows[1:]:
        assert float(row[4]) <= float(row[3]) <= float(row[5])


def test_every_chart_downloads_as_csv(web: TestClient) -> None:
    for chart_id in CHART_IDS:
        table = web.get(f"/dashboards/{chart_id}.csv")
        assert table.status_code == 200
        assert "attachment" in table.headers["content-disposition"]
    assert web.get("/dashboards/nothing.csv").status_code == 404


@pytest.mark.slow  # matplotlib: seconds to import and draw every chart
def test_every_chart_downloads_as_png(web: TestClient) -> None:
    for chart_id in CHART_IDS:
        picture = web.get(f"/dashboards/{chart_id}.png")
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/png"
        assert picture.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("role", [Role.COORDINATOR])
def test_roles_without_aggregate_read_are_refused(web: TestClient, caller: Any, role: Role) -> None:
    caller.become(role)
    assert web.get("/dashboards").status_code == 403
    assert web.get("/dashboards/mrs-90.csv").status_code == 403
    assert web.get("/dashboards/mrs-90.png").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(web: TestClient, caller: Any) -> None:
    caller.become(None)
    answer = web.get("/dashboards")
    assert answer.status_code in (302, 303, 401)


def test_the_read_is_audited_as_a_query_naming_no_patient(
    web: TestClient, module_registry: Registry
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert web.get("/dashboards").status_code == 200
    query = base64.b64encode(b"aggregates/outcomes").decode()  # BALP stores the query encoded
    events = [
        e
        for e in module_registry.audit.export(local_operator("auditor"), since, None)
        if query in str(e)
    ]
    assert events
    assert all("Patient/" not in str(e) for e in events)


def test_kaplan_meier_matches_a_hand_count() -> None:
    samples = [
        SurvivalSample("venoplasty", 10.0, True),
        SurvivalSample("venoplasty", 20.0, False),
        SurvivalSample("venoplasty", 30.0, True),
        SurvivalSample("venoplasty", 40.0, False),
    ]
    curve = fit_survival("After venoplasty", samples)
    by_day = {p.days: p for p in curve.points}
    assert by_day[10.0].survival == pytest.approx(0.75)
    assert by_day[30.0].survival == pytest.approx(0.75 * 0.5)
    assert by_day[30.0].at_risk == 2
    assert curve.at_risk == [4, 0, 0, 0, 0]  # counted at days 0, 90, 180, 365, 730
    assert curve.events == 2


@pytest.mark.parametrize("kind", ["venoplasty", "venous_stent"])
def test_the_demo_cohort_gives_each_group_a_curve_to_read(
    module_registry: Registry, kind: str
) -> None:
    """`venapath demo load` holds follow-up with events and censoring spread over years, so
    the Kaplan-Meier chart has steps, a band and falling numbers at risk (not one point)."""
    data = module_registry.outcome_aggregates(local_operator("test"))
    samples = [s for s in data.survival if s.kind == kind]
    events = [s for s in samples if s.event]
    censored = [s for s in samples if not s.event and s.days > 0]
    assert len(samples) >= 20
    assert len(events) >= 3
    assert len(censored) >= 5
    assert len({round(s.days) for s in samples}) >= 15  # spread out, not all on day 0
    curve = fit_survival(kind, samples)
    assert len({round(p.survival, 6) for p in curve.points}) >= 4  # a step per event time
    at_a_year = [p.survival for p in curve.points if p.days <= 365][-1]
    assert 0 < at_a_year < 1
    assert curve.at_risk[0] > curve.at_risk[2] > curve.at_risk[4] >= 0
    assert any(p.lower < p.survival < p.upper for p in curve.points)


def test_venoplasty_and_stent_curves_differ_in_the_demo(module_registry: Registry) -> None:
    """The two invented arms are drawn from different event-time distributions."""
    data = module_registry.outcome_aggregates(local_operator("test"))
    by_kind = {
        kind: fit_survival(kind, [s for s in data.survival if s.kind == kind])
        for kind in ("venoplasty", "venous_stent")
    }
    at_a_year = {
        kind: min((p.survival for p in curve.points if p.days <= 365), default=1.0)
        for kind, curve in by_kind.items()
    }
    assert at_a_year["venoplasty"] < at_a_year["venous_stent"]


def test_the_survival_time_axis_is_marked_in_days() -> None:
    curve = fit_survival("After venoplasty", [SurvivalSample("venoplasty", 400.0, True)])
    chart = Chart(
        id="t",
        title="t",
        description="d",
        definition="d",
        columns=[],
        rows=[],
        kind="survival",
        curves=[curve],
        x_label="Days",
    )
    svg = str(chart.svg())
    for day in (0, 100, 200, 300, 400):
        assert f">{day}</text>" in svg


def test_a_survival_fit_is_reused_for_the_same_figures_only() -> None:
    from venapath.services.registry.aggregates import OutcomeAggregates
    from venapath.web.pages.dashboards import restenosis_chart

    samples = [SurvivalSample("venoplasty", float(d), d % 2 == 0) for d in range(1, 50)]
    figures = OutcomeAggregates(survival=samples)
    first = restenosis_chart(figures).curves[0]
    assert restenosis_chart(figures).curves[0] is first
    newer = OutcomeAggregates(survival=samples[:10])
    assert restenosis_chart(newer).curves[0].patients == 10
