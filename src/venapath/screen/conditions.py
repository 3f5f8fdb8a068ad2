"""The knowledge base's condition grammar compiled to Ibis, for a whole population at once.

SQL's AND, OR and NOT on NULL are exactly Kleene's tables (`domain/kleene.py`), so NULL
plays the engine's "unknown" and a compiled condition is TRUE, FALSE or NULL for a patient
exactly when `kb.conditions.compile_condition` gives True, False or None for their facts.

`deciding_unknown` is the population form of `kb.conditions.deciding_unknowns`: it is TRUE
on the rows where a fact is one of the unknowns that could still change an unknown condition.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from venapath.kb.conditions import All, AnyOf, Condition, Leaf, Not, facts_read

FactColumn = Callable[[str], ir.Value]
"""The column holding a fact, by fact name (case facts and score facts alike)."""

TRUE = ibis.literal(True)
FALSE = ibis.literal(False)
UNKNOWN = ibis.null("boolean")


# ------------------------------------------------------- three-valued helpers (never NULL)


def constant(value: ir.BooleanValue) -> bool | None:
    """True or False when `value` is that literal, else None (a column, or NULL)."""
    node = value.op()
    if isinstance(node, ops.Literal) and isinstance(node.value, bool):
        return node.value
    return None


def is_true(value: ir.BooleanValue) -> ir.BooleanValue:
    """TRUE only when `value` is TRUE: the engine's `value is True`."""
    return value if constant(value) is not None else value.fill_null(False)


def is_false(value: ir.BooleanValue) -> ir.BooleanValue:
    """TRUE only when `value` is FALSE: the engine's `value is False`."""
    known = constant(value)
    if known is not None:
        return FALSE if known else TRUE
    return (~value).fill_null(False)


def is_unknown(value: ir.BooleanValue) -> ir.BooleanValue:
    """TRUE only when `value` is NULL; never NULL itself.

    Not a bare `value.isnull()`: Ibis 11 prints `(~x).isnull()` as `NOT (x) IS NULL`,
    which SQL parses as `NOT (x IS NULL)` (TRUE for a known FALSE), and it prints
    `x.isin(...).isnull()` unparenthesised, leaving it to each engine's precedence. A NOT
    is unknown exactly when its operand is, so it is stripped; columns, AND, OR and
    comparisons print in parentheses and are safe; anything else goes through COALESCE,
    which keeps its operand inside a function call.
    """
    node = value.op()
    if constant(value) is not None:
        return FALSE
    if isinstance(node, ops.Not):
        return is_unknown(node.arg.to_expr())
    if isinstance(node, ops.Field | ops.And | ops.Or | ops.Comparison):
        return value.isnull()
    return ~(is_true(value) | is_false(value))


def any_of(values: Iterable[ir.BooleanValue]) -> ir.BooleanValue:
    """Kleene OR of `values`; FALSE for none (as Python's `any([])`). Literals fold away."""
    kept = []
    for value in values:
        known = constant(value)
        if known is True:
            return TRUE
        if known is None:
            kept.append(value)
    return functools.reduce(operator.or_, kept) if kept else FALSE


def all_of(values: Iterable[ir.BooleanValue]) -> ir.BooleanValue:
    """Kleene AND of `values`; TRUE for none (as Python's `all([])`). Literals fold away."""
    kept = []
    for value in values:
        known = constant(value)
        if known is False:
            return FALSE
        if known is None:
            kept.append(value)
    return functools.reduce(operator.and_, kept) if kept else TRUE


# ------------------------------------------------------------------ the compiler


class ConditionCompiler:
    """Compiles conditions against one table's fact columns.

    Node expressions are cached by identity: a rule's condition is compiled once and reused
    by its value, its outcome and each of its deciding-unknown tests.
    """

    def __init__(self, column: FactColumn) -> None:
        self._column = column
        self._compiled: dict[int, tuple[Condition, ir.BooleanValue]] = {}

    def use(self, condition: Condition, value: ir.BooleanValue) -> None:
        """Read `condition` from `value` (a column already holding it) instead of recompiling."""
        self._compiled[id(condition)] = (condition, value)

    def truth(self, condition: Condition) -> ir.BooleanValue:
        """TRUE, FALSE or NULL (unknown), as the engine evaluates `condition`."""
        cached = self._compiled.get(id(condition))
        if cached is not None and cached[0] is condition:
            return cached[1]
        value = self._compile(condition)
        self._compiled[id(condition)] = (condition, value)
        return value

    def deciding_unknown(self, condition: Condition, fact: str) -> ir.BooleanValue:
        """TRUE on the rows where `fact` is in `deciding_unknowns(condition, facts)`; never NULL.

        A node is decided by `fact` when the node is unknown and either it is a leaf on
        `fact`, or one of its unknown children is decided by `fact` (a `not` passes through).
        Known children cannot change an unknown all/any, so they are not followed.
        """
        if fact not in facts_read(condition):
            return FALSE
        if isinstance(condition, Not):
            return self.deciding_unknown(condition.child, fact)
        if isinstance(condition, Leaf):
            return self.unknown(condition)
        children = [self.deciding_unknown(child, fact) for child in condition.children]
        return self.unknown(condition) & any_of(children)

    def unknown(self, condition: Condition) -> ir.BooleanValue:
        """TRUE when `condition` is unknown; never NULL.

        A leaf is unknown exactly when its fact is, and a `not` when its child is, so those
        read the column itself: shorter SQL than testing the whole expression.
        """
        if isinstance(condition, Leaf):
            return is_unknown(self._column(condition.fact))
        if isinstance(condition, Not):
            return self.unknown(condition.child)
        return is_unknown(self.truth(condition))

    def _compile(self, condition: Condition) -> ir.BooleanValue:
        if isinstance(condition, Leaf):
            return self._leaf(condition)
        if isinstance(condition, Not):
            return ~self.truth(condition.child)
        children = [self.truth(child) for child in condition.children]
        if isinstance(condition, All):
            return all_of(children)
        assert isinstance(condition, AnyOf)
        return any_of(children)

    def _leaf(self, leaf: Leaf) -> ir.BooleanValue:
        column = self._column(leaf.fact)
        if leaf.op == "is":
            return column if leaf.value is True else ~column
        if leaf.op == "in":
            assert isinstance(leaf.value, tuple)
            return column.isin(list(leaf.value))
        return compare(column, leaf.op, leaf.value)


_OPERATORS: dict[str, Callable[[ir.Value, ir.Value], ir.BooleanValue]] = {
    "lt": lambda left, right: left < right,
    "le": lambda left, right: left <= right,
    "gt": lambda left, right: left > right,
    "ge": lambda left, right: left >= right,
    "eq": lambda left, right: left == right,
    "ne": lambda left, right: left != right,
}
"""The SQL forms of `domain.kleene.COMPARISONS` (a test checks they name the same ops)."""


def compare(column: ir.Value, op: str, value: object) -> ir.BooleanValue:
    """`column <op> value`; NULL when the column is NULL, like a leaf on an unknown fact."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _OPERATORS[op](column, ibis.literal(value))
    return _OPERATORS[op](column, ibis.literal(float(value), type="float64"))
