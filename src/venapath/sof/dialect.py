"""The SQL each engine needs to walk FHIR JSON, kept behind one small interface.

FHIR JSON is heterogeneous (choice types, optional arrays, extensions), so nothing here infers
a struct schema: a FHIRPath collection is always a SQL list of JSON *items*, and every step
works on those items. DuckDB has a real JSON type; Spark 3.5 has none, so there an item is a
string holding the JSON text of objects, arrays, numbers and booleans, and the bare text of
JSON strings (what `get_json_object` returns). That makes a Spark string that looks like JSON
indistinguishable from the structure itself; FHIR strings rarely start with `{` or `[`, and the
DuckDB dialect has no such ambiguity.

Every method returns SQL text; lambdas get fresh variable names from the caller's counter so
nested iterations never shadow each other.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

__all__ = ["DuckDBDialect", "Kind", "OutputType", "SparkDialect", "SqlDialect"]

# The static type of a single FHIRPath value once compiled. "json" is an untyped JSON item.
Kind = Literal["json", "string", "boolean", "integer", "decimal", "date", "dateTime", "time"]
# The physical type of an output column.
OutputType = Literal["string", "boolean", "integer", "integer64", "decimal"]

Body = Callable[[str, str], str]
"""Builds a lambda body from (item variable, zero-based index expression)."""

_DATE = "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
_TIME = "^[0-9]{2}(:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$"
_TZ = "(Z|[+-][0-9]{2}:[0-9]{2})$"
# Column/variable references, optionally subscripted, and integer literals are cheap to repeat.
_SIMPLE = re.compile(
    r"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\[(?:[0-9]+|'\w+')\])?"
    r"|-?[0-9]+|\(-?[0-9]+\))$"
)


class SqlDialect(ABC):
    """What the compiler asks of an engine. `item` arguments are single JSON items (nullable)."""

    name: str

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def fresh(self, prefix: str = "v") -> str:
        return f"_{prefix}{next(self._counter)}"

    def let(self, value: str, body: Callable[[str], str]) -> str:
        """`body` with `value` bound to a name, so a long expression is written (and
        evaluated) once however often `body` uses it; names and literals are inlined."""
        if _SIMPLE.match(value):
            return body(value)
        name = self.fresh("t")
        return self._bind(value, name, body(name))

    @abstractmethod
    def _bind(self, value: str, name: str, body: str) -> str: ...

    # -- literals and types ---------------------------------------------------------------
    @abstractmethod
    def string(self, value: str) -> str: ...

    def integer(self, value: int) -> str:
        return f"CAST({int(value)} AS BIGINT)"

    def decimal(self, text: str) -> str:
        return f"CAST({text} AS DOUBLE)"

    def boolean(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    @abstractmethod
    def sql_type(self, kind: OutputType | Literal["json"], *, collection: bool = False) -> str: ...

    def quote_identifier(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    # -- collections of JSON items ---------------------------------------------------------
    @abstractmethod
    def empty_list(self) -> str: ...

    @abstractmethod
    def list_of(self, items: Sequence[str]) -> str: ...

    def single_to_list(self, item: str) -> str:
        return self.let(
            item,
            lambda i: (
                f"CASE WHEN {i} IS NULL THEN {self.empty_list()} ELSE {self.list_of([i])} END"
            ),
        )

    @abstractmethod
    def member(self, item: str, name: str) -> str:
        """The raw value of property `name` of `item`: a JSON value, array or not, or NULL."""

    @abstractmethod
    def values(self, raw: str) -> str:
        """A raw property value as a list of items: arrays flattened, JSON nulls dropped."""

    @abstractmethod
    def single_value(self, raw: str, message: str) -> str:
        """A raw property value as one item (NULL if absent); raises `message` for 2+ items."""

    def first_value(self, raw: str) -> str:
        return self.at(self.values(raw), "0")

    def children(self, item: str, name: str) -> str:
        return self.values(self.member(item, name))

    @abstractmethod
    def root_members(self, resource: str, names: Sequence[str]) -> str:
        """One parse of the resource that yields every top-level property the view reads."""

    @abstractmethod
    def root_member(self, members: str, names: Sequence[str], name: str) -> str:
        """The raw value of top-level property `name` out of `root_members`."""

    @abstractmethod
    def child_text(self, item: str, name: str) -> str:
        """The text of a property known to be a single primitive (url, reference, id)."""

    @abstractmethod
    def transform(self, items: str, body: Body) -> str: ...

    @abstractmethod
    def filter(self, items: str, body: Body) -> str: ...

    def flat_map(self, items: str, body: Body) -> str:
        return f"flatten({self.transform(items, body)})"

    @abstractmethod
    def length(self, items: str) -> str: ...

    def repeat(self, focus: str, children: Callable[[str], str], depth: int, message: str) -> str:
        """All descendants of `focus` through `children`, depth-first pre-order, as items.

        Neither engine recurses inside a row expression, so the walk is unrolled `depth`
        levels; data nested deeper raises `message` instead of being silently cut off."""
        too_deep = f"CAST({self.error(message)} AS {self.sql_type('json', collection=True)})"

        def descend(x: str, level: int) -> str:
            if level == 0:
                return self.let(
                    children(x),
                    lambda kids: (
                        f"CASE WHEN {self.length(kids)} > 0 THEN {too_deep} "
                        f"ELSE {self.empty_list()} END"
                    ),
                )
            return self.flat_map(
                children(x),
                lambda c, _i: self.concat([self.list_of([c]), descend(c, level - 1)]),
            )

        return descend(focus, depth)

    @abstractmethod
    def at(self, items: str, index: str) -> str:
        """Item at zero-based `index`, or NULL when out of range (negative included)."""

    @abstractmethod
    def concat(self, lists: Sequence[str]) -> str: ...

    @abstractmethod
    def or_null_item(self, items: str) -> str:
        """`items`, or a one-element list holding a NULL item when `items` is empty."""

    @abstractmethod
    def distinct(self, items: str) -> str: ...

    @abstractmethod
    def join_strings(self, strings: str, separator: str) -> str: ...

    # -- items <-> typed values --------------------------------------------------------------
    @abstractmethod
    def item_as(self, item: str, kind: Kind) -> str:
        """Typed value of a JSON item, NULL when the item is not of that kind."""

    @abstractmethod
    def to_item(self, value: str, kind: Kind) -> str: ...

    @abstractmethod
    def item_truthy(self, item: str) -> str:
        """FHIRPath singleton evaluation: a boolean as is, any other item counts as true."""

    @abstractmethod
    def item_strict_boolean(self, item: str, message: str) -> str:
        """The item's boolean, NULL when absent, and a runtime error for any other type."""

    @abstractmethod
    def item_is(self, item: str, kind: Kind) -> str: ...

    @abstractmethod
    def item_equals(self, left: str, right: str) -> str: ...

    @abstractmethod
    def item_compare(self, left: str, right: str, op: str) -> str: ...

    # -- misc ----------------------------------------------------------------------------------
    @abstractmethod
    def error(self, message: str) -> str: ...

    @abstractmethod
    def struct(self, fields: Sequence[tuple[str, str]]) -> str: ...

    def field(self, struct: str, name: str) -> str:
        return f"{struct}.{name}"

    @abstractmethod
    def matches(self, text: str, pattern: str) -> str: ...

    @abstractmethod
    def regexp_extract(self, text: str, pattern: str, group: int) -> str: ...

    @abstractmethod
    def position(self, needle: str, text: str) -> str: ...

    def last_day_of_month(self, year_month: str) -> str:
        return f"CAST(last_day(CAST({year_month} || '-01' AS DATE)) AS {self.sql_type('string')})"

    @abstractmethod
    def explode(self, rows: str, alias: str) -> str:
        """Select-list entry turning a list of structs into one output row per struct."""

    # -- boundaries: string arithmetic shared by both engines ---------------------------------
    def date_low(self, text: str) -> str:
        return (
            f"CASE length({text}) WHEN 4 THEN {text} || '-01-01' "
            f"WHEN 7 THEN {text} || '-01' ELSE {text} END"
        )

    def date_high(self, text: str) -> str:
        return (
            f"CASE length({text}) WHEN 4 THEN {text} || '-12-31' "
            f"WHEN 7 THEN {self.last_day_of_month(text)} ELSE {text} END"
        )

    def time_low(self, text: str) -> str:
        return (
            f"CASE length({text}) WHEN 0 THEN '00:00:00.000' WHEN 2 THEN {text} || ':00:00.000' "
            f"WHEN 5 THEN {text} || ':00.000' WHEN 8 THEN {text} || '.000' "
            f"WHEN 9 THEN {text} || '000' WHEN 10 THEN {text} || '00' "
            f"WHEN 11 THEN {text} || '0' ELSE {text} END"
        )

    def time_high(self, text: str) -> str:
        return (
            f"CASE length({text}) WHEN 0 THEN '23:59:59.999' WHEN 2 THEN {text} || ':59:59.999' "
            f"WHEN 5 THEN {text} || ':59.999' WHEN 8 THEN {text} || '.999' "
            f"WHEN 9 THEN {text} || '999' WHEN 10 THEN {text} || '99' "
            f"WHEN 11 THEN {text} || '9' ELSE {text} END"
        )

    def datetime_boundary(self, text: str, *, high: bool) -> str:
        def with_text(t: str) -> str:
            def with_tz(tz: str) -> str:
                def with_t(position_t: str) -> str:
                    date_part = (
                        f"CASE WHEN {position_t} > 0 THEN substr({t}, 1, {position_t} - 1) "
                        f"ELSE {t} END"
                    )
                    time_part = (
                        f"CASE WHEN {position_t} > 0 THEN substr({t}, {position_t} + 1, "
                        f"length({t}) - {position_t} - length({tz})) ELSE '' END"
                    )
                    date_sql = self.let(date_part, self.date_high if high else self.date_low)
                    time_sql = self.let(time_part, self.time_high if high else self.time_low)
                    default_tz = "'-12:00'" if high else "'+14:00'"
                    return (
                        f"{date_sql} || 'T' || {time_sql} || "
                        f"CASE WHEN {tz} = '' THEN {default_tz} ELSE {tz} END"
                    )

                return self.let(self.position("'T'", t), with_t)

            return self.let(self.regexp_extract(t, _TZ, 1), with_tz)

        return self.let(text, with_text)

    def decimal_boundary(self, text: str, *, high: bool) -> str:
        # Half a unit of the last written digit: 1.0 -> [0.95, 1.05]. Scaling to integers
        # first keeps the result the double nearest the exact decimal boundary.
        def with_text(t: str) -> str:
            dot = self.position("'.'", t)
            precision = f"(CASE WHEN {dot} > 0 THEN length({t}) - {dot} ELSE 0 END)"
            scale = f"pow(10, {precision} + 1)"
            sign = "+" if high else "-"
            return f"((round(TRY_CAST({t} AS DOUBLE) * {scale}) {sign} 5) / {scale})"

        return self.let(text, with_text)

    def boundary(self, item: str, fhir_type: str | None, *, high: bool) -> str:
        """lowBoundary()/highBoundary() of one item, typed by `fhir_type` or by its shape."""
        return self.let(
            item,
            lambda i: self.let(
                self.item_as(i, "string"), lambda t: self._boundary(i, t, fhir_type, high=high)
            ),
        )

    def _boundary(self, item: str, text: str, fhir_type: str | None, *, high: bool) -> str:
        if fhir_type in ("decimal", "integer"):
            number = self.decimal_boundary(text, high=high)
            return f"CASE WHEN {self.item_is(item, 'decimal')} THEN {number} END"
        if fhir_type in ("dateTime", "instant"):
            datetime = self.datetime_boundary(text, high=high)
            return f"CASE WHEN {self.matches(text, '^[0-9]{4}')} THEN {datetime} END"
        date = self.date_high(text) if high else self.date_low(text)
        time = self.time_high(text) if high else self.time_low(text)
        if fhir_type == "date":
            return f"CASE WHEN {self.matches(text, _DATE)} THEN {date} END"
        if fhir_type == "time":
            return f"CASE WHEN {self.matches(text, _TIME)} THEN {time} END"
        number = self.decimal_boundary(text, high=high)
        datetime = self.datetime_boundary(text, high=high)
        return (
            f"CASE WHEN {self.item_is(item, 'decimal')} "
            f"THEN CAST({number} AS {self.sql_type('string')}) "
            f"WHEN {self.matches(text, _DATE)} THEN {date} "
            f"WHEN {self.matches(text, _TIME)} THEN {time} "
            f"WHEN {self.matches(text, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T')} THEN {datetime} END"
        )


class DuckDBDialect(SqlDialect):
    """DuckDB ≥ 1.3: JSON type, `lambda x, i:` syntax, 1-based list indexes."""

    name = "duckdb"

    _TYPES: ClassVar[dict[str, str]] = {
        "string": "VARCHAR",
        "boolean": "BOOLEAN",
        "integer": "INTEGER",
        "integer64": "BIGINT",
        "decimal": "DOUBLE",
        "json": "JSON",
    }
    _NUMBER = "('BIGINT', 'UBIGINT', 'DOUBLE')"

    def string(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def sql_type(self, kind: OutputType | Literal["json"], *, collection: bool = False) -> str:
        base = self._TYPES[kind]
        return f"{base}[]" if collection else base

    def empty_list(self) -> str:
        return "CAST([] AS JSON[])"

    def list_of(self, items: Sequence[str]) -> str:
        return "[" + ", ".join(items) + "]"

    def _path(self, name: str) -> str:
        return self.string('$."' + name.replace('"', '\\"') + '"')

    def member(self, item: str, name: str) -> str:
        return f"json_extract({item}, {self._path(name)})"

    def values(self, raw: str) -> str:
        z = self.fresh("z")
        return self.let(
            raw,
            lambda v: (
                f"CASE coalesce(json_type({v}), 'NULL') "
                f"WHEN 'NULL' THEN {self.empty_list()} "
                f"WHEN 'ARRAY' THEN list_filter(json_extract({v}, '$[*]'), "
                f"lambda {z}: json_type({z}) <> 'NULL') "
                f"ELSE [{v}] END"
            ),
        )

    def single_value(self, raw: str, message: str) -> str:
        # The common case, a present non-array value, costs two json_type calls; the array
        # branch (rare for single-valued elements) builds the list.
        def body(v: str) -> str:
            items = self.values(v)
            return (
                f"CASE coalesce(json_type({v}), 'NULL') WHEN 'NULL' THEN NULL "
                f"WHEN 'ARRAY' THEN (CASE WHEN len({items}) > 1 THEN {self.error(message)} "
                f"ELSE ({items})[1] END) ELSE {v} END"
            )

        return self.let(raw, body)

    def first_value(self, raw: str) -> str:
        def body(v: str) -> str:
            return (
                f"CASE coalesce(json_type({v}), 'NULL') WHEN 'NULL' THEN NULL "
                f"WHEN 'ARRAY' THEN ({self.values(v)})[1] ELSE {v} END"
            )

        return self.let(raw, body)

    def root_members(self, resource: str, names: Sequence[str]) -> str:
        paths = ", ".join(self._path(name) for name in names)
        return f"json_extract({resource}, [{paths}])"

    def root_member(self, members: str, names: Sequence[str], name: str) -> str:
        return f"{members}[{list(names).index(name) + 1}]"

    def _bind(self, value: str, name: str, body: str) -> str:
        return f"list_transform([{value}], lambda {name}: {body})[1]"

    def child_text(self, item: str, name: str) -> str:
        return f"json_extract_string({item}, {self._path(name)})"

    def _lambda(self, items: str, function: str, body: Body) -> str:
        x, i = self.fresh("x"), self.fresh("i")
        return f"{function}({items}, lambda {x}, {i}: {body(x, f'({i} - 1)')})"

    def transform(self, items: str, body: Body) -> str:
        return self._lambda(items, "list_transform", body)

    def filter(self, items: str, body: Body) -> str:
        return self._lambda(items, "list_filter", body)

    def length(self, items: str) -> str:
        return f"len({items})"

    def at(self, items: str, index: str) -> str:
        return f"CASE WHEN ({index}) >= 0 THEN ({items})[({index}) + 1] END"

    def concat(self, lists: Sequence[str]) -> str:
        if len(lists) == 1:
            return lists[0]
        return "list_concat(" + ", ".join(lists) + ")"

    def or_null_item(self, items: str) -> str:
        return f"coalesce(nullif({items}, {self.empty_list()}), [CAST(NULL AS JSON)])"

    def distinct(self, items: str) -> str:
        return f"list_distinct({items})"

    def join_strings(self, strings: str, separator: str) -> str:
        return f"array_to_string({strings}, {separator})"

    def item_as(self, item: str, kind: Kind) -> str:
        if kind == "json":
            return item
        if kind == "boolean":
            template = "CASE WHEN json_type({i}) = 'BOOLEAN' THEN CAST({i} AS BOOLEAN) END"
        elif kind == "integer":
            template = (
                "CASE WHEN json_type({i}) IN ('BIGINT', 'UBIGINT') THEN CAST({i} AS BIGINT) END"
            )
        elif kind == "decimal":
            template = (
                "CASE WHEN json_type({i}) IN " + self._NUMBER + " THEN CAST({i} AS DOUBLE) END"
            )
        else:
            return f"({item} ->> '$')"
        return self.let(item, lambda i: template.format(i=i))

    def to_item(self, value: str, kind: Kind) -> str:
        return value if kind == "json" else f"to_json({value})"

    def item_truthy(self, item: str) -> str:
        return self.let(
            item,
            lambda i: (
                f"CASE coalesce(json_type({i}), 'NULL') WHEN 'BOOLEAN' THEN CAST({i} AS BOOLEAN) "
                "WHEN 'NULL' THEN NULL ELSE TRUE END"
            ),
        )

    def item_strict_boolean(self, item: str, message: str) -> str:
        return self.let(
            item,
            lambda i: (
                f"CASE coalesce(json_type({i}), 'NULL') WHEN 'BOOLEAN' THEN CAST({i} AS BOOLEAN) "
                f"WHEN 'NULL' THEN NULL ELSE CAST({self.error(message)} AS BOOLEAN) END"
            ),
        )

    def item_is(self, item: str, kind: Kind) -> str:
        types = {
            "boolean": "('BOOLEAN')",
            "integer": "('BIGINT', 'UBIGINT')",
            "decimal": self._NUMBER,
            "string": "('VARCHAR')",
            "date": "('VARCHAR')",
            "dateTime": "('VARCHAR')",
            "time": "('VARCHAR')",
            "json": "('OBJECT')",
        }[kind]
        return f"coalesce(json_type({item}) IN {types}, FALSE)"

    def item_equals(self, left: str, right: str) -> str:
        def body(a: str, b: str) -> str:
            return (
                f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL "
                f"WHEN json_type({a}) IN {self._NUMBER} AND json_type({b}) IN {self._NUMBER} "
                f"THEN CAST({a} AS DOUBLE) = CAST({b} AS DOUBLE) "
                f"ELSE CAST({a} AS VARCHAR) = CAST({b} AS VARCHAR) END"
            )

        return self.let(left, lambda a: self.let(right, lambda b: body(a, b)))

    def item_compare(self, left: str, right: str, op: str) -> str:
        def body(a: str, b: str) -> str:
            return (
                f"CASE WHEN json_type({a}) IN {self._NUMBER} AND json_type({b}) IN {self._NUMBER} "
                f"THEN CAST({a} AS DOUBLE) {op} CAST({b} AS DOUBLE) "
                f"ELSE ({a} ->> '$') {op} ({b} ->> '$') END"
            )

        return self.let(left, lambda a: self.let(right, lambda b: body(a, b)))

    def error(self, message: str) -> str:
        return f"error({self.string(message)})"

    def struct(self, fields: Sequence[tuple[str, str]]) -> str:
        return "struct_pack(" + ", ".join(f"{name} := {sql}" for name, sql in fields) + ")"

    def matches(self, text: str, pattern: str) -> str:
        return f"coalesce(regexp_matches({text}, {self.string(pattern)}), FALSE)"

    def regexp_extract(self, text: str, pattern: str, group: int) -> str:
        return f"regexp_extract({text}, {self.string(pattern)}, {group})"

    def position(self, needle: str, text: str) -> str:
        return f"strpos({text}, {needle})"

    def explode(self, rows: str, alias: str) -> str:
        return f"unnest({rows}) AS {alias}"


class SparkDialect(SqlDialect):
    """Spark SQL 3.5: JSON items are strings, higher-order functions, 0-based lambda indexes."""

    name = "spark"

    _TYPES: ClassVar[dict[str, str]] = {
        "string": "STRING",
        "boolean": "BOOLEAN",
        "integer": "INT",
        "integer64": "BIGINT",
        "decimal": "DOUBLE",
        "json": "STRING",
    }

    def string(self, value: str) -> str:
        # Spark parses backslash escapes inside string literals.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def sql_type(self, kind: OutputType | Literal["json"], *, collection: bool = False) -> str:
        base = self._TYPES[kind]
        return f"ARRAY<{base}>" if collection else base

    def quote_identifier(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def empty_list(self) -> str:
        return "CAST(array() AS ARRAY<STRING>)"

    def list_of(self, items: Sequence[str]) -> str:
        return "array(" + ", ".join(items) + ")"

    def _path(self, name: str) -> str:
        return self.string("$['" + name.replace("'", "\\'") + "']")

    def member(self, item: str, name: str) -> str:
        return f"get_json_object({item}, {self._path(name)})"

    def values(self, raw: str) -> str:
        # No lambdas here: Spark's analyzer pays one pass per level of lambda nesting.
        return (
            f"coalesce(array_compact(from_json({raw}, 'ARRAY<STRING>')), "
            f"array_compact(array({raw})))"
        )

    def single_value(self, raw: str, message: str) -> str:
        def body(v: str) -> str:
            parsed = f"array_compact(from_json({v}, 'ARRAY<STRING>'))"
            return (
                f"CASE WHEN {v} IS NULL THEN NULL WHEN substr({v}, 1, 1) <> '[' THEN {v} "
                f"WHEN {parsed} IS NULL THEN {v} "
                f"WHEN size({parsed}) > 1 THEN {self.error(message)} "
                f"ELSE try_element_at({parsed}, 1) END"
            )

        return self.let(raw, body)

    def first_value(self, raw: str) -> str:
        def body(v: str) -> str:
            parsed = f"array_compact(from_json({v}, 'ARRAY<STRING>'))"
            return (
                f"CASE WHEN {v} IS NULL THEN NULL WHEN substr({v}, 1, 1) <> '[' THEN {v} "
                f"WHEN {parsed} IS NULL THEN {v} ELSE try_element_at({parsed}, 1) END"
            )

        return self.let(raw, body)

    def root_members(self, resource: str, names: Sequence[str]) -> str:
        return f"from_json({resource}, 'MAP<STRING, STRING>')"

    def root_member(self, members: str, names: Sequence[str], name: str) -> str:
        return f"{members}[{self.string(name)}]"

    def _bind(self, value: str, name: str, body: str) -> str:
        return f"transform(array({value}), {name} -> {body})[0]"

    def repeat(self, focus: str, children: Callable[[str], str], depth: int, message: str) -> str:
        # Spark's analyzer resolves one level of nested lambdas per pass (100 passes at
        # most), so instead of nesting the walk it folds level by level with `aggregate`,
        # tags every item with its index path and sorts by that path for pre-order.
        def level_below(frontier: str) -> str:
            return self.flat_map(
                frontier,
                lambda e, _i: self.transform(
                    children(f"{e}.v"),
                    lambda c, i: f"named_struct('k', concat({e}.k, array({i})), 'v', {c})",
                ),
            )

        first = self.transform(
            children(focus), lambda c, i: f"named_struct('k', array({i}), 'v', {c})"
        )
        acc, step = self.fresh("acc"), self.fresh("lvl")
        fold = (
            f"aggregate(array_repeat(0, {depth - 1}), named_struct('f', {first}, 'a', {first}), "
            f"({acc}, {step}) -> "
            + self.let(
                level_below(f"{acc}.f"),
                lambda n: f"named_struct('f', {n}, 'a', concat({acc}.a, {n}))",
            )
            + ")"
        )
        too_deep = f"CAST({self.error(message)} AS ARRAY<STRING>)"
        e = self.fresh("e")
        return self.let(
            fold,
            lambda r: (
                f"CASE WHEN size({level_below(f'{r}.f')}) > 0 THEN {too_deep} "
                f"ELSE transform(array_sort({r}.a), {e} -> {e}.v) END"
            ),
        )

    def child_text(self, item: str, name: str) -> str:
        return f"get_json_object({item}, {self._path(name)})"

    def _lambda(self, items: str, function: str, body: Body) -> str:
        x, i = self.fresh("x"), self.fresh("i")
        return f"{function}({items}, ({x}, {i}) -> {body(x, i)})"

    def transform(self, items: str, body: Body) -> str:
        return self._lambda(items, "transform", body)

    def filter(self, items: str, body: Body) -> str:
        return self._lambda(items, "filter", body)

    def length(self, items: str) -> str:
        return f"size({items})"

    def at(self, items: str, index: str) -> str:
        return (
            f"CASE WHEN ({index}) >= 0 THEN try_element_at({items}, CAST(({index}) + 1 AS INT)) END"
        )

    def concat(self, lists: Sequence[str]) -> str:
        if len(lists) == 1:
            return lists[0]
        return "concat(" + ", ".join(lists) + ")"

    def or_null_item(self, items: str) -> str:
        return f"coalesce(nullif({items}, {self.empty_list()}), array(CAST(NULL AS STRING)))"

    def distinct(self, items: str) -> str:
        return f"array_distinct({items})"

    def join_strings(self, strings: str, separator: str) -> str:
        return f"array_join({strings}, {separator})"

    def _is_number(self, item: str) -> str:
        return f"(TRY_CAST({item} AS DOUBLE) IS NOT NULL AND {item} RLIKE '^-?[0-9]')"

    def item_as(self, item: str, kind: Kind) -> str:
        if kind in ("json", "string", "date", "dateTime", "time"):
            return item
        if kind == "boolean":
            return f"CASE {item} WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END"
        if kind == "integer":
            return self.let(
                item, lambda i: f"CASE WHEN {i} RLIKE '^-?[0-9]+$' THEN TRY_CAST({i} AS BIGINT) END"
            )
        return self.let(
            item, lambda i: f"CASE WHEN {self._is_number(i)} THEN TRY_CAST({i} AS DOUBLE) END"
        )

    def to_item(self, value: str, kind: Kind) -> str:
        if kind in ("json", "string", "date", "dateTime", "time"):
            return value
        return f"CAST({value} AS STRING)"

    def item_truthy(self, item: str) -> str:
        return self.let(
            item,
            lambda i: (
                f"CASE WHEN {i} IS NULL THEN NULL WHEN {i} = 'false' THEN FALSE ELSE TRUE END"
            ),
        )

    def item_strict_boolean(self, item: str, message: str) -> str:
        return self.let(
            item,
            lambda i: (
                f"CASE WHEN {i} IS NULL THEN NULL WHEN {i} = 'true' THEN TRUE "
                f"WHEN {i} = 'false' THEN FALSE ELSE CAST({self.error(message)} AS BOOLEAN) END"
            ),
        )

    def item_is(self, item: str, kind: Kind) -> str:
        def body(i: str) -> str:
            if kind == "boolean":
                return f"coalesce({i} IN ('true', 'false'), FALSE)"
            if kind == "integer":
                return f"coalesce({i} RLIKE '^-?[0-9]+$', FALSE)"
            if kind == "decimal":
                return f"coalesce({self._is_number(i)}, FALSE)"
            if kind == "json":
                return f"coalesce(substr({i}, 1, 1) = '{{', FALSE)"
            return (
                f"coalesce(NOT ({self._is_number(i)} OR {i} IN ('true', 'false') "
                f"OR substr({i}, 1, 1) = '{{'), FALSE)"
            )

        return self.let(item, body)

    def item_equals(self, left: str, right: str) -> str:
        def body(a: str, b: str) -> str:
            return (
                f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL "
                f"WHEN {self._is_number(a)} AND {self._is_number(b)} "
                f"THEN CAST({a} AS DOUBLE) = CAST({b} AS DOUBLE) ELSE {a} = {b} END"
            )

        return self.let(left, lambda a: self.let(right, lambda b: body(a, b)))

    def item_compare(self, left: str, right: str, op: str) -> str:
        def body(a: str, b: str) -> str:
            return (
                f"CASE WHEN {self._is_number(a)} AND {self._is_number(b)} "
                f"THEN CAST({a} AS DOUBLE) {op} CAST({b} AS DOUBLE) ELSE {a} {op} {b} END"
            )

        return self.let(left, lambda a: self.let(right, lambda b: body(a, b)))

    def error(self, message: str) -> str:
        return f"raise_error({self.string(message)})"

    def struct(self, fields: Sequence[tuple[str, str]]) -> str:
        return "named_struct(" + ", ".join(f"'{name}', {sql}" for name, sql in fields) + ")"

    def matches(self, text: str, pattern: str) -> str:
        return f"coalesce({text} RLIKE {self.string(pattern)}, FALSE)"

    def regexp_extract(self, text: str, pattern: str, group: int) -> str:
        return f"regexp_extract({text}, {self.string(pattern)}, {group})"

    def position(self, needle: str, text: str) -> str:
        return f"instr({text}, {needle})"

    def explode(self, rows: str, alias: str) -> str:
        return f"explode({rows}) AS {alias}"
