"""The roles-and-scopes matrix of docs/security.md, generated from the tables the service
enforces (identity/policy.py, domain/access.py, identity/scopes.py), never kept by hand.

`python -m venapath.identity.docs docs/security.md` rewrites the generated block in place;
`tests/security/test_docs.py` fails when the file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from venapath.domain.access import ROLE_PERMISSIONS, Permission, Role
from venapath.identity.policy import ROUTE_POLICY, Access, Requirement
from venapath.identity.scopes import ALWAYS_GRANTED, SCOPE_GRANTS

BEGIN = "<!-- BEGIN GENERATED: access matrix (python -m venapath.identity.docs) -->"
END = "<!-- END GENERATED: access matrix -->"
PEOPLE = (Role.CLINICIAN, Role.COORDINATOR, Role.RESEARCHER, Role.ADMIN, Role.PATIENT)


def _cell(requirement: Requirement, role: Role) -> str:
    if requirement is Access.PUBLIC:
        return "yes"
    if requirement is Access.CDS_HOOKS:
        return "CDS JWT"
    if requirement is Access.SIGNED_IN:
        return "yes"
    if requirement is Access.OWN_CREDENTIAL:
        return "own credential"
    assert isinstance(requirement, Permission)
    return "yes" if requirement in ROLE_PERMISSIONS[role] else "–"


def _scopes_for(permission: Permission) -> str:
    if permission in ALWAYS_GRANTED:
        return "any valid token"
    scopes = [
        f"`{resource}.{letter}`"
        for (resource, letter), granted in SCOPE_GRANTS.items()
        if permission in granted
    ]
    return ", ".join(scopes) or "no scope (people only)"


def _requirement_text(requirement: Requirement) -> str:
    if isinstance(requirement, Permission):
        return f"`{requirement.value}`"
    return {
        Access.PUBLIC: "public",
        Access.SIGNED_IN: "signed in",
        Access.CDS_HOOKS: "CDS Hooks JWT",
        Access.OWN_CREDENTIAL: "its own credential (SMART launch session, check-in link)",
    }[requirement]


def routes_table() -> list[str]:
    header = ["Method", "Route", "Needs", *(r.value for r in PEOPLE), "service token scopes"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (method, path), requirement in sorted(ROUTE_POLICY.items(), key=lambda i: i[0][::-1]):
        scopes = (
            _scopes_for(requirement)
            if isinstance(requirement, Permission)
            else _requirement_text(requirement)
        )
        cells = [
            method,
            f"`{path}`",
            _requirement_text(requirement),
            *(_cell(requirement, role) for role in PEOPLE),
            scopes,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def permissions_table() -> list[str]:
    header = ["Permission", *(r.value for r in PEOPLE), "SMART v2 scopes that grant it"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for permission in Permission:
        cells = [
            f"`{permission.value}`",
            *("yes" if permission in ROLE_PERMISSIONS[r] else "–" for r in PEOPLE),
            _scopes_for(permission),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def generated_block() -> str:
    lines = [
        BEGIN,
        "",
        "### Permissions by role and by scope",
        "",
        *permissions_table(),
        "",
        "Scopes are `patient/`, `user/` or `system/` + a resource type (or `*`, which grants",
        "what every listed type grants for that letter) + letters from `cruds` (SMART v2) or",
        "`read`/`write` (v1). A token's principal has the role `service`; a `patient/` scope",
        "confines it to the token's `patient`.",
        "",
        "### Every route",
        "",
        *routes_table(),
        "",
        END,
    ]
    return "\n".join(lines)


def rewrite(path: Path) -> bool:
    """Replace the generated block; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + generated_block() + text[end:]
    if updated == text:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    changed = rewrite(Path(sys.argv[1]))
    sys.stdout.write("updated\n" if changed else "up to date\n")
