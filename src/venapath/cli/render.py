"""A readable text summary of an Assessment: the same content as the JSON, for people."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from venapath.engine.assessment import Assessment, Recommendation
from venapath.scores.base import ScoreResult

_STRENGTH_STYLE = {
    "recommended": "bold green",
    "consider": "yellow",
    "not_recommended": "magenta",
    "contraindicated": "bold red",
}
_URGENCY_STYLE = {"emergency": "bold white on red", "urgent": "bold yellow", "routine": "cyan"}


def render_assessment(
    console: Console, assessment: Assessment, *, show_trace: bool = False
) -> None:
    console.print(_header(assessment))
    for alert in assessment.alerts:
        style = {"critical": "bold red", "warning": "yellow", "info": "blue"}[alert.severity]
        console.print(Text(f"[{alert.severity.upper()}] {alert.message}", style=style))
    if assessment.recommendations:
        console.print(_recommendations(assessment.recommendations))
    else:
        console.print(Text("No recommendation fired.", style="dim"))
    if assessment.contraindications:
        table = Table(title="Contraindications found", title_justify="left", expand=True)
        for column in ("rule", "finding", "limits", "to"):
            table.add_column(column)
        for item in assessment.contraindications:
            table.add_row(
                item.rule_id,
                item.title,
                ", ".join(a.value for a in item.actions),
                f"{item.ceiling.value} ({item.severity})",
            )
        console.print(table)
    if assessment.time_windows:
        console.print(_windows(assessment))
    for score in assessment.scores.values():
        console.print(_score_line(score))
    if assessment.needs_data:
        table = Table(title="Facts that would change the answer", title_justify="left", expand=True)
        table.add_column("fact")
        table.add_column("case field")
        table.add_column("why")
        for need in assessment.needs_data[:25]:
            table.add_row(need.fact, ", ".join(need.settled_by), "; ".join(need.why[:2]))
        console.print(table)
        if len(assessment.needs_data) > 25:
            console.print(
                Text(
                    f"... and {len(assessment.needs_data) - 25} more (see --format json)",
                    style="dim",
                )
            )
    for error in assessment.errors:
        console.print(Text(f"RULE ERROR {error.rule_id}: {error.message}", style="bold red"))
    if show_trace:
        table = Table(title="Rule trace", title_justify="left", expand=True)
        table.add_column("rule")
        table.add_column("outcome")
        table.add_column("why")
        for entry in assessment.trace:
            table.add_row(entry.rule_id, entry.outcome.value, "; ".join(entry.reasons))
        console.print(table)
    console.print()


def _header(assessment: Assessment) -> Panel:
    pathways = ", ".join(f"{p.title} ({p.status.value})" for p in assessment.pathways) or "none"
    urgency = assessment.urgency.value if assessment.urgency else "none"
    body = Group(
        Text.assemble(("Pathways: ", "bold"), pathways),
        Text.assemble(("Urgency: ", "bold"), (urgency, _URGENCY_STYLE.get(urgency, ""))),
        Text(
            f"Evaluated {assessment.evaluated_at.isoformat()} with knowledge "
            f"{assessment.knowledge_version}. Decision support, not a verdict: "
            "confirm with the treating team.",
            style="dim",
        ),
    )
    return Panel(body, title=f"VenaPath - case {assessment.case_id}", title_align="left")


def _recommendations(recommendations: list[Recommendation]) -> Group:
    """One block per recommendation: action, strength and urgency first, then why and evidence."""
    blocks: list[Text] = [Text("Recommendations", style="bold underline")]
    for number, rec in enumerate(recommendations, start=1):
        block = Text()
        block.append(f"{number:>2}. {rec.action.value.replace('_', ' ').upper()}  ", style="bold")
        block.append(rec.strength.value, style=_STRENGTH_STYLE[rec.strength.value])
        block.append("  ")
        block.append(rec.urgency.value, style=_URGENCY_STYLE[rec.urgency.value])
        block.append(f"  [{rec.rule_id}]\n", style="dim")
        block.append(f"    {rec.title}\n")
        block.append(f"    Why: {rec.rationale}\n")
        for key, value in rec.detail.items():
            block.append(f"    {key.replace('_', ' ').capitalize()}: {value}\n", style="italic")
        if rec.capped_by:
            block.append(
                f"    Lowered from {rec.rule_strength.value} by: {', '.join(rec.capped_by)}\n",
                style="magenta",
            )
        if rec.pending_contraindications:
            block.append(
                "    Provisional: not yet checked against "
                f"{', '.join(rec.pending_contraindications)} (see the facts below)\n",
                style="yellow",
            )
        for citation in rec.citations:
            block.append(
                f"    - {citation.id} ({citation.year or 'n.d.'}, {citation.kind.value.replace('_', ' ')}): "
                f"{citation.evidence}\n",
                style="dim",
            )
        blocks.append(block)
    return Group(*blocks)


def _windows(assessment: Assessment) -> Table:
    table = Table(title="Time windows", title_justify="left", expand=True)
    for column in ("window", "limit", "elapsed", "status", "source"):
        table.add_column(column)
    for window in assessment.time_windows:
        bound = "<=" if window.bound == "upper" else ">="
        elapsed = "unknown" if window.elapsed is None else f"{window.elapsed:g} {window.unit}"
        table.add_row(
            window.label,
            f"{bound} {window.limit:g} {window.unit}",
            elapsed,
            window.status.value,
            ", ".join(c.id for c in window.citations),
        )
    return table


def _score_line(score: ScoreResult) -> Text:
    if score.points is not None:
        value = f"{score.points}"
    else:
        value = f"{score.min_points}..{score.max_points} (missing: {', '.join(score.missing)})"
    band = score.band or f"one of {', '.join(score.possible_bands)}"
    return Text.assemble(
        (f"Score {score.title}: ", "bold"),
        f"{value} -> {band}",
        (f"  [{score.citation.id}]", "dim"),
    )
