"""The benchmark's hand-flattened queries (`bench/screen_reference.py`) return the views' rows.

`bench/screen.py` reports the views' speed against these queries and checks their rows are
equal on the cohort it measures. A view that gains a column or a row kind without its hand
query makes that report say "rows differing" after a long run; this test says it in seconds,
on a small synthetic cohort plus records with the optional elements the views read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from venapath.synth import DEFAULT_AS_OF, write_cohort

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from screen_reference import REFERENCES  # noqa: E402
from views_vs_hand import compare  # noqa: E402

_PROCEDURES_WITH_REASONS = [
    {
        "resourceType": "Procedure",
        "id": "venoplasty-for-ms",
        "status": "completed",
        "subject": {"reference": "Patient/reason-1"},
        "performedDateTime": "2025-06-01",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "241211007"}]},
        "reasonCode": [
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G35"}]},
            {"text": "no coding"},
        ],
        "reasonReference": [{"reference": "Condition/ms-1", "type": "Condition"}],
    },
    {
        "resourceType": "Procedure",
        "id": "stent-no-reason",
        "status": "completed",
        "subject": {"reference": "Patient/reason-2"},
        "performedPeriod": {"start": "2025-07-01"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "233251003"}]},
    },
]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reference-cohort")
    write_cohort(folder, 40, seed=5, as_of=DEFAULT_AS_OF)
    extra = folder / "Procedure.reasons.ndjson"
    extra.write_text("".join(json.dumps(r) + "\n" for r in _PROCEDURES_WITH_REASONS))
    return folder


def test_every_hand_query_returns_the_views_rows(cohort: Path) -> None:
    rows = compare(cohort, repeat=1, general=False)

    compared = {row["resource"] for row in rows}
    assert compared == {name for name in REFERENCES if any(cohort.glob(f"{name}*.ndjson"))}
    assert "Procedure" in compared
    for row in rows:
        assert row["rows"] > 0, row["resource"]
        assert row["differing_rows"] == 0, row["resource"]
