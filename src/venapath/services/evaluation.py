"""Evaluate a case: the one service every entry point (CLI, REST, CDS Hooks, web) calls."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from venapath.domain.case import Case
from venapath.domain.facts import FactValue, derive_facts
from venapath.engine.assessment import Assessment
from venapath.engine.evaluate import evaluate
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase


def assess_case(
    case: Case, *, now: datetime | None = None, kb: KnowledgeBase | None = None, trace: bool = True
) -> Assessment:
    """Derive facts from `case` and evaluate them.

    The clock is the case's own `as_of` when it has one (so a stored case re-evaluates to the
    same answer), else `now`, else the current time.
    """
    knowledge = kb or load_knowledge_base()
    moment = case.as_of or now or datetime.now(UTC)
    facts: dict[str, FactValue] = derive_facts(case, moment)
    return evaluate(knowledge, facts, moment, case_id=case.case_id, trace=trace)


def knowledge_base(directory: Path | None = None) -> KnowledgeBase:
    return load_knowledge_base(directory)
