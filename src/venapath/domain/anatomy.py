"""Venous anatomy: the segments a thrombosis can occupy, their codes, and derived groupings.

The groupings (deep cerebral venous system, iliofemoral, femoropopliteal, isolated distal)
are data in `GROUPS`, not conditions scattered through the rules. A rule asks for the fact
`iliofemoral_involved`; which segments make a thrombosis iliofemoral is decided here once.

Codes are listed only where a source was checked (see docs/knowledge-base.md, "Codes"):
ICD-10-CM acute lower-limb DVT codes are I82.4 + segment digit + laterality digit
(1 right, 2 left, 3 bilateral, 9 unspecified); nonpyogenic intracranial venous
thrombosis is I67.6 for every intracranial segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Region(StrEnum):
    """Where a segment lies; pathways key on regions and groups, not on segment names."""

    CEREBRAL = "cerebral"
    NECK = "neck"
    LEG = "leg"
    PELVIC_ABDOMINAL = "pelvic_abdominal"
    ARM = "arm"


@dataclass(frozen=True)
class Segment:
    """One named venous segment."""

    id: str
    label: str
    region: Region
    paired: bool
    icd10cm: str | None = None
    snomed_body_structure: str | None = None
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    """A named set of segments with a clinical meaning, and where that meaning comes from."""

    id: str
    label: str
    members: frozenset[str]
    note: str = ""
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)


_I67_6 = "I67.6"

SEGMENTS: tuple[Segment, ...] = (
    # Dural venous sinuses
    Segment(
        "superior_sagittal_sinus",
        "Superior sagittal sinus",
        Region.CEREBRAL,
        False,
        _I67_6,
        synonyms=("sss",),
    ),
    Segment("inferior_sagittal_sinus", "Inferior sagittal sinus", Region.CEREBRAL, False, _I67_6),
    Segment("straight_sinus", "Straight sinus", Region.CEREBRAL, False, _I67_6),
    Segment(
        "confluence_of_sinuses",
        "Confluence of sinuses (torcular Herophili)",
        Region.CEREBRAL,
        False,
        _I67_6,
        synonyms=("torcular", "confluence"),
    ),
    Segment("transverse_sinus", "Transverse sinus", Region.CEREBRAL, True, _I67_6),
    Segment("sigmoid_sinus", "Sigmoid sinus", Region.CEREBRAL, True, _I67_6),
    Segment("cavernous_sinus", "Cavernous sinus", Region.CEREBRAL, True, _I67_6),
    Segment("superior_petrosal_sinus", "Superior petrosal sinus", Region.CEREBRAL, True, _I67_6),
    Segment("inferior_petrosal_sinus", "Inferior petrosal sinus", Region.CEREBRAL, True, _I67_6),
    # Deep cerebral veins
    Segment(
        "internal_cerebral_veins",
        "Internal cerebral veins",
        Region.CEREBRAL,
        True,
        _I67_6,
        synonyms=("icv",),
    ),
    Segment(
        "vein_of_galen",
        "Vein of Galen (great cerebral vein)",
        Region.CEREBRAL,
        False,
        _I67_6,
        synonyms=("great_cerebral_vein",),
    ),
    Segment("basal_veins", "Basal veins of Rosenthal", Region.CEREBRAL, True, _I67_6),
    # Superficial cerebral veins
    Segment("cortical_veins", "Cortical veins", Region.CEREBRAL, True, _I67_6),
    # Neck
    Segment("internal_jugular_vein", "Internal jugular vein", Region.NECK, True),
    # Leg, calf (distal)
    Segment("posterior_tibial_vein", "Posterior tibial vein", Region.LEG, True, "I82.44"),
    Segment(
        "anterior_tibial_vein",
        "Anterior tibial vein",
        Region.LEG,
        True,
        "I82.44",
        snomed_body_structure="26703007",
    ),
    Segment("peroneal_vein", "Peroneal vein", Region.LEG, True, "I82.45"),
    Segment(
        "calf_muscular_veins",
        "Calf muscular veins (gastrocnemius, soleal)",
        Region.LEG,
        True,
        "I82.46",
    ),
    # Leg, proximal
    Segment("popliteal_vein", "Popliteal vein", Region.LEG, True, "I82.43"),
    Segment("femoral_vein", "Femoral vein", Region.LEG, True, "I82.41"),
    Segment("deep_femoral_vein", "Deep femoral vein", Region.LEG, True, "I82.49"),
    Segment(
        "common_femoral_vein",
        "Common femoral vein",
        Region.LEG,
        True,
        "I82.41",
        snomed_body_structure="397363009",
    ),
    # Pelvis and abdomen
    Segment(
        "external_iliac_vein",
        "External iliac vein",
        Region.PELVIC_ABDOMINAL,
        True,
        "I82.42",
        snomed_body_structure="63507001",
    ),
    Segment(
        "common_iliac_vein",
        "Common iliac vein",
        Region.PELVIC_ABDOMINAL,
        True,
        "I82.42",
        snomed_body_structure="46027005",
    ),
    Segment(
        "inferior_vena_cava",
        "Inferior vena cava",
        Region.PELVIC_ABDOMINAL,
        False,
        synonyms=("ivc",),
    ),
    # Arm (deep)
    Segment("subclavian_vein", "Subclavian vein", Region.ARM, True),
    Segment("axillary_vein", "Axillary vein", Region.ARM, True),
    Segment("brachial_vein", "Brachial vein", Region.ARM, True),
)

SEGMENTS_BY_ID: dict[str, Segment] = {segment.id: segment for segment in SEGMENTS}

_CEREBRAL = frozenset(s.id for s in SEGMENTS if s.region is Region.CEREBRAL)
_DISTAL_LEG = frozenset(
    {"posterior_tibial_vein", "anterior_tibial_vein", "peroneal_vein", "calf_muscular_veins"}
)
_ILIOFEMORAL = frozenset(
    {"common_femoral_vein", "external_iliac_vein", "common_iliac_vein", "inferior_vena_cava"}
)
_FEMOROPOPLITEAL = frozenset({"femoral_vein", "deep_femoral_vein", "popliteal_vein"})

GROUPS: tuple[Group, ...] = (
    Group(
        "cerebral_venous_system",
        "Cerebral veins and dural sinuses",
        _CEREBRAL,
        note="Any intracranial venous segment: a thrombosis here is CVT/DVST.",
    ),
    Group(
        "deep_cerebral_venous_system",
        "Deep cerebral venous system",
        frozenset({"internal_cerebral_veins", "vein_of_galen", "basal_veins", "straight_sinus"}),
        note="The usual convention (ICV, vein of Galen, straight sinus, basal veins). ISCVT and "
        "TO-ACT did not publish their list; the straight sinus is the debated member. "
        "Edit this group to change the convention.",
        source="cvt.md section 8; cvt-verification.md 1c",
    ),
    Group(
        "cavernous_sinus",
        "Cavernous sinus",
        frozenset({"cavernous_sinus"}),
        note="TO-ACT excluded isolated cavernous sinus thrombosis.",
    ),
    Group("jugular_veins", "Internal jugular veins", frozenset({"internal_jugular_vein"})),
    Group(
        "leg_deep_veins",
        "Deep veins of the leg and pelvis",
        _DISTAL_LEG | _FEMOROPOPLITEAL | _ILIOFEMORAL,
    ),
    Group(
        "proximal_leg_veins",
        "Proximal leg veins (popliteal and above)",
        _FEMOROPOPLITEAL | _ILIOFEMORAL,
    ),
    Group(
        "iliofemoral",
        "Iliofemoral (common femoral, iliac, ± IVC)",
        _ILIOFEMORAL,
        note="SVS/AVF 2012 asks for the most proximal extent; ATTRACT's iliofemoral subgroup "
        "was iliac and/or common femoral vein.",
        source="dvt.md sections 2 and 4",
    ),
    Group(
        "femoropopliteal",
        "Femoropopliteal (femoral, deep femoral, popliteal)",
        _FEMOROPOPLITEAL,
        source="dvt.md section 4 (ATTRACT femoral-popliteal subgroup)",
    ),
    Group(
        "distal_leg_veins",
        "Calf veins (below the popliteal vein)",
        _DISTAL_LEG,
        note="Isolated distal DVT: most proximal extent distal to the popliteal vein (CHEST 2021).",
        source="dvt-verification.md 2b",
    ),
    Group(
        "arm_deep_veins",
        "Deep veins of the arm",
        frozenset({"subclavian_vein", "axillary_vein", "brachial_vein"}),
    ),
)

GROUPS_BY_ID: dict[str, Group] = {group.id: group for group in GROUPS}

# Groups for which an "only this group is involved" fact is derived.
ISOLATED_GROUPS: tuple[str, ...] = ("cavernous_sinus", "distal_leg_veins")


def icd10cm_code(segment_id: str, side: str | None, *, chronic: bool = False) -> str | None:
    """The ICD-10-CM code for a lower-limb deep-vein thrombosis of `segment_id`, if known.

    Intracranial segments all map to I67.6 whatever the side. For I82.4x/I82.5x the last
    character is laterality: 1 right, 2 left, 3 bilateral, 9 unspecified.
    """
    segment = SEGMENTS_BY_ID[segment_id]
    if segment.icd10cm is None:
        return None
    if not segment.icd10cm.startswith("I82."):
        return segment.icd10cm
    stem = segment.icd10cm.replace("I82.4", "I82.5") if chronic else segment.icd10cm
    laterality = {"right": "1", "left": "2", "bilateral": "3"}.get(side or "", "9")
    return f"{stem}{laterality}"
