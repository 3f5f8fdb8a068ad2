"""Shared fixtures: the bundled knowledge base, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "cases"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()
