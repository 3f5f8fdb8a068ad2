"""The GuidanceResponse: valid R4, the knowledge version as module, nothing dropped."""

from __future__ import annotations

from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from paths_support import EXAMPLES
from venapath.fhir.guidance import guidance_response
from venapath.kb.model import KnowledgeBase
from venapath.services.case_input import load_case_file
from venapath.services.evaluation import assess_case


def test_every_example_case_gives_a_valid_guidance_response(kb: KnowledgeBase) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assessment = assess_case(load_case_file(path), kb=kb, trace=False)
        data = guidance_response(assessment, kb, "p1")
        GuidanceResponse.model_validate(data)
        assert data["moduleUri"].endswith(assessment.knowledge_version)
        actions = data["contained"][0].get("action", [])
        assert len(actions) == len(assessment.recommendations)
        for action, recommendation in zip(actions, assessment.recommendations, strict=True):
            assert action["id"] == recommendation.rule_id
            assert len(action["documentation"]) == len(recommendation.citations)
        if assessment.needs_data:
            assert data["status"] == "data-required"
            notes = " ".join(note["text"] for note in data["note"])
            assert all(need.fact in notes for need in assessment.needs_data)
