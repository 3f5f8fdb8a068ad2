"""Hand-flattened DuckDB queries returning the same rows as the knowledge base's views.

What a skilled engineer would write by hand for this cohort: one `read_json` per file with an
explicit schema of typed STRUCTs and lists, then `unnest` and field access. They are the
yardstick for the compiled views (`bench/screen.py` times both and checks, with EXCEPT ALL
in both directions, that they return the same rows). They know nothing of FHIRPath's corner
cases, so they are a benchmark, never a substitute for the views.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

_REFERENCE_ID = (
    "nullif(regexp_extract({ref}, "
    "'^(.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{{1,64}})(/_history/[^/]+)?$', 3), '')"
)
_PATIENT_OF = (
    "CASE WHEN regexp_extract({ref}, "
    "'^(.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{{1,64}})(/_history/[^/]+)?$', 2) = 'Patient' "
    "THEN " + _REFERENCE_ID + " END"
)
_CODING = "STRUCT(system VARCHAR, code VARCHAR)"
_CODES = "STRUCT(coding STRUCT(code VARCHAR)[])"
_QUANTITY = "STRUCT(value DOUBLE, unit VARCHAR, code VARCHAR)"
_STATUS = "STRUCT(coding STRUCT(code VARCHAR)[])"


def _files(files: Sequence[Path]) -> str:
    return "[" + ", ".join(f"'{f}'" for f in files) + "]"


def _read(files: Sequence[Path], columns: dict[str, str]) -> str:
    schema = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return f"read_json({_files(files)}, format = 'newline_delimited', columns = {{{schema}}})"


def _patient_of(ref: str) -> str:
    return _PATIENT_OF.format(ref=ref)


def _first_status(column: str) -> str:
    return f"[x.code FOR x IN coalesce({column}.coding, []) IF x.code IS NOT NULL][1]"


def _codes(codeable: str) -> str:
    return f"[x.code FOR x IN coalesce({codeable}.coding, []) IF x.code IS NOT NULL]"


def patient(files: Sequence[Path]) -> str:
    source = _read(files, {"id": "VARCHAR", "gender": "VARCHAR", "birthDate": "VARCHAR"})
    return f"SELECT id AS patient_id, gender, birthDate AS birth_date FROM {source}"


def _coded(files: Sequence[Path], subject: str, extra: dict[str, str], select: str) -> str:
    columns = {subject: "STRUCT(reference VARCHAR)", "code": f"STRUCT(coding {_CODING}[])"}
    source = _read(files, {**columns, **extra})
    return (
        f"SELECT {_patient_of(f'{subject}.reference')} AS patient_id, {select}, "
        "c.system AS system, c.code AS code "
        f"FROM (SELECT *, unnest(code.coding) AS c FROM {source})"
    )


def _unnested(source: str, head: str, part: str, items: str, system: str, code: str) -> str:
    """One row per element of list `items` of each resource, labelled `part`."""
    return (
        f"SELECT {head}, '{part}' AS part, x.{system} AS system, x.{code} AS code "
        f"FROM (SELECT *, unnest({items}) AS x FROM {source})"
    )


def condition(files: Sequence[Path]) -> str:
    extra = {
        "clinicalStatus": _STATUS,
        "verificationStatus": _STATUS,
        "onsetDateTime": "VARCHAR",
        "onsetPeriod": "STRUCT(start VARCHAR)",
        "recordedDate": "VARCHAR",
        "id": "VARCHAR",
    }
    select = (
        "id AS condition_id, "
        f"{_first_status('clinicalStatus')} AS clinical_status, "
        f"{_first_status('verificationStatus')} AS verification_status, "
        "onsetDateTime AS onset, onsetPeriod.start AS onset_period_start, "
        "recordedDate AS recorded"
    )
    return _coded(files, "subject", extra, select)


def procedure(files: Sequence[Path]) -> str:
    """Rows of the procedure's own codings (part 'code'), of its reason codings ('reason')
    and of its reason references ('reason_reference', the reference in `code`)."""
    columns = {
        "id": "VARCHAR",
        "subject": "STRUCT(reference VARCHAR)",
        "status": "VARCHAR",
        "performedDateTime": "VARCHAR",
        "performedPeriod": "STRUCT(start VARCHAR)",
        "code": f"STRUCT(coding {_CODING}[])",
        "reasonCode": f"STRUCT(coding {_CODING}[])[]",
        "reasonReference": "STRUCT(reference VARCHAR, type VARCHAR)[]",
    }
    source = f"(SELECT * FROM {_read(files, columns)})"
    head = (
        f"{_patient_of('subject.reference')} AS patient_id, id AS procedure_id, status, "
        "performedDateTime AS performed, performedPeriod.start AS performed_period_start"
    )
    reasons = "flatten([coalesce(r.coding, []) FOR r IN coalesce(reasonCode, [])])"
    return " UNION ALL ".join(
        [
            _unnested(source, head, "code", "code.coding", "system", "code"),
            _unnested(source, head, "reason", reasons, "system", "code"),
            _unnested(source, head, "reason_reference", "reasonReference", "type", "reference"),
        ]
    )


def allergy_intolerance(files: Sequence[Path]) -> str:
    extra = {"clinicalStatus": _STATUS, "verificationStatus": _STATUS}
    select = (
        f"{_first_status('clinicalStatus')} AS clinical_status, "
        f"{_first_status('verificationStatus')} AS verification_status"
    )
    return _coded(files, "patient", extra, select)


def medication_request(files: Sequence[Path]) -> str:
    columns = {
        "subject": "STRUCT(reference VARCHAR)",
        "status": "VARCHAR",
        "authoredOn": "VARCHAR",
        "medicationCodeableConcept": f"STRUCT(coding {_CODING}[])",
    }
    return (
        f"SELECT {_patient_of('subject.reference')} AS patient_id, status, "
        "authoredOn AS recorded, CAST(NULL AS VARCHAR) AS effective, "
        "CAST(NULL AS VARCHAR) AS effective_period_start, c.system AS system, c.code AS code "
        "FROM (SELECT *, unnest(medicationCodeableConcept.coding) AS c "
        f"FROM {_read(files, columns)})"
    )


def _part(name: str, owner: str) -> str:
    """The observation-level or component-level value columns, from struct `owner`."""
    high = f"[r.high FOR r IN coalesce({owner}.referenceRange, []) IF r.high.value IS NOT NULL][1]"
    interpretation = f"flatten([{_codes('i')} FOR i IN coalesce({owner}.interpretation, [])])"
    return (
        f"'{name}' AS part, {owner}.valueQuantity.value AS value, "
        f"{owner}.valueQuantity.code AS unit_code, {owner}.valueQuantity.unit AS unit, "
        f"{interpretation} AS interpretation, "
        f"{_codes(f'{owner}.valueCodeableConcept')} AS value_codes, "
        f"{high}.value AS range_high, {high}.code AS range_high_unit, "
        f"{high}.unit AS range_high_unit_text"
    )


def observation(files: Sequence[Path]) -> str:
    value_columns = {
        "valueQuantity": _QUANTITY,
        "valueCodeableConcept": _CODES,
        "interpretation": f"{_CODES}[]",
        "referenceRange": f"STRUCT(high {_QUANTITY})[]",
    }
    fields = ", ".join(f"{name} {kind}" for name, kind in value_columns.items())
    columns = {
        "subject": "STRUCT(reference VARCHAR)",
        "status": "VARCHAR",
        "effectiveDateTime": "VARCHAR",
        "effectiveInstant": "VARCHAR",
        "effectivePeriod": 'STRUCT("start" VARCHAR, "end" VARCHAR)',
        "issued": "VARCHAR",
        "code": f"STRUCT(coding {_CODING}[])",
        **value_columns,
        "component": f"STRUCT(code STRUCT(coding {_CODING}[]), {fields})[]",
    }
    common = (
        f"{_patient_of('o.subject.reference')} AS patient_id, o.status AS status, "
        "o.effectiveDateTime AS effective, o.effectiveInstant AS effective_instant, "
        'o.effectivePeriod."end" AS effective_period_end, '
        'o.effectivePeriod."start" AS effective_period_start, o.issued AS issued, '
        "flatten([" + _codes("i") + " FOR i IN coalesce(o.interpretation, [])]) "
        "AS observation_interpretation"
    )
    source = f"(SELECT * FROM {_read(files, columns)}) AS o"
    own = (
        f"SELECT {common}, {_part('observation', 'o')}, c.system AS system, c.code AS code "
        f"FROM (SELECT *, unnest(code.coding) AS c FROM {source}) AS o"
    )
    parts = (
        f"SELECT {common}, {_part('component', 'p')}, c.system AS system, c.code AS code "
        f"FROM (SELECT *, unnest(p.code.coding) AS c FROM "
        f"(SELECT *, unnest(component) AS p FROM {source}) AS o) AS o"
    )
    return f"{own} UNION ALL {parts}"


def diagnostic_report(files: Sequence[Path]) -> str:
    columns = {
        "subject": "STRUCT(reference VARCHAR)",
        "status": "VARCHAR",
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": 'STRUCT("start" VARCHAR)',
        "conclusionCode": f"STRUCT(coding {_CODING}[])[]",
    }
    return (
        f"SELECT {_patient_of('subject.reference')} AS patient_id, status, "
        'effectiveDateTime AS effective, effectivePeriod."start" AS effective_period_start, '
        "c.system AS system, c.code AS code "
        "FROM (SELECT *, unnest(flatten([coalesce(x.coding, []) FOR x IN "
        f"coalesce(conclusionCode, [])])) AS c FROM {_read(files, columns)})"
    )


REFERENCES = {
    "Patient": patient,
    "Condition": condition,
    "Observation": observation,
    "MedicationRequest": medication_request,
    "Procedure": procedure,
    "AllergyIntolerance": allergy_intolerance,
    "DiagnosticReport": diagnostic_report,
}
"""Resource type -> its hand-flattened query (MedicationStatement: the cohorts have none)."""
