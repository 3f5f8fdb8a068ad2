"""Wells DVT score, 1997 original three-level version (Wells et al., Lancet 1997;350:1795).

Kept beside the 2003 score because some pathways still quote low/moderate/high. The 1997
score has no "previously documented DVT" item; applying its three bands to the 2003 score,
as some tertiary tables do, mixes two scores (evidence-verification.md 6a). It feeds no
rule: it has no output facts.
"""

from __future__ import annotations

from venapath.scores.base import Band, ScoreCitation, ScoreDefinition
from venapath.scores.wells_dvt import ALTERNATIVE_DIAGNOSIS, APPLIES_WHEN, CLINICAL_ITEMS

DEFINITION = ScoreDefinition(
    id="wells_dvt_three_level",
    title="Wells DVT score (1997, three-level)",
    citation=ScoreCitation(
        id="wells-1997",
        title="Value of assessment of pretest probability of deep-vein thrombosis in clinical "
        "management (Lancet 1997;350:1795-8)",
        year=1997,
        evidence="Prospective management study in 593 outpatients with suspected leg DVT; "
        "band prevalences as the 1997 abstract states them (3%, 17%, 75%)",
        url="https://doi.org/10.1016/S0140-6736(97)08140-3",
    ),
    items=(*CLINICAL_ITEMS, ALTERNATIVE_DIAGNOSIS),
    bands=(
        Band("low", None, 0, "Low pretest probability: DVT in 3% (Wells 1997)."),
        Band("moderate", 1, 2, "Moderate pretest probability: DVT in 17% (Wells 1997)."),
        Band("high", 3, None, "High pretest probability: DVT in 75% (Wells 1997)."),
    ),
    applies_when=APPLIES_WHEN,
    notes=(
        "Items are read with the 2003 wording (bedridden 3 days or more, surgery within 12 "
        "weeks); the 1997 paper said more than 3 days and within 4 weeks.",
        "Display only: the 2003 two-level score is the one that drives recommendations.",
        "The 1997 abstract: '95 (16.0%) of all 593 patients had deep-vein thrombosis; 3%, "
        "17%, and 75% of the patients with low, moderate, and high pretest probability, "
        "respectively, had deep-vein thrombosis.' The often-quoted 5%, 17% and 53% are "
        "pooled figures from later studies, not this paper's.",
    ),
)
