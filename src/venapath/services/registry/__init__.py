"""The registry: patients, episodes, procedures, check-ins, assessments, outcomes and
follow-up tasks, read and written only through `Registry` (the facade) and its door.

    facade.py      Registry: one method per operation, each naming its permission and audit
    door.py        permission check, patient confinement, retraction, idempotency, audit,
                   conflicts; one transaction per operation
    patients.py episodes.py procedures.py check_ins.py assessments.py outcomes.py tasks.py
                   the work of each record type
    imports.py     a record export (FHIR Bundle) stored under new ids
    records.py     rows to the records the registry answers with
"""

from venapath.services.registry.check_ins import (
    CHECK_IN_POINTERS,
    FOLLOW_UP_PATHWAYS,
    patient_advice,
)
from venapath.services.registry.door import CLOCK_SKEW
from venapath.services.registry.facade import PatientRecord, Registry
from venapath.services.registry.imports import ImportOutcome
from venapath.services.registry.records import (
    assessment_out,
    check_in_out,
    episode_out,
    outcome_out,
    patient_out,
    procedure_out,
)

__all__ = [
    "CHECK_IN_POINTERS",
    "CLOCK_SKEW",
    "FOLLOW_UP_PATHWAYS",
    "ImportOutcome",
    "PatientRecord",
    "Registry",
    "assessment_out",
    "check_in_out",
    "episode_out",
    "outcome_out",
    "patient_advice",
    "patient_out",
    "procedure_out",
]
