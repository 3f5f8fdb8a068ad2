"""Principals for tests that call the registry service directly (no HTTP, no tokens)."""

from __future__ import annotations

from venapath.domain.access import Principal, Role

OPERATOR_ROLES = "clinician,admin"


def make_principal(roles: str, patient_id: str | None = None, subject: str = "") -> Principal:
    parsed = frozenset(Role(r.strip()) for r in roles.split(",") if r.strip())
    return Principal(
        subject=subject or f"test:{roles}",
        display=f"test {roles}",
        roles=parsed,
        method="local",
        client_address="127.0.0.1",
        patient_id=patient_id,
    )
