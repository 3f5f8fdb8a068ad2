"""CVT Grading Scale, CVT-GS (Barboza et al., Front Neurol 2018;9:882).

A short-term prognostic scale for confirmed cerebral venous thrombosis: it sorts patients
into three bands by 30-day case fatality, to help decide who needs neurocritical care.
Items, points and bands are confirmed against the abstract (evidence-verification.md 3).
The band fatalities are the abstract's 0.4% / 9.9% / 61.4%; a public app's 1.1% / 19.6%
figures contradict it and are not used.
"""

from __future__ import annotations

from venapath.scores.base import (
    Band,
    OutputFact,
    ScoreCitation,
    ScoreDefinition,
    flag,
    levels,
    threshold,
)

DEFINITION = ScoreDefinition(
    id="cvt_grading_scale",
    title="CVT Grading Scale (CVT-GS)",
    citation=ScoreCitation(
        id="barboza-2018",
        title="A practical score for prediction of outcome after cerebral venous thrombosis "
        "(Front Neurol 2018;9:882)",
        year=2018,
        evidence="Derivation cohort: 467 consecutive patients, two Mexican referral hospitals, "
        "1981-2015 (30-day case fatality 9.0%); no external validation in the source",
        url="https://doi.org/10.3389/fneur.2018.00882",
    ),
    items=(
        threshold(
            "lesion_over_6_cm",
            "Parenchymal lesion larger than 6 cm",
            "largest_lesion_cm",
            3,
            "gt",
            6,
        ),
        flag("bilateral_babinski", "Bilateral Babinski signs", "bilateral_babinski", 3),
        flag("male_sex", "Male sex", "male_sex", 2),
        flag("parenchymal_haemorrhage", "Parenchymal haemorrhage", "intracerebral_haemorrhage", 2),
        levels(
            "consciousness",
            "Level of consciousness (coma 3, stupor 2, somnolence 1)",
            "consciousness",
            {"alert": 0, "somnolent": 1, "stupor": 2, "coma": 3},
        ),
    ),
    bands=(
        Band(
            "mild", 0, 2, "CVT-GS mild (0-2): 30-day case fatality 0.4% in the derivation cohort."
        ),
        Band(
            "moderate",
            3,
            7,
            "CVT-GS moderate (3-7): 30-day case fatality 9.9% in the derivation cohort.",
        ),
        Band(
            "severe",
            8,
            13,
            "CVT-GS severe (8-13): 30-day case fatality 61.4% in the derivation cohort.",
        ),
    ),
    applies_when=("cvt_confirmed",),
    outputs=(
        OutputFact(
            "cvt_grading_scale_severe", "CVT Grading Scale severe (8-13)", frozenset({"severe"})
        ),
    ),
    notes=(
        "Accuracy in the derivation cohort: 91.6% for 30-day death, 85.3% for mRS > 2.",
        "Derived in a single country; weigh it as a prognostic aid, not a treatment rule.",
    ),
)
