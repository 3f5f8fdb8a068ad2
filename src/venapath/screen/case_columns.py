"""Per-patient case columns from the view tables: the population twin of `fhir/to_case.py`.

Each section below mirrors one reader of the per-patient mapping and keeps its rules, so
that both paths see the same record the same way:

- only codings claimed by a value set count; entered-in-error records are skipped;
- a diagnosis keeps its highest verification (confirmed > suspected > excluded); its
  segment (with the code's side) is thrombosed unless it is excluded; the earliest onset of
  an acute segment diagnosis is the symptom onset;
- the latest usable, readable measurement of each kind wins (undated values only when no
  dated one exists); units convert only where the conversion is exact;
- the latest active anticoagulant is the current agent; a thrombolytic counts within 7 days;
- the latest completed venoplasty or venous stent makes the patient a follow-up case, for
  CCSVI when its stated reason is multiple sclerosis;
- a time after `now` is ignored (within 5 minutes of it, read as `now`).

A bulk export is a whole record, so the Condition and Procedure lists are complete: a
patient without a venous diagnosis has an empty (closed) diagnoses list, exactly as the
per-patient path reads a whole record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from venapath.domain.case import Indication
from venapath.fhir import quantities
from venapath.fhir.to_case import (
    _ACTIVE_CLINICAL,
    _ACTIVE_MEDICATION,
    _CLOCK_SKEW,
    _DONE_PROCEDURE,
    _FOLLOWED_UP,
    _GIVEN,
    _STATUS_RANK,
    _THROMBOLYSIS_DAYS,
    _UNREAD_REASON,
    _USABLE_OBSERVATION,
    _VERIFICATION_STATUS,
    CCSVI_REASON_FIELD,
    CVT_CONDITION,
    DETERIORATION_FIELD,
    DISTAL_EXTENSION_FIELD,
    DISTAL_LEG_SEGMENTS,
    DOSE_COVER_HOURS,
    FINAL_REPORT,
    GCS_COURSE_DAYS,
    GCS_FIELD,
    GESTATIONAL_AGE_FIELD,
    HEPARINS,
    LEG_DVT_CONDITION,
    LONGEST_GESTATION_WEEKS,
    PLATELET_BASELINE_DAYS,
    PLATELET_FALL_FIELD,
    PLATELET_FALL_FRACTION,
    PLATELETS_FIELD,
    PREGNANT_FIELD,
    PROPAGATION_FIELD,
    PROXIMAL_EXTENSION_FIELD,
    PROXIMAL_LEG_SEGMENTS,
    SEIZURE_FIELD,
    THROMBOLYSIS_FIELD,
    THROMBOSES,
    UNPAIRED_SEGMENTS,
)
from venapath.screen.codes import matched
from venapath.screen.views import ViewSource

_OLDEST = datetime(1, 1, 2)
"""Sort key for undated values: any dated value is later."""


class CaseColumns:
    """Builds the per-patient table; `table()` has one row per Patient resource."""

    def __init__(
        self,
        source: ViewSource,
        codes: ir.Table,
        now: datetime,
        materialise: Callable[[ir.Table, str], ir.Table] = lambda table, _name: table,
    ) -> None:
        """`materialise` stores an intermediate table the later steps read several times
        (engines re-run a shared subquery once per use otherwise)."""
        self.source = source
        self.codes = codes
        self.now = now
        self.materialise = materialise
        self._views: dict[str, ir.Table] = {}
        self.now_literal = ibis.literal(now, type="timestamp('UTC')")

    # -------------------------------------------------------------------------- helpers

    def view(self, resource_type: str) -> ir.Table:
        """A view's rows, stored once: several sections read them, and the JSON work of a
        view is the costliest step of the screen. A partition's views are already stored
        (its Parquet files): copying them into a table would cost time and memory only."""
        stored = self._views.get(resource_type)
        if stored is None:
            stored = self.source.table(resource_type)
            if not self.source.stored:
                stored = self.materialise(stored, f"view_{resource_type}")
            self._views[resource_type] = stored
        return stored

    def moment(self, text: ir.StringValue) -> ir.TimestampValue:
        """A FHIR date or dateTime string as a UTC timestamp; partial dates are unknown."""
        readable = (text.length() == 10) | (text.length() >= 19)
        parsed = text.try_cast("timestamp('UTC')")
        return readable.ifelse(parsed, ibis.null("timestamp('UTC')"))

    def not_future(self, moment: ir.TimestampValue) -> ir.TimestampValue:
        skew_end = ibis.literal(self.now + _CLOCK_SKEW, type="timestamp('UTC')")
        return ibis.cases(
            (moment <= self.now_literal, moment),
            (moment <= skew_end, self.now_literal),
            else_=ibis.null("timestamp('UTC')"),
        )

    # ------------------------------------------------------------------------- sections

    def patients(self) -> ir.Table:
        patient = self.view("Patient")
        birth = patient.birth_date.try_cast("date")
        today = self.now.date()
        before_birthday = (birth.month() > today.month) | (
            (birth.month() == today.month) & (birth.day() > today.day)
        )
        age = today.year - birth.year() - before_birthday.ifelse(1, 0)
        full_date = patient.birth_date.length() == 10
        return patient.select(
            "patient_id",
            sex=patient.gender.isin(["female", "male"]).ifelse(patient.gender, ibis.null(str)),
            age_years=full_date.ifelse(age, ibis.null("int64")).cast("float64"),
        ).distinct(on="patient_id", keep="first")

    def conditions(self) -> ir.Table:
        rows = self.view("Condition")
        rows = rows.filter(
            rows.verification_status.isnull() | (rows.verification_status != "entered-in-error")
        )
        active = rows.clinical_status.isnull() | rows.clinical_status.isin(sorted(_ACTIVE_CLINICAL))
        return matched(rows.filter(active), self.codes, "Condition")

    def diagnoses(self, conditions: ir.Table) -> ir.Table:
        rows = conditions.filter(conditions.kind == "diagnosis")
        status = _status(rows.verification_status)
        onset = self.not_future(self.moment(rows.onset.coalesce(rows.onset_period_start)))
        at = self.not_future(
            self.moment(rows.onset.coalesce(rows.onset_period_start, rows.recorded))
        )
        rows = rows.mutate(status=status, onset_at=onset, at=at, rank=_rank(status))
        best = rows.group_by(["patient_id", "condition"]).agg(rank=rows.rank.max())
        named = best.mutate(
            label=best.condition
            + ":"
            + ibis.cases(*((best.rank == r, s) for s, r in _STATUS_RANK.items()))
        )
        listed = named.group_by("patient_id").agg(diagnoses=named.label.collect().sort())
        confirmed = rows.filter(rows.status == "confirmed")
        first_confirmed = confirmed.group_by("patient_id").agg(diagnosed_at=confirmed.at.min())
        seen = rows.filter((rows.status != "excluded") & rows.segment.notnull())
        seen = seen.mutate(label=_segment_label(seen))
        known = rows.filter(rows.status != "excluded").select("patient_id", "condition").distinct()
        labels = seen.select("patient_id", "label").union(
            self._report_segment_labels(known), distinct=False
        )
        segments = labels.group_by("patient_id").agg(
            segments=labels.label.collect(distinct=True).sort()
        )
        acute = seen.filter(seen.chronic.isnull() | ~seen.chronic)
        onsets = acute.group_by("patient_id").agg(symptom_onset=acute.onset_at.min())
        return (
            listed.join(first_confirmed, "patient_id", how="left")
            .select(*listed.columns, "diagnosed_at")
            .join(segments, "patient_id", how="left")
            .select(*listed.columns, "diagnosed_at", "segments")
            .join(onsets, "patient_id", how="left")
            .select(*listed.columns, "diagnosed_at", "segments", "symptom_onset")
        )

    def condition_flags(self, conditions: ir.Table) -> ir.Table:
        rows = conditions.filter(
            (conditions.kind == "flag")
            & (
                conditions.verification_status.isnull()
                | (conditions.verification_status != "refuted")
            )
        )
        return rows.select("patient_id", "field", "flag_value")

    def allergy_flags(self) -> ir.Table:
        rows = self.view("AllergyIntolerance")
        kept = (
            rows.verification_status.isnull()
            | ~rows.verification_status.isin(["refuted", "entered-in-error"])
        ) & (rows.clinical_status.isnull() | ~rows.clinical_status.isin(["inactive", "resolved"]))
        hits = matched(rows.filter(kept), self.codes, "AllergyIntolerance")
        hits = hits.filter(hits.kind == "flag")
        return hits.select("patient_id", "field", "flag_value")

    def medications(self) -> ir.Table:
        parts = []
        for resource_type in ("MedicationRequest", "MedicationStatement"):
            rows = self.view(resource_type)
            when = rows.recorded.coalesce(rows.effective, rows.effective_period_start)
            parts.append(rows.select("patient_id", "status", "system", "code", when_text=when))
        rows = parts[0].union(parts[1], distinct=False)
        rows = rows.filter(rows.status.isin(sorted(_ACTIVE_MEDICATION)))
        rows = rows.mutate(when=self.not_future(self.moment(rows.when_text)))
        return matched(rows, self.codes, "MedicationRequest")

    def administered_anticoagulants(self) -> ir.Table:
        """Anticoagulants given (completed or in progress), with when each was given and how
        long it keeps the course continuous (`to_case._read_administration`)."""
        rows = self.view("MedicationAdministration")
        rows = rows.filter(rows.status.isin(sorted(_GIVEN)))
        given = self.not_future(self.moment(rows.effective.coalesce(rows.effective_period_start)))
        ended = self.not_future(self.moment(rows.effective_period_end)).coalesce(given)
        now = ibis.literal(self.now, type="timestamp('UTC')")
        ended = (rows.status == "in-progress").ifelse(now, ended)
        rows = rows.mutate(when=given, ended=ended)
        hits = matched(rows, self.codes, "MedicationRequest")
        hits = hits.filter((hits.kind == "anticoagulant") & hits.when.notnull())
        return hits.select(
            "patient_id",
            "agent",
            "when",
            covered_until=hits.ended + ibis.interval(hours=DOSE_COVER_HOURS),
        )

    def anticoagulation(self, medications: ir.Table, administered: ir.Table) -> ir.Table:
        """The newest agent and the start of the course that reaches now
        (`to_case._read_anticoagulation_course`): orders and statements cover until now, an
        administration DOSE_COVER_HOURS after it; a later gap starts a new course.
        `therapeutic` is not read here (the dose is not in the views): it stays unknown."""
        orders = medications.filter(
            (medications.kind == "anticoagulant") & (medications.status != "completed")
        )
        now = ibis.literal(self.now, type="timestamp('UTC')")
        dated = orders.filter(orders.when.notnull())
        stamp = "timestamp('UTC')"
        exposures = dated.select(
            "patient_id", "agent", when=dated.when.cast(stamp), covered_until=now
        ).union(
            administered.select(
                "patient_id",
                "agent",
                when=administered.when.cast(stamp),
                covered_until=administered.covered_until.cast(stamp),
            ),
            distinct=False,
        )
        course = _current_course(exposures, now)
        in_course = administered.join(course, "patient_id").filter(
            lambda t: t.when >= t.anticoagulation_started
        )
        candidates = orders.select("patient_id", "agent", when=orders.when.cast(stamp)).union(
            in_course.select("patient_id", "agent", when=in_course.when.cast(stamp)),
            distinct=False,
        )
        key = candidates.when.fill_null(ibis.literal(_OLDEST, type="timestamp('UTC')"))
        agents = (
            candidates.mutate(key=key)
            .group_by("patient_id")
            .agg(agent=lambda t: t.agent.argmax(t.key))
        )
        return agents.join(course, "patient_id", how="left").select(
            "patient_id", "agent", "anticoagulation_started"
        )

    def medication_flags(self, medications: ir.Table) -> ir.Table:
        rows = medications.filter(medications.kind == "flag")
        week_ago = ibis.literal(self.now - timedelta(days=_THROMBOLYSIS_DAYS), "timestamp('UTC')")
        thrombolysis = rows.field == THROMBOLYSIS_FIELD
        recent = rows.when.notnull() & (rows.when >= week_ago)
        kept = (thrombolysis & recent) | (~thrombolysis & (rows.status != "completed"))
        rows = rows.filter(kept)
        return rows.select("patient_id", "field", "flag_value")

    def procedures(self) -> ir.Table:
        """Procedure kinds, and the latest venoplasty or venous stent with its indication
        (`to_case._follow_up_from`): CCSVI when a procedure on that latest date states
        multiple sclerosis as its reason, otherwise unknown (NULL)."""
        rows = self.view("Procedure")
        rows = rows.filter(rows.status.isin(sorted(_DONE_PROCEDURE)))
        when = self.not_future(self.moment(rows.performed.coalesce(rows.performed_period_start)))
        coded = rows.filter(rows.part == "code").mutate(when=when)
        hits = matched(coded, self.codes, "Procedure")
        hits = hits.filter(hits.kind == "procedure")
        kinds = hits.group_by("patient_id").agg(
            procedure_kinds=hits.procedure.collect(distinct=True).sort()
        )
        followed = hits.filter(
            hits.procedure.isin(sorted(k.value for k in _FOLLOWED_UP)) & hits.when.notnull()
        )
        latest = followed.group_by("patient_id").agg(
            follow_up_kind=followed.procedure.argmax(followed.when),
            follow_up_date=followed.when.max(),
        )
        return (
            kinds.join(latest, "patient_id", how="left")
            .join(self._ccsvi_follow_up(followed, latest, rows), "patient_id", how="left")
            .select(*kinds.columns, "follow_up_kind", "follow_up_date", "follow_up_indication")
        )

    def _ccsvi_follow_up(self, followed: ir.Table, latest: ir.Table, rows: ir.Table) -> ir.Table:
        """`follow_up_indication` for the patients whose latest followed-up procedure (any on
        that date) was done for multiple sclerosis (`to_case._reason_is_ccsvi`)."""
        on_latest = followed.join(
            latest,
            [
                followed.patient_id == latest.patient_id,
                followed.when == latest.follow_up_date,
            ],
        ).select(followed.patient_id, followed.procedure_id)
        done_for_ms = self._done_for_ms(rows)
        hit = on_latest.join(done_for_ms, ["patient_id", "procedure_id"]).select("patient_id")
        return hit.distinct().mutate(
            follow_up_indication=ibis.literal(Indication.CCSVI_MULTIPLE_SCLEROSIS.value)
        )

    def _done_for_ms(self, rows: ir.Table) -> ir.Table:
        """(patient_id, procedure_id) of procedures whose reasonCode, or a reasonReference to
        a Condition not refuted or entered in error, is coded multiple sclerosis."""
        reasons = matched(rows.filter(rows.part == "reason"), self.codes, "Condition")
        by_code = reasons.filter(
            (reasons.kind == "flag") & (reasons.field == CCSVI_REASON_FIELD)
        ).select("patient_id", "procedure_id")
        conditions = self.view("Condition")
        usable = conditions.verification_status.isnull() | ~conditions.verification_status.isin(
            sorted(_UNREAD_REASON)
        )
        ms = matched(conditions.filter(usable), self.codes, "Condition")
        ms = ms.filter((ms.kind == "flag") & (ms.field == CCSVI_REASON_FIELD))
        ms = ms.select("patient_id", reference="Condition/" + ms.condition_id).distinct()
        references = rows.filter(rows.part == "reason_reference")
        by_reference = references.join(
            ms,
            [references.patient_id == ms.patient_id, references.code == ms.reference],
        ).select(references.patient_id, references.procedure_id)
        return by_code.union(by_reference, distinct=True)

    def readable_measurements(self) -> ir.Table:
        """Every usable, readable measurement with its field, number and time."""
        rows = self.view("Observation")
        rows = rows.filter(rows.status.isin(sorted(_USABLE_OBSERVATION)))
        when = rows.effective.coalesce(
            rows.effective_instant,
            rows.effective_period_end,
            rows.effective_period_start,
            rows.issued,
        )
        rows = rows.mutate(when=self.not_future(self.moment(when)))
        hits = matched(rows, self.codes, "Observation")
        hits = hits.filter(hits.kind == "measurement")
        read = _read_measurement(hits)
        return read.filter(read.readable)

    def measurements(self, read: ir.Table) -> ir.Table:
        key = read.when.fill_null(ibis.literal(_OLDEST, type="timestamp('UTC')"))
        read = read.mutate(key=key)
        # One pass: each column is the latest value among its own field's rows.
        return read.group_by("patient_id").agg(
            **{
                name: (read.positive if name == "d_dimer_positive" else read.number).argmax(
                    read.key, where=read.field == pointer
                )
                for pointer, name in MEASUREMENT_COLUMNS.items()
            }
        )

    def gestation(self, read: ir.Table) -> ir.Table:
        """The newest dated gestational age advanced by the whole days since, in completed
        weeks; none past LONGEST_GESTATION_WEEKS (`to_case._read_gestation`)."""
        rows = read.filter((read.field == GESTATIONAL_AGE_FIELD) & read.when.notnull())
        newest = rows.group_by("patient_id").agg(
            days=rows.number.argmax(rows.when), taken=rows.when.max()
        )
        elapsed = (
            (self.now_literal.epoch_seconds() - newest.taken.epoch_seconds()) / 86400
        ).floor()
        weeks = ((newest.days + elapsed) / 7).floor()
        newest = newest.mutate(gestational_age_weeks=weeks.cast("float64"))
        return newest.filter(newest.gestational_age_weeks <= LONGEST_GESTATION_WEEKS).select(
            "patient_id", "gestational_age_weeks"
        )

    def gcs_course_flags(self, read: ir.Table) -> ir.Table:
        """A GCS lower than a dated one up to GCS_COURSE_DAYS earlier is a neurological
        deterioration (`to_case._read_gcs_course`), as a course flag."""
        gcs = read.filter((read.field == GCS_FIELD) & read.when.notnull())
        latest = gcs.group_by("patient_id").agg(
            latest_when=gcs.when.max(), latest_value=gcs.number.argmax(gcs.when)
        )
        joined = gcs.join(latest, "patient_id")
        window_start = joined.latest_when - ibis.interval(days=GCS_COURSE_DAYS)
        fell = joined.filter(
            (joined.when < joined.latest_when)
            & (joined.when >= window_start)
            & (joined.number > joined.latest_value)
        )
        return (
            fell.select("patient_id")
            .distinct()
            .mutate(field=ibis.literal(DETERIORATION_FIELD), flag_value=ibis.literal("true"))
        )

    def platelet_fall_flags(self, read: ir.Table, medications: ir.Table) -> ir.Table:
        """A platelet count at or below half an earlier one while on heparin is suspected
        HIT (`to_case._read_platelet_course`), as a course flag: the lower count at or after
        the first dated, active heparin order, the higher no earlier than the baseline day."""
        heparin = medications.filter(
            (medications.kind == "anticoagulant")
            & (medications.status != "completed")
            & medications.agent.isin(sorted(HEPARINS))
            & medications.when.notnull()
        )
        starts = heparin.group_by("patient_id").agg(heparin_started=heparin.when.min())
        counts = read.filter((read.field == PLATELETS_FIELD) & read.when.notnull())
        counts = counts.join(starts, "patient_id")
        baseline_from = counts.heparin_started - ibis.interval(days=PLATELET_BASELINE_DAYS)
        counts = counts.filter(counts.when >= baseline_from)
        high = counts.select("patient_id", high_when=counts.when, high=counts.number)
        low = counts.select(
            "patient_id", "heparin_started", low_when=counts.when, low=counts.number
        )
        pairs = high.join(low, "patient_id")
        fell = pairs.filter(
            (pairs.low_when > pairs.high_when)
            & (pairs.low_when >= pairs.heparin_started)
            & (pairs.low <= pairs.high * PLATELET_FALL_FRACTION)
        )
        return (
            fell.select("patient_id")
            .distinct()
            .mutate(field=ibis.literal(PLATELET_FALL_FIELD), flag_value=ibis.literal("true"))
        )

    def seizure_flags(self, conditions: ir.Table, anticoagulation: ir.Table) -> ir.Table:
        """A confirmed seizure since the CVT began is a seizure; one after anticoagulation
        started is also neurological deterioration (`to_case._read_seizures`)."""
        cvt = conditions.filter(
            (conditions.kind == "diagnosis") & (conditions.condition == CVT_CONDITION)
        )
        cvt = cvt.filter(_status(cvt.verification_status) != "excluded")
        cvt = cvt.mutate(at=self._condition_time(cvt))
        began = cvt.group_by("patient_id").agg(cvt_began=cvt.at.min())
        rows = conditions.filter(
            (conditions.kind == "seizure")
            & (
                conditions.verification_status.isnull()
                | (conditions.verification_status == "confirmed")
            )
        )
        rows = rows.select("patient_id", at=self._condition_time(rows))
        rows = rows.join(began, "patient_id").select("patient_id", "at", "cvt_began")
        rows = rows.join(
            anticoagulation.select("patient_id", "anticoagulation_started"),
            "patient_id",
            how="left",
        ).select("patient_id", "at", "cvt_began", "anticoagulation_started")
        since_cvt = rows.filter(
            rows.at.notnull() & rows.cvt_began.notnull() & (rows.at >= rows.cvt_began)
        )
        on_treatment = since_cvt.filter(
            since_cvt.anticoagulation_started.notnull()
            & (since_cvt.at > since_cvt.anticoagulation_started)
        )
        return _flag_rows(since_cvt, SEIZURE_FIELD).union(
            _flag_rows(on_treatment, DETERIORATION_FIELD), distinct=False
        )

    def propagation_flags(self, conditions: ir.Table, anticoagulation: ir.Table) -> ir.Table:
        """Thrombus in a new segment on a later record (`to_case._read_thrombus_course`): a
        confirmed segment Condition, or a final imaging report coding one, whose onset
        follows an earlier record of the same thrombosis in the same limb, in a segment none
        of those names. After the start of anticoagulation it is propagation; from an
        isolated distal DVT, also extension."""
        rows = conditions.filter(
            (conditions.kind == "diagnosis")
            & conditions.condition.isin(sorted(THROMBOSES))
            & (conditions.chronic.isnull() | ~conditions.chronic)
        )
        rows = rows.mutate(status=_status(rows.verification_status))
        rows = rows.filter(rows.status != "excluded")
        onset = self.not_future(self.moment(rows.onset.coalesce(rows.onset_period_start)))
        rows = rows.mutate(began=onset, at=self._condition_time(rows))
        rows = rows.select(*_THROMBUS_RECORD).union(self.report_findings(), distinct=False)
        later = rows.filter(
            (rows.status == "confirmed") & rows.segment.notnull() & rows.began.notnull()
        ).select(
            "patient_id",
            "condition",
            l_segment=rows.segment,
            l_side=rows.side,
            l_began=rows.began,
        )
        earlier = rows.filter(rows.at.notnull()).select(
            "patient_id",
            e_condition=rows.condition,
            e_segment=rows.segment,
            e_side=rows.side,
            e_at=rows.at,
        )
        pairs = later.join(
            earlier,
            (later.patient_id == earlier.patient_id) & (later.condition == earlier.e_condition),
        )
        pairs = pairs.filter((pairs.e_at < pairs.l_began) & _same_limb(pairs))
        key = ["patient_id", "condition", "l_segment", "l_side", "l_began"]
        extended = pairs.group_by(key).agg(
            same_segment=(pairs.e_segment == pairs.l_segment).fill_null(False).any(),
            all_distal=pairs.e_segment.isin(sorted(DISTAL_LEG_SEGMENTS)).fill_null(False).all(),
        )
        extended = extended.filter(~extended.same_segment)
        timed = extended.join(
            anticoagulation.select("patient_id", "anticoagulation_started"),
            "patient_id",
            how="left",
        ).select(*extended.columns, "anticoagulation_started")
        despite = timed.filter(
            timed.anticoagulation_started.notnull()
            & (timed.l_began > timed.anticoagulation_started)
        )
        from_distal = extended.filter(
            (extended.condition == LEG_DVT_CONDITION) & extended.all_distal
        )
        proximal = from_distal.filter(from_distal.l_segment.isin(sorted(PROXIMAL_LEG_SEGMENTS)))
        distal = from_distal.filter(from_distal.l_segment.isin(sorted(DISTAL_LEG_SEGMENTS)))
        return (
            _flag_rows(despite, PROPAGATION_FIELD)
            .union(_flag_rows(proximal, PROXIMAL_EXTENSION_FIELD), distinct=False)
            .union(_flag_rows(distal, DISTAL_EXTENSION_FIELD), distinct=False)
        )

    def post_procedure_symptom_flags(self, conditions: ir.Table, procedures: ir.Table) -> ir.Table:
        """A symptom dated at or after the followed-up procedure sets its follow-up field
        (`to_case._read_post_procedure_symptoms`); without a follow-up procedure or a time,
        nothing is read."""
        rows = conditions.filter(
            (conditions.kind == "post_procedure_symptom")
            & (
                conditions.verification_status.isnull()
                | (conditions.verification_status != "refuted")
            )
        )
        rows = rows.select("patient_id", "field", at=self._condition_time(rows))
        rows = rows.join(procedures.select("patient_id", "follow_up_date"), "patient_id").select(
            "patient_id", "field", "at", "follow_up_date"
        )
        after = rows.filter(
            rows.at.notnull() & rows.follow_up_date.notnull() & (rows.at >= rows.follow_up_date)
        )
        return (
            after.select("patient_id", "field").distinct().mutate(flag_value=ibis.literal("true"))
        )

    def _report_segment_labels(self, known: ir.Table) -> ir.Table:
        """The segments final reports find thrombosed (`to_case._add_report_segment`), for a
        thrombosis the Conditions hold (`known`: patient and condition, not excluded),
        labelled as `diagnoses` labels a Condition's segment."""
        rows = self._report_hits()
        rows = rows.filter(rows.segment.notnull())
        rows = rows.join(known, ["patient_id", "condition"]).select(*rows.columns)
        return rows.select("patient_id", label=_segment_label(rows))

    def _report_hits(self) -> ir.Table:
        """Final reports' conclusion codings claimed by an acute thrombosis value set, with
        the time imaged (`at`; reports without one are left out)."""
        rows = self.view("DiagnosticReport")
        rows = rows.filter(rows.status.isin(sorted(FINAL_REPORT)))
        hits = matched(rows, self.codes, "DiagnosticReport")
        hits = hits.filter(
            (hits.kind == "diagnosis")
            & hits.condition.isin(sorted(THROMBOSES))
            & (hits.chronic.isnull() | ~hits.chronic)
        )
        imaged = self.not_future(self.moment(hits.effective.coalesce(hits.effective_period_start)))
        hits = hits.mutate(at=imaged)
        return hits.filter(hits.at.notnull())

    def report_findings(self) -> ir.Table:
        """Final imaging reports coding an acute thrombosis in their conclusion, as thrombus
        records (`to_case._read_diagnostic_report`): confirmed, placed at the time imaged
        (effectiveDateTime, else effectivePeriod.start; never `issued`)."""
        hits = self._report_hits()
        hits = hits.mutate(status=ibis.literal("confirmed"), began=hits.at)
        return hits.select(*_THROMBUS_RECORD)

    def _condition_time(self, rows: ir.Table) -> ir.TimestampValue:
        """Onset, else recorded date, as the per-patient mapping dates a Condition."""
        return self.not_future(
            self.moment(rows.onset.coalesce(rows.onset_period_start, rows.recorded))
        )

    # ---------------------------------------------------------------------------- all

    def table(self) -> ir.Table:
        """One row per patient with every case column the facts read."""
        conditions = self.materialise(self.conditions(), "matched_conditions")
        medications = self.materialise(self.medications(), "matched_medications")
        measured = self.materialise(self.readable_measurements(), "readable_measurements")
        diagnoses = self.diagnoses(conditions)
        administered = self.materialise(self.administered_anticoagulants(), "administered")
        anticoagulation = self.anticoagulation(medications, administered)
        procedures = self.procedures()
        gestation = self.gestation(measured)
        flags = (
            self.condition_flags(conditions)
            .union(self.allergy_flags(), distinct=False)
            .union(self.medication_flags(medications), distinct=False)
            .union(self.gcs_course_flags(measured), distinct=False)
            .union(self.platelet_fall_flags(measured, medications), distinct=False)
            .union(self.seizure_flags(conditions, anticoagulation), distinct=False)
            .union(self.propagation_flags(conditions, anticoagulation), distinct=False)
            .union(self.post_procedure_symptom_flags(conditions, procedures), distinct=False)
            .union(_flag_rows(gestation, PREGNANT_FIELD), distinct=False)
        )
        flags = flags.mutate(label=flags.field + "=" + flags.flag_value)
        flag_lists = flags.group_by("patient_id").agg(
            flags=flags.label.collect(distinct=True).sort()
        )
        result = self.patients()
        for part in (
            diagnoses,
            flag_lists,
            anticoagulation,
            procedures,
            self.measurements(measured),
            gestation,
        ):
            extra = [c for c in part.columns if c != "patient_id"]
            result = result.join(part, "patient_id", how="left").select(*result.columns, *extra)
        return result


MEASUREMENT_COLUMNS = {
    "/labs/platelets": "platelets",
    "/labs/inr": "inr",
    "/labs/haemoglobin": "haemoglobin",
    "/labs/creatinine": "creatinine",
    "/labs/egfr_ml_min": "egfr_ml_min",
    "/labs/d_dimer": "d_dimer_positive",
    "/exam/gcs": "gcs",
    "/exam/systolic_bp_mmhg": "systolic_bp_mmhg",
    "/exam/diastolic_bp_mmhg": "diastolic_bp_mmhg",
    "/patient/weight_kg": "weight_kg",
}
"""Measurement target field -> case column (numbers already in the unit the facts use)."""


_THROMBUS_RECORD = ("patient_id", "condition", "segment", "side", "status", "began", "at")
"""The columns of a thrombus record (`to_case.ThrombusRecord`), from a Condition or a report."""


def _segment_label(rows: ir.Table) -> ir.StringValue:
    """A thrombosed segment as `diagnoses` labels it: segment|side|chronic (empty when
    unknown), whether the segment comes from a Condition or a final report."""
    return rows.segment + "|" + rows.side.fill_null("") + "|" + rows.chronic.cast(str).fill_null("")


def _current_course(exposures: ir.Table, now: ir.TimestampValue) -> ir.Table:
    """Per patient, the start of the course of exposures that reaches `now`: an exposure
    starting after everything before it had ended begins a new course (gaps and islands)."""
    order = ["when", "covered_until", "agent"]  # one row order for both windows
    running = ibis.window(group_by="patient_id", order_by=order, rows=(None, 0))
    ordered = ibis.window(group_by="patient_id", order_by=order)
    marked = exposures.mutate(covered_so_far=exposures.covered_until.max().over(running))
    marked = marked.mutate(covered_before=marked.covered_so_far.lag().over(ordered))
    marked = marked.mutate(
        begins=marked.covered_before.isnull() | (marked.when > marked.covered_before)
    )
    courses = marked.group_by("patient_id").agg(
        anticoagulation_started=marked.when.max(where=marked.begins),
        covered_until=marked.covered_until.max(),
    )
    return courses.filter(courses.covered_until >= now).select(
        "patient_id", "anticoagulation_started"
    )


def _same_limb(pairs: ir.Table) -> ir.BooleanValue:
    """`to_case._same_limb`: intracranial veins are one system, a midline vein joins either
    side, otherwise the codes state the same side (or one says bilateral)."""
    unpaired = sorted(UNPAIRED_SEGMENTS)
    return (
        (pairs.condition == CVT_CONDITION)
        | pairs.e_segment.isin(unpaired).fill_null(False)
        | pairs.l_segment.isin(unpaired)
        | (pairs.e_side == "bilateral").fill_null(False)
        | (pairs.l_side == "bilateral").fill_null(False)
        | (pairs.e_side == pairs.l_side).fill_null(False)
    )


def _flag_rows(rows: ir.Table, pointer: str) -> ir.Table:
    """One `pointer=true` flag row per patient in `rows`."""
    return (
        rows.select("patient_id")
        .distinct()
        .mutate(field=ibis.literal(pointer), flag_value=ibis.literal("true"))
    )


def _status(verification: ir.StringValue) -> ir.StringValue:
    """FHIR verification status -> diagnosis status (absent means confirmed)."""
    return ibis.cases(
        (verification.isnull(), "confirmed"),
        *((verification == code, status) for code, status in _VERIFICATION_STATUS.items()),
        else_="suspected",
    )


def _rank(status: ir.StringValue) -> ir.IntegerValue:
    return ibis.cases(*((status == s, r) for s, r in _STATUS_RANK.items()), else_=0)


# ------------------------------------------------------------------- measurement reading


def _lower_unit(code: ir.StringValue, unit: ir.StringValue) -> ir.StringValue:
    return code.coalesce(unit).fill_null("").strip().lower()


def _in(value: ir.StringValue, allowed: object) -> ir.BooleanValue:
    return value.isin(sorted(allowed))  # type: ignore[call-overload]


def _read_measurement(hits: ir.Table) -> ir.Table:
    """Each matched Observation row read into `number` (canonical unit) or the D-dimer call.

    The unit tables are the per-patient reader's own (`fhir/quantities.py`); a row whose
    unit is not understood is not readable and, as there, leaves older values in place.
    """
    unit_text = hits.unit_code.coalesce(hits.unit).fill_null("").strip()
    unit = unit_text.lower()
    value = hits.value.cast("float64")
    field = hits.field
    platelets_unit = _unit_case(unit, quantities._PLATELET_UNITS)
    haemoglobin_unit = _unit_case(unit, quantities._HAEMOGLOBIN_UNITS)
    creatinine_unit = _unit_case(unit, quantities._CREATININE_UNITS)
    weight_factor = ibis.cases(
        *((unit == u, f) for u, f in quantities._WEIGHT_FACTORS.items()),
        else_=ibis.null("float64"),
    )
    gestation_days = ibis.cases(
        *((unit == u, float(days)) for u, days in quantities._GESTATION_DAYS_PER_UNIT.items()),
        else_=ibis.null("float64"),
    )
    number = ibis.cases(
        (field == "/labs/platelets", _platelets(value, platelets_unit)),
        (field == GESTATIONAL_AGE_FIELD, value * gestation_days),
        (field == "/labs/haemoglobin", _haemoglobin(value, haemoglobin_unit)),
        (field == "/labs/creatinine", _creatinine(value, creatinine_unit)),
        (
            field.isin(["/exam/gcs", "/exam/systolic_bp_mmhg", "/exam/diastolic_bp_mmhg"]),
            value.round(0),
        ),
        (field == "/patient/weight_kg", (value * weight_factor).round(2)),
        else_=value,
    )
    understood = ibis.cases(
        (field == "/labs/platelets", platelets_unit.notnull()),
        (field == "/labs/haemoglobin", haemoglobin_unit.notnull()),
        (field == "/labs/creatinine", creatinine_unit.notnull()),
        (field == "/labs/egfr_ml_min", _in(unit, quantities._EGFR_UNITS)),
        (field.isin(["/labs/inr", "/exam/gcs"]), _in(unit, quantities._SCORE_UNITS)),
        (
            field.isin(["/exam/systolic_bp_mmhg", "/exam/diastolic_bp_mmhg"]),
            _in(unit, quantities._PRESSURE_UNITS),
        ),
        (field == "/patient/weight_kg", weight_factor.notnull()),
        (field == GESTATIONAL_AGE_FIELD, gestation_days.notnull()),
        else_=False,
    )
    d_dimer = field == "/labs/d_dimer"
    call, d_dimer_readable = _d_dimer(hits, value, unit_text)
    readable = d_dimer.ifelse(d_dimer_readable, value.notnull() & understood)
    return hits.mutate(
        number=d_dimer.ifelse(ibis.null("float64"), number),
        positive=d_dimer.ifelse(call, ibis.null("boolean")),
        readable=readable.fill_null(False),
    )


def _unit_case(unit: ir.StringValue, units: Mapping[str, object]) -> ir.StringValue:
    return ibis.cases(
        *((unit == key, str(getattr(value, "value", value))) for key, value in units.items()),
        else_=ibis.null(str),
    )


def _platelets(value: ir.FloatingValue, unit: ir.StringValue) -> ir.FloatingValue:
    return (unit == "/uL").ifelse(value / 1000.0, value)


def _haemoglobin(value: ir.FloatingValue, unit: ir.StringValue) -> ir.FloatingValue:
    from venapath.domain.units import _HB_MMOL_PER_G_DL

    converted = ibis.cases(
        (unit == "g/L", value / 10.0),
        (unit == "mmol/L", value / _HB_MMOL_PER_G_DL),
        else_=value,
    )
    return converted.round(3)


def _creatinine(value: ir.FloatingValue, unit: ir.StringValue) -> ir.FloatingValue:
    from venapath.domain.units import _CREATININE_UMOL_PER_MG_DL

    return (unit == "mg/dL").ifelse(value * _CREATININE_UMOL_PER_MG_DL, value).round(3)


def _call(codes: ir.ArrayValue) -> ir.BooleanValue:
    """The laboratory's positive/negative call from interpretation codes, first one wins."""
    upper = codes.map(lambda c: c.upper())
    calls = upper.map(
        lambda c: ibis.cases(
            (c.isin(sorted(quantities._POSITIVE)), True),
            (c.isin(sorted(quantities._NEGATIVE)), False),
            else_=ibis.null("boolean"),
        )
    ).filter(lambda c: c.notnull())
    return calls[0]


def _d_dimer(
    hits: ir.Table, value: ir.FloatingValue, unit_text: ir.StringValue
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(the call, readable): the twin of `quantities._d_dimer` and `_d_dimer_call_only`."""
    annotations = unit_text.upper()
    says_feu = annotations.contains("{FEU}")
    says_ddu = annotations.contains("{DDU}")
    bare = unit_text.re_replace(r"\{[^}]*\}", "").strip().lower()
    conflict = (says_feu & says_ddu) | (
        hits.basis.notnull()
        & ((says_feu & (hits.basis != "FEU")) | (says_ddu & (hits.basis != "DDU")))
    )
    unit_known = _in(bare, quantities._D_DIMER_UNITS)
    holder_call = _call(hits.interpretation.fill_null([]))
    observation_call = _call(hits.observation_interpretation.fill_null([]))
    interpretation = holder_call.coalesce(observation_call)
    high_unit = (
        hits.range_high_unit.coalesce(hits.range_high_unit_text)
        .fill_null("")
        .re_replace(r"\{[^}]*\}", "")
        .strip()
        .lower()
    )
    by_range = (hits.range_high.notnull() & (high_unit == bare)).ifelse(
        value > hits.range_high.cast("float64"), ibis.null("boolean")
    )
    quantitative_call = interpretation.coalesce(by_range)
    qualitative_call = interpretation.coalesce(_call(hits.value_codes.fill_null([])))
    has_value = value.notnull()
    call = has_value.ifelse(quantitative_call, qualitative_call)
    readable = has_value.ifelse(unit_known & ~conflict, qualitative_call.notnull())
    return call, readable
