"""Hypothesis profiles: `dev` (the default; a twentieth of the examples, for the inner loop) and
`ci` (the full count; `.ci/run` sets HYPOTHESIS_PROFILE=ci). Tests write their full count as
`examples(n)`, so one variable scales every property test."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if PROFILE not in ("dev", "ci"):
    raise ValueError(f"HYPOTHESIS_PROFILE={PROFILE!r}; expected dev or ci")

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=20)
settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """`full` examples in CI; a twentieth (at least 10) in the inner loop."""
    return full if PROFILE == "ci" else max(10, full // 20)
