"""Look codes up in the knowledge base's value sets (built once, when the KB loads).

ICD-10 codes arrive with and without the dot (I82.411, I82411); both are compared without it.
A code that is in no value set is returned as unknown so it can be reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from venapath.kb.value_sets import SYSTEM_BY_URI, Code, CodeSystem, Resource, ValueSet

DOTTED_SYSTEMS = frozenset({CodeSystem.ICD10CM, CodeSystem.ICD10PCS})
"""Code systems whose codes are compared without the dot, in upper case."""


@dataclass(frozen=True)
class Match:
    value_set: ValueSet
    code: Code


@dataclass(frozen=True)
class Coding:
    """A coding as it arrived: the raw system URI, code and display."""

    system: str | None
    code: str | None
    display: str | None = None


def normal_code(system: CodeSystem, code: str) -> str:
    return code.replace(".", "").upper() if system in DOTTED_SYSTEMS else code


class CodeIndex:
    """Exact and prefix lookups, per resource type, over every value set."""

    def __init__(self, value_sets: Iterable[ValueSet]) -> None:
        self._exact: dict[tuple[Resource, CodeSystem, str], list[Match]] = {}
        self._prefix: dict[tuple[Resource, CodeSystem], list[tuple[str, Match]]] = {}
        for value_set in value_sets:
            for resource in value_set.resources:
                self._add(resource, value_set)

    def _add(self, resource: Resource, value_set: ValueSet) -> None:
        for code in value_set.codes:
            match = Match(value_set, code)
            normal = normal_code(code.system, code.code)
            if code.match == "prefix":
                self._prefix.setdefault((resource, code.system), []).append((normal, match))
            else:
                self._exact.setdefault((resource, code.system, normal), []).append(match)

    def lookup(self, resource: Resource, coding: Coding) -> list[Match]:
        """Every value set that claims this coding for this resource type (often none)."""
        if coding.system is None or coding.code is None:
            return []
        system = SYSTEM_BY_URI.get(coding.system)
        if system is None:
            return []
        normal = normal_code(system, coding.code)
        found = list(self._exact.get((resource, system, normal), ()))
        for prefix, match in self._prefix.get((resource, system), ()):
            if normal.startswith(prefix):
                found.append(match)
        return found

    def codes_for(self, resource: Resource) -> list[Code]:
        """All codes of one resource type (for prefetch query filters)."""
        codes = [m.code for (r, _, _), ms in self._exact.items() if r is resource for m in ms]
        codes += [m.code for (r, _), ps in self._prefix.items() if r is resource for _, m in ps]
        return codes
