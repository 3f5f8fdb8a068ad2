"""The knowledge-base browser: every rule with its condition, sources and evidence as the
source states it; sources that disagree side by side; the knowledge version on every page.
No patient data: any signed-in role that may read the knowledge base sees it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.domain.access import Permission
from venapath.domain.facts import catalogue
from venapath.errors import NotFoundError
from venapath.kb.conditions import All, AnyOf, Condition, Leaf, Not
from venapath.kb.model import KnowledgeBase, Rule
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render


def build_knowledge_router(kb: KnowledgeBase) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    rules_by_id = {rule.id: rule for rule in kb.rules}

    @router.get("/knowledge", response_class=HTMLResponse)
    def knowledge_index(request: Request, pathway: str = "", q: str = "") -> HTMLResponse:
        principal = page_principal(request, Permission.KNOWLEDGE_READ)
        rules = [r for r in kb.rules if _matches(r, pathway, q[:100])]
        context = page_context(
            request,
            principal,
            kb,
            kb=kb,
            rules=rules,
            pathway=pathway,
            q=q[:100],
            pathway_ids=sorted({r.pathway for r in kb.rules}),
        )
        return HTMLResponse(render("knowledge_index.html", context))

    @router.get("/knowledge/rules/{rule_id}", response_class=HTMLResponse)
    def knowledge_rule(request: Request, rule_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.KNOWLEDGE_READ)
        rule = rules_by_id.get(rule_id)
        if rule is None:
            raise NotFoundError("rule", rule_id[:80])
        others = [rules_by_id[i] for i in rule.disagrees_with if i in rules_by_id]
        windows = [w for w in kb.time_windows if w.pathway == rule.pathway]
        context = page_context(
            request,
            principal,
            kb,
            rule=rule,
            condition=condition_outline(rule.condition),
            disagreeing=others,
            windows=windows,
        )
        return HTMLResponse(render("knowledge_rule.html", context))

    return router


def _matches(rule: Rule, pathway: str, query: str) -> bool:
    if pathway and rule.pathway != pathway:
        return False
    if not query:
        return True
    text = f"{rule.id} {rule.title} {rule.rationale}".lower()
    return all(word in text for word in query.lower().split())


def condition_outline(condition: Condition) -> dict[str, object]:
    """A condition as a tree a template can draw: `{"op": "all of", "children": [...]}` or
    `{"text": "gcs < 9", "fact": "Glasgow Coma Scale score"}`."""
    if isinstance(condition, Leaf):
        definition = catalogue().get(condition.fact)
        return {"text": condition.describe(), "fact": definition.description if definition else ""}
    if isinstance(condition, Not):
        return {"op": "not", "children": [condition_outline(condition.child)]}
    op = "all of" if isinstance(condition, All) else "any of"
    assert isinstance(condition, All | AnyOf)
    return {"op": op, "children": [condition_outline(child) for child in condition.children]}
