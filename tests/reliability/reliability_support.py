"""The attacks of the 2026-12 security review, as request bodies, and an app to send them to."""

from __future__ import annotations

import json
from typing import Any

ALIAS_BOMB = (
    "format_version: 1\nrefs:\n"
    '  a0: &a0 ["xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx",'
    '"xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx"]\n'
    + "".join(
        f"  a{level}: &a{level} [{','.join([f'*a{level - 1}'] * 10)}]\n" for level in range(1, 7)
    )
    + "case_id: *a6\n"
)
"""534 bytes in the review: 10^7 leaves once expanded."""

YAML_NESTED = "[" * 1000 + "]" * 1000
JSON_NESTED = {depth: "[" * depth + "]" * depth for depth in (1_000, 10_000, 100_000)}


def observation(index: int) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "id": f"o{index}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "26515-7"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-11-01T08:00:00Z",
            "valueQuantity": {"value": 200 + index % 50, "unit": "10*9/L"},
        }
    }


def bundle(entries: int) -> str:
    """A Bundle of minimal Observations (the review sent 10,000)."""
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}]
            + [observation(i) for i in range(entries)],
        }
    )
