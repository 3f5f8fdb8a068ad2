"""Load the knowledge base from YAML and refuse anything that cannot be vouched for.

Every problem is collected (not just the first) and reported with the file and the rule id,
so `venapath kb validate` can show an author everything to fix in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from venapath import errors
from venapath.domain.anatomy import SEGMENTS_BY_ID
from venapath.domain.facts import FactDefinition, FactType, catalogue
from venapath.domain.vocabulary import Strength
from venapath.kb.codes import CodeIndex
from venapath.kb.conditions import ConditionError, compile_condition, facts_read, parse
from venapath.kb.model import (
    SAFETY_NET_ACTIONS,
    SAFETY_PATHWAY,
    UNGRADED_SOURCE_KINDS,
    Citation,
    CitationSpec,
    KnowledgeBase,
    Manifest,
    Pathway,
    PathwaySpec,
    Rule,
    RuleKind,
    RuleSpec,
    Source,
    TimeWindow,
    TimeWindowSpec,
)
from venapath.kb.parsed_cache import parsed_documents
from venapath.kb.protocols import FollowUpProtocol
from venapath.kb.value_sets import (
    AnticoagulantTarget,
    DiagnosisTarget,
    FlagTarget,
    Resource,
    ValueSet,
    also_read_in_problem,
    flag_field_problem,
)

DEFAULT_KB_DIR = Path(__file__).parent / "data"
VALUE_SET_DIR = "value_sets"
PROTOCOL_FILE = "follow_up_protocols.yaml"
VIEW_DIR_NAME = "views"

# The C loader is several times faster; fall back when PyYAML was built without it.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem(errors.Problem):
    """A problem located by knowledge-base file and rule (`where`), not by a JSON pointer."""

    @property
    def where(self) -> str:
        return self.pointer

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"


class KnowledgeBaseError(errors.InputError):
    """The knowledge base cannot be loaded; `problems` lists every reason."""

    title = "Knowledge base refused"

    def __init__(self, problems: list[Problem]) -> None:
        summary = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(list(problems), f"knowledge base refused: {summary}{more}")


def load_knowledge_base(directory: Path | None = None) -> KnowledgeBase:
    """Load and check the knowledge base in `directory` (the bundled one by default)."""
    if directory is None:
        return _load_default()
    return _load(directory)


@lru_cache(maxsize=1)
def _load_default() -> KnowledgeBase:
    return _load(DEFAULT_KB_DIR)


def _load(directory: Path) -> KnowledgeBase:
    problems: list[Problem] = []
    files = _kb_files(directory, problems)
    if problems:
        raise KnowledgeBaseError(problems)
    raw = parsed_documents(directory, files, lambda path: _read_yaml(path, directory, problems))
    if problems:
        raise KnowledgeBaseError(problems)
    facts = catalogue()
    manifest = _one(Manifest, raw[directory / "manifest.yaml"], "manifest.yaml", problems)
    sources = _load_sources(raw[directory / "sources.yaml"], problems)
    pathways = _load_pathways(raw[directory / "pathways.yaml"], facts, problems)
    pathway_ids = {p.id for p in pathways}
    rules: list[Rule] = []
    for path in files:
        if path.parent == directory / "rules":
            rules.extend(
                _load_rules(
                    raw[path],
                    path.relative_to(directory).as_posix(),
                    facts,
                    sources,
                    pathway_ids,
                    problems,
                )
            )
    _check_unique_and_links(rules, problems)
    windows = _load_windows(
        raw[directory / "time_windows.yaml"], facts, sources, pathway_ids, problems
    )
    value_sets = _load_value_sets(directory, files, raw, sources, problems)
    protocols = _load_protocols(raw.get(directory / PROTOCOL_FILE, []), sources, problems)
    if problems or manifest is None:
        raise KnowledgeBaseError(problems)
    ordered = tuple(sorted(rules, key=lambda r: r.id))
    by_pathway = {
        pathway_id: tuple(r for r in ordered if r.pathway == pathway_id)
        for pathway_id in [SAFETY_PATHWAY, *(p.id for p in pathways)]
    }
    return KnowledgeBase(
        manifest=manifest,
        content_hash=_content_hash(directory, [*files, *view_files(directory)]),
        sources=sources,
        pathways=tuple(pathways),
        rules=ordered,
        time_windows=tuple(windows),
        value_sets=tuple(value_sets),
        codes=CodeIndex(value_sets),
        rules_by_pathway=by_pathway,
        follow_up_protocols=tuple(protocols),
    )


def _kb_files(directory: Path, problems: list[Problem]) -> list[Path]:
    required = ["manifest.yaml", "sources.yaml", "pathways.yaml", "time_windows.yaml"]
    for name in required:
        if not (directory / name).is_file():
            problems.append(Problem(str(directory / name), "missing"))
    rule_files = sorted((directory / "rules").glob("*.yaml"))
    if not rule_files:
        problems.append(Problem(str(directory / "rules"), "no rule files (*.yaml)"))
    value_set_files = sorted((directory / VALUE_SET_DIR).glob("*.yaml"))
    optional = [directory / PROTOCOL_FILE] if (directory / PROTOCOL_FILE).is_file() else []
    return [directory / name for name in required] + rule_files + value_set_files + optional


def view_files(directory: Path = DEFAULT_KB_DIR) -> list[Path]:
    """The SQL on FHIR ViewDefinitions the population screen reads (validated by the screen).

    They are part of the knowledge base's content hash: a changed view is a changed
    knowledge base, and the screen's output names the version that read the data."""
    return sorted((directory / VIEW_DIR_NAME).glob("*.json"))


def _read_yaml(path: Path, directory: Path, problems: list[Problem]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as error:
        problems.append(Problem(path.relative_to(directory).as_posix(), f"invalid YAML: {error}"))
        return None


def _content_hash(directory: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


M = TypeVar("M", bound=BaseModel)


def _one(model: type[M], data: Any, where: str, problems: list[Problem]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for detail in error.errors():
            location = ".".join(str(part) for part in detail["loc"])
            problems.append(Problem(where, f"{location}: {detail['msg']}"))
        return None


def _load_sources(data: Any, problems: list[Problem]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    if not isinstance(data, list):
        problems.append(Problem("sources.yaml", "expected a list of sources"))
        return sources
    for index, item in enumerate(data):
        where = f"sources.yaml[{index}]" + (
            f" ({item.get('id')})" if isinstance(item, dict) else ""
        )
        source = _one(Source, item, where, problems)
        if source is None:
            continue
        if source.id in sources:
            problems.append(Problem(where, f"duplicate source id {source.id!r}"))
        sources[source.id] = source
    return sources


def _load_pathways(
    data: Any, facts: Mapping[str, FactDefinition], problems: list[Problem]
) -> list[Pathway]:
    pathways: list[Pathway] = []
    if not isinstance(data, list):
        problems.append(Problem("pathways.yaml", "expected a list of pathways"))
        return pathways
    for index, item in enumerate(data):
        spec = _one(PathwaySpec, item, f"pathways.yaml[{index}]", problems)
        if spec is None:
            continue
        try:
            condition = parse(spec.applies_when, facts, "applies_when")
        except ConditionError as error:
            problems.append(Problem(f"pathway {spec.id}", str(error)))
            continue
        pathways.append(
            Pathway(
                spec.id,
                spec.title,
                spec.description,
                condition,
                compile_condition(condition),
                facts_read(condition),
            )
        )
    return pathways


def _citations(
    specs: list[CitationSpec], sources: Mapping[str, Source], where: str, problems: list[Problem]
) -> tuple[Citation, ...]:
    citations = []
    for spec in specs:
        source = sources.get(spec.source)
        if source is None:
            problems.append(Problem(where, f"cites unknown source {spec.source!r}"))
            continue
        citations.append(Citation(source, spec.evidence, spec.locator, spec.quote, spec.checked))
    return tuple(citations)


def _unread_citations(specs: list[CitationSpec]) -> list[str]:
    """Citations that do not say where the source says it, what it says, or when it was read."""
    missing = []
    for spec in specs:
        absent = [name for name in ("locator", "quote", "checked") if getattr(spec, name) is None]
        if absent:
            missing.append(f"citation of {spec.source!r} lacks {', '.join(absent)}")
    return missing


def _ungraded_recommendation(spec: RuleSpec, citations: tuple[Citation, ...]) -> str | None:
    """A treatment "recommended" on case reports, practice pages or clinic protocols alone.

    Those sources describe what someone did or does; they never grade a treatment, so the
    rule may say "consider" at most. Advice that errs towards care is exempt."""
    recommend = spec.recommend
    if recommend is None or recommend.strength is not Strength.RECOMMENDED:
        return None
    if recommend.action.general in SAFETY_NET_ACTIONS or not citations:
        return None
    if all(c.source.kind in UNGRADED_SOURCE_KINDS for c in citations):
        kinds = sorted({c.source.kind.value for c in citations})
        return (
            f"recommends {recommend.action.value!r} on {', '.join(kinds)} alone; "
            "such sources carry 'consider' at most"
        )
    return None


def _load_rules(
    data: Any,
    file: str,
    facts: Mapping[str, FactDefinition],
    sources: Mapping[str, Source],
    pathway_ids: set[str],
    problems: list[Problem],
) -> list[Rule]:
    if not isinstance(data, list):
        problems.append(Problem(file, "expected a list of rules"))
        return []
    rules = []
    for index, item in enumerate(data):
        label = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
        where = f"{file}: rule {label}"
        spec = _one(RuleSpec, item, where, problems)
        if spec is None:
            continue
        rule = _build_rule(spec, where, facts, sources, pathway_ids, problems)
        if rule is not None:
            rules.append(rule)
    return rules


_KIND_BLOCK = {
    RuleKind.RECOMMENDATION: "recommend",
    RuleKind.CONTRAINDICATION: "contraindication",
    RuleKind.ALERT: "alert",
}


def _build_rule(
    spec: RuleSpec,
    where: str,
    facts: Mapping[str, FactDefinition],
    sources: Mapping[str, Source],
    pathway_ids: set[str],
    problems: list[Problem],
) -> Rule | None:
    before = len(problems)
    if spec.kind is RuleKind.CONTRAINDICATION:
        if spec.pathway != SAFETY_PATHWAY:
            problems.append(
                Problem(where, f"contraindication rules belong to pathway {SAFETY_PATHWAY!r}")
            )
    elif spec.pathway not in pathway_ids:
        problems.append(Problem(where, f"unknown pathway {spec.pathway!r}"))
    for kind, block in _KIND_BLOCK.items():
        present = getattr(spec, block) is not None
        if kind is spec.kind and not present:
            problems.append(Problem(where, f"a {kind.value} rule needs a '{block}' block"))
        if kind is not spec.kind and present:
            problems.append(Problem(where, f"a {spec.kind.value} rule cannot have '{block}'"))
    citations = _citations(spec.citations, sources, where, problems)
    problems.extend(Problem(where, message) for message in _unread_citations(spec.citations))
    ungraded = _ungraded_recommendation(spec, citations)
    if ungraded is not None:
        problems.append(Problem(where, ungraded))
    try:
        condition = parse(spec.when, facts)
        provided = None if spec.provided is None else parse(spec.provided, facts, "provided")
        unless = None if spec.unless is None else parse(spec.unless, facts, "unless")
    except ConditionError as error:
        problems.append(Problem(where, f"malformed condition at {error}"))
        return None
    if provided is not None and spec.kind is not RuleKind.RECOMMENDATION:
        problems.append(Problem(where, "only a recommendation rule can have 'provided'"))
    if unless is not None and spec.kind is not RuleKind.RECOMMENDATION:
        problems.append(Problem(where, "only a recommendation rule can have 'unless'"))
    if len(problems) > before:
        return None
    return Rule(
        id=spec.id,
        pathway=spec.pathway,
        kind=spec.kind,
        title=spec.title,
        condition=condition,
        check=compile_condition(condition),
        rationale=spec.rationale.strip(),
        citations=citations,
        facts=facts_read(condition)
        | (frozenset() if provided is None else facts_read(provided))
        | (frozenset() if unless is None else facts_read(unless)),
        recommend=spec.recommend,
        contraindication=spec.contraindication,
        alert=spec.alert,
        disagrees_with=tuple(spec.disagrees_with),
        provided=provided,
        provided_check=None if provided is None else compile_condition(provided),
        unless=unless,
        unless_check=None if unless is None else compile_condition(unless),
    )


def _check_unique_and_links(rules: list[Rule], problems: list[Problem]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            problems.append(Problem(f"rule {rule.id}", "duplicate rule id"))
        seen.add(rule.id)
    kinds = {rule.id: rule.kind for rule in rules}
    for rule in rules:
        for other in rule.disagrees_with:
            if other not in seen:
                problems.append(
                    Problem(f"rule {rule.id}", f"disagrees_with unknown rule {other!r}")
                )
            elif (
                rule.kind is not RuleKind.RECOMMENDATION
                or kinds[other] is not RuleKind.RECOMMENDATION
            ):
                problems.append(
                    Problem(f"rule {rule.id}", "disagrees_with links recommendation rules only")
                )


def _load_windows(
    data: Any,
    facts: Mapping[str, FactDefinition],
    sources: Mapping[str, Source],
    pathway_ids: set[str],
    problems: list[Problem],
) -> list[TimeWindow]:
    windows: list[TimeWindow] = []
    if not isinstance(data, list):
        problems.append(Problem("time_windows.yaml", "expected a list"))
        return windows
    for index, item in enumerate(data):
        spec = _one(TimeWindowSpec, item, f"time_windows.yaml[{index}]", problems)
        if spec is None:
            continue
        where = f"time window {spec.id}"
        clock = facts.get(spec.clock)
        if clock is None or clock.type is not FactType.NUMBER:
            problems.append(Problem(where, f"clock {spec.clock!r} is not a number fact"))
            continue
        if clock.unit != spec.unit:
            problems.append(
                Problem(where, f"unit {spec.unit!r} differs from the clock's {clock.unit!r}")
            )
        if spec.pathway not in pathway_ids:
            problems.append(Problem(where, f"unknown pathway {spec.pathway!r}"))
        citations = _citations(spec.citations, sources, where, problems)
        problems.extend(Problem(where, message) for message in _unread_citations(spec.citations))
        windows.append(
            TimeWindow(
                spec.id,
                spec.pathway,
                spec.label,
                tuple(spec.actions),
                spec.clock,
                spec.limit,
                spec.unit,
                spec.bound,
                spec.meaning,
                citations,
            )
        )
    return windows


def _load_value_sets(
    directory: Path,
    files: list[Path],
    raw: Mapping[Path, Any],
    sources: Mapping[str, Source],
    problems: list[Problem],
) -> list[ValueSet]:
    value_sets: list[ValueSet] = []
    seen: set[str] = set()
    for path in files:
        if path.parent != directory / VALUE_SET_DIR:
            continue
        file = path.relative_to(directory).as_posix()
        data = raw[path]
        if not isinstance(data, list):
            problems.append(Problem(file, "expected a list of value sets"))
            continue
        for index, item in enumerate(data):
            label = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
            where = f"{file}: value set {label}"
            value_set = _one(ValueSet, item, where, problems)
            if value_set is None:
                continue
            if value_set.id in seen:
                problems.append(Problem(where, "duplicate value set id"))
            seen.add(value_set.id)
            problems.extend(Problem(where, m) for m in _value_set_problems(value_set, sources))
            value_sets.append(value_set)
    return value_sets


def _value_set_problems(value_set: ValueSet, sources: Mapping[str, Source]) -> list[str]:
    found = []
    if value_set.source not in sources:
        found.append(f"cites unknown source {value_set.source!r}")
    target = value_set.target
    dose = target.treatment_dose if isinstance(target, AnticoagulantTarget) else None
    if dose is not None and dose.source not in sources:
        found.append(f"treatment_dose cites unknown source {dose.source!r}")
    segment = target.segment if isinstance(target, DiagnosisTarget) else None
    if segment is not None and segment not in SEGMENTS_BY_ID:
        found.append(f"unknown segment {segment!r}")
    if isinstance(target, FlagTarget):
        problem = flag_field_problem(target.field)
        if problem is not None:
            found.append(problem)
    also = also_read_in_problem(value_set)
    if also is not None:
        found.append(also)
    if value_set.resource is Resource.DIAGNOSTIC_REPORT:
        found.append("DiagnosticReport is read only through another value set's also_read_in")
    return found


def _load_protocols(
    data: Any, sources: Mapping[str, Source], problems: list[Problem]
) -> list[FollowUpProtocol]:
    if not isinstance(data, list):
        problems.append(Problem(PROTOCOL_FILE, "expected a list of protocols"))
        return []
    protocols: list[FollowUpProtocol] = []
    for index, item in enumerate(data):
        label = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
        where = f"{PROTOCOL_FILE}: protocol {label}"
        protocol = _one(FollowUpProtocol, item, where, problems)
        if protocol is None:
            continue
        if any(p.id == protocol.id for p in protocols):
            problems.append(Problem(where, "duplicate protocol id"))
        problems.extend(
            Problem(where, f"cites unknown source {c.source!r}")
            for c in protocol.citations
            if c.source not in sources
        )
        protocols.append(protocol)
    return protocols
