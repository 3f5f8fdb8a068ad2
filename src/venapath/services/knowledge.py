"""The knowledge base as plain JSON-ready data, for the REST API and exports."""

from __future__ import annotations

from typing import Any

from venapath.kb.conditions import condition_data
from venapath.kb.model import Citation, KnowledgeBase, Pathway, Rule


def summary(kb: KnowledgeBase) -> dict[str, Any]:
    return {
        "name": kb.manifest.name,
        "version": kb.version,
        "released": kb.manifest.released,
        "description": kb.manifest.description,
        "counts": {
            "pathways": len(kb.pathways),
            "rules": len(kb.rules),
            "sources": len(kb.sources),
            "time_windows": len(kb.time_windows),
            "value_sets": len(kb.value_sets),
        },
    }


def citation_view(citation: Citation) -> dict[str, Any]:
    return {
        "source": citation.source.id,
        "title": citation.source.title,
        "evidence": citation.evidence,
        "locator": citation.locator,
    }


def rule_view(rule: Rule) -> dict[str, Any]:
    block = rule.recommend or rule.contraindication or rule.alert
    return {
        "id": rule.id,
        "pathway": rule.pathway,
        "kind": rule.kind.value,
        "title": rule.title,
        "when": condition_data(rule.condition),
        "provided": None if rule.provided is None else condition_data(rule.provided),
        "facts": sorted(rule.facts),
        "does": block.model_dump(mode="json") if block is not None else None,
        "rationale": rule.rationale,
        "citations": [citation_view(c) for c in rule.citations],
        "disagrees_with": list(rule.disagrees_with),
    }


def pathway_view(pathway: Pathway, kb: KnowledgeBase) -> dict[str, Any]:
    return {
        "id": pathway.id,
        "title": pathway.title,
        "description": pathway.description,
        "applies_when": condition_data(pathway.condition),
        "rules": [rule.id for rule in kb.rules_by_pathway.get(pathway.id, ())],
    }
