"""Schemathesis against the published OpenAPI: no 5xx, and responses match their schemas.

Every operation is called with generated data (valid and invalid). A 5xx, an undocumented
status code or a response that breaks its declared schema fails the test.

Then statefully: schemathesis's state machine chains calls along the schema's OpenAPI links
(`api/links.py`: patient -> episode -> procedure -> check-in, and each create to its read,
change and delete), with real ids from real answers, so the record routes are reached with
records that exist rather than answering 404 to random ids. The stateful checks add that a
created record can be read back and a retracted one is not served as if it were live.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, checks
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from db_support import fresh_database
from hypothesis_profiles import examples
from identity_support import bearer, identity_settings
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.kb.loader import load_knowledge_base
from venapath.persistence.database import Database
from venapath.services.registry import Registry
from venapath.settings import load_settings

pytestmark = pytest.mark.slow
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _app(database: Database) -> Any:
    """The service in development mode on `database`."""
    return create_app(
        load_settings(env="development", **identity_settings()),
        kb=load_knowledge_base(),
        feedback=MemoryFeedbackStore(),
        registry=Registry(database, load_knowledge_base()),
    )


_scratch = Path(tempfile.mkdtemp(prefix="venapath-fuzz-"))
_database = ExitStack().enter_context(fresh_database("sqlite", _scratch))
app = _app(_database)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=examples(40),
    deadline=None,
    derandomize=True,  # the same examples on every run: main stays reproducibly green
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS, headers=bearer())


STATEFUL_CHECKS = [
    *CHECKS[:-1],  # the state machine sends valid data, so negative data rejection has no say
    checks.use_after_free,
    checks.ensure_resource_availability,
]
API = "/api/v1"
REGISTRY_RECORDS = rf"^{API}/(patients|episodes|procedures|outcomes|check-ins|assessments)"
PATIENT = f"{API}/patients/{{patient_id}}"


def _patient_operations_reached(followed: Counter[str]) -> set[str]:
    """Operations on one patient (`/patients/{patient_id}...`) reached along a link with a
    2xx: the patient id came from an earlier answer, since a generated one is never found."""
    return {operation for operation, count in followed.items() if PATIENT in operation and count}


class Workflow:
    """Every step as a machine client with every scope, each scenario on an empty registry of
    its own; counts the operations reached along a link (with values from an earlier answer)
    that answered 2xx, so a test can tell the links were followed, not merely declared."""

    followed: Counter[str]
    recorder: Any

    def setup(self) -> None:
        """What one scenario created (a pseudonym now taken) must not change what the next
        one draws, or Hypothesis cannot replay a scenario to shrink it."""
        self.resources = ExitStack()
        self.database = self.resources.enter_context(fresh_database("sqlite", _scratch))
        self.app = _app(self.database)

    def teardown(self) -> None:
        self.resources.close()

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        return {"headers": bearer(), "app": self.app}

    def step(self, input: StepInput) -> StepOutput:
        output: StepOutput = super().step(input)  # type: ignore[misc]
        linked = input.transition is not None and input.is_applied
        if linked and output.response.status_code < 300:
            self.followed[f"{input.case.method} {input.case.path}"] += 1
        return output

    def validate_response(
        self, response: Any, case: Case, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(
            response,
            checks=STATEFUL_CHECKS,
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


def _workflow(machine: type) -> Any:
    """A state machine over `machine`'s operations, built when a test runs, not when the module
    is collected (building one analyses the whole schema: a second of `make unit`)."""
    return type(machine.__name__, (Workflow, machine), {"followed": Counter()})


def _stateful(scenarios: int) -> settings:
    """A fixed number of scenarios in every profile: fewer and the links are not reached."""
    return settings(
        max_examples=scenarios,
        stateful_step_count=8,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def test_linked_calls_over_the_whole_api_find_no_failure() -> None:
    whole_api = _workflow(schema.as_state_machine())
    whole_api.run(settings=_stateful(50))
    assert _patient_operations_reached(whole_api.followed), dict(whole_api.followed)


def test_linked_calls_reach_the_records_they_created() -> None:
    """The registry alone, so that more scenarios start from a create: at least three
    different operations on a patient were reached with the id a create answered."""
    records = _workflow(schema.include(path_regex=REGISTRY_RECORDS).as_state_machine())
    records.run(settings=_stateful(40))
    reached = _patient_operations_reached(records.followed)
    assert len(reached) >= 3, dict(records.followed)
