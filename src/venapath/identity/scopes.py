"""SMART App Launch v2 scopes to VenaPath permissions (and the v1 `.read`/`.write` forms).

A scope is `context/ResourceType.permissions`: context `patient`, `user` or `system`;
ResourceType a FHIR type or `*`; permissions a subset of `cruds` in that order (v2), or
`read`, `write`, `*` (v1). See https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html.

What each resource type and letter grants is the table `SCOPE_GRANTS` (shown in
docs/security.md). A granular scope with a `?` query (e.g. `?category=...`) grants nothing:
VenaPath cannot confine its answers to a category, so it refuses rather than over-share.
A `patient/` scope confines the caller to the patient in the token's `patient` claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from venapath.domain.access import Permission

_P = Permission
SCOPE_PATTERN = re.compile(
    r"^(?P<context>patient|user|system)/(?P<resource>\*|[A-Z][A-Za-z]+)\.(?P<perms>[cruds]+|read|write|\*)$"
)
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_ORDER = "cruds"

# (resource type, letter) -> permissions. `*` entries apply only to the wildcard type.
SCOPE_GRANTS: dict[tuple[str, str], frozenset[Permission]] = {
    ("Patient", "r"): frozenset({_P.PATIENT_READ, _P.EVALUATE}),
    ("Patient", "s"): frozenset({_P.PATIENT_READ}),
    ("Patient", "c"): frozenset({_P.PATIENT_WRITE}),
    ("Patient", "u"): frozenset({_P.PATIENT_WRITE}),
    ("Patient", "d"): frozenset({_P.PATIENT_RETRACT}),
    ("EpisodeOfCare", "c"): frozenset({_P.PATIENT_WRITE}),
    ("EpisodeOfCare", "u"): frozenset({_P.PATIENT_WRITE}),
    ("Procedure", "c"): frozenset({_P.PATIENT_WRITE}),
    ("Observation", "c"): frozenset({_P.PATIENT_WRITE}),
    ("QuestionnaireResponse", "c"): frozenset({_P.PATIENT_WRITE}),
    ("Task", "r"): frozenset({_P.WORKLIST_READ}),
    ("Task", "s"): frozenset({_P.WORKLIST_READ}),
    ("Task", "u"): frozenset({_P.TASK_WRITE}),
    ("AuditEvent", "r"): frozenset({_P.AUDIT_READ}),
    ("AuditEvent", "s"): frozenset({_P.AUDIT_READ}),
    # The whole record of a patient spans every type: only a wildcard scope exports/imports it.
    ("*", "r"): frozenset({_P.RECORD_EXPORT}),
    ("*", "c"): frozenset({_P.RECORD_IMPORT}),
}
# Every verified token may read the knowledge base (rules and sources; no patient data).
ALWAYS_GRANTED = frozenset({_P.KNOWLEDGE_READ})


@dataclass(frozen=True)
class ScopeGrant:
    permissions: frozenset[Permission]
    patient_context: bool  # some granted permission came from a `patient/` scope


def parse_scope(scope: str) -> tuple[str, str, str] | None:
    """(context, resource type, letters) for a well-formed scope, else None."""
    match = SCOPE_PATTERN.match(scope)
    if match is None:
        return None
    letters = _V1.get(match["perms"], match["perms"])
    if "".join(sorted(letters, key=_ORDER.index)) != letters or len(set(letters)) != len(letters):
        return None  # v2 letters must be in cruds order, each once
    return match["context"], match["resource"], letters


def grant_for(scopes: str) -> ScopeGrant:
    """The permissions a space-separated scope string grants."""
    granted: set[Permission] = set(ALWAYS_GRANTED)
    patient_context = False
    for scope in scopes.split():
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        context, resource, letters = parsed
        before = len(granted)
        for letter in letters:
            granted |= _grants(resource, letter)
        patient_context |= context == "patient" and len(granted) > before
    return ScopeGrant(frozenset(granted), patient_context)


def _grants(resource: str, letter: str) -> frozenset[Permission]:
    if resource != "*":
        return SCOPE_GRANTS.get((resource, letter), frozenset())
    found: set[Permission] = set()
    for (_, entry_letter), permissions in SCOPE_GRANTS.items():
        if entry_letter == letter:
            found |= permissions
    return frozenset(found)


def scope_suggestion(permission: Permission) -> str:
    """A scope that would grant `permission`, for the 403 message."""
    for (resource, letter), permissions in SCOPE_GRANTS.items():
        if permission in permissions:
            return f"system/{resource}.{letter}"
    return "none: no scope grants it (a person's role does)"
