"""FHIR R4 resources of one patient to a case (format v1), with a report of what was read.

What this mapping promises, so that unknown stays unknown:

- A code counts only through a value set of the knowledge base. Codes in no value set are
  listed in the report (`unmapped_codes`), never guessed from their display text.
- A Condition list that the caller says is complete (a whole record, or an answered CDS
  prefetch/search) is the patient's problem list, and closes the case's `diagnoses` list,
  exactly like a written `diagnoses: []`. The same holds for Procedure and
  `treatment.procedures`. Every other field is only ever set from a record that states it;
  the absence of, say, an antiphospholipid-syndrome Condition leaves that risk factor unknown.
- Units are converted only where the conversion is exact; a unit not understood leaves the
  value unknown and says so in the report.
- The latest completed venoplasty or venous stent makes the case a post-procedure follow-up
  case (`follow_up` with the procedure kind and date): stented veins are followed for life.
  Its indication is read only when its stated reason is multiple sclerosis (CCSVI, see
  `_reason_is_ccsvi`); any other reason, or none, leaves the indication unknown.
- Every field set from FHIR remembers the resource that supplied it (`provenance`), so an
  invalid value is reported against the resource, and a clinician can see where a fact came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.resource import Resource as FhirResource
from pydantic import ValidationError

from venapath.domain.anatomy import GROUPS_BY_ID, SEGMENTS
from venapath.domain.case import (
    Case,
    ContradictionError,
    Indication,
    ProcedureKind,
    UnknownWordError,
)
from venapath.domain.units import Platelets
from venapath.fhir.doses import (
    Dose,
    administered_infusion,
    administered_mg,
    is_treatment_dose,
    request_doses,
)
from venapath.fhir.errors import FhirInputError, FhirProblem
from venapath.fhir.parse import ParsedResources
from venapath.fhir.quantities import UnreadableQuantityError, measurement_value
from venapath.kb.codes import CodeIndex, Coding, Match
from venapath.kb.value_sets import (
    AnticoagulantTarget,
    DiagnosisTarget,
    FlagTarget,
    MeasurementTarget,
    PostProcedureSymptomTarget,
    ProcedureTarget,
    Resource,
    SeizureTarget,
    TreatmentDose,
    ValueSet,
)

_STATUS_RANK = {"confirmed": 2, "suspected": 1, "excluded": 0}
_VERIFICATION_STATUS = {
    "confirmed": "confirmed",
    "provisional": "suspected",
    "differential": "suspected",
    "unconfirmed": "suspected",
    "refuted": "excluded",
}
_ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
_USABLE_OBSERVATION = frozenset({"final", "amended", "corrected", "preliminary"})
_ACTIVE_MEDICATION = frozenset({"active", "on-hold", "intended", "completed"})
_GIVEN = frozenset({"completed", "in-progress"})
"""MedicationAdministration statuses that mean the dose was (or is being) given."""
_DONE_PROCEDURE = frozenset({"completed", "in-progress"})
_FOLLOWED_UP = frozenset({ProcedureKind.VENOPLASTY, ProcedureKind.VENOUS_STENT})
THROMBOLYSIS_FIELD = "/treatment/thrombolysis_within_7_days"
CCSVI_REASON_FIELD = "/risk_factors/multiple_sclerosis"
"""A Condition code whose value set sets this field, given as the reason for a venoplasty or
venous stent, makes its indication CCSVI in multiple sclerosis (`_reason_is_ccsvi`)."""
INDICATION_FIELD = "/follow_up/indication"
_UNREAD_REASON = frozenset({"entered-in-error", "refuted"})
"""Verification statuses of a referenced reason Condition that make it no reason."""
_THROMBOLYSIS_DAYS = 7
GCS_FIELD = "/exam/gcs"
DETERIORATION_FIELD = "/course/neurological_deterioration"
SEIZURE_FIELD = "/exam/seizure"
CVT_CONDITION = "cerebral_venous_thrombosis"
PLATELETS_FIELD = "/labs/platelets"
GESTATIONAL_AGE_FIELD = "/patient/gestational_age_weeks"
PREGNANT_FIELD = "/patient/pregnant"
LONGEST_GESTATION_WEEKS = 44
"""A gestational age that would now pass this (the case field's own limit) is a pregnancy
that has ended: it is not read."""
PLATELET_FALL_FIELD = "/course/platelet_fall_on_heparin"
HISTORY_FIELDS = frozenset({GCS_FIELD})
"""Measurements whose earlier values the mapping always reads (the course, not only the latest)."""
HISTORY_ON_HEPARIN_FIELDS = frozenset({PLATELETS_FIELD})
"""Measurements whose course matters only on heparin (a platelet fall): a caller may keep
their history only when the record holds a heparin order (`heparin_codes`)."""
GCS_COURSE_DAYS = 14
"""A higher GCS up to this many days before the latest one is read as a fall in this episode."""
HEPARINS = frozenset({"lmwh", "unfractionated_heparin"})
"""Anticoagulant agents (case vocabulary) that expose a patient to heparin-induced
thrombocytopenia."""
PLATELET_BASELINE_DAYS = 1
"""A platelet count up to this long before heparin started is its baseline (the 4Ts compare
the fall with the highest count before it)."""
PLATELET_FALL_FRACTION = 0.5
"""A count at or below half an earlier one on heparin is the 4Ts score's typical fall."""
PROPAGATION_FIELD = "/course/thrombus_propagation"
PROXIMAL_EXTENSION_FIELD = "/imaging/thrombus_extension_to_proximal_veins"
DISTAL_EXTENSION_FIELD = "/imaging/distal_thrombus_extension"
LEG_DVT_CONDITION = "leg_dvt"
THROMBOSES = frozenset({CVT_CONDITION, LEG_DVT_CONDITION, "arm_dvt"})
"""Diagnoses whose segment Conditions are placed in time to read thrombus propagation."""
UNPAIRED_SEGMENTS = frozenset(s.id for s in SEGMENTS if not s.paired)
DISTAL_LEG_SEGMENTS = GROUPS_BY_ID["distal_leg_veins"].members
PROXIMAL_LEG_SEGMENTS = GROUPS_BY_ID["proximal_leg_veins"].members
STARTED_FIELD = "/treatment/anticoagulation/started_at"
AGENT_FIELD = "/treatment/anticoagulation/agent"
THERAPEUTIC_FIELD = "/treatment/anticoagulation/therapeutic"
DOSE_COVER_HOURS = 24
"""An administration keeps anticoagulation continuous for this long after it was given
(or its infusion ended): the longest treatment dosing interval of the agents read is once
daily. A longer gap ends one course; the days on anticoagulation count from the start of
the course that reaches the evaluation time."""


@dataclass(frozen=True)
class Exposure:
    """One dated anticoagulant record: an active order or statement (it covers until now) or
    an administration (it covers DOSE_COVER_HOURS after it was given)."""

    start: datetime
    covered_until: datetime
    agent: str
    source: str
    floor: TreatmentDose | None
    doses: tuple[Dose, ...] = ()
    administered_mg: float | None = None


@dataclass(frozen=True)
class ThrombusRecord:
    """One active, not refuted, acute venous thrombosis Condition: its segment and side (as
    its code states them), its onset (when the thrombus there began; never the recorded
    date) and the time it is placed at (onset, else recorded date). A final imaging report
    whose conclusion codes the thrombosis is one too, confirmed, with the time it was imaged
    as both (the thrombus was there when it was seen)."""

    condition: str
    segment: str | None
    side: str | None
    onset: datetime | None
    at: datetime | None
    confirmed: bool
    source: str


@dataclass(frozen=True)
class UnmappedCode:
    resource_type: str
    system: str | None
    code: str | None
    display: str | None
    count: int


@dataclass
class MappingReport:
    """What the mapping read, what it could not use, and where each field came from."""

    resources_read: dict[str, int] = field(default_factory=dict)
    resources_not_read: dict[str, int] = field(default_factory=dict)
    unmapped_codes: list[UnmappedCode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    closed_lists: list[str] = field(default_factory=list)
    provenance: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resources_read": self.resources_read,
            "resources_not_read": self.resources_not_read,
            "unmapped_codes": [vars(code) for code in self.unmapped_codes],
            "notes": self.notes,
            "closed_lists": self.closed_lists,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class Mapped:
    case: Case
    report: MappingReport
    patient_id: str | None


@dataclass
class _Builder:
    """Accumulates case fields as plain data, with the resource behind each one."""

    index: CodeIndex
    now: datetime
    report: MappingReport
    data: dict[str, Any] = field(default_factory=dict)
    diagnoses: dict[str, dict[str, Any]] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, datetime] = field(default_factory=dict)
    gcs_readings: list[tuple[datetime, int, str]] = field(default_factory=list)
    platelet_readings: list[tuple[datetime, float, str]] = field(default_factory=list)
    gestation_readings: list[tuple[datetime, float, str]] = field(default_factory=list)
    heparin_starts: list[tuple[datetime, str]] = field(default_factory=list)
    seizures: list[tuple[datetime | None, str]] = field(default_factory=list)
    post_procedure_symptoms: list[tuple[str, datetime | None, str]] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)
    cvt_times: list[datetime] = field(default_factory=list)
    thromboses: list[ThrombusRecord] = field(default_factory=list)
    unmapped: Counter[tuple[str, str | None, str | None, str | None]] = field(
        default_factory=Counter
    )

    def put(self, pointer: str, value: Any, source: str) -> None:
        parts = pointer.strip("/").split("/")
        node = self.data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        self.report.provenance.setdefault(pointer, []).append(source)

    def put_latest(self, pointer: str, value: Any, when: datetime | None, source: str) -> None:
        """Keep the most recent value of a field (undated values never replace dated ones)."""
        moment = when or datetime.min.replace(tzinfo=UTC)
        if pointer in self.latest and self.latest[pointer] >= moment:
            return
        self.latest[pointer] = moment
        self.report.provenance.pop(pointer, None)
        self.put(pointer, value, source)

    def matches(
        self, resource: Resource, concept: CodeableConcept | None, kind: str
    ) -> list[Match]:
        if concept is None:
            return []
        found: list[Match] = []
        codings: list[Any] = list(concept.coding or [])
        for coding in codings:
            found.extend(self.index.lookup(resource, Coding(coding.system, coding.code)))
        if not found:
            for coding in codings or [None]:
                key = (
                    kind,
                    coding.system if coding else None,
                    coding.code if coding else None,
                    (coding.display if coding else None) or concept.text,
                )
                self.unmapped[key] += 1
        return found


def history_codes(
    value_sets: Iterable[ValueSet],
    fields: frozenset[str] = HISTORY_FIELDS | HISTORY_ON_HEPARIN_FIELDS,
) -> frozenset[tuple[str, str]]:
    """(system URI, code) of the Observations whose history the mapping reads for `fields`."""
    return frozenset(
        (code.system.uri, code.code)
        for value_set in value_sets
        if isinstance(value_set.target, MeasurementTarget) and value_set.target.field in fields
        for code in value_set.codes
    )


def heparin_codes(value_sets: Iterable[ValueSet]) -> frozenset[tuple[str, str]]:
    """(system URI, code) of the medication codes that mean LMWH or unfractionated heparin."""
    return frozenset(
        (code.system.uri, code.code)
        for value_set in value_sets
        if isinstance(value_set.target, AnticoagulantTarget)
        and value_set.target.agent.value in HEPARINS
        for code in value_set.codes
    )


def case_from_fhir(
    parsed: ParsedResources,
    index: CodeIndex,
    now: datetime,
    *,
    complete: frozenset[str] = frozenset(),
    case_id: str | None = None,
) -> Mapped:
    """Build the case for the one patient in `parsed`.

    `complete` names the resource types whose list is the whole record (see module doc).
    Raises FhirInputError when the resources belong to several patients or produce an
    impossible case; each problem names the resource responsible.
    """
    report = MappingReport(
        resources_read={t: len(rs) for t, rs in parsed.by_type.items() if t != "ServiceRequest"},
        resources_not_read=dict(parsed.not_read),
    )
    patient_id = _one_patient(parsed)
    builder = _Builder(index, now, report)
    _read_patient(parsed, builder)
    for condition in parsed.of("Condition"):
        _read_condition(condition, builder)
    for observation in parsed.of("Observation"):
        _read_observation(observation, builder)
    _read_gcs_course(builder)
    _read_gestation(builder)
    for kind in ("MedicationRequest", "MedicationStatement"):
        for medication in parsed.of(kind):
            _read_medication(medication, builder)
    for administration in parsed.of("MedicationAdministration"):
        _read_administration(administration, builder)
    _read_anticoagulation_course(builder)
    _read_platelet_course(builder)
    _read_seizures(builder)
    for imaging_report in parsed.of("DiagnosticReport"):
        _read_diagnostic_report(imaging_report, builder)
    _read_thrombus_course(builder)
    reasons = _reason_conditions(parsed)
    for procedure in parsed.of("Procedure"):
        _read_procedure(procedure, builder, reasons)
    _read_post_procedure_symptoms(builder)
    for allergy in parsed.of("AllergyIntolerance"):
        _read_allergy(allergy, builder)
    _close_lists(builder, complete)
    report.unmapped_codes = [
        UnmappedCode(kind, system, code, display, count)
        for (kind, system, code, display), count in sorted(
            builder.unmapped.items(), key=lambda item: (-item[1], str(item[0]))
        )
    ]
    data = {
        "case_id": case_id or _case_id(patient_id),
        "as_of": now.isoformat(),
        **builder.data,
    }
    return Mapped(_validated_case(data, report), report, patient_id)


# ------------------------------------------------------------------------------ patient


def _one_patient(parsed: ParsedResources) -> str | None:
    patients = parsed.of("Patient")
    ids = {p.id for p in patients if p.id}
    if len(patients) > 1:
        raise FhirInputError(
            [
                FhirProblem(
                    "Patient", f"{len(patients)} Patient resources; send one patient's record"
                )
            ]
        )
    patient_id = next(iter(ids), None)
    if patient_id is None:
        return None
    problems = []
    for resources in parsed.by_type.values():
        for resource in resources:
            subject = _subject_reference(resource)
            if subject is not None and not _refers_to(subject, patient_id):
                problems.append(
                    FhirProblem(
                        _ref(resource),
                        f"refers to {subject}, not to the record's Patient/{patient_id}",
                    )
                )
    if problems:
        raise FhirInputError(problems[:20])
    return patient_id


def _subject_reference(resource: FhirResource) -> str | None:
    for name in ("subject", "patient"):
        reference = getattr(resource, name, None)
        if reference is not None and getattr(reference, "reference", None):
            return str(reference.reference)
    return None


def _refers_to(reference: str, patient_id: str) -> bool:
    return reference.rsplit("/", 1)[-1] == patient_id or reference == f"urn:uuid:{patient_id}"


def _read_patient(parsed: ParsedResources, builder: _Builder) -> None:
    patients = parsed.of("Patient")
    if not patients:
        return
    patient: Any = patients[0]
    source = _ref(patient)
    if patient.gender in ("female", "male"):
        builder.put("/patient/sex", patient.gender, source)
    birth = patient.birthDate
    if isinstance(birth, date):
        builder.put("/patient/age_years", _age(birth, builder.now.date()), source)
    elif birth is not None:
        builder.report.notes.append(f"{source}: birthDate {birth} is partial; age left unknown")
    if patient.deceasedBoolean or patient.deceasedDateTime is not None:
        builder.report.notes.append(f"{source}: the record says the patient has died")


def _age(birth: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - (1 if before_birthday else 0)


# ---------------------------------------------------------------------------- conditions


def _read_condition(condition: Any, builder: _Builder) -> None:
    verification = _status_code(condition.verificationStatus)
    if verification == "entered-in-error":
        return
    source = _ref(condition)
    clinical = _status_code(condition.clinicalStatus)
    active = clinical is None or clinical in _ACTIVE_CLINICAL
    for match in builder.matches(Resource.CONDITION, condition.code, "Condition"):
        target = match.value_set.target
        if not active:
            builder.report.notes.append(
                f"{source}: {match.value_set.title} has clinical status {clinical}; "
                "not read as current"
            )
            continue
        if isinstance(target, DiagnosisTarget):
            status = _VERIFICATION_STATUS.get(verification or "confirmed", "suspected")
            _add_diagnosis(builder, target, match, status, condition, source)
        elif isinstance(target, FlagTarget) and verification != "refuted":
            builder.put(target.field, _flag_value(target), source)
        elif isinstance(target, SeizureTarget):
            _note_seizure(builder, condition, verification, source)
        elif isinstance(target, PostProcedureSymptomTarget) and verification != "refuted":
            onset = _moment(condition.onsetDateTime) or _period_start(condition.onsetPeriod)
            when = _not_future(onset or _moment(condition.recordedDate), builder, source)
            builder.post_procedure_symptoms.append((target.field, when, source))


def _note_seizure(builder: _Builder, condition: Any, verification: str | None, source: str) -> None:
    """Keep a confirmed seizure with its time; `_read_seizures` places it in the course."""
    if verification not in (None, "confirmed"):
        builder.report.notes.append(f"{source}: seizure is {verification}; not read")
        return
    onset = _moment(condition.onsetDateTime) or _period_start(condition.onsetPeriod)
    when = _not_future(onset or _moment(condition.recordedDate), builder, source)
    builder.seizures.append((when, source))


def _add_diagnosis(
    builder: _Builder,
    target: DiagnosisTarget,
    match: Match,
    status: str,
    condition: Any,
    source: str,
) -> None:
    name = target.condition.value
    current = builder.diagnoses.get(name)
    onset = _moment(condition.onsetDateTime) or _period_start(condition.onsetPeriod)
    recorded = _moment(condition.recordedDate)
    when = _not_future(onset or recorded, builder, source)
    if current is None or _STATUS_RANK[status] > _STATUS_RANK[current["status"]]:
        builder.diagnoses[name] = {"condition": name, "status": status, "at": when}
    if name == CVT_CONDITION and status != "excluded" and when is not None:
        builder.cvt_times.append(when)
    builder.report.provenance.setdefault("/diagnoses", []).append(source)
    if status != "excluded" and name in THROMBOSES and target.chronic is not True:
        side = match.code.side.value if match.code.side is not None else None
        began = when if onset is not None else None
        builder.thromboses.append(
            ThrombusRecord(name, target.segment, side, began, when, status == "confirmed", source)
        )
    if status == "excluded" or target.segment is None:
        return
    segment: dict[str, Any] = {"segment": target.segment}
    if match.code.side is not None:
        segment["side"] = match.code.side.value
    if target.chronic is not None:
        segment["chronic"] = target.chronic
    if segment not in builder.segments:
        builder.segments.append(segment)
        builder.report.provenance.setdefault("/imaging/thrombosed_segments", []).append(source)
    acute_onset = _not_future(onset, builder, source)
    if acute_onset is not None and target.chronic is not True:
        earliest = builder.data.get("presentation", {}).get("symptom_onset")
        if earliest is None or acute_onset < earliest:
            builder.report.provenance.pop("/presentation/symptom_onset", None)
            builder.put("/presentation/symptom_onset", acute_onset, source)


# -------------------------------------------------------------------------- observations


def _read_observation(observation: Any, builder: _Builder) -> None:
    if observation.status not in _USABLE_OBSERVATION:
        return
    source = _ref(observation)
    when = _not_future(_observation_time(observation), builder, source)
    items: list[tuple[CodeableConcept | None, Any]] = [(observation.code, observation)]
    items += [(component.code, component) for component in observation.component or []]
    for concept, holder in items:
        for match in builder.matches(Resource.OBSERVATION, concept, "Observation"):
            target = match.value_set.target
            if isinstance(target, MeasurementTarget):
                _put_measurement(builder, target, holder, observation, when, source)


def _put_measurement(
    builder: _Builder,
    target: MeasurementTarget,
    holder: Any,
    observation: Any,
    when: datetime | None,
    source: str,
) -> None:
    try:
        value = measurement_value(target, holder, observation)
    except UnreadableQuantityError as problem:
        builder.report.notes.append(f"{source}: {target.field} left unknown: {problem}")
        return
    if value is not None and target.field == GESTATIONAL_AGE_FIELD:
        _keep_gestation_reading(builder, value, when, source)
    elif value is not None:
        builder.put_latest(target.field, value, when, source)
        if target.field == GCS_FIELD and when is not None:
            builder.gcs_readings.append((when, int(value), source))
        if target.field == PLATELETS_FIELD and when is not None:
            _keep_platelet_reading(builder, value, when, source)


def _keep_gestation_reading(
    builder: _Builder, days: float, when: datetime | None, source: str
) -> None:
    if when is None:
        builder.report.notes.append(f"{source}: gestational age without a date; not read")
        return
    builder.gestation_readings.append((when, days, source))


def _read_gestation(builder: _Builder) -> None:
    """The newest dated gestational age, advanced by the whole days since it was taken, in
    completed weeks: the current pregnancy's age, which also says the patient is pregnant
    (both fields carry the Observation as provenance).

    One that would now pass LONGEST_GESTATION_WEEKS is a pregnancy that has ended and is
    not read (a note says so). A delivery charted in between is not read by this mapping:
    the clinician sees the Observation named as the source. The population screen reads
    the same (`screen/case_columns.gestation`)."""
    if not builder.gestation_readings:
        return
    when, days, source = max(builder.gestation_readings, key=lambda r: (r[0], r[2]))
    elapsed_days = (builder.now - when).days
    weeks = int((days + elapsed_days) // 7)
    if weeks > LONGEST_GESTATION_WEEKS:
        builder.report.notes.append(
            f"{source}: gestational age {days:g} days on {when.isoformat()} would be {weeks} "
            f"weeks now; the pregnancy has ended, not read"
        )
        return
    builder.put(GESTATIONAL_AGE_FIELD, weeks, source)
    _put_true(builder, PREGNANT_FIELD, [source])


def _read_gcs_course(builder: _Builder) -> None:
    """A GCS lower than one measured earlier in the same episode is a neurological
    deterioration (falling consciousness), with both observations as its provenance.

    The chart keeps every GCS; the newest alone cannot show a fall. "Earlier" is up to
    GCS_COURSE_DAYS before the newest, so a stay months ago does not count.
    """
    if len(builder.gcs_readings) < 2:
        return
    latest_when, latest_value, latest_source = max(builder.gcs_readings, key=lambda r: r[0])
    window_start = latest_when - timedelta(days=GCS_COURSE_DAYS)
    earlier = [r for r in builder.gcs_readings if window_start <= r[0] < latest_when]
    if not earlier:
        return
    best_when, best_value, best_source = max(earlier, key=lambda r: (r[1], r[0]))
    builder.put("/exam/gcs_before", best_value, best_source)
    if best_value > latest_value:
        builder.put(DETERIORATION_FIELD, True, best_source)
        builder.report.provenance[DETERIORATION_FIELD].append(latest_source)
        builder.report.notes.append(
            f"GCS fell from {best_value} ({best_source}, {best_when.isoformat()}) to "
            f"{latest_value} ({latest_source}, {latest_when.isoformat()}): read as "
            "neurological deterioration"
        )


def _keep_platelet_reading(
    builder: _Builder, value: dict[str, Any], when: datetime, source: str
) -> None:
    try:
        count = Platelets.model_validate(value).per_nanolitre()
    except ValidationError:
        return  # the latest value is validated with the case and reported there
    builder.platelet_readings.append((when, count, source))


def _read_platelet_course(builder: _Builder) -> None:
    """A platelet count at or below half an earlier one, while on heparin, is suspected
    heparin-induced thrombocytopenia (the 4Ts score's typical fall; ASH education table:
    consider HIT whenever a patient on heparin has a significant fall). Provenance: the two
    counts and the heparin order.

    "On heparin": the lower count is taken at or after the first dated, active heparin
    (LMWH or unfractionated) order or statement; the higher one no earlier than
    PLATELET_BASELINE_DAYS before it. The population screen reads the same
    (`screen/case_columns.platelet_fall_flags`).
    """
    if not builder.heparin_starts or len(builder.platelet_readings) < 2:
        return
    started, heparin_source = min(builder.heparin_starts)
    baseline_from = started - timedelta(days=PLATELET_BASELINE_DAYS)
    readings = sorted(r for r in builder.platelet_readings if r[0] >= baseline_from)
    for index, (high_when, high, high_source) in enumerate(readings):
        for low_when, low, low_source in readings[index + 1 :]:
            if (
                low_when > high_when
                and low_when >= started
                and low <= high * PLATELET_FALL_FRACTION
            ):
                builder.put(PLATELET_FALL_FIELD, True, heparin_source)
                builder.report.provenance[PLATELET_FALL_FIELD] += [high_source, low_source]
                builder.report.notes.append(
                    f"platelets fell from {high:g} ({high_source}, {high_when.isoformat()}) to "
                    f"{low:g} x10^9/L ({low_source}, {low_when.isoformat()}) on heparin since "
                    f"{started.isoformat()} ({heparin_source}): read as suspected HIT"
                )
                return


def _read_seizures(builder: _Builder) -> None:
    """A seizure since the CVT began is a seizure of this episode; one after anticoagulation
    started is also neurological deterioration (new seizures despite treatment), with the
    seizure and the anticoagulant order as provenance.

    The CVT began at the earliest time (onset, else recorded) of a CVT Condition that is not
    refuted. A seizure without a time, or with no dated CVT, is not placed (a note says so):
    an old seizure must not read as a new one. The population screen reads the same
    (`screen/case_columns.seizure_flags`)."""
    began = min(builder.cvt_times, default=None)
    anticoagulation = builder.data.get("treatment", {}).get("anticoagulation", {})
    started = anticoagulation.get("started_at")
    for when, source in builder.seizures:
        if when is None or began is None:
            builder.report.notes.append(
                f"{source}: seizure not placed in a CVT episode (its time, or a dated CVT, "
                "is missing)"
            )
            continue
        if when < began:
            continue
        builder.put(SEIZURE_FIELD, True, source)
        if started is not None and when > started:
            builder.put(DETERIORATION_FIELD, True, source)
            builder.report.provenance[DETERIORATION_FIELD] += builder.report.provenance.get(
                "/treatment/anticoagulation/started_at", []
            )
            builder.report.notes.append(
                f"seizure ({source}, {when.isoformat()}) after anticoagulation started "
                f"({started.isoformat()}): read as neurological deterioration"
            )


def _read_thrombus_course(builder: _Builder) -> None:
    """Thrombus in a new segment on a later record: propagation.

    A record is a thrombosis Condition or a final imaging report coding one
    (`_read_diagnostic_report`). A confirmed segment record whose onset (when the thrombus
    there began, as the chart states it; for a report, when it was imaged) is later than an
    earlier record of the same thrombosis in the same limb, in a segment none of those
    earlier records names, shows the thrombus extending beyond what they showed. Onset after
    the start of the current anticoagulation course is
    `course.thrombus_propagation` (despite anticoagulation); from an isolated distal DVT
    (every earlier record names a calf vein) it is also the serial-imaging extension of
    CHEST 2021 statement 2, proximal or within the calf. Provenance: the earlier and the
    later record (and, for propagation, the anticoagulant record that began the course).

    Nothing is read from absence: a recorded date alone does not date a thrombus, a record
    without a segment or a side cannot show extension, and no record ever sets these facts
    false. The population screen reads the same (`screen/case_columns.propagation_flags`)."""
    started = builder.data.get("treatment", {}).get("anticoagulation", {}).get("started_at")
    for later in builder.thromboses:
        if not later.confirmed or later.segment is None or later.onset is None:
            continue
        earlier = [
            record
            for record in builder.thromboses
            if record.condition == later.condition
            and record.at is not None
            and record.at < later.onset
            and _same_limb(record, later)
        ]
        if not earlier or any(record.segment == later.segment for record in earlier):
            continue
        sources = [*sorted({record.source for record in earlier}), later.source]
        if started is not None and later.onset > started:
            anticoagulant = builder.report.provenance.get(STARTED_FIELD, [])[:1]
            _put_true(builder, PROPAGATION_FIELD, sources + anticoagulant)
            builder.report.notes.append(
                f"{later.source}: thrombus in {later.segment} from {later.onset.isoformat()}, "
                f"after anticoagulation started ({started.isoformat()}) and beyond the earlier "
                f"record(s) {', '.join(sources[:-1])}: read as thrombus propagation"
            )
        if later.condition == LEG_DVT_CONDITION and all(
            record.segment in DISTAL_LEG_SEGMENTS for record in earlier
        ):
            _put_distal_extension(builder, later.segment, sources)


# ------------------------------------------------------------------------ imaging reports

FINAL_REPORT = frozenset({"final", "amended", "corrected"})
"""DiagnosticReport statuses whose conclusion is verified (FHIR R4 diagnostic-report-status:
"final", and "amended"/"corrected" after it). Registered, partial and preliminary reports
are not yet verified; cancelled and entered-in-error ones say nothing; none is read."""


def _read_diagnostic_report(report: Any, builder: _Builder) -> None:
    """A final report whose coded conclusion (conclusionCode) names an acute venous
    thrombosis is a dated finding of it: the thrombus course reads it exactly like a
    confirmed segment Condition (`_read_thrombus_course`), with the report as provenance,
    and its vein is a thrombosed segment of a thrombosis the problem list holds.

    Dated by when the imaging was done (effectiveDateTime, else effectivePeriod.start), never
    by `issued`, which is when this version of the report was released: a scan done before
    anticoagulation began but reported after it must not read as propagation despite
    anticoagulation. A report without conclusionCode says nothing (its narrative is not
    read), and a report never sets a course fact false."""
    if report.status not in FINAL_REPORT or not report.conclusionCode:
        return
    source = _ref(report)
    imaged = _moment(report.effectiveDateTime) or _period_start(report.effectivePeriod)
    when = _not_future(imaged, builder, source)
    if imaged is not None and when is None:
        return  # imaged in the future: `_not_future` has said so
    for concept in report.conclusionCode:
        for match in builder.matches(Resource.DIAGNOSTIC_REPORT, concept, "DiagnosticReport"):
            target = match.value_set.target
            if isinstance(target, DiagnosisTarget):
                _add_report_finding(builder, target, match, when, source)


def _add_report_finding(
    builder: _Builder, target: DiagnosisTarget, match: Match, when: datetime | None, source: str
) -> None:
    """Keep an acute thrombosis finding of a report for the thrombus course."""
    if target.condition.value not in THROMBOSES or target.chronic is True:
        return
    if when is None:
        builder.report.notes.append(
            f"{source}: {match.value_set.title} without the time it was imaged "
            "(effectiveDateTime or effectivePeriod); not placed in the course"
        )
        return
    side = match.code.side.value if match.code.side is not None else None
    builder.thromboses.append(
        ThrombusRecord(target.condition.value, target.segment, side, when, when, True, source)
    )
    _add_report_segment(builder, target, side, source)


def _add_report_segment(
    builder: _Builder, target: DiagnosisTarget, side: str | None, source: str
) -> None:
    """The vein a final report finds thrombosed is a thrombosed segment, as a Condition's is,
    when the problem list holds that thrombosis (not refuted): a case that read propagation
    into the iliac vein while listing only the femoral vein would deny the iliofemoral
    involvement the report shows. A report refines the extent of a known thrombosis; it is
    never a diagnosis by itself, nor the symptom onset (an imaging time is not when symptoms
    began)."""
    known = builder.diagnoses.get(target.condition.value)
    if target.segment is None or known is None or known["status"] == "excluded":
        return
    segment: dict[str, Any] = {"segment": target.segment}
    if side is not None:
        segment["side"] = side
    if target.chronic is not None:
        segment["chronic"] = target.chronic
    if segment not in builder.segments:
        builder.segments.append(segment)
        builder.report.provenance.setdefault("/imaging/thrombosed_segments", []).append(source)


def _same_limb(earlier: ThrombusRecord, later: ThrombusRecord) -> bool:
    """Whether two records can be one thrombus: intracranial veins are one system; a midline
    vein (IVC) joins either side; otherwise the codes must state the same side (or one
    bilateral). An unstated side never makes two records one limb."""
    if later.condition == CVT_CONDITION:
        return True
    if earlier.segment in UNPAIRED_SEGMENTS or later.segment in UNPAIRED_SEGMENTS:
        return True
    if "bilateral" in (earlier.side, later.side):
        return True
    return earlier.side is not None and earlier.side == later.side


def _put_distal_extension(builder: _Builder, segment: str, sources: list[str]) -> None:
    """An isolated distal DVT reaching `segment` later: extension into the proximal veins
    (popliteal and above) or within the calf veins."""
    if segment in PROXIMAL_LEG_SEGMENTS:
        _put_true(builder, PROXIMAL_EXTENSION_FIELD, sources)
    elif segment in DISTAL_LEG_SEGMENTS:
        _put_true(builder, DISTAL_EXTENSION_FIELD, sources)


def _put_true(builder: _Builder, pointer: str, sources: list[str]) -> None:
    """Set a course fact to true, adding each source once to its provenance."""
    known = builder.report.provenance.get(pointer, [])
    fresh = [source for source in sources if source not in known]
    if pointer in builder.report.provenance:
        builder.report.provenance[pointer] += fresh
        return
    builder.put(pointer, True, fresh[0])
    builder.report.provenance[pointer] += fresh[1:]


def _observation_time(observation: Any) -> datetime | None:
    return (
        _moment(observation.effectiveDateTime)
        or _moment(observation.effectiveInstant)
        or _period_end(observation.effectivePeriod)
        or _moment(observation.issued)
    )


# --------------------------------------------------------------------------- medications


def _read_medication(medication: Any, builder: _Builder) -> None:
    if medication.status not in _ACTIVE_MEDICATION:
        return
    source = _ref(medication)
    concept = medication.medicationCodeableConcept
    if concept is None:
        concept = _contained_medication_code(medication)
        if concept is None:
            builder.report.notes.append(f"{source}: medicationReference not resolved; not read")
            return
    when = _not_future(_medication_time(medication), builder, source)
    for match in builder.matches(Resource.MEDICATION, concept, medication.get_resource_type()):
        target = match.value_set.target
        if isinstance(target, AnticoagulantTarget):
            if medication.status == "completed":
                continue
            builder.put_latest(AGENT_FIELD, target.agent.value, when, source)
            if when is None:
                continue
            if target.agent.value in HEPARINS:
                builder.heparin_starts.append((when, source))
            dosages = (
                medication.dosageInstruction
                if medication.get_resource_type() == "MedicationRequest"
                else medication.dosage
            )
            doses = request_doses(dosages, _weight(builder))
            builder.exposures.append(
                Exposure(
                    when, builder.now, target.agent.value, source, target.treatment_dose, doses
                )
            )
        elif isinstance(target, FlagTarget):
            _medication_flag(builder, target, medication, when, source)


def _read_administration(administration: Any, builder: _Builder) -> None:
    """An anticoagulant given (completed or in progress) is an exposure for the course; its
    dose is kept for the treatment-dose check. Other drugs are not read from administrations."""
    if administration.status not in _GIVEN:
        return
    source = _ref(administration)
    concept = administration.medicationCodeableConcept or _contained_medication_code(administration)
    if concept is None:
        builder.report.notes.append(f"{source}: medicationReference not resolved; not read")
        return
    period = administration.effectivePeriod
    given = _not_future(
        _moment(administration.effectiveDateTime) or _period_start(period), builder, source
    )
    for match in builder.matches(Resource.MEDICATION, concept, "MedicationAdministration"):
        target = match.value_set.target
        if not isinstance(target, AnticoagulantTarget):
            continue
        if given is None:
            builder.report.notes.append(f"{source}: administration without a time; not read")
            return
        ended = builder.now if administration.status == "in-progress" else given
        if period is not None and administration.status != "in-progress":
            ended = _not_future(_period_end(period), builder, source) or given
        dosage = administration.dosage
        infused = administered_infusion(dosage, _weight(builder))
        builder.exposures.append(
            Exposure(
                start=given,
                covered_until=ended + timedelta(hours=DOSE_COVER_HOURS),
                agent=target.agent.value,
                source=source,
                floor=target.treatment_dose,
                doses=(Dose(infused_units_per_day=infused),) if infused is not None else (),
                administered_mg=administered_mg(dosage),
            )
        )


def _read_anticoagulation_course(builder: _Builder) -> None:
    """The course of anticoagulation that reaches now: when it started, its newest agent, and
    whether its newest readable dose is a treatment dose (then `therapeutic` is true; a lower
    or unreadable dose leaves it unknown). Provenance: every record of the course.

    Records overlap or follow within DOSE_COVER_HOURS to be one course. The population screen
    reads orders and statements alike (`screen/case_columns.anticoagulation`)."""
    course = current_course(builder.exposures, builder.now)
    if not course:
        if builder.exposures:
            builder.report.notes.append(
                "anticoagulant administrations ended more than "
                f"{DOSE_COVER_HOURS} h ago: not read as current anticoagulation"
            )
        return
    first = course[0]
    builder.put(STARTED_FIELD, first.start, first.source)
    builder.report.provenance[STARTED_FIELD] += [e.source for e in course[1:]]
    newest = course[-1]
    builder.put_latest(AGENT_FIELD, newest.agent, newest.start, newest.source)
    _read_therapeutic(builder, course)


def current_course(exposures: list[Exposure], now: datetime) -> list[Exposure]:
    """The exposures of the course that reaches `now`, oldest first (empty if none does)."""
    course: list[Exposure] = []
    covered_until: datetime | None = None
    for exposure in sorted(exposures, key=lambda e: (e.start, e.source)):
        if covered_until is None or exposure.start > covered_until:
            course = []
            covered_until = exposure.covered_until
        course.append(exposure)
        covered_until = max(covered_until, exposure.covered_until)
    return course if covered_until is not None and covered_until >= now else []


def _read_therapeutic(builder: _Builder, course: list[Exposure]) -> None:
    """Only the newest record speaks for the current dose: an earlier treatment dose says
    nothing about a later order or dose whose amount the chart does not give."""
    newest = course[-1]
    verdict = _treatment_verdict(newest, course, _weight(builder))
    if verdict is True:
        builder.put(THERAPEUTIC_FIELD, True, newest.source)
        builder.report.notes.append(
            f"{newest.source}: treatment dose of {newest.agent}: read as therapeutic "
            "anticoagulation"
        )
    elif verdict is False:
        builder.report.notes.append(
            f"{newest.source}: {newest.agent} below its treatment dose; therapeutic left "
            "unknown (a reduced treatment dose cannot be told from prophylaxis)"
        )


def _treatment_verdict(
    exposure: Exposure, course: list[Exposure], weight: float | None
) -> bool | None:
    """Whether this record is at treatment dose (None: its dose cannot tell). Several
    regimens (apixaban 10 mg then 5 mg) must all reach the floor. An administration's mg are
    summed with the same agent's given in the DOSE_COVER_HOURS before it (1 mg/kg twice a day)."""
    if exposure.floor is None:
        return None
    doses = list(exposure.doses)
    if exposure.administered_mg is not None:
        since = exposure.start - timedelta(hours=DOSE_COVER_HOURS)
        daily = sum(
            e.administered_mg
            for e in course
            if e.administered_mg is not None
            and e.agent == exposure.agent
            and since < e.start <= exposure.start
        )
        doses.append(Dose(mg_per_day=daily))
    verdicts = [is_treatment_dose(dose, exposure.floor, weight) for dose in doses]
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    return all(known)


def _weight(builder: _Builder) -> float | None:
    weight = builder.data.get("patient", {}).get("weight_kg")
    return float(weight) if isinstance(weight, int | float) else None


def _medication_flag(
    builder: _Builder, target: FlagTarget, medication: Any, when: datetime | None, source: str
) -> None:
    if target.field == THROMBOLYSIS_FIELD:
        recent = when is not None and builder.now - when <= timedelta(days=_THROMBOLYSIS_DAYS)
        if recent:
            builder.put(target.field, True, source)
        return
    if medication.status != "completed":
        builder.put(target.field, _flag_value(target), source)


def _medication_time(medication: Any) -> datetime | None:
    if medication.get_resource_type() == "MedicationRequest":
        return _moment(medication.authoredOn)
    return _moment(medication.effectiveDateTime) or _period_start(medication.effectivePeriod)


def _contained_medication_code(medication: Any) -> CodeableConcept | None:
    reference = medication.medicationReference
    if reference is None or not reference.reference or not reference.reference.startswith("#"):
        return None
    wanted = reference.reference[1:]
    for contained in medication.contained or []:
        if contained.get_resource_type() == "Medication" and contained.id == wanted:
            code: CodeableConcept | None = contained.code
            return code
    return None


# ---------------------------------------------------------------- procedures and allergies


def _read_procedure(procedure: Any, builder: _Builder, reasons: dict[str, Any]) -> None:
    if procedure.status not in _DONE_PROCEDURE:
        return
    source = _ref(procedure)
    when = _not_future(
        _moment(procedure.performedDateTime) or _period_start(procedure.performedPeriod),
        builder,
        source,
    )
    for match in builder.matches(Resource.PROCEDURE, procedure.code, "Procedure"):
        target = match.value_set.target
        if isinstance(target, ProcedureTarget):
            entry: dict[str, Any] = {"kind": target.procedure.value}
            if when is not None:
                entry["performed_at"] = when
            builder.procedures.append(entry)
            builder.report.provenance.setdefault("/treatment/procedures", []).append(source)
            if target.procedure in _FOLLOWED_UP and when is not None:
                ccsvi = _reason_is_ccsvi(procedure, builder.index, reasons)
                _follow_up_from(builder, target.procedure, when, source, ccsvi)


def _follow_up_from(
    builder: _Builder, kind: ProcedureKind, when: datetime, source: str, reasons: list[str]
) -> None:
    """The latest venoplasty or venous stent makes this a post-procedure follow-up case.

    `reasons` are the records that make the procedure's reason multiple sclerosis (none:
    the indication stays unknown). Procedures on the same latest date make the indication
    CCSVI when any of them was done for it, whatever their order in the record (the
    population screen reads the same: `screen/case_columns.procedures`)."""
    current = builder.data.get("follow_up")
    latest = None if current is None else current["procedure_date"]
    if latest is not None and latest > when:
        return
    if latest is None or latest < when:
        builder.report.provenance.pop("/follow_up", None)
        builder.report.provenance.pop(INDICATION_FIELD, None)
        builder.put("/follow_up", {"procedure_kind": kind.value, "procedure_date": when}, source)
    if reasons:
        builder.data["follow_up"]["indication"] = Indication.CCSVI_MULTIPLE_SCLEROSIS.value
        known = builder.report.provenance.setdefault(INDICATION_FIELD, [])
        known += [ref for ref in dict.fromkeys([source, *reasons]) if ref not in known]


def _reason_conditions(parsed: ParsedResources) -> dict[str, Any]:
    """The record's Conditions by reference ("Condition/id"), for Procedure.reasonReference."""
    return {f"Condition/{c.id}": c for c in parsed.of("Condition") if c.id}


def _reason_is_ccsvi(procedure: Any, index: CodeIndex, reasons: dict[str, Any]) -> list[str]:
    """The records that state multiple sclerosis as this procedure's reason (empty if none).

    Why this is the CCSVI indication: a venoplasty or venous stent done *for* multiple
    sclerosis is the CCSVI ("liberation") treatment that Brave Dreams tested against sham
    and FDA 2012 warned about; venous angioplasty has no other rationale in MS. Only a
    stated reason counts (Procedure.reasonCode, or a reasonReference to a Condition of this
    record that is not refuted or entered in error), never an MS diagnosis elsewhere in the
    chart: an MS patient may have a venoplasty for another reason. Other reasons are not
    read, so a CCSVI procedure coded with a vein-compression reason stays unknown, not
    "not CCSVI"."""
    found: list[str] = []
    if any(_is_ms(concept, index) for concept in procedure.reasonCode or []):
        found.append(_ref(procedure))
    for reference in procedure.reasonReference or []:
        condition = reasons.get(reference.reference or "")
        if condition is None or _status_code(condition.verificationStatus) in _UNREAD_REASON:
            continue
        if _is_ms(condition.code, index):
            found.append(_ref(condition))
    return found


def _is_ms(concept: CodeableConcept | None, index: CodeIndex) -> bool:
    """Whether a coding of `concept` is in a Condition value set for multiple sclerosis."""
    if concept is None:
        return False
    return any(
        isinstance(match.value_set.target, FlagTarget)
        and match.value_set.target.field == CCSVI_REASON_FIELD
        for coding in concept.coding or []
        for match in index.lookup(Resource.CONDITION, Coding(coding.system, coding.code))
    )


def _read_post_procedure_symptoms(builder: _Builder) -> None:
    """A symptom (fever, a urinary symptom) whose onset, else recorded date, is at or after
    the followed-up venoplasty or stent is a symptom after the procedure: its follow-up field
    is set, with the symptom and the procedure as provenance.

    Nothing is read without a follow-up procedure (a fever alone must not make a case a
    follow-up case), from a symptom without a time, or from one before the procedure (a
    date without a time is read as midnight UTC, so a symptom dated the procedure's own day
    counts only with its time). No record sets the field false. The population screen reads
    the same (`screen/case_columns.post_procedure_symptom_flags`)."""
    procedure_date = builder.data.get("follow_up", {}).get("procedure_date")
    if procedure_date is None:
        return
    procedure_source = builder.report.provenance.get("/follow_up", [])[:1]
    for pointer, when, source in builder.post_procedure_symptoms:
        if when is None or when < procedure_date:
            builder.report.notes.append(
                f"{source}: symptom not placed after the procedure of "
                f"{procedure_date.isoformat()} (its time is missing or earlier); not read"
            )
            continue
        _put_true(builder, pointer, [source, *procedure_source])


def _read_allergy(allergy: Any, builder: _Builder) -> None:
    verification = _status_code(allergy.verificationStatus)
    clinical = _status_code(allergy.clinicalStatus)
    if verification in ("refuted", "entered-in-error") or clinical in ("inactive", "resolved"):
        return
    for match in builder.matches(Resource.ALLERGY, allergy.code, "AllergyIntolerance"):
        target = match.value_set.target
        if isinstance(target, FlagTarget):
            builder.put(target.field, _flag_value(target), _ref(allergy))


# ------------------------------------------------------------------------- closing up


def _close_lists(builder: _Builder, complete: frozenset[str]) -> None:
    if builder.diagnoses or "Condition" in complete:
        builder.data["diagnoses"] = [
            {k: v for k, v in d.items() if v is not None} for d in builder.diagnoses.values()
        ]
    if "Condition" in complete:
        builder.report.closed_lists.append("/diagnoses")
    if builder.segments:
        builder.data.setdefault("imaging", {})["thrombosed_segments"] = builder.segments
    if builder.procedures or "Procedure" in complete:
        builder.data.setdefault("treatment", {})["procedures"] = builder.procedures
    if "Procedure" in complete:
        builder.report.closed_lists.append("/treatment/procedures")
    if not builder.diagnoses and "Condition" not in complete:
        builder.report.notes.append(
            "no venous diagnosis found and the Condition list was not complete; "
            "diagnoses left unknown"
        )


def _validated_case(data: dict[str, Any], report: MappingReport) -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            pointer = "/" + "/".join(str(p) for p in detail["loc"])
            problems.append(FhirProblem(_blame(pointer, report), f"{pointer}: {detail['msg']}"))
        raise FhirInputError(problems) from None
    except (ContradictionError, UnknownWordError) as error:
        raise FhirInputError([FhirProblem(_blame(error.pointer, report), error.message)]) from None


def _blame(pointer: str, report: MappingReport) -> str:
    """The resource(s) that supplied the field at `pointer` (or its nearest parent)."""
    candidate = pointer
    while candidate:
        sources = report.provenance.get(candidate)
        if sources:
            return ", ".join(sorted(set(sources)))
        candidate = candidate.rsplit("/", 1)[0]
    return "$"


# ------------------------------------------------------------------------------ helpers


def _case_id(patient_id: str | None) -> str:
    return f"Patient-{patient_id}" if patient_id else "fhir-record"


def _ref(resource: Any) -> str:
    return f"{resource.get_resource_type()}/{resource.id or '?'}"


def _status_code(concept: CodeableConcept | None) -> str | None:
    if concept is None:
        return None
    for coding in concept.coding or []:
        if coding.code:
            return str(coding.code)
    return None


def _flag_value(target: FlagTarget) -> Any:
    value = target.value
    return value if isinstance(value, bool) else value.value


def _moment(value: Any) -> datetime | None:
    """A FHIR date/dateTime as an aware datetime; a date alone is read as midnight UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _period_start(period: Any) -> datetime | None:
    return None if period is None else _moment(period.start)


def _period_end(period: Any) -> datetime | None:
    return None if period is None else _moment(period.end) or _moment(period.start)


_CLOCK_SKEW = timedelta(minutes=5)


def _not_future(moment: datetime | None, builder: _Builder, source: str) -> datetime | None:
    """A time after `now` cannot describe the case; it is reported and left out."""
    if moment is None or moment <= builder.now:
        return moment
    if moment - builder.now <= _CLOCK_SKEW:
        return builder.now
    builder.report.notes.append(f"{source}: time {moment.isoformat()} is in the future; ignored")
    return None
