"""FHIRPath tree → SQL expression, for one engine dialect.

Each sub-expression compiles to a `Value`: either a SQL list of JSON items (`many=True`, the
general FHIRPath collection, never NULL) or a nullable single value of a known kind (literals,
comparisons, `exists()`, `first()`...). Keeping single values unwrapped is what lets a plain
`gender` or `birthDate = %bd` compile to a couple of JSON function calls instead of list
lambdas; lists appear only where a path may really fan out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from venapath.sof.dialect import Kind, SqlDialect
from venapath.sof.fhirpath import (
    Binary,
    Call,
    EmptySet,
    Expr,
    Identifier,
    Indexer,
    Literal,
    Member,
    This,
    Unary,
    Variable,
)

__all__ = ["PathCompiler", "PathError", "Scope", "Value"]

_NUMERIC: frozenset[Kind] = frozenset({"integer", "decimal"})
_TEXTUAL: frozenset[Kind] = frozenset({"string", "date", "dateTime", "time"})
_PRIMITIVE_KINDS: dict[str, Kind] = {
    "boolean": "boolean",
    "string": "string",
    "code": "string",
    "id": "string",
    "uri": "string",
    "url": "string",
    "canonical": "string",
    "oid": "string",
    "uuid": "string",
    "markdown": "string",
    "base64Binary": "string",
    "xhtml": "string",
    "integer": "integer",
    "integer64": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "decimal",
    "date": "date",
    "dateTime": "dateTime",
    "instant": "dateTime",
    "time": "time",
}


class PathError(ValueError):
    """The expression parses but cannot be compiled (unknown function, constant, bad types)."""


@dataclass(frozen=True)
class Value:
    sql: str
    kind: Kind
    many: bool
    fhir_type: str | None = None
    raw: str | None = None
    """For `a.b` off a single item: the property's raw JSON value, which singleton
    evaluation and first() read directly instead of building the list in `sql`."""


@dataclass(frozen=True)
class Scope:
    focus: str
    resource: str
    row_index: str
    index: str | None = None
    at_root: bool = False


def _type_name(expr: Expr) -> str:
    """The type named by an ofType/is/as/getReferenceKey argument, namespace stripped."""
    if isinstance(expr, Identifier):
        name = expr.name
    elif isinstance(expr, Member) and isinstance(expr.base, Identifier):
        name = expr.name  # FHIR.Quantity, System.String
    elif isinstance(expr, Literal) and expr.type == "string":
        name = str(expr.value)
    else:
        raise PathError(f"expected a type name, got {expr}")
    return name


class PathCompiler:
    """Compiles FHIRPath trees against a dialect, the view's resource type and constants."""

    def __init__(
        self,
        dialect: SqlDialect,
        resource_type: str,
        constants: Mapping[str, Value],
        *,
        resource: str,
        root_members: str,
    ) -> None:
        self.d = dialect
        self.resource_type = resource_type
        self.constants = constants
        self.resource = resource
        self.root_members = root_members
        self.root_names: list[str] = []

    def member_raw(self, item: str, name: str) -> str:
        """Raw value of `item.name`; top-level properties come from the one shared parse."""
        if item != self.resource:
            return self.d.member(item, name)
        if name not in self.root_names:
            self.root_names.append(name)
        return self.d.root_member(self.root_members, self.root_names, name)

    def member_text(self, item: str, name: str) -> str:
        if item != self.resource:
            return self.d.child_text(item, name)
        return self.d.item_as(self.d.first_value(self.member_raw(item, name)), "string")

    # -- conversions -----------------------------------------------------------------------
    def as_list(self, value: Value) -> str:
        if value.many:
            return value.sql
        return self.d.single_to_list(self.d.to_item(value.sql, value.kind))

    def as_single(self, value: Value, what: str) -> Value:
        """Singleton evaluation: a one-item list becomes that item, more items are an error."""
        if not value.many:
            return value
        message = f"venapath.sof: {what} returned more than one item"
        if value.raw is not None:
            sql = self.d.single_value(value.raw, message)
            return Value(sql, "json", False, value.fhir_type)
        sql = self.d.let(
            value.sql,
            lambda items: (
                f"CASE WHEN {self.d.length(items)} > 1 THEN {self.d.error(message)} "
                f"ELSE {self.d.at(items, '0')} END"
            ),
        )
        return Value(sql, "json", False, value.fhir_type)

    def as_kind(self, value: Value, kind: Kind, what: str) -> str:
        single = self.as_single(value, what)
        if single.kind == kind:
            return single.sql
        if single.kind == "json":
            return self.d.item_as(single.sql, kind)
        if kind in _NUMERIC and single.kind in _NUMERIC:
            target = "DOUBLE" if kind == "decimal" else "BIGINT"
            return f"CAST({single.sql} AS {target})"
        if kind in _NUMERIC and single.kind in _TEXTUAL:
            target = "DOUBLE" if kind == "decimal" else "BIGINT"
            return f"TRY_CAST({single.sql} AS {target})"
        if kind in _TEXTUAL and single.kind in _TEXTUAL:
            return single.sql
        if kind == "string":
            return f"CAST({single.sql} AS {self.d.sql_type('string')})"
        raise PathError(f"{what}: cannot use a {single.kind} value as {kind}")

    def as_boolean(self, value: Value, what: str) -> str:
        single = self.as_single(value, what)
        if single.kind == "boolean":
            return single.sql
        if single.kind == "json":
            return self.d.item_truthy(single.sql)
        return f"({single.sql} IS NOT NULL)"

    def as_item(self, value: Value, what: str) -> str:
        single = self.as_single(value, what)
        return self.d.to_item(single.sql, single.kind)

    # -- entry point -------------------------------------------------------------------------
    def compile(self, expr: Expr, scope: Scope) -> Value:
        if isinstance(expr, Literal):
            return self._literal(expr)
        if isinstance(expr, EmptySet):
            return Value(self.d.empty_list(), "json", True)
        if isinstance(expr, This):
            return Value(scope.focus, "json", False)
        if isinstance(expr, Variable):
            return self._variable(expr, scope)
        if isinstance(expr, Identifier):
            if scope.at_root and expr.name == self.resource_type:
                return Value(scope.focus, "json", False)
            return self._member(Value(scope.focus, "json", False), expr.name)
        if isinstance(expr, Member):
            return self._member(self.compile(expr.base, scope), expr.name)
        if isinstance(expr, Indexer):
            base = self.compile(expr.base, scope)
            index = self.as_kind(self.compile(expr.index, scope), "integer", "index")
            return Value(self.d.at(self.as_list(base), index), "json", False)
        if isinstance(expr, Unary):
            operand = self.compile(expr.operand, scope)
            kind: Kind = operand.kind if operand.kind in _NUMERIC else "decimal"
            sql = self.as_kind(operand, kind, "unary minus")
            return Value(f"(-{sql})" if expr.op == "-" else sql, kind, False)
        if isinstance(expr, Binary):
            return self._binary(expr, scope)
        if isinstance(expr, Call):
            return self._call(expr, scope)
        raise PathError(f"unsupported expression {expr}")

    def _literal(self, expr: Literal) -> Value:
        value = expr.value
        if expr.type == "boolean":
            return Value(self.d.boolean(bool(value)), "boolean", False)
        if expr.type == "integer":
            assert isinstance(value, int)
            return Value(self.d.integer(value), "integer", False)
        if expr.type == "decimal":
            return Value(self.d.decimal(str(value)), "decimal", False)
        return Value(self.d.string(str(value)), expr.type, False)

    def _variable(self, expr: Variable, scope: Scope) -> Value:
        name = expr.name
        if name == "rowIndex":
            return Value(scope.row_index, "integer", False)
        if name in ("resource", "rootResource", "context"):
            return Value(scope.resource, "json", False)
        if name == "$index":
            if scope.index is None:
                raise PathError("$index is only defined inside where(), exists(), all()...")
            return Value(scope.index, "integer", False)
        if name in self.constants:
            return self.constants[name]
        raise PathError(f"undefined constant %{name}")

    def _member(self, base: Value, name: str) -> Value:
        if not base.many and base.kind != "json":
            return Value(self.d.empty_list(), "json", True)  # primitives have no children
        if base.many:
            sql = self.d.flat_map(base.sql, lambda x, _i: self.d.children(x, name))
            return Value(sql, "json", True)
        raw = self.member_raw(base.sql, name)
        return Value(self.d.values(raw), "json", True, raw=raw)

    # -- operators -----------------------------------------------------------------------------
    def _binary(self, expr: Binary, scope: Scope) -> Value:
        op = expr.op
        if op in ("is", "as"):
            typed = self._of_type(expr.left, _type_name(expr.right), scope)
            if op == "as":
                return typed
            return Value(f"({self.d.length(self.as_list(typed))} > 0)", "boolean", False)
        left = self.compile(expr.left, scope)
        right = self.compile(expr.right, scope)
        what = f"operand of '{op}'"
        if op in ("and", "or", "xor", "implies"):
            a, b = self.as_boolean(left, what), self.as_boolean(right, what)
            sql = {
                "and": f"({a} AND {b})",
                "or": f"({a} OR {b})",
                "xor": f"({a} <> {b})",
                "implies": f"((NOT {a}) OR {b})",
            }[op]
            return Value(sql, "boolean", False)
        if op in ("=", "!="):
            equal = self._equals(left, right, what)
            return Value(equal if op == "=" else f"(NOT {equal})", "boolean", False)
        if op in ("~", "!~"):
            equivalent = self._equivalent(left, right, what)
            return Value(equivalent if op == "~" else f"(NOT {equivalent})", "boolean", False)
        if op in ("<", ">", "<=", ">="):
            return Value(self._compare(left, right, op, what), "boolean", False)
        if op == "|":
            both = self.d.concat([self.as_list(left), self.as_list(right)])
            return Value(self.d.distinct(both), "json", True)
        if op in ("in", "contains"):
            element, collection = (left, right) if op == "in" else (right, left)
            item = self.as_item(element, what)
            matches = self.d.filter(
                self.as_list(collection), lambda x, _i: self.d.item_equals(x, item)
            )
            return Value(
                f"CASE WHEN {item} IS NULL THEN NULL ELSE {self.d.length(matches)} > 0 END",
                "boolean",
                False,
            )
        if op == "&":
            a, b = self.as_kind(left, "string", what), self.as_kind(right, "string", what)
            return Value(f"(coalesce({a}, '') || coalesce({b}, ''))", "string", False)
        return self._arithmetic(op, left, right, what)

    def _arithmetic(self, op: str, left: Value, right: Value, what: str) -> Value:
        if op == "+" and (left.kind == "string" or right.kind == "string"):
            a, b = self.as_kind(left, "string", what), self.as_kind(right, "string", what)
            return Value(f"({a} || {b})", "string", False)
        if left.kind in _TEXTUAL - {"string"} or right.kind in _TEXTUAL - {"string"}:
            raise PathError("date/time arithmetic is not supported")
        integral = left.kind == "integer" and right.kind == "integer"
        kind: Kind = "integer" if integral else "decimal"
        a, b = self.as_kind(left, kind, what), self.as_kind(right, kind, what)
        if op in ("+", "-", "*"):
            return Value(f"({a} {op} {b})", kind, False)
        if op == "/":
            a, b = self.as_kind(left, "decimal", what), self.as_kind(right, "decimal", what)
            return Value(f"(CASE WHEN {b} = 0 THEN NULL ELSE {a} / {b} END)", "decimal", False)
        if op == "div":
            sql = f"(CASE WHEN {b} = 0 THEN NULL ELSE CAST(trunc({a} / {b}) AS BIGINT) END)"
            return Value(sql, "integer", False)
        if op == "mod":
            return Value(f"(CASE WHEN {b} = 0 THEN NULL ELSE {a} % {b} END)", kind, False)
        raise PathError(f"unsupported operator {op!r}")

    def _common_kind(self, left: Value, right: Value) -> Kind:
        kinds = {left.kind, right.kind} - {"json"}
        if not kinds:
            return "json"
        if kinds <= _NUMERIC:
            return "decimal" if "decimal" in kinds or len(kinds) > 1 else "integer"
        if len(kinds) == 1:
            return next(iter(kinds))
        if kinds <= _TEXTUAL:
            return "string"
        raise PathError(f"cannot compare {sorted(kinds)} values")

    def _equals(self, left: Value, right: Value, what: str) -> str:
        kind = self._common_kind(left, right)
        if kind == "json":
            if left.many or right.many:
                return self._list_equals(self.as_list(left), self.as_list(right))
            return self.d.item_equals(left.sql, right.sql)
        a, a_many = self._side(left, kind, what)
        b, b_many = self._side(right, kind, what)
        if a_many is None and b_many is None:
            return f"({a} = {b})"
        # FHIRPath: a list of two or more is simply unequal to a single value, while an
        # empty operand still makes the result empty.
        many = " OR ".join(c for c in (a_many, b_many) if c is not None)

        def body(x: str, y: str) -> str:
            return (
                f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN NULL WHEN {many} THEN FALSE "
                f"ELSE ({x} = {y}) END"
            )

        return self.d.let(a, lambda x: self.d.let(b, lambda y: body(x, y)))

    def _side(self, value: Value, kind: Kind, what: str) -> tuple[str, str | None]:
        """One operand of '=' as a typed single value, plus the SQL test for "2+ items"."""
        if not value.many:
            return self.as_kind(value, kind, what), None
        items = value.sql
        return self.d.item_as(self.d.at(items, "0"), kind), f"{self.d.length(items)} > 1"

    def _list_equals(self, left: str, right: str) -> str:
        pairs = self.d.filter(
            left,
            lambda x, i: f"coalesce({self.d.item_equals(x, self.d.at(right, i))}, FALSE)",
        )
        return (
            f"CASE WHEN {self.d.length(left)} = 0 OR {self.d.length(right)} = 0 THEN NULL "
            f"WHEN {self.d.length(left)} <> {self.d.length(right)} THEN FALSE "
            f"ELSE {self.d.length(pairs)} = {self.d.length(left)} END"
        )

    def _equivalent(self, left: Value, right: Value, what: str) -> str:
        kind = self._common_kind(left, right)
        if kind == "json":
            kind = "string"
        a, b = self.as_kind(left, kind, what), self.as_kind(right, kind, what)
        if kind in _TEXTUAL:
            a, b = f"lower({a})", f"lower({b})"
        return (
            f"CASE WHEN {a} IS NULL AND {b} IS NULL THEN TRUE "
            f"WHEN {a} IS NULL OR {b} IS NULL THEN FALSE ELSE {a} = {b} END"
        )

    def _compare(self, left: Value, right: Value, op: str, what: str) -> str:
        kind = self._common_kind(left, right)
        if kind == "json":
            return self.d.item_compare(self.as_item(left, what), self.as_item(right, what), op)
        if kind == "boolean":
            raise PathError(f"'{op}' is not defined for booleans")
        a, b = self.as_kind(left, kind, what), self.as_kind(right, kind, what)
        return f"({a} {op} {b})"

    # -- functions ---------------------------------------------------------------------------------
    def _call(self, expr: Call, scope: Scope) -> Value:
        name, args = expr.name, expr.args
        handler = self._functions().get(name)
        if handler is None:
            raise PathError(f"unsupported FHIRPath function {name}()")
        arity, function = handler
        if len(args) not in arity:
            raise PathError(f"{name}() takes {' or '.join(map(str, arity))} argument(s)")
        return function(expr, scope)

    def _functions(
        self,
    ) -> dict[str, tuple[tuple[int, ...], Callable[[Call, Scope], Value]]]:
        return {
            "where": ((1,), self._fn_where),
            "exists": ((0, 1), self._fn_exists),
            "empty": ((0,), self._fn_empty),
            "not": ((0,), self._fn_not),
            "first": ((0,), self._fn_first),
            "last": ((0,), self._fn_last),
            "single": ((0,), self._fn_single),
            "tail": ((0,), self._fn_tail),
            "skip": ((1,), self._fn_skip),
            "take": ((1,), self._fn_take),
            "count": ((0,), self._fn_count),
            "all": ((1,), self._fn_all),
            "allTrue": ((0,), self._fn_all_true),
            "anyTrue": ((0,), self._fn_any_true),
            "distinct": ((0,), self._fn_distinct),
            "join": ((0, 1), self._fn_join),
            "ofType": ((1,), self._fn_of_type),
            "extension": ((1,), self._fn_extension),
            "getResourceKey": ((0,), self._fn_resource_key),
            "getReferenceKey": ((0, 1), self._fn_reference_key),
            "lowBoundary": ((0,), self._fn_low_boundary),
            "highBoundary": ((0,), self._fn_high_boundary),
            "hasValue": ((0,), self._fn_has_value),
            "iif": ((2, 3), self._fn_iif),
            "toString": ((0,), self._fn_to_string),
            "toInteger": ((0,), self._fn_to_integer),
            "toDecimal": ((0,), self._fn_to_decimal),
            "lower": ((0,), self._fn_lower),
            "upper": ((0,), self._fn_upper),
            "length": ((0,), self._fn_length),
            "startsWith": ((1,), self._fn_starts_with),
            "endsWith": ((1,), self._fn_ends_with),
            "contains": ((1,), self._fn_contains),
        }

    def _base(self, expr: Call, scope: Scope) -> Value:
        return self.compile(expr.base, scope)

    def _criteria(self, expr: Call, scope: Scope) -> tuple[str, Callable[[str, str], str]]:
        items = self.as_list(self._base(expr, scope))

        def body(x: str, i: str) -> str:
            inner = replace(scope, focus=x, index=i, at_root=False)
            return self.as_boolean(self.compile(expr.args[0], inner), f"{expr.name}() criteria")

        return items, body

    def _fn_where(self, expr: Call, scope: Scope) -> Value:
        items, body = self._criteria(expr, scope)
        return Value(self.d.filter(items, body), "json", True)

    def _fn_exists(self, expr: Call, scope: Scope) -> Value:
        if expr.args:
            items, body = self._criteria(expr, scope)
            return Value(f"({self.d.length(self.d.filter(items, body))} > 0)", "boolean", False)
        base = self._base(expr, scope)
        if not base.many:
            return Value(f"({base.sql} IS NOT NULL)", "boolean", False)
        return Value(f"({self.d.length(base.sql)} > 0)", "boolean", False)

    def _fn_all(self, expr: Call, scope: Scope) -> Value:
        items, body = self._criteria(expr, scope)
        failing = self.d.filter(items, lambda x, i: f"NOT coalesce({body(x, i)}, FALSE)")
        return Value(f"({self.d.length(failing)} = 0)", "boolean", False)

    def _fn_all_true(self, expr: Call, scope: Scope) -> Value:
        items = self.as_list(self._base(expr, scope))
        failing = self.d.filter(
            items, lambda x, _i: f"NOT coalesce({self.d.item_as(x, 'boolean')}, FALSE)"
        )
        return Value(f"({self.d.length(failing)} = 0)", "boolean", False)

    def _fn_any_true(self, expr: Call, scope: Scope) -> Value:
        items = self.as_list(self._base(expr, scope))
        passing = self.d.filter(items, lambda x, _i: self.d.item_as(x, "boolean"))
        return Value(f"({self.d.length(passing)} > 0)", "boolean", False)

    def _fn_empty(self, expr: Call, scope: Scope) -> Value:
        base = self._base(expr, scope)
        if not base.many:
            return Value(f"({base.sql} IS NULL)", "boolean", False)
        return Value(f"({self.d.length(base.sql)} = 0)", "boolean", False)

    def _fn_has_value(self, expr: Call, scope: Scope) -> Value:
        base = self._base(expr, scope)
        if not base.many:
            return Value(f"({base.sql} IS NOT NULL)", "boolean", False)
        items = base.sql
        return Value(
            f"({self.d.length(items)} = 1 AND NOT {self.d.item_is(self.d.at(items, '0'), 'json')})",
            "boolean",
            False,
        )

    def _fn_not(self, expr: Call, scope: Scope) -> Value:
        return Value(f"(NOT {self.as_boolean(self._base(expr, scope), 'not()')})", "boolean", False)

    def _fn_first(self, expr: Call, scope: Scope) -> Value:
        base = self._base(expr, scope)
        if not base.many:
            return base
        if base.raw is not None:
            return Value(self.d.first_value(base.raw), "json", False, base.fhir_type)
        return Value(self.d.at(base.sql, "0"), "json", False, base.fhir_type)

    def _fn_last(self, expr: Call, scope: Scope) -> Value:
        base = self._base(expr, scope)
        if not base.many:
            return base
        index = f"({self.d.length(base.sql)} - 1)"
        return Value(self.d.at(base.sql, index), "json", False, base.fhir_type)

    def _fn_single(self, expr: Call, scope: Scope) -> Value:
        return self.as_single(self._base(expr, scope), "single()")

    def _slice(self, expr: Call, scope: Scope, keep: Callable[[str], str]) -> Value:
        items = self.as_list(self._base(expr, scope))
        return Value(self.d.filter(items, lambda _x, i: keep(i)), "json", True)

    def _fn_tail(self, expr: Call, scope: Scope) -> Value:
        return self._slice(expr, scope, lambda i: f"{i} >= 1")

    def _fn_skip(self, expr: Call, scope: Scope) -> Value:
        n = self.as_kind(self.compile(expr.args[0], scope), "integer", "skip()")
        return self._slice(expr, scope, lambda i: f"{i} >= {n}")

    def _fn_take(self, expr: Call, scope: Scope) -> Value:
        n = self.as_kind(self.compile(expr.args[0], scope), "integer", "take()")
        return self._slice(expr, scope, lambda i: f"{i} < {n}")

    def _fn_count(self, expr: Call, scope: Scope) -> Value:
        items = self.as_list(self._base(expr, scope))
        return Value(f"CAST({self.d.length(items)} AS BIGINT)", "integer", False)

    def _fn_distinct(self, expr: Call, scope: Scope) -> Value:
        return Value(self.d.distinct(self.as_list(self._base(expr, scope))), "json", True)

    def _fn_join(self, expr: Call, scope: Scope) -> Value:
        separator = self.d.string("")
        if expr.args:
            separator = self.as_kind(self.compile(expr.args[0], scope), "string", "join()")
        items = self.as_list(self._base(expr, scope))
        strings = self.d.transform(items, lambda x, _i: self.d.item_as(x, "string"))
        return Value(self.d.join_strings(strings, separator), "string", False)

    def _fn_of_type(self, expr: Call, scope: Scope) -> Value:
        return self._of_type(expr.base, _type_name(expr.args[0]), scope)

    def _of_type(self, base_expr: Expr, type_name: str, scope: Scope) -> Value:
        # FHIR choice elements are stored as `value` + type name (valueQuantity,
        # deceasedBoolean), so `value.ofType(Quantity)` is a plain member access.
        suffix = type_name[:1].upper() + type_name[1:]
        if isinstance(base_expr, Identifier) and not (
            scope.at_root and base_expr.name == self.resource_type
        ):
            choice = self._member(Value(scope.focus, "json", False), base_expr.name + suffix)
            return replace(choice, fhir_type=type_name)
        if isinstance(base_expr, Member):
            owner = self.compile(base_expr.base, scope)
            choice = self._member(owner, base_expr.name + suffix)
            return replace(choice, fhir_type=type_name)
        base = self.compile(base_expr, scope)
        items = self.as_list(base)
        kind = _PRIMITIVE_KINDS.get(type_name)
        if kind is not None:
            kept = self.d.filter(items, lambda x, _i: self.d.item_is(x, kind))
        else:
            kept = self.d.filter(
                items,
                lambda x, _i: (
                    f"coalesce({self.d.child_text(x, 'resourceType')}, "
                    f"{self.d.string(type_name)}) = {self.d.string(type_name)}"
                ),
            )
        return Value(kept, "json", True, type_name)

    def _fn_extension(self, expr: Call, scope: Scope) -> Value:
        url = self.as_kind(self.compile(expr.args[0], scope), "string", "extension() url")
        extensions = self._member(self._base(expr, scope), "extension")
        kept = self.d.filter(extensions.sql, lambda x, _i: f"{self.d.child_text(x, 'url')} = {url}")
        return Value(kept, "json", True, "Extension")

    def _fn_resource_key(self, expr: Call, scope: Scope) -> Value:
        # Called without a base inside a forEach, it still means the row's resource.
        if isinstance(expr.base, This):
            base = Value(scope.resource, "json", False)
        else:
            base = self.as_single(self._base(expr, scope), "getResourceKey()")
        return Value(self.member_text(base.sql, "id"), "string", False)

    def _fn_reference_key(self, expr: Call, scope: Scope) -> Value:
        wanted = _type_name(expr.args[0]) if expr.args else None
        items = self.as_list(self._base(expr, scope))
        # Relative (`Patient/123`) and absolute (`http://x/fhir/Patient/123`) literal
        # references, with or without a `_history` suffix; anything else has no key.
        pattern = "^(.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})(/_history/[^/]+)?$"

        def key(x: str) -> str:
            reference = self.d.child_text(x, "reference")
            type_ = self.d.regexp_extract(reference, pattern, 2)
            id_ = self.d.regexp_extract(reference, pattern, 3)
            condition = f"{id_} <> ''"
            if wanted is not None:
                condition += f" AND {type_} = {self.d.string(wanted)}"
            return f"CASE WHEN {condition} THEN {self.d.to_item(id_, 'string')} END"

        keys = self.d.transform(items, lambda x, _i: key(x))
        kept = self.d.filter(keys, lambda x, _i: f"{x} IS NOT NULL")
        return Value(kept, "json", True)

    def _boundary(self, expr: Call, scope: Scope, *, high: bool) -> Value:
        base = self._base(expr, scope)
        single = self.as_single(base, expr.name + "()")
        fhir_type = base.fhir_type or (single.kind if single.kind != "json" else None)
        item = self.d.to_item(single.sql, single.kind)
        sql = self.d.boundary(item, fhir_type, high=high)
        if fhir_type in ("decimal", "integer"):
            return Value(sql, "decimal", False)
        kinds: dict[str | None, Kind] = {
            "date": "date",
            "time": "time",
            "dateTime": "dateTime",
            "instant": "dateTime",
        }
        return Value(sql, kinds.get(fhir_type, "string"), False)

    def _fn_low_boundary(self, expr: Call, scope: Scope) -> Value:
        return self._boundary(expr, scope, high=False)

    def _fn_high_boundary(self, expr: Call, scope: Scope) -> Value:
        return self._boundary(expr, scope, high=True)

    def _fn_iif(self, expr: Call, scope: Scope) -> Value:
        condition = self.as_boolean(self.compile(expr.args[0], scope), "iif() criterion")
        then = self.as_list(self.compile(expr.args[1], scope))
        otherwise = (
            self.as_list(self.compile(expr.args[2], scope))
            if len(expr.args) == 3
            else self.d.empty_list()
        )
        return Value(f"CASE WHEN {condition} THEN {then} ELSE {otherwise} END", "json", True)

    def _string_function(
        self, expr: Call, scope: Scope, build: Callable[[str], str], kind: Kind
    ) -> Value:
        text = self.as_kind(self._base(expr, scope), "string", f"{expr.name}()")
        return Value(build(text), kind, False)

    def _fn_to_string(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(expr, scope, lambda s: s, "string")

    def _fn_to_integer(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(expr, scope, lambda s: f"TRY_CAST({s} AS BIGINT)", "integer")

    def _fn_to_decimal(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(expr, scope, lambda s: f"TRY_CAST({s} AS DOUBLE)", "decimal")

    def _fn_lower(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(expr, scope, lambda s: f"lower({s})", "string")

    def _fn_upper(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(expr, scope, lambda s: f"upper({s})", "string")

    def _fn_length(self, expr: Call, scope: Scope) -> Value:
        return self._string_function(
            expr, scope, lambda s: f"CAST(length({s}) AS BIGINT)", "integer"
        )

    def _affix(self, expr: Call, scope: Scope, template: str) -> Value:
        other = self.as_kind(self.compile(expr.args[0], scope), "string", f"{expr.name}()")
        return self._string_function(
            expr, scope, lambda s: template.format(s=s, o=other), "boolean"
        )

    def _fn_starts_with(self, expr: Call, scope: Scope) -> Value:
        return self._affix(expr, scope, "(substr({s}, 1, length({o})) = {o})")

    def _fn_ends_with(self, expr: Call, scope: Scope) -> Value:
        return self._affix(
            expr,
            scope,
            "(length({o}) = 0 OR substr({s}, length({s}) - length({o}) + 1) = {o})",
        )

    def _fn_contains(self, expr: Call, scope: Scope) -> Value:
        other = self.as_kind(self.compile(expr.args[0], scope), "string", "contains()")
        return self._string_function(
            expr, scope, lambda s: f"({self.d.position(other, s)} > 0)", "boolean"
        )


def constant_value(dialect: SqlDialect, kind: Kind, value: object) -> Value:
    """A ViewDefinition constant as a typed single value."""
    if kind == "boolean":
        return Value(dialect.boolean(bool(value)), "boolean", False)
    if kind == "integer":
        assert isinstance(value, int)
        return Value(dialect.integer(value), "integer", False)
    if kind == "decimal":
        assert isinstance(value, int | float | Decimal)
        return Value(dialect.decimal(str(Decimal(str(value)))), "decimal", False)
    return Value(dialect.string(str(value)), kind, False)
