"""Hand-built Bulk Data exports for the screen's differential tests: each test writes a few
FHIR records by hand, and the screen reads them as it reads an EHR's export."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from venapath.synth.bulk import MANIFEST_NAME


def write_export(
    target: Path, resources: Iterable[dict[str, Any]], transaction_time: datetime
) -> Path:
    """`resources` as one NDJSON file per resource type, with the export's manifest."""
    target.mkdir(parents=True)
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for resource_type, lines in by_type.items():
        (target / f"{resource_type}.ndjson").write_text("\n".join(lines) + "\n")
    manifest = {
        "transactionTime": transaction_time.isoformat(),
        "request": "https://test.venapath.invalid/fhir/$export",
        "requiresAccessToken": False,
        "output": [
            {"type": t, "url": f"{t}.ndjson", "count": len(lines)} for t, lines in by_type.items()
        ],
        "error": [],
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    return target
