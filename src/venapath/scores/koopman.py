"""Koopman CVT outcome score (Koopman et al., J Neurol Sci 2009;276:66-68).

Each weight is 10 x ln(hazard ratio) of an ISCVT predictor of poor outcome (mRS > 2),
rounded; the points below are that arithmetic on the ISCVT hazard ratios and match a
secondary calculator table (evidence-verification.md 2). The cut-off of 14 was chosen for
the best sum of sensitivity and specificity, so it is good at ruling poor outcome out and
weak at ruling it in: the interpretations say so.
"""

from __future__ import annotations

from venapath.scores.base import Band, OutputFact, ScoreCitation, ScoreDefinition, flag, threshold

DEFINITION = ScoreDefinition(
    id="koopman",
    title="Koopman CVT outcome score",
    citation=ScoreCitation(
        id="koopman-2009",
        title="Development and validation of a predictive outcome score of cerebral venous "
        "thrombosis (J Neurol Sci 2009;276:66-68)",
        year=2009,
        evidence="Weights from the ISCVT hazard ratios (n=624); validated in a retrospective "
        "single-centre cohort of 90 patients (18% poor outcome), AUC 0.81",
        url="https://www.jns-journal.com/article/S0022-510X(08)00446-2/pdf",
    ),
    items=(
        threshold("age_over_37", "Age over 37 years", "age_years", 7, "gt", 37),
        flag("male_sex", "Male sex", "male_sex", 5),
        flag(
            "intracranial_haemorrhage",
            "Intracranial haemorrhage on admission imaging",
            "intracerebral_haemorrhage",
            6,
        ),
        flag("mental_status_disorder", "Mental status disorder", "mental_status_disorder", 7),
        flag("coma", "Coma", "coma", 10),
        flag("malignancy", "Malignancy", "active_cancer", 11),
        flag(
            "deep_cvt",
            "Thrombosis of the deep cerebral venous system",
            "deep_cerebral_venous_system_involved",
            11,
        ),
        flag("cns_infection", "Central nervous system infection", "cns_infection", 12),
    ),
    bands=(
        Band(
            "good outcome likely",
            None,
            13,
            "Koopman below 14: good outcome (mRS 0-2) likely; in validation 96% of patients "
            "below 14 had a good outcome.",
        ),
        Band(
            "poor outcome likely",
            14,
            None,
            "Koopman 14 or more: risk of poor outcome (mRS > 2). In validation only 39% of "
            "patients at 14 or more had a poor outcome (sensitivity 88%, specificity 70%), so "
            "this flags risk rather than predicting outcome.",
        ),
    ),
    applies_when=("cvt_confirmed",),
    outputs=(
        OutputFact(
            "koopman_poor_outcome_likely",
            "Koopman CVT score of 14 or more",
            frozenset({"poor outcome likely"}),
        ),
    ),
    notes=(
        "Coma is read as GCS < 9 or stated coma (the secondary calculator's definition; the "
        "ISCVT definition was not read).",
        "A comatose patient also has a mental status disorder here and scores both items; "
        "whether the source counts both was not checked.",
        "Deep cerebral venous system membership is a configurable anatomy group; the straight "
        "sinus is the debated member.",
    ),
)
