"""The FHIRPath parser, ViewDefinition validation messages, and runner behaviour the official
suite does not pin down (NDJSON input, per-row errors, SQL determinism)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from venapath.sof import (
    ViewDefinitionError,
    ViewEvaluationError,
    compile_view,
    load_view,
    run_view,
)
from venapath.sof.fhirpath import (
    Binary,
    Call,
    FhirPathSyntaxError,
    Identifier,
    Indexer,
    Literal,
    Member,
    This,
    Variable,
    parse,
)

PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "name": [{"family": "Ng", "given": ["Ann", "Bo"]}, {"family": "Lee"}],
    },
    {"resourceType": "Patient", "id": "p2", "gender": "male"},
    {"resourceType": "Observation", "id": "o1", "status": "final"},
]


def _view(*columns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": [{"column": list(columns)}], **extra}


# -- parser -----------------------------------------------------------------------------------
def test_paths_and_function_calls_parse_into_a_chain() -> None:
    assert parse("name.where(use = %u).family") == Member(
        Call(
            Identifier("name"),
            "where",
            (Binary("=", Identifier("use"), Variable("u")),),
        ),
        "family",
    )


def test_and_binds_looser_than_equality() -> None:
    tree = parse("a = 1 and b != 'x'")
    assert isinstance(tree, Binary)
    assert tree.op == "and"
    assert tree.left == Binary("=", Identifier("a"), Literal(1, "integer"))


def test_literals_keep_their_fhirpath_types() -> None:
    assert parse("1.50") == Literal(Decimal("1.50"), "decimal")
    assert parse("@2020-01") == Literal("2020-01", "date")
    assert parse("@2020-01-01T10:00Z") == Literal("2020-01-01T10:00Z", "dateTime")
    assert parse("@T12:30") == Literal("12:30", "time")
    assert parse(r"'it\'s'") == Literal("it's", "string")
    assert parse("true") == Literal(True, "boolean")


def test_bare_function_and_indexer_start_from_this() -> None:
    assert parse("getResourceKey()") == Call(This(), "getResourceKey", ())
    assert parse("name[0]") == Indexer(Identifier("name"), Literal(0, "integer"))


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("@@", "unexpected character '@' at 0"),
        ("name.", "expected an identifier (end of expression"),
        ("name.where(", "unexpected token (end of expression"),
        ("a b", "unexpected token ('b' at 2"),
        ("", "empty expression"),
    ],
)
def test_syntax_errors_name_the_offending_token(expression: str, fragment: str) -> None:
    with pytest.raises(FhirPathSyntaxError) as info:
        parse(expression)
    assert fragment in str(info.value)


# -- validation messages -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({"select": [{"column": [{"name": "id", "path": "id"}]}]}, "resource: Field required"),
        (
            _view({"name": "id", "path": "id"}, {"name": "bad name", "path": "id"}),
            "select[0].column[1].name: column name 'bad name' must start with a letter",
        ),
        (
            {"resource": "Patient", "select": [{"forEach": 1}]},
            "select[0].forEach: Input should be a valid string",
        ),
        (
            {"resource": "Patient", "select": [{"forEeach": "name"}]},
            "select[0].forEeach: Extra inputs are not permitted",
        ),
        (
            _view({"name": "id", "path": "id"}, constant=[{"name": "c"}]),
            "constant[0]: constant 'c' needs exactly one value[x] element",
        ),
        (
            {"resource": "Patient", "select": [{"forEach": "name", "forEachOrNull": "name"}]},
            "select[0]: only one of forEach, forEachOrNull and repeat may be set",
        ),
    ],
)
def test_structural_errors_name_the_element(view: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError) as info:
        load_view(view)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (
            {"resource": "Patient", "select": [{"forEach": "name.where(use = %nope)"}]},
            "select[0].forEach: undefined constant %nope",
        ),
        (_view({"name": "x", "path": "id.("}), "select[0].column[0].path: expected an identifier"),
        (
            _view({"name": "x", "path": "id.frobnicate()"}),
            "select[0].column[0].path: unsupported FHIRPath function frobnicate()",
        ),
        (
            {
                "resource": "Patient",
                "select": [
                    {
                        "unionAll": [
                            {"column": [{"name": "a", "path": "id"}]},
                            {"column": [{"name": "b", "path": "id"}]},
                        ]
                    }
                ],
            },
            "select[0].unionAll[1]: columns ['b'] do not match unionAll[0] columns ['a']",
        ),
        (
            {
                "resource": "Patient",
                "select": [
                    {"column": [{"name": "a", "path": "id"}]},
                    {"column": [{"name": "a", "path": "gender"}]},
                ],
            },
            "column name(s) ['a'] used more than once",
        ),
        (
            _view({"name": "a", "path": "id"}, where=[{"path": "'yes'"}]),
            "where[0].path: \"'yes'\" is a string, not a boolean",
        ),
    ],
)
def test_compile_errors_name_the_element(view: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError) as info:
        compile_view(view)
    assert message in str(info.value)


# -- runner behaviour ------------------------------------------------------------------------------
def test_a_list_in_a_single_valued_column_fails_naming_the_column() -> None:
    view = _view({"name": "family", "path": "name.family"})
    with pytest.raises(ViewEvaluationError, match=r"select\[0\]\.column\[0\] \('family'"):
        run_view(view, "duckdb", PATIENTS)


def test_repeat_deeper_than_the_limit_fails_instead_of_truncating() -> None:
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": "q",
        "item": [{"linkId": "1", "item": [{"linkId": "1.1", "item": [{"linkId": "1.1.1"}]}]}],
    }
    view = {
        "resource": "QuestionnaireResponse",
        "select": [{"repeat": ["item"], "column": [{"name": "link", "path": "linkId"}]}],
    }
    table = run_view(view, "duckdb", [resource], repeat_depth=3)
    assert not isinstance(table, list)
    assert table.column("link").to_pylist() == ["1", "1.1", "1.1.1"]
    with pytest.raises(ViewEvaluationError, match="deeper than 2 levels"):
        run_view(view, "duckdb", [resource], repeat_depth=2)


def test_ndjson_files_are_read_without_schema_inference(tmp_path: Path) -> None:
    # Two files whose resources differ in shape (gender a string, then absent).
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_text(json.dumps(PATIENTS[0]) + "\n" + json.dumps(PATIENTS[2]) + "\n")
    second.write_text(json.dumps(PATIENTS[1]) + "\n")
    view = _view(
        {"name": "id", "path": "getResourceKey()"},
        {"name": "given", "path": "name.given", "collection": True},
        {"name": "n_names", "path": "name.count()"},
    )
    table = run_view(view, "duckdb", [first, second])
    assert not isinstance(table, list)
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == [
        {"id": "p1", "given": ["Ann", "Bo"], "n_names": 2},
        {"id": "p2", "given": [], "n_names": 0},
    ]


def test_untyped_columns_take_the_expression_type() -> None:
    view = _view(
        {"name": "has_name", "path": "name.exists()"},
        {"name": "names", "path": "name.count()"},
        {"name": "family", "path": "name.first().family"},
    )
    compiled = compile_view(view)
    assert [(c.name, c.type) for c in compiled.columns] == [
        ("has_name", "boolean"),
        ("names", "integer64"),
        ("family", "string"),
    ]


def test_the_same_view_compiles_to_the_same_sql() -> None:
    view = _view({"name": "family", "path": "name.where(use = 'official').family.first()"})
    assert compile_view(view).sql == compile_view(view).sql
    assert compile_view(view, "spark").sql == compile_view(view, "spark").sql
