"""Outcome dashboards for quality and research staff: de-identified, so a researcher may see
them (no pseudonym, id, date or free text; small cells are shown as counts).

The figures come from one registry read (`Registry.outcome_aggregates`, AGGREGATE_READ,
audited as a query naming no patient). Each chart is an accessible SVG with its data table
beside it, and downloads as CSV and PNG drawn from the same rows.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from venapath.domain.access import Permission
from venapath.domain.case import ProcedureKind
from venapath.errors import NotFoundError
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.services.registry.aggregates import (
    MRS_DAY,
    MRS_WINDOW_DAYS,
    OutcomeAggregates,
)
from venapath.web.access import page_principal
from venapath.web.charts import (
    AT_RISK_DAYS,
    Cell,
    Chart,
    SurvivalCurve,
    fit_survival,
    survival_rows,
)
from venapath.web.context import page_context
from venapath.web.templating import render, translations

_ = translations().gettext

CHART_IDS = ("restenosis-free", "recanalisation", "onset-to-treatment", "villalta", "mrs-90")


def _band_label(band: str) -> str:
    """The aggregate module's band names, as the page says them (extractable for Babel)."""
    labels = {
        "under 24 hours": _("under 24 hours"),
        "1 to 3 days": _("1 to 3 days"),
        "3 to 7 days": _("3 to 7 days"),
        "7 to 30 days": _("7 to 30 days"),
        "over 30 days": _("over 30 days"),
        "0 to 3 months": _("0 to 3 months"),
        "3 to 6 months": _("3 to 6 months"),
        "6 to 12 months": _("6 to 12 months"),
        "12 to 24 months": _("12 to 24 months"),
        "over 24 months": _("over 24 months"),
    }
    return labels.get(band, band)


_FITTED: dict[tuple[int, str, str], tuple[OutcomeAggregates, SurvivalCurve]] = {}
"""Kaplan-Meier fits of the figures the registry last handed out (it hands out the same
object until something changes), so a page view does not refit thousands of samples."""
_FITTED_KEEP = 16


def _fitted_curve(data: OutcomeAggregates, kind: str, label: str) -> SurvivalCurve:
    key = (id(data), kind, label)
    hit = _FITTED.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    curve = fit_survival(label, [s for s in data.survival if s.kind == kind])
    if len(_FITTED) >= _FITTED_KEEP:
        _FITTED.clear()
    _FITTED[key] = (data, curve)
    return curve


def restenosis_chart(data: OutcomeAggregates) -> Chart:
    names = {
        ProcedureKind.VENOPLASTY.value: _("After venoplasty"),
        ProcedureKind.VENOUS_STENT.value: _("After stenting"),
    }
    curves = [
        _fitted_curve(data, kind, label)
        for kind, label in names.items()
        if any(s.kind == kind for s in data.survival)
    ]
    summary = "; ".join(
        _("%(label)s: %(n)s procedures, %(events)s events, %(left)s%% event-free at the end")
        % {
            "label": c.label,
            "n": c.patients,
            "events": c.events,
            "left": round(100 * c.points[-1].survival),
        }
        for c in curves
    )
    return Chart(
        id="restenosis-free",
        title=_("Restenosis-free survival after venoplasty and after stenting"),
        description=summary or _("No venoplasty or stent is recorded yet."),
        definition=_(
            "Kaplan-Meier estimate with a 95% confidence band. Day 0 is an episode's first "
            "venoplasty or stent. An event is a later endovascular procedure in the same episode "
            "(repeat venoplasty, stent, thrombolysis or thrombectomy) or a recanalisation "
            "outcome of none (occlusion), whichever the registry records first. Without an "
            "event, follow-up is censored at the last recorded contact (an outcome, a check-in "
            "or a procedure); with no contact after the procedure, at day 0."
        ),
        columns=[
            _("Group"),
            _("Day"),
            _("Number at risk"),
            _("Event-free"),
            _("Lower 95%"),
            _("Upper 95%"),
        ],
        rows=survival_rows(curves),
        kind="survival",
        curves=curves,
        x_label=_("Days since the procedure"),
        y_label=_("Event-free proportion"),
    )


def _bars(
    chart_id: str,
    title: str,
    definition: str,
    columns: list[str],
    rows: list[list[Cell]],
    x_label: str,
    y_label: str,
) -> Chart:
    described = ", ".join(f"{row[0]}: {row[1]}" for row in rows)
    return Chart(
        id=chart_id,
        title=title,
        description=described,
        definition=definition,
        columns=columns,
        rows=rows if any(row[1] for row in rows) else [],
        kind="bars",
        x_label=x_label,
        y_label=y_label,
    )


def recanalisation_chart(data: OutcomeAggregates) -> Chart:
    return _bars(
        "recanalisation",
        _("Recanalisation grades"),
        _("Every recanalisation outcome recorded (complete, partial or none) on imaging."),
        [_("Grade"), _("Outcomes")],
        [[grade, count] for grade, count in data.recanalisation.items()],
        _("Recanalisation"),
        _("Outcomes"),
    )


def onset_chart(data: OutcomeAggregates) -> Chart:
    return _bars(
        "onset-to-treatment",
        _("Time from symptom onset to treatment"),
        _(
            "Hours from the recorded symptom onset to an episode's first procedure, in bands; "
            "the median of each band. Episodes treated without a recorded onset: %(n)s."
        )
        % {"n": data.onset_unknown},
        [_("Time to treatment"), _("Episodes"), _("Median hours")],
        [
            [_band_label(b.band), b.count, None if b.median is None else round(b.median, 1)]
            for b in data.onset_to_treatment
        ],
        _("Time from onset to the first procedure"),
        _("Episodes"),
    )


def villalta_chart(data: OutcomeAggregates) -> Chart:
    return _bars(
        "villalta",
        _("Villalta score over time"),
        _(
            "Villalta scores (0 to 33; 5 or more is post-thrombotic syndrome) by time since the "
            "episode's first procedure, or its diagnosis when it had none. Bars show how many "
            "scores each band holds; the table gives their median."
        ),
        [_("Time since treatment"), _("Scores"), _("Median score")],
        [
            [_band_label(b.band), b.count, None if b.median is None else round(b.median, 1)]
            for b in data.villalta
        ],
        _("Time since treatment"),
        _("Scores recorded"),
    )


def mrs_chart(data: OutcomeAggregates) -> Chart:
    return _bars(
        "mrs-90",
        _("Modified Rankin Scale at 90 days"),
        _(
            "One mRS per episode: the one assessed nearest day %(day)s after diagnosis (or "
            "onset), within %(window)s days either side. 0 is no symptoms, 6 is death."
        )
        % {"day": MRS_DAY, "window": MRS_WINDOW_DAYS},
        [_("mRS"), _("Episodes")],
        [[str(score), count] for score, count in data.mrs_90.items()],
        _("mRS at 90 days"),
        _("Episodes"),
    )


CHART_BUILDERS: dict[str, Callable[[OutcomeAggregates], Chart]] = {
    "restenosis-free": restenosis_chart,
    "recanalisation": recanalisation_chart,
    "onset-to-treatment": onset_chart,
    "villalta": villalta_chart,
    "mrs-90": mrs_chart,
}


def build_dashboard_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboards", response_class=HTMLResponse)
    def dashboards_page(request: Request) -> HTMLResponse:
        principal = page_principal(request, Permission.AGGREGATE_READ)
        data = registry.outcome_aggregates(principal)
        charts = [build(data) for build in CHART_BUILDERS.values()]
        context = page_context(
            request,
            principal,
            kb,
            charts=charts,
            episodes=data.episodes,
            computed_at=data.computed_at.strftime("%Y-%m-%d %H:%M:%S"),
            at_risk_days=AT_RISK_DAYS,
        )
        return HTMLResponse(render("dashboards.html", context))

    @router.get("/dashboards/{chart_id}.csv")
    def chart_csv(request: Request, chart_id: str) -> Response:
        chart = _chart(request, registry, chart_id)
        return Response(
            chart.csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{chart.id}.csv"'},
        )

    @router.get("/dashboards/{chart_id}.png")
    def chart_png(request: Request, chart_id: str) -> Response:
        chart = _chart(request, registry, chart_id)
        return Response(
            chart.png(),
            media_type="image/png",
            headers={"Content-Disposition": f'attachment; filename="{chart.id}.png"'},
        )

    return router


def _chart(request: Request, registry: Registry, chart_id: str) -> Chart:
    principal = page_principal(request, Permission.AGGREGATE_READ)
    build = CHART_BUILDERS.get(chart_id)
    if build is None:
        raise NotFoundError("chart", chart_id[:80])
    return build(registry.outcome_aggregates(principal))
