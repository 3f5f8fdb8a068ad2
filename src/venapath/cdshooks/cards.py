"""Assessments as CDS Hooks cards.

patient-view: one card per pathway that applies, with the urgency, time windows and the
cited recommendations; one card for contraindications found. No pathway, no card: the
specification reads an empty list as "no advice", which is the truth for such a patient.

order-select / order-sign: for each drafted order VenaPath recognises (a thrombolytic, an
anticoagulant, a venous procedure), a `critical` card per contraindication that applies,
with override reasons and a suggestion to withdraw the order; a `warning` when a
contraindication cannot be checked for lack of data, or when the pathway advises against
the ordered action.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from venapath.cdshooks.models import SUMMARY_LIMIT, Action, Card, Coding, Link, Source, Suggestion
from venapath.domain.vocabulary import Action as ClinicalAction
from venapath.domain.vocabulary import Strength, Urgency
from venapath.engine.assessment import (
    Assessment,
    CitationOut,
    Contraindication,
    NeedsData,
    Outcome,
    PathwayStatus,
    Recommendation,
)
from venapath.fhir.orders import DraftOrder
from venapath.kb.model import KnowledgeBase

PATHWAY_SYSTEM = "urn:venapath:pathway"
OVERRIDE_SYSTEM = "urn:venapath:override-reason"
OVERRIDE_REASONS = [
    Coding(system=OVERRIDE_SYSTEM, code="benefit-outweighs-risk", display="Benefit outweighs risk"),
    Coding(
        system=OVERRIDE_SYSTEM,
        code="contraindication-not-present",
        display="The contraindication does not apply (record is out of date)",
    ),
    Coding(
        system=OVERRIDE_SYSTEM,
        code="specialist-decision",
        display="Decided with the specialist team",
    ),
]
_INDICATOR = {Urgency.EMERGENCY: "critical", Urgency.URGENT: "warning", Urgency.ROUTINE: "info"}
_IN_FAVOUR = frozenset({Strength.RECOMMENDED, Strength.CONSIDER})


@dataclass(frozen=True)
class IssuedCard:
    """A card and what it carries: the rules behind it and the actions it concerns. Feedback
    on the card (accepted, overridden) is attributed to these rules."""

    card: Card
    rule_ids: tuple[str, ...]
    actions: tuple[str, ...]


def _issued(card: Card, rule_ids: Iterable[str], actions: Iterable[ClinicalAction]) -> IssuedCard:
    """The card with its rules and actions, each named once, in the order first met."""
    return IssuedCard(
        card, tuple(dict.fromkeys(rule_ids)), tuple(dict.fromkeys(a.value for a in actions))
    )


def new_uuid() -> str:
    return str(uuid.uuid4())


def _source(kb_version: str, pathway: str | None = None, title: str | None = None) -> Source:
    topic = Coding(system=PATHWAY_SYSTEM, code=pathway, display=title) if pathway else None
    return Source(label=f"VenaPath (knowledge {kb_version})", topic=topic)


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _cite(citations: Iterable[CitationOut]) -> str:
    return "; ".join(
        f"{c.id} ({c.evidence}{', ' + c.locator if c.locator else ''})" for c in citations
    )


def _links(citations: Iterable[CitationOut]) -> list[Link] | None:
    links: dict[str, Link] = {}
    for citation in citations:
        if citation.url and citation.url not in links:
            links[citation.url] = Link(
                label=f"{citation.id}: {citation.title}"[:120], url=citation.url
            )
    return list(links.values())[:5] or None


OPEN_IN_APP_LABEL = "Open in VenaPath"


def open_in_app_link(launch_url: str, patient_id: str) -> Link:
    """A SMART link to VenaPath's launch URL (CDS Hooks 2.0 `links`, type `smart`).

    The EHR adds `iss` and `launch` when the user follows it, and hands `appContext` back to
    VenaPath in the token response, where the launch checks it names the same patient."""
    return Link(
        label=OPEN_IN_APP_LABEL,
        url=launch_url,
        type="smart",
        appContext=json.dumps({"patient": patient_id}, separators=(",", ":")),
    )


# ------------------------------------------------------------------------ patient-view


def patient_view_cards(
    assessment: Assessment, kb: KnowledgeBase, open_in_app: Link | None = None
) -> list[IssuedCard]:
    """One card per pathway that applies (and one for contraindications found); each
    pathway card carries `open_in_app`, the SMART link to the full view, when given."""
    cards = []
    for pathway in assessment.pathways:
        if pathway.status is not PathwayStatus.APPLIES:
            continue
        recommendations = [r for r in assessment.recommendations if r.pathway == pathway.id]
        rule_ids = {rule.id for rule in kb.rules_by_pathway.get(pathway.id, ())}
        needs = [n for n in assessment.needs_data if rule_ids & set(n.rules)]
        card = _pathway_card(assessment, pathway.id, pathway.title, recommendations, needs)
        if open_in_app is not None:
            card = card.model_copy(update={"links": [open_in_app, *(card.links or [])]})
        cards.append(
            _issued(card, (r.rule_id for r in recommendations), (r.action for r in recommendations))
        )
    if assessment.contraindications and cards:
        found = assessment.contraindications
        cards.append(
            _issued(
                _contraindications_card(assessment),
                (c.rule_id for c in found),
                (action for c in found for action in c.actions),
            )
        )
    return cards


def _pathway_card(
    assessment: Assessment,
    pathway_id: str,
    title: str,
    recommendations: list[Recommendation],
    needs: list[NeedsData],
) -> Card:
    in_favour = [r for r in recommendations if r.strength in _IN_FAVOUR]
    urgency = max((r.urgency for r in in_favour), key=lambda u: u.rank, default=None)
    lead = in_favour[0] if in_favour else None
    if lead is not None and urgency is not None:
        summary = f"{title}: {urgency.value}; {lead.strength.value.replace('_', ' ')}: {_words(lead.action)}"
        if len(in_favour) > 1:
            summary += f" (+{len(in_favour) - 1} more)"
    else:
        summary = f"{title}: no action in favour yet; see what data is missing"
    citations = [c for r in recommendations for c in r.citations]
    return Card(
        uuid=new_uuid(),
        summary=_summary(summary),
        detail=_pathway_detail(assessment, recommendations, needs),
        indicator=_INDICATOR[urgency] if urgency is not None else "info",
        source=_source(assessment.knowledge_version, pathway_id, title),
        links=_links(citations),
    )


def _words(action: ClinicalAction) -> str:
    return action.value.replace("_", " ")


def _pathway_detail(
    assessment: Assessment, recommendations: list[Recommendation], needs: list[NeedsData]
) -> str:
    lines = [
        f"**Urgency:** {assessment.urgency.value if assessment.urgency else 'none stated'}",
        "",
    ]
    windows = [w for w in assessment.time_windows if _window_in(w.actions, recommendations)]
    if windows:
        lines += ["**Time windows**", ""]
        for window in windows:
            elapsed = "unknown" if window.elapsed is None else f"{window.elapsed:g} {window.unit}"
            lines.append(
                f"- {window.label}: limit {window.limit:g} {window.unit} ({window.bound} bound); "
                f"elapsed {elapsed}; {window.status.value}"
            )
        lines.append("")
    lines += ["**Recommendations**", ""]
    for rec in recommendations:
        certainty = " (provisional)" if rec.certainty.value == "provisional" else ""
        capped = f" lowered by {', '.join(rec.capped_by)};" if rec.capped_by else ""
        lines.append(
            f"- **{rec.strength.value.replace('_', ' ')}{certainty}: {_words(rec.action)}** "
            f"({rec.urgency.value};{capped} rule {rec.rule_id}). {rec.rationale} "
            f"*Evidence:* {_cite(rec.citations)}" + _to_check(rec)
        )
    if needs:
        lines += ["", "**Data that would change this advice**", ""]
        lines += [f"- {n.description} ({', '.join(n.settled_by)})" for n in needs[:10]]
    alerts = [a for a in assessment.alerts if a.id != "ENGINE-NO-PATHWAY"]
    if alerts:
        lines += ["", "**Alerts**", ""]
        lines += [f"- {a.message} (alert {a.id})" for a in alerts]
    lines += [
        "",
        f"_Knowledge version {assessment.knowledge_version}; decision support, not a verdict._",
    ]
    return "\n".join(lines)


def _to_check(rec: Recommendation) -> str:
    """The unknown safety facts a provisional option names (never dropped for them)."""
    if not rec.unchecked_facts:
        return ""
    return " *Check before acting:* " + ", ".join(n.replace("_", " ") for n in rec.unchecked_facts)


def _window_in(actions: list[ClinicalAction], recommendations: list[Recommendation]) -> bool:
    recommended = {r.action for r in recommendations}
    return bool(recommended & set(actions))


def _contraindications_card(assessment: Assessment) -> Card:
    found = assessment.contraindications
    titles = "; ".join(c.title for c in found)
    lines = [
        f"- **{c.title}** ({c.rule_id}): caps {', '.join(_words(a) for a in c.actions)} at "
        f"{c.ceiling.value.replace('_', ' ')}. {c.rationale} *Evidence:* {_cite(c.citations)}"
        for c in found
    ]
    return Card(
        uuid=new_uuid(),
        summary=_summary(f"Contraindication: {titles}"),
        detail="\n".join(lines),
        indicator="warning",
        source=_source(assessment.knowledge_version),
        links=_links(c for item in found for c in item.citations),
    )


# ------------------------------------------------------------------ order-select / sign


def order_cards(
    assessment: Assessment, orders: list[DraftOrder], kb: KnowledgeBase
) -> list[IssuedCard]:
    """Each card concerns the ordered action and carries the rules that raised it."""
    cards: list[IssuedCard] = []
    for order in orders:
        ordered = (order.action,)
        fired = [c for c in assessment.contraindications if order.action.capped_by(c.actions)]
        cards += [
            _issued(_contraindicated_card(assessment, order, c), (c.rule_id,), ordered)
            for c in fired
        ]
        pending = _unchecked_contraindications(assessment, order.action, kb)
        if pending:
            card = _unchecked_card(assessment, order, pending)
            cards.append(_issued(card, (rule_id for rule_id, _, _ in pending), ordered))
        against = [
            r
            for r in assessment.recommendations
            if _concerns(order.action, r.action) and r.rule_strength is Strength.NOT_RECOMMENDED
        ]
        if against:
            card = _advised_against_card(assessment, order, against)
            cards.append(_issued(card, (r.rule_id for r in against), ordered))
    return cards


def _concerns(ordered: ClinicalAction, advised: ClinicalAction) -> bool:
    """Advice on `advised` concerns an order for `ordered`: the same action, or a site- or
    agent-level refinement of it (an order for a thrombectomy does not name the vessel, so
    advice against sinus thrombectomy concerns it)."""
    return advised is ordered or advised.general is ordered


def _contraindicated_card(
    assessment: Assessment, order: DraftOrder, found: Contraindication
) -> Card:
    detail = (
        f"**{found.title}** ({found.rule_id}, {found.severity}) applies to "
        f"{_words(order.action)}: it caps it at {found.ceiling.value.replace('_', ' ')}.\n\n"
        f"{found.rationale}\n\n*Evidence:* {_cite(found.citations)}\n\n"
        f"_Knowledge version {assessment.knowledge_version}._"
    )
    withdraw = Suggestion(
        label=f"Withdraw the order: {order.label}"[:200],
        uuid=new_uuid(),
        isRecommended=True,
        actions=[
            Action(
                type="delete", description=f"Remove {order.reference}", resourceId=[order.reference]
            )
        ],
    )
    return Card(
        uuid=new_uuid(),
        summary=_summary(f"Contraindicated: {order.label} — {found.title}"),
        detail=detail,
        indicator="critical",
        source=_source(assessment.knowledge_version),
        suggestions=[withdraw],
        selectionBehavior="at-most-one",
        overrideReasons=OVERRIDE_REASONS,
        links=_links(found.citations),
    )


def _unchecked_contraindications(
    assessment: Assessment, action: ClinicalAction, kb: KnowledgeBase
) -> list[tuple[str, str, list[str]]]:
    """Safety rules naming `action` whose outcome is unknown: (rule id, title, reasons)."""
    unknown = []
    for entry in assessment.trace:
        if entry.outcome is not Outcome.UNKNOWN:
            continue
        rule = kb.rule(entry.rule_id)
        block = rule.contraindication
        if block is not None and action.capped_by(block.actions):
            unknown.append((rule.id, rule.title, entry.reasons))
    return unknown


def _unchecked_card(
    assessment: Assessment, order: DraftOrder, pending: list[tuple[str, str, list[str]]]
) -> Card:
    lines = [
        f"- **{title}** ({rule_id}): {'; '.join(reasons)}" for rule_id, title, reasons in pending
    ]
    return Card(
        uuid=new_uuid(),
        summary=_summary(
            f"{order.label}: {len(pending)} contraindication check(s) need data before signing"
        ),
        detail="These contraindications could not be ruled out from the record:\n\n"
        + "\n".join(lines)
        + f"\n\n_Knowledge version {assessment.knowledge_version}._",
        indicator="warning",
        source=_source(assessment.knowledge_version),
    )


def _advised_against_card(
    assessment: Assessment, order: DraftOrder, against: list[Recommendation]
) -> Card:
    lines = [
        f"- {r.title} ({r.rule_id}). {r.rationale} *Evidence:* {_cite(r.citations)}"
        for r in against
    ]
    return Card(
        uuid=new_uuid(),
        summary=_summary(f"{order.label}: not recommended for this patient ({against[0].rule_id})"),
        detail="\n".join(lines),
        indicator="warning",
        source=_source(assessment.knowledge_version, against[0].pathway),
        links=_links(c for r in against for c in r.citations),
    )
