"""Closed vocabularies shared by the knowledge base, the engine and every output.

They are closed on purpose: a rule can only recommend an action that appears here, so a
typo in the knowledge base is a load error rather than a silently ignored recommendation.
Detail (agent, dose hint, device class) travels as attributes on a recommendation, never
as a new word - except where two rules would otherwise give one word opposite strengths for
different things (an agent, or a vessel: the sinuses versus the leg). Then a refining word
names it, and `Action.general` says which action it refines, so that a contraindication on
the general action still caps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Action(StrEnum):
    """What a recommendation asks the team to do."""

    EMERGENCY_CARE = "emergency_care"
    ANTICOAGULATION = "anticoagulation"
    DIRECT_ORAL_ANTICOAGULANT = "direct_oral_anticoagulant"
    """The agent class, not anticoagulation as a whole: "no DOAC first" must not read as
    "anticoagulation: not recommended" beside "anticoagulation: recommended"."""
    VITAMIN_K_ANTAGONIST = "vitamin_k_antagonist"
    """The agent class: "a VKA in antiphospholipid syndrome" is a choice of agent, not advice
    to anticoagulate a patient another rule advises not to."""
    CATHETER_DIRECTED_THROMBOLYSIS = "catheter_directed_thrombolysis"
    PHARMACOMECHANICAL_THROMBECTOMY = "pharmacomechanical_thrombectomy"
    MECHANICAL_THROMBECTOMY = "mechanical_thrombectomy"
    CEREBRAL_VENOUS_THROMBOLYSIS = "cerebral_venous_thrombolysis"
    """Site-level: local thrombolysis in the dural sinuses. "No routine sinus lysis" must not
    read as "catheter-directed thrombolysis: not recommended" beside a leg CDT option."""
    CEREBRAL_VENOUS_THROMBECTOMY = "cerebral_venous_thrombectomy"
    """Site-level: mechanical thrombectomy of the dural sinuses (see above)."""
    ANGIOPLASTY = "angioplasty"
    VENOUS_STENTING = "venous_stenting"
    EPIDURAL_BLOOD_PATCH = "epidural_blood_patch"
    DECOMPRESSIVE_SURGERY = "decompressive_surgery"
    DIAGNOSTIC_IMAGING = "diagnostic_imaging"
    CEREBRAL_VENOUS_IMAGING = "cerebral_venous_imaging"
    """Site-level: CT or MR venography of the head. "No leg imaging needed" (a negative
    D-dimer) must not read as "imaging: not recommended" beside urgent venography for CVT."""
    REPEAT_IMAGING = "repeat_imaging"
    LABORATORY_WORKUP = "laboratory_workup"
    RETREATMENT = "retreatment"
    WATCHFUL_WAITING = "watchful_waiting"
    SPECIALIST_REFERRAL = "specialist_referral"
    IVC_FILTER = "ivc_filter"
    COMPRESSION_STOCKINGS = "compression_stockings"

    @property
    def general(self) -> Action:
        """The action this one refines (itself when it refines none)."""
        return _REFINES.get(self, self)

    def capped_by(self, capped_actions: Iterable[Action]) -> bool:
        """True when a contraindication naming `capped_actions` covers this action: a cap on
        an action covers every agent- or phase-level refinement of it."""
        named = set(capped_actions)
        return self in named or self.general in named


_REFINES = {
    Action.DIRECT_ORAL_ANTICOAGULANT: Action.ANTICOAGULATION,
    Action.VITAMIN_K_ANTAGONIST: Action.ANTICOAGULATION,
    Action.CEREBRAL_VENOUS_THROMBOLYSIS: Action.CATHETER_DIRECTED_THROMBOLYSIS,
    Action.CEREBRAL_VENOUS_THROMBECTOMY: Action.MECHANICAL_THROMBECTOMY,
    Action.CEREBRAL_VENOUS_IMAGING: Action.DIAGNOSTIC_IMAGING,
}


class Strength(StrEnum):
    """How strongly an action is advised. Ordered from strongest to weakest by `rank`."""

    RECOMMENDED = "recommended"
    CONSIDER = "consider"
    NOT_RECOMMENDED = "not_recommended"
    CONTRAINDICATED = "contraindicated"

    @property
    def rank(self) -> int:
        """Higher means more in favour of doing the action; caps only ever lower it."""
        return _STRENGTH_RANK[self]

    def capped_at(self, ceiling: Strength) -> Strength:
        """The weaker of this strength and `ceiling` (a contraindication's cap)."""
        return self if self.rank <= ceiling.rank else ceiling


_STRENGTH_RANK = {
    Strength.RECOMMENDED: 3,
    Strength.CONSIDER: 2,
    Strength.NOT_RECOMMENDED: 1,
    Strength.CONTRAINDICATED: 0,
}


class Urgency(StrEnum):
    """How soon an action is needed."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Higher is more urgent."""
        return _URGENCY_RANK[self]


_URGENCY_RANK = {Urgency.EMERGENCY: 2, Urgency.URGENT: 1, Urgency.ROUTINE: 0}


class SourceKind(StrEnum):
    """What kind of document a citation points to; protocols are not guidelines."""

    GUIDELINE = "guideline"
    SCIENTIFIC_STATEMENT = "scientific_statement"
    POSITION_STATEMENT = "position_statement"
    CONSENSUS = "consensus"
    RANDOMISED_TRIAL = "randomised_trial"
    SYSTEMATIC_REVIEW = "systematic_review"
    COHORT = "cohort"
    CASE_REPORT = "case_report"
    CLINIC_PROTOCOL = "clinic_protocol"
    PRACTICE_STATEMENT = "practice_statement"
    REGULATORY_NOTICE = "regulatory_notice"
    SCORE_DERIVATION = "score_derivation"
    REVIEW = "review"
    PATIENT_INFORMATION = "patient_information"
    TERMINOLOGY = "terminology"


class Side(StrEnum):
    """Laterality of a venous segment."""

    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    MIDLINE = "midline"


class Modality(StrEnum):
    """How a thrombosed segment was shown."""

    MR_VENOGRAPHY = "mr_venography"
    CT_VENOGRAPHY = "ct_venography"
    MRI = "mri"
    CT = "ct"
    DIGITAL_SUBTRACTION_ANGIOGRAPHY = "digital_subtraction_angiography"
    DUPLEX_ULTRASOUND = "duplex_ultrasound"
    COMPRESSION_ULTRASOUND = "compression_ultrasound"
    CATHETER_VENOGRAPHY = "catheter_venography"
    INTRAVASCULAR_ULTRASOUND = "intravascular_ultrasound"
