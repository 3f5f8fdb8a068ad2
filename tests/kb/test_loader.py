"""The loader refuses a rule it cannot vouch for, naming the rule and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from venapath.kb.loader import DEFAULT_KB_DIR, KnowledgeBaseError, load_knowledge_base
from venapath.kb.model import KnowledgeBase

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml when present, as the loader itself uses: the pure-Python parser spends seconds on
the rule files these tests edit."""


def _read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LOADER)


def _write_yaml(path: Path, data: object) -> None:
    path.write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False))


def _copy_kb(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, target)
    return target


def _edit_rule(
    kb_dir: Path, rule_id: str, change: dict[str, object] | None, drop: str | None = None
) -> None:
    for path in (kb_dir / "rules").glob("*.yaml"):
        rules = _read_yaml(path)
        for rule in rules:
            if rule["id"] == rule_id:
                if drop:
                    rule.pop(drop)
                rule.update(change or {})
                _write_yaml(path, rules)
                return
    raise AssertionError(f"no rule {rule_id}")


def _refusal(kb_dir: Path) -> str:
    with pytest.raises(KnowledgeBaseError) as raised:
        load_knowledge_base(kb_dir)
    return "\n".join(str(problem) for problem in raised.value.problems)


def test_bundled_knowledge_base_loads_with_a_versioned_hash(kb: KnowledgeBase) -> None:
    assert kb.version.startswith(kb.manifest.version + "+")
    assert len(kb.version.split("+")[1]) == 12
    assert len(kb.rules) >= 60
    assert all(rule.citations for rule in kb.rules)


def test_every_rule_cites_a_source_with_its_evidence(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        for citation in rule.citations:
            assert citation.source.id in kb.sources
            assert citation.evidence.strip()


def test_clinic_protocols_are_marked_as_protocols_not_guidelines(kb: KnowledgeBase) -> None:
    protocol = kb.sources["HUBBARD-CCSVI-RESTENOSIS"]
    assert protocol.kind.value == "clinic_protocol"
    for rule in kb.rules:
        if any(c.source.id == protocol.id for c in rule.citations):
            assert all(
                "protocol" in c.evidence.lower()
                for c in rule.citations
                if c.source.id == protocol.id
            )


def test_content_change_changes_the_knowledge_version(tmp_path: Path, kb: KnowledgeBase) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(
        kb_dir, "CVT-DECOMPRESSIVE-SURGERY", {"title": "Decompressive surgery (edited title)"}
    )
    edited = load_knowledge_base(kb_dir)
    assert edited.manifest.version == kb.manifest.version
    assert edited.version != kb.version


def test_rule_without_a_source_is_refused(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(kb_dir, "CVT-DECOMPRESSIVE-SURGERY", {"citations": []})
    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert "citations" in message


def test_rule_citing_an_unknown_source_is_refused(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(
        kb_dir,
        "CVT-DECOMPRESSIVE-SURGERY",
        {"citations": [{"source": "MADE-UP-2099", "evidence": "Class I"}]},
    )
    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert "MADE-UP-2099" in message


def test_rule_reading_an_unknown_fact_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(kb_dir, "CVT-DECOMPRESSIVE-SURGERY", {"when": {"fact": "herniaton"}})
    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert "unknown fact 'herniaton'" in message
    assert "herniation" in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"all": []}, "non-empty list"),
        ({"all": [{"fact": "herniation"}], "any": [{"fact": "coma"}]}, "must stand alone"),
        ({"fact": "herniation", "gt": 3}, "takes 'is: true|false'"),
        ({"fact": "gcs", "is": True}, "takes lt/le/gt/ge/eq/ne"),
        ({"fact": "gcs", "lt": "eight"}, "expected a number"),
        ({"fact": "symptom_response", "eq": "excellent"}, "not a value of 'symptom_response'"),
        ({"fact": "gcs", "lt": 9, "gt": 3}, "one operator per test"),
        ({"whenever": True}, "expected one of all/any/not/fact"),
    ],
)
def test_malformed_condition_is_refused_naming_rule_and_place(
    tmp_path: Path, condition: dict[str, object], expected: str
) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(kb_dir, "CVT-DECOMPRESSIVE-SURGERY", {"when": condition})
    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert expected in message


def test_contraindication_must_belong_to_safety_and_carry_its_block(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(kb_dir, "CI-SIR-ACTIVE-BLEEDING", {"pathway": "leg_dvt"}, drop="contraindication")
    message = _refusal(kb_dir)
    assert "CI-SIR-ACTIVE-BLEEDING" in message
    assert "needs a 'contraindication' block" in message
    assert "belong to pathway 'safety'" in message


def test_unknown_action_word_is_refused(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(
        kb_dir,
        "CVT-DECOMPRESSIVE-SURGERY",
        {"recommend": {"action": "craniotomy", "strength": "recommended", "urgency": "emergency"}},
    )
    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert "action" in message


def test_duplicate_rule_ids_and_dangling_disagreements_are_refused(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(kb_dir, "CVT-DECOMPRESSIVE-SURGERY", {"id": "CVT-SUSPECTED-IMAGING"})
    _edit_rule(kb_dir, "CVT-NO-DOAC-FIRST", {"disagrees_with": ["CVT-GONE"]})
    message = _refusal(kb_dir)
    assert "duplicate rule id" in message
    assert "CVT-GONE" in message


def test_invalid_yaml_is_refused_with_the_file(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    (kb_dir / "rules" / "cvt.yaml").write_text("- id: [unclosed\n")
    assert "rules/cvt.yaml: invalid YAML" in _refusal(kb_dir)


def test_time_window_clock_must_be_a_number_fact_with_its_unit(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    path = kb_dir / "time_windows.yaml"
    windows = _read_yaml(path)
    windows[0]["clock"] = "herniation"
    windows[1]["unit"] = "h"  # its clock counts days
    _write_yaml(path, windows)
    message = _refusal(kb_dir)
    assert "is not a number fact" in message
    assert "differs from the clock" in message


def test_rule_documentation_is_generated_and_current(kb: KnowledgeBase) -> None:
    from venapath.kb.docs import render_markdown

    committed = (Path(__file__).resolve().parents[2] / "docs" / "knowledge-base.md").read_text()
    assert committed == render_markdown(kb), "run `make docs` to regenerate docs/knowledge-base.md"


# --------------------------------------------- evidence on every rule (KB 0.5.0, issue 14)


def test_every_citation_says_where_what_and_when(kb: KnowledgeBase) -> None:
    """Each rule and time-window citation carries a locator, a quote or paraphrase, and the
    date it was last read at the source."""
    citations = [c for rule in kb.rules for c in rule.citations]
    citations += [c for window in kb.time_windows for c in window.citations]
    for citation in citations:
        assert citation.locator, citation.source.id
        assert citation.quote, citation.source.id
        assert len(citation.quote) >= 10, citation.source.id
        assert citation.checked is not None, citation.source.id


def test_a_citation_without_its_quote_is_refused(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    path = kb_dir / "rules" / "cvt.yaml"
    rules = _read_yaml(path)
    rule = next(r for r in rules if r["id"] == "CVT-DECOMPRESSIVE-SURGERY")
    del rule["citations"][0]["quote"]
    del rule["citations"][0]["checked"]
    _write_yaml(path, rules)

    message = _refusal(kb_dir)
    assert "CVT-DECOMPRESSIVE-SURGERY" in message
    assert "lacks quote, checked" in message


def test_a_treatment_recommended_on_case_reports_alone_is_refused(tmp_path: Path) -> None:
    """The epidural blood patch in CVT rests on case reports, series and a narrative review:
    "recommended" is refused, "consider" is the most it may say."""
    kb_dir = _copy_kb(tmp_path)
    path = kb_dir / "rules" / "intracranial_hypotension.yaml"
    rules = _read_yaml(path)
    rule = next(r for r in rules if r["id"] == "IH-CVT-TREAT-LEAK")
    rule["recommend"]["strength"] = "recommended"
    _write_yaml(path, rules)

    message = _refusal(kb_dir)
    assert "IH-CVT-TREAT-LEAK" in message
    assert "recommends 'epidural_blood_patch' on case_report, review alone" in message


def test_a_clinic_protocol_cannot_recommend_a_retreatment(tmp_path: Path) -> None:
    kb_dir = _copy_kb(tmp_path)
    _edit_rule(
        kb_dir,
        "FU-VENOPLASTY-SLIGHT-WAIT",
        {
            "recommend": {
                "action": "retreatment",
                "strength": "recommended",
                "urgency": "routine",
            }
        },
    )
    assert "clinic_protocol alone" in _refusal(kb_dir)


def test_safety_advice_may_stay_recommended_on_a_practice_page(kb: KnowledgeBase) -> None:
    """Advice that errs towards care is exempt: "call emergency services" from the seed 000
    practice page stays recommended."""
    red_flags = kb.rule("CVT-SUSPECTED-RED-FLAGS")
    assert red_flags.recommend is not None
    assert red_flags.recommend.strength.value == "recommended"
    assert {c.source.kind.value for c in red_flags.citations} == {"practice_statement"}


def test_no_bundled_treatment_is_recommended_on_ungraded_sources_alone(kb: KnowledgeBase) -> None:
    ungraded = {"case_report", "practice_statement", "clinic_protocol", "patient_information"}
    ungraded |= {"review"}
    safety_net = {"emergency_care", "diagnostic_imaging", "laboratory_workup"}
    safety_net |= {"specialist_referral"}
    for rule in kb.rules:
        spec = rule.recommend
        if spec is None or spec.strength.value != "recommended":
            continue
        if spec.action.general.value in safety_net:  # site-level imaging refines imaging
            continue
        kinds = {c.source.kind.value for c in rule.citations}
        assert not kinds <= ungraded, rule.id
