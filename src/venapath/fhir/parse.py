"""Read FHIR R4 JSON (a Bundle, one resource, or a list) into validated R4B models.

Only the resource types VenaPath reads are validated field by field, with the R4B models of
fhir.resources (never the default R5 package: R4 data fails R5 validation). Other resources
must still name a resource type that exists in FHIR R4, so an R5 or made-up type is refused,
but their content is counted and left alone: a broken Claim must not block a CDS card.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from venapath.domain.reading import FHIR_LIMITS, check_limits, read_json
from venapath.errors import shown
from venapath.fhir.errors import FhirInputError, FhirProblem

READ_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Procedure",
        "AllergyIntolerance",
        "DiagnosticReport",
        "ServiceRequest",
    }
)
"""Resource types whose content VenaPath reads (ServiceRequest only as a draft order;
DiagnosticReport only for the coded conclusion of a final report)."""

MAX_RESOURCES = 20_000


@dataclass
class ParsedResources:
    """Validated resources by type, and a count of the ones carried but not read."""

    by_type: dict[str, list[Resource]] = field(default_factory=dict)
    not_read: Counter[str] = field(default_factory=Counter)

    def of(self, resource_type: str) -> list[Resource]:
        return self.by_type.get(resource_type, [])

    def add(self, resource: Resource) -> None:
        self.by_type.setdefault(resource.get_resource_type(), []).append(resource)

    def extend(self, other: ParsedResources) -> None:
        for resources in other.by_type.values():
            for resource in resources:
                self.add(resource)
        self.not_read.update(other.not_read)


def parse_json_text(text: str | bytes, where: str = "$") -> Any:
    """JSON text to Python data, or a FhirInputError naming the line and column; input over
    the FHIR limits (depth, string length, entries) raises TooLargeError naming the limit."""
    try:
        return read_json(text, FHIR_LIMITS)
    except json.JSONDecodeError as error:
        raise FhirInputError(
            [
                FhirProblem(
                    where, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
                )
            ]
        ) from None
    except UnicodeDecodeError:
        raise FhirInputError([FhirProblem(where, "the body is not UTF-8 text")]) from None


def read_resources(
    data: Any,
    where: str = "$",
    *,
    latest_results_only: bool = False,
    history_codes: frozenset[tuple[str, str]] = frozenset(),
) -> ParsedResources:
    """Validate a Bundle, a single resource or a list of resources; collect every problem.

    With `latest_results_only`, only the most recent usable Observation of each code is
    validated and kept; older results of the same code are counted as not read. The mapping
    reads only the latest result of each kind, so its answer is the same, and a chart with
    weeks of laboratory history costs a few validations instead of dozens. Results with a
    code in `history_codes` (system URI, code) are all kept: the mapping reads their course
    (a falling GCS).
    """
    check_limits(data, FHIR_LIMITS, where)
    parsed = ParsedResources()
    problems: list[FhirProblem] = []
    found: list[tuple[str, dict[str, Any]]] = []
    _collect(data, where, found, problems)
    if latest_results_only:
        found = _without_superseded_results(found, parsed, history_codes)
    for location, item in found:
        _read_resource(item, item["resourceType"], location, parsed, problems)
    if problems:
        raise FhirInputError(problems)
    return parsed


_USABLE_RESULT = frozenset({"final", "amended", "corrected", "preliminary"})


def _without_superseded_results(
    found: list[tuple[str, dict[str, Any]]],
    parsed: ParsedResources,
    history_codes: frozenset[tuple[str, str]],
) -> list[tuple[str, dict[str, Any]]]:
    latest_allowed = datetime.now(UTC) + _CLOCK_SKEW
    keyed = [(location, item, *_result_key(item, latest_allowed)) for location, item in found]
    newest: dict[tuple[tuple[str, str], ...], datetime] = {}
    for _, _, key, moment in keyed:
        if key is not None and moment is not None and (key not in newest or moment > newest[key]):
            newest[key] = moment
    kept = []
    for location, item, key, moment in keyed:
        if key is not None and not history_codes.isdisjoint(key):
            kept.append((location, item))
            continue
        if key is not None and moment is not None and moment < newest[key]:
            parsed.not_read["Observation (superseded result)"] += 1
            continue
        kept.append((location, item))
    return kept


def _result_key(
    item: dict[str, Any], latest_allowed: datetime
) -> tuple[tuple[tuple[str, str], ...] | None, datetime | None]:
    """An Observation's codes and time, read leniently; None when anything looks unusual.

    A time after `latest_allowed` (now plus the clock skew) counts as unusual: a future
    time is reported by the mapping, and it must not hide the other results."""
    if item.get("resourceType") != "Observation" or item.get("status") not in _USABLE_RESULT:
        return None, None
    try:
        codings = item["code"]["coding"]
        key = tuple(sorted((str(c["system"]), str(c["code"])) for c in codings))
        stamp = item.get("effectiveDateTime") or item.get("effectiveInstant") or item.get("issued")
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return None, None
    if not key or moment.tzinfo is None or moment > latest_allowed:
        return None, None
    return key, moment


_CLOCK_SKEW = timedelta(minutes=5)


def _collect(
    data: Any, where: str, found: list[tuple[str, dict[str, Any]]], problems: list[FhirProblem]
) -> None:
    """Flatten Bundles and lists into (location, resource) pairs, checking their shape."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, list):
                problems.append(FhirProblem(f"{where}[{index}]", "expected a FHIR resource"))
                continue
            _collect(item, f"{where}[{index}]", found, problems)
        return
    if not isinstance(data, dict):
        problems.append(FhirProblem(where, "expected a FHIR resource (a JSON object)"))
        return
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str):
        problems.append(FhirProblem(where, "missing 'resourceType'"))
        return
    if resource_type == "Bundle":
        _collect_bundle(data, where, found, problems)
        return
    found.append((where, data))


def _collect_bundle(
    data: dict[str, Any],
    where: str,
    found: list[tuple[str, dict[str, Any]]],
    problems: list[FhirProblem],
) -> None:
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        problems.append(FhirProblem(f"{where}.entry", "expected a list of entries"))
        return
    if len(entries) > MAX_RESOURCES:
        problems.append(
            FhirProblem(
                f"{where}.entry", f"{len(entries)} entries; at most {MAX_RESOURCES} are read"
            )
        )
        return
    for index, entry in enumerate(entries):
        location = f"{where}.entry[{index}]"
        if not isinstance(entry, dict):
            problems.append(FhirProblem(location, "expected an entry object"))
            continue
        resource = entry.get("resource")
        if resource is None:
            continue  # a transaction response entry or a deleted item carries no resource
        _collect(resource, f"{location}.resource", found, problems)


def _read_resource(
    data: dict[str, Any],
    resource_type: str,
    where: str,
    parsed: ParsedResources,
    problems: list[FhirProblem],
) -> None:
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        problems.append(
            FhirProblem(
                f"{where}.resourceType", f"{shown(resource_type)} is not a FHIR R4 resource type"
            )
        )
        return
    if resource_type not in READ_TYPES:
        parsed.not_read[resource_type] += 1
        return
    key = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    resource = _recall(key)
    if resource is None:
        try:
            resource = cast(Resource, model.model_validate(data))
        except ValidationError as error:
            for detail in error.errors()[:10]:
                path = "".join(_location_part(part) for part in detail["loc"])
                problems.append(FhirProblem(f"{where}{path}", f"{resource_type}: {detail['msg']}"))
            return
        _remember(key, resource)
    parsed.add(resource)


_VALIDATED: OrderedDict[str, Resource] = OrderedDict()
_CACHE_SIZE = 5_000
_cache_lock = threading.Lock()


def _recall(key: str) -> Resource | None:
    """The resource validated earlier from this exact text, if still kept; marks it used."""
    with _cache_lock:
        resource = _VALIDATED.get(key)
        if resource is not None:
            _VALIDATED.move_to_end(key)
        return resource


def _remember(key: str, resource: Resource) -> None:
    """Keep validated resources by content: an EHR sends the same chart to every hook.

    Validation with the R4B models costs about a third of a millisecond per resource and
    dominates a hook call; the same resource text always validates to the same model, and
    the mapping never mutates it, so reusing it is safe. Least recently used first out.

    Why 5,000 and not more: each kept resource is about 20 objects the garbage collector
    walks in every full collection, and a full collection stops the worker. Over 20,000
    resources a full collection took 175-188 ms and delayed every call queued behind it
    (`docs/performance.md`, "The CDS tail: full garbage collections"); over 5,000 it takes
    28-30 ms, while the charts in use (touched by every hook) stay kept.
    """
    with _cache_lock:
        _VALIDATED[key] = resource
        while len(_VALIDATED) > _CACHE_SIZE:
            _VALIDATED.popitem(last=False)


def forget_validated_resources() -> None:
    """Empty the validated-resource cache, so the next resources read are validated anew
    (the benchmarks time a chart never seen before)."""
    with _cache_lock:
        _VALIDATED.clear()


def _location_part(part: str | int) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{part}"
