"""Problems with FHIR input, each naming where it is (FHIRPath-like location) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FhirProblem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class FhirInputError(ValueError):
    """The FHIR input cannot be used; `problems` lists every reason found."""

    def __init__(self, problems: list[FhirProblem]) -> None:
        self.problems = problems
        summary = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"FHIR input refused: {summary}{more}")
