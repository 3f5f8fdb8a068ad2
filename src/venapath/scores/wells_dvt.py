"""Wells DVT score, 2003 two-level version (Wells et al., NEJM 2003;349:1227-35).

This is the version NICE NG158 recommends (table 1, "adapted with permission from Wells et
al. 2003"): the 1997 items plus "previously documented DVT", read on two levels. The three
levels of 1997 are a different score (`wells_dvt_three_level`) and are not applied here.

Two item boundaries follow NICE's reproduction because the NEJM table was not read:
"bedridden for 3 days or more" (settled in the fact `bedridden_3_days_or_major_surgery_12_weeks`)
and calf swelling "at least 3 cm" (>= 3 cm here).
"""

from __future__ import annotations

from venapath.scores.base import (
    Band,
    Item,
    OutputFact,
    ScoreCitation,
    ScoreDefinition,
    flag,
    threshold,
)

APPLIES_WHEN: tuple[str, ...] = ("leg_dvt_suspected", "leg_dvt_confirmed")

CLINICAL_ITEMS: tuple[Item, ...] = (
    flag(
        "active_cancer",
        "Active cancer (treatment ongoing, within 6 months, or palliative)",
        "active_cancer",
        1,
    ),
    flag(
        "immobilisation",
        "Paralysis, paresis or recent plaster immobilisation of the leg",
        "immobilisation",
        1,
    ),
    flag(
        "bedridden_or_surgery",
        "Bedridden 3 days or more, or major surgery within 12 weeks under general or regional "
        "anaesthesia",
        "bedridden_3_days_or_major_surgery_12_weeks",
        1,
    ),
    flag(
        "deep_vein_tenderness",
        "Localised tenderness along the deep venous system",
        "deep_vein_tenderness",
        1,
    ),
    flag("entire_leg_swollen", "Entire leg swollen", "entire_leg_swollen", 1),
    threshold(
        "calf_swelling",
        "Calf swelling at least 3 cm larger than the other side",
        "calf_difference_cm",
        1,
        "ge",
        3,
    ),
    flag("pitting_oedema", "Pitting oedema confined to the symptomatic leg", "pitting_oedema", 1),
    flag(
        "collateral_superficial_veins",
        "Collateral superficial (non-varicose) veins",
        "collateral_superficial_veins",
        1,
    ),
)
"""The items shared by the 1997 and 2003 versions (in the published order)."""

PREVIOUS_DVT = flag("previous_dvt", "Previously documented DVT", "previous_dvt", 1)

ALTERNATIVE_DIAGNOSIS = flag(
    "alternative_diagnosis",
    "Alternative diagnosis at least as likely as DVT",
    "alternative_diagnosis_as_likely",
    -2,
)

DEFINITION = ScoreDefinition(
    id="wells_dvt",
    title="Wells DVT score (2003, two-level)",
    citation=ScoreCitation(
        id="wells-2003",
        title="Evaluation of D-dimer in the diagnosis of suspected deep-vein thrombosis "
        "(N Engl J Med 2003;349:1227-35)",
        year=2003,
        evidence="Randomised diagnostic-management trial in outpatients with suspected leg DVT; "
        "two-level form reproduced with permission as NICE NG158 table 1",
        url="https://doi.org/10.1056/NEJMoa023153",
    ),
    items=(*CLINICAL_ITEMS, PREVIOUS_DVT, ALTERNATIVE_DIAGNOSIS),
    bands=(
        Band(
            "DVT unlikely",
            None,
            1,
            "Wells 1 or less: DVT unlikely. Test D-dimer first; a negative high-sensitivity "
            "D-dimer with an unlikely score excludes DVT without imaging.",
        ),
        Band("DVT likely", 2, None, "Wells 2 or more: DVT likely. Go to compression ultrasound."),
    ),
    applies_when=APPLIES_WHEN,
    outputs=(
        OutputFact(
            "wells_dvt_likely",
            "Wells DVT score (2003) of 2 or more: DVT likely",
            frozenset({"DVT likely"}),
        ),
    ),
    notes=(
        "For outpatients with suspected leg DVT; it performs poorly for isolated distal DVT "
        "(Sartori 2012: sensitivity 47%).",
        "Boundaries follow NICE's reproduction: bedridden 3 days or more; calf swelling at "
        "least 3 cm, measured 10 cm below the tibial tuberosity.",
    ),
)
