"""The worker pool and the rate limiter: bounded, refusing with the tree's errors."""

from __future__ import annotations

import threading

import anyio
import pytest

from venapath.api.work import RateLimiter, WorkPool
from venapath.errors import RateLimitedError, UnavailableError


def test_a_full_pool_refuses_at_once_with_retry_after() -> None:
    pool = WorkPool(threads=1, queue=1)
    release = threading.Event()
    outcomes: list[str] = []

    async def main() -> None:
        async def admitted() -> None:
            outcomes.append(await pool.run(lambda: release.wait(5) and "done"))

        async with anyio.create_task_group() as group:
            group.start_soon(admitted)
            group.start_soon(admitted)
            await anyio.sleep(0.05)
            with pytest.raises(UnavailableError) as refused:
                await pool.run(lambda: "never")
            assert refused.value.retry_after == 1
            release.set()

    anyio.run(main)
    assert outcomes == ["done", "done"]


def test_work_runs_off_the_calling_thread() -> None:
    pool = WorkPool(threads=2, queue=0)
    caller = threading.get_ident()
    worker = anyio.run(pool.run, threading.get_ident)
    assert worker != caller


def test_the_rate_limiter_refills_and_keeps_clients_apart() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("a")
    assert refused.value.retry_after == 1
    limiter.take("b")  # another client has its own bucket
    now[0] = 1.0
    limiter.take("a")  # one second refills one token at 60 a minute


def test_errors_of_the_tree_cross_a_process_boundary_intact() -> None:
    import pickle

    from venapath.fhir.errors import FhirInputError, FhirProblem
    from venapath.services.case_input import CaseTooLargeError

    too_large = CaseTooLargeError("body", "max_depth", 32, "/a", "nested too deep")
    fhir = FhirInputError([FhirProblem("$.entry[0]", "bad")])
    copies = [pickle.loads(pickle.dumps(error)) for error in (too_large, fhir)]
    assert type(copies[0]) is CaseTooLargeError
    assert (copies[0].source, copies[0].limit, copies[0].problems) == (
        "body",
        32,
        too_large.problems,
    )
    assert copies[1].fhir_problems[0].location == "$.entry[0]"
    assert str(copies[1]) == str(fhir)
