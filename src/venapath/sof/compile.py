"""ViewDefinition → one SQL query over a relation `resources(resource)`.

The whole view becomes a single SELECT evaluated per resource row: a select tree with no
`forEach`, `repeat` or `unionAll` compiles to plain column expressions; otherwise each
select node becomes a list of row structs (lambdas over JSON lists for forEach, list
concatenation for unionAll, nested lambdas for the cross product of sibling selects) and the
outer query unnests it. No joins, no row ids and no Python per row, so the engine can stream
an NDJSON export through it in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from venapath.sof.dialect import DuckDBDialect, Kind, OutputType, SparkDialect, SqlDialect
from venapath.sof.fhirpath import Expr, FhirPathSyntaxError, parse
from venapath.sof.paths import PathCompiler, PathError, Scope, Value, constant_value
from venapath.sof.typed import TYPED_ROOT, TypedPathCompiler, TypedPathError
from venapath.sof.view import (
    CONSTANT_TYPES,
    Column,
    Select,
    ViewDefinition,
    ViewDefinitionError,
    load_view,
)

__all__ = ["REPEAT_DEPTH", "CompiledView", "OutputColumn", "compile_view", "dialect_for"]

REPEAT_DEPTH = 12
"""How deep `repeat` follows its paths; deeper data raises an error rather than being cut off.

Neither engine can recurse inside a row expression, so the traversal is unrolled."""

_RESOURCE = "_src.resource"
_ROOT_MEMBERS = "_src._root"
_STRUCTURE_DEFINITION = "http://hl7.org/fhir/StructureDefinition/"
_OUTPUT_TYPES: dict[str, OutputType] = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "integer64": "integer64",
    "decimal": "decimal",
}
_KIND_OUTPUT: dict[Kind, OutputType] = {
    "boolean": "boolean",
    "integer": "integer64",
    "decimal": "decimal",
}
_OUTPUT_KIND: dict[OutputType, Kind] = {
    "string": "string",
    "boolean": "boolean",
    "integer": "integer",
    "integer64": "integer",
    "decimal": "decimal",
}


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: OutputType
    collection: bool
    fhir_type: str | None


@dataclass(frozen=True)
class CompiledView:
    sql: str
    columns: tuple[OutputColumn, ...]
    dialect: str
    typed: bool = False
    """Whether the SQL reads rows of FHIR shape through the typed fast path (`typed.py`)."""


@dataclass(frozen=True)
class _Rows:
    """The rows one select node yields for one focus: exactly one (`single`) or a list."""

    columns: tuple[OutputColumn, ...]
    single: tuple[str, ...] | None
    many: str | None = None


def dialect_for(engine: str | SqlDialect) -> SqlDialect:
    """A fresh dialect (fresh lambda-variable counter) so equal views compile to equal SQL."""
    if isinstance(engine, SqlDialect):
        return type(engine)()
    if engine == "duckdb":
        return DuckDBDialect()
    if engine == "spark":
        return SparkDialect()
    raise ValueError(f"unknown engine {engine!r}; expected 'duckdb' or 'spark'")


class _ViewCompiler:
    def __init__(
        self,
        view: ViewDefinition,
        dialect: SqlDialect,
        repeat_depth: int,
        *,
        typed: bool = False,
    ) -> None:
        self.view = view
        self.d = dialect
        self.repeat_depth = repeat_depth
        constants: dict[str, Value] = {}
        for constant in view.constant or ():
            key, value = constant.value_element
            constants[constant.name] = constant_value(dialect, CONSTANT_TYPES[key], value)
        self.constants = constants
        self.hoisted: list[tuple[str, str]] = []
        self.typed: TypedPathCompiler | None = None
        self.paths: PathCompiler | TypedPathCompiler
        if typed:
            assert isinstance(dialect, DuckDBDialect)
            self.typed = TypedPathCompiler(dialect, view.resource, constants)
            self.paths = self.typed
        else:
            self.paths = PathCompiler(
                dialect,
                view.resource,
                constants,
                resource=_RESOURCE,
                root_members=_ROOT_MEMBERS,
            )

    # -- FHIRPath with error locations ------------------------------------------------------
    def parse(self, text: str, where: str) -> Expr:
        try:
            return parse(text)
        except FhirPathSyntaxError as exc:
            raise ViewDefinitionError(f"{where}: {exc}") from None

    def path(self, text: str, where: str, scope: Scope) -> Value:
        expr = self.parse(text, where)
        try:
            return self.paths.compile(expr, scope)
        except TypedPathError:
            raise
        except PathError as exc:
            raise ViewDefinitionError(f"{where}: {exc} in {text!r}") from None

    # -- select tree --------------------------------------------------------------------------
    def select(self, node: Select, scope: Scope, where: str) -> _Rows:
        if node.for_each is not None or node.for_each_or_null is not None:
            text = node.for_each if node.for_each is not None else node.for_each_or_null
            assert text is not None
            key = "forEach" if node.for_each is not None else "forEachOrNull"
            items = self.paths.as_list(self.path(text, f"{where}.{key}", scope))
            if node.for_each_or_null is not None:
                items = (
                    self.typed.or_null_item(items)
                    if self.typed is not None
                    else self.d.or_null_item(items)
                )
            return self._iterate(node, items, scope, where)
        if node.repeat is not None:
            items = self._repeat(node.repeat, scope, where)
            return self._iterate(node, items, scope, where)
        parts: list[_Rows] = []
        if node.column:
            parts.append(self.columns(node.column, scope, where))
        for k, child in enumerate(node.select or ()):
            parts.append(self.select(child, scope, f"{where}.select[{k}]"))
        if node.union_all:
            parts.append(self.union(node.union_all, scope, where))
        return self.product(parts, scope)

    def _iterate(self, node: Select, items: str, scope: Scope, where: str) -> _Rows:
        body = node.model_copy(update={"for_each": None, "for_each_or_null": None, "repeat": None})
        seen: list[_Rows] = []

        def rows_for(x: str, i: str) -> str:
            if self.typed is not None:
                self.typed.bind_focus(items, x)
            inner = replace(scope, focus=x, row_index=i, index=None, at_root=False)
            rows = self.select(body, inner, where)
            seen.append(rows)
            return self.as_list(rows)

        many = self.d.flat_map(items, rows_for)
        return _Rows(seen[0].columns, None, many)

    def _repeat(self, paths: Sequence[str], scope: Scope, where: str) -> str:
        if self.typed is not None:
            raise TypedPathError("repeat is not typed")
        exprs = [self.parse(p, f"{where}.repeat[{k}]") for k, p in enumerate(paths)]

        def children(x: str) -> str:
            inner = replace(scope, focus=x, index=None, at_root=False)
            lists = []
            for k, expr in enumerate(exprs):
                try:
                    lists.append(self.paths.as_list(self.paths.compile(expr, inner)))
                except TypedPathError:
                    raise
                except PathError as exc:
                    raise ViewDefinitionError(f"{where}.repeat[{k}]: {exc}") from None
            return self.d.concat(lists)

        message = (
            f"venapath.sof: {where}.repeat goes deeper than {self.repeat_depth} levels; "
            "raise repeat_depth"
        )
        return self.d.repeat(scope.focus, children, self.repeat_depth, message)

    def union(self, branches: Sequence[Select], scope: Scope, where: str) -> _Rows:
        results = [
            self.select(branch, scope, f"{where}.unionAll[{k}]")
            for k, branch in enumerate(branches)
        ]
        first = results[0].columns
        for k, rows in enumerate(results[1:], start=1):
            if [c.name for c in rows.columns] != [c.name for c in first]:
                raise ViewDefinitionError(
                    f"{where}.unionAll[{k}]: columns {[c.name for c in rows.columns]} do not "
                    f"match unionAll[0] columns {[c.name for c in first]} (same names, same order)"
                )
            for mine, theirs in zip(rows.columns, first, strict=True):
                if (mine.type, mine.collection) != (theirs.type, theirs.collection):
                    raise ViewDefinitionError(
                        f"{where}.unionAll[{k}]: column {mine.name!r} has a different type "
                        "than in unionAll[0]"
                    )
        many = self.d.concat([self.as_list(rows) for rows in results])
        return _Rows(first, None, many)

    def columns(self, columns: Sequence[Column], scope: Scope, where: str) -> _Rows:
        out: list[OutputColumn] = []
        sqls: list[str] = []
        for j, column in enumerate(columns):
            location = f"{where}.column[{j}]"
            value = self.path(column.path, f"{location}.path", scope)
            fhir_type = _fhir_type(column.type)
            output = _output_type(fhir_type, value)
            kind = _OUTPUT_KIND[output]
            try:
                if column.collection:
                    typed = self._column_list(value, kind)
                    sql = f"CAST({typed} AS {self.d.sql_type(output, collection=True)})"
                else:
                    what = f"{location} ({column.name!r}; set collection: true for lists)"
                    single = self.paths.as_kind(value, kind, what)
                    sql = f"CAST({single} AS {self.d.sql_type(output)})"
            except TypedPathError:
                raise
            except PathError as exc:
                raise ViewDefinitionError(f"{location}.path: {exc}") from None
            out.append(OutputColumn(column.name, output, bool(column.collection), fhir_type))
            sqls.append(sql)
        return _Rows(tuple(out), tuple(sqls))

    def _hoist(self, part: _Rows) -> _Rows:
        """Typed path: a resource-level column paired with a list of rows is computed once
        per resource (a column of the source) instead of once per row inside the lambda.
        Not one that can raise a per-row error: that must stay where the rows exist."""
        if part.single is None:
            return part
        single: list[str] = []
        for sql in part.single:
            if "error(" in sql:
                single.append(sql)
                continue
            name = f"_h{len(self.hoisted)}"
            self.hoisted.append((name, sql))
            single.append(f"_src.{name}")
        return _Rows(part.columns, tuple(single))

    def _column_list(self, value: Value, kind: Kind) -> str:
        if self.typed is not None:
            return self.typed.column_list(value, kind)
        assert isinstance(self.paths, PathCompiler)
        return self.d.transform(self.paths.as_list(value), _item_as(self.d, kind))

    # -- combining rows ------------------------------------------------------------------------
    def _struct(self, sqls: Sequence[str]) -> str:
        fields = [(f"f{n}", sql) for n, sql in enumerate(sqls)] or [("f_none", "TRUE")]
        return self.d.struct(fields)

    def as_list(self, rows: _Rows) -> str:
        if rows.many is not None:
            return rows.many
        assert rows.single is not None
        return self.d.list_of([self._struct(rows.single)])

    def product(self, parts: Sequence[_Rows], scope: Scope | None = None) -> _Rows:
        """Sibling selects cross-join: every row of one is paired with every row of the rest."""
        columns = tuple(c for part in parts for c in part.columns)
        if all(part.single is not None for part in parts):
            return _Rows(columns, tuple(sql for part in parts for sql in part.single or ()))
        if self.typed is not None and scope is not None and scope.focus == TYPED_ROOT:
            parts = [self._hoist(part) for part in parts]
        lists = [n for n, part in enumerate(parts) if part.many is not None]

        def row(env: Mapping[int, str]) -> str:
            sqls: list[str] = []
            for n, part in enumerate(parts):
                for c in range(len(part.columns)):
                    if part.single is not None:
                        sqls.append(part.single[c])
                    else:
                        sqls.append(self.d.field(env[n], f"f{c}"))
            return self._struct(sqls)

        def build(k: int, env: Mapping[int, str]) -> str:
            part = parts[lists[k]]
            assert part.many is not None
            if k == len(lists) - 1:
                return self.d.transform(part.many, lambda x, _i: row({**env, lists[k]: x}))
            return self.d.flat_map(part.many, lambda x, _i: build(k + 1, {**env, lists[k]: x}))

        if len(lists) == 1 and len(parts) == 1:
            return parts[0]
        return _Rows(columns, None, build(0, {}))

    # -- the view --------------------------------------------------------------------------------
    def rows(self) -> tuple[_Rows, str]:
        """Every output row of one resource, and the condition a resource must meet."""
        if self.typed is not None:
            resource = TYPED_ROOT
            if self.view.where:
                raise TypedPathError("view-level where is not typed")
        else:
            resource = _RESOURCE
        root = Scope(focus=resource, resource=resource, row_index="0", at_root=True)
        rows = self.product(
            [self.select(s, root, f"select[{k}]") for k, s in enumerate(self.view.select)],
            root,
        )
        names = [c.name for c in rows.columns]
        if not names:
            raise ViewDefinitionError("select: the view defines no columns")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ViewDefinitionError(f"select: column name(s) {duplicates} used more than once")
        wanted = self.d.string(self.view.resource)
        if self.typed is not None:
            return rows, f"{self.typed.resource_type_sql()} = {wanted}"
        assert isinstance(self.paths, PathCompiler)
        resource_type = self.paths.member_raw(resource, "resourceType")
        conditions = [f"{self.d.item_as(resource_type, 'string')} = {wanted}"]
        for k, clause in enumerate(self.view.where or ()):
            conditions.append(self._where(clause.path, f"where[{k}].path", root))
        # CASE, not AND: the view's own filters must never run on other resource types,
        # where a runtime check (non-boolean `where`) could fail on data the view ignores.
        condition = conditions[0]
        if len(conditions) > 1:
            rest = " AND ".join(f"({c})" for c in conditions[1:])
            condition = f"CASE WHEN {conditions[0]} THEN {rest} ELSE FALSE END"
        return rows, condition

    def compile(self, source: str, *, typed: bool = False) -> CompiledView:
        rows, condition = self.rows()
        assert isinstance(self.paths, PathCompiler)
        fast = self._typed_compiler() if typed else None
        if fast is not None and not _same_shape(fast[1], rows):
            fast = None
        # Every top-level property the view reads comes from one parse of the resource.
        members = self.d.root_members("_s.resource", self.paths.root_names)
        if fast is None:
            source = f"(SELECT _s.resource AS resource, {members} AS _root FROM {source} AS _s)"
            return self._select(rows, condition, source, typed=False)
        compiler, typed_rows, typed_condition = fast
        assert compiler.typed is not None
        schema = self.d.string(compiler.typed.schema())
        guard = self.d.string(compiler.typed.guard_pattern())
        # Rows of FHIR shape are read once into a typed struct; the rest keep the general
        # path. CASE evaluates each branch only for the rows that take it.
        # `unnest([x])` computes x once per row: DuckDB otherwise inlines a subquery's
        # expression into every place that reads it (once per column, once per list item).
        source = (
            "(SELECT _s.resource AS resource, _s._fits AS _fits, "
            f"unnest([CASE WHEN _s._fits THEN NULL ELSE {members} END]) AS _root, "
            f"unnest([CASE WHEN _s._fits THEN json_transform(_s.resource, {schema}) END]) AS _t "
            f"FROM (SELECT resource, unnest([NOT regexp_matches(CAST(resource AS VARCHAR), {guard})]) "
            f"AS _fits FROM {source}) AS _s)"
        )
        if compiler.hoisted:
            hoisted = ", ".join(
                f"unnest([CASE WHEN _src._fits THEN {sql} END]) AS {name}"
                for name, sql in compiler.hoisted
            )
            source = f"(SELECT _src.*, {hoisted} FROM {source} AS _src)"
        combined = _Rows(
            rows.columns,
            _choose(typed_rows.single, rows.single),
            _choose_one(typed_rows.many, rows.many),
        )
        condition = f"CASE WHEN _src._fits THEN {typed_condition} ELSE {condition} END"
        return self._select(combined, condition, source, typed=True)

    def _typed_compiler(self) -> tuple[_ViewCompiler, _Rows, str] | None:
        """The same view over the typed struct, or None when a path is not typed."""
        if not isinstance(self.d, DuckDBDialect):
            return None
        try:
            compiler = _ViewCompiler(self.view, self.d, self.repeat_depth, typed=True)
            typed_rows, condition = compiler.rows()
            assert compiler.typed is not None
            compiler.typed.guard_pattern()
        except TypedPathError:
            return None
        return compiler, typed_rows, condition

    def _select(self, rows: _Rows, condition: str, source: str, *, typed: bool) -> CompiledView:
        quote = self.d.quote_identifier
        if rows.single is not None:
            projection = ", ".join(
                f"{sql} AS {quote(c.name)}"
                for sql, c in zip(rows.single, rows.columns, strict=True)
            )
            sql = f"SELECT {projection} FROM {source} AS _src WHERE {condition}"
        else:
            assert rows.many is not None
            inner = (
                f"SELECT {self.d.explode(rows.many, '_row')} FROM {source} AS _src "
                f"WHERE {condition}"
            )
            projection = ", ".join(
                f"{self.d.field('_row', f'f{n}')} AS {quote(c.name)}"
                for n, c in enumerate(rows.columns)
            )
            sql = f"SELECT {projection} FROM ({inner}) AS _rows"
        return CompiledView(sql, rows.columns, self.d.name, typed)

    def _where(self, text: str, where: str, scope: Scope) -> str:
        value = self.path(text, where, scope)
        if value.kind == "boolean" and not value.many:
            return value.sql
        if value.kind != "json":
            raise ViewDefinitionError(f"{where}: {text!r} is a {value.kind}, not a boolean")
        message = f"venapath.sof: {where} {text!r} must evaluate to a boolean"
        item = self.paths.as_single(value, f"{where} {text!r}").sql
        return f"coalesce({self.d.item_strict_boolean(item, message)}, FALSE)"


def _same_shape(typed: _Rows, general: _Rows) -> bool:
    return typed.columns == general.columns and (typed.single is None) == (general.single is None)


def _choose(
    typed: tuple[str, ...] | None, general: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """Per column: the typed expression for rows of FHIR shape, the general one otherwise."""
    if typed is None or general is None:
        return None  # `_same_shape` made sure both are None
    return tuple(_case(t, g) for t, g in zip(typed, general, strict=True))


def _choose_one(typed: str | None, general: str | None) -> str | None:
    if typed is None or general is None:
        return None
    return _case(typed, general)


def _case(typed: str, general: str) -> str:
    return f"CASE WHEN _src._fits THEN {typed} ELSE {general} END"


def _item_as(dialect: SqlDialect, kind: Kind) -> Callable[[str, str], str]:
    def body(item: str, _index: str) -> str:
        return dialect.item_as(item, kind)

    return body


def _fhir_type(type_: str | None) -> str | None:
    if type_ is None:
        return None
    if type_.startswith(_STRUCTURE_DEFINITION):
        return type_[len(_STRUCTURE_DEFINITION) :]
    return type_


def _output_type(fhir_type: str | None, value: Value) -> OutputType:
    if fhir_type is not None:
        return _OUTPUT_TYPES.get(fhir_type, "string")
    if value.many:
        return "string"
    return _KIND_OUTPUT.get(value.kind, "string")


def compile_view(
    view: ViewDefinition | Mapping[str, Any],
    engine: str | SqlDialect = "duckdb",
    *,
    source: str = "resources",
    repeat_depth: int = REPEAT_DEPTH,
    typed: bool = False,
) -> CompiledView:
    """Compile a ViewDefinition to one SQL query reading `source` (a relation with a `resource`
    column: DuckDB JSON, Spark STRING). Raises `ViewDefinitionError` for invalid views.

    With `typed` (DuckDB only), rows whose JSON has the shapes FHIR defines are read through
    one typed parse (`venapath.sof.typed`) when every path of the view allows it; the rest,
    and every view that does not allow it, take the general path. Same rows either way."""
    definition = load_view(view)
    compiler = _ViewCompiler(definition, dialect_for(engine), repeat_depth)
    return compiler.compile(source, typed=typed)
