"""Charts for the outcome dashboards: one `Chart` per figure, drawn three ways from the same
rows (accessible SVG in the page, CSV and PNG to download), so the picture, the table beside
it and the files can never disagree.

The SVG is built here rather than in a template because its coordinates are arithmetic;
every text that goes into it is escaped. It carries role="img", a <title> and a <desc>, and
the page puts the data table next to it (WCAG: no meaning in the picture alone). Series are
told apart by line style and direct labels as well as colour.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from venapath.services.registry.aggregates import SurvivalSample

Cell = str | int | float | None

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 48
SERIES_STYLES = (("#1f4e79", ""), ("#8a3b00", "6 4"))
"""Colour and dash pattern per series: dark blue solid, dark orange dashed (contrast > 4.5:1
on white; the dash tells them apart without colour)."""
KM_CONFIDENCE = 0.95
AT_RISK_DAYS = (0, 90, 180, 365, 730)
"""The days the numbers-at-risk table under a survival chart counts at."""


@dataclass(frozen=True)
class SurvivalPoint:
    days: float
    survival: float
    lower: float
    upper: float
    at_risk: int


@dataclass(frozen=True)
class SurvivalCurve:
    label: str
    points: list[SurvivalPoint]
    events: int
    patients: int
    at_risk: list[int] = field(default_factory=list)
    """Still followed and event-free at each of AT_RISK_DAYS."""


@dataclass
class Chart:
    """One dashboard figure: what it shows, its data rows, and how to draw it."""

    id: str
    title: str
    description: str
    definition: str
    columns: list[str]
    rows: list[list[Cell]]
    kind: str  # "survival" or "bars"
    curves: list[SurvivalCurve] = field(default_factory=list)
    x_label: str = ""
    y_label: str = ""

    @property
    def empty(self) -> bool:
        return not self.rows

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    def svg(self) -> Markup:
        body = _survival_svg(self) if self.kind == "survival" else _bars_svg(self)
        label_id = f"{self.id}-title"
        desc_id = f"{self.id}-desc"
        return Markup(
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{label_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{label_id}">{escape(self.title)}</title>'
            f'<desc id="{desc_id}">{escape(self.description)}</desc>'
            f"{_axes(self)}{body}</svg>"
        )

    def png(self) -> bytes:
        return _png(self)


# --------------------------------------------------------------------------- survival


def fit_survival(label: str, samples: Sequence[SurvivalSample]) -> SurvivalCurve:
    """Kaplan-Meier estimate with its 95% band (lifelines' exponential Greenwood interval)."""
    from lifelines import KaplanMeierFitter  # heavy import: only when a dashboard is drawn

    fitter = KaplanMeierFitter(alpha=1 - KM_CONFIDENCE)
    fitter.fit([s.days for s in samples], [s.event for s in samples], label=label)
    survival = fitter.survival_function_[label]
    band = fitter.confidence_interval_survival_function_
    lower, upper = band.iloc[:, 0], band.iloc[:, 1]
    table = fitter.event_table
    points = [
        SurvivalPoint(
            days=float(t),
            survival=float(survival.loc[t]),
            lower=float(lower.loc[t]),
            upper=float(upper.loc[t]),
            at_risk=int(table.loc[t, "at_risk"]),
        )
        for t in survival.index
    ]
    events = sum(1 for s in samples if s.event)
    at_risk = [sum(1 for s in samples if s.days >= day) for day in AT_RISK_DAYS]
    return SurvivalCurve(label, points, events, len(samples), at_risk)


def survival_rows(curves: list[SurvivalCurve]) -> list[list[Cell]]:
    return [
        [
            curve.label,
            round(p.days, 1),
            p.at_risk,
            round(p.survival, 3),
            round(p.lower, 3),
            round(p.upper, 3),
        ]
        for curve in curves
        for p in curve.points
    ]


def _x(value: float, top: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (value / top if top else 0.0)


def _y(fraction: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - fraction)


def _x_max(chart: Chart) -> float:
    days = [p.days for c in chart.curves for p in c.points]
    return max(days, default=0.0) or 1.0


def _survival_svg(chart: Chart) -> str:
    top = _x_max(chart)
    parts = []
    for index, curve in enumerate(chart.curves):
        colour, dash = SERIES_STYLES[index % len(SERIES_STYLES)]
        steps = _steps([(p.days, p.survival) for p in curve.points])
        upper = _steps([(p.days, p.upper) for p in curve.points])
        lower = _steps([(p.days, p.lower) for p in curve.points])
        band = " ".join(f"{_x(d, top):.1f},{_y(v):.1f}" for d, v in upper + lower[::-1])
        line = " ".join(f"{_x(d, top):.1f},{_y(v):.1f}" for d, v in steps)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polygon points="{band}" fill="{colour}" fill-opacity="0.15"/>')
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>'
        )
        last_days, last_value = steps[-1]
        parts.append(
            f'<text x="{min(_x(last_days, top), WIDTH - 120):.1f}" y="{_y(last_value) - 6:.1f}" '
            f'fill="{colour}" font-size="12">{escape(curve.label)}</text>'
        )
    return "".join(parts)


def _steps(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A step function's corners: flat until the next time, then down."""
    corners: list[tuple[float, float]] = []
    for days, value in points:
        if corners:
            corners.append((days, corners[-1][1]))
        corners.append((days, value))
    return corners or [(0.0, 1.0)]


# ------------------------------------------------------------------------------ bars


def _bar_values(chart: Chart) -> list[tuple[str, float]]:
    return [(str(row[0]), float(row[1] or 0)) for row in chart.rows]


def _bars_svg(chart: Chart) -> str:
    values = _bar_values(chart)
    if not values:
        return ""
    top = max(v for _, v in values) or 1.0
    slot = (WIDTH - LEFT - RIGHT) / len(values)
    colour = SERIES_STYLES[0][0]
    parts = []
    for index, (label, value) in enumerate(values):
        x = LEFT + slot * index + slot * 0.15
        y = _y(value / top)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{_y(0) - y:.1f}" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
            f'font-size="12">{value:g}</text>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11">{escape(label)}</text>'
        )
    return "".join(parts)


def _axes(chart: Chart) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    ticks = "".join(
        f'<text x="{LEFT - 6}" y="{_y(f) + 4:.1f}" text-anchor="end" font-size="11">'
        f"{_tick(chart, f)}</text>"
        for f in (0.0, 0.5, 1.0)
    )
    return (
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>'
        f"{ticks}{_day_ticks(chart)}"
        f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="12">{escape(chart.x_label)}</text>'
    )


def _day_ticks(chart: Chart) -> str:
    """Whole-day marks under a survival chart's time axis (bar charts label their bars)."""
    if chart.kind != "survival":
        return ""
    top = _x_max(chart)
    marks = sorted({round(top * quarter / 4) for quarter in range(5)})
    return "".join(
        f'<text x="{_x(day, top):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
        f'font-size="11">{day}</text>'
        for day in marks
    )


def _tick(chart: Chart, fraction: float) -> str:
    if chart.kind == "survival":
        return f"{fraction:.1f}"
    top = max((v for _, v in _bar_values(chart)), default=0.0) or 1.0
    return f"{top * fraction:g}"


# ------------------------------------------------------------------------------- PNG


def _png(chart: Chart) -> bytes:
    """The same figure as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    if chart.kind == "survival":
        for index, curve in enumerate(chart.curves):
            colour, dash = SERIES_STYLES[index % len(SERIES_STYLES)]
            days = [p.days for p in curve.points]
            axes.step(
                days,
                [p.survival for p in curve.points],
                where="post",
                color=colour,
                linestyle="--" if dash else "-",
                label=curve.label,
            )
            axes.fill_between(
                days,
                [p.lower for p in curve.points],
                [p.upper for p in curve.points],
                step="post",
                color=colour,
                alpha=0.15,
            )
        axes.set_ylim(0, 1.05)
        if chart.curves:
            axes.legend()
    else:
        values = _bar_values(chart)
        axes.bar([label for label, _ in values], [v for _, v in values], color=SERIES_STYLES[0][0])
    axes.set_title(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
