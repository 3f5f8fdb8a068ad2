"""docs/security.md shows the matrix the service enforces: regenerate it when it is stale."""

from __future__ import annotations

from pathlib import Path

from venapath.identity.docs import BEGIN, END, generated_block

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_access_matrix_in_the_docs_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == generated_block(), (
        "docs/security.md is stale: run `python -m venapath.identity.docs docs/security.md`"
    )
