"""The knowledge base compiled to Ibis gives, patient for patient, what the engine gives.

The engine (`evaluate`) is the reference. Generated patients (every case fact independently
unknown or a value of its type, numbers around the limits the rules compare them with) go
through both, and every output column is compared in order: pathways, possible pathways,
urgency, recommendations (rule, action, strength, urgency, certainty), contraindications,
needed facts and alerts. On DuckDB with Hypothesis, on Spark with one larger batch.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screen_rule_support import (
    CASE_FACTS,
    CompiledOnDuckDB,
    Patient,
    PatientMaker,
    differences,
    engine_answer,
    facts_arrow,
    satisfy,
    unbound_facts,
)

from hypothesis_profiles import examples
from venapath.domain.facts import FactValue, catalogue
from venapath.domain.kleene import COMPARISONS
from venapath.domain.vocabulary import Strength
from venapath.kb.conditions import compile_condition, deciding_unknowns, facts_read
from venapath.kb.model import KnowledgeBase
from venapath.screen import conditions as sql_conditions
from venapath.screen.conditions import ConditionCompiler, is_unknown
from venapath.screen.rules import OUTPUT_SCHEMA, FactColumnsError, assess, required_facts
from venapath.screen.scores import facts_read_by_scores

BATCH = 200
NAN = float("nan")

HAS_BLED_LOW: Patient = {
    "systolic_bp_mmhg": 120.0,
    "chronic_dialysis_or_renal_transplant": False,
    "creatinine_umol_l": 80.0,
    "chronic_liver_disease": False,
    "stroke_history": False,
    "previous_major_bleeding": False,
    "bleeding_disorder": False,
    "labile_inr": False,
    "age_years": 50.0,
    "antiplatelet_or_nsaid": False,
    "alcohol_units_per_week": 0.0,
}
EXAMPLES: dict[str, Patient] = {
    "confirmed proximal leg DVT": {
        "leg_dvt_confirmed": True,
        "proximal_leg_veins_involved": True,
        "femoropopliteal_without_iliofemoral": True,
        "iliofemoral_involved": False,
        "limb_threatening_dvt": False,
        "cvt_confirmed": False,
        "anticoagulation_contraindicated": False,
        "recent_intracranial_haemorrhage_not_from_venous_thrombosis": False,
    },
    "CVT deteriorating on anticoagulation": {
        "cvt_confirmed": True,
        "on_therapeutic_anticoagulation": True,
        "neurological_deterioration": True,
        "herniation": False,
    },
    "thrombolysis candidate who is bleeding": {
        "leg_dvt_confirmed": True,
        "iliofemoral_involved": True,
        "days_since_onset": 5.0,
        "ambulatory": True,
        "life_expectancy_over_1_year": True,
        "limb_threatening_dvt": False,
        "active_bleeding": True,
        **HAS_BLED_LOW,
    },
    "nothing known": {},
}


@pytest.fixture(scope="module")
def maker(kb: KnowledgeBase) -> PatientMaker:
    return PatientMaker(kb)


@pytest.fixture(scope="module")
def compiled(kb: KnowledgeBase) -> CompiledOnDuckDB:
    return CompiledOnDuckDB(lambda facts: assess(facts, kb))


@pytest.fixture(scope="module")
def examples_screened(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The hand-written patients through the public path: memtable, assess, Parquet."""
    path = tmp_path_factory.mktemp("examples") / "assessed.parquet"
    nan_platelets = dict(EXAMPLES["CVT deteriorating on anticoagulation"], platelets_10e9_l=NAN)
    facts = ibis.memtable(facts_arrow([*EXAMPLES.values(), nan_platelets]))
    ibis.duckdb.connect().to_parquet(assess(facts, kb), path)
    return pq.read_table(path)


# ------------------------------------------------------------ generated patients


@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    known_share=st.sampled_from([0.05, 0.3, 0.6, 0.9, 1.0]),
    pushes=st.integers(min_value=0, max_value=4),
)
def test_duckdb_screen_equals_the_engine_on_generated_patients(
    kb: KnowledgeBase,
    maker: PatientMaker,
    compiled: CompiledOnDuckDB,
    seed: int,
    known_share: float,
    pushes: int,
) -> None:
    """Hypothesis draws each batch's seed and shape; the patients come from that seed.

    A batch of 200 patients of 175 facts is far more than the ~8k choices Hypothesis can
    carry per example, and shrinking a batch would not help: a failure names the patient.
    """
    rng = random.Random(seed)
    patients = [maker.patient(rng, known_share, pushes) for _ in range(BATCH)]
    assert differences(kb, patients, compiled.run(facts_arrow(patients))) == []


def test_generated_patients_reach_every_rule_and_every_engine_path(
    kb: KnowledgeBase, maker: PatientMaker
) -> None:
    """Without this, agreeing on patients that fire nothing would prove little."""
    rng = random.Random(2026)
    seen: dict[str, set[Any]] = {key: set() for key in ("rules", "strengths", "alerts", "needs")}
    for index in range(1500):
        patient = maker.patient(rng, [0.3, 0.9][index % 2], 4)
        if index % 25 == 0:  # no pathway at all: eleven entry conditions rarely all fail
            for pathway in kb.pathways:
                pushed = satisfy(pathway.condition, random.Random(index), maker, want=False)
                patient.update((k, v) for k, v in pushed.items() if k in patient)
        answer = engine_answer(kb, patient)
        for rec in answer["recommendations"]:
            seen["rules"].add(rec["rule_id"])
            seen["strengths"].add((rec["rule_id"], rec["strength"], rec["certainty"]))
        seen["rules"].update(answer["contraindications"])
        seen["alerts"].update(answer["alerts"])
        seen["needs"].update(answer["needs_data"])
    fired_somewhere = seen["rules"] | seen["alerts"]
    assert [rule.id for rule in kb.rules if rule.id not in fired_somewhere] == []
    assert any(alert.startswith("ENGINE-DISAGREE-") for alert in seen["alerts"])
    assert "ENGINE-NO-PATHWAY" in seen["alerts"]
    written = {r.id: r.recommend.strength.value for r in kb.rules if r.recommend is not None}
    capped = {rule for rule, strength, _ in seen["strengths"] if strength != written[rule]}
    assert len(capped) >= 10
    assert {certainty for _, _, certainty in seen["strengths"]} == {"firm", "provisional"}
    askable: set[str] = {window.clock for window in kb.time_windows}
    for condition in [p.condition for p in kb.pathways] + [r.condition for r in kb.rules]:
        askable |= facts_read(condition)
    for rule in kb.rules:  # `provided` safety checks ask too
        askable |= rule.facts
    assert seen["needs"] == askable


# ----------------------------------------------------------------- hand-written


def _screened(table: pa.Table, name: str) -> dict[str, Any]:
    return table.to_pylist()[list(EXAMPLES).index(name)]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_hand_written_patients_equal_the_engine(
    kb: KnowledgeBase, examples_screened: pa.Table, name: str
) -> None:
    row = _screened(examples_screened, name)
    expected = engine_answer(kb, EXAMPLES[name])
    assert {key: row[key] for key in expected} == expected


def test_a_confirmed_proximal_leg_dvt_is_anticoagulated_firmly(examples_screened: pa.Table) -> None:
    row = _screened(examples_screened, "confirmed proximal leg DVT")
    assert row["pathways"] == ["leg_dvt"]
    assert row["urgency"] == "urgent"
    first = row["recommendations"][0]
    assert (first["rule_id"], first["strength"], first["certainty"]) == (
        "DVT-ANTICOAGULATION-PROXIMAL",
        "recommended",
        "firm",
    )
    assert row["contraindications"] == []


def test_a_deteriorating_cvt_is_an_emergency_left_provisional(
    examples_screened: pa.Table,
) -> None:
    row = _screened(examples_screened, "CVT deteriorating on anticoagulation")
    assert row["pathways"] == ["cvt_acute"]
    assert row["urgency"] == "emergency"
    emergency = [r for r in row["recommendations"] if r["urgency"] == "emergency"]
    assert {r["rule_id"] for r in emergency} == {
        "CVT-EVT-DETERIORATION-CDT",
        "CVT-EVT-DETERIORATION-MT",
    }
    assert {r["certainty"] for r in emergency} == {"provisional"}  # bleeding risk unchecked
    assert "platelets_10e9_l" in row["needs_data"]


def test_a_contraindicated_thrombolysis_is_capped(examples_screened: pa.Table) -> None:
    row = _screened(examples_screened, "thrombolysis candidate who is bleeding")
    assert row["contraindications"] == ["CI-SIR-ACTIVE-BLEEDING"]
    strengths = {r["rule_id"]: r["strength"] for r in row["recommendations"]}
    assert strengths["DVT-ETR-CANDIDATE-CDT"] == "contraindicated"  # written: consider
    assert strengths["DVT-ETR-CANDIDATE-PMT"] == "contraindicated"
    assert row["urgency"] is None  # nothing left in favour
    assert "ENGINE-DISAGREE-DVT-ANTICOAGULATION-ALONE-CDT-DVT-ETR-CANDIDATE-CDT" in row["alerts"]


def test_a_patient_with_nothing_known_may_be_on_every_pathway(
    kb: KnowledgeBase, examples_screened: pa.Table
) -> None:
    row = _screened(examples_screened, "nothing known")
    assert row["pathways"] == []
    assert row["possible_pathways"] == [p.id for p in kb.pathways]
    assert (row["urgency"], row["recommendations"], row["alerts"]) == (None, [], [])
    assert row["needs_data"][0] == "cvt_confirmed"  # decides the most


def test_a_nan_number_is_read_as_unknown(examples_screened: pa.Table) -> None:
    """pandas spells a missing number NaN; SQL would compare it as a huge number."""
    with_nan = examples_screened.to_pylist()[len(EXAMPLES)]
    unknown = _screened(examples_screened, "CVT deteriorating on anticoagulation")
    assert {**with_nan, "patient_id": None} == {**unknown, "patient_id": None}
    assert "platelets_10e9_l" in with_nan["needs_data"]


def test_the_output_has_the_documented_schema(
    kb: KnowledgeBase, examples_screened: pa.Table
) -> None:
    assert assess(unbound_facts(), kb).schema() == OUTPUT_SCHEMA
    assert examples_screened.column_names == list(OUTPUT_SCHEMA.names)


# ---------------------------------------------------------- the checks can fail


def test_a_wrong_ceiling_in_the_compiled_kb_is_caught(kb: KnowledgeBase) -> None:
    """The comparison is not vacuous: compile a KB with one ceiling raised and it differs."""
    bleeding = kb.rule("CI-SIR-ACTIVE-BLEEDING")
    assert bleeding.contraindication is not None
    raised = dataclasses.replace(
        bleeding,
        contraindication=bleeding.contraindication.model_copy(
            update={"ceiling": Strength.CONSIDER}
        ),
    )
    altered = dataclasses.replace(
        kb,
        rules=tuple(raised if r is bleeding else r for r in kb.rules),
        rules_by_pathway={
            pathway: tuple(raised if r is bleeding else r for r in rules)
            for pathway, rules in kb.rules_by_pathway.items()
        },
    )
    patients = [EXAMPLES["thrombolysis candidate who is bleeding"]]
    screened = ibis.duckdb.connect().to_pyarrow(
        assess(ibis.memtable(facts_arrow(patients)), altered)
    )
    problems = differences(kb, patients, screened.to_pylist())
    assert any("recommendations" in problem for problem in problems)


# ------------------------------------------------------------------ the input


def test_every_case_fact_the_kb_reads_is_a_required_column(kb: KnowledgeBase) -> None:
    read: set[str] = set(facts_read_by_scores())
    for condition in [p.condition for p in kb.pathways] + [r.condition for r in kb.rules]:
        read |= facts_read(condition)
    read |= {window.clock for window in kb.time_windows}
    case_read = {name for name in read if catalogue()[name].source == "case"}
    assert case_read == set(required_facts(kb))
    assert all(catalogue()[name].source.startswith("score:") for name in read - case_read)


def test_a_missing_fact_column_is_named(kb: KnowledgeBase) -> None:
    facts = unbound_facts().drop("cvt_confirmed", "platelets_10e9_l")
    with pytest.raises(FactColumnsError, match=r"lacks 2 column\(s\).*cvt_confirmed.*platelets"):
        assess(facts, kb)


def test_a_mistyped_fact_column_is_named(kb: KnowledgeBase) -> None:
    facts = unbound_facts()
    facts = facts.mutate(cvt_confirmed=facts.cvt_suspected.cast("string"))
    with pytest.raises(FactColumnsError, match=r"cvt_confirmed \(string; expected boolean\)"):
        assess(facts, kb)


def test_extra_columns_are_ignored_and_ints_are_numbers(kb: KnowledgeBase) -> None:
    facts = unbound_facts()
    facts = facts.mutate(age_years=facts.age_years.cast("int32"), note=ibis.literal("x"))
    assert assess(facts, kb).schema() == OUTPUT_SCHEMA


# ------------------------------------------------------- the condition compiler


def test_sql_comparisons_are_the_kb_comparisons() -> None:
    assert set(sql_conditions._OPERATORS) == set(COMPARISONS)


def test_is_unknown_survives_the_precedence_of_not_and_in() -> None:
    """Ibis prints `(~x).isnull()` as `NOT (x) IS NULL`, which SQL reads as NOT (x IS NULL)."""
    table = ibis.memtable(
        {"flag": [True, False, None], "word": ["a", "b", None]},
        schema={"flag": "boolean", "word": "string"},
    )
    checks = {
        "not": is_unknown(~table.flag),
        "double_not": is_unknown(~~table.flag),
        "in": is_unknown(table.word.isin(["a"])),
        "not_in": is_unknown(~table.word.isin(["a"])),
        "and": is_unknown(table.flag & ~table.flag),
    }
    rows = ibis.duckdb.connect().to_pyarrow(table.select(**checks)).to_pylist()
    assert [set(row.values()) for row in rows] == [{False}, {False}, {True}]


def _case_names() -> list[str]:
    return [d.name for d in CASE_FACTS]


@pytest.fixture(scope="module")
def condition_query(kb: KnowledgeBase) -> tuple[CompiledOnDuckDB, dict[str, Any]]:
    """Conditions reading case facts only (score facts are the score tests' business)."""
    case = {d.name for d in CASE_FACTS}
    conditions = {f"pathway_{p.id}": p.condition for p in kb.pathways}
    conditions |= {rule.id.replace("-", "_"): rule.condition for rule in kb.rules}
    conditions = {k: c for k, c in conditions.items() if facts_read(c) <= case}

    def build(facts: ibis.Table) -> ibis.Table:
        compiler = ConditionCompiler(lambda name: facts[name])
        columns: dict[str, Any] = {}
        for name, condition in conditions.items():
            columns[f"truth__{name}"] = compiler.truth(condition)
            for fact in facts_read(condition):
                columns[f"unknown__{name}__{fact}"] = compiler.deciding_unknown(condition, fact)
        return facts.select("patient_id", **columns)

    return CompiledOnDuckDB(build, _case_names()), conditions


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    known_share=st.sampled_from([0.2, 0.5, 0.8]),
)
def test_every_condition_and_its_deciding_unknowns_match_the_engine(
    maker: PatientMaker,
    condition_query: tuple[CompiledOnDuckDB, dict[str, Any]],
    seed: int,
    known_share: float,
) -> None:
    """Truth of each pathway and rule condition, and each of its facts' `deciding_unknowns`."""
    query, conditions = condition_query
    rng = random.Random(seed)
    patients = [maker.patient(rng, known_share, 2) for _ in range(100)]
    for facts, row in zip(patients, query.run(facts_arrow(patients, _case_names())), strict=True):
        for name, condition in conditions.items():
            values: dict[str, FactValue] = dict(facts)
            assert row[f"truth__{name}"] == compile_condition(condition)(values), (name, facts)
            expected = set(deciding_unknowns(condition, values))
            got = {f for f in facts_read(condition) if row[f"unknown__{name}__{f}"]}
            assert got == expected, (name, facts)


# --------------------------------------------------------------------- Spark


def test_spark_screen_equals_the_engine(
    spark_session: Any, kb: KnowledgeBase, maker: PatientMaker, tmp_path: Path
) -> None:
    """One batch on Spark (a Spark query on this SQL takes seconds to plan), via Parquet."""
    from pyspark.sql.pandas.types import from_arrow_schema

    rng = random.Random(7)
    patients = list(EXAMPLES.values()) + [
        maker.patient(rng, [0.05, 0.5, 0.9][index % 3], 3) for index in range(400)
    ]
    batch = facts_arrow(patients)
    rows = [tuple(row.values()) for row in batch.to_pylist()]  # Python None: a real NULL
    frame = spark_session.createDataFrame(rows, schema=from_arrow_schema(batch.schema))
    frame.createOrReplaceTempView("screen_rule_facts")
    backend = ibis.pyspark.connect(spark_session)
    query = assess(backend.table("screen_rule_facts"), kb)
    out = tmp_path / "assessed"
    spark_session.sql(str(ibis.to_sql(query, dialect="pyspark"))).coalesce(1).write.parquet(
        str(out)
    )
    screened = pq.read_table(out).to_pylist()
    screened.sort(key=lambda row: int(row["patient_id"]))
    assert differences(kb, patients, screened) == []
