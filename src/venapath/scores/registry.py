"""Every score VenaPath computes, and which of them apply to a set of facts.

A score applies when any of its `applies_when` facts is known true; an unknown trigger does
not apply it, because a score shown for the wrong condition (HAS-BLED with no thrombosis and
no anticoagulant) is noise. The outputs of a score that does not apply are unknown (None),
never false, so a rule reading them cannot mistake "not scored" for "low risk".
"""

from __future__ import annotations

from venapath.scores import (
    cvt_grading_scale,
    has_bled,
    koopman,
    villalta,
    wells_dvt,
    wells_dvt_three_level,
)
from venapath.scores.base import Facts, ScoreDefinition, ScoreResult, compute, output_facts

SCORES: dict[str, ScoreDefinition] = {
    definition.id: definition
    for definition in (
        wells_dvt.DEFINITION,
        wells_dvt_three_level.DEFINITION,
        cvt_grading_scale.DEFINITION,
        koopman.DEFINITION,
        villalta.DEFINITION,
        has_bled.DEFINITION,
    )
}
"""Scores by id, in display order: DVT diagnosis, CVT prognosis, PTS, bleeding risk."""


def get(score_id: str) -> ScoreDefinition:
    """The score with this id; KeyError naming the known ids otherwise."""
    try:
        return SCORES[score_id]
    except KeyError:
        known = ", ".join(SCORES)
        raise KeyError(f"unknown score {score_id!r}; known scores: {known}") from None


def applies(definition: ScoreDefinition, facts: Facts) -> bool:
    """True when any of the score's trigger facts is true."""
    # A plain loop, not any(generator): this runs for every score on every evaluation.
    for name in definition.applies_when:  # noqa: SIM110 (see above)
        if facts.get(name) is True:
            return True
    return False


def applicable(facts: Facts) -> list[ScoreDefinition]:
    """The scores that apply to `facts`, in registry order."""
    return [definition for definition in SCORES.values() if applies(definition, facts)]


def compute_applicable(facts: Facts) -> dict[str, ScoreResult]:
    """Each applicable score computed on `facts`, by id."""
    return {definition.id: compute(definition, facts) for definition in applicable(facts)}


def score_facts(
    facts: Facts, results: dict[str, ScoreResult] | None = None
) -> dict[str, bool | None]:
    """Every score output fact: from the applicable scores' results, None for the others.

    Pass `results` from `compute_applicable` to avoid computing the scores twice.
    """
    computed = compute_applicable(facts) if results is None else results
    values: dict[str, bool | None] = {}
    for definition in SCORES.values():
        result = computed.get(definition.id)
        if result is not None:
            values.update(output_facts(definition, result))
        else:
            values.update(_UNKNOWN_OUTPUTS[definition.id])
    return values


_UNKNOWN_OUTPUTS: dict[str, dict[str, bool | None]] = {
    definition.id: {output.name: None for output in definition.outputs}
    for definition in SCORES.values()
}
"""Each score's output facts as unknown: what a score that does not apply feeds the rules."""
