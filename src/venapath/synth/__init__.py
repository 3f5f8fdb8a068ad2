"""Synthetic FHIR R4 cohorts for testing the mapping and the pathways at population scale.

`write_cohort` streams a cohort to FHIR Bulk Data NDJSON files with an `$export` manifest;
`generate_patient` builds one patient alone (the same one, for the same seed and index).
The archetypes, their rates and the sources of those rates are in `profiles`.
"""

from venapath.synth.bulk import (
    DEFAULT_AS_OF,
    CohortSummary,
    SynthInputError,
    iter_patients,
    write_cohort,
)
from venapath.synth.profiles import (
    EXPECTED_PATHWAYS,
    MIX,
    Archetype,
    SyntheticPatient,
    generate_patient,
)
from venapath.synth.resources import CodeBook

__all__ = [
    "DEFAULT_AS_OF",
    "EXPECTED_PATHWAYS",
    "MIX",
    "Archetype",
    "CodeBook",
    "CohortSummary",
    "SynthInputError",
    "SyntheticPatient",
    "generate_patient",
    "iter_patients",
    "write_cohort",
]
