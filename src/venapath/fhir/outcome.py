"""OperationOutcome: how FHIR endpoints say what was wrong with a request."""

from __future__ import annotations

from typing import Any

from venapath.fhir.errors import FhirProblem


def operation_outcome(
    problems: list[FhirProblem], *, code: str = "invalid", severity: str = "error"
) -> dict[str, Any]:
    """An R4 OperationOutcome with one issue per problem; `expression` names the location."""
    issues = []
    for problem in problems:
        issue: dict[str, Any] = {
            "severity": severity,
            "code": code,
            "diagnostics": problem.message,
        }
        if problem.location and problem.location != "$":
            issue["expression"] = [problem.location]
        issues.append(issue)
    if not issues:
        issues.append({"severity": severity, "code": code, "diagnostics": "request refused"})
    return {"resourceType": "OperationOutcome", "issue": issues}
