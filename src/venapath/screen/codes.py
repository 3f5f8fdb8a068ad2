"""The knowledge base's value sets as a table the engine can join codings against.

Same rule as the per-patient mapping (`kb/codes.py`): a coding counts only through a value
set; ICD-10 codes are compared without their dot, in upper case; a `prefix` code claims
every code of its family. One row per (value set, code), with the target spelled out in
plain columns, so the join carries everything the case columns need.
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa  # type: ignore[import-untyped]

from venapath.kb.codes import DOTTED_SYSTEMS, normal_code
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import (
    AnticoagulantTarget,
    DiagnosisTarget,
    FlagTarget,
    MeasurementTarget,
    PostProcedureSymptomTarget,
    ProcedureTarget,
    SeizureTarget,
)

_DOTTED_URIS = sorted(system.uri for system in DOTTED_SYSTEMS)

PREFIX_KEY = 3
"""Leading characters a prefix code and the codes it claims share, used as a join key
(`matched`); an ICD-10 category, the usual prefix, is 3 characters."""

_SCHEMA = pa.schema(
    [
        ("resource", pa.string()),
        ("system", pa.string()),
        ("code", pa.string()),
        ("prefix", pa.bool_()),
        ("value_set", pa.string()),
        ("kind", pa.string()),
        ("condition", pa.string()),
        ("segment", pa.string()),
        ("chronic", pa.bool_()),
        ("side", pa.string()),
        ("field", pa.string()),
        ("flag_value", pa.string()),
        ("basis", pa.string()),
        ("agent", pa.string()),
        ("procedure", pa.string()),
    ]
)


def code_rows(kb: KnowledgeBase) -> pa.Table:
    """Every value-set code with its target, as an Arrow table: one row per resource type the
    value set is read from (`resource` and `also_read_in`)."""
    rows: list[dict[str, Any]] = []
    for value_set in kb.value_sets:
        target = _target_columns(value_set.target)
        for resource in value_set.resources:
            for code in value_set.codes:
                rows.append(
                    {
                        "resource": resource.value,
                        "system": code.system.uri,
                        "code": normal_code(code.system, code.code),
                        "prefix": code.match == "prefix",
                        "value_set": value_set.id,
                        "side": code.side.value if code.side is not None else None,
                        **target,
                    }
                )
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def normalised(system: ibis.Value, code: ibis.Value) -> ibis.Value:
    """The engine-side twin of `kb.codes.normal_code`, on the system's URI."""
    dotted = system.isin(_DOTTED_URIS)
    return dotted.ifelse(code.replace(".", "").upper(), code)


def matched(rows: ibis.Table, codes: ibis.Table, resource: str) -> ibis.Table:
    """`rows` (with `system` and `code` columns) joined to every value-set code claiming them.

    Exact codes join on equality; prefix codes on `startswith` within the same system. A
    coding claimed by several value sets yields a row for each, as in the per-patient path.

    Why the prefix join also compares the first PREFIX_KEY characters: with the system as
    its only equality, the engine pairs every coding with every prefix code of its system
    and filters `startswith` afterwards (1.5 million pairs for 20,000 Conditions, most of
    the matching stage). A code starting with a prefix of at least PREFIX_KEY characters
    shares those characters, so the extra equality drops no match and lets a hash join find
    the few candidates; shorter prefix codes keep the system-only join.
    """
    mine = codes.filter(codes.resource == resource)
    keyed = rows.mutate(_normal=normalised(rows.system, rows.code)).filter(
        ibis._.system.notnull() & ibis._.code.notnull()
    )
    target_columns = [c for c in _SCHEMA.names if c not in ("resource", "system", "code", "prefix")]
    exact = mine.filter(~mine.prefix)
    prefix = mine.filter(mine.prefix)
    long_prefix = prefix.filter(prefix.code.length() >= PREFIX_KEY)
    short_prefix = prefix.filter(prefix.code.length() < PREFIX_KEY)
    by_exact = keyed.join(
        exact, [keyed.system == exact.system, keyed._normal == exact.code], how="inner"
    ).select(*keyed.columns, *[exact[c] for c in target_columns])
    by_long_prefix = keyed.join(
        long_prefix,
        [
            keyed.system == long_prefix.system,
            keyed._normal.left(PREFIX_KEY) == long_prefix.code.left(PREFIX_KEY),
            keyed._normal.startswith(long_prefix.code),
        ],
        how="inner",
    ).select(*keyed.columns, *[long_prefix[c] for c in target_columns])
    by_short_prefix = keyed.join(
        short_prefix,
        [keyed.system == short_prefix.system, keyed._normal.startswith(short_prefix.code)],
        how="inner",
    ).select(*keyed.columns, *[short_prefix[c] for c in target_columns])
    return (
        by_exact.union(by_long_prefix, distinct=False)
        .union(by_short_prefix, distinct=False)
        .drop("_normal")
    )


def _target_columns(target: object) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "kind": None,
        "condition": None,
        "segment": None,
        "chronic": None,
        "field": None,
        "flag_value": None,
        "basis": None,
        "agent": None,
        "procedure": None,
    }
    if isinstance(target, DiagnosisTarget):
        return {
            **empty,
            "kind": "diagnosis",
            "condition": target.condition.value,
            "segment": target.segment,
            "chronic": target.chronic,
        }
    if isinstance(target, FlagTarget):
        value = target.value
        shown = ("true" if value else "false") if isinstance(value, bool) else value.value
        return {**empty, "kind": "flag", "field": target.field, "flag_value": shown}
    if isinstance(target, MeasurementTarget):
        basis = target.basis.value if target.basis is not None else None
        return {**empty, "kind": "measurement", "field": target.field, "basis": basis}
    if isinstance(target, AnticoagulantTarget):
        return {**empty, "kind": "anticoagulant", "agent": target.agent.value}
    if isinstance(target, ProcedureTarget):
        return {**empty, "kind": "procedure", "procedure": target.procedure.value}
    if isinstance(target, SeizureTarget):
        return {**empty, "kind": "seizure"}
    if isinstance(target, PostProcedureSymptomTarget):
        return {**empty, "kind": "post_procedure_symptom", "field": target.field}
    raise TypeError(f"no screen column for value-set target {target!r}")
