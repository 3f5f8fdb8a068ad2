"""Problems with FHIR input, each naming where it is (FHIRPath-like location) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from venapath.errors import InputError, Problem


@dataclass(frozen=True)
class FhirProblem(Problem):
    """A problem located by a FHIRPath-like `location` (`$.entry[1].resource.code`)."""

    @property
    def location(self) -> str:
        return self.pointer

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"


class FhirInputError(InputError):
    """The FHIR input cannot be used; `problems` lists every reason found."""

    title = "Invalid FHIR input"

    def __init__(self, problems: list[FhirProblem]) -> None:
        summary = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(list(problems), f"FHIR input refused: {summary}{more}")
        self.fhir_problems = problems
