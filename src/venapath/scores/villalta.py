"""Villalta post-thrombotic syndrome (PTS) scale, as recommended by the ISTH (Kahn et al. 2009).

Five symptoms and six signs, each graded 0-3 on the affected leg (maximum 33); a venous
ulcer makes PTS severe whatever the points. The ISTH standardisation recommends Villalta for
diagnosing and grading PTS; the 5-9 / 10-14 / >= 15 split is confirmed at secondary
sources (dvt-verification.md 6). Do not score during the acute phase: assess from about
6 months after the DVT.
"""

from __future__ import annotations

from venapath.scores.base import Band, OutputFact, ScoreCitation, ScoreDefinition, graded

_ITEMS: tuple[tuple[str, str], ...] = (
    ("pain", "Pain"),
    ("cramps", "Cramps"),
    ("heaviness", "Heaviness"),
    ("paraesthesia", "Paraesthesia"),
    ("pruritus", "Pruritus"),
    ("pretibial_oedema", "Pretibial oedema"),
    ("skin_induration", "Skin induration"),
    ("hyperpigmentation", "Hyperpigmentation"),
    ("redness", "Redness"),
    ("venous_ectasia", "Venous ectasia"),
    ("pain_on_calf_compression", "Pain on calf compression"),
)
"""Patient-rated symptoms first, then clinician-rated signs, as published."""

DEFINITION = ScoreDefinition(
    id="villalta",
    title="Villalta post-thrombotic syndrome scale",
    citation=ScoreCitation(
        id="kahn-2009-isth",
        title="Definition of post-thrombotic syndrome of the leg for use in clinical "
        "investigations: a recommendation for standardization (J Thromb Haemost 2009)",
        year=2009,
        evidence="ISTH Subcommittee on Control of Anticoagulation standardisation recommendation "
        "(expert consensus); severity split confirmed at secondary sources only",
        url="https://doi.org/10.1111/j.1538-7836.2009.03294.x",
    ),
    items=tuple(
        graded(f"villalta_{name}", f"{label} (0-3)", f"villalta_{name}", 3)
        for name, label in _ITEMS
    ),
    bands=(
        Band("none", 0, 4, "Villalta 0-4 without a venous ulcer: no post-thrombotic syndrome."),
        Band("mild", 5, 9, "Villalta 5-9: mild post-thrombotic syndrome."),
        Band("moderate", 10, 14, "Villalta 10-14: moderate post-thrombotic syndrome."),
        Band(
            "severe",
            15,
            None,
            "Villalta 15 or more, or a venous ulcer: severe post-thrombotic syndrome.",
        ),
    ),
    applies_when=("leg_dvt_confirmed", "previous_dvt", "venous_ulcer"),
    outputs=(
        OutputFact(
            "villalta_pts",
            "Villalta 5 or more, or a venous ulcer: post-thrombotic syndrome",
            frozenset({"mild", "moderate", "severe"}),
        ),
        OutputFact(
            "villalta_severe_pts",
            "Villalta 15 or more, or a venous ulcer: severe PTS",
            frozenset({"severe"}),
        ),
    ),
    override_fact="venous_ulcer",
    override_band="severe",
    notes=(
        "Not valid in the acute phase; assess from about 6 months after the DVT and "
        "periodically for at least 2 years.",
        "ATTRACT used Villalta 10 or more (or ulcer) for moderate-or-severe PTS.",
    ),
)
