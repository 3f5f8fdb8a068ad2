"""Value sets that are also read from imaging reports (`also_read_in: [DiagnosticReport]`).

A thrombosis value set names DiagnosticReport once, beside `resource: Condition`, and its codes
then read a report's conclusionCode too: one list of codes, never a copy that could drift. The
loader refuses the declaration anywhere it would mean something the mapping does not read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from venapath.kb.loader import DEFAULT_KB_DIR, KnowledgeBaseError, load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import DiagnosisTarget, Resource

CONDITIONS = Path("value_sets") / "conditions.yaml"


def _edited_refusal(tmp_path: Path, value_set_id: str, change: dict[str, Any]) -> str:
    kb_dir = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, kb_dir)
    path = kb_dir / CONDITIONS
    value_sets = yaml.safe_load(path.read_text())
    edited = next(v for v in value_sets if v["id"] == value_set_id)
    edited.update(change)
    path.write_text(yaml.safe_dump(value_sets, sort_keys=False))
    with pytest.raises(KnowledgeBaseError) as raised:
        load_knowledge_base(kb_dir)
    return "\n".join(str(problem) for problem in raised.value.problems)


def test_the_acute_thrombosis_value_sets_are_read_from_reports(kb: KnowledgeBase) -> None:
    read = {v.id for v in kb.value_sets if Resource.DIAGNOSTIC_REPORT in v.also_read_in}
    assert {
        "leg-dvt-acute-femoral-snomed",
        "cvt-icd10cm",
        "arm-dvt-acute-axillary-vein-icd10cm",
    } <= read
    for value_set in kb.value_sets:
        if value_set.id in read:
            assert value_set.resource is Resource.CONDITION
            assert isinstance(value_set.target, DiagnosisTarget)
            assert value_set.target.chronic is not True
    assert "leg-dvt-chronic-femoral-vein-icd10cm" not in read


@pytest.mark.parametrize(
    ("value_set_id", "change", "expected"),
    [
        (
            "antiphospholipid-syndrome-icd10cm",
            {"also_read_in": ["DiagnosticReport"]},
            "only for a diagnosis read from Condition",
        ),
        ("cvt-icd10cm", {"also_read_in": ["Condition"]}, "repeats a resource type"),
        (
            "cvt-icd10cm",
            {"also_read_in": ["Observation"]},
            "Observation cannot carry a value set's codes",
        ),
        (
            "cvt-icd10cm",
            {"resource": "DiagnosticReport", "also_read_in": []},
            "read only through another value set's also_read_in",
        ),
    ],
)
def test_a_declaration_the_mapping_would_not_read_is_refused(
    tmp_path: Path, value_set_id: str, change: dict[str, Any], expected: str
) -> None:
    refusal = _edited_refusal(tmp_path, value_set_id, change)
    assert value_set_id in refusal
    assert expected in refusal
