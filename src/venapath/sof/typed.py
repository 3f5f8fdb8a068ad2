"""FHIRPath → DuckDB SQL over one typed parse of the resource (the fast path for big exports).

Why: the general compiler (`paths.py`) treats every step as a FHIRPath collection of JSON
items, because FHIRPath allows any element to repeat. Over a million resources that means
re-parsing the JSON text once per step and per column inside list lambdas (7x slower than a
hand-written query in the screening benchmark). FHIR itself says which elements repeat:
`Observation.valueQuantity` is 0..1, `Quantity.value` is 0..1. So this compiler reads each
resource ONCE with `json_transform` into a STRUCT holding just the elements the view reads
(lists only where FHIR says 0..*) and compiles each path to plain field access.

When it applies. Only paths through elements `fhir_elements.py` knows, and only the FHIRPath
the knowledge base's views use (member access, `first()`, `exists()`, `empty()`,
`where(...)`, `getResourceKey()`, `getReferenceKey(Type)`, literals). Anything else raises
`TypedPathError` and the whole view compiles with the general compiler only.

Why it gives the same rows. The typed read and the general one agree on every resource
whose JSON has the shapes FHIR defines. A resource that does not (a 0..1 element given as
an array, a repeating element given as an object or nested arrays, a JSON `null`, or an
escaped ASCII character that could spell a key) is caught by `guard_pattern`, a regular
expression over the line, and that row is evaluated by the general compiler instead. The
pattern may also catch valid rows (a key name inside a text value); those merely take the
slower path. Primitive leaves that are not strings (decimal, integer, boolean) stay JSON in
the struct and are converted by the same SQL as the general compiler uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from venapath.sof.dialect import DuckDBDialect, Kind
from venapath.sof.fhir_elements import COMPLEX_TYPES, STRING_TYPES, element
from venapath.sof.fhirpath import Call, EmptySet, Expr, Identifier, Literal, Member, This, Variable
from venapath.sof.paths import PathError, Scope, Value

__all__ = ["TYPED_ROOT", "TypedPathCompiler", "TypedPathError"]

TYPED_ROOT = "_src._t"
"""The column holding the typed struct of the row's resource."""

_TEXTUAL: frozenset[Kind] = frozenset({"string", "date", "dateTime", "time"})
_NUMERIC: frozenset[Kind] = frozenset({"integer", "decimal"})
_REFERENCE = "^(.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})(/_history/[^/]+)?$"
"""The same literal-reference pattern as the general compiler's getReferenceKey()."""


class TypedPathError(PathError):
    """The path cannot be read from the typed struct; the view uses the general compiler."""


@dataclass
class _Node:
    """One element the view reads, with the elements read below it (the struct schema)."""

    fhir_type: str
    children: dict[str, tuple[_Node, bool]] = field(default_factory=dict)

    def child(self, name: str) -> tuple[_Node, bool]:
        known = self.children.get(name)
        if known is not None:
            return known
        definition = element(self.fhir_type, name)
        if definition is None:
            raise TypedPathError(f"{self.fhir_type}.{name} is not in the typed element table")
        type_name, many = definition
        made = (_Node(type_name), many)
        self.children[name] = made
        return made

    def structure(self) -> object:
        """This node as a `json_transform` structure: STRUCTs, lists, VARCHAR and JSON leaves."""
        if self.fhir_type in STRING_TYPES:
            return "VARCHAR"
        if self.fhir_type not in COMPLEX_TYPES or not self.children:
            return "JSON"
        return {
            name: [node.structure()] if many else node.structure()
            for name, (node, many) in self.children.items()
        }

    def keys(self, into: dict[str, set[bool]]) -> dict[str, set[bool]]:
        for name, (node, many) in self.children.items():
            into.setdefault(name, set()).add(many)
            node.keys(into)
        return into


class TypedPathCompiler:
    """The subset of `PathCompiler`'s interface `_ViewCompiler` uses, over the typed struct."""

    def __init__(
        self, dialect: DuckDBDialect, resource_type: str, constants: Mapping[str, Value]
    ) -> None:
        if element(resource_type, "resourceType") is None:
            raise TypedPathError(f"{resource_type} is not in the typed element table")
        self.d = dialect
        self.resource_type = resource_type
        self.constants = constants
        self.root = _Node(resource_type)
        self._nodes: dict[str, _Node] = {TYPED_ROOT: self.root}
        self._list_nodes: dict[str, _Node] = {}

    # -- what the view compiler reads once the view is compiled ---------------------------
    def schema(self) -> str:
        """The `json_transform` structure of every element the view reads, as JSON text."""
        self.root.child("resourceType")
        return json.dumps(self.root.structure(), separators=(",", ":"))

    def resource_type_sql(self) -> str:
        self.root.child("resourceType")
        return f"struct_extract({TYPED_ROOT}, 'resourceType')"

    def guard_pattern(self) -> str:
        """A regular expression matching every line whose JSON shape the typed read could
        misread (see the module docstring); such lines take the general compiler."""
        shapes = self.root.keys({"resourceType": {False}})
        mixed = sorted(name for name, seen in shapes.items() if len(seen) > 1)
        if mixed:
            raise TypedPathError(f"element name(s) {mixed} repeat in one place and not another")
        single = sorted(name for name, seen in shapes.items() if seen == {False})
        many = sorted(name for name, seen in shapes.items() if seen == {True})
        parts = [
            r"[:\[,]\s*null",  # a JSON null anywhere
            r"\\u00[0-7]",  # an escaped ASCII character (it could spell a key)
            '"(' + "|".join(single) + r')"\s*:\s*\[',
        ]
        if many:
            parts.append('"(' + "|".join(many) + r')"\s*:\s*([^\[\s]|\[\s*\[)')
        return "|".join(parts)

    # -- hooks the view compiler calls ----------------------------------------------------------
    def bind_focus(self, items: str, variable: str) -> None:
        """`variable` iterates over the list `items` (forEach): it has the items' type."""
        node = self._list_nodes.get(items)
        if node is None:
            raise TypedPathError("forEach over a list the typed compiler did not build")
        self._nodes[variable] = node

    def or_null_item(self, items: str) -> str:
        return self.d.let(items, lambda i: f"CASE WHEN len({i}) = 0 THEN [NULL] ELSE {i} END")

    def column_list(self, value: Value, kind: Kind) -> str:
        items = self.as_list(value)
        if value.fhir_type in STRING_TYPES and kind in _TEXTUAL:
            return items
        if value.fhir_type is None or value.fhir_type in COMPLEX_TYPES:
            raise TypedPathError("collection column of a literal or complex value")
        return self.d.transform(items, lambda x, _i: self.d.item_as(x, kind))

    # -- conversions -----------------------------------------------------------------------------
    def as_list(self, value: Value) -> str:
        if value.many:
            return value.sql
        sql = self.d.let(value.sql, lambda v: f"CASE WHEN {v} IS NULL THEN [] ELSE [{v}] END")
        node = self._nodes.get(value.sql)
        if node is not None:
            self._list_nodes[sql] = node
        return sql

    def as_single(self, value: Value, what: str) -> Value:
        if not value.many:
            return value
        message = f"venapath.sof: {what} returned more than one item"
        sql = self.d.let(
            value.sql,
            lambda items: (
                f"CASE WHEN len({items}) > 1 THEN {self.d.error(message)} ELSE {items}[1] END"
            ),
        )
        return self._typed(sql, value, many=False)

    def as_kind(self, value: Value, kind: Kind, what: str) -> str:
        single = self.as_single(value, what)
        fhir_type = single.fhir_type
        if fhir_type in STRING_TYPES:
            if kind in _TEXTUAL:
                return single.sql
            raise TypedPathError(f"{what}: a {fhir_type} read as {kind}")
        if fhir_type is not None:
            if fhir_type in COMPLEX_TYPES:
                raise TypedPathError(f"{what}: a {fhir_type} read as {kind}")
            return self.d.item_as(single.sql, kind)
        if single.kind == kind or (kind in _TEXTUAL and single.kind in _TEXTUAL):
            return single.sql
        if kind in _NUMERIC and single.kind in _NUMERIC:
            return f"CAST({single.sql} AS {'DOUBLE' if kind == 'decimal' else 'BIGINT'})"
        raise TypedPathError(f"{what}: a {single.kind} value read as {kind}")

    def as_boolean(self, value: Value, what: str) -> str:
        single = self.as_single(value, what)
        if single.fhir_type is None and single.kind == "boolean":
            return single.sql
        raise TypedPathError(f"{what}: only exists()/empty() criteria are typed")

    # -- expressions -------------------------------------------------------------------------------
    def compile(self, expr: Expr, scope: Scope) -> Value:
        if isinstance(expr, Literal) and expr.type == "string":
            return Value(self.d.string(str(expr.value)), "string", False)
        if isinstance(expr, EmptySet):
            return Value("CAST(NULL AS VARCHAR)", "json", False, "string")
        if isinstance(expr, This):
            return self._focus(scope.focus)
        if isinstance(expr, Variable) and expr.name in self.constants:
            constant = self.constants[expr.name]
            if constant.kind in _TEXTUAL:
                return constant
        if isinstance(expr, Identifier):
            if scope.at_root and expr.name == self.resource_type:
                return self._focus(scope.focus)
            return self._member(self._focus(scope.focus), expr.name)
        if isinstance(expr, Member):
            return self._member(self.compile(expr.base, scope), expr.name)
        if isinstance(expr, Call):
            return self._call(expr, scope)
        raise TypedPathError(f"{expr} is not typed")

    def _focus(self, sql: str) -> Value:
        node = self._nodes.get(sql)
        if node is None:
            raise TypedPathError(f"no typed focus for {sql}")
        return Value(sql, "json", False, node.fhir_type)

    def _typed(self, sql: str, like: Value, *, many: bool) -> Value:
        node = self._nodes.get(like.sql) or self._list_nodes.get(like.sql)
        if node is not None:
            (self._list_nodes if many else self._nodes)[sql] = node
        return Value(sql, "json", many, like.fhir_type)

    def _member(self, base: Value, name: str) -> Value:
        owner = self._nodes.get(base.sql) or self._list_nodes.get(base.sql)
        if owner is None or owner.fhir_type not in COMPLEX_TYPES:
            raise TypedPathError(f"member {name!r} of a value that is not a typed element")
        node, repeats = owner.child(name)
        if not base.many:
            sql = f"struct_extract({base.sql}, {self.d.string(name)})"
            if repeats:
                sql = f"coalesce({sql}, [])"
        elif repeats:
            sql = self.d.flat_map(
                base.sql,
                lambda x, _i: f"coalesce(struct_extract({x}, {self.d.string(name)}), [])",
            )
        else:
            picked = self.d.transform(
                base.sql, lambda x, _i: f"struct_extract({x}, {self.d.string(name)})"
            )
            sql = self.d.filter(picked, lambda x, _i: f"{x} IS NOT NULL")
        many = base.many or repeats
        (self._list_nodes if many else self._nodes)[sql] = node
        return Value(sql, "json", many, node.fhir_type)

    # -- functions ---------------------------------------------------------------------------------
    def _call(self, expr: Call, scope: Scope) -> Value:
        handlers: dict[str, Callable[[Call, Scope], Value]] = {
            "first": self._fn_first,
            "exists": self._fn_exists,
            "empty": self._fn_empty,
            "where": self._fn_where,
            "getResourceKey": self._fn_resource_key,
            "getReferenceKey": self._fn_reference_key,
        }
        handler = handlers.get(expr.name)
        if handler is None:
            raise TypedPathError(f"{expr.name}() is not typed")
        return handler(expr, scope)

    def _fn_first(self, expr: Call, scope: Scope) -> Value:
        base = self.compile(expr.base, scope)
        if expr.args:
            raise TypedPathError("first() takes no arguments")
        if not base.many:
            return base
        return self._typed(f"({base.sql})[1]", base, many=False)

    def _criteria(self, expr: Call, scope: Scope) -> tuple[Value, str]:
        base = self.compile(expr.base, scope)
        items = self.as_list(base)
        node = self._list_nodes.get(items) or self._nodes.get(base.sql)

        def body(x: str, i: str) -> str:
            if node is not None:
                self._nodes[x] = node
            inner = replace(scope, focus=x, index=i, at_root=False)
            return self.as_boolean(self.compile(expr.args[0], inner), f"{expr.name}() criteria")

        filtered = self.d.filter(items, body)
        return self._typed(filtered, base, many=True), filtered

    def _fn_where(self, expr: Call, scope: Scope) -> Value:
        if len(expr.args) != 1:
            raise TypedPathError("where() takes one argument")
        value, _ = self._criteria(expr, scope)
        return value

    def _fn_exists(self, expr: Call, scope: Scope) -> Value:
        if expr.args:
            _, filtered = self._criteria(expr, scope)
            return Value(f"(len({filtered}) > 0)", "boolean", False)
        base = self.compile(expr.base, scope)
        if base.many:
            return Value(f"(len({base.sql}) > 0)", "boolean", False)
        return Value(f"({base.sql} IS NOT NULL)", "boolean", False)

    def _fn_empty(self, expr: Call, scope: Scope) -> Value:
        if expr.args:
            raise TypedPathError("empty() takes no arguments")
        base = self.compile(expr.base, scope)
        if base.many:
            return Value(f"(len({base.sql}) = 0)", "boolean", False)
        return Value(f"({base.sql} IS NULL)", "boolean", False)

    def _fn_resource_key(self, expr: Call, scope: Scope) -> Value:
        if expr.args or not isinstance(expr.base, This):
            raise TypedPathError("only a bare getResourceKey() is typed")
        return replace(self._member(self._focus(TYPED_ROOT), "id"), fhir_type="string")

    def _fn_reference_key(self, expr: Call, scope: Scope) -> Value:
        if len(expr.args) > 1:
            raise TypedPathError("getReferenceKey() takes at most one type")
        wanted = _type_name(expr.args[0]) if expr.args else None
        base = self.compile(expr.base, scope)
        if base.many or base.fhir_type != "Reference":
            raise TypedPathError("getReferenceKey() of anything but one Reference")
        reference = self._member(base, "reference").sql
        pattern = self.d.string(_REFERENCE)

        def key(m: str) -> str:
            condition = f"struct_extract({m}, 'i') <> ''"
            if wanted is not None:
                condition += f" AND struct_extract({m}, 't') = {self.d.string(wanted)}"
            return f"CASE WHEN {condition} THEN struct_extract({m}, 'i') END"

        parts = f"regexp_extract({reference}, {pattern}, ['p', 't', 'i', 'h'])"
        return Value(self.d.let(parts, key), "string", False)


def _type_name(expr: Expr) -> str:
    if isinstance(expr, Identifier):
        return expr.name
    if isinstance(expr, Member) and isinstance(expr.base, Identifier):
        return expr.name
    if isinstance(expr, Literal) and expr.type == "string":
        return str(expr.value)
    raise TypedPathError(f"expected a type name, got {expr}")
