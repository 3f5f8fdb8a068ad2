"""The condition language: a small closed grammar over named facts, in YAML.

    all: [c, ...]            true when every child is true (Kleene AND)
    any: [c, ...]            true when some child is true (Kleene OR)
    not: c                   negation; unknown stays unknown
    {fact: NAME}             a boolean fact is true
    {fact: NAME, is: false}  a boolean fact has this value
    {fact: NAME, lt|le|gt|ge: NUMBER}
    {fact: NAME, eq|ne: VALUE}
    {fact: NAME, in: [VALUE, ...]}

A leaf over an unknown fact is unknown. The grammar is deliberately small so that the same
tree runs in Python for one patient and compiles to SQL for a population.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from venapath.domain.facts import FactDefinition, FactType, FactValue
from venapath.domain.kleene import COMPARISONS as COMPARISONS  # re-exported
from venapath.domain.kleene import Truth

_SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=", "ne": "!="}


class ConditionError(ValueError):
    """A malformed condition; `path` says where inside the condition it is."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class All:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


@dataclass(frozen=True)
class Leaf:
    """A test on one fact. `op` is 'is', 'in' or a comparison name."""

    fact: str
    op: str
    value: FactValue | tuple[FactValue, ...]

    def describe(self) -> str:
        if self.op == "is":
            return self.fact if self.value is True else f"not {self.fact}"
        if self.op == "in":
            assert isinstance(self.value, tuple)
            return f"{self.fact} in ({', '.join(str(v) for v in self.value)})"
        return f"{self.fact} {_SYMBOLS[self.op]} {self.value}"

    def test(self, value: FactValue) -> Truth:
        if value is None:
            return None
        if self.op == "is":
            return value is self.value
        if self.op == "in":
            assert isinstance(self.value, tuple)
            return value in self.value
        return bool(COMPARISONS[self.op](value, self.value))


Condition = All | AnyOf | Not | Leaf


def leaves(condition: Condition) -> Iterator[Leaf]:
    """Every leaf, depth first."""
    if isinstance(condition, Leaf):
        yield condition
    elif isinstance(condition, Not):
        yield from leaves(condition.child)
    else:
        for child in condition.children:
            yield from leaves(child)


def facts_read(condition: Condition) -> frozenset[str]:
    return frozenset(leaf.fact for leaf in leaves(condition))


# ----------------------------------------------------------------------------- parsing


def parse(raw: object, catalogue: Mapping[str, FactDefinition], path: str = "when") -> Condition:
    """Turn YAML data into a typed condition, checking every fact and operator.

    Raises ConditionError naming the position (e.g. `when.all[2].fact`) and the problem.
    """
    if not isinstance(raw, dict):
        raise ConditionError(path, f"expected a mapping, got {type(raw).__name__}")
    keys = set(raw)
    for combinator in ("all", "any"):
        if combinator in raw:
            if keys != {combinator}:
                raise ConditionError(path, f"'{combinator}' must stand alone, found {sorted(keys)}")
            children = raw[combinator]
            if not isinstance(children, list) or not children:
                raise ConditionError(f"{path}.{combinator}", "expected a non-empty list")
            parsed = tuple(
                parse(child, catalogue, f"{path}.{combinator}[{index}]")
                for index, child in enumerate(children)
            )
            return All(parsed) if combinator == "all" else AnyOf(parsed)
    if "not" in raw:
        if keys != {"not"}:
            raise ConditionError(path, f"'not' must stand alone, found {sorted(keys)}")
        return Not(parse(raw["not"], catalogue, f"{path}.not"))
    if "fact" in raw:
        return _parse_leaf(raw, catalogue, path)
    raise ConditionError(path, f"expected one of all/any/not/fact, found {sorted(keys)}")


def _parse_leaf(raw: dict[str, Any], catalogue: Mapping[str, FactDefinition], path: str) -> Leaf:
    name = raw["fact"]
    if not isinstance(name, str):
        raise ConditionError(f"{path}.fact", "a fact name must be a string")
    definition = catalogue.get(name)
    if definition is None:
        import difflib

        near = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ConditionError(f"{path}.fact", f"unknown fact {name!r}{hint}")
    operators = set(raw) - {"fact"}
    if len(operators) > 1:
        raise ConditionError(path, f"one operator per test, found {sorted(operators)}")
    op = operators.pop() if operators else "is"
    value = raw.get(op, True)
    return _typed_leaf(definition, op, value, path)


def _typed_leaf(definition: FactDefinition, op: str, value: Any, path: str) -> Leaf:
    where = f"{path}.{op}"
    kind = definition.type
    if kind is FactType.BOOLEAN:
        if op != "is" or not isinstance(value, bool):
            raise ConditionError(where, f"boolean fact {definition.name!r} takes 'is: true|false'")
        return Leaf(definition.name, "is", value)
    if kind is FactType.NUMBER:
        if op not in COMPARISONS:
            raise ConditionError(where, f"number fact {definition.name!r} takes lt/le/gt/ge/eq/ne")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConditionError(where, f"expected a number, got {value!r}")
        return Leaf(definition.name, op, value)
    # choice
    allowed = definition.choices
    if op in ("eq", "ne"):
        _check_choice(definition, value, allowed, where)
        return Leaf(definition.name, op, value)
    if op == "in":
        if not isinstance(value, list) or not value:
            raise ConditionError(where, "expected a non-empty list")
        for item in value:
            _check_choice(definition, item, allowed, where)
        return Leaf(definition.name, "in", tuple(value))
    raise ConditionError(where, f"choice fact {definition.name!r} takes eq/ne/in")


def _check_choice(
    definition: FactDefinition, value: Any, allowed: tuple[str, ...], where: str
) -> None:
    if value not in allowed:
        raise ConditionError(
            where,
            f"{value!r} is not a value of {definition.name!r}; "
            f"expected one of {', '.join(allowed)}",
        )


# -------------------------------------------------------------------------- evaluation

Compiled = Callable[[Mapping[str, FactValue]], Truth]


def compile_condition(condition: Condition) -> Compiled:
    """Build a closure that evaluates `condition` with Kleene logic; fast for hot loops."""
    if isinstance(condition, Leaf):
        return _compile_leaf(condition)
    if isinstance(condition, Not):
        inner = compile_condition(condition.child)

        def negate(facts: Mapping[str, FactValue]) -> Truth:
            value = inner(facts)
            return None if value is None else not value

        return negate
    children = tuple(compile_condition(child) for child in condition.children)
    if isinstance(condition, All):

        def conjunction(facts: Mapping[str, FactValue]) -> Truth:
            unknown = False
            for child in children:
                value = child(facts)
                if value is False:
                    return False
                if value is None:
                    unknown = True
            return None if unknown else True

        return conjunction

    def disjunction(facts: Mapping[str, FactValue]) -> Truth:
        unknown = False
        for child in children:
            value = child(facts)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return disjunction


def _compile_leaf(leaf: Leaf) -> Compiled:
    name = leaf.fact
    expected = leaf.value
    if leaf.op == "is":

        def is_(facts: Mapping[str, FactValue]) -> Truth:
            value = facts.get(name)
            if value is None:
                return None
            if not isinstance(value, bool):
                raise TypeError(f"fact {name!r} should be boolean, got {value!r}")
            return value is expected

        return is_
    if leaf.op == "in":
        assert isinstance(expected, tuple)
        members = frozenset(expected)

        def in_(facts: Mapping[str, FactValue]) -> Truth:
            value = facts.get(name)
            return None if value is None else value in members

        return in_
    compare = COMPARISONS[leaf.op]

    def comparison(facts: Mapping[str, FactValue]) -> Truth:
        value = facts.get(name)
        if value is None:
            return None
        return bool(compare(value, expected))

    return comparison


def evaluate_tree(condition: Condition, facts: Mapping[str, FactValue]) -> Truth:
    """Slow, explicit evaluation used for explanations (the hot path uses compile_condition)."""
    if isinstance(condition, Leaf):
        return condition.test(facts.get(condition.fact))
    if isinstance(condition, Not):
        value = evaluate_tree(condition.child, facts)
        return None if value is None else not value
    values = [evaluate_tree(child, facts) for child in condition.children]
    if isinstance(condition, All):
        if False in values:
            return False
        return None if None in values else True
    if True in values:
        return True
    return None if None in values else False


def deciding_unknowns(condition: Condition, facts: Mapping[str, FactValue]) -> list[str]:
    """Unknown facts whose value could still change an unknown condition's outcome.

    In an unknown `all`, the unknown children matter (true ones don't); in an unknown `any`,
    likewise. Children already decided cannot change the result and are skipped. One pass.
    """
    found: list[str] = []
    for name in _unknowns(condition, facts)[1]:
        if name not in found:
            found.append(name)
    return found


def _unknowns(condition: Condition, facts: Mapping[str, FactValue]) -> tuple[Truth, list[str]]:
    """(value, the unknown facts behind it if it is unknown) in a single traversal."""
    if isinstance(condition, Leaf):
        value = condition.test(facts.get(condition.fact))
        return value, ([condition.fact] if value is None else [])
    if isinstance(condition, Not):
        inner, names = _unknowns(condition.child, facts)
        return (None if inner is None else not inner), names
    results = [_unknowns(child, facts) for child in condition.children]
    values = [value for value, _ in results]
    decisive = isinstance(condition, AnyOf)  # True decides an any; False decides an all
    if decisive in values:
        return decisive, []
    if None in values:
        return None, [name for value, names in results if value is None for name in names]
    return not decisive, []


UnknownsOf = Callable[[Mapping[str, FactValue]], list[str]]
"""A compiled `deciding_unknowns` for one condition: facts -> its deciding unknown facts."""

_Traced = Callable[[Mapping[str, FactValue]], tuple[Truth, list[str]]]


def compile_unknowns(condition: Condition) -> UnknownsOf:
    """`deciding_unknowns(condition, ...)` as a closure: the same answer, without walking and
    type-testing the tree on every call (the engine asks it for every open rule)."""
    traced = _compile_traced(condition)

    def unknowns(facts: Mapping[str, FactValue]) -> list[str]:
        return list(dict.fromkeys(traced(facts)[1]))

    return unknowns


def _compile_traced(condition: Condition) -> _Traced:
    """(value, the unknown facts behind it if it is unknown), as `_unknowns` defines it."""
    if isinstance(condition, Leaf):
        return _compile_traced_leaf(condition)
    if isinstance(condition, Not):
        inner = _compile_traced(condition.child)

        def negate(facts: Mapping[str, FactValue]) -> tuple[Truth, list[str]]:
            value, names = inner(facts)
            return (None if value is None else not value), names

        return negate
    children = tuple(_compile_traced(child) for child in condition.children)
    decisive = isinstance(condition, AnyOf)  # True decides an any; False decides an all

    def junction(facts: Mapping[str, FactValue]) -> tuple[Truth, list[str]]:
        open_names: list[str] = []
        is_open = False
        for child in children:
            value, names = child(facts)
            if value is decisive:
                return decisive, []
            if value is None:
                is_open = True
                open_names.extend(names)
        return (None, open_names) if is_open else (not decisive, [])

    return junction


def _compile_traced_leaf(leaf: Leaf) -> _Traced:
    test = leaf.test
    name = leaf.fact

    def traced_leaf(facts: Mapping[str, FactValue]) -> tuple[Truth, list[str]]:
        value = test(facts.get(name))
        return (None, [name]) if value is None else (value, [])

    return traced_leaf


def deciding_leaves(condition: Condition, facts: Mapping[str, FactValue]) -> list[str]:
    """Short human reasons for a decided condition: the leaves that made it true or false."""
    return _reasons(condition, facts)[1]


def _reasons(condition: Condition, facts: Mapping[str, FactValue]) -> tuple[Truth, list[str]]:
    """(value, the leaves that decided it) in a single traversal.

    A true `all` or a false `any` is explained by every child; a false `all` or a true `any`
    by its first deciding child; an unknown one by its unknown children.
    """
    if isinstance(condition, Leaf):
        value = facts.get(condition.fact)
        return condition.test(value), [f"{condition.describe()} [{condition.fact}={_show(value)}]"]
    if isinstance(condition, Not):
        inner, reasons = _reasons(condition.child, facts)
        return (None if inner is None else not inner), reasons
    results = [_reasons(child, facts) for child in condition.children]
    decisive = isinstance(condition, AnyOf)
    for value, reasons in results:
        if value is decisive:
            return decisive, reasons
    if any(value is None for value, _ in results):
        return None, [r for value, reasons in results if value is None for r in reasons]
    return not decisive, [r for _, reasons in results for r in reasons]


def _show(value: FactValue) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition_data(condition: Condition) -> dict[str, Any]:
    """The condition in the grammar it was written in (for the API and for export)."""
    if isinstance(condition, All):
        return {"all": [condition_data(child) for child in condition.children]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_data(child) for child in condition.children]}
    if isinstance(condition, Not):
        return {"not": condition_data(condition.child)}
    value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
    return {"fact": condition.fact, condition.op: value}
