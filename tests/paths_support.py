"""Repository paths the tests read (examples, data). Kept out of conftest.py: several
conftest modules exist (tests/, tests/security/, tests/web/), so none is imported by name."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "cases"
