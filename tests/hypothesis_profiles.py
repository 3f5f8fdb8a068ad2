"""Hypothesis profiles: `dev` (the default; a fiftieth of the examples, at least 10, for the
inner loop `make unit`) and `ci` (the full count; `.ci/run` sets HYPOTHESIS_PROFILE=ci before
`make test`). Tests write their full count as `examples(n)`, so one variable scales every
property test; a test without its own count gets Hypothesis's default (100) in CI and 10 in
the inner loop. A failure found locally is replayed from the example
database (.hypothesis/) until it is fixed, whatever the count."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if PROFILE not in ("dev", "ci"):
    raise ValueError(f"HYPOTHESIS_PROFILE={PROFILE!r}; expected dev or ci")

DEV_FRACTION = 50
"""The inner loop runs 1/DEV_FRACTION of each test's examples."""
DEV_FLOOR = 10
"""...but never fewer than this many."""

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=DEV_FLOOR)
settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """`full` examples in CI; a fiftieth (at least 10) in the inner loop."""
    return full if PROFILE == "ci" else max(DEV_FLOOR, full // DEV_FRACTION)
