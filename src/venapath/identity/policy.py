"""Deny by default: the one table that says what each route of the service needs.

Every route (method + path template) maps to a `Permission` the caller must hold, or to an
`Access` level that needs none. A route missing from this table is refused to everyone; the
test `tests/security/test_policy.py` walks every route of the application against it, so a
new route without an entry fails the suite. `docs/security.md` is generated from it.
"""

from __future__ import annotations

from enum import StrEnum

from venapath.domain.access import Permission


class Access(StrEnum):
    """Access levels that are not one permission."""

    PUBLIC = "public"  # anyone: health, sign-in pages, static assets, docs when served
    SIGNED_IN = "signed-in"  # any verified caller (sign-out, who am I)
    CDS_HOOKS = "cds-hooks"  # the CDS Hooks JWT rules of cdshooks/auth.py (EHRs, not people)
    # The route verifies a credential of its own before reading anything: the SMART launch
    # session cookie (api/smart_routes.py), a patient's check-in link token (web/pages/check_in.py)
    OWN_CREDENTIAL = "own-credential"


Requirement = Permission | Access

_P = Permission
_API = "/api/v1"

ROUTE_POLICY: dict[tuple[str, str], Requirement] = {
    # Operations and documentation (docs routes exist only when served: settings.serve_docs)
    ("GET", "/health"): Access.PUBLIC,
    ("GET", "/ready"): Access.PUBLIC,
    ("GET", "/openapi.json"): Access.PUBLIC,
    ("GET", "/docs"): Access.PUBLIC,
    ("GET", "/docs/init.js"): Access.PUBLIC,
    ("GET", "/docs/assets/{path:path}"): Access.PUBLIC,
    # Sign-in and sessions (identity/routes.py)
    ("GET", "/auth/login"): Access.PUBLIC,
    ("POST", "/auth/login"): Access.PUBLIC,  # checks its own login-CSRF cookie
    ("GET", "/auth/logout"): Access.PUBLIC,
    ("POST", "/auth/logout"): Access.SIGNED_IN,
    ("GET", "/auth/session"): Access.SIGNED_IN,
    ("GET", "/auth/oidc/login"): Access.PUBLIC,
    ("GET", "/auth/oidc/callback"): Access.PUBLIC,  # checks state, nonce and PKCE itself
    # Decision support on data sent in the request
    ("POST", f"{_API}/evaluate"): _P.EVALUATE,
    ("POST", f"{_API}/fhir/evaluate"): _P.EVALUATE,
    ("GET", f"{_API}/scores"): _P.KNOWLEDGE_READ,
    ("POST", f"{_API}/scores/{{score_id}}"): _P.EVALUATE,
    # Knowledge base (no patient data)
    ("GET", f"{_API}/kb"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/rules"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/rules/{{rule_id}}"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/pathways"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/pathways/{{pathway_id}}"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/sources"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/sources/{{source_id}}"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/value-sets"): _P.KNOWLEDGE_READ,
    ("GET", f"{_API}/kb/value-sets/{{value_set_id}}"): _P.KNOWLEDGE_READ,
    # Registry
    ("POST", f"{_API}/patients"): _P.PATIENT_WRITE,
    ("GET", f"{_API}/patients"): _P.PATIENT_READ,
    ("GET", f"{_API}/patients/{{patient_id}}"): _P.PATIENT_READ,
    ("PATCH", f"{_API}/patients/{{patient_id}}"): _P.PATIENT_WRITE,
    ("DELETE", f"{_API}/patients/{{patient_id}}"): _P.PATIENT_RETRACT,
    ("GET", f"{_API}/patients/{{patient_id}}/episodes"): _P.PATIENT_READ,
    ("GET", f"{_API}/patients/{{patient_id}}/procedures"): _P.PATIENT_READ,
    ("GET", f"{_API}/patients/{{patient_id}}/outcomes"): _P.PATIENT_READ,
    ("GET", f"{_API}/patients/{{patient_id}}/tasks"): _P.PATIENT_READ,
    ("GET", f"{_API}/patients/{{patient_id}}/assessments"): _P.PATIENT_READ,
    ("POST", f"{_API}/patients/{{patient_id}}/assessments"): _P.PATIENT_WRITE,
    ("GET", f"{_API}/assessments/{{assessment_id}}"): _P.PATIENT_READ,
    ("POST", f"{_API}/episodes"): _P.PATIENT_WRITE,
    ("GET", f"{_API}/episodes/{{episode_id}}"): _P.PATIENT_READ,
    ("PATCH", f"{_API}/episodes/{{episode_id}}"): _P.PATIENT_WRITE,
    ("POST", f"{_API}/outcomes"): _P.PATIENT_WRITE,
    ("POST", f"{_API}/procedures"): _P.PATIENT_WRITE,
    ("GET", f"{_API}/procedures/{{procedure_id}}"): _P.PATIENT_READ,
    ("POST", f"{_API}/check-ins"): _P.PATIENT_WRITE,
    ("GET", f"{_API}/worklist"): _P.WORKLIST_READ,
    ("PATCH", f"{_API}/tasks/{{task_id}}"): _P.TASK_WRITE,
    ("GET", f"{_API}/audit/{{entity}}/{{entity_id}}"): _P.AUDIT_READ,
    ("GET", f"{_API}/audit"): _P.AUDIT_READ,
    ("GET", f"{_API}/fhir/Patient/{{patient_id}}/$export-record"): _P.RECORD_EXPORT,
    ("POST", f"{_API}/fhir/$import-record"): _P.RECORD_IMPORT,
    # CDS Hooks: EHRs authenticate with their own JWTs (cdshooks/auth.py)
    ("GET", "/cds-services"): Access.CDS_HOOKS,
    ("POST", "/cds-services/{service_id}"): Access.CDS_HOOKS,
    ("POST", "/cds-services/{service_id}/feedback"): Access.CDS_HOOKS,
    # The web app (venapath.web): pages and their form posts; a browser without a session
    # is sent to sign in. Each page checks the same permission again before it reads.
    ("GET", "/"): _P.KNOWLEDGE_READ,
    ("GET", "/static/{path:path}"): Access.PUBLIC,
    ("GET", "/evaluate"): _P.EVALUATE,
    ("POST", "/evaluate"): _P.EVALUATE,
    ("POST", "/evaluate/result"): _P.EVALUATE,
    ("GET", "/knowledge"): _P.KNOWLEDGE_READ,
    ("GET", "/knowledge/rules/{rule_id}"): _P.KNOWLEDGE_READ,
    ("GET", "/worklist"): _P.WORKLIST_READ,
    ("POST", "/tasks/{task_id}/done"): _P.TASK_WRITE,
    ("GET", "/patients"): _P.PATIENT_READ,
    ("GET", "/patients/{patient_id}"): _P.PATIENT_READ,
    ("GET", "/patients/{patient_id}/procedures/new"): _P.PATIENT_WRITE,
    ("POST", "/patients/{patient_id}/procedures"): _P.PATIENT_WRITE,
    ("GET", "/procedures/{procedure_id}"): _P.PATIENT_READ,
    ("POST", "/procedures/{procedure_id}/check-in-link"): _P.CHECK_IN_SEND,
    ("GET", "/check-ins/{check_in_id}"): _P.PATIENT_READ,
    ("GET", "/dashboards"): _P.AGGREGATE_READ,
    ("GET", "/dashboards/{chart_id}.csv"): _P.AGGREGATE_READ,
    ("GET", "/dashboards/{chart_id}.png"): _P.AGGREGATE_READ,
    ("GET", "/screening"): _P.AGGREGATE_READ,
    ("GET", "/feedback"): _P.AGGREGATE_READ,
    ("GET", "/admin/accounts"): _P.ACCOUNTS_MANAGE,
    ("POST", "/admin/accounts"): _P.ACCOUNTS_MANAGE,
    ("POST", "/admin/accounts/{username}/disabled"): _P.ACCOUNTS_MANAGE,
    ("POST", "/admin/accounts/{username}/role"): _P.ACCOUNTS_MANAGE,
    ("POST", "/admin/accounts/{username}/password"): _P.ACCOUNTS_MANAGE,
    ("GET", "/screening/patients/{patient_id}"): _P.PATIENT_READ,
    # A patient's check-in: the link's token is the credential (web/pages/check_in.py)
    ("GET", "/c/{token}"): Access.OWN_CREDENTIAL,
    ("POST", "/c/{token}"): Access.OWN_CREDENTIAL,
    # SMART App Launch: the launch and the EHR's redirect start and finish a sign-in; the app
    # pages read the launch's own session (confined to the launch patient, EVALUATE checked)
    ("GET", "/smart/launch"): Access.PUBLIC,
    ("GET", "/smart/callback"): Access.PUBLIC,
    ("GET", "/smart/app"): Access.OWN_CREDENTIAL,
    ("GET", "/smart/app/assessment"): Access.OWN_CREDENTIAL,
}


def requirement_for(method: str, path_template: str) -> Requirement | None:
    """What a route needs; None when the table has no entry (the request is refused)."""
    lookup = "GET" if method == "HEAD" else method
    return ROUTE_POLICY.get((lookup, path_template))
