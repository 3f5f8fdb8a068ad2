"""Draft orders (CDS Hooks `draftOrders`) to the clinical actions they stand for.

An anticoagulant order is anticoagulation; a thrombolytic drug order is checked as
thrombolysis (the contraindications to catheter-directed thrombolysis are the thrombolytic
ones); a procedure order maps by its procedure kind. Orders VenaPath does not recognise
produce no card: they are outside its knowledge, not safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from venapath.domain.case import ProcedureKind
from venapath.domain.vocabulary import Action
from venapath.fhir.parse import ParsedResources
from venapath.fhir.to_case import THROMBOLYSIS_FIELD
from venapath.kb.codes import CodeIndex, Coding
from venapath.kb.value_sets import AnticoagulantTarget, FlagTarget, ProcedureTarget, Resource

ACTION_OF_PROCEDURE = {
    ProcedureKind.VENOPLASTY: Action.ANGIOPLASTY,
    ProcedureKind.VENOUS_STENT: Action.VENOUS_STENTING,
    ProcedureKind.CATHETER_DIRECTED_THROMBOLYSIS: Action.CATHETER_DIRECTED_THROMBOLYSIS,
    ProcedureKind.PHARMACOMECHANICAL_THROMBECTOMY: Action.PHARMACOMECHANICAL_THROMBECTOMY,
    ProcedureKind.MECHANICAL_THROMBECTOMY: Action.MECHANICAL_THROMBECTOMY,
    ProcedureKind.EPIDURAL_BLOOD_PATCH: Action.EPIDURAL_BLOOD_PATCH,
    ProcedureKind.DECOMPRESSIVE_CRANIECTOMY: Action.DECOMPRESSIVE_SURGERY,
}


@dataclass(frozen=True)
class DraftOrder:
    reference: str
    label: str
    action: Action


def recognised_orders(
    drafts: ParsedResources, index: CodeIndex, selections: frozenset[str] | None = None
) -> list[DraftOrder]:
    """The draft orders VenaPath can check, optionally only the `selections` (order-select)."""
    orders: list[DraftOrder] = []
    for resource_type, lookup in (
        ("MedicationRequest", Resource.MEDICATION),
        ("ServiceRequest", Resource.PROCEDURE),
    ):
        for resource in drafts.of(resource_type):
            reference = f"{resource_type}/{resource.id}"
            if selections is not None and reference not in selections:
                continue
            concept = _order_code(resource)
            for action in _actions(index, lookup, concept):
                orders.append(DraftOrder(reference, _label(concept, action), action))
    return orders


def _order_code(resource: Any) -> Any:
    if resource.get_resource_type() == "MedicationRequest":
        return resource.medicationCodeableConcept
    return resource.code


def _actions(index: CodeIndex, lookup: Resource, concept: Any) -> list[Action]:
    if concept is None:
        return []
    actions: list[Action] = []
    for coding in concept.coding or []:
        for match in index.lookup(lookup, Coding(coding.system, coding.code)):
            action = _action_of(match.value_set.target)
            if action is not None and action not in actions:
                actions.append(action)
    return actions


def _action_of(target: Any) -> Action | None:
    if isinstance(target, AnticoagulantTarget):
        return Action.ANTICOAGULATION
    if isinstance(target, FlagTarget) and target.field == THROMBOLYSIS_FIELD:
        return Action.CATHETER_DIRECTED_THROMBOLYSIS
    if isinstance(target, ProcedureTarget):
        return ACTION_OF_PROCEDURE.get(target.procedure)
    return None


def _label(concept: Any, action: Action) -> str:
    text = concept.text or next((c.display for c in concept.coding or [] if c.display), None)
    return str(text or action.value.replace("_", " "))[:80]
