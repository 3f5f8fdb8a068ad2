"""SQL on FHIR v2 ViewDefinitions, compiled to SQL and run inside DuckDB or Spark.

The facts the decision rules read are defined once as ViewDefinitions; compiling them to a
single SQL query keeps a population screen inside the engine (one streaming pass over the
NDJSON export) instead of evaluating FHIRPath per resource in Python.
"""

from venapath.sof.compile import REPEAT_DEPTH, CompiledView, OutputColumn, compile_view
from venapath.sof.run import (
    Engine,
    Source,
    ViewEvaluationError,
    duckdb_relation,
    run_view,
    spark_dataframe,
)
from venapath.sof.view import ViewDefinition, ViewDefinitionError, load_view

__all__ = [
    "REPEAT_DEPTH",
    "CompiledView",
    "Engine",
    "OutputColumn",
    "Source",
    "ViewDefinition",
    "ViewDefinitionError",
    "ViewEvaluationError",
    "compile_view",
    "duckdb_relation",
    "load_view",
    "run_view",
    "spark_dataframe",
]
